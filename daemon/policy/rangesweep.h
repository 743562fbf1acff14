/*
 * rangesweep: the one "most specific range wins" decision.  Given ranges
 * of 128-bit keys, cuts the key line into disjoint pieces, each owned by
 * the most specific range over it: the one with the fewest keys; between
 * ranges of one size, the one that starts lower; for the same range
 * twice, the caller's tie-break.  The address matcher freezes with it
 * (cidr.h) and the exports resolve with it (tool/rangeset.h), so what is
 * exported is what the daemon blocks.
 *
 * A key space is 0..top: an IPv6 address is its 16 bytes, an IPv4 one
 * its 4 bytes in the low half with top 0.0.0.0:255.255.255.255.
 */
#ifndef CORDON_RANGESWEEP_H
#define CORDON_RANGESWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A 128-bit key, most significant half first. */
struct rangesweep_key {
	uint64_t hi, lo;
};

/* One inclusive range, lo not above hi. */
struct rangesweep_range {
	struct rangesweep_key lo, hi;
};

/* The owner of a piece no range covers. */
#define RANGESWEEP_NONE UINT32_MAX

/*
 * The pieces: piece i is start[i] up to start[i + 1] less one (the last
 * up to top), owned by the range at index owner[i] or by
 * RANGESWEEP_NONE.  Consecutive pieces have different owners and the
 * first has one, so keys below start[0] have none.  Free with
 * rangesweep_clear().
 */
struct rangesweep {
	struct rangesweep_key *start;
	uint32_t *owner;
	size_t n;
};

/* -1, 0 or 1 as a is below, equal to or above b.  Inline: lookups
 * call it at every step of their binary search. */
static inline int
rangesweep_key_cmp(const struct rangesweep_key *a,
    const struct rangesweep_key *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

/* The key of width (4 or 16) big-endian bytes at p, and back. */
struct rangesweep_key rangesweep_key_get(const uint8_t *p, size_t width);
void rangesweep_key_put(const struct rangesweep_key *k, uint8_t *p,
    size_t width);

/*
 * Sweeps n ranges (fewer than RANGESWEEP_NONE) into out.  They are
 * elements of size bytes at base, each beginning with its struct
 * rangesweep_range, sorted by lo, all within 0..top; borrowed for the
 * call.  wins(a, b), given two elements of the same range, tells whether
 * a owns it over b; with NULL wins, or when neither wins, either may.
 * Returns 0, or -1 with errno EINVAL (too many ranges) or ENOMEM, out
 * then empty.
 */
int rangesweep_run(const void *base, size_t n, size_t size,
    const struct rangesweep_key *top,
    bool (*wins)(const void *a, const void *b), struct rangesweep *out);

/* Frees what rangesweep_run() put in s; s is then empty. */
void rangesweep_clear(struct rangesweep *s);

#endif
