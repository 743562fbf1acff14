/*
 * test_cidr: /0, /32 and /128, adjacent, nested and overlapping ranges,
 * A-B ranges off prefix boundaries, IPv4-mapped IPv6, merge on
 * duplicates, text parsing and formatting, and random tables checked
 * against simple reference matchers.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t
merge_min(uint32_t old, uint32_t add)
{
	return add < old ? add : old;
}

/* Records the order merge was called in: 1, 2 -> 12. */
static uint32_t
merge_concat(uint32_t old, uint32_t add)
{
	return old * 10 + add;
}

static void
add(struct cidr *c, const char *text, uint32_t value,
    uint32_t (*merge)(uint32_t, uint32_t))
{
	const char *why = NULL;

	CHECK(cidr_add_text(c, text, value, merge, &why) == 0, "add %s: %s",
	    text, why);
}

struct match_case {
	const char *addr;
	uint32_t value;		/* 0: no match */
	const char *rule;	/* the matching entry, formatted */
};

static const struct {
	const char *text;
	uint32_t value;
} listed[] = {
	{ "10.0.0.0/8", 2 },
	{ "10.1.0.0/16", 3 },
	{ "10.1.2.0/24", 4 },
	{ "10.1.2.3", 5 },
	{ "10.1.2.128/25", 6 },
	{ "192.0.2.0/25", 7 },
	{ "192.0.2.128/25", 8 },
	{ "198.51.100.7-198.51.100.200", 9 },
	{ "203.0.113.10-203.0.113.50", 10 },
	{ "203.0.113.40 - 203.0.113.60", 11 },
	{ "255.255.255.255/32", 12 },
	{ "10.9.0.10-10.9.0.19", 13 },
	{ "10.9.0.15-10.9.0.24", 14 },
	{ "::/0", 20 },
	{ "2001:db8::/32", 21 },
	{ "2001:db8:1::/48", 22 },
	{ "2001:db8:1::1/128", 23 },
	{ "2001:db8:2::5-2001:db8:2::1:0", 24 },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 25 },
	{ "2001:db8:3:0:ffff:ffff:ffff:fff0-2001:db8:3:1::10", 26 },
	{ "::ffff:100.64.0.0/106", 27 },
};

