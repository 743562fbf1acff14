/*
 * test_sources: every list format's good and bad lines, and the manifest
 * with its errors.  Fixtures are written to a fresh mkdtemp() directory;
 * messages are compared without that directory's prefix.
 */
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

#include "policy/cidr.h"
#include "base/diag.h"
#include "base/dname.h"
#include "policy/sources.h"
#include "unit.h"

#define S(s) s, sizeof(s) - 1

static char dir[] = "/tmp/test_sources.XXXXXX";

struct got {
	char text[8192];
	size_t len;
	int stop_after;		/* stop the parse after this many, 0: never */
	int count;
};

static int
on_name(void *arg, const struct source *src, const uint8_t *wire,
    size_t wirelen, enum list_kind kind, size_t line)
{
	struct got *g = arg;
	char name[DNAME_MAXTEXT];

	CHECK(wirelen == dname_len(wire), "%s: wirelen %zu", src->name,
	    wirelen);
	dname_to_text(wire, name, sizeof(name));
	g->len += (size_t)snprintf(g->text + g->len, sizeof(g->text) - g->len,
	    "%s %s %zu\n", list_kind_name(kind), name, line);
	g->count++;
	return g->stop_after > 0 && g->count >= g->stop_after ? -1 : 0;
}

/* Ranges go into the same text as names, in cidr_format_range()'s
 * form; an IPv4-mapped range shows as written, with "mapped". */
static int
on_range(void *arg, const struct source *src, int family,
    const uint8_t *lo, const uint8_t *hi, enum list_kind kind, size_t line)
{
	struct got *g = arg;
	struct cidr_match m = { .family = family };
	char text[CIDR_RANGESTRLEN];
	size_t n = family == AF_INET ? 4 : 16;

	CHECK(family == AF_INET || family == AF_INET6, "%s: family %d",
	    src->name, family);
	memcpy(m.lo, lo, n);
	memcpy(m.hi, hi, n);
	CHECK(cidr_format_range(&m, text, sizeof(text)) > 0, "%s: format",
	    src->name);
	g->len += (size_t)snprintf(g->text + g->len, sizeof(g->text) - g->len,
	    "%s %s %zu\n", list_kind_name(kind), text, line);
	g->count++;
	return g->stop_after > 0 && g->count >= g->stop_after ? -1 : 0;
}

static char *
write_file(const char *name, const char *text, size_t len)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "wb")) == NULL) {
		perror(path);
		exit(99);
	}
	fwrite(text, 1, len, fp);
	fclose(fp);
	return path;
}

/* Compares the messages, each against an expected prefix. */
static void
check_diags(const char *what, const struct diag *d,
    const char *const *want)
{
	size_t n = 0, i, dlen = strlen(dir);
	const char *got;

	while (want[n] != NULL)
		n++;
	CHECK(diag_count(d) == n, "%s: %zu messages, want %zu", what,
	    diag_count(d), n);
	for (i = 0; i < diag_count(d) && i < DIAG_KEEP; i++) {
		got = diag_get(d, i);
		if (strncmp(got, dir, dlen) == 0 && got[dlen] == '/')
			got += dlen + 1;
		if (i >= n) {
			CHECK(0, "%s: extra message \"%s\"", what, got);
			continue;
		}
		CHECK(strncmp(got, want[i], strlen(want[i])) == 0,
		    "%s: message %zu is \"%s\", want \"%s...\"", what, i, got,
		    want[i]);
	}
}

struct fcase {
	const char *what;
	enum list_format format;
	const char *key;	/* json:KEY */
	enum list_kind kind;
	const char *text;
	size_t len;
	int rc;
	const char *names;
	const char *diags[12];
};

