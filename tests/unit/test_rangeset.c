/*
 * test_rangeset: merge (adjacent, overlapping, contained, the last
 * address), subtraction (splitting a range in two, edges, /0), resolving
 * block and allow ranges by the most specific one, splitting ranges into
 * prefixes (/0, min_bits, IPv6), for IPv4 and IPv6.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/cidr.h"
#include "tool/rangeset.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAXR 8

/* Builds a set of family from texts; a leading '+' marks an allow. */
static void
fill(struct rangeset *s, int family, const char *const *texts)
{
	rangeset_init(s, family);
	for (size_t i = 0; i < MAXR && texts[i] != NULL; i++) {
		const char *t = texts[i], *why = NULL;
		bool allow = t[0] == '+';
		uint8_t lo[16], hi[16];
		int fam;

		if (cidr_parse_range(t + allow, &fam, lo, hi, &why) != 0 ||
		    fam != family) {
			fprintf(stderr, "bad test range %s: %s\n", t,
			    why ? why : "family");
			abort();
		}
		CHECK(rangeset_add(s, lo, hi, allow) == 0, "add %s", t);
	}
}

/* "lo-hi lo-hi ..." */
static void
show(const struct rangeset *s, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		char lo[64], hi[64];

		inet_ntop(s->family, s->v[i].lo, lo, sizeof(lo));
		inet_ntop(s->family, s->v[i].hi, hi, sizeof(hi));
		off += snprintf(buf + off, size - off, "%s%s-%s",
		    i ? " " : "", lo, hi);
	}
}

struct set_case {
	int family;
	const char *a[MAXR];
	const char *b[MAXR];
	const char *want;
};

static const struct set_case merge_cases[] = {
	{ AF_INET, { "192.0.2.128/25", "192.0.2.0/25" }, { NULL },
	    "192.0.2.0-192.0.2.255" },
	{ AF_INET, { "10.0.0.0-10.0.0.10", "10.0.0.5-10.0.0.20" }, { NULL },
	    "10.0.0.0-10.0.0.20" },
	{ AF_INET, { "10.1.0.0/16", "10.0.0.0/8", "10.2.3.4" }, { NULL },
	    "10.0.0.0-10.255.255.255" },
	{ AF_INET, { "10.0.0.1", "10.0.0.3" }, { NULL },
	    "10.0.0.1-10.0.0.1 10.0.0.3-10.0.0.3" },
	{ AF_INET, { "10.0.0.3", "10.0.0.1", "10.0.0.2" }, { NULL },
	    "10.0.0.1-10.0.0.3" },
	{ AF_INET, { "1.2.3.4", "0.0.0.0/0" }, { NULL },
	    "0.0.0.0-255.255.255.255" },
	{ AF_INET, { "255.255.255.255", "255.255.255.254", "0.0.0.0" },
	    { NULL }, "0.0.0.0-0.0.0.0 255.255.255.254-255.255.255.255" },
	{ AF_INET6, { "2001:db8:8000::/33", "2001:db8::/33" }, { NULL },
	    "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ AF_INET6, { "2001:db8::1", "::/0" }, { NULL },
	    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ AF_INET6, { "::1", "::2-::5", "::7" }, { NULL },
	    "::1-::5 ::7-::7" },
	{ AF_INET, { NULL }, { NULL }, "" },
};

