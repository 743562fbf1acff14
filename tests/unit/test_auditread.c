/*
 * test_auditread: the JSON reader on audit lines (members, escapes,
 * unknown members, every kind of malformed input, every prefix and byte
 * flip of a real line), RFC 3339 times, and the line reader on plain,
 * gzip'd, torn, long and truncated files.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "audit/audit.h"
#include "audit/auditgz.h"
#include "audit/auditread.h"
#include "unit.h"

#define PREV "\"prev\":\"" AUDIT_GENESIS "\"}"
#define LINE_V4 \
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33.123Z\",\"client\":" \
	"\"192.0.2.7\",\"port\":53211,\"proto\":\"udp\",\"qname\":" \
	"\"www.binance.com\",\"qtype\":\"A\",\"action\":\"nxdomain\"," \
	"\"trigger\":\"qname\",\"rule\":\"binance.com\",\"list\":" \
	"\"exchanges\",\"category\":\"exchange\",\"answer_ip\":null," \
	"\"geo\":{\"client\":{\"country\":\"CN\",\"asn\":4134}," \
	"\"answer\":null},\"policy\":\"5f3c1a\"," PREV
#define TS_EXAMPLE UINT64_C(1795411173123)	/* 2026-11-23T05:19:33.123Z */

static struct auditread_rec rec;

static int
parse(const char *line)
{
	const char *why;

	return auditread_parse(line, strlen(line), &rec, &why);
}

static void
test_block_line(void)
{
	CHECK(parse(LINE_V4) == 0, "example line");
	CHECK(rec.seq == 1, "seq %" PRIu64, rec.seq);
	CHECK(rec.ts_ms == TS_EXAMPLE, "ts_ms %" PRIu64, rec.ts_ms);
	CHECK_STR(rec.ts, "2026-11-23T05:19:33.123Z", "ts");
	CHECK(rec.event == NULL, "no event");
	CHECK_STR(rec.client, "192.0.2.7", "client");
	CHECK(rec.port == 53211, "port");
	CHECK_STR(rec.proto, "udp", "proto");
	CHECK_STR(rec.qname, "www.binance.com", "qname");
	CHECK_STR(rec.qtype, "A", "qtype");
	CHECK_STR(rec.action, "nxdomain", "action");
	CHECK_STR(rec.trigger, "qname", "trigger");
	CHECK_STR(rec.rule, "binance.com", "rule");
	CHECK_STR(rec.list, "exchanges", "list");
	CHECK_STR(rec.category, "exchange", "category");
	CHECK(rec.answer_ip == NULL, "answer_ip null");
	CHECK(rec.has_geo, "geo");
	CHECK_STR(rec.client_country, "CN", "client country");
	CHECK(rec.client_asn == 4134, "client asn");
	CHECK(rec.answer_country == NULL, "answer geo null");
	CHECK(rec.answer_asn == AUDITREAD_NONE, "answer asn");
	CHECK_STR(rec.policy, "5f3c1a", "policy");
	CHECK_STR(rec.prev, AUDIT_GENESIS, "prev");
}