static const struct fcase fcases[] = {
	{ "domains", FORMAT_DOMAINS, NULL, KIND_BLOCK,
	    S("\xef\xbb\xbf# comment\r\n"
	    "example.com\r\n"
	    "  Sub.Example.ORG.  # trailing comment\n"
	    "*.wild.example\n"
	    "\n"
	    "b\xc3\xbc" "cher.example\n"
	    "bad..name\n"
	    "two names\n"
	    "192.0.2.1\n"
	    "*\n"
	    "last.example"), 0,
	    "block example.com 2\n"
	    "block sub.example.org 3\n"
	    "block wild.example 4\n"
	    "block xn--bcher-kva.example 6\n"
	    "block last.example 11\n",
	    { "list:7: \"bad..name\" has an empty label",
	      "list:8: \"two names\" is more than one name",
	      "list:9: \"192.0.2.1\" is an IP address, not a name",
	      "list:10: \"*\" has a character other than letters",
	      NULL } },
	{ "domains allow, limits", FORMAT_DOMAINS, NULL, KIND_ALLOW,
	    S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".example\n"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".example\n"
	    "a\tb\n"), 0,
	    "allow aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaa.example 1\n",
	    { "list:2: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "aaaaaaaaaaaa...\" has a label longer than 63 octets",
	      "list:3: \"a\\x09b\" is more than one name",
	      NULL } },
	{ "domains empty file", FORMAT_DOMAINS, NULL, KIND_BLOCK,
	    S(""), 0, "", { NULL } },
	{ "hosts", FORMAT_HOSTS, NULL, KIND_BLOCK,
	    S("127.0.0.1 localhost\n"
	    "::1 ip6-localhost ip6-loopback\n"
	    "0.0.0.0 0.0.0.0\n"
	    "0.0.0.0 ads.example # ad server\n"
	    "0.0.0.0\ta.example B.example\n"
	    "fe80::1%lo0 localhost\n"
	    "0.0.0.0\n"
	    "999.1.1.1 bad.example\n"
	    "0.0.0.0 192.0.2.1\n"
	    "\t# just a comment\n"
	    "::  v6.example\r\n"
	    "ads.example\n"
	    "127.0.0.1 LocalHost.LocalDomain broadcasthost"), 0,
	    "block ads.example 4\n"
	    "block a.example 5\n"
	    "block b.example 5\n"
	    "block v6.example 11\n",
	    { "list:7: \"0.0.0.0\" has no names after it",
	      "list:8: \"999.1.1.1\" is not an IP address",
	      "list:9: \"192.0.2.1\" is an IP address, not a name",
	      "list:12: \"ads.example\" is not an IP address",
	      NULL } },
	{ "adblock", FORMAT_ADBLOCK, NULL, KIND_BLOCK,
	    S("[Adblock Plus 2.0]\n"
	    "! Title: test\n"
	    "||ads.example^\n"
	    "@@||good.example^\n"
	    "||opt.example^$important\n"
	    "||empty.example^$\n"
	    "example.com##.banner\n"
	    "||path.example/ads^\n"
	    "/regex/\n"
	    "||noanchor.example\n"
	    "||Pipe.example^|\r\n"
	    "||bad..example^\n"
	    "||b\xc3\xbc" "cher.example^\n"
	    "  \n"
	    "||tail.example^junk\n"
	    "||*.wild.example^"), 0,
	    "block ads.example 3\n"
	    "allow good.example 4\n"
	    "block empty.example 6\n"
	    "block pipe.example 11\n"
	    "block xn--bcher-kva.example 13\n",
	    { "list:5: unsupported adblock options \"$important\" in "
	      "\"||opt.example^$important\"",
	      "list:7: unsupported adblock rule \"example.com##.banner\"",
	      "list:8: unsupported adblock rule \"||path.example/ads^\"",
	      "list:9: unsupported adblock rule \"/regex/\"",
	      "list:10: unsupported adblock rule \"||noanchor.example\"",
	      "list:12: \"bad..example\" has an empty label",
	      "list:15: unsupported adblock rule \"||tail.example^junk\"",
	      "list:16: unsupported adblock rule \"||*.wild.example^\"",
	      NULL } },
	{ "json", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\n"
	    "  \"version\": 2, \"tolerance\": 1.5e+0,\n"
	    "  \"fuzzylist\": [\"metamask.io\"],\n"
	    "  \"whitelist\": [\"good.example\"],\n"
	    "  \"blacklist\": [\n"
	    "    \"bad.example\",\n"
	    "    \"b\\u00fccher.example\", \"\\u4f8b\\u3048.example\",\n"
	    "    42,\n"
	    "    \"bad..x\",\n"
	    "    \"Upper.Example\", null, {\"a\": [1]}\n"
	    "  ],\n"
	    "  \"nested\": {\"blacklist\": [\"not.this\"]},\n"
	    "  \"esc\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\\ude00\",\n"
	    "  \"more\": [true, false, null, -0.5, []]\n"
	    "}"), 0,
	    "block bad.example 6\n"
	    "block xn--bcher-kva.example 7\n"
	    "block xn--r8jz45g.example 7\n"
	    "block upper.example 10\n",
	    { "list:8: expected a name (a string) in \"blacklist\", found "
	      "a number",
	      "list:9: \"bad..x\" has an empty label",
	      "list:10: expected a name (a string) in \"blacklist\", found "
	      "null",
	      "list:10: expected a name (a string) in \"blacklist\", found "
	      "an object",
	      NULL } },
	{ "json whitelist, crlf", FORMAT_JSON, "whitelist", KIND_ALLOW,
	    S("\xef\xbb\xbf{\"blacklist\": [],\r\n\"whitelist\": [\r\n"
	    "\"a.example\", \"b.example\"]}\r\n"), 0,
	    "allow a.example 3\nallow b.example 3\n", { NULL } },
	{ "json syntax", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"blacklist\": [\"a.example\",\n]}"), -1, "",
	    { "list: not JSON: unexpected character at line 2", NULL } },
	{ "json missing key", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"other\": [\"a.example\"]}"), -1, "",
	    { "list: no \"blacklist\" in the top-level object", NULL } },
	{ "json not array", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\n\"blacklist\": \"a.example\"}"), -1, "",
	    { "list:2: \"blacklist\" is not an array of names", NULL } },
	{ "json top array", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("[\"a.example\"]"), -1, "",
	    { "list: not JSON: expected an object at the top at line 1",
	      NULL } },
	{ "json empty", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S(""), -1, "",
	    { "list: not JSON: expected an object at the top at line 1",
	      NULL } },
	{ "json trailing", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"blacklist\": []}\n\nx"), -1, "",
	    { "list: not JSON: text after the top-level object at line 3",
	      NULL } },
	{ "json lone surrogate", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"blacklist\": [\"\\ud800x\"]}"), -1, "",
	    { "list: not JSON: lone high surrogate", NULL } },
	{ "json low surrogate", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"blacklist\": [\"\\udc00\"]}"), -1, "",
	    { "list: not JSON: lone low surrogate", NULL } },
	{ "json control char", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"blacklist\": [\"a\tb\"]}"), -1, "",
	    { "list: not JSON: control character in string at line 1",
	      NULL } },
	{ "json unterminated", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"blacklist\": [\"a.example"), -1, "",
	    { "list: not JSON: unterminated string at line 1", NULL } },
	{ "json bad number", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"n\": 01, \"blacklist\": []}"), -1, "",
	    { "list: not JSON: expected ',' or '}' at line 1", NULL } },
	{ "json missing colon", FORMAT_JSON, "blacklist", KIND_BLOCK,
	    S("{\"blacklist\" []}"), -1, "",
	    { "list: not JSON: expected ':' at line 1", NULL } },
	{ "rpz", FORMAT_RPZ, NULL, KIND_BLOCK,
	    S("$TTL 300\n"
	    "@ IN SOA localhost. root.localhost. (\n"
	    "      1 3600 600 86400 300 )\n"
	    "  IN NS localhost.\n"
	    "$ORIGIN rpz.local.\n"
	    "bad.example CNAME .\n"
	    "*.bad.example CNAME .\n"
	    "nodata.example 300 IN CNAME *.\n"
	    "good.example CNAME rpz-passthru.\n"
	    "abs.example.rpz.local. CNAME .\n"
	    "outside.example. CNAME .\n"
	    "32.1.2.0.192.rpz-ip CNAME .\n"
	    "ns.example.rpz-nsdname CNAME .\n"
	    "local.example A 192.0.2.1\n"
	    "rewrite.example CNAME other.example.\n"
	    "drop.example IN 60 CNAME rpz-drop.\n"
	    "Bad..name CNAME . ; comment\n"
	    "; only a comment\n"
	    "$INCLUDE other.zone\n"
	    "rpz.local. CNAME .\n"
	    "notype.example\n"
	    "b\xc3\xbc" "cher.example cname ."), 0,
	    "block bad.example 6\n"
	    "block bad.example 7\n"
	    "block nodata.example 8\n"
	    "allow good.example 9\n"
	    "block abs.example 10\n"
	    "block drop.example 16\n"
	    "block xn--bcher-kva.example 22\n",
	    { "list:11: \"outside.example.\" is outside the zone rpz.local",
	      "list:12: rpz-ip triggers are not supported yet: "
	      "\"32.1.2.0.192.rpz-ip\"",
	      "list:13: rpz-nsdname triggers are not supported yet: "
	      "\"ns.example.rpz-nsdname\"",
	      "list:14: unsupported RPZ record \"A\" for local.example",
	      "list:15: unsupported RPZ action CNAME \"other.example.\"",
	      "list:17: \"Bad..name\" has an empty label",
	      "list:19: unsupported directive \"$INCLUDE\"",
	      "list:20: \"rpz.local.\" is the zone apex, not a trigger",
	      "list:21: \"notype.example\" has no record type",
	      NULL } },
	{ "rpz origin from SOA", FORMAT_RPZ, NULL, KIND_BLOCK,
	    S("rpz.example. 3600 IN SOA ns. admin. 1 2 3 4 5\n"
	    "rpz.example. NS ns.\n"
	    "bad.example.rpz.example. CNAME .\n"
	    "other.example CNAME .\n"
	    "\tCNAME .\n"), 0,
	    "block bad.example 3\n"
	    "block other.example 4\n"
	    "block other.example 5\n", { NULL } },
	{ "rpz no origin", FORMAT_RPZ, NULL, KIND_BLOCK,
	    S("bad.example. CNAME .\n*.wild.example CNAME *.\n"), 0,
	    "block bad.example 1\nblock wild.example 2\n", { NULL } },
	/* Read through ldns: records over several lines, blank and comment
	 * lines, CRLF line ends; each report names the record's first
	 * line. */
	{ "rpz ldns", FORMAT_RPZ, NULL, KIND_BLOCK,
	    S("\xef\xbb\xbf$TTL 1h\r\n"
	    "$ORIGIN Rpz.Local.\r\n"
	    "@ IN SOA ns. host. (\r\n"
	    "    1 2 3\r\n"
	    "    4 5 )\r\n"
	    "multi 300 IN CNAME (\r\n"
	    "   rpz-passthru. )\r\n"
	    "\r\n"
	    "; comment\r\n"
	    "  ; indented comment\r\n"
	    "after.blank CNAME .\r\n"
	    "garbage here\r\n"
	    "abs.example.rpz.local. CNAME .\r\n"
	    "\tCNAME rpz-passthru.\r\n"
	    "class.first IN   60  CNAME .\r\n"
	    "two ( CNAME\r\n"
	    "  \"bad\" )\r\n"
	    "rel CNAME rpz-drop\r\n"
	    "extra CNAME . more\r\n"
	    "$ORIGIN other.zone.\r\n"
	    "x CNAME .\r\n"
	    "last.example CNAME ."), 0,
	    "allow multi 6\n"
	    "block after.blank 11\n"
	    "block abs.example 13\n"
	    "allow abs.example 14\n"
	    "block class.first 15\n"
	    "block x 21\n"
	    "block last.example 22\n",
	    { "list:12: unsupported RPZ record \"here\" for garbage",
	      "list:16: unsupported RPZ action CNAME \"\\\"bad\\\"\"",
	      "list:18: unsupported RPZ action CNAME \"rpz-drop\"",
	      "list:19: \"extra CNAME . more\" is not a record (",
	      NULL } },
	{ "rpz empty", FORMAT_RPZ, NULL, KIND_BLOCK, S(""), 0, "",
	    { NULL } },
	{ "rpz blank and comments only", FORMAT_RPZ, NULL, KIND_BLOCK,
	    S("\n; c\n   \n\t; c\n"), 0, "", { NULL } },
	{ "rpz unclosed", FORMAT_RPZ, NULL, KIND_BLOCK,
	    S("a.example CNAME .\nb.example CNAME ( .\nc.example CNAME .\n"),
	    0, "block a.example 1\n",
	    { "list:2: record opens a '(' it does not close", NULL } },
	{ "rpz NUL and owners", FORMAT_RPZ, NULL, KIND_BLOCK,
	    S("  CNAME .\n"
	    "a\0b.example CNAME .\n"
	    "long.example 1d2h IN CNAME *.\n"
	    "$INCLUDE x\n"
	    "no.target CNAME\n"
	    "@ CNAME .\n"
	    "\tCNAME .\n"), 0,
	    "block long.example 3\n",
	    { "list:2: line has a NUL byte",
	      "list:1: record without an owner",
	      "list:4: unsupported directive \"$INCLUDE\"",
	      "list:5: CNAME without a target",
	      "list:6: \"@\" is the zone apex",
	      "list:7: \"@\" is the zone apex",
	      NULL } },
	{ "cidr", FORMAT_CIDR, NULL, KIND_BLOCK,
	    S("192.0.2.0/24\n"), -1, "",
	    { "list: format cidr is not supported by this build yet",
	      NULL } },
};

