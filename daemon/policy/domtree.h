/*
 * domtree: the domain matcher.  Holds listed names (lower-case wire form)
 * with a value each and finds, for a query name, the most specific listed
 * name it equals or lies under.  Built once, then read-only: lookups from
 * many threads need no lock and allocate nothing.
 *
 * The table is a hash of whole names; a lookup tries the query name and
 * then each of its parent names, longest first, so the first hit is the
 * most specific entry.  Suffixes of a wire name are tails of it, so no
 * name is ever copied.  A tree serialises to one flat blob that
 * domtree_view() uses in place (a compiled snapshot maps it from disk).
 */
#ifndef CORDON_DOMTREE_H
#define CORDON_DOMTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct domtree;

/* Returns an empty tree; free with domtree_free(). */
struct domtree *domtree_new(void);
void domtree_free(struct domtree *t);

/* Largest value an entry can carry. */
#define DOMTREE_MAX_VALUE 0xffffU

/*
 * Adds name (lower-case wire form) with value (at most DOMTREE_MAX_VALUE).  When the name is already
 * present, merge decides the value kept: it gets the old and the new
 * value and returns the one to keep (NULL merge keeps the old).  Returns
 * 0, or -1 when memory ran out or name is the root (which would cover
 * every name; the root is never matched).
 */
int domtree_add(struct domtree *t, const uint8_t *name, size_t len,
    uint32_t value, uint32_t (*merge)(uint32_t old, uint32_t add));

/* Makes room for n entries in all, so adding them never rehashes.
 * Returns 0, or -1 when memory ran out (the tree is unchanged). */
int domtree_reserve(struct domtree *t, size_t n);

/*
 * Finds the most specific entry covering name (lower-case wire form).
 * Returns true and sets *value and *suffix_off (the offset within name
 * where the matching entry starts) on a hit.
 */
bool domtree_match(const struct domtree *t, const uint8_t *name,
    uint32_t *value, size_t *suffix_off);

size_t domtree_count(const struct domtree *t);

/* Calls fn for each entry, in no particular order. */
void domtree_walk(const struct domtree *t,
    void (*fn)(void *arg, const uint8_t *name, size_t len, uint32_t value),
    void *arg);

/* The largest value of any entry (0 when empty); O(1) on a view. */
uint32_t domtree_max_value(const struct domtree *t);

/* Bytes of memory the tree uses. */
size_t domtree_memory(const struct domtree *t);

/* Size of the serialised form, and writing it to buf (8-byte aligned,
 * domtree_blob_size() bytes).  The form depends on the host's byte
 * order; snapshots record it. */
size_t domtree_blob_size(const struct domtree *t);
void domtree_blob_write(const struct domtree *t, uint8_t *buf);

/*
 * A read-only tree over a serialised blob (borrowed: it must outlive the
 * tree and stay unchanged).  Every offset is checked, so a corrupt blob
 * is refused rather than read out of bounds.  Returns NULL with *why
 * set.  domtree_add() on a view fails.  Free with domtree_free().
 */
struct domtree *domtree_view(const uint8_t *blob, size_t len,
    const char **why);

#endif