static const struct match_case match_cases[] = {
	/* nested: each depth wins inside, the outer one just outside */
	{ "9.255.255.255", 0, NULL },
	{ "10.0.0.0", 2, "10.0.0.0/8" },
	{ "10.1.0.0", 3, "10.1.0.0/16" },
	{ "10.1.1.255", 3, "10.1.0.0/16" },
	{ "10.1.2.0", 4, "10.1.2.0/24" },
	{ "10.1.2.2", 4, "10.1.2.0/24" },
	{ "10.1.2.3", 5, "10.1.2.3" },
	{ "10.1.2.4", 4, "10.1.2.0/24" },
	{ "10.1.2.127", 4, "10.1.2.0/24" },
	{ "10.1.2.128", 6, "10.1.2.128/25" },
	{ "10.1.2.255", 6, "10.1.2.128/25" },
	{ "10.1.3.0", 3, "10.1.0.0/16" },
	{ "10.1.255.255", 3, "10.1.0.0/16" },
	{ "10.2.0.0", 2, "10.0.0.0/8" },
	{ "10.255.255.255", 2, "10.0.0.0/8" },
	{ "11.0.0.0", 0, NULL },
	/* adjacent */
	{ "192.0.1.255", 0, NULL },
	{ "192.0.2.0", 7, "192.0.2.0/25" },
	{ "192.0.2.127", 7, "192.0.2.0/25" },
	{ "192.0.2.128", 8, "192.0.2.128/25" },
	{ "192.0.2.255", 8, "192.0.2.128/25" },
	{ "192.0.3.0", 0, NULL },
	/* A-B off prefix boundaries */
	{ "198.51.100.6", 0, NULL },
	{ "198.51.100.7", 9, "198.51.100.7-198.51.100.200" },
	{ "198.51.100.200", 9, "198.51.100.7-198.51.100.200" },
	{ "198.51.100.201", 0, NULL },
	/* overlapping, not nested: the narrower wins where they overlap */
	{ "203.0.113.9", 0, NULL },
	{ "203.0.113.10", 10, "203.0.113.10-203.0.113.50" },
	{ "203.0.113.39", 10, "203.0.113.10-203.0.113.50" },
	{ "203.0.113.40", 11, "203.0.113.40-203.0.113.60" },
	{ "203.0.113.50", 11, "203.0.113.40-203.0.113.60" },
	{ "203.0.113.51", 11, "203.0.113.40-203.0.113.60" },
	{ "203.0.113.60", 11, "203.0.113.40-203.0.113.60" },
	{ "203.0.113.61", 0, NULL },
	/* the same size: the one that starts lower */
	{ "10.9.0.14", 13, "10.9.0.10-10.9.0.19" },
	{ "10.9.0.15", 13, "10.9.0.10-10.9.0.19" },
	{ "10.9.0.19", 13, "10.9.0.10-10.9.0.19" },
	{ "10.9.0.20", 14, "10.9.0.15-10.9.0.24" },
	{ "10.9.0.25", 2, "10.0.0.0/8" },
	/* the top and bottom of the space */
	{ "0.0.0.0", 0, NULL },
	{ "255.255.255.254", 0, NULL },
	{ "255.255.255.255", 12, "255.255.255.255" },
	/* IPv4-mapped IPv6, listed and looked up */
	{ "100.63.255.255", 0, NULL },
	{ "100.64.0.0", 27, "100.64.0.0/10" },
	{ "::ffff:100.127.255.255", 27, "100.64.0.0/10" },
	{ "100.128.0.0", 0, NULL },
	{ "::ffff:10.1.2.3", 5, "10.1.2.3" },
	{ "::ffff:192.0.2.200", 8, "192.0.2.128/25" },
	/* mapped addresses use the IPv4 table only, not ::/0 */
	{ "::ffff:8.8.8.8", 0, NULL },
	/* IPv6 */
	{ "::", 20, "::/0" },
	{ "::1", 20, "::/0" },
	{ "::fffe:808:808", 20, "::/0" },
	{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 20, "::/0" },
	{ "2001:db8::", 21, "2001:db8::/32" },
	{ "2001:db8:1::", 22, "2001:db8:1::/48" },
	{ "2001:db8:1::1", 23, "2001:db8:1::1" },
	{ "2001:db8:1::2", 22, "2001:db8:1::/48" },
	{ "2001:db8:1:ffff:ffff:ffff:ffff:ffff", 22, "2001:db8:1::/48" },
	{ "2001:db8:2::4", 21, "2001:db8::/32" },
	{ "2001:db8:2::5", 24, "2001:db8:2::5-2001:db8:2::1:0" },
	{ "2001:db8:2::1:0", 24, "2001:db8:2::5-2001:db8:2::1:0" },
	{ "2001:db8:2::1:1", 21, "2001:db8::/32" },
	{ "2001:db8:3:0:ffff:ffff:ffff:ffef", 21, "2001:db8::/32" },
	{ "2001:db8:3:0:ffff:ffff:ffff:fff0", 26,
	  "2001:db8:3:0:ffff:ffff:ffff:fff0-2001:db8:3:1::10" },
	{ "2001:db8:3:1::", 26,
	  "2001:db8:3:0:ffff:ffff:ffff:fff0-2001:db8:3:1::10" },
	{ "2001:db8:3:1::10", 26,
	  "2001:db8:3:0:ffff:ffff:ffff:fff0-2001:db8:3:1::10" },
	{ "2001:db8:3:1::11", 21, "2001:db8::/32" },
	{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 21, "2001:db8::/32" },
	{ "2001:db9::", 20, "::/0" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 20, "::/0" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 25,
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
};

/* Looks addr up through both entry points and checks they agree. */
static bool
lookup_text(const struct cidr *c, const char *addr, struct cidr_match *m)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct cidr_match m2;
	bool hit, hit2;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		hit = cidr_lookup(c, (struct sockaddr *)&sin, m);
		hit2 = cidr_lookup_addr(c, AF_INET,
		    (uint8_t *)&sin.sin_addr, &m2);
	} else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
		hit = cidr_lookup(c, (struct sockaddr *)&sin6, m);
		hit2 = cidr_lookup_addr(c, AF_INET6, sin6.sin6_addr.s6_addr,
		    &m2);
	} else {
		fprintf(stderr, "bad test address %s\n", addr);
		abort();
	}
	CHECK(hit == hit2 &&
	    (!hit || m == NULL || memcmp(m, &m2, sizeof(m2)) == 0),
	    "%s: cidr_lookup and cidr_lookup_addr differ", addr);
	return hit;
}

