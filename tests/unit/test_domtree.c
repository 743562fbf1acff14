/*
 * test_domtree: exact and suffix matches, most specific wins, label
 * boundaries, the root, merge on duplicates, growth to 200,000 names and
 * domtree_walk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "domtree.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Wire form of text via dname_from_text (aborts on a bad name: the test
 * tables are ours). */
static size_t
wire(const char *text, uint8_t *out)
{
	const char *why = NULL;
	size_t n = dname_from_text(text, strlen(text), out, &why);

	if (n == 0) {
		fprintf(stderr, "bad test name %s: %s\n", text, why);
		abort();
	}
	return n;
}

static void
add(struct domtree *t, const char *text, uint32_t value)
{
	uint8_t w[DNAME_MAXWIRE];
	size_t n = wire(text, w);

	CHECK(domtree_add(t, w, n, value, NULL) == 0, "add %s", text);
}

struct match_case {
	const char *qname;
	bool hit;
	uint32_t value;
	const char *rule;	/* text of the matching entry */
};

static const char *const listed[] = {
	"example.com",		/* 1 */
	"safe.example.com",	/* 2 */
	"bad.safe.example.com",	/* 3 */
	"org",			/* 4 */
	"a.b.c.d.e.net",	/* 5 */
	"xn--bcher-kva.example",	/* 6 */
	"co.uk",		/* 7 */
	"deep.example.co.uk",	/* 8 */
};

static const struct match_case match_cases[] = {
	{ "example.com", true, 1, "example.com" },
	{ "www.example.com", true, 1, "example.com" },
	{ "a.b.c.www.example.com", true, 1, "example.com" },
	{ "safe.example.com", true, 2, "safe.example.com" },
	{ "www.safe.example.com", true, 2, "safe.example.com" },
	{ "bad.safe.example.com", true, 3, "bad.safe.example.com" },
	{ "x.bad.safe.example.com", true, 3, "bad.safe.example.com" },
	{ "notbad.safe.example.com", true, 2, "safe.example.com" },
	{ "unsafe.example.com", true, 1, "example.com" },
	/* parents of a listed name and look-alikes do not match */
	{ "com", false, 0, NULL },
	{ "xample.com", false, 0, NULL },
	{ "bexample.com", false, 0, NULL },
	{ "example.com.au", false, 0, NULL },
	{ "example.net", false, 0, NULL },
	{ "b.c.d.e.net", false, 0, NULL },
	{ "e.net", false, 0, NULL },
	{ "net", false, 0, NULL },
	{ "a.b.c.d.e.net", true, 5, "a.b.c.d.e.net" },
	{ "z.a.b.c.d.e.net", true, 5, "a.b.c.d.e.net" },
	/* a TLD */
	{ "org", true, 4, "org" },
	{ "example.org", true, 4, "org" },
	{ "orgx", false, 0, NULL },
	{ "xn--bcher-kva.example", true, 6, "xn--bcher-kva.example" },
	{ "www.xn--bcher-kva.example", true, 6, "xn--bcher-kva.example" },
	{ "example", false, 0, NULL },
	{ "co.uk", true, 7, "co.uk" },
	{ "example.co.uk", true, 7, "co.uk" },
	{ "www.deep.example.co.uk", true, 8, "deep.example.co.uk" },
	{ "uk", false, 0, NULL },
};