/* The same, parsed by source_parse_all() with on_range. */
static const struct fcase range_cases[] = {
	{ "cidr ranges", FORMAT_CIDR, NULL, KIND_BLOCK,
	    S("# comment\n"
	    "192.0.2.0/24\n"
	    "  10.0.0.1   # one address\n"
	    "198.51.100.7-198.51.100.200\n"
	    "198.51.100.1 - 198.51.100.2 ; SBL123\n"
	    "2001:DB8::/32\r\n"
	    "\n"
	    "10.0.0.1/8\n"
	    "10.0.0.9-10.0.0.1\n"
	    "example.com\n"
	    "10.0.0.0/8 10.1.0.0/16\n"
	    "::ffff:192.0.2.0/120\n"
	    "2001:db8::1-10.0.0.1\n"
	    "10.0.0.0/33\n"
	    "\t;\n"
	    "0.0.0.0/0\n"
	    "255.255.255.255"), 0,
	    "block 192.0.2.0/24 2\n"
	    "block 10.0.0.1 3\n"
	    "block 198.51.100.7-198.51.100.200 4\n"
	    "block 198.51.100.1-198.51.100.2 5\n"
	    "block 2001:db8::/32 6\n"
	    "block ::ffff:192.0.2.0/120 12\n"
	    "block 0.0.0.0/0 16\n"
	    "block 255.255.255.255 17\n",
	    { "list:8: \"10.0.0.1/8\" has host bits set after the prefix "
	      "length",
	      "list:9: \"10.0.0.9-10.0.0.1\" has its first address above "
	      "its last",
	      "list:10: \"example.com\" is not an IP address, prefix or A-B "
	      "range",
	      "list:11: \"10.0.0.0/8 10.1.0.0/16\" is more than one address "
	      "range",
	      "list:13: \"2001:db8::1-10.0.0.1\" mixes IPv4 and IPv6",
	      "list:14: \"10.0.0.0/33\" has a prefix length that is not "
	      "0-32",
	      NULL } },
	{ "cidr allow", FORMAT_CIDR, NULL, KIND_ALLOW,
	    S("192.0.2.0/24\n"), 0, "allow 192.0.2.0/24 1\n", { NULL } },
	{ "rpz ranges", FORMAT_RPZ, NULL, KIND_BLOCK,
	    S("$ORIGIN rpz.local.\n"
	    "32.7.2.0.192.rpz-ip CNAME .\n"
	    "24.0.2.0.192.rpz-ip.rpz.local. CNAME rpz-passthru.\n"
	    "48.zz.db8.2001.rpz-ip CNAME .\n"
	    "128.1.zz.rpz-ip CNAME .\n"
	    "128.1.zz.DB8.2001.RPZ-IP CNAME .\n"
	    "64.zz.rpz-ip CNAME .\n"
	    "16.1.0.1.192.rpz-ip CNAME .\n"
	    "33.1.2.0.192.rpz-ip CNAME .\n"
	    "x.1.2.0.192.rpz-ip CNAME .\n"
	    "rpz-ip CNAME .\n"
	    "1.2.3.rpz-ip CNAME .\n"
	    "128.1.zz.2.zz.3.rpz-ip CNAME .\n"
	    "bad.example CNAME .\n"
	    "32.1.2.0.192.rpz-nsip CNAME .\n"
	    "32.7.2.0.192.rpz-client-ip CNAME .\n"
	    "128.8.7.6.5.4.3.2.1.rpz-ip CNAME .\n"
	    "128.9.8.7.6.5.4.3.2.1.rpz-ip CNAME .\n"
	    "32.2.0.192.rpz-ip CNAME .\n"
	    "24.0..0.192.rpz-ip CNAME .\n"
	    "24.0.2.0.192.rpz-ip CNAME rpz-drop.\n"), 0,
	    "block 192.0.2.7 2\n"
	    "allow 192.0.2.0/24 3\n"
	    "block 2001:db8::/48 4\n"
	    "block ::1 5\n"
	    "block 2001:db8::1 6\n"
	    "block ::/64 7\n"
	    "block bad.example 14\n"
	    "block 1:2:3:4:5:6:7:8 17\n"
	    "block 192.0.2.0/24 21\n",
	    { "list:8: \"16.1.0.1.192.rpz-ip\" has host bits set after the "
	      "prefix length",
	      "list:9: \"33.1.2.0.192.rpz-ip\" has a prefix length that is "
	      "not 0-32",
	      "list:10: \"x.1.2.0.192.rpz-ip\" is not an rpz-ip trigger",
	      "list:11: \"rpz-ip\" is not an rpz-ip trigger",
	      "list:12: \"1.2.3.rpz-ip\" is not an IP address",
	      "list:13: \"128.1.zz.2.zz.3.rpz-ip\" is not an IP address",
	      "list:15: rpz-nsip triggers are not supported yet",
	      "list:16: rpz-client-ip triggers are not supported yet",
	      "list:18: \"128.9.8.7.6.5.4.3.2.1.rpz-ip\" is not an rpz-ip "
	      "trigger",
	      "list:19: \"32.2.0.192.rpz-ip\" is not an IP address",
	      "list:20: \"24.0..0.192.rpz-ip\" is not an rpz-ip trigger",
	      NULL } },
};

