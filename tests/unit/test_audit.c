/*
 * test_audit: exact audit line text, JSON escaping, timestamps, the
 * SHA-256 chain hash and the strictness of audit_parse_chain().
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "audit/audit.h"
#include "unit.h"

#define HEX_A \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define HEX_EMPTY \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define POLICY "5f3c1a"
#define TS_EXAMPLE UINT64_C(1795411173123)	/* 2026-11-23T05:19:33.123Z */

static void
test_ts(void)
{
	static const struct {
		uint64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ 999, "1970-01-01T00:00:00.999Z" },
		{ 1000, "1970-01-01T00:00:01.000Z" },
		{ 86399999, "1970-01-01T23:59:59.999Z" },
		{ 86400000, "1970-01-02T00:00:00.000Z" },
		{ TS_EXAMPLE, "2026-11-23T05:19:33.123Z" },
		{ UINT64_C(946684799999), "1999-12-31T23:59:59.999Z" },
		{ UINT64_C(951782400000), "2000-02-29T00:00:00.000Z" },
		{ UINT64_C(1709208000001), "2024-02-29T12:00:00.001Z" },
		{ UINT64_C(1735689599999), "2024-12-31T23:59:59.999Z" },
		{ UINT64_C(1735689600000), "2025-01-01T00:00:00.000Z" },
		{ UINT64_C(2147483648000), "2038-01-19T03:14:08.000Z" },
		{ UINT64_C(4107542400000), "2100-03-01T00:00:00.000Z" },
		{ UINT64_C(253402300799999), "9999-12-31T23:59:59.999Z" },
		{ UINT64_C(253402300800000), "9999-12-31T23:59:59.999Z" },
		{ UINT64_MAX, "9999-12-31T23:59:59.999Z" },
	};
	char buf[25];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		audit_format_ts(buf, cases[i].ms);
		CHECK_STR(buf, cases[i].want, "ts case %zu (%" PRIu64 ")", i,
		    cases[i].ms);
	}
}

struct block_case {
	const char *name;
	const char *addr;	/* v4 or v6 literal */
	uint16_t port;
	bool is_tcp;
	const char *qname;
	uint16_t qtype;
	const char *answer_ip;
	const char *geo_json;
	const char *want;
};

static const struct block_case block_cases[] = {
	{ "v4 example", "192.0.2.7", 53211, false, "www.binance.com", 1,
	  NULL,
	  "{\"client\":{\"country\":\"CN\",\"asn\":4134},\"answer\":null}",
	  "\"ts\":\"2026-11-23T05:19:33.123Z\",\"client\":\"192.0.2.7\","
	  "\"port\":53211,\"proto\":\"udp\",\"qname\":\"www.binance.com\","
	  "\"qtype\":\"A\",\"action\":\"nxdomain\",\"trigger\":\"qname\","
	  "\"rule\":\"binance.com\",\"list\":\"exchanges\","
	  "\"category\":\"exchange\",\"answer_ip\":null,"
	  "\"geo\":{\"client\":{\"country\":\"CN\",\"asn\":4134},"
	  "\"answer\":null},\"policy\":\"" POLICY "\"" },
	{ "v6 tcp, no geo, answer ip", "2001:db8::1", 443, true,
	  "binance.com", 28, "203.0.113.9", NULL,
	  "\"ts\":\"2026-11-23T05:19:33.123Z\",\"client\":\"2001:db8::1\","
	  "\"port\":443,\"proto\":\"tcp\",\"qname\":\"binance.com\","
	  "\"qtype\":\"AAAA\",\"action\":\"nxdomain\",\"trigger\":\"qname\","
	  "\"rule\":\"binance.com\",\"list\":\"exchanges\","
	  "\"category\":\"exchange\",\"answer_ip\":\"203.0.113.9\","
	  "\"policy\":\"" POLICY "\"" },
	{ "unknown qtype", "10.0.0.1", 1, false, "a.example", 4321,
	  NULL, NULL,
	  "\"ts\":\"2026-11-23T05:19:33.123Z\",\"client\":\"10.0.0.1\","
	  "\"port\":1,\"proto\":\"udp\",\"qname\":\"a.example\","
	  "\"qtype\":\"TYPE4321\",\"action\":\"nxdomain\","
	  "\"trigger\":\"qname\",\"rule\":\"binance.com\","
	  "\"list\":\"exchanges\",\"category\":\"exchange\","
	  "\"answer_ip\":null,\"policy\":\"" POLICY "\"" },
	{ "escaping", "::ffff:192.0.2.1", 0, false,
	  "q\"uo\\te\n\x01\x1f\x7f\xc3\xa9", 65, NULL, NULL,
	  "\"ts\":\"2026-11-23T05:19:33.123Z\","
	  "\"client\":\"::ffff:192.0.2.1\",\"port\":0,\"proto\":\"udp\","
	  "\"qname\":\"q\\\"uo\\\\te\\u000a\\u0001\\u001f\x7f\xc3\xa9\","
	  "\"qtype\":\"HTTPS\",\"action\":\"nxdomain\","
	  "\"trigger\":\"qname\",\"rule\":\"binance.com\","
	  "\"list\":\"exchanges\",\"category\":\"exchange\","
	  "\"answer_ip\":null,\"policy\":\"" POLICY "\"" },
};

