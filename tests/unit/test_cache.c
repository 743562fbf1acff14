/*
 * test_cache: store and lookup, the key (name, type, class, DO), expiry
 * at exactly the TTL with an injected clock, elapsed seconds, LRU
 * eviction, replacement, ttl 0, a disabled cache and cache_flush().
 * Leaks are LeakSanitizer's to find.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/cache.h"
#include "base/dname.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define T0 UINT64_C(1000000)	/* an arbitrary monotonic start */

static size_t
wire(const char *text, uint8_t *out)
{
	const char *why = NULL;
	size_t n = dname_from_text(text, strlen(text), out, &why);

	if (n == 0)
		abort();
	return n;
}

/* A message whose bytes identify it: tag in every byte. */
static void
fake_msg(uint8_t *msg, size_t len, uint8_t tag)
{
	size_t i;

	for (i = 0; i < len; i++)
		msg[i] = (uint8_t)(tag + i);
}

static int
store(struct cache *c, const char *name, uint16_t type, uint16_t class,
    bool do_bit, uint8_t tag, uint32_t ttl, uint64_t now)
{
	uint8_t q[DNAME_MAXWIRE], msg[64];
	uint16_t offs[3] = { 30, 40, (uint16_t)(tag + 1) };
	size_t n = wire(name, q);

	fake_msg(msg, sizeof(msg), tag);
	return cache_store(c, q, n, type, class, do_bit, msg, sizeof(msg),
	    offs, 3, ttl, now);
}

/* Returns the tag of the cached message, or -1 on a miss. */
static int
lookup(struct cache *c, const char *name, uint16_t type, uint16_t class,
    bool do_bit, uint64_t now, uint32_t *elapsed)
{
	uint8_t q[DNAME_MAXWIRE], want[64];
	size_t n = wire(name, q);
	struct cache_hit hit;

	memset(&hit, 0, sizeof(hit));
	if (!cache_lookup(c, q, n, type, class, do_bit, now, &hit))
		return -1;
	if (elapsed != NULL)
		*elapsed = hit.elapsed;
	CHECK(hit.len == 64, "%s: len %zu", name, hit.len);
	CHECK(hit.nttl == 3, "%s: nttl %zu", name, hit.nttl);
	if (hit.len != 64 || hit.nttl != 3)
		return -2;
	fake_msg(want, sizeof(want), hit.msg[0]);
	CHECK(memcmp(hit.msg, want, 64) == 0, "%s: message bytes", name);
	CHECK(hit.ttl_off[0] == 30 && hit.ttl_off[1] == 40 &&
	    hit.ttl_off[2] == (uint16_t)(hit.msg[0] + 1),
	    "%s: ttl_off %u %u %u", name, hit.ttl_off[0], hit.ttl_off[1],
	    hit.ttl_off[2]);
	return hit.msg[0];
}