static void
test_matches(void)
{
	struct cidr *c = cidr_new();
	struct cidr_match m;
	char rule[CIDR_RANGESTRLEN];
	size_t i;
	bool hit;

	for (i = 0; i < N(listed); i++)
		add(c, listed[i].text, listed[i].value, NULL);
	CHECK(!lookup_text(c, "10.1.2.3", &m), "unfrozen matches nothing");
	CHECK(cidr_count(c) == N(listed), "count %zu", cidr_count(c));
	CHECK(cidr_freeze(c) == 0, "freeze");
	CHECK(cidr_freeze(c) == 0, "freeze twice");
	CHECK(cidr_count(c) == N(listed), "count %zu", cidr_count(c));
	for (i = 0; i < N(match_cases); i++) {
		const struct match_case *mc = &match_cases[i];

		memset(&m, 0xa5, sizeof(m));
		hit = lookup_text(c, mc->addr, &m);
		CHECK(hit == (mc->value != 0), "%s: hit %d", mc->addr, hit);
		if (!hit || mc->value == 0)
			continue;
		CHECK(m.value == mc->value, "%s: value %u, want %u",
		    mc->addr, m.value, mc->value);
		CHECK(cidr_format_range(&m, rule, sizeof(rule)) > 0,
		    "%s: format", mc->addr);
		CHECK_STR(rule, mc->rule, "%s: rule", mc->addr);
	}
	CHECK(lookup_text(c, "10.1.2.3", NULL), "NULL match");
	cidr_free(c);
}

