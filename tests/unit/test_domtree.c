/*
 * test_domtree: exact and suffix matches, most specific wins, label
 * boundaries, the root, merge on duplicates, the value limit, growth to
 * 200,000 names, domtree_walk, and the serialised form (domtree_view on
 * good, cut and corrupted blobs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dname.h"
#include "policy/domtree.h"
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

/* The root label: never matches, and cannot be added. */
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

	/* The root cannot be listed: it would cover every name, and no
	 * list format produces it (dname_from_text() rejects it). */
	CHECK(domtree_add(t, root, 1, 7, NULL) == -1, "add root refused");
	CHECK(domtree_count(t) == 1, "count after refused root");
	CHECK(!domtree_match(t, q, &v, &off), "other.net matched");
	qlen = wire("www.example.com", q);
	CHECK(domtree_match(t, q, &v, &off) && v == 1 && off == 4,
	    "www.example.com: value %u off %zu", v, off);
	(void)qlen;
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

/* The index of a big-tree name, read back from its first label. */
static size_t
big_index(const uint8_t *name, size_t len)
{
	size_t i = 0, k;

	if (len < 3 || name[1] != 'n')
		return SIZE_MAX;
	for (k = 2; k < 1 + (size_t)name[0]; k++)
		i = i * 10 + (size_t)(name[k] - '0');
	return i;
}

