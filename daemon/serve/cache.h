/*
 * cache: a worker's cache of upstream answers, keyed by query name, type,
 * class and DO bit.  Bounded by an entry count with LRU eviction; an
 * entry lives for the TTL it was stored with and its records' TTLs count
 * down as it ages.  One per worker thread, so no locks.  Time is passed
 * in by the caller (milliseconds of a monotonic clock).
 */
#ifndef CORDON_CACHE_H
#define CORDON_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache;

/* A stored answer, borrowed from the cache until its next change. */
struct cache_hit {
	const uint8_t *msg;	/* wire form, no OPT */
	size_t len;
	const uint16_t *ttl_off;	/* positions of every TTL in msg */
	size_t nttl;
	uint32_t elapsed;	/* whole seconds since it was stored */
};

/* A cache of at most max_entries answers (0: the cache stores nothing).
 * Free with cache_free(). */
struct cache *cache_new(size_t max_entries);
void cache_free(struct cache *c);

/*
 * Answers are kept apart by the query bits that change what an upstream
 * says: DO (DNSSEC records) and CD (unvalidated data).  variant is the
 * OR of these.
 */
#define CACHE_DO	0x01
#define CACHE_CD	0x02

/* Finds a fresh answer.  An expired one is removed and misses. */
bool cache_lookup(struct cache *c, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, uint16_t qclass, uint8_t variant, uint64_t now_ms,
    struct cache_hit *hit);

/*
 * Stores a copy of msg for ttl seconds, replacing an older answer for the
 * same key and evicting the least recently used entry when full.  ttl 0
 * stores nothing.  Returns 0, or -1 when memory ran out.
 */
int cache_store(struct cache *c, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, uint16_t qclass, uint8_t variant, const uint8_t *msg,
    size_t len, const uint16_t *ttl_off, size_t nttl, uint32_t ttl,
    uint64_t now_ms);

/* Removes every entry for name and the names below it; NULL removes all.
 * Returns the number removed. */
size_t cache_flush(struct cache *c, const uint8_t *name);

size_t cache_count(const struct cache *c);

#endif
