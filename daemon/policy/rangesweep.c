/*
 * rangesweep: the owner of a key changes only where a range starts (lo)
 * or just after one ends (hi + 1), so those points, in order, cut the
 * key line into stretches that one decision serves.  A binary heap of
 * the ranges started so far, most specific on top, names each stretch's
 * owner; a range that has ended is dropped only when it reaches the top,
 * since below it it loses anyway.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rangesweep.h"

struct sweep {
	const char *base;
	size_t size;
	bool (*wins)(const void *a, const void *b);
	uint32_t *heap;
	size_t nheap;
};

struct rangesweep_key
rangesweep_key_get(const uint8_t *p, size_t width)
{
	struct rangesweep_key k = { 0, 0 };
	size_t i;

	for (i = 0; i < width; i++) {
		k.hi = k.hi << 8 | k.lo >> 56;
		k.lo = k.lo << 8 | p[i];
	}
	return k;
}

void
rangesweep_key_put(const struct rangesweep_key *k, uint8_t *p, size_t width)
{
	uint64_t hi = k->hi, lo = k->lo;

	while (width-- > 0) {
		p[width] = (uint8_t)lo;
		lo = lo >> 8 | hi << 56;
		hi >>= 8;
	}
}

static const struct rangesweep_range *
range_at(const struct sweep *sw, uint32_t i)
{
	return (const void *)(sw->base + i * sw->size);
}

static struct rangesweep_key
key_sub(const struct rangesweep_key *a, const struct rangesweep_key *b)
{
	struct rangesweep_key r;

	r.lo = a->lo - b->lo;
	r.hi = a->hi - b->hi - (a->lo < b->lo);
	return r;
}

/* true when range a is more specific than range b. */
static bool
is_narrower(const struct sweep *sw, uint32_t a, uint32_t b)
{
	const struct rangesweep_range *x = range_at(sw, a);
	const struct rangesweep_range *y = range_at(sw, b);
	struct rangesweep_key sx = key_sub(&x->hi, &x->lo);
	struct rangesweep_key sy = key_sub(&y->hi, &y->lo);
	int rc;

	if ((rc = rangesweep_key_cmp(&sx, &sy)) != 0)
		return rc < 0;
	if ((rc = rangesweep_key_cmp(&x->lo, &y->lo)) != 0)
		return rc < 0;
	return sw->wins != NULL && sw->wins(x, y);
}

static void
heap_push(struct sweep *sw, uint32_t x)
{
	size_t i = sw->nheap++, up;

	for (; i > 0; i = up) {
		up = (i - 1) / 2;
		if (!is_narrower(sw, x, sw->heap[up]))
			break;
		sw->heap[i] = sw->heap[up];
	}
	sw->heap[i] = x;
}

static void
heap_pop(struct sweep *sw)
{
	uint32_t *heap = sw->heap, x = heap[--sw->nheap];
	size_t i = 0, child, n = sw->nheap;

	while ((child = 2 * i + 1) < n) {
		if (child + 1 < n && is_narrower(sw, heap[child + 1],
		    heap[child]))
			child++;
		if (!is_narrower(sw, heap[child], x))
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = x;
}

static int
cmp_key(const void *a, const void *b)
{
	return rangesweep_key_cmp(a, b);
}

/* The points just after each range that ends below top, sorted, into
 * ends (n slots); returns how many. */
static size_t
end_points(const struct sweep *sw, size_t n, const struct rangesweep_key *top,
    struct rangesweep_key *ends)
{
	size_t i, nend = 0;

	for (i = 0; i < n; i++) {
		const struct rangesweep_range *r = range_at(sw, (uint32_t)i);

		if (rangesweep_key_cmp(&r->hi, top) == 0)
			continue;
		ends[nend] = r->hi;
		if (++ends[nend].lo == 0)
			ends[nend].hi++;
		nend++;
	}
	qsort(ends, nend, sizeof(*ends), cmp_key);
	return nend;
}

/* Walks the starts (the ranges, by lo) and the ends together. */
static void
walk(struct sweep *sw, size_t n, const struct rangesweep_key *ends,
    size_t nend, struct rangesweep *out)
{
	struct rangesweep_key p;
	size_t i = 0, j = 0;
	uint32_t top;

	while (i < n || j < nend) {
		if (i == n || (j < nend && rangesweep_key_cmp(&ends[j],
		    &range_at(sw, (uint32_t)i)->lo) < 0))
			p = ends[j];
		else
			p = range_at(sw, (uint32_t)i)->lo;
		for (; i < n && rangesweep_key_cmp(&range_at(sw,
		    (uint32_t)i)->lo, &p) == 0; i++)
			heap_push(sw, (uint32_t)i);
		for (; j < nend && rangesweep_key_cmp(&ends[j], &p) == 0; j++)
			continue;
		while (sw->nheap > 0 && rangesweep_key_cmp(&range_at(sw,
		    sw->heap[0])->hi, &p) < 0)
			heap_pop(sw);
		top = sw->nheap > 0 ? sw->heap[0] : RANGESWEEP_NONE;
		if (out->n == 0 ? top == RANGESWEEP_NONE :
		    top == out->owner[out->n - 1])
			continue;
		out->start[out->n] = p;
		out->owner[out->n++] = top;
	}
}

/* Gives back what the worst case (2n pieces) left unused; a failed
 * shrink is fine. */
static void
shrink(struct rangesweep *s)
{
	struct rangesweep_key *k;
	uint32_t *o;

	if (s->n == 0)
		return;
	if ((k = realloc(s->start, s->n * sizeof(*k))) != NULL)
		s->start = k;
	if ((o = realloc(s->owner, s->n * sizeof(*o))) != NULL)
		s->owner = o;
}

int
rangesweep_run(const void *base, size_t n, size_t size,
    const struct rangesweep_key *top,
    bool (*wins)(const void *a, const void *b), struct rangesweep *out)
{
	struct sweep sw = { base, size, wins, NULL, 0 };
	struct rangesweep_key *ends;

	memset(out, 0, sizeof(*out));
	if (n >= RANGESWEEP_NONE) {
		errno = EINVAL;
		return -1;
	}
	if (n == 0)
		return 0;
	ends = malloc(n * sizeof(*ends));
	sw.heap = malloc(n * sizeof(*sw.heap));
	out->start = malloc(2 * n * sizeof(*out->start));
	out->owner = malloc(2 * n * sizeof(*out->owner));
	if (ends == NULL || sw.heap == NULL || out->start == NULL ||
	    out->owner == NULL) {
		free(ends);
		free(sw.heap);
		rangesweep_clear(out);
		errno = ENOMEM;
		return -1;
	}
	walk(&sw, n, ends, end_points(&sw, n, top, ends), out);
	free(ends);
	free(sw.heap);
	shrink(out);
	return 0;
}

void
rangesweep_clear(struct rangesweep *s)
{
	free(s->start);
	free(s->owner);
	memset(s, 0, sizeof(*s));
}
