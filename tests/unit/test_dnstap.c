/*
 * test_dnstap: messages written to a file through libfstrm's thread are
 * read back with fstrm's reader and protobuf-c's decoder, field for
 * field; a queue with no collector behind it drops and counts instead
 * of blocking.  (tests/system/test_dnstap.py reads cordond's stream with
 * dnstap-ldns and fstrm_capture, the independent readers.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <fstrm.h>

#include "base/config.h"
#include "serve/dnstap.h"
#include "serve/dnstap.pb-c.h"
#include "unit.h"

static char dir[64];

static const uint8_t query[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0,
	0, 0, 7, 'b', 'i', 'n', 'a', 'n', 'c', 'e', 3, 'c', 'o', 'm', 0, 0, 1,
	0, 1 };
static const uint8_t response[] = { 0x12, 0x34, 0x85, 0x83, 0, 1, 0, 0, 0,
	0, 0, 0, 7, 'b', 'i', 'n', 'a', 'n', 'c', 'e', 3, 'c', 'o', 'm', 0, 0,
	1, 0, 1 };

static void
make_addrs(struct sockaddr_in *c4, struct sockaddr_in6 *c6,
    struct sockaddr_in *s4)
{
	memset(c4, 0, sizeof(*c4));
	c4->sin_family = AF_INET;
	c4->sin_port = htons(40001);
	inet_pton(AF_INET, "192.0.2.7", &c4->sin_addr);
	memset(c6, 0, sizeof(*c6));
	c6->sin6_family = AF_INET6;
	c6->sin6_port = htons(40002);
	inet_pton(AF_INET6, "2001:db8::7", &c6->sin6_addr);
	memset(s4, 0, sizeof(*s4));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(53);
	inet_pton(AF_INET, "127.0.0.1", &s4->sin_addr);
}

static void
write_messages(const char *path)
{
	struct dnstap_conf conf = { NULL, "test-host", "cordon test", 2 };
	struct sockaddr_in c4, s4;
	struct sockaddr_in6 c6;
	struct dnstap_msg cq = { DNSTAP_CLIENT_QUERY, false, NULL, NULL,
	    query, sizeof(query), NULL, 0, { 1764000000, 5 }, { 0, 0 } };
	struct dnstap_msg cr = { DNSTAP_CLIENT_RESPONSE, true, NULL, NULL,
	    query, sizeof(query), response, sizeof(response),
	    { 1764000000, 5 }, { 1764000001, 999999999 } };
	struct dnstap_queue *q1, *q2;
	struct dnstap_stats st;
	struct dnstap *dt;
	char spec[256], err[256];

	make_addrs(&c4, &c6, &s4);
	cq.query_addr = (struct sockaddr *)&c4;
	cq.response_addr = (struct sockaddr *)&s4;
	cr.query_addr = (struct sockaddr *)&c6;
	snprintf(spec, sizeof(spec), "file:%s", path);
	conf.spec = spec;
	dt = dnstap_open(&conf, err, sizeof(err));
	CHECK(dt != NULL, "open: %s", err);
	if (dt == NULL)
		return;
	q1 = dnstap_queue(dt);
	q2 = dnstap_queue(dt);
	CHECK(q1 != NULL && q2 != NULL, "two queues");
	CHECK(dnstap_queue(dt) == NULL, "no third queue");
	CHECK(dnstap_send(q1, &cq), "send cq");
	CHECK(dnstap_send(q2, &cr), "send cr");
	dnstap_get_stats(dt, &st);
	CHECK(st.sent == 2 && st.dropped == 0, "stats %llu %llu",
	    (unsigned long long)st.sent, (unsigned long long)st.dropped);
	dnstap_close(dt);
}

static void
check_cq(const Dnstap__Message *m)
{
	CHECK(m->type == DNSTAP__MESSAGE__TYPE__CLIENT_QUERY, "cq type");
	CHECK(m->has_socket_family && m->socket_family ==
	    DNSTAP__SOCKET_FAMILY__INET, "cq family");
	CHECK(m->has_socket_protocol && m->socket_protocol ==
	    DNSTAP__SOCKET_PROTOCOL__UDP, "cq udp");
	CHECK(m->has_query_address && m->query_address.len == 4 &&
	    memcmp(m->query_address.data, "\xc0\x00\x02\x07", 4) == 0,
	    "cq client address");
	CHECK(m->has_query_port && m->query_port == 40001, "cq port");
	CHECK(m->has_response_address && m->response_address.len == 4 &&
	    m->has_response_port && m->response_port == 53, "cq server");
	CHECK(m->has_query_message && m->query_message.len == sizeof(query) &&
	    memcmp(m->query_message.data, query, sizeof(query)) == 0,
	    "cq bytes");
	CHECK(!m->has_response_message, "cq has no response");
	CHECK(m->has_query_time_sec && m->query_time_sec == 1764000000 &&
	    m->query_time_nsec == 5, "cq time");
	CHECK(!m->has_response_time_sec, "cq has no response time");
}

static void
check_cr(const Dnstap__Message *m)
{
	CHECK(m->type == DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, "cr type");
	CHECK(m->socket_family == DNSTAP__SOCKET_FAMILY__INET6, "cr family");
	CHECK(m->socket_protocol == DNSTAP__SOCKET_PROTOCOL__TCP, "cr tcp");
	CHECK(m->query_address.len == 16 && m->query_port == 40002,
	    "cr client");
	CHECK(!m->has_response_address, "cr without a server address");
	CHECK(m->has_response_message && m->response_message.len ==
	    sizeof(response) && memcmp(m->response_message.data, response,
	    sizeof(response)) == 0, "cr bytes");
	CHECK(m->response_time_sec == 1764000001 &&
	    m->response_time_nsec == 999999999, "cr time");
}

static void
read_back(const char *path)
{
	struct fstrm_file_options *fopt = fstrm_file_options_init();
	struct fstrm_reader_options *ropt = fstrm_reader_options_init();
	struct fstrm_reader *r;
	const uint8_t *data;
	size_t len;
	int n = 0;

	fstrm_file_options_set_file_path(fopt, path);
	fstrm_reader_options_add_content_type(ropt,
	    "protobuf:dnstap.Dnstap", 22);
	r = fstrm_file_reader_init(fopt, ropt);
	CHECK(r != NULL, "reader");
	while (r != NULL && fstrm_reader_read(r, &data, &len) ==
	    fstrm_res_success) {
		Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, len, data);

		CHECK(d != NULL, "frame %d decodes", n);
		if (d == NULL)
			break;
		CHECK(d->type == DNSTAP__DNSTAP__TYPE__MESSAGE, "frame type");
		CHECK(d->has_identity && d->identity.len == 9 &&
		    memcmp(d->identity.data, "test-host", 9) == 0, "identity");
		CHECK(d->has_version && d->version.len == 11 &&
		    memcmp(d->version.data, "cordon test", 11) == 0, "version");
		CHECK(d->message != NULL, "message");
		if (d->message != NULL && d->message->type ==
		    DNSTAP__MESSAGE__TYPE__CLIENT_QUERY)
			check_cq(d->message);
		else if (d->message != NULL)
			check_cr(d->message);
		dnstap__dnstap__free_unpacked(d, NULL);
		n++;
	}
	CHECK(n == 2, "2 frames, got %d", n);
	fstrm_reader_destroy(&r);
	fstrm_file_options_destroy(&fopt);
	fstrm_reader_options_destroy(&ropt);
}

/* Nobody listens on the socket: the I/O thread has nowhere to write and
 * throws frames away as it can, so the queue is full now and then.
 * Sending never waits for it, and every message is counted as queued or
 * dropped.  (How many are dropped depends on how fast that thread runs;
 * the system test sees drops with a collector that does not read.) */