static void
test_store_lookup(void)
{
	struct cache *c = cache_new(100);
	uint8_t q[DNAME_MAXWIRE], msg[64];
	uint16_t offs[3] = { 30, 40, 8 };
	struct cache_hit hit;
	size_t n = wire("www.example.com", q);
	uint32_t el = 99;

	CHECK(c != NULL, "cache_new");
	CHECK(cache_count(c) == 0, "empty count");
	CHECK(lookup(c, "www.example.com", 1, 1, false, T0, NULL) == -1,
	    "empty lookup hit");

	/* the cache keeps a copy of the message and TTL positions */
	fake_msg(msg, sizeof(msg), 7);
	CHECK(cache_store(c, q, n, 1, 1, false, msg, sizeof(msg), offs, 3,
	    300, T0) == 0, "store");
	memset(msg, 0, sizeof(msg));
	offs[0] = offs[1] = offs[2] = 0;
	CHECK(cache_count(c) == 1, "count 1");
	memset(&hit, 0, sizeof(hit));
	CHECK(cache_lookup(c, q, n, 1, 1, false, T0, &hit), "lookup");
	CHECK(hit.len == 64 && hit.msg != msg && hit.msg[0] == 7 &&
	    hit.msg[63] == 7 + 63, "copied message");
	CHECK(hit.nttl == 3 && hit.ttl_off != offs && hit.ttl_off[0] == 30 &&
	    hit.ttl_off[1] == 40 && hit.ttl_off[2] == 8, "copied ttl_off");
	CHECK(hit.elapsed == 0, "elapsed %u", hit.elapsed);

	/* each key field counts */
	struct {
		const char *label;
		const char *name;
		uint16_t type, class;
		bool do_bit;
		int want;
	} keys[] = {
		{ "same", "www.example.com", 1, 1, false, 7 },
		{ "type", "www.example.com", 28, 1, false, -1 },
		{ "type 256+1", "www.example.com", 257, 1, false, -1 },
		{ "class", "www.example.com", 1, 3, false, -1 },
		{ "class 256+1", "www.example.com", 1, 257, false, -1 },
		{ "DO", "www.example.com", 1, 1, true, -1 },
		{ "parent", "example.com", 1, 1, false, -1 },
		{ "child", "a.www.example.com", 1, 1, false, -1 },
		{ "other", "www.example.org", 1, 1, false, -1 },
	};
	size_t i;

	for (i = 0; i < N(keys); i++) {
		int got = lookup(c, keys[i].name, keys[i].type, keys[i].class,
		    keys[i].do_bit, T0 + 1, &el);

		CHECK(got == keys[i].want, "key %s: got %d want %d",
		    keys[i].label, got, keys[i].want);
	}

	/* the same name under every other key field is a separate entry */
	CHECK(store(c, "www.example.com", 28, 1, false, 10, 300, T0) == 0,
	    "store AAAA");
	CHECK(store(c, "www.example.com", 1, 3, false, 20, 300, T0) == 0,
	    "store CH");
	CHECK(store(c, "www.example.com", 1, 1, true, 30, 300, T0) == 0,
	    "store DO");
	CHECK(cache_count(c) == 4, "count 4: %zu", cache_count(c));
	CHECK(lookup(c, "www.example.com", 1, 1, false, T0, NULL) == 7, "A");
	CHECK(lookup(c, "www.example.com", 28, 1, false, T0, NULL) == 10,
	    "AAAA");
	CHECK(lookup(c, "www.example.com", 1, 3, false, T0, NULL) == 20, "CH");
	CHECK(lookup(c, "www.example.com", 1, 1, true, T0, NULL) == 30, "DO");
	cache_free(c);
}

struct expiry_case {
	uint32_t ttl;
	uint64_t after_ms;	/* lookup at T0 + after_ms */
	int hit;
	uint32_t elapsed;
};

static const struct expiry_case expiry_cases[] = {
	{ 5, 0, 1, 0 },
	{ 5, 999, 1, 0 },
	{ 5, 1000, 1, 1 },
	{ 5, 1999, 1, 1 },
	{ 5, 2000, 1, 2 },
	{ 5, 4999, 1, 4 },
	{ 5, 5000, 0, 0 },	/* exactly ttl: expired */
	{ 5, 5001, 0, 0 },
	{ 5, 86400000, 0, 0 },
	{ 1, 999, 1, 0 },
	{ 1, 1000, 0, 0 },
	{ 86400, 86399999, 1, 86399 },
	{ 86400, 86400000, 0, 0 },
	{ 0x7fffffff, UINT64_C(0x7fffffff) * 1000 - 1, 1, 0x7fffffff - 1 },
	{ 0x7fffffff, UINT64_C(0x7fffffff) * 1000, 0, 0 },
};

static void
test_expiry(void)
{
	size_t i;

	for (i = 0; i < N(expiry_cases); i++) {
		const struct expiry_case *e = &expiry_cases[i];
		struct cache *c = cache_new(10);
		uint32_t el = 12345;
		int got;

		store(c, "ttl.example", 1, 1, false, 3, e->ttl, T0);
		got = lookup(c, "ttl.example", 1, 1, false, T0 + e->after_ms,
		    &el);
		CHECK((got == 3) == e->hit, "ttl %u at +%llu ms: %s", e->ttl,
		    (unsigned long long)e->after_ms, got == 3 ? "hit" : "miss");
		if (e->hit && got == 3)
			CHECK(el == e->elapsed, "ttl %u at +%llu ms: elapsed %u,"
			    " want %u", e->ttl,
			    (unsigned long long)e->after_ms, el, e->elapsed);
		/* an expired entry is removed by the lookup */
		CHECK(cache_count(c) == (e->hit ? 1u : 0u),
		    "ttl %u at +%llu ms: count %zu", e->ttl,
		    (unsigned long long)e->after_ms, cache_count(c));
		if (!e->hit)
			CHECK(lookup(c, "ttl.example", 1, 1, false, T0, NULL)
			    == -1, "expired entry came back");
		cache_free(c);
	}
}

