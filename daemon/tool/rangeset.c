/*
 * rangeset: sort, merge, subtract, resolve and split address ranges for
 * the exports.  Addresses are compared as big-endian byte strings, so the
 * same code serves IPv4 and IPv6 without 128-bit integers; resolving
 * turns them into the 128-bit keys of rangesweep.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/rangesweep.h"
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
 * Resolving is the sweep the address matcher freezes with (rangesweep.h):
 * it cuts the space into pieces, each owned by the most specific range
 * over it, and the pieces a block owns are the result.
 */
struct item {
	struct rangesweep_range r;	/* first, for the sweep */
	bool allow;
};

static int
cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return rangesweep_key_cmp(&x->r.lo, &y->r.lo);
}

/* For the same range twice, an allow decides. */
static bool
allow_wins(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return x->allow && !y->allow;
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

/* Appends to out the pieces of sw a block owns; the last ends at top. */
static int
blocked(const struct item *v, const struct rangesweep *sw,
    const struct rangesweep_key *top, struct rangeset *out)
{
	for (size_t i = 0; i < sw->n; i++) {
		struct rangesweep_key end = *top;
		uint8_t lo[16] = { 0 }, hi[16] = { 0 };

		if (sw->owner[i] == RANGESWEEP_NONE || v[sw->owner[i]].allow)
			continue;
		if (i + 1 < sw->n) {
			end = sw->start[i + 1];
			if (end.lo-- == 0)
				end.hi--;
		}
		rangesweep_key_put(&sw->start[i], lo, out->width);
		rangesweep_key_put(&end, hi, out->width);
		if (append(out, lo, hi) != 0)
			return -1;
	}
	return 0;
}

int
rangeset_resolve(const struct rangeset *s, struct rangeset *out)
{
	struct rangesweep sw = { 0 };
	struct rangesweep_key top;
	struct item *v;
	uint8_t ones[16];
	int rc;

	if (s->n == 0)
		return 0;
	if ((v = reallocarray(NULL, s->n, sizeof(*v))) == NULL)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		v[i].r.lo = rangesweep_key_get(s->v[i].lo, s->width);
		v[i].r.hi = rangesweep_key_get(s->v[i].hi, s->width);
		v[i].allow = s->v[i].allow;
	}
	qsort(v, s->n, sizeof(*v), cmp_item);
	memset(ones, 0xff, sizeof(ones));
	top = rangesweep_key_get(ones, s->width);
	rc = rangesweep_run(v, s->n, sizeof(*v), &top, allow_wins, &sw);
	if (rc == 0)
		rc = blocked(v, &sw, &top, out);
	rangesweep_clear(&sw);
	free(v);
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