static void
run_cases(const struct fcase *cases, size_t n, bool has_ranges)
{
	struct diag *d = diag_new();
	struct source src = { .name = "t", .category = "" };
	struct got *g = calloc(1, sizeof(*g));
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		const struct fcase *c = &cases[i];

		src.file = write_file("list", c->text, c->len);
		src.format = c->format;
		src.json_key = (char *)c->key;
		src.kind = c->kind;
		memset(g, 0, sizeof(*g));
		diag_clear(d);
		if (has_ranges)
			rc = source_parse_all(&src, d, on_name, on_range, g);
		else
			rc = source_parse_all(&src, d, on_name, NULL, g);
		CHECK(rc == c->rc, "%s: rc %d", c->what, rc);
		CHECK_STR(g->text, c->names, "%s: names", c->what);
		check_diags(c->what, d, c->diags);
	}
	free(g);
	diag_free(d);
}

static void
test_formats(void)
{
	run_cases(fcases, sizeof(fcases) / sizeof(fcases[0]), false);
	run_cases(range_cases, sizeof(range_cases) / sizeof(range_cases[0]),
	    true);
}

/* Lines of any length are read whole and reported with a short quote. */
static void
test_long_lines(void)
{
	size_t n = 100000;
	char *text = malloc(n + 64);
	struct diag *d = diag_new();
	struct source src = { .name = "t", .category = "",
	    .format = FORMAT_DOMAINS };
	struct got g = { .len = 0 };
	static const char *const want[] = {
		"list:2: \"xxxxxxxxxxxxxxxx", NULL,
	};

	memcpy(text, "a.example\n", 10);
	memset(text + 10, 'x', n);
	memcpy(text + 10 + n, "\nb.example\n", 11);
	src.file = write_file("list", text, n + 21);
	CHECK(source_parse_all(&src, d, on_name, NULL, &g) == 0,
	    "long: rc");
	CHECK_STR(g.text, "block a.example 1\nblock b.example 3\n", "long");
	check_diags("long", d, want);
	CHECK(strlen(diag_get(d, 0)) < 200, "long: message is short");
	CHECK(strstr(diag_get(d, 0), "...\" is longer than 253") != NULL,
	    "long: %s", diag_get(d, 0));
	free(text);
	diag_free(d);
}