static void
test_lru(void)
{
	struct cache *c = cache_new(3);
	char name[32];
	int i;

	store(c, "a.test", 1, 1, false, 1, 60, T0);
	store(c, "b.test", 1, 1, false, 2, 60, T0 + 1);
	store(c, "c.test", 1, 1, false, 3, 60, T0 + 2);
	CHECK(cache_count(c) == 3, "lru: count %zu", cache_count(c));

	/* a lookup makes a the most recent: b is evicted next */
	CHECK(lookup(c, "a.test", 1, 1, false, T0 + 3, NULL) == 1, "lru: a");
	store(c, "d.test", 1, 1, false, 4, 60, T0 + 4);
	CHECK(cache_count(c) == 3, "lru: count after d %zu", cache_count(c));
	CHECK(lookup(c, "b.test", 1, 1, false, T0 + 5, NULL) == -1,
	    "lru: b survived");
	CHECK(lookup(c, "c.test", 1, 1, false, T0 + 5, NULL) == 3,
	    "lru: c evicted");
	CHECK(lookup(c, "a.test", 1, 1, false, T0 + 5, NULL) == 1,
	    "lru: a evicted");
	CHECK(lookup(c, "d.test", 1, 1, false, T0 + 5, NULL) == 4,
	    "lru: d evicted");
	/* order now (oldest first): c, a, d; storing e evicts c */
	store(c, "e.test", 1, 1, false, 5, 60, T0 + 6);
	CHECK(lookup(c, "c.test", 1, 1, false, T0 + 7, NULL) == -1,
	    "lru: c survived");
	CHECK(lookup(c, "a.test", 1, 1, false, T0 + 7, NULL) == 1, "lru: a2");
	/* order: d, e, a; replacing d refreshes it: e is next */
	store(c, "d.test", 1, 1, false, 40, 60, T0 + 8);
	CHECK(cache_count(c) == 3, "lru: replace evicted: %zu",
	    cache_count(c));
	CHECK(lookup(c, "e.test", 1, 1, false, T0 + 9, NULL) == 5,
	    "lru: replacing d evicted e");
	CHECK(lookup(c, "a.test", 1, 1, false, T0 + 9, NULL) == 1,
	    "lru: replacing d evicted a");
	CHECK(lookup(c, "d.test", 1, 1, false, T0 + 9, NULL) == 40,
	    "lru: d not replaced");
	/* order: e, a, d */
	store(c, "f.test", 1, 1, false, 6, 60, T0 + 10);
	CHECK(lookup(c, "e.test", 1, 1, false, T0 + 11, NULL) == -1,
	    "lru: e survived f");

	/* many more stores: the count never passes max */
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		store(c, name, 1, 1, false, (uint8_t)i, 60, T0 + 20);
		if (cache_count(c) > 3) {
			CHECK(0, "lru: count %zu after %d", cache_count(c), i);
			break;
		}
	}
	CHECK(lookup(c, "n999.test", 1, 1, false, T0 + 21, NULL) ==
	    (uint8_t)999, "lru: last stored");
	CHECK(lookup(c, "n997.test", 1, 1, false, T0 + 21, NULL) ==
	    (uint8_t)997, "lru: third last stored");
	CHECK(lookup(c, "n996.test", 1, 1, false, T0 + 21, NULL) == -1,
	    "lru: fourth last kept");
	cache_free(c);

	/* max 1 */
	c = cache_new(1);
	store(c, "a.test", 1, 1, false, 1, 60, T0);
	store(c, "b.test", 1, 1, false, 2, 60, T0);
	CHECK(cache_count(c) == 1, "max 1: count %zu", cache_count(c));
	CHECK(lookup(c, "a.test", 1, 1, false, T0, NULL) == -1, "max 1: a");
	CHECK(lookup(c, "b.test", 1, 1, false, T0, NULL) == 2, "max 1: b");
	cache_free(c);
}

static void
test_replace(void)
{
	struct cache *c = cache_new(10);
	uint32_t el = 0;

	store(c, "r.test", 1, 1, false, 1, 10, T0);
	store(c, "s.test", 1, 1, false, 2, 10, T0);
	CHECK(store(c, "r.test", 1, 1, false, 50, 100, T0 + 5000) == 0,
	    "replace");
	CHECK(cache_count(c) == 2, "replace: count %zu", cache_count(c));
	/* new message, new TTL and new storage time */
	CHECK(lookup(c, "r.test", 1, 1, false, T0 + 20000, &el) == 50,
	    "replace: new message not served after the old TTL");
	CHECK(el == 15, "replace: elapsed %u, want 15", el);
	CHECK(lookup(c, "r.test", 1, 1, false, T0 + 5000 + 100000, NULL) == -1,
	    "replace: new TTL not applied");
	CHECK(lookup(c, "s.test", 1, 1, false, T0 + 1000, NULL) == 2,
	    "replace: other entry lost");

	/* ttl 0 stores nothing */
	CHECK(store(c, "zero.test", 1, 1, false, 9, 0, T0) == 0, "ttl 0 rc");
	CHECK(lookup(c, "zero.test", 1, 1, false, T0, NULL) == -1,
	    "ttl 0 stored");
	CHECK(cache_count(c) == 1, "ttl 0: count %zu", cache_count(c));
	cache_free(c);

	/* a full cache is not evicted by ttl 0 stores */
	c = cache_new(1);
	store(c, "keep.test", 1, 1, false, 3, 60, T0);
	store(c, "zero.test", 1, 1, false, 9, 0, T0);
	CHECK(lookup(c, "keep.test", 1, 1, false, T0, NULL) == 3,
	    "ttl 0 evicted an entry");
	cache_free(c);
}