/* A record parsed before must not leak members into the next one. */
static void
test_event_lines(void)
{
	CHECK(parse(LINE_V4) == 0, "example line");
	CHECK(parse("{\"seq\":7,\"ts\":\"2026-11-23T06:00:00.000Z\","
	    "\"event\":\"policy\",\"policy\":\"77aa01\",\"previous\":"
	    "\"5f3c1a\",\"entries\":124,\"lists\":3,\"by\":\"signal\","
	    PREV) == 0, "policy event");
	CHECK_STR(rec.event, "policy", "event");
	CHECK_STR(rec.policy, "77aa01", "policy");
	CHECK_STR(rec.previous, "5f3c1a", "previous");
	CHECK(rec.entries == 124 && rec.lists == 3, "counts");
	CHECK_STR(rec.by, "signal", "by");
	CHECK(rec.qname == NULL && rec.client == NULL && !rec.has_geo &&
	    rec.port == AUDITREAD_NONE, "no block members left over");
	CHECK(parse("{\"seq\":8,\"ts\":\"2026-11-23T06:00:01.000Z\","
	    "\"event\":\"policy\",\"policy\":\"5f3c1a\",\"previous\":null,"
	    "\"entries\":1,\"lists\":1,\"by\":\"start\"," PREV) == 0,
	    "start event");
	CHECK(rec.previous == NULL, "previous null");
	CHECK(parse("{\"seq\":9,\"ts\":\"2026-11-23T06:00:02.000Z\","
	    "\"event\":\"gap\",\"lost\":42," PREV) == 0, "gap event");
	CHECK_STR(rec.event, "gap", "gap");
	CHECK(rec.lost == 42, "lost %" PRId64, rec.lost);
	CHECK(rec.from == AUDITREAD_NONE && rec.to == AUDITREAD_NONE &&
	    rec.reason == NULL, "old gap line has no range");
	/* A gap line of today's writer: from..to, lost follows from it. */
	CHECK(parse("{\"seq\":10,\"ts\":\"2026-11-23T06:00:03.000Z\","
	    "\"event\":\"gap\",\"from\":10,\"to\":4105,\"reason\":"
	    "\"unclean stop\"," PREV) == 0, "ranged gap event");
	CHECK(rec.from == 10 && rec.to == 4105 && rec.lost == 4096,
	    "range %" PRId64 "..%" PRId64 " lost %" PRId64, rec.from, rec.to,
	    rec.lost);
	CHECK_STR(rec.reason, "unclean stop", "reason");
	CHECK(parse("{\"seq\":4106,\"ts\":\"2026-11-23T06:00:03.000Z\","
	    "\"event\":\"start\",\"previous\":\"unclean\",\"torn\":24,"
	    PREV) == 0, "start event");
	CHECK_STR(rec.previous, "unclean", "start previous");
	CHECK(rec.from == AUDITREAD_NONE && rec.lost == AUDITREAD_NONE,
	    "no range left over");
}

static void
test_escapes_and_unknown_members(void)
{
	CHECK(parse("{\"seq\":2,\"ts\":\"2026-11-23T05:19:33Z\",\"qname\":"
	    "\"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\\n\",\"x\":[1,-2.5e3,"
	    "true,false,null,{\"y\":[[]]},\"s\"],\"z\":{},\"w\":\"\\u0041\","
	    "\"list\":\"l\", " PREV) == 0, "escapes and unknowns");
	CHECK_STR(rec.qname, "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80\n",
	    "decoded qname");
	CHECK_STR(rec.list, "l", "member after unknowns");
	CHECK(rec.ts_ms == TS_EXAMPLE - 123, "ts without ms");
	CHECK(parse(" { \"seq\" : 3 , \"ts\" : \"2026-11-23T05:19:33Z\" , "
	    "\"prev\" : \"" AUDIT_GENESIS "\" } ") == 0, "whitespace");
	CHECK(parse("{\"seq\":2,\"\\u0074s\":\"2026-11-23T05:19:33Z\","
	    PREV) == 0, "escaped member name");
	CHECK(rec.ts != NULL, "escaped name found");
}

static const char *const bad_lines[] = {
	"",
	"   ",
	"[]",
	"{",
	"{}",
	"null",
	"{\"seq\":1}",
	"{\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":0,\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":-1,\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":1.5,\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":1e3,\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":01,\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":\"1\",\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":null,\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":99999999999999999999,\"ts\":\"2026-11-23T05:19:33Z\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-02-30T00:00:00Z\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T25:00:00Z\"," PREV,
	"{\"seq\":1,\"ts\":5," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"prev\":\"00\"}",
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"prev\":\""
	    "000000000000000000000000000000000000000000000000000000000000000A"
	    "\"}",
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\"," PREV "x",
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\"," PREV "}",
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",,\"prev\":\"\"}",
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\"\"prev\":\"\"}",
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":\"a\x01\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":\"\\x\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":\"\\u12\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":\"\\ud800\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":\"\\udc00\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":\"\\u0000\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":tru," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":-," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"q\":[1,]," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"port\":\"53\"," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"qname\":5," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"geo\":5," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"geo\":{\"client\":"
	    "{\"asn\":\"x\"}}," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"x\":"
	    "[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]," PREV,
	"{\"seq\":1,\"ts\":\"2026-11-23T05:19:33Z\",\"x\":{\"a\":{\"a\":"
	    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
	    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}}}}}}}}}"
	    "," PREV,
};