static void
test_match(void)
{
	struct domtree *t = domtree_new();
	size_t i;

	CHECK(t != NULL, "domtree_new");
	for (i = 0; i < N(listed); i++)
		add(t, listed[i], (uint32_t)i + 1);
	CHECK(domtree_count(t) == N(listed), "count %zu",
	    domtree_count(t));

	for (i = 0; i < N(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		uint8_t q[DNAME_MAXWIRE], r[DNAME_MAXWIRE];
		size_t qlen = wire(c->qname, q), off = 9999;
		uint32_t v = 0xdeadbeef;
		bool hit = domtree_match(t, q, &v, &off);

		CHECK(hit == c->hit, "match %s: hit %d", c->qname, hit);
		if (!hit || !c->hit)
			continue;
		CHECK(v == c->value, "match %s: value %u, want %u", c->qname,
		    v, c->value);
		{
			size_t rlen = wire(c->rule, r);

			CHECK(off + rlen == qlen && memcmp(q + off, r, rlen) ==
			    0, "match %s: suffix_off %zu, want %zu",
			    c->qname, off, qlen - rlen);
		}
	}
	domtree_free(t);
}

/* The root label: never matches when not listed; when listed it covers
 * every name (its suffix starts at the final zero octet). */
static void
test_root(void)
{
	struct domtree *t = domtree_new();
	static const uint8_t root[1] = { 0 };
	uint8_t q[DNAME_MAXWIRE];
	size_t qlen, off = 9999;
	uint32_t v = 0;

	add(t, "example.com", 1);
	CHECK(!domtree_match(t, root, &v, &off), "root matched unlisted");
	qlen = wire("other.net", q);
	CHECK(!domtree_match(t, q, &v, &off), "other.net matched");

	CHECK(domtree_add(t, root, 1, 7, NULL) == 0, "add root");
	CHECK(domtree_count(t) == 2, "count with root");
	off = 9999;
	v = 0;
	CHECK(domtree_match(t, q, &v, &off) && v == 7 && off == qlen - 1,
	    "other.net under listed root: value %u off %zu (want 7, %zu)",
	    v, off, qlen - 1);
	off = 9999;
	v = 0;
	CHECK(domtree_match(t, root, &v, &off) && v == 7 && off == 0,
	    "root itself listed: value %u off %zu (want 7, 0)", v, off);
	/* a more specific entry still wins over the root */
	qlen = wire("www.example.com", q);
	CHECK(domtree_match(t, q, &v, &off) && v == 1 && off == 4,
	    "www.example.com with root listed: value %u off %zu", v, off);
	domtree_free(t);
}

static uint32_t
merge_max(uint32_t old, uint32_t add_)
{
	return old > add_ ? old : add_;
}

static uint32_t
merge_new(uint32_t old, uint32_t add_)
{
	return add_;
}

static uint32_t
merge_or(uint32_t old, uint32_t add_)
{
	return old | add_;
}

static unsigned merge_calls;
static uint32_t merge_seen_old, merge_seen_add;

static uint32_t
merge_spy(uint32_t old, uint32_t add_)
{
	merge_calls++;
	merge_seen_old = old;
	merge_seen_add = add_;
	return 42;
}

struct merge_case {
	const char *label;
	uint32_t (*merge)(uint32_t, uint32_t);
	uint32_t first, second, want;
};

static const struct merge_case merge_cases[] = {
	{ "NULL keeps old", NULL, 5, 9, 5 },
	{ "NULL keeps old (smaller new)", NULL, 9, 5, 9 },
	{ "max", merge_max, 5, 9, 9 },
	{ "max keeps", merge_max, 9, 5, 9 },
	{ "new", merge_new, 5, 9, 9 },
	{ "or", merge_or, 0x10, 0x01, 0x11 },
};

static void
test_merge(void)
{
	size_t i;
	uint8_t w[DNAME_MAXWIRE], q[DNAME_MAXWIRE];
	size_t n = wire("dup.example", w), off;
	uint32_t v;

	wire("x.dup.example", q);
	for (i = 0; i < N(merge_cases); i++) {
		const struct merge_case *c = &merge_cases[i];
		struct domtree *t = domtree_new();

		CHECK(domtree_add(t, w, n, c->first, c->merge) == 0, "%s add1",
		    c->label);
		CHECK(domtree_add(t, w, n, c->second, c->merge) == 0,
		    "%s add2", c->label);
		CHECK(domtree_count(t) == 1, "%s: count %zu", c->label,
		    domtree_count(t));
		v = 0;
		CHECK(domtree_match(t, q, &v, &off) && v == c->want,
		    "%s: value %u, want %u", c->label, v, c->want);
		domtree_free(t);
	}

	/* merge is called only for duplicates, with (old, new) */
	{
		struct domtree *t = domtree_new();
		uint8_t w2[DNAME_MAXWIRE];
		size_t n2 = wire("other.example", w2);

		merge_calls = 0;
		CHECK(domtree_add(t, w, n, 3, merge_spy) == 0, "spy add1");
		CHECK(domtree_add(t, w2, n2, 4, merge_spy) == 0, "spy add2");
		CHECK(merge_calls == 0, "merge called for new names: %u",
		    merge_calls);
		CHECK(domtree_add(t, w, n, 8, merge_spy) == 0, "spy add3");
		CHECK(merge_calls == 1, "merge calls %u", merge_calls);
		CHECK(merge_seen_old == 3 && merge_seen_add == 8,
		    "merge got (%u, %u), want (3, 8)", merge_seen_old,
		    merge_seen_add);
		CHECK(domtree_match(t, w, &v, &off) && v == 42 && off == 0,
		    "merged value %u", v);
		CHECK(domtree_add(t, w, n, 9, merge_spy) == 0, "spy add4");
		CHECK(merge_seen_old == 42 && merge_seen_add == 9,
		    "second merge got (%u, %u), want (42, 9)",
		    merge_seen_old, merge_seen_add);
		CHECK(domtree_count(t) == 2, "spy count %zu",
		    domtree_count(t));
		domtree_free(t);
	}
}

#define BIG 200000

/* Name i of the big tree: "n<i>.h<i%97>.bulk<i%5>.test". */
static size_t
big_name(size_t i, uint8_t *w)
{
	char text[64];

	snprintf(text, sizeof(text), "n%zu.h%zu.bulk%zu.test", i, i % 97,
	    i % 5);
	return wire(text, w);
}

struct walk_state {
	unsigned char *seen;
	size_t calls, bad;
};

static void
walk_fn(void *arg, const uint8_t *name, size_t len, uint32_t value)
{
	struct walk_state *ws = arg;
	uint8_t w[DNAME_MAXWIRE];
	size_t n;

	ws->calls++;
	if (value >= BIG) {
		ws->bad++;
		return;
	}
	n = big_name(value, w);
	if (n != len || memcmp(w, name, n) != 0)
		ws->bad++;
	ws->seen[value]++;
}

static void
test_big(void)
{
	struct domtree *t = domtree_new();
	struct walk_state ws = { 0 };
	uint8_t w[DNAME_MAXWIRE], q[DNAME_MAXWIRE + 8];
	size_t i, n, off, once = 0, errors = 0;
	uint32_t v;

	for (i = 0; i < BIG; i++) {
		n = big_name(i, w);
		if (domtree_add(t, w, n, (uint32_t)i, NULL) != 0)
			errors++;
	}
	CHECK(errors == 0, "big: %zu adds failed", errors);
	CHECK(domtree_count(t) == BIG, "big: count %zu", domtree_count(t));
	CHECK(domtree_memory(t) > BIG * 10, "big: memory %zu",
	    domtree_memory(t));

	/* re-adding changes nothing */
	for (i = 0; i < BIG; i += 1000) {
		n = big_name(i, w);
		domtree_add(t, w, n, 0xffffffffU, NULL);
	}
	CHECK(domtree_count(t) == BIG, "big: count after dups %zu",
	    domtree_count(t));

	/* spot checks: every 997th name, exact and one label below */
	errors = 0;
	for (i = 0; i < BIG; i += 997) {
		n = big_name(i, w);
		if (!domtree_match(t, w, &v, &off) || v != i || off != 0) {
			if (errors++ < 5)
				CHECK(0, "big: exact n%zu: v %u off %zu", i,
				    v, off);
		}
		q[0] = 3;
		memcpy(q + 1, "www", 3);
		memcpy(q + 4, w, n);
		if (!domtree_match(t, q, &v, &off) || v != i || off != 4) {
			if (errors++ < 5)
				CHECK(0, "big: below n%zu: v %u off %zu", i,
				    v, off);
		}
	}
	CHECK(errors == 0, "big: %zu spot checks failed", errors);

	/* names not listed: parents and out-of-range numbers */
	{
		static const char *const misses[] = {
			"h1.bulk1.test", "bulk0.test", "test",
			"n200000.h0.bulk0.test", "n1.h2.bulk1.test",
			"n0.h0.bulk1.test",
		};

		for (i = 0; i < N(misses); i++) {
			wire(misses[i], q);
			CHECK(!domtree_match(t, q, &v, &off),
			    "big: %s matched (value %u)", misses[i], v);
		}
	}

	ws.seen = calloc(BIG, 1);
	domtree_walk(t, walk_fn, &ws);
	CHECK(ws.calls == BIG, "walk: %zu calls", ws.calls);
	CHECK(ws.bad == 0, "walk: %zu wrong names or values", ws.bad);
	for (i = 0; i < BIG; i++)
		once += ws.seen[i] == 1;
	CHECK(once == BIG, "walk: %zu names seen exactly once", once);
	free(ws.seen);
	domtree_free(t);
}

static void
count_fn(void *arg, const uint8_t *name, size_t len, uint32_t value)
{
	(*(size_t *)arg)++;
}

static void
test_empty(void)
{
	struct domtree *t = domtree_new();
	uint8_t q[DNAME_MAXWIRE];
	size_t calls = 0, off;
	uint32_t v;

	wire("example.com", q);
	CHECK(domtree_count(t) == 0, "empty count");
	CHECK(!domtree_match(t, q, &v, &off), "empty match");
	domtree_walk(t, count_fn, &calls);
	CHECK(calls == 0, "empty walk %zu", calls);
	domtree_free(t);
}

int
main(void)
{
	test_empty();
	test_match();
	test_root();
	test_merge();
	test_big();
	return unit_exit();
}
