/*
 * fuzz_query: a client packet through query_handle(), as a worker gets
 * it over UDP or TCP (first byte: bit 0 TCP, bit 1 from ::1, bit 2
 * answer the forwarded query with SERVFAIL-made-here instead of a
 * timeout).  Whatever cordond sends back must be a well-formed message.
 */
#include <arpa/inet.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65536];
	struct query_env *env = fuzz_query_env();
	struct client c;
	size_t n;

	if (size < 1)
		return 0;
	memset(&c, 0, sizeof(c));
	if (data[0] & 2) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c.addr;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(5353);
		c.addrlen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&c.addr;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(0x7f000001);
		s4->sin_port = htons(5353);
		c.addrlen = sizeof(*s4);
	}
	c.is_tcp = data[0] & 1;
	c.fd = -1;
	n = query_handle(env, &c, data + 1, size - 1, out,
	    c.is_tcp ? sizeof(out) : 1232);
	if (n > 0)
		fuzz_check_answer(out, n);
	fake_forward_answer_all(NULL, 0, (data[0] & 4) ? FORWARD_REFUSED :
	    FORWARD_TIMEOUT);
	return 0;
}