static void
test_bad_lines(void)
{
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		why = NULL;
		CHECK(auditread_parse(bad_lines[i], strlen(bad_lines[i]), &rec,
		    &why) == -1 && why != NULL, "bad line %zu accepted: %s", i,
		    bad_lines[i]);
	}
}

/* The escape errors, in the words verify prints for them. */
static void
test_escape_reasons(void)
{
	static const struct {
		const char *q, *why;
	} cases[] = {
		{ "\\x", "bad escape in a string" },
		{ "\\u12", "bad \\u escape" },
		{ "\\u12g4", "bad \\u escape" },
		{ "\\ud800", "lone surrogate in \\u escape" },
		{ "\\ud800\\u00e9", "lone surrogate in \\u escape" },
		{ "\\ud800\\udc0", "lone surrogate in \\u escape" },
		{ "\\udc00", "lone surrogate in \\u escape" },
		{ "\\u0000", "NUL in a string" },
	};
	char line[256];
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "{\"seq\":1,\"ts\":"
		    "\"2026-11-23T05:19:33Z\",\"q\":\"%s\"," PREV, cases[i].q);
		why = NULL;
		CHECK(auditread_parse(line, strlen(line), &rec, &why) == -1,
		    "escape %zu accepted", i);
		CHECK_STR(why, cases[i].why, "escape reason %zu", i);
	}
	why = NULL;
	snprintf(line, sizeof(line), "{\"seq\":1,\"q\":\"\\");
	CHECK(auditread_parse(line, strlen(line), &rec, &why) == -1,
	    "backslash at the end accepted");
	CHECK_STR(why, "unterminated string", "backslash at the end");
}

/*
 * Every proper prefix of a good line is rejected, and no flip of any
 * byte to any value reads outside the line: each case parses a copy
 * in a buffer of exactly its length, so ASan sees any overrun.
 */
static void
test_prefixes_and_flips(void)
{
	const char *line = LINE_V4, *why;
	size_t len = strlen(line), i, fails = 0;
	unsigned v;
	char *copy;

	for (i = 0; i < len; i++) {
		copy = malloc(i + 1);
		memcpy(copy, line, i);
		if (auditread_parse(copy, i, &rec, &why) != -1)
			fails++;
		free(copy);
	}
	CHECK(fails == 0, "%zu prefixes accepted", fails);
	copy = malloc(len);
	for (i = 0; i < len; i++) {
		for (v = 0; v < 256; v++) {
			memcpy(copy, line, len);
			copy[i] = (char)v;
			(void)auditread_parse(copy, len, &rec, &why);
		}
	}
	free(copy);
	CHECK(auditread_parse(line, len, &rec, &why) == 0, "still parses");
}