static void
test_full_queue(void)
{
	struct dnstap_conf conf = { NULL, NULL, "cordon test", 1 };
	struct dnstap_msg cq = { DNSTAP_CLIENT_QUERY, false, NULL, NULL,
	    query, sizeof(query), NULL, 0, { 0, 0 }, { 0, 0 } };
	struct dnstap_queue *q;
	struct dnstap_stats st;
	struct dnstap *dt;
	struct timespec t0, t1;
	char spec[256], err[256];
	int i, n = 20000;

	snprintf(spec, sizeof(spec), "unix:%s/nobody.sock", dir);
	conf.spec = spec;
	dt = dnstap_open(&conf, err, sizeof(err));
	CHECK(dt != NULL, "open a socket nobody listens on: %s", err);
	if (dt == NULL)
		return;
	q = dnstap_queue(dt);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		(void)dnstap_send(q, &cq);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dnstap_get_stats(dt, &st);
	CHECK(st.sent + st.dropped == (uint64_t)n, "all counted");
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) /
	    1000000 < 2000, "sending never waits");
	dnstap_close(dt);
}

static void
test_specs(void)
{
	struct dnstap_conf conf = { "file:/nonexistent-dir/x.fstrm", NULL,
	    "v", 1 };
	char err[256];

	CHECK(config_dnstap_why("unix:/run/dnstap.sock") == NULL, "unix");
	CHECK(config_dnstap_why("file:/var/log/cordon.fstrm") == NULL,
	    "file");
	CHECK(config_dnstap_why("tcp:127.0.0.1:6000") != NULL, "tcp");
	CHECK(config_dnstap_why("unix:relative.sock") != NULL, "relative");
	CHECK(config_dnstap_why("") != NULL, "empty");
	CHECK(dnstap_open(&conf, err, sizeof(err)) == NULL, "bad dir");
	CHECK(strstr(err, "/nonexistent-dir/x.fstrm") != NULL, "names the "
	    "file: %s", err);
}

int
main(void)
{
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/test_dnstap.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof(path), "%s/tap.fstrm", dir);
	test_specs();
	write_messages(path);
	read_back(path);
	test_full_queue();
	unlink(path);
	rmdir(dir);
	return unit_exit();
}
