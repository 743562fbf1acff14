/*
 * fuzz_answer: an upstream answer through the answer path: scan,
 * inspection (CNAME chain, addresses against the lists), OPT strip,
 * cache store, reply; then the same question again, from the cache.
 * The input is the answer without its question: the header (12 bytes;
 * QR set and opcode QUERY forced, as forward.c accepts nothing else),
 * then the records.  The harness puts in the question cordond asked, as
 * an upstream that passes forward.c's checks would.  The first byte
 * picks the client's query: type, DO, CD, EDNS, TCP.  Everything cordond
 * sends must be a well-formed message (../shared/fuzz-findings 1, 4).
 */
#include <arpa/inet.h>
#include <string.h>

#include "fuzz.h"
#include "dns/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t qtypes[8] = { 1, 28, 5, 16, 15, 65, 2, 255 };

/* www.fuzz.test: not listed; the answer decides. */
static const uint8_t qname[] = "\3www\4fuzz\4test";

static size_t
client_query(uint8_t sel, uint8_t *q)
{
	size_t n = 12, qlen = sizeof(qname);
	uint16_t qtype = qtypes[sel & 7];

	memset(q, 0, 12);
	q[0] = 0x12;
	q[1] = 0x34;
	q[2] = 0x01;			/* RD */
	if (sel & 0x10)
		q[3] |= 0x10;		/* CD */
	q[5] = 1;
	memcpy(q + n, qname, qlen);
	n += qlen;
	q[n++] = (uint8_t)(qtype >> 8);
	q[n++] = (uint8_t)qtype;
	q[n++] = 0;
	q[n++] = 1;
	if (sel & 0x20) {		/* EDNS, payload 512 or 1232 */
		q[11] = 1;
		q[n++] = 0;
		q[n++] = 0;
		q[n++] = 41;
		q[n++] = (sel & 0x40) ? 0x04 : 0x02;
		q[n++] = (sel & 0x40) ? 0xd0 : 0x00;
		q[n++] = 0;
		q[n++] = 0;
		q[n++] = (sel & 0x08) ? 0x80 : 0;	/* DO */
		q[n++] = 0;
		q[n++] = 0;
		q[n++] = 0;
	}
	return n;
}

static void
ask(struct query_env *env, const struct client *c, const uint8_t *q,
    size_t qn, uint8_t *out, size_t cap)
{
	size_t n = query_handle(env, c, q, qn, out, cap);

	if (n > 0)
		fuzz_check_answer(out, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65536], msg[65536 + 512];
	struct query_env *env = fuzz_query_env();
	struct sockaddr_in *s4;
	struct client c;
	uint8_t q[512];
	size_t qn, n, at;
	uint8_t sel;

	if (size < 13 || size - 13 > sizeof(msg) - 512)
		return 0;
	sel = data[0];
	data++;
	size--;
	memset(&c, 0, sizeof(c));
	s4 = (struct sockaddr_in *)&c.addr;
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(0x7f000001);
	s4->sin_port = htons(5353);
	c.addrlen = sizeof(*s4);
	c.is_tcp = (sel & 0x80) != 0;
	c.fd = -1;
	qn = client_query(sel, q);
	query_env_flush(env, NULL);
	ask(env, &c, q, qn, out, c.is_tcp ? sizeof(out) : 1232);
	if (fake_forward_pending() == 0)
		return 0;
	/* the upstream's answer: its header, our question, its records */
	memcpy(msg, data, 12);
	msg[2] = (uint8_t)((msg[2] | 0x80) & ~0x78);
	msg[4] = 0;
	msg[5] = 1;
	at = 12;
	memcpy(msg + at, q + 12, sizeof(qname) + 4);
	at += sizeof(qname) + 4;
	memcpy(msg + at, data + 12, size - 12);
	n = at + size - 12;
	fake_forward_answer_all(msg, n, FORWARD_OK);
	/* again: from the cache this time, if it was kept */
	ask(env, &c, q, qn, out, c.is_tcp ? sizeof(out) : 1232);
	fake_forward_answer_all(NULL, 0, FORWARD_TIMEOUT);
	return 0;
}