static void
test_times(void)
{
	static const struct {
		const char *text;
		int rc;
		uint64_t ms;
		bool is_date;
	} cases[] = {
		{ "2026-11-23T05:19:33.123Z", 0, TS_EXAMPLE, false },
		{ "2026-11-23T05:19:33Z", 0, TS_EXAMPLE - 123, false },
		{ "2026-11-23t05:19:33.1234567z", 0, TS_EXAMPLE, false },
		{ "2026-11-23 07:19:33.123+02:00", 0, TS_EXAMPLE, false },
		{ "2026-11-23T00:19:33.123-05:00", 0, TS_EXAMPLE, false },
		{ "2026-11-23", 0, TS_EXAMPLE - 19173123, true },
		{ "1970-01-01", 0, 0, true },
		{ "2024-02-29T12:00:00.001Z", 0, UINT64_C(1709208000001),
		  false },
		{ "2023-02-29", -1, 0, false },
		{ "2100-02-29", -1, 0, false },
		{ "2000-02-29", 0, UINT64_C(951782400000), true },
		{ "1969-12-31T23:59:59Z", -1, 0, false },
		{ "1970-01-01T00:00:00+01:00", -1, 0, false },
		{ "2026-11-23T05:19:33", -1, 0, false },
		{ "2026-11-23T05:19Z", -1, 0, false },
		{ "2026-11-23T05:19:33.Z", -1, 0, false },
		{ "2026-13-01", -1, 0, false },
		{ "2026-11-31", -1, 0, false },
		{ "2026-11-2", -1, 0, false },
		{ "2026/11/23", -1, 0, false },
		{ "", -1, 0, false },
		{ "2026-11-23T05:19:33+0200", -1, 0, false },
		{ "2026-11-23T24:00:00Z", -1, 0, false },
		{ "2026-11-23T05:60:00Z", -1, 0, false },
	};
	uint64_t ms;
	bool is_date;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = 0;
		is_date = false;
		rc = auditread_parse_time(cases[i].text, strlen(cases[i].text),
		    &ms, &is_date);
		CHECK(rc == cases[i].rc, "time case %zu \"%s\": rc %d", i,
		    cases[i].text, rc);
		if (rc == 0 && cases[i].rc == 0)
			CHECK(ms == cases[i].ms && is_date == cases[i].is_date,
			    "time case %zu \"%s\": %" PRIu64 " want %" PRIu64,
			    i, cases[i].text, ms, cases[i].ms);
	}
}

/* Reader tests write to files in a temporary directory. */
static char dir[] = "/tmp/test_auditread.XXXXXX";