static size_t
format_case(const struct block_case *c, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct audit_block b;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, c->addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->port);
	} else if (inet_pton(AF_INET6, c->addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->port);
	}
	memset(&b, 0, sizeof(b));
	b.ts_ms = TS_EXAMPLE;
	b.client = (struct sockaddr *)&ss;
	b.is_tcp = c->is_tcp;
	b.qname = c->qname;
	b.qtype = c->qtype;
	b.action = "nxdomain";
	b.trigger = "qname";
	b.rule = "binance.com";
	b.list = "exchanges";
	b.category = "exchange";
	b.answer_ip = c->answer_ip;
	b.geo_json = c->geo_json;
	b.policy = POLICY;
	return audit_format_block(buf, size, &b);
}

static void
test_block(void)
{
	char buf[AUDIT_LINE_MAX], small[AUDIT_LINE_MAX];
	size_t i, n, want, size;

	for (i = 0; i < sizeof(block_cases) / sizeof(block_cases[0]); i++) {
		const struct block_case *c = &block_cases[i];

		want = strlen(c->want);
		n = format_case(c, buf, sizeof(buf));
		CHECK(n == want, "%s: length %zu, want %zu", c->name, n, want);
		CHECK_STR(buf, c->want, "%s", c->name);
		/* Every short buffer fails cleanly; ASan checks bounds. */
		for (size = 0; size <= want; size++) {
			n = format_case(c, small, size);
			CHECK(n == 0, "%s: size %zu gave %zu", c->name, size,
			    n);
		}
		n = format_case(c, small, want + 1);
		CHECK(n == want, "%s: exact size gave %zu", c->name, n);
	}
}

static void
test_line(void)
{
	const char *body = "\"ts\":\"1970-01-01T00:00:00.000Z\"";
	char buf[256];
	size_t n, want;
	const char *exp = "{\"seq\":42,\"ts\":\"1970-01-01T00:00:00.000Z\","
	    "\"prev\":\"" AUDIT_GENESIS "\"}";

	n = audit_format_line(buf, sizeof(buf), 42, body, strlen(body),
	    AUDIT_GENESIS);
	CHECK(n == strlen(exp), "line length %zu", n);
	CHECK_STR(buf, exp, "line with body");

	n = audit_format_line(buf, sizeof(buf), 1, "", 0, HEX_A);
	CHECK_STR(buf, "{\"seq\":1,\"prev\":\"" HEX_A "\"}", "empty body");
	CHECK(n == strlen(buf), "empty body length %zu", n);

	want = strlen(exp);
	n = audit_format_line(buf, want, 42, body, strlen(body),
	    AUDIT_GENESIS);
	CHECK(n == 0, "one byte short gave %zu", n);

	n = audit_format_event(buf, sizeof(buf), 0, "gap", "\"lost\":3");
	CHECK_STR(buf, "\"ts\":\"1970-01-01T00:00:00.000Z\","
	    "\"event\":\"gap\",\"lost\":3", "gap event");
	CHECK(n == strlen(buf), "event length %zu", n);
	n = audit_format_event(buf, sizeof(buf), 0, "start", NULL);
	CHECK_STR(buf, "\"ts\":\"1970-01-01T00:00:00.000Z\","
	    "\"event\":\"start\"", "event without members");
	n = audit_format_event(buf, sizeof(buf), 0, "x", "\"a\":\n1");
	CHECK(n == 0, "event members with a newline accepted");
}

static void
test_hash(void)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "", HEX_EMPTY },
		{ "abc", HEX_A },
		{ "{\"seq\":1,\"prev\":\"" AUDIT_GENESIS "\"}",
		  "25cda5ce78ea76c6666ae9fbeb3d90bc"
		  "68b2787dc33df571c97dcaf2d6468d48" },
	};
	char hex[AUDIT_HEXLEN + 1];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		audit_hash(cases[i].in, strlen(cases[i].in), hex);
		CHECK_STR(hex, cases[i].want, "hash case %zu \"%s\"", i,
		    cases[i].in);
	}
}

#define PREV_OK ",\"prev\":\"" HEX_A "\"}"

