/*
 * cidr: the address matcher.  Holds IPv4 and IPv6 prefixes, single
 * addresses and A-B ranges with a value each, and finds for an address
 * the most specific entry containing it.  Built by adding entries and
 * freezing once; a frozen matcher is read-only, so lookups from many
 * threads need no lock, and they allocate nothing.
 *
 * Freezing sorts the entries and flattens them into disjoint intervals,
 * each naming the most specific entry over it, so a lookup is one binary
 * search.  IPv4 and IPv6 are kept apart; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is an IPv4 address here, both when it is added and
 * when it is looked up.  Text parsing is here too (cidr_parse_range()),
 * so list formats and callers share one address syntax.
 */
#ifndef CORDON_CIDR_H
#define CORDON_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;
struct cidr;

/* Longest text cidr_format_range() writes, with its NUL. */
#define CIDR_RANGESTRLEN 96

/* The entry a lookup found.  lo and hi are its first and last address in
 * network byte order: 4 bytes for AF_INET (the rest zero), 16 for
 * AF_INET6. */
struct cidr_match {
	uint32_t value;
	int family;
	uint8_t lo[16];
	uint8_t hi[16];
};

/* Returns an empty matcher, or NULL when memory ran out; free with
 * cidr_free(). */
struct cidr *cidr_new(void);
void cidr_free(struct cidr *c);

/*
 * Adds the range lo..hi (inclusive, network byte order, 4 bytes for
 * AF_INET, 16 for AF_INET6; both borrowed) with value.  A prefix is the
 * range of its first and last address.  An AF_INET6 range that lies
 * wholly inside ::ffff:0:0/96 is stored as the IPv4 range it maps.
 *
 * The same range added twice is one entry: merge decides its value.  It
 * gets the value so far and the new one and returns the value to keep
 * (NULL merge keeps the old), as with domtree_add().  Merging happens in
 * cidr_freeze(), in the order the entries were added; the merge given
 * with the later entry is the one called.
 *
 * Returns 0, or -1 with errno EINVAL (family not AF_INET or AF_INET6, lo
 * above hi, matcher already frozen) or ENOMEM.
 */
int cidr_add(struct cidr *c, int family, const uint8_t *lo,
    const uint8_t *hi, uint32_t value,
    uint32_t (*merge)(uint32_t old, uint32_t add));

/*
 * Parses text as an address range: "ADDR" (one address), "ADDR/BITS" (a
 * prefix; host bits set are an error), or "A-B" (inclusive; blanks may
 * surround the '-'; both of one family, A not above B), IPv4 or IPv6.
 * Sets *family, and lo and hi (network byte order, 4 or 16 bytes used).
 * Returns 0, or -1 with *why set to a static reason that reads after the
 * quoted text: "\"10.0.0.1/8\" has host bits set after the prefix".
 */
int cidr_parse_range(const char *text, int *family, uint8_t lo[16],
    uint8_t hi[16], const char **why);

/* cidr_parse_range() then cidr_add().  Returns 0, or -1 with *why set:
 * the parse error, or the errno text when the add failed. */
int cidr_add_text(struct cidr *c, const char *text, uint32_t value,
    uint32_t (*merge)(uint32_t old, uint32_t add), const char **why);

/*
 * Builds the lookup tables after the last cidr_add().  The most specific
 * entry wins: among the entries containing an address, the one with the
 * fewest addresses; between different ranges of the same size, the one
 * that starts lower.  Adding after this fails; calling it again does
 * nothing.  Returns 0, or -1 when memory ran out (the matcher is then
 * still unfrozen, with its entries, and may be frozen again or freed).
 */
int cidr_freeze(struct cidr *c);

/*
 * Finds the most specific entry containing the address (AF_INET or
 * AF_INET6 sockaddr; other families never match).  Returns true and,
 * when m is not NULL, fills *m on a hit.  A matcher not yet frozen
 * matches nothing.  Safe from many threads on a frozen matcher.
 */
bool cidr_lookup(const struct cidr *c, const struct sockaddr *sa,
    struct cidr_match *m);

/* The same for a raw address: 4 bytes for AF_INET, 16 for AF_INET6. */
bool cidr_lookup_addr(const struct cidr *c, int family,
    const uint8_t *addr, struct cidr_match *m);

/*
 * Writes the matched entry as text cidr_parse_range() reads back: "ADDR"
 * for a single address, "ADDR/BITS" when lo..hi is a prefix, "LO-HI"
 * otherwise.  Returns the length, or 0 when it does not fit in size
 * (CIDR_RANGESTRLEN always fits).
 */
size_t cidr_format_range(const struct cidr_match *m, char *buf,
    size_t size);

/* Entries: as added before cidr_freeze(), distinct ranges after it. */
size_t cidr_count(const struct cidr *c);

/* Bytes of memory the matcher uses. */
size_t cidr_memory(const struct cidr *c);

/*
 * Calls fn for each entry of a frozen matcher (nothing before
 * cidr_freeze()): IPv4 first, then IPv6, each by first address, then by
 * last.  lo and hi are borrowed for the call, laid out as in struct
 * cidr_match.
 */
void cidr_walk(const struct cidr *c,
    void (*fn)(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    uint32_t value), void *arg);

/*
 * Serialised form of a frozen matcher (for compiled snapshots): its
 * size, rounded up to 8 bytes, and writing it to an 8-byte aligned buf.
 * The form depends on the host's byte order; snapshots record it.
 */
size_t cidr_blob_size(const struct cidr *c);
void cidr_blob_write(const struct cidr *c, uint8_t *buf);

/*
 * A frozen, read-only matcher over a serialised blob (borrowed: it must
 * outlive the matcher and stay unchanged).  Every index and the order of
 * the intervals are checked, so a corrupt blob is refused, not read out
 * of bounds.  Returns NULL with *why set.  Free with cidr_free().
 */
struct cidr *cidr_view(const uint8_t *blob, size_t len, const char **why);

#endif