static void
test_disabled(void)
{
	struct cache *c = cache_new(0);

	CHECK(c != NULL, "cache_new(0)");
	CHECK(store(c, "a.test", 1, 1, false, 1, 60, T0) == 0, "max 0 store");
	CHECK(cache_count(c) == 0, "max 0: count %zu", cache_count(c));
	CHECK(lookup(c, "a.test", 1, 1, false, T0, NULL) == -1, "max 0 hit");
	CHECK(cache_flush(c, NULL) == 0, "max 0 flush");
	cache_free(c);
}

struct flush_case {
	const char *flush;	/* NULL: all */
	size_t removed;
	const char *kept;	/* names still cached, comma separated */
};

static const char *const flush_names[] = {
	"example.com", "www.example.com", "a.b.example.com",
	"notexample.com", "example.com.evil", "com", "example.net",
	"xexample.com", "b.example.com.au",
};

static const struct flush_case flush_cases[] = {
	{ "example.com", 3 + 1,
	    "notexample.com,example.com.evil,com,example.net,xexample.com,"
	    "b.example.com.au" },
	{ "b.example.com", 1,
	    "example.com,www.example.com,notexample.com,example.com.evil,com,"
	    "example.net,xexample.com,b.example.com.au" },
	{ "com", 6 + 1, "example.com.evil,example.net,b.example.com.au" },
	{ "www.example.com", 1,
	    "example.com,a.b.example.com,notexample.com,example.com.evil,com,"
	    "example.net,xexample.com,b.example.com.au" },
	{ "nothing.test", 0,
	    "example.com,www.example.com,a.b.example.com,notexample.com,"
	    "example.com.evil,com,example.net,xexample.com,b.example.com.au" },
	{ "evil", 1,
	    "example.com,www.example.com,a.b.example.com,notexample.com,com,"
	    "example.net,xexample.com,b.example.com.au" },
	{ NULL, 9 + 1, "" },
};

static void
test_flush(void)
{
	size_t i, j;

	for (i = 0; i < N(flush_cases); i++) {
		const struct flush_case *f = &flush_cases[i];
		const char *label = f->flush ? f->flush : "(all)";
		struct cache *c = cache_new(100);
		uint8_t w[DNAME_MAXWIRE];
		size_t got;

		for (j = 0; j < N(flush_names); j++)
			store(c, flush_names[j], 1, 1, false, (uint8_t)j, 60,
			    T0);
		/* a second type and the DO bit for example.com */
		store(c, "example.com", 28, 1, true, 100, 60, T0);
		if (f->flush != NULL)
			wire(f->flush, w);
		got = cache_flush(c, f->flush ? w : NULL);
		CHECK(got == f->removed, "flush %s: removed %zu, want %zu",
		    label, got, f->removed);
		CHECK(cache_count(c) == N(flush_names) + 1 - f->removed,
		    "flush %s: count %zu", label, cache_count(c));
		for (j = 0; j < N(flush_names); j++) {
			const char *n = flush_names[j], *k = f->kept;
			size_t nl = strlen(n);
			bool want = false;

			while (*k != '\0') {
				size_t kl = strcspn(k, ",");

				if (kl == nl && strncmp(k, n, nl) == 0)
					want = true;
				k += kl + (k[kl] == ',');
			}
			CHECK((lookup(c, n, 1, 1, false, T0, NULL) == (int)j)
			    == want, "flush %s: %s %s", label, n,
			    want ? "removed" : "kept");
		}
		cache_free(c);
	}
}

int
main(void)
{
	test_store_lookup();
	test_expiry();
	test_lru();
	test_replace();
	test_disabled();
	test_flush();
	return unit_exit();
}