static void
path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void
put_file(const char *name, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	path_of(path, sizeof(path), name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
}

/* Reads every line; returns the count, -1 on error.  Records the last
 * line's flags and length in *last. */
static long
read_all(const char *name, struct auditread_line *last, const char **err)
{
	struct auditread_line ln;
	struct auditread *r;
	char path[256];
	long n = 0;
	int rc;

	path_of(path, sizeof(path), name);
	*err = NULL;
	if ((r = auditread_open_any(path, err)) == NULL)
		return -1;
	memset(last, 0, sizeof(*last));
	while ((rc = auditread_next(r, &ln, err)) == 1) {
		n++;
		CHECK(ln.lineno == (size_t)n, "%s: lineno %zu at %ld", name,
		    ln.lineno, n);
		*last = ln;
		last->text = NULL;
	}
	auditread_close(r);
	return rc == -1 ? -1 : n;
}

static void
test_reader_plain(void)
{
	struct auditread_line last;
	const char *err;
	char *big;
	size_t i, len;
	long nl;

	put_file("empty", "", 0);
	CHECK(read_all("empty", &last, &err) == 0, "empty file");
	put_file("two", "a\nbb\n", 5);
	CHECK(read_all("two", &last, &err) == 2 && !last.is_torn &&
	    last.len == 2, "two lines");
	put_file("torn", "a\nbb", 4);
	CHECK(read_all("torn", &last, &err) == 2 && last.is_torn &&
	    last.len == 2, "torn last line");
	put_file("blank", "\n\n", 2);
	CHECK(read_all("blank", &last, &err) == 2 && last.len == 0,
	    "blank lines");
	CHECK(read_all("missing", &last, &err) == -1 && err != NULL,
	    "missing file");

	/* A long line between short ones, and lines across the 1 MiB
	 * read boundary. */
	len = 3 * 1024 * 1024;
	big = malloc(len);
	memset(big, 'x', len);
	big[0] = '\n';
	big[AUDIT_LINE_MAX + 10] = '\n';
	for (i = 2 * AUDIT_LINE_MAX; i < len; i += 301)
		big[i] = '\n';
	big[len - 1] = '\n';
	for (i = 0, nl = 0; i < len; i++)
		nl += big[i] == '\n';
	put_file("big", big, len);
	free(big);
	CHECK(read_all("big", &last, &err) == nl, "big file line count");
}

static void
write_gz(const char *name, const char *data, size_t len)
{
	char path[256];
	gzFile gz;

	path_of(path, sizeof(path), name);
	gz = gzopen(path, "wb");
	if (gz == NULL || gzwrite(gz, data, (unsigned)len) != (int)len ||
	    gzclose(gz) != Z_OK)
		abort();
}

static void
test_reader_gzip(void)
{
	struct auditread_line last;
	const char *err;
	char path[256], *buf;
	size_t n;
	FILE *f;

	write_gz("log.gz", LINE_V4 "\n" LINE_V4 "\n", 2 * strlen(LINE_V4) + 2);
	CHECK(read_all("log.gz", &last, &err) == 2 &&
	    last.len == strlen(LINE_V4), "gzip file");

	/* The same file cut short: an error, not a quiet end. */
	path_of(path, sizeof(path), "log.gz");
	buf = malloc(4096);
	f = fopen(path, "rb");
	n = fread(buf, 1, 4096, f);
	fclose(f);
	put_file("cut.gz", buf, n - 12);
	free(buf);
	CHECK(read_all("cut.gz", &last, &err) == -1 && err != NULL,
	    "truncated gzip");

	/* Members one after another (cat a.gz b.gz) are one file; any
	 * other byte after a member is an error, which zlib's gzread()
	 * would have ignored. */
	buf = malloc(8192);
	f = fopen(path, "rb");
	n = fread(buf, 1, 4096, f);
	fclose(f);
	memcpy(buf + n, buf, n);
	put_file("two.gz", buf, 2 * n);
	CHECK(read_all("two.gz", &last, &err) == 4, "two members");
	memcpy(buf + n, "garbage\n", 8);
	put_file("junk.gz", buf, n + 8);
	err = NULL;
	CHECK(read_all("junk.gz", &last, &err) == -1 && err != NULL &&
	    strstr(err, "after the end of the gzip data") != NULL,
	    "trailing garbage: %s", err ? err : "no error");
	memset(buf + n, 0, 8);
	put_file("zeros.gz", buf, n + 8);
	CHECK(read_all("zeros.gz", &last, &err) == -1, "trailing zeros");
	buf[n] = 0x1f;
	put_file("byte.gz", buf, n + 1);
	CHECK(read_all("byte.gz", &last, &err) == -1, "one byte after");
	put_file("onebyte", "\x1f", 1);
	CHECK(read_all("onebyte", &last, &err) == 1 && last.is_torn,
	    "a one-byte file is text");
	free(buf);

	/* Lines across many inflate and read buffers. */
	{
		size_t len = 4 * 1024 * 1024, i, nl = 0;
		char *big = malloc(len);

		for (i = 0; i < len; i++)
			big[i] = (char)(i % 97 == 96 ? '\n' : 'a' + i % 26);
		big[len - 1] = '\n';
		for (i = 0; i < len; i++)
			nl += big[i] == '\n';
		write_gz("big.gz", big, len);
		free(big);
		CHECK(read_all("big.gz", &last, &err) == (long)nl,
		    "big gzip file");
	}
}

static void
remove_files(void)
{
	static const char *const names[] = { "empty", "two", "torn",
	    "blank", "big", "log.gz", "cut.gz", "two.gz", "junk.gz",
	    "zeros.gz", "byte.gz", "onebyte", "big.gz" };
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_of(path, sizeof(path), names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int
main(void)
{
	test_block_line();
	test_event_lines();
	test_escapes_and_unknown_members();
	test_bad_lines();
	test_escape_reasons();
	test_prefixes_and_flips();
	test_times();
	if (mkdtemp(dir) == NULL)
		return 99;
	test_reader_plain();
	test_reader_gzip();
	remove_files();
	return unit_exit();
}
