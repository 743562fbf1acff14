/*
 * rangeset: sort, merge, subtract, resolve and split address ranges for
 * the exports.  Addresses are compared as big-endian byte strings, so the
 * same code serves IPv4 and IPv6 without 128-bit integers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tool/rangeset.h"

static size_t
family_width(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

/* a += 1; false when it wrapped past the last address. */
static bool
addr_inc(uint8_t *a, size_t w)
{
	for (size_t i = w; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

/* a -= 1 (a is not the first address). */
static void
addr_dec(uint8_t *a, size_t w)
{
	for (size_t i = w; i-- > 0;)
		if (a[i]-- != 0)
			return;
}

static bool
addr_is_last(const uint8_t *a, size_t w)
{
	for (size_t i = 0; i < w; i++)
		if (a[i] != 0xff)
			return false;
	return true;
}

/* out = hi - lo: the size of lo..hi less one, comparable with memcmp. */
static void
addr_span(const uint8_t *lo, const uint8_t *hi, size_t w, uint8_t *out)
{
	int borrow = 0;

	memset(out, 0, 16);
	for (size_t i = w; i-- > 0;) {
		int d = hi[i] - lo[i] - borrow;

		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

/* Is every bit from bit `bits` on zero in a? */
static bool
host_bits_zero(const uint8_t *a, unsigned bits, size_t w)
{
	for (size_t i = bits / 8; i < w; i++) {
		uint8_t mask = i == bits / 8 ? (uint8_t)(0xff >> (bits % 8)) :
		    0xff;

		if (a[i] & mask)
			return false;
	}
	return true;
}

/* out = a with every bit from bit `bits` on set: the prefix's last. */
static void
prefix_last(const uint8_t *a, unsigned bits, size_t w, uint8_t *out)
{
	memcpy(out, a, 16);
	for (size_t i = bits / 8; i < w; i++)
		out[i] |= i == bits / 8 ? (uint8_t)(0xff >> (bits % 8)) : 0xff;
}

void
rangeset_init(struct rangeset *s, int family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->width = family_width(family);
}

void
rangeset_clear(struct rangeset *s)
{
	free(s->v);
	rangeset_init(s, s->family);
}

int
rangeset_add(struct rangeset *s, const uint8_t *lo, const uint8_t *hi,
    bool allow)
{
	struct range *r;

	if (memcmp(lo, hi, s->width) > 0) {
		errno = EINVAL;
		return -1;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct range *v = reallocarray(s->v, cap, sizeof(*v));

		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	r = &s->v[s->n++];
	memset(r, 0, sizeof(*r));
	memcpy(r->lo, lo, s->width);
	memcpy(r->hi, hi, s->width);
	r->allow = allow;
	return 0;
}

/* The bytes past the width are zero, so a 16-byte compare orders both
 * families. */
static int
cmp_lo(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	int c = memcmp(x->lo, y->lo, 16);

	return c ? c : memcmp(x->hi, y->hi, 16);
}

void
rangeset_merge(struct rangeset *s)
{
	size_t out = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_lo);
	s->v[0].allow = false;
	for (size_t i = 1; i < s->n; i++) {
		struct range *cur = &s->v[out];
		uint8_t next[16];

		memcpy(next, cur->hi, 16);
		if (addr_is_last(cur->hi, s->width) ||
		    (addr_inc(next, s->width) &&
		    memcmp(s->v[i].lo, next, 16) <= 0)) {
			if (memcmp(s->v[i].hi, cur->hi, 16) > 0)
				memcpy(cur->hi, s->v[i].hi, 16);
			continue;
		}
		s->v[++out] = s->v[i];
		s->v[out].allow = false;
	}
	s->n = out + 1;
}

int
rangeset_subtract(const struct rangeset *a, const struct rangeset *b,
    struct rangeset *out)
{
	size_t j = 0, w = a->width;

	for (size_t i = 0; i < a->n; i++) {
		const struct range *r = &a->v[i];
		uint8_t lo[16], end[16];
		bool done = false;

		memcpy(lo, r->lo, 16);
		/* b ranges ending before this one end before the rest of a */
		while (j < b->n && memcmp(b->v[j].hi, r->lo, 16) < 0)
			j++;
		for (size_t k = j; k < b->n &&
		    memcmp(b->v[k].lo, r->hi, 16) <= 0; k++) {
			const struct range *x = &b->v[k];

			if (memcmp(x->lo, lo, 16) > 0) {
				memcpy(end, x->lo, 16);
				addr_dec(end, w);
				if (rangeset_add(out, lo, end, false) != 0)
					return -1;
			}
			if (memcmp(x->hi, r->hi, 16) >= 0) {
				done = true;
				break;
			}
			memcpy(lo, x->hi, 16);
			addr_inc(lo, w);
		}
		if (!done && rangeset_add(out, lo, r->hi, false) != 0)
			return -1;
	}
	return 0;
}

/*
 * Resolving sweeps the address space from low to high.  Between two
 * consecutive breakpoints (a range's first address, or the one after a
 * range's last) the set of ranges holding an address does not change, so
 * one decision serves the whole stretch.  The ranges seen so far sit in
 * a heap, most specific on top; a range that has ended is dropped only
 * when it reaches the top, which is the only place it could matter.
 */
struct resolver {
	const struct rangeset *s;
	uint8_t (*span)[16];	/* per range: hi - lo */
	size_t *heap;
	size_t nheap;
};

/* Does range a decide over range b? */
static bool
more_specific(const struct resolver *rv, size_t a, size_t b)
{
	const struct range *x = &rv->s->v[a], *y = &rv->s->v[b];
	int c = memcmp(rv->span[a], rv->span[b], 16);

	if (c != 0)
		return c < 0;
	c = memcmp(x->lo, y->lo, 16);
	if (c != 0)
		return c < 0;
	return x->allow && !y->allow;
}

static void
heap_push(struct resolver *rv, size_t idx)
{
	size_t i = rv->nheap++;

	while (i > 0 && more_specific(rv, idx, rv->heap[(i - 1) / 2])) {
		rv->heap[i] = rv->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	rv->heap[i] = idx;
}

static void
heap_pop(struct resolver *rv)
{
	size_t last = rv->heap[--rv->nheap], i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= rv->nheap)
			break;
		if (c + 1 < rv->nheap &&
		    more_specific(rv, rv->heap[c + 1], rv->heap[c]))
			c++;
		if (!more_specific(rv, rv->heap[c], last))
			break;
		rv->heap[i] = rv->heap[c];
		i = c;
	}
	rv->heap[i] = last;
}

static int
cmp_addr(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Sorted, distinct breakpoints of s into bp (2 * s->n slots). */
static size_t
breakpoints(const struct rangeset *s, uint8_t (*bp)[16])
{
	size_t n = 0, out = 0;

	for (size_t i = 0; i < s->n; i++) {
		memcpy(bp[n++], s->v[i].lo, 16);
		memcpy(bp[n], s->v[i].hi, 16);
		if (addr_inc(bp[n], s->width))
			n++;
	}
	qsort(bp, n, sizeof(bp[0]), cmp_addr);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || memcmp(bp[out - 1], bp[i], 16) != 0)
			memcpy(bp[out++], bp[i], 16);
	return out;
}

/* Appends lo..hi to out, joining it to the last range when adjacent. */
static int
append(struct rangeset *out, const uint8_t *lo, const uint8_t *hi)
{
	if (out->n > 0) {
		uint8_t next[16];

		memcpy(next, out->v[out->n - 1].hi, 16);
		if (addr_inc(next, out->width) && memcmp(next, lo, 16) == 0) {
			memcpy(out->v[out->n - 1].hi, hi, 16);
			return 0;
		}
	}
	return rangeset_add(out, lo, hi, false);
}

/* s is sorted by first address, so the heap holds indices into it. */
static int
sweep(struct resolver *rv, uint8_t (*bp)[16], size_t nbp,
    struct rangeset *out)
{
	const struct rangeset *s = rv->s;
	size_t next = 0;

	for (size_t k = 0; k < nbp; k++) {
		const struct range *top;
		uint8_t end[16];

		while (next < s->n && memcmp(s->v[next].lo, bp[k], 16) <= 0)
			heap_push(rv, next++);
		while (rv->nheap > 0 &&
		    memcmp(s->v[rv->heap[0]].hi, bp[k], 16) < 0)
			heap_pop(rv);
		if (rv->nheap == 0)
			continue;
		top = &s->v[rv->heap[0]];
		if (top->allow)
			continue;
		if (k + 1 < nbp) {
			memcpy(end, bp[k + 1], 16);
			addr_dec(end, s->width);
		} else
			memcpy(end, top->hi, 16);
		if (append(out, bp[k], end) != 0)
			return -1;
	}
	return 0;
}

int
rangeset_resolve(const struct rangeset *s, struct rangeset *out)
{
	struct rangeset copy;
	struct resolver rv = { &copy, NULL, NULL, 0 };
	uint8_t (*bp)[16] = NULL;
	int rc = -1;

	rangeset_init(&copy, s->family);
	if (s->n == 0)
		return 0;
	copy.v = malloc(s->n * sizeof(*copy.v));
	rv.span = malloc(s->n * sizeof(*rv.span));
	rv.heap = malloc(s->n * sizeof(*rv.heap));
	bp = malloc(2 * s->n * sizeof(*bp));
	if (copy.v == NULL || rv.span == NULL || rv.heap == NULL || bp == NULL)
		goto out;
	memcpy(copy.v, s->v, s->n * sizeof(*copy.v));
	copy.n = copy.cap = s->n;
	qsort(copy.v, copy.n, sizeof(copy.v[0]), cmp_lo);
	for (size_t i = 0; i < copy.n; i++)
		addr_span(copy.v[i].lo, copy.v[i].hi, copy.width, rv.span[i]);
	rc = sweep(&rv, bp, breakpoints(&copy, bp), out);
out:
	free(bp);
	free(rv.heap);
	free(rv.span);
	rangeset_clear(&copy);
	return rc;
}

size_t
rangeset_split(int family, const uint8_t *lo, const uint8_t *hi,
    unsigned min_bits, void (*fn)(void *, const uint8_t *, unsigned),
    void *arg)
{
	size_t w = family_width(family), n = 0;
	unsigned maxbits = (unsigned)w * 8;
	uint8_t cur[16] = { 0 }, last[16], top[16] = { 0 };

	memcpy(cur, lo, w);
	memcpy(top, hi, w);
	for (;;) {
		unsigned bits = min_bits;

		/* the shortest prefix that starts at cur and stays in range */
		for (; bits < maxbits; bits++) {
			if (!host_bits_zero(cur, bits, w))
				continue;
			prefix_last(cur, bits, w, last);
			if (memcmp(last, top, 16) <= 0)
				break;
		}
		prefix_last(cur, bits, w, last);
		if (fn != NULL)
			fn(arg, cur, bits);
		n++;
		if (memcmp(last, top, 16) >= 0)
			break;
		memcpy(cur, last, 16);
		addr_inc(cur, w);
	}
	return n;
}

bool
rangeset_is_prefix(int family, const uint8_t *lo, const uint8_t *hi,
    unsigned *bits)
{
	size_t w = family_width(family);
	uint8_t first[16] = { 0 }, last[16];

	memcpy(first, lo, w);
	for (unsigned b = 0; b <= w * 8; b++) {
		if (!host_bits_zero(first, b, w))
			continue;
		prefix_last(first, b, w, last);
		if (memcmp(last, hi, w) == 0) {
			*bits = b;
			return true;
		}
	}
	return false;
}