static void
walk_fn(void *arg, const uint8_t *name, size_t len, uint32_t value)
{
	struct walk_state *ws = arg;
	uint8_t w[DNAME_MAXWIRE];
	size_t n, i = big_index(name, len);

	ws->calls++;
	if (i >= BIG) {
		ws->bad++;
		return;
	}
	n = big_name(i, w);
	if (n != len || memcmp(w, name, n) != 0 || value != (i & 0xffff))
		ws->bad++;
	ws->seen[i]++;
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
		if (domtree_add(t, w, n, (uint32_t)(i & 0xffff), NULL) != 0)
			errors++;
	}
	CHECK(errors == 0, "big: %zu adds failed", errors);
	CHECK(domtree_count(t) == BIG, "big: count %zu", domtree_count(t));
	CHECK(domtree_memory(t) > BIG * 10, "big: memory %zu",
	    domtree_memory(t));

	/* re-adding changes nothing */
	for (i = 0; i < BIG; i += 1000) {
		n = big_name(i, w);
		domtree_add(t, w, n, DOMTREE_MAX_VALUE, NULL);
	}
	CHECK(domtree_count(t) == BIG, "big: count after dups %zu",
	    domtree_count(t));

	/* spot checks: every 997th name, exact and one label below */
	errors = 0;
	for (i = 0; i < BIG; i += 997) {
		n = big_name(i, w);
		if (!domtree_match(t, w, &v, &off) || v != (i & 0xffff) ||
		    off != 0) {
			if (errors++ < 5)
				CHECK(0, "big: exact n%zu: v %u off %zu", i,
				    v, off);
		}
		q[0] = 3;
		memcpy(q + 1, "www", 3);
		memcpy(q + 4, w, n);
		if (!domtree_match(t, q, &v, &off) || v != (i & 0xffff) ||
		    off != 4) {
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

/* Values up to DOMTREE_MAX_VALUE are kept; larger ones are refused and
 * add nothing. */
static void
test_value_limit(void)
{
	struct domtree *t = domtree_new();
	uint8_t w[DNAME_MAXWIRE], w2[DNAME_MAXWIRE];
	size_t n = wire("max.example", w), n2 = wire("over.example", w2), off;
	uint32_t v = 0;

	CHECK(domtree_add(t, w, n, DOMTREE_MAX_VALUE, NULL) == 0, "add max");
	CHECK(domtree_match(t, w, &v, &off) && v == DOMTREE_MAX_VALUE,
	    "max value read back as %u", v);
	CHECK(domtree_add(t, w2, n2, DOMTREE_MAX_VALUE + 1, NULL) == -1,
	    "value over the maximum accepted");
	CHECK(!domtree_match(t, w2, &v, &off), "refused name was added");
	CHECK(domtree_count(t) == 1, "count %zu", domtree_count(t));
	domtree_free(t);
}

/* A tree and its view answer alike. */
static void
compare_view(const char *label, const struct domtree *t,
    const struct domtree *view)
{
	size_t i, calls = 0;

	CHECK(domtree_count(view) == domtree_count(t), "%s: count %zu vs %zu",
	    label, domtree_count(view), domtree_count(t));
	for (i = 0; i < N(match_cases); i++) {
		uint8_t q[DNAME_MAXWIRE];
		uint32_t v1 = 0, v2 = 0;
		size_t o1 = 0, o2 = 0;
		bool h1, h2;

		wire(match_cases[i].qname, q);
		h1 = domtree_match(t, q, &v1, &o1);
		h2 = domtree_match(view, q, &v2, &o2);
		CHECK(h1 == h2 && (!h1 || (v1 == v2 && o1 == o2)),
		    "%s: %s: tree %d/%u/%zu, view %d/%u/%zu", label,
		    match_cases[i].qname, h1, v1, o1, h2, v2, o2);
	}
	domtree_walk(view, count_fn, &calls);
	CHECK(calls == domtree_count(t), "%s: walk %zu", label, calls);
}

static void
test_view(void)
{
	struct domtree *t = domtree_new(), *view;
	uint8_t *blob, *copy, w[DNAME_MAXWIRE];
	size_t size, i, cut, n, refused = 0;
	const char *why;
	uint64_t rng = 12345;

	for (i = 0; i < N(listed); i++)
		add(t, listed[i], (uint32_t)i + 1);
	for (i = 0; i < 1000; i++) {	/* enough to grow the table */
		n = big_name(i, w);
		domtree_add(t, w, n, (uint32_t)(i & 0xffff), NULL);
	}
	size = domtree_blob_size(t);
	CHECK(size % 8 == 0 && size > 0, "blob size %zu", size);
	blob = malloc(size);
	domtree_blob_write(t, blob);

	why = NULL;
	view = domtree_view(blob, size, &why);
	CHECK(view != NULL, "view of a good blob: %s", why ? why : "?");
	if (view != NULL) {
		compare_view("view", t, view);
		CHECK(domtree_add(view, w, n, 1, NULL) == -1,
		    "domtree_add on a view succeeded");
		wire("new.example", w);
		CHECK(domtree_add(view, w, dname_len(w), 1, NULL) == -1,
		    "domtree_add of a new name on a view succeeded");
		domtree_free(view);
	}

	/* an empty tree serialises too */
	{
		struct domtree *e = domtree_new(), *ev;
		size_t es = domtree_blob_size(e);
		uint8_t *eb = malloc(es);
		uint32_t v;
		size_t off;

		domtree_blob_write(e, eb);
		ev = domtree_view(eb, es, &why);
		CHECK(ev != NULL && domtree_count(ev) == 0, "empty view");
		if (ev != NULL) {
			wire("example.com", w);
			CHECK(!domtree_match(ev, w, &v, &off), "empty view hit");
			domtree_free(ev);
		}
		free(eb);
		domtree_free(e);
	}

	/* every cut is refused, in an exact-size buffer */
	for (cut = 0; cut < size; cut += cut < 64 ? 1 : 211) {
		size_t len = cut;

		copy = malloc(len ? len : 8);
		memcpy(copy, blob, len);
		why = NULL;
		view = domtree_view(copy, len, &why);
		if (view != NULL) {
			/* only the zero padding may be missing */
			CHECK(len >= size - 7, "cut to %zu of %zu accepted",
			    len, size);
			domtree_free(view);
		} else
			CHECK(why != NULL, "cut to %zu: no reason", len);
		free(copy);
	}

	/* bad magic, misaligned */
	copy = malloc(size + 8);
	memcpy(copy, blob, size);
	copy[0] ^= 0xff;
	why = NULL;
	CHECK(domtree_view(copy, size, &why) == NULL, "bad magic accepted");
	memcpy(copy + 1, blob, size);
	view = domtree_view(copy + 1, size, &why);
	CHECK(view == NULL, "misaligned blob accepted");
	domtree_free(view);
	free(copy);

	/* random corruption: refused, or a view that reads only inside the
	 * blob (ASan watches the exact-size buffer) */
	copy = malloc(size);
	for (i = 0; i < 1000; i++) {
		size_t k, flips = 1 + i % 4;

		memcpy(copy, blob, size);
		for (k = 0; k < flips; k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			/* aim at the header and slots as often as the
			 * arena */
			copy[(rng >> 16) % (i % 2 ? size : 16 + 8 * 64)] ^=
			    (uint8_t)(1u << (rng % 8));
		}
		view = domtree_view(copy, size, &why);
		if (view == NULL) {
			refused++;
			continue;
		}
		{
			size_t j, calls = 0, off;
			uint32_t v;
			uint8_t q[DNAME_MAXWIRE];

			for (j = 0; j < N(match_cases); j++) {
				wire(match_cases[j].qname, q);
				(void)domtree_match(view, q, &v, &off);
			}
			domtree_walk(view, count_fn, &calls);
			CHECK(calls == domtree_count(view),
			    "corrupt view %zu: walk %zu, count %zu", i,
			    calls, domtree_count(view));
		}
		domtree_free(view);
	}
	CHECK(refused > 0, "no corruption was refused");
	free(copy);
	free(blob);
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
	test_value_limit();
	test_view();
	return unit_exit();
}
