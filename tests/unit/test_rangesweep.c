/*
 * test_rangesweep: the sweep against a brute-force oracle (at every
 * breakpoint, the most specific range covering it, in unsigned __int128
 * arithmetic of its own) over random range sets of a fixed seed, in the
 * IPv4 and the IPv6 key space: identical ranges (with and without a
 * tie-break), nested ones, ones touching end to start, and ones at 0 and
 * at the top of the space.  Then the edges: no ranges, the whole space,
 * too many ranges, and the key conversions.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rangesweep.h"
#include "unit.h"

#define MAXN 48
#define ROUNDS 400

typedef unsigned __int128 u128;

/* An element as a caller lays it out: the range first, then its own. */
struct elem {
	struct rangesweep_range r;
	uint32_t prio;		/* 0 or 1; 1 wins a tie on one range */
};

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static u128
val(const struct rangesweep_key *k)
{
	return (u128)k->hi << 64 | k->lo;
}

static struct rangesweep_key
key(u128 v)
{
	struct rangesweep_key k = { (uint64_t)(v >> 64), (uint64_t)v };

	return k;
}

static bool
prio_wins(const void *a, const void *b)
{
	return ((const struct elem *)a)->prio > ((const struct elem *)b)->prio;
}

/* Is x more specific than y, by the rules of rangesweep.h? */
static bool
oracle_beats(const struct elem *x, const struct elem *y, bool has_tie)
{
	u128 sx = val(&x->r.hi) - val(&x->r.lo);
	u128 sy = val(&y->r.hi) - val(&y->r.lo);

	if (sx != sy)
		return sx < sy;
	if (val(&x->r.lo) != val(&y->r.lo))
		return val(&x->r.lo) < val(&y->r.lo);
	return has_tie && x->prio > y->prio;
}

/* The most specific range covering p, or RANGESWEEP_NONE. */
static uint32_t
oracle_owner(const struct elem *e, size_t n, u128 p, bool has_tie)
{
	uint32_t best = RANGESWEEP_NONE;
	size_t i;

	for (i = 0; i < n; i++) {
		if (val(&e[i].r.lo) > p || val(&e[i].r.hi) < p)
			continue;
		if (best == RANGESWEEP_NONE ||
		    oracle_beats(&e[i], &e[best], has_tie))
			best = (uint32_t)i;
	}
	return best;
}

static int
cmp_u128(const void *a, const void *b)
{
	u128 x = *(const u128 *)a, y = *(const u128 *)b;

	return x < y ? -1 : x > y;
}

/* Owners a and b are as good as each other: the same range, and with a
 * tie-break the same prio (any of those may own a piece). */
static bool
same_owner(const struct elem *e, uint32_t a, uint32_t b, bool has_tie)
{
	if (a == RANGESWEEP_NONE || b == RANGESWEEP_NONE)
		return a == b;
	return val(&e[a].r.lo) == val(&e[b].r.lo) &&
	    val(&e[a].r.hi) == val(&e[b].r.hi) &&
	    (!has_tie || e[a].prio == e[b].prio);
}

/* The oracle's pieces: every breakpoint's owner, runs of one range
 * joined, none before the first owned piece. */
static size_t
oracle(const struct elem *e, size_t n, u128 top, bool has_tie,
    u128 *start, uint32_t *owner)
{
	u128 bp[2 * MAXN];
	size_t i, nbp = 0, out = 0;
	uint32_t o;

	for (i = 0; i < n; i++) {
		bp[nbp++] = val(&e[i].r.lo);
		if (val(&e[i].r.hi) != top)
			bp[nbp++] = val(&e[i].r.hi) + 1;
	}
	qsort(bp, nbp, sizeof(bp[0]), cmp_u128);
	for (i = 0; i < nbp; i++) {
		if (i > 0 && bp[i] == bp[i - 1])
			continue;
		o = oracle_owner(e, n, bp[i], has_tie);
		if (out == 0 ? o == RANGESWEEP_NONE :
		    same_owner(e, o, owner[out - 1], has_tie))
			continue;
		start[out] = bp[i];
		owner[out++] = o;
	}
	return out;
}

/* A key of the space 0..top: often one of the edges or a point already
 * used (or next to one), so ranges nest, repeat and touch. */
static u128
pick(u128 top, const u128 *used, size_t nused)
{
	u128 v;

	switch (next() % 8) {
	case 0:
		return 0;
	case 1:
		return top;
	case 2:
	case 3:
		if (nused > 0) {
			v = used[next() % nused];
			if (next() % 2 == 0 && v < top)
				return v + 1;
			if (next() % 2 == 0 && v > 0)
				return v - 1;
			return v;
		}
		/* FALLTHROUGH */
	default:
		v = (u128)next() << 64 | next();
		return top == (u128)UINT32_MAX ? v & top : v;
	}
}

static int
cmp_elem(const void *a, const void *b)
{
	u128 x = val(&((const struct elem *)a)->r.lo);
	u128 y = val(&((const struct elem *)b)->r.lo);

	return x < y ? -1 : x > y;
}

