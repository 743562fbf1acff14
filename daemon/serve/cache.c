/*
 * cache: chained hash table plus an LRU list.  Each entry is one
 * allocation: header, key, message and TTL positions.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/cache.h"
#include "base/dname.h"
#include "base/hash.h"

struct centry {
	struct centry *next;		/* hash chain */
	struct centry *lru_prev, *lru_next;
	uint64_t stored_ms;
	uint64_t expires_ms;
	uint32_t hash;
	uint16_t keylen;
	uint16_t nttl;
	uint32_t len;
	uint8_t *key;			/* qname, type, class, do */
	uint16_t *ttl_off;
	uint8_t *msg;
};

struct cache {
	struct centry **buckets;
	size_t mask;
	size_t count, max;
	struct centry lru;		/* sentinel: next = newest */
	struct hash_key key;		/* drawn per cache */
};

#define KEY_MAX (DNAME_MAXWIRE + 5)

static size_t
make_key(uint8_t *key, const uint8_t *qname, size_t qlen, uint16_t qtype,
    uint16_t qclass, uint8_t variant)
{
	memcpy(key, qname, qlen);
	key[qlen] = (uint8_t)(qtype >> 8);
	key[qlen + 1] = (uint8_t)qtype;
	key[qlen + 2] = (uint8_t)(qclass >> 8);
	key[qlen + 3] = (uint8_t)qclass;
	key[qlen + 4] = variant;
	return qlen + 5;
}

/* SipHash under the cache's own key: cache keys are names clients
 * choose, so chains cannot be predicted from outside. */
static uint32_t
hash_key(const struct cache *c, const uint8_t *key, size_t len)
{
	return (uint32_t)hash_bytes(&c->key, key, len);
}

struct cache *
cache_new(size_t max_entries)
{
	struct cache *c = calloc(1, sizeof(*c));
	size_t n = 16;

	if (c == NULL)
		return NULL;
	while (n < max_entries && n < ((size_t)1 << 30))
		n *= 2;
	c->buckets = calloc(n, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->max = max_entries;
	c->lru.lru_next = c->lru.lru_prev = &c->lru;
	hash_key_new(&c->key);
	return c;
}

static void
lru_unlink(struct centry *e)
{
	e->lru_prev->lru_next = e->lru_next;
	e->lru_next->lru_prev = e->lru_prev;
}

static void
lru_push(struct cache *c, struct centry *e)
{
	e->lru_next = c->lru.lru_next;
	e->lru_prev = &c->lru;
	c->lru.lru_next->lru_prev = e;
	c->lru.lru_next = e;
}

static void
remove_entry(struct cache *c, struct centry *e)
{
	struct centry **pp = &c->buckets[e->hash & c->mask];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	lru_unlink(e);
	c->count--;
	free(e);
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	while (c->lru.lru_next != &c->lru)
		remove_entry(c, c->lru.lru_next);
	free(c->buckets);
	free(c);
}

static struct centry *
find(const struct cache *c, const uint8_t *key, size_t keylen, uint32_t h)
{
	struct centry *e;

	for (e = c->buckets[h & c->mask]; e != NULL; e = e->next)
		if (e->hash == h && e->keylen == keylen &&
		    memcmp(e->key, key, keylen) == 0)
			return e;
	return NULL;
}

bool
cache_lookup(struct cache *c, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, uint16_t qclass, uint8_t variant, uint64_t now_ms,
    struct cache_hit *hit)
{
	uint8_t key[KEY_MAX];
	size_t keylen;
	uint32_t h;
	struct centry *e;

	if (c->max == 0)
		return false;
	keylen = make_key(key, qname, qname_len, qtype, qclass, variant);
	h = hash_key(c, key, keylen);
	if ((e = find(c, key, keylen, h)) == NULL)
		return false;
	if (now_ms >= e->expires_ms) {
		remove_entry(c, e);
		return false;
	}
	lru_unlink(e);
	lru_push(c, e);
	hit->msg = e->msg;
	hit->len = e->len;
	hit->ttl_off = e->ttl_off;
	hit->nttl = e->nttl;
	hit->elapsed = (uint32_t)((now_ms - e->stored_ms) / 1000);
	return true;
}

int
cache_store(struct cache *c, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, uint16_t qclass, uint8_t variant, const uint8_t *msg,
    size_t len, const uint16_t *ttl_off, size_t nttl, uint32_t ttl,
    uint64_t now_ms)
{
	uint8_t key[KEY_MAX];
	size_t keylen;
	uint32_t h;
	struct centry *e;

	if (c->max == 0 || ttl == 0 || len > UINT32_MAX || nttl > UINT16_MAX)
		return 0;
	keylen = make_key(key, qname, qname_len, qtype, qclass, variant);
	h = hash_key(c, key, keylen);
	if ((e = find(c, key, keylen, h)) != NULL)
		remove_entry(c, e);
	if (c->count >= c->max)
		remove_entry(c, c->lru.lru_prev);
	e = malloc(sizeof(*e) + nttl * sizeof(uint16_t) + keylen + len);
	if (e == NULL)
		return -1;
	e->ttl_off = (uint16_t *)(e + 1);
	e->key = (uint8_t *)(e->ttl_off + nttl);
	e->msg = e->key + keylen;
	memcpy(e->ttl_off, ttl_off, nttl * sizeof(uint16_t));
	memcpy(e->key, key, keylen);
	memcpy(e->msg, msg, len);
	e->keylen = (uint16_t)keylen;
	e->nttl = (uint16_t)nttl;
	e->len = (uint32_t)len;
	e->hash = h;
	e->stored_ms = now_ms;
	e->expires_ms = now_ms + (uint64_t)ttl * 1000;
	e->next = c->buckets[h & c->mask];
	c->buckets[h & c->mask] = e;
	lru_push(c, e);
	c->count++;
	return 0;
}

/* true when the key's name is name or lies below it. */
static bool
key_under(const struct centry *e, const uint8_t *name, size_t nlen)
{
	size_t klen = (size_t)e->keylen - 5, off = 0;

	while (klen - off >= nlen) {
		if (klen - off == nlen)
			return memcmp(e->key + off, name, nlen) == 0;
		off += 1 + (size_t)e->key[off];
	}
	return false;
}

size_t
cache_flush(struct cache *c, const uint8_t *name)
{
	struct centry *e, *next;
	size_t n = 0, nlen = name ? dname_len(name) : 0;

	for (e = c->lru.lru_next; e != &c->lru; e = next) {
		next = e->lru_next;
		if (name == NULL || key_under(e, name, nlen)) {
			remove_entry(c, e);
			n++;
		}
	}
	return n;
}

size_t
cache_count(const struct cache *c)
{
	return c->count;
}