/* /0 in both families, as a prefix and as the A-B range it is. */
static void
test_whole_space(void)
{
	static const struct match_case cases[] = {
		{ "0.0.0.0", 1, "0.0.0.0/0" },
		{ "127.0.0.1", 1, "0.0.0.0/0" },
		{ "255.255.255.254", 1, "0.0.0.0/0" },
		{ "255.255.255.255", 4, "255.255.255.255" },
		{ "::", 23, "::/0" },
		{ "::ffff:1.2.3.4", 1, "0.0.0.0/0" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 23, "::/0" },
	};
	struct cidr *c = cidr_new();
	struct cidr_match m;
	char rule[CIDR_RANGESTRLEN];
	size_t i;

	add(c, "0.0.0.0/0", 1, NULL);
	add(c, "::/0", 2, NULL);
	add(c, "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 3, merge_min);
	add(c, "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 3,
	    merge_concat);
	add(c, "255.255.255.255", 4, NULL);
	CHECK(cidr_freeze(c) == 0, "freeze");
	CHECK(cidr_count(c) == 3, "count %zu", cidr_count(c));
	for (i = 0; i < N(cases); i++) {
		CHECK(lookup_text(c, cases[i].addr, &m) &&
		    m.value == cases[i].value, "%s: value %u", cases[i].addr,
		    m.value);
		cidr_format_range(&m, rule, sizeof(rule));
		CHECK_STR(rule, cases[i].rule, "%s", cases[i].addr);
	}
	cidr_free(c);
}

struct walked {
	char text[1024];
	size_t len;
};

static void
on_walk(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    uint32_t value)
{
	struct walked *w = arg;
	struct cidr_match m = { .value = value, .family = family };
	char rule[CIDR_RANGESTRLEN];

	memcpy(m.lo, lo, 16);
	memcpy(m.hi, hi, 16);
	cidr_format_range(&m, rule, sizeof(rule));
	w->len += (size_t)snprintf(w->text + w->len,
	    sizeof(w->text) - w->len, "%s %u\n", rule, value);
}

/* The same range listed again, in any spelling, goes through merge in
 * the order it was added; cidr_walk() shows the merged entries. */
static void
test_duplicates(void)
{
	struct cidr *c = cidr_new();
	struct cidr_match m;
	struct walked w = { .len = 0 };

	add(c, "192.0.2.0/24", 1, NULL);
	add(c, "2001:db8::/64", 7, NULL);
	add(c, "192.0.2.0-192.0.2.255", 2, merge_concat);
	add(c, "192.0.2.0/24", 3, NULL);
	add(c, "::ffff:192.0.2.0/120", 4, merge_concat);
	add(c, "2001:db8::-2001:db8::ffff:ffff:ffff:ffff", 8, merge_min);
	add(c, "192.0.2.7", 9, NULL);
	add(c, "10.0.0.0/8", 6, NULL);
	CHECK(cidr_count(c) == 8, "count before freeze %zu", cidr_count(c));
	CHECK(cidr_freeze(c) == 0, "freeze");
	CHECK(cidr_count(c) == 4, "count after freeze %zu", cidr_count(c));
	CHECK(lookup_text(c, "192.0.2.1", &m) && m.value == 124,
	    "merged value %u", m.value);
	CHECK(lookup_text(c, "2001:db8::1", &m) && m.value == 7,
	    "merged v6 value %u", m.value);
	cidr_walk(c, on_walk, &w);
	CHECK_STR(w.text, "10.0.0.0/8 6\n192.0.2.0/24 124\n192.0.2.7 9\n"
	    "2001:db8::/64 7\n", "walk");
	cidr_free(c);
}

static const struct {
	const char *text;
	const char *why;	/* NULL: parses, and formats as canon */
	const char *canon;
} parse_cases[] = {
	{ "10.0.0.0/8", NULL, "10.0.0.0/8" },
	{ "10.0.0.0/08", NULL, "10.0.0.0/8" },
	{ "192.0.2.7/32", NULL, "192.0.2.7" },
	{ "192.0.2.7", NULL, "192.0.2.7" },
	{ "192.0.2.0-192.0.2.255", NULL, "192.0.2.0/24" },
	{ "192.0.2.1-192.0.2.9", NULL, "192.0.2.1-192.0.2.9" },
	{ "192.0.2.1\t-  192.0.2.9", NULL, "192.0.2.1-192.0.2.9" },
	{ "192.0.2.9-192.0.2.9", NULL, "192.0.2.9" },
	{ "0.0.0.0/0", NULL, "0.0.0.0/0" },
	{ "0.0.0.0-255.255.255.255", NULL, "0.0.0.0/0" },
	{ "2001:DB8::/32", NULL, "2001:db8::/32" },
	{ "2001:db8::1/128", NULL, "2001:db8::1" },
	{ "2001:db8::1-2001:db8::2", NULL, "2001:db8::1-2001:db8::2" },
	{ "2001:db8::-2001:db8::1", NULL, "2001:db8::/127" },
	{ "::/0", NULL, "::/0" },
	{ "::ffff:192.0.2.0/120", NULL, "192.0.2.0/24" },
	{ "10.0.0.1/8", "has host bits set after the prefix length", NULL },
	{ "2001:db8::1/64", "has host bits set after the prefix length",
	  NULL },
	{ "10.0.0.0/33", "has a prefix length that is not 0-32", NULL },
	{ "10.0.0.0/", "has a prefix length that is not 0-32", NULL },
	{ "10.0.0.0/8/8", "has a prefix length that is not 0-32", NULL },
	{ "10.0.0.0/0008", "has a prefix length that is not 0-32", NULL },
	{ "10.0.0.0/ 8", "has a prefix length that is not 0-32", NULL },
	{ "2001:db8::/129", "has a prefix length that is not 0-128", NULL },
	{ "10.0.0.9-10.0.0.1", "has its first address above its last",
	  NULL },
	{ "2001:db8::2-2001:db8::1", "has its first address above its last",
	  NULL },
	{ "10.0.0.1-2001:db8::1", "mixes IPv4 and IPv6", NULL },
	{ "", "is not an IP address, prefix or A-B range", NULL },
	{ "10.0.0", "is not an IP address, prefix or A-B range", NULL },
	{ "999.0.0.1", "is not an IP address, prefix or A-B range", NULL },
	{ "010.0.0.1", "is not an IP address, prefix or A-B range", NULL },
	{ "fe80::1%eth0", "is not an IP address, prefix or A-B range",
	  NULL },
	{ "10.0.0.0/8 x", "has a prefix length that is not 0-32", NULL },
	{ "10.0.0.1 ", "is not an IP address, prefix or A-B range", NULL },
	{ "10.0.0.1-", "is not an IP address, prefix or A-B range", NULL },
	{ "-10.0.0.1", "is not an IP address, prefix or A-B range", NULL },
	{ "10.0.0.1-10.0.0.2-10.0.0.3",
	  "is not an IP address, prefix or A-B range", NULL },
	{ "10.0.0.0/8-10.0.0.9", "is not an IP address, prefix or A-B range",
	  NULL },
	{ "example.com", "is not an IP address, prefix or A-B range", NULL },
	{ "1111111111111111111111111111111111111111111111111111111111111111"
	  "11111111", "is not an IP address, prefix or A-B range", NULL },
};

/* Parse, add, look up the first address, format, parse the text again. */
static void
test_parse_and_format(void)
{
	uint8_t lo[16], hi[16], lo2[16], hi2[16];
	char text[CIDR_RANGESTRLEN];
	const char *why;
	struct cidr_match m;
	struct cidr *c;
	int family, family2, rc;
	size_t i, n;

	for (i = 0; i < N(parse_cases); i++) {
		const char *t = parse_cases[i].text;

		why = NULL;
		rc = cidr_parse_range(t, &family, lo, hi, &why);
		if (parse_cases[i].why != NULL) {
			CHECK(rc == -1, "\"%s\": parsed", t);
			CHECK_STR(why, parse_cases[i].why, "\"%s\"", t);
			continue;
		}
		CHECK(rc == 0, "\"%s\": %s", t, why);
		c = cidr_new();
		CHECK(cidr_add(c, family, lo, hi, 1, NULL) == 0, "\"%s\"", t);
		CHECK(cidr_freeze(c) == 0, "\"%s\": freeze", t);
		CHECK(cidr_lookup_addr(c, family, lo, &m), "\"%s\": lo", t);
		CHECK(cidr_lookup_addr(c, family, hi, &m), "\"%s\": hi", t);
		n = cidr_format_range(&m, text, sizeof(text));
		CHECK(n == strlen(text), "\"%s\": length %zu", t, n);
		CHECK_STR(text, parse_cases[i].canon, "\"%s\"", t);
		CHECK(cidr_parse_range(text, &family2, lo2, hi2, &why) == 0 &&
		    family2 == m.family &&
		    memcmp(lo2, m.lo, sizeof(m.lo)) == 0 &&
		    memcmp(hi2, m.hi, sizeof(m.hi)) == 0,
		    "\"%s\": %s does not read back", t, text);
		CHECK(cidr_format_range(&m, text, n) == 0, "\"%s\": cut", t);
		CHECK(cidr_format_range(&m, text, n + 1) == n, "\"%s\": fits",
		    t);
		cidr_free(c);
	}
}

/* Misuse is refused, not undefined. */
static void
test_errors(void)
{
	static const uint8_t a[16] = { 10, 0, 0, 2 }, b[16] = { 10, 0, 0, 1 };
	struct cidr *c = cidr_new();
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct cidr_match m = { .family = AF_UNIX };
	char text[CIDR_RANGESTRLEN];
	const char *why;

	errno = 0;
	CHECK(cidr_add(c, AF_INET, a, b, 1, NULL) == -1 && errno == EINVAL,
	    "lo above hi");
	CHECK(cidr_add(c, AF_UNIX, b, a, 1, NULL) == -1 && errno == EINVAL,
	    "bad family");
	CHECK(cidr_add(c, AF_INET, b, a, 1, NULL) == 0, "good add");
	CHECK(cidr_freeze(c) == 0, "freeze");
	CHECK(cidr_add(c, AF_INET, b, a, 1, NULL) == -1 && errno == EINVAL,
	    "add after freeze");
	CHECK(cidr_add_text(c, "10.0.0.0/8", 1, NULL, &why) == -1,
	    "add text after freeze");
	CHECK(cidr_count(c) == 1, "count %zu", cidr_count(c));
	CHECK(!cidr_lookup(c, &sa, &m), "AF_UNIX lookup");
	CHECK(!cidr_lookup_addr(c, AF_UNIX, a, &m), "AF_UNIX lookup_addr");
	CHECK(cidr_format_range(&m, text, sizeof(text)) == 0, "format");
	cidr_free(c);
	cidr_free(NULL);

	c = cidr_new();
	CHECK(cidr_freeze(c) == 0, "freeze empty");
	CHECK(cidr_count(c) == 0 && !cidr_lookup_addr(c, AF_INET, a, NULL),
	    "empty matcher");
	cidr_free(c);
}

/* xorshift64*: fixed seeds, so a failure repeats. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/*
 * 200,000 random IPv4 prefixes against a reference that tries each
 * prefix length, longest first, by binary search in a sorted table of
 * that length's networks.  A linear scan of 200,000 entries for each of
 * 100,000 addresses would take minutes under ASan.
 */
#define NPREFIX 200000
#define NADDR 100000

struct ref4 {
	uint32_t net;
	uint32_t value;
};

static int
cmp_ref4(const void *a, const void *b)
{
	const struct ref4 *x = a, *y = b;

	if (x->net != y->net)
		return x->net < y->net ? -1 : 1;
	return x->value < y->value ? -1 : x->value > y->value;
}

static uint32_t
mask(unsigned len)
{
	return len == 0 ? 0 : UINT32_MAX << (32 - len);
}

struct reftable {
	struct ref4 *by_len[33];
	size_t n[33];
	size_t distinct;
};

static bool
ref_lookup(const struct reftable *rt, uint32_t a, unsigned *len,
    uint32_t *value)
{
	size_t lo, hi, mid;
	int l;

	for (l = 32; l >= 0; l--) {
		const struct ref4 *r = rt->by_len[l];
		uint32_t net = a & mask((unsigned)l);

		for (lo = 0, hi = rt->n[l]; lo < hi; ) {
			mid = (lo + hi) / 2;
			if (r[mid].net < net)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < rt->n[l] && r[lo].net == net) {
			*len = (unsigned)l;
			*value = r[lo].value;
			return true;
		}
	}
	return false;
}

static void
put4(uint8_t *p, uint32_t a)
{
	p[0] = (uint8_t)(a >> 24);
	p[1] = (uint8_t)(a >> 16);
	p[2] = (uint8_t)(a >> 8);
	p[3] = (uint8_t)a;
}

static void
check_random_addr(const struct cidr *c, const struct reftable *rt,
    uint32_t a)
{
	struct cidr_match m;
	uint8_t addr[4];
	uint32_t value = 0, lo, hi;
	unsigned len = 0;
	bool hit;

	put4(addr, a);
	hit = cidr_lookup_addr(c, AF_INET, addr, &m);
	if (hit != ref_lookup(rt, a, &len, &value)) {
		CHECK(0, "%08x: hit %d", a, hit);
		return;
	}
	if (!hit)
		return;
	lo = (uint32_t)m.lo[0] << 24 | m.lo[1] << 16 | m.lo[2] << 8 | m.lo[3];
	hi = (uint32_t)m.hi[0] << 24 | m.hi[1] << 16 | m.hi[2] << 8 | m.hi[3];
	if (m.value != value || lo != (a & mask(len)) ||
	    hi != (lo | ~mask(len)))
		CHECK(0, "%08x: value %u lo %08x hi %08x, want %u /%u", a,
		    m.value, lo, hi, value, len);
}

static void
test_random_prefixes(void)
{
	struct reftable rt = { .distinct = 0 };
	struct ref4 *all = malloc(NPREFIX * sizeof(*all));
	uint8_t *lens = malloc(NPREFIX);
	struct cidr *c = cidr_new();
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	uint8_t lo[4], hi[4];
	uint32_t net, a;
	size_t i, j, at = 0;
	unsigned l;

	for (i = 0; i < NPREFIX; i++) {
		/* Mostly /16-/24, some short ones to nest deeply. */
		l = i % 10 == 0 ? 1 + rnd(&seed) % 32 :
		    16 + rnd(&seed) % 9;
		net = (uint32_t)rnd(&seed) & mask(l);
		lens[i] = (uint8_t)l;
		all[i].net = net;
		all[i].value = (uint32_t)(rnd(&seed) % 1000);
		a = net | ~mask(l);
		put4(lo, net);
		put4(hi, a);
		if (cidr_add(c, AF_INET, lo, hi, all[i].value, merge_min) != 0)
			CHECK(0, "add %zu", i);
	}
	CHECK(cidr_freeze(c) == 0, "freeze");
	/* The reference: per length, sorted, duplicates keep the least. */
	for (l = 0; l <= 32; l++) {
		rt.by_len[l] = malloc(NPREFIX * sizeof(struct ref4));
		for (i = 0; i < NPREFIX; i++)
			if (lens[i] == l)
				rt.by_len[l][rt.n[l]++] = all[i];
		qsort(rt.by_len[l], rt.n[l], sizeof(struct ref4), cmp_ref4);
		for (i = j = 0; i < rt.n[l]; i++)
			if (j == 0 || rt.by_len[l][j - 1].net !=
			    rt.by_len[l][i].net)
				rt.by_len[l][j++] = rt.by_len[l][i];
		rt.n[l] = j;
		rt.distinct += j;
	}
	CHECK(cidr_count(c) == rt.distinct, "count %zu, want %zu",
	    cidr_count(c), rt.distinct);
	for (i = 0; i < NADDR; i++) {
		/* Half anywhere, half on or next to a listed edge. */
		if (i % 2 == 0) {
			check_random_addr(c, &rt, (uint32_t)rnd(&seed));
			continue;
		}
		j = rnd(&seed) % NPREFIX;
		net = all[j].net;
		a = net | ~mask(lens[j]);
		switch (at++ % 5) {
		case 0: break;
		case 1: a = net; break;
		case 2: a = net - 1; break;
		case 3: a = a + 1; break;
		default: a = net + (uint32_t)(rnd(&seed) % ((uint64_t)a -
		    net + 1)); break;
		}
		check_random_addr(c, &rt, a);
	}
	printf("%zu random prefixes: %zu distinct, %zu bytes, %.1f per "
	    "entry\n", (size_t)NPREFIX, cidr_count(c), cidr_memory(c),
	    (double)cidr_memory(c) / (double)cidr_count(c));
	for (l = 0; l <= 32; l++)
		free(rt.by_len[l]);
	free(all);
	free(lens);
	cidr_free(c);
}

/*
 * Random overlapping A-B ranges in a small window, checked against a
 * linear scan of every entry.  Addresses are offsets from a base; the
 * IPv6 window straddles the boundary of the two 64-bit halves.
 */
#define NRANGE 2000
#define NPROBE 20000
#define WINDOW 65536

struct ref {
	uint64_t lo, hi;	/* offsets from the base */
	uint32_t value;
};

/* base + off, off read as a signed 64-bit number. */
static void
at_offset(const uint8_t *base, int len, uint64_t off, uint8_t *out)
{
	unsigned carry = 0, byte;
	int i, k;

	memcpy(out, base, 16);
	for (i = len - 1, k = 0; i >= 0; i--, k++) {
		if (k < 8)
			byte = (unsigned)(off >> (8 * k)) & 0xff;
		else
			byte = off >> 63 ? 0xff : 0;
		carry += out[i] + byte;
		out[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

static const struct ref *
scan(const struct ref *r, size_t n, uint64_t a)
{
	const struct ref *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (a < r[i].lo || a > r[i].hi)
			continue;
		if (best == NULL || r[i].hi - r[i].lo < best->hi - best->lo ||
		    (r[i].hi - r[i].lo == best->hi - best->lo &&
		    r[i].lo < best->lo))
			best = &r[i];
	}
	return best;
}

static void
random_ranges(int family, const uint8_t *base, uint64_t seed)
{
	static const uint64_t scales[] = { 1, 16, 256, 4096, WINDOW };
	int len = family == AF_INET ? 4 : 16;
	struct ref *r = malloc(NRANGE * sizeof(*r));
	struct cidr *c = cidr_new();
	const struct ref *want;
	struct cidr_match m;
	uint8_t lo[16], hi[16], addr[16];
	size_t i, j, n = 0;
	uint64_t a;
	bool hit;

	for (i = 0; i < NRANGE; i++) {
		if (i % 20 == 19) {
			/* The same range again: merge keeps the least. */
			j = rnd(&seed) % n;
			a = rnd(&seed) % 1000;
			if (a < r[j].value)
				r[j].value = (uint32_t)a;
			at_offset(base, len, r[j].lo, lo);
			at_offset(base, len, r[j].hi, hi);
			CHECK(cidr_add(c, family, lo, hi, (uint32_t)a,
			    merge_min) == 0, "add again %zu", i);
			continue;
		}
		r[n].lo = rnd(&seed) % WINDOW;
		r[n].hi = r[n].lo + rnd(&seed) % scales[rnd(&seed) % 5];
		if (r[n].hi >= WINDOW)
			r[n].hi = WINDOW - 1;
		for (j = 0; j < n; j++)
			if (r[j].lo == r[n].lo && r[j].hi == r[n].hi)
				break;
		if (j < n)
			continue;
		r[n].value = (uint32_t)(rnd(&seed) % 1000);
		at_offset(base, len, r[n].lo, lo);
		at_offset(base, len, r[n].hi, hi);
		CHECK(cidr_add(c, family, lo, hi, r[n].value, merge_min) == 0,
		    "add %zu", i);
		n++;
	}
	CHECK(cidr_freeze(c) == 0, "freeze");
	CHECK(cidr_count(c) == n, "count %zu, want %zu", cidr_count(c), n);
	for (i = 0; i < NPROBE; i++) {
		/* A little outside the window on both sides too. */
		a = rnd(&seed) % (WINDOW + 64);
		if (a >= WINDOW + 32)
			a = (uint64_t)0 - (a - WINDOW - 31);
		at_offset(base, len, a, addr);
		want = a < WINDOW ? scan(r, n, a) : NULL;
		hit = cidr_lookup_addr(c, family, addr, &m);
		if (hit != (want != NULL)) {
			CHECK(0, "family %d offset %lld: hit %d", family,
			    (long long)a, hit);
			continue;
		}
		if (!hit)
			continue;
		at_offset(base, len, want->lo, lo);
		at_offset(base, len, want->hi, hi);
		CHECK(m.value == want->value && memcmp(m.lo, lo, len) == 0 &&
		    memcmp(m.hi, hi, len) == 0, "family %d offset %llu: "
		    "value %u, want %u (%llu-%llu)", family,
		    (unsigned long long)a, m.value, want->value,
		    (unsigned long long)want->lo,
		    (unsigned long long)want->hi);
	}
	free(r);
	cidr_free(c);
}

static void
test_random_ranges(void)
{
	static const uint8_t base4[16] = { 10, 20, 0, 0 };
	static const uint8_t base6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0 };

	random_ranges(AF_INET, base4, 1);
	random_ranges(AF_INET6, base6, 2);
}

int
main(void)
{
	test_matches();
	test_whole_space();
	test_duplicates();
	test_parse_and_format();
	test_errors();
	test_random_prefixes();
	test_random_ranges();
	return unit_exit();
}