static void
test_parse(void)
{
	static const struct {
		const char *line;
		int want;
		uint64_t seq;
	} cases[] = {
		{ "{\"seq\":1,\"ts\":\"x\"" PREV_OK, 0, 1 },
		{ "{\"seq\":1" PREV_OK, 0, 1 },
		{ "{\"seq\":18446744073709551615,\"a\":1" PREV_OK, 0,
		  UINT64_MAX },
		{ "{\"seq\":18446744073709551616,\"a\":1" PREV_OK, -1, 0 },
		{ "{\"seq\":0,\"a\":1" PREV_OK, -1, 0 },
		{ "{\"seq\":01,\"a\":1" PREV_OK, -1, 0 },
		{ "{\"seq\":-1,\"a\":1" PREV_OK, -1, 0 },
		{ "{\"seq\":,\"a\":1" PREV_OK, -1, 0 },
		{ "{\"seq\":1x,\"a\":1" PREV_OK, -1, 0 },
		{ "{\"seq\":1,," PREV_OK + 1, -1, 0 },
		{ "{\"ts\":\"x\",\"seq\":1" PREV_OK, -1, 0 },
		{ "{ \"seq\":1" PREV_OK, -1, 0 },
		{ "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}\n",
		  -1, 0 },
		{ "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"} ",
		  -1, 0 },
		{ "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\",\"b\":1}",
		  -1, 0 },
		{ "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "0\"}",
		  -1, 0 },
		{ "{\"seq\":1,\"a\":1,\"prev\":\"" HEX_A "\" }", -1, 0 },
		{ "{\"seq\":1,\"a\":1,\"prev\":\"BA7816BF8F01CFEA414140DE5DAE"
		  "2223B00361A396177A9CB410FF61F20015AD\"}", -1, 0 },
		{ "{\"seq\":1,\"a\":1,\"prev\":\"g000000000000000000000000000"
		  "0000000000000000000000000000000000\"}", -1, 0 },
		{ "{\"seq\":1,\"a\":\"\n\"" PREV_OK, -1, 0 },
		{ "{\"seq\":1,\"a\":1,\"prev\":" HEX_A "}", -1, 0 },
		{ "", -1, 0 },
		{ "{\"seq\":1}", -1, 0 },
	};
	char prev[AUDIT_HEXLEN + 1], *big;
	uint64_t seq;
	size_t i, len;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		seq = 0;
		prev[0] = '\0';
		rc = audit_parse_chain(cases[i].line, strlen(cases[i].line),
		    &seq, prev);
		CHECK(rc == cases[i].want, "parse case %zu \"%s\": rc %d", i,
		    cases[i].line, rc);
		if (rc != 0 || cases[i].want != 0)
			continue;
		CHECK(seq == cases[i].seq, "parse case %zu: seq %" PRIu64, i,
		    seq);
		CHECK_STR(prev, HEX_A, "parse case %zu: prev", i);
	}

	/* A line of AUDIT_LINE_MAX bytes is read; one byte more is not. */
	big = malloc(AUDIT_LINE_MAX + 2);
	if (big == NULL)
		abort();
	for (len = AUDIT_LINE_MAX; len <= AUDIT_LINE_MAX + 1; len++) {
		memset(big, 'a', len);
		memcpy(big, "{\"seq\":1,\"a\":\"", 14);
		memcpy(big + len - strlen(PREV_OK) - 1, "\"" PREV_OK,
		    strlen(PREV_OK) + 1);
		big[len] = '\0';
		rc = audit_parse_chain(big, len, &seq, prev);
		CHECK(rc == (len <= AUDIT_LINE_MAX ? 0 : -1),
		    "line of %zu bytes: rc %d", len, rc);
	}
	free(big);
}

/* What the daemon writes, cmd_audit reads back: format, parse, hash. */
static void
test_roundtrip(void)
{
	char body[AUDIT_LINE_MAX], line[AUDIT_LINE_MAX];
	char prev[AUDIT_HEXLEN + 1], got[AUDIT_HEXLEN + 1];
	uint64_t seq, s;
	size_t bn, ln, i;

	memcpy(prev, AUDIT_GENESIS, sizeof(prev));
	for (s = 1; s <= 3; s++) {
		for (i = 0; i < sizeof(block_cases) / sizeof(block_cases[0]);
		    i++) {
			bn = format_case(&block_cases[i], body, sizeof(body));
			ln = audit_format_line(line, sizeof(line), s, body, bn,
			    prev);
			CHECK(ln > 0, "roundtrip %zu: format", i);
			CHECK(audit_parse_chain(line, ln, &seq, got) == 0,
			    "roundtrip %zu: parse \"%s\"", i, line);
			CHECK(seq == s, "roundtrip %zu: seq", i);
			CHECK_STR(got, prev, "roundtrip %zu: prev", i);
			audit_hash(line, ln, prev);
		}
	}
}

int
main(void)
{
	test_ts();
	test_block();
	test_line();
	test_hash();
	test_parse();
	test_roundtrip();
	return unit_exit();
}