/* Fills e with n random ranges of 0..top, sorted by lo. */
static void
random_set(struct elem *e, size_t n, u128 top)
{
	u128 used[2 * MAXN], lo, hi, t;
	size_t i, nused = 0;

	for (i = 0; i < n; i++) {
		if (i > 0 && next() % 6 == 0) {
			e[i] = e[next() % i];	/* the same range again */
		} else {
			lo = pick(top, used, nused);
			hi = pick(top, used, nused);
			if (lo > hi) {
				t = lo;
				lo = hi;
				hi = t;
			}
			e[i].r.lo = key(lo);
			e[i].r.hi = key(hi);
			used[nused++] = lo;
			used[nused++] = hi;
		}
		e[i].prio = (uint32_t)(next() % 2);
	}
	qsort(e, n, sizeof(*e), cmp_elem);
}

static void
check_round(const struct elem *e, size_t n, u128 top, bool has_tie,
    const char *what)
{
	struct rangesweep sw;
	struct rangesweep_key k = key(top);
	u128 start[2 * MAXN];
	uint32_t owner[2 * MAXN];
	size_t want, i;

	want = oracle(e, n, top, has_tie, start, owner);
	if (rangesweep_run(e, n, sizeof(*e), &k, has_tie ? prio_wins : NULL,
	    &sw) != 0) {
		CHECK(false, "%s: run failed", what);
		return;
	}
	CHECK(sw.n == want, "%s: %zu pieces, want %zu", what, sw.n, want);
	for (i = 0; i < sw.n && i < want; i++) {
		CHECK(val(&sw.start[i]) == start[i], "%s: piece %zu start",
		    what, i);
		CHECK(same_owner(e, sw.owner[i], owner[i], has_tie),
		    "%s: piece %zu owner %u, want %u", what, i, sw.owner[i],
		    owner[i]);
	}
	rangesweep_clear(&sw);
}

static void
test_random(u128 top, const char *space)
{
	struct elem e[MAXN];
	char what[64];
	size_t n;
	int round;

	for (round = 0; round < ROUNDS; round++) {
		n = 1 + next() % MAXN;
		random_set(e, n, top);
		snprintf(what, sizeof(what), "%s round %d", space, round);
		check_round(e, n, top, round % 2 == 0, what);
	}
}

/* Ranges written as [lo, hi] pairs of 0..top, for the edge cases. */
static size_t
fixed_set(struct elem *e, const u128 (*r)[2], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		e[i].r.lo = key(r[i][0]);
		e[i].r.hi = key(r[i][1]);
		e[i].prio = (uint32_t)(i % 2);
	}
	qsort(e, n, sizeof(*e), cmp_elem);
	return n;
}

static void
test_edges(void)
{
	const u128 top4 = UINT32_MAX, top6 = ~(u128)0;
	const u128 whole6[][2] = { { 0, top6 } };
	const u128 ends4[][2] = { { 0, top4 }, { top4, top4 }, { 0, 0 },
	    { 0, top4 }, { 1, top4 - 1 }, { top4 - 1, top4 } };
	const u128 touch6[][2] = { { 0, 9 }, { 10, 19 }, { 20, top6 },
	    { 5, 14 }, { 10, 19 }, { top6, top6 } };
	struct elem e[8];
	struct rangesweep sw;
	struct rangesweep_key k = key(top6);

	CHECK(rangesweep_run(NULL, 0, sizeof(*e), &k, NULL, &sw) == 0 &&
	    sw.n == 0, "no ranges, no pieces");
	rangesweep_clear(&sw);
	fixed_set(e, whole6, 1);
	CHECK(rangesweep_run(e, 1, sizeof(*e), &k, NULL, &sw) == 0 &&
	    sw.n == 1 && val(&sw.start[0]) == 0 && sw.owner[0] == 0,
	    "::/0 is one piece");
	rangesweep_clear(&sw);
	check_round(e, fixed_set(e, ends4, 6), top4, true, "IPv4 edges");
	check_round(e, fixed_set(e, ends4, 6), top4, false, "IPv4 edges");
	check_round(e, fixed_set(e, touch6, 6), top6, true, "IPv6 touching");
	errno = 0;
	CHECK(rangesweep_run(NULL, RANGESWEEP_NONE, sizeof(*e), &k, NULL,
	    &sw) == -1 && errno == EINVAL && sw.n == 0, "too many ranges");
}

static void
test_keys(void)
{
	const uint8_t a4[4] = { 192, 0, 2, 255 };
	const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7,
	    8, 9, 10, 11, 0xff };
	struct rangesweep_key k;
	uint8_t out[16];

	k = rangesweep_key_get(a4, 4);
	CHECK(k.hi == 0 && k.lo == 0xc00002ffU, "IPv4 key");
	memset(out, 0, sizeof(out));
	rangesweep_key_put(&k, out, 4);
	CHECK(memcmp(out, a4, 4) == 0, "IPv4 key back");
	k = rangesweep_key_get(a6, 16);
	CHECK(k.hi == 0x20010db801020304ULL && k.lo == 0x05060708090a0bffULL,
	    "IPv6 key");
	rangesweep_key_put(&k, out, 16);
	CHECK(memcmp(out, a6, 16) == 0, "IPv6 key back");
}

int
main(void)
{
	test_random(UINT32_MAX, "IPv4");
	test_random(~(u128)0, "IPv6");
	test_edges();
	test_keys();
	return unit_exit();
}
