/*
 * json: the one escaper (the audit line's rules), its truncation, the
 * stream writer on top of it, and the one escape decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "base/json.h"

/* The audit line's escaping as it was written before json_escape, byte
 * for byte: the reference the one escaper must match. */
static size_t
reference(char *out, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			out[n++] = '\\';
			out[n++] = (char)s[i];
		} else if (s[i] < 0x20) {
			memcpy(out + n, "\\u00", 4);
			n += 4;
			out[n++] = hex[s[i] >> 4];
			out[n++] = hex[s[i] & 0xf];
		} else
			out[n++] = (char)s[i];
	}
	out[n] = '\0';
	return n;
}

static void
test_rules(void)
{
	char buf[64];

	CHECK(json_escape(buf, sizeof(buf), "a\"b\\c", 5) == 7, "length");
	CHECK_STR(buf, "a\\\"b\\\\c", "quote and backslash");
	json_escape(buf, sizeof(buf), "\n\t\x01\x1f", 4);
	CHECK_STR(buf, "\\u000a\\u0009\\u0001\\u001f",
	    "every control byte as \\u00XX, \\n and \\t too");
	json_escape(buf, sizeof(buf), "\x7f\xc3\xa9/", 4);
	CHECK_STR(buf, "\x7f\xc3\xa9/", "DEL, UTF-8 and / as they are");
	CHECK(json_escape(buf, sizeof(buf), "a\0b", 3) == 8, "NUL in len");
	CHECK_STR(buf, "a\\u0000b", "a NUL byte is escaped");
	CHECK(json_escape(buf, sizeof(buf), "", 0) == 0 && buf[0] == '\0',
	    "empty");
}

/* Every byte, alone and in runs, against the reference. */
static void
test_every_byte(void)
{
	unsigned char in[256 * 2];
	char got[sizeof(in) * 6 + 1], want[sizeof(in) * 6 + 1];
	size_t i, n, m;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + i / 256);
	n = json_escape(got, sizeof(got), (const char *)in, sizeof(in));
	m = reference(want, in, sizeof(in));
	CHECK(n == m && memcmp(got, want, n + 1) == 0,
	    "all bytes as the audit line escaped them");
	srand(1);
	for (i = 0; i < 2000; i++) {
		size_t k, len = (size_t)rand() % 40;

		for (k = 0; k < len; k++)
			in[k] = (unsigned char)(rand() % 4 == 0 ?
			    rand() % 0x24 : rand() % 256);
		n = json_escape(got, sizeof(got), (const char *)in, len);
		m = reference(want, in, len);
		CHECK(n == m && memcmp(got, want, n + 1) == 0,
		    "random string %zu", i);
	}
}

/* Too small: the return says how much, out a prefix of whole escapes. */
static void
test_truncation(void)
{
	const char *s = "ab\x01\"cd";
	char full[64], buf[64];
	size_t need, size, n;

	need = json_escape(full, sizeof(full), s, strlen(s));
	CHECK(need == 12, "need %zu", need);
	for (size = 0; size <= need + 1; size++) {
		memset(buf, 'X', sizeof(buf));
		n = json_escape(buf, size, s, strlen(s));
		CHECK(n == need, "size %zu: returns what it needs", size);
		if (size == 0) {
			CHECK(buf[0] == 'X', "size 0 writes nothing");
			continue;
		}
		CHECK(strlen(buf) < size, "size %zu: NUL terminated", size);
		CHECK(strncmp(buf, full, strlen(buf)) == 0,
		    "size %zu: a prefix", size);
		if (size > need)
			CHECK_STR(buf, full, "size %zu: all of it", size);
	}
	json_escape(buf, 5, s, strlen(s));
	CHECK_STR(buf, "ab", "never half of \\u0001");
	json_escape(buf, 9, s, strlen(s));
	CHECK_STR(buf, "ab\\u0001", "whole escapes only");
	json_escape(buf, 4, "abcdef", 6);
	CHECK_STR(buf, "abc", "plain bytes fill up");
}

static void
test_put_string(void)
{
	char buf[4096], want[4096], *big;
	FILE *f;
	size_t i;

	if ((f = fmemopen(buf, sizeof(buf), "w")) == NULL)
		abort();
	json_put_string(f, "note\nline\t\"q\"");
	fputc('\0', f);
	fclose(f);
	CHECK_STR(buf, "\"note\\u000aline\\u0009\\\"q\\\"\"", "quoted");

	/* Longer than the writer's chunk. */
	if ((big = malloc(601)) == NULL)
		abort();
	for (i = 0; i < 600; i++)
		big[i] = i % 50 == 0 ? '\n' : (char)('a' + i % 26);
	big[600] = '\0';
	want[0] = '"';
	i = 1 + reference(want + 1, (const unsigned char *)big, 600);
	memcpy(want + i, "\"", 2);
	if ((f = fmemopen(buf, sizeof(buf), "w")) == NULL)
		abort();
	json_put_string(f, big);
	fputc('\0', f);
	fclose(f);
	CHECK_STR(buf, want, "across chunks");
	free(big);
}

static void
test_unescape(void)
{
	static const struct {
		const char *in;
		size_t took;
		const char *utf8;
		int err;
	} cases[] = {
		{ "\\n", 2, "\n", 0 },
		{ "\\/", 2, "/", 0 },
		{ "\\\"", 2, "\"", 0 },
		{ "\\u0041", 6, "A", 0 },
		{ "\\u00e9", 6, "\xc3\xa9", 0 },
		{ "\\u20AC", 6, "\xe2\x82\xac", 0 },
		{ "\\ud83d\\ude00", 12, "\xf0\x9f\x98\x80", 0 },
		{ "\\", 0, NULL, JSON_UNESC_END },
		{ "\\x", 0, NULL, JSON_UNESC_BAD },
		{ "\\u12", 0, NULL, JSON_UNESC_SHORT },
		{ "\\u12g4", 0, NULL, JSON_UNESC_HEX },
		{ "\\udc00", 0, NULL, JSON_UNESC_LONE_LOW },
		{ "\\ud800x", 0, NULL, JSON_UNESC_LONE_HIGH },
		{ "\\ud800\\u12", 0, NULL, JSON_UNESC_LOW_SHORT },
		{ "\\ud800\\uzzzz", 0, NULL, JSON_UNESC_LOW_HEX },
		{ "\\ud800\\u0041", 0, NULL, JSON_UNESC_PAIR },
	};
	enum json_unescape_error err;
	char u[4];
	size_t i, n, took;
	unsigned cp;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *in = cases[i].in;

		err = 0;
		took = json_unescape(in, in + strlen(in), u, &n, &cp, &err);
		CHECK(took == cases[i].took, "%s: took %zu", in, took);
		if (cases[i].utf8 != NULL)
			CHECK(n == strlen(cases[i].utf8) &&
			    memcmp(u, cases[i].utf8, n) == 0, "%s", in);
		else
			CHECK((int)err == cases[i].err, "%s: error %d", in,
			    (int)err);
	}
	took = json_unescape("\\u0000", "\\u0000" + 6, u, &n, &cp, &err);
	CHECK(took == 6 && n == 1 && u[0] == '\0' && cp == 0, "\\u0000");
}

int
main(void)
{
	test_rules();
	test_every_byte();
	test_truncation();
	test_put_string();
	test_unescape();
	return unit_exit();
}