/* Nesting is bounded so a hostile file cannot exhaust the stack. */
static void
test_json_depth(void)
{
	static const size_t depths[] = { 62, 63, 64, 100000 };
	struct source src = { .name = "t", .category = "",
	    .format = FORMAT_JSON, .json_key = "k" };
	struct diag *d = diag_new();
	struct got g = { .len = 0 };
	char *text = malloc(2 * 100000 + 64);
	size_t i, n, at;
	int rc;

	for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		n = depths[i];
		at = (size_t)sprintf(text,
		    "{\"k\": [\"a.example\"], \"x\": ");
		memset(text + at, '[', n);
		memset(text + at + n, ']', n);
		strcpy(text + at + 2 * n, "}");
		src.file = write_file("list", text, strlen(text));
		diag_clear(d);
		g.len = 0;
		g.text[0] = '\0';
		rc = source_parse_all(&src, d, on_name, NULL, &g);
		/* The top object is level 1, "x"'s arrays the next n. */
		if (n + 1 <= 64) {
			CHECK(rc == 0, "depth %zu: rc %d", n, rc);
			CHECK_STR(g.text, "block a.example 1\n", "depth %zu",
			    n);
		} else {
			CHECK(rc == -1, "depth %zu: rc %d", n, rc);
			CHECK(diag_count(d) == 1 && strstr(diag_get(d, 0),
			    "not JSON: nested deeper than 64 levels at "
			    "line 1"), "depth %zu: %s", n, diag_get(d, 0));
		}
	}
	free(text);
	diag_free(d);
}

