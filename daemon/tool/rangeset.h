/*
 * rangeset: arithmetic on sets of address ranges of one family, for the
 * exports: sort and merge, subtract, decide block/allow overlaps the way
 * the address matcher does (the most specific range wins), and split a
 * range into CIDR prefixes.  It matches no addresses (cidr.h does that).
 *
 * Addresses are big-endian byte strings of the family's width (4 bytes
 * for AF_INET, 16 for AF_INET6) held in 16-byte arrays, rest zero.
 */
#ifndef CORDON_RANGESET_H
#define CORDON_RANGESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One inclusive range; allow tells an allow entry in rangeset_resolve(). */
struct range {
	uint8_t lo[16];
	uint8_t hi[16];
	bool allow;
};

struct rangeset {
	int family;		/* AF_INET or AF_INET6 */
	size_t width;		/* 4 or 16 */
	struct range *v;
	size_t n;
	size_t cap;
};

/* Starts an empty set for family (AF_INET or AF_INET6); free what it
 * gathers with rangeset_clear(), after which it is empty again. */
void rangeset_init(struct rangeset *s, int family);
void rangeset_clear(struct rangeset *s);

/*
 * Appends lo..hi (width bytes each, borrowed; lo not above hi).  Order
 * and overlaps do not matter.  Returns 0, or -1 with errno EINVAL (lo
 * above hi) or ENOMEM.
 */
int rangeset_add(struct rangeset *s, const uint8_t *lo, const uint8_t *hi,
    bool allow);

/* Sorts s and joins overlapping and adjacent ranges, whatever their
 * allow flags (the result has none set). */
void rangeset_merge(struct rangeset *s);

/*
 * Writes to out (initialised, empty, same family) the addresses of a
 * that are in no range of b.  Both must be merged (rangeset_merge());
 * the result is too.  A range of a may split in two.  Returns 0, or -1
 * when memory ran out (out then holds part of the result).
 */
int rangeset_subtract(const struct rangeset *a, const struct rangeset *b,
    struct rangeset *out);

/*
 * Writes to out (initialised, empty, same family) the merged set of
 * addresses whose most specific range in s is a block (allow false):
 * among the ranges holding an address, the one with the fewest addresses
 * decides; between ranges of one size the one that starts lower; for the
 * same range twice, allow.  This is how cidr.h decides, so the result is
 * what the daemon blocks.  Returns 0, or -1 when memory ran out.
 */
int rangeset_resolve(const struct rangeset *s, struct rangeset *out);

/*
 * Calls fn for each CIDR prefix of the fewest that cover lo..hi exactly,
 * lowest first: the prefix's first address (borrowed) and its length in
 * bits.  No prefix is shorter than min_bits: rangeset_split(.., 1, ..)
 * turns 0.0.0.0/0 into two /1s, for tools that cannot hold a /0.
 * fn may be NULL to count only.  Returns the number of prefixes.
 */
size_t rangeset_split(int family, const uint8_t *lo, const uint8_t *hi,
    unsigned min_bits, void (*fn)(void *arg, const uint8_t *addr,
    unsigned bits), void *arg);

/* true when lo..hi is exactly one prefix; *bits then gets its length. */
bool rangeset_is_prefix(int family, const uint8_t *lo, const uint8_t *hi,
    unsigned *bits);

#endif