static const struct set_case subtract_cases[] = {
	/* a hole in the middle splits the range in two */
	{ AF_INET, { "192.0.2.0/24" }, { "192.0.2.128/26" },
	    "192.0.2.0-192.0.2.127 192.0.2.192-192.0.2.255" },
	{ AF_INET, { "192.0.2.0/24" }, { "192.0.0.0/16" }, "" },
	{ AF_INET, { "192.0.2.0/24" }, { "192.0.2.0/24" }, "" },
	{ AF_INET, { "10.0.0.0-10.0.0.10" }, { "10.0.0.0-10.0.0.3" },
	    "10.0.0.4-10.0.0.10" },
	{ AF_INET, { "10.0.0.0-10.0.0.10" }, { "10.0.0.8-10.0.0.30" },
	    "10.0.0.0-10.0.0.7" },
	{ AF_INET, { "10.0.0.0-10.0.0.10" },
	    { "10.0.0.2", "10.0.0.5-10.0.0.6" },
	    "10.0.0.0-10.0.0.1 10.0.0.3-10.0.0.4 10.0.0.7-10.0.0.10" },
	/* one hole over the end of one range and the start of the next */
	{ AF_INET, { "10.0.0.0-10.0.0.10", "10.0.0.20-10.0.0.30" },
	    { "10.0.0.5-10.0.0.25" },
	    "10.0.0.0-10.0.0.4 10.0.0.26-10.0.0.30" },
	{ AF_INET, { "10.0.0.0/24" }, { "192.0.2.0/24" },
	    "10.0.0.0-10.0.0.255" },
	{ AF_INET, { "0.0.0.0/0" }, { "255.255.255.255" },
	    "0.0.0.0-255.255.255.254" },
	{ AF_INET, { "0.0.0.0/0" }, { "0.0.0.0" },
	    "0.0.0.1-255.255.255.255" },
	{ AF_INET, { "0.0.0.0/0" }, { "0.0.0.0/0" }, "" },
	{ AF_INET6, { "2001:db8::/32" }, { "2001:db8::1" },
	    "2001:db8::-2001:db8:: "
	    "2001:db8::2-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ AF_INET6, { "::/0" }, { "::/1" },
	    "8000::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
};

/* a holds block ranges and "+" allow ranges; b is unused. */
static const struct set_case resolve_cases[] = {
	{ AF_INET, { "192.0.2.0/24", "+192.0.2.128/26" }, { NULL },
	    "192.0.2.0-192.0.2.127 192.0.2.192-192.0.2.255" },
	/* a block more specific than an allow stays blocked */
	{ AF_INET, { "+192.0.2.0/24", "192.0.2.7" }, { NULL },
	    "192.0.2.7-192.0.2.7" },
	{ AF_INET, { "192.0.2.0/24", "+192.0.2.0/25", "192.0.2.9" },
	    { NULL }, "192.0.2.9-192.0.2.9 192.0.2.128-192.0.2.255" },
	/* more specific means fewer addresses, not a longer prefix */
	{ AF_INET, { "10.0.0.0/24", "+10.0.0.1-10.0.0.255",
	    "10.0.0.0-10.0.0.1" }, { NULL }, "10.0.0.0-10.0.0.1" },
	/* same size: the range that starts lower decides */
	{ AF_INET, { "10.0.0.0-10.0.0.9", "+10.0.0.5-10.0.0.14" }, { NULL },
	    "10.0.0.0-10.0.0.9" },
	{ AF_INET, { "+10.0.0.0-10.0.0.9", "10.0.0.5-10.0.0.14" }, { NULL },
	    "10.0.0.10-10.0.0.14" },
	/* the same range listed both ways: allow */
	{ AF_INET, { "10.0.0.0/24", "+10.0.0.0/24" }, { NULL }, "" },
	{ AF_INET, { "+10.0.0.0/24", "10.0.0.0/24" }, { NULL }, "" },
	{ AF_INET, { "0.0.0.0/0", "+192.0.2.0/24" }, { NULL },
	    "0.0.0.0-192.0.1.255 192.0.3.0-255.255.255.255" },
	{ AF_INET, { "0.0.0.0/0" }, { NULL }, "0.0.0.0-255.255.255.255" },
	{ AF_INET, { "10.0.0.128/25", "10.0.0.0/25", "10.0.0.64/26" },
	    { NULL }, "10.0.0.0-10.0.0.255" },
	{ AF_INET, { "10.0.0.0/8", "+10.0.0.0/16", "+10.1.0.0/16" },
	    { NULL }, "10.2.0.0-10.255.255.255" },
	{ AF_INET, { "+10.0.0.0/8" }, { NULL }, "" },
	{ AF_INET, { "255.255.255.0/24", "+255.255.255.255" }, { NULL },
	    "255.255.255.0-255.255.255.254" },
	{ AF_INET6, { "2001:db8::/32", "+2001:db8:1::/48" }, { NULL },
	    "2001:db8::-2001:db8:0:ffff:ffff:ffff:ffff:ffff "
	    "2001:db8:2::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ AF_INET6, { "::/0", "+::/1", "ffff::1" }, { NULL },
	    "8000::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
};

static void
test_merge(void)
{
	for (size_t i = 0; i < N(merge_cases); i++) {
		const struct set_case *c = &merge_cases[i];
		struct rangeset s;
		char got[1024];

		fill(&s, c->family, c->a);
		rangeset_merge(&s);
		show(&s, got, sizeof(got));
		CHECK_STR(got, c->want, "merge case %zu", i);
		rangeset_clear(&s);
	}
}

static void
test_subtract(void)
{
	for (size_t i = 0; i < N(subtract_cases); i++) {
		const struct set_case *c = &subtract_cases[i];
		struct rangeset a, b, out;
		char got[1024];

		fill(&a, c->family, c->a);
		fill(&b, c->family, c->b);
		rangeset_init(&out, c->family);
		rangeset_merge(&a);
		rangeset_merge(&b);
		CHECK(rangeset_subtract(&a, &b, &out) == 0, "case %zu", i);
		show(&out, got, sizeof(got));
		CHECK_STR(got, c->want, "subtract case %zu", i);
		rangeset_clear(&a);
		rangeset_clear(&b);
		rangeset_clear(&out);
	}
}

static void
test_resolve(void)
{
	for (size_t i = 0; i < N(resolve_cases); i++) {
		const struct set_case *c = &resolve_cases[i];
		struct rangeset s, out;
		char got[1024];

		fill(&s, c->family, c->a);
		rangeset_init(&out, c->family);
		CHECK(rangeset_resolve(&s, &out) == 0, "case %zu", i);
		show(&out, got, sizeof(got));
		CHECK_STR(got, c->want, "resolve case %zu", i);
		rangeset_clear(&s);
		rangeset_clear(&out);
	}
}

struct split_out {
	int family;
	char buf[2048];
	size_t off;
};

static void
on_prefix(void *arg, const uint8_t *addr, unsigned bits)
{
	struct split_out *so = arg;
	char a[64];

	inet_ntop(so->family, addr, a, sizeof(a));
	so->off += snprintf(so->buf + so->off, sizeof(so->buf) - so->off,
	    "%s%s/%u", so->off ? " " : "", a, bits);
}

struct split_case {
	const char *range;
	unsigned min_bits;
	const char *want;
};

static const struct split_case split_cases[] = {
	{ "192.0.2.0/24", 0, "192.0.2.0/24" },
	{ "10.0.0.1-10.0.0.6", 0,
	    "10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32" },
	{ "10.0.0.0-10.0.1.0", 0, "10.0.0.0/24 10.0.1.0/32" },
	{ "0.0.0.0/0", 0, "0.0.0.0/0" },
	{ "0.0.0.0/0", 1, "0.0.0.0/1 128.0.0.0/1" },
	{ "0.0.0.0/1", 1, "0.0.0.0/1" },
	{ "255.255.255.255", 0, "255.255.255.255/32" },
	{ "255.255.255.254-255.255.255.255", 0, "255.255.255.254/31" },
	{ "::/0", 0, "::/0" },
	{ "::/0", 1, "::/1 8000::/1" },
	{ "2001:db8::-2001:db8::ffff", 0, "2001:db8::/112" },
	{ "::1-::2", 0, "::1/128 ::2/128" },
	{ "2001:db8::/32", 0, "2001:db8::/32" },
};

static void
test_split(void)
{
	for (size_t i = 0; i < N(split_cases); i++) {
		const struct split_case *c = &split_cases[i];
		struct split_out so = { 0 };
		uint8_t lo[16], hi[16];
		const char *why;
		size_t n;
		unsigned bits;
		bool one;

		CHECK(cidr_parse_range(c->range, &so.family, lo, hi,
		    &why) == 0, "parse %s", c->range);
		n = rangeset_split(so.family, lo, hi, c->min_bits, on_prefix,
		    &so);
		CHECK_STR(so.buf, c->want, "split %s", c->range);
		CHECK(n == rangeset_split(so.family, lo, hi, c->min_bits, NULL,
		    NULL), "count %s", c->range);
		one = rangeset_is_prefix(so.family, lo, hi, &bits);
		CHECK(one == (strchr(c->want, ' ') == NULL || c->min_bits > 0),
		    "is_prefix %s", c->range);
	}
}

/* Every address but the last: one prefix of each length, /1 to /32. */
static void
test_split_long(void)
{
	uint8_t lo[4] = { 0 }, hi[4] = { 255, 255, 255, 254 };
	struct split_out so = { .family = AF_INET };
	size_t n = rangeset_split(AF_INET, lo, hi, 0, on_prefix, &so);

	CHECK(n == 32, "got %zu prefixes", n);
	CHECK(strstr(so.buf, "0.0.0.0/1 128.0.0.0/2 192.0.0.0/3 ") == so.buf,
	    "%s", so.buf);
	CHECK(strcmp(so.buf + strlen(so.buf) - 19, " 255.255.255.254/32")
	    == 0, "%s", so.buf);
}

static void
test_bad_add(void)
{
	struct rangeset s;
	uint8_t lo[4] = { 10, 0, 0, 2 }, hi[4] = { 10, 0, 0, 1 };

	rangeset_init(&s, AF_INET);
	CHECK(rangeset_add(&s, lo, hi, false) == -1, "lo above hi");
	CHECK(s.n == 0, "nothing added");
	rangeset_clear(&s);
}

int
main(void)
{
	test_merge();
	test_subtract();
	test_resolve();
	test_split();
	test_split_long();
	test_bad_add();
	return unit_exit();
}