static void
test_stop_and_missing(void)
{
	struct diag *d = diag_new();
	struct source src = { .name = "t", .category = "",
	    .format = FORMAT_HOSTS };
	struct got g = { .stop_after = 1 };
	static const char *const nothing[] = { NULL };
	static const char *const missing[] = {
		"missing.list: No such file or directory", NULL,
	};
	char path[512];

	src.file = write_file("list", S("0.0.0.0 a.example b.example\n"
	    "0.0.0.0 c.example\n"));
	CHECK(source_parse_all(&src, d, on_name, NULL, &g) == -1,
	    "stop: rc");
	CHECK_STR(g.text, "block a.example 1\n", "stop");
	check_diags("stop", d, nothing);

	src.format = FORMAT_CIDR;
	src.file = write_file("list", S("192.0.2.0/24\n10.0.0.0/8\n"));
	memset(&g, 0, sizeof(g));
	g.stop_after = 1;
	CHECK(source_parse_all(&src, d, on_name, on_range, &g) == -1,
	    "stop range: rc");
	CHECK_STR(g.text, "block 192.0.2.0/24 1\n", "stop range");
	check_diags("stop range", d, nothing);

	snprintf(path, sizeof(path), "%s/missing.list", dir);
	src.file = path;
	src.format = FORMAT_HOSTS;
	CHECK(source_parse_all(&src, d, on_name, NULL, &g) == -1,
	    "missing: rc");
	check_diags("missing", d, missing);
	diag_clear(d);
	src.format = FORMAT_CIDR;
	CHECK(source_parse_all(&src, d, on_name, on_range, &g) == -1,
	    "missing cidr: rc");
	check_diags("missing cidr", d, missing);
	diag_free(d);
}

static void
test_manifest_good(void)
{
	struct diag *d = diag_new();
	struct manifest *m;
	struct got g = { .len = 0 };
	char want[600];
	static const char *const nothing[] = { NULL };
	static const char *const url[] = {
		"sources.ini:17: [source remote]: url sources are fetched by "
		"`cordon compile`: load the policy.cpol it builds", NULL,
	};

	write_file("exchanges.domains", S("binance.com\n"));
	m = manifest_load(write_file("sources.ini", S(
	    "\xef\xbb\xbf; cordon sources\r\n"
	    "[manifest]\r\n"
	    "home_country = cn\r\n"
	    "\r\n"
	    "[source exchanges]\n"
	    "file = exchanges.domains   ; inline comment\n"
	    "format = domains\n"
	    "category = exchange\n"
	    "offshore = yes\n"
	    "\n"
	    "[source mm]\n"
	    "file = /abs/config.json\n"
	    "format = json:blacklist\n"
	    "kind = allow\n"
	    "offshore = FALSE\n"
	    "\n"
	    "[source remote]\n"
	    "url = https://example.com/list.txt\n"
	    "format = hosts\n"
	    "[source empty-category]\n"
	    "file = x\n"
	    "format = rpz\n"
	    "category =\n")), d);
	check_diags("good manifest", d, nothing);
	CHECK(m != NULL, "good manifest: NULL");
	if (m == NULL)
		goto out;
	CHECK_STR(m->home_country, "CN", "home_country");
	CHECK(m->nsources == 4, "nsources %zu", m->nsources);
	if (m->nsources != 4)
		goto out;
	snprintf(want, sizeof(want), "%s/exchanges.domains", dir);
	CHECK_STR(m->sources[0].name, "exchanges", "name");
	CHECK_STR(m->sources[0].file, want, "file");
	CHECK(m->sources[0].url == NULL, "no url");
	CHECK(m->sources[0].format == FORMAT_DOMAINS, "format");
	CHECK_STR(m->sources[0].category, "exchange", "category");
	CHECK(m->sources[0].kind == KIND_BLOCK, "default kind");
	CHECK(m->sources[0].offshore, "offshore");
	CHECK(m->sources[0].line == 5, "line %zu", m->sources[0].line);
	CHECK_STR(m->sources[1].file, "/abs/config.json", "abs file");
	CHECK(m->sources[1].format == FORMAT_JSON, "json");
	CHECK_STR(m->sources[1].json_key, "blacklist", "json key");
	CHECK_STR(m->sources[1].category, "", "no category");
	CHECK(m->sources[1].kind == KIND_ALLOW, "allow");
	CHECK(!m->sources[1].offshore, "not offshore");
	CHECK_STR(m->sources[2].url, "https://example.com/list.txt", "url");
	CHECK(m->sources[2].file == NULL, "url: no file");
	CHECK_STR(list_format_name(m->sources[2].format), "hosts", "hosts");
	CHECK_STR(list_format_name(m->sources[3].format), "rpz", "rpz");
	CHECK_STR(m->sources[3].category, "", "empty category");

	CHECK(source_parse_all(&m->sources[0], d, on_name, NULL, &g) == 0,
	    "parse");
	CHECK_STR(g.text, "block binance.com 1\n", "parse names");
	CHECK(source_parse_all(&m->sources[2], d, on_name, NULL, &g) == -1,
	    "url rc");
	check_diags("url source", d, url);
out:
	manifest_free(m);
	manifest_free(NULL);
	diag_free(d);
}

static void
test_manifest_bad(void)
{
	struct diag *d = diag_new();
	char text[4096], comment[260];
	static const char *const want[] = {
		"m.ini:1: stray is outside any section",
		"m.ini:3: [manifest] home_country: \"CHN\" is not a "
		"two-letter country code",
		"m.ini:4: [manifest] unknown key colour",
		"m.ini:7: [source a] format: \"csv\" is not a format",
		"m.ini:8: [source a] kind: \"deny\" is not block or allow",
		"m.ini:9: [source a] offshore: \"maybe\" is not yes or no",
		"m.ini:10: duplicate source \"a\" (first at line 5)",
		"m.ini:12: [source b] needs file or url",
		"m.ini:18: [source c] file: given twice",
		"m.ini:14: [source c] has both file and url; give one",
		"m.ini:19: unknown section [weird]",
		"m.ini:22: [source d] url: \"ftp://x\" is not an http:// "
		"or https:// URL",
		"m.ini:23: [source d] format: \"json:\" needs a key "
		"(json:KEY)",
		"m.ini:21: [source d] needs file or url",
		"m.ini:28: [source e] category: \"bad category\" is not a "
		"category",
		"m.ini:29: \"f!\" is not a source name",
		"m.ini:30: line too long",
		"m.ini:31: \"a b\" is not a source name",
		"m.ini:32: duplicate [manifest] section (first at line 2)",
		/* inih tells its first syntax error when it is done, and
		 * the last section is checked at its end. */
		"m.ini:24: expected [section] or key = value",
		"m.ini:33: [source g] has no format",
		NULL,
	};

	memset(comment, 'x', 250);
	comment[250] = '\0';
	snprintf(text, sizeof(text),
	    "stray = 1\n"
	    "[manifest]\n"
	    "home_country = CHN\n"
	    "colour = red\n"
	    "[source a]\n"
	    "file = a.list\n"
	    "format = csv\n"
	    "kind = deny\n"
	    "offshore = maybe\n"
	    "[source a]\n"
	    "file = b.list\n"
	    "[source b]\n"
	    "format = domains\n"
	    "[source c]\n"
	    "file = c.list\n"
	    "url = http://x/\n"
	    "format = hosts\n"
	    "file = d.list\n"
	    "[weird]\n"
	    "x = 1\n"
	    "[source d]\n"
	    "url = ftp://x\n"
	    "format = json:\n"
	    "this line has no equals\n"
	    "[source e]\n"
	    "file = e.list\n"
	    "format = domains\n"
	    "category = bad category\n"
	    "[source f!]\n"
	    "; %s\n"
	    "[source a b]\n"
	    "[manifest]\n"
	    "[source g]\n"
	    "file = g.list\n", comment);
	CHECK(manifest_load(write_file("m.ini", text, strlen(text)), d) ==
	    NULL, "bad manifest loaded");
	check_diags("bad manifest", d, want);
	diag_free(d);
}

static void
test_manifest_missing(void)
{
	struct diag *d = diag_new();
	static const char *const want[] = {
		"nope.ini: No such file or directory", NULL,
	};
	char path[512];

	snprintf(path, sizeof(path), "%s/nope.ini", dir);
	CHECK(manifest_load(path, d) == NULL, "missing manifest");
	check_diags("missing manifest", d, want);
	diag_free(d);
}

static void
cleanup(void)
{
	static const char *const files[] = {
		"list", "sources.ini", "exchanges.domains", "m.ini",
	};

	unit_rm_dir(dir, files, sizeof(files) / sizeof(files[0]));
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	test_formats();
	test_long_lines();
	test_json_depth();
	test_stop_and_missing();
	test_manifest_good();
	test_manifest_bad();
	test_manifest_missing();
	cleanup();
	return unit_exit();
}
