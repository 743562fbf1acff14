/*
 * domtree: open-addressing hash table of wire names.  Slots hold a hash
 * and an entry index; names live back to back in one arena.  At a load
 * factor of at most 1/2 a miss costs about one probe per label.
 */
#include <stdlib.h>
#include <string.h>

#include "domtree.h"

struct entry {
	uint32_t name_off;	/* in arena; first byte is the name's length */
	uint32_t value;
};

struct slot {
	uint32_t hash;
	uint32_t entry;		/* index + 1; 0 = empty */
};

struct domtree {
	struct slot *slots;
	size_t mask;		/* nslots - 1 */
	struct entry *entries;
	size_t count, entries_cap;
	uint8_t *arena;		/* per entry: 1 length byte + wire name */
	size_t arena_len, arena_cap;
};

/* FNV-1a: names are short and already lower case; the table is built
 * from admin-supplied lists, not from what clients send. */
static uint32_t
hash_name(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261U;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619U;
	}
	return h;
}

static size_t
wire_len(const uint8_t *name)
{
	size_t n = 0;

	while (name[n] != 0)
		n += 1 + (size_t)name[n];
	return n + 1;
}

struct domtree *
domtree_new(void)
{
	struct domtree *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->mask = 1023;
	t->slots = calloc(t->mask + 1, sizeof(*t->slots));
	if (t->slots == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
domtree_free(struct domtree *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t->entries);
	free(t->arena);
	free(t);
}

static const uint8_t *
entry_name(const struct domtree *t, const struct entry *e, size_t *len)
{
	*len = t->arena[e->name_off];
	return t->arena + e->name_off + 1;
}

static struct slot *
find_slot(const struct domtree *t, const uint8_t *name, size_t len,
    uint32_t h)
{
	size_t i = h & t->mask;

	for (;; i = (i + 1) & t->mask) {
		struct slot *s = &t->slots[i];
		const uint8_t *n;
		size_t nlen;

		if (s->entry == 0)
			return s;
		if (s->hash != h)
			continue;
		n = entry_name(t, &t->entries[s->entry - 1], &nlen);
		if (nlen == len && memcmp(n, name, len) == 0)
			return s;
	}
}

static int
grow_slots(struct domtree *t)
{
	size_t nslots = (t->mask + 1) * 2, i;
	struct slot *old = t->slots;
	size_t oldn = t->mask + 1;

	t->slots = calloc(nslots, sizeof(*t->slots));
	if (t->slots == NULL) {
		t->slots = old;
		return -1;
	}
	t->mask = nslots - 1;
	for (i = 0; i < oldn; i++) {
		size_t j;

		if (old[i].entry == 0)
			continue;
		for (j = old[i].hash & t->mask; t->slots[j].entry != 0;
		    j = (j + 1) & t->mask)
			;
		t->slots[j] = old[i];
	}
	free(old);
	return 0;
}

static int
reserve(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 1024;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (np == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

int
domtree_add(struct domtree *t, const uint8_t *name, size_t len,
    uint32_t value, uint32_t (*merge)(uint32_t, uint32_t))
{
	uint32_t h = hash_name(name, len);
	struct slot *s = find_slot(t, name, len, h);
	struct entry *e;

	if (s->entry != 0) {
		e = &t->entries[s->entry - 1];
		if (merge != NULL)
			e->value = merge(e->value, value);
		return 0;
	}
	if (len > 255 || t->arena_len + 1 + len > UINT32_MAX ||
	    t->count + 1 >= UINT32_MAX)
		return -1;
	if (reserve((void **)&t->entries, &t->entries_cap, t->count + 1,
	    sizeof(*t->entries)) == -1 ||
	    reserve((void **)&t->arena, &t->arena_cap, t->arena_len + 1 + len,
	    1) == -1)
		return -1;
	e = &t->entries[t->count];
	e->name_off = (uint32_t)t->arena_len;
	e->value = value;
	t->arena[t->arena_len] = (uint8_t)len;
	memcpy(t->arena + t->arena_len + 1, name, len);
	t->arena_len += 1 + len;
	s->hash = h;
	s->entry = (uint32_t)++t->count;
	if (t->count * 2 > t->mask + 1)
		return grow_slots(t);
	return 0;
}

bool
domtree_match(const struct domtree *t, const uint8_t *name,
    uint32_t *value, size_t *suffix_off)
{
	size_t len = wire_len(name), off = 0;

	/* Longest first: the first name found is the most specific. */
	while (name[off] != 0) {
		const uint8_t *suffix = name + off;
		size_t slen = len - off;
		struct slot *s = find_slot(t, suffix, slen,
		    hash_name(suffix, slen));

		if (s->entry != 0) {
			*value = t->entries[s->entry - 1].value;
			*suffix_off = off;
			return true;
		}
		off += 1 + (size_t)name[off];
	}
	return false;
}

size_t
domtree_count(const struct domtree *t)
{
	return t->count;
}

void
domtree_walk(const struct domtree *t,
    void (*fn)(void *, const uint8_t *, size_t, uint32_t), void *arg)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		size_t len;
		const uint8_t *n = entry_name(t, &t->entries[i], &len);

		fn(arg, n, len, t->entries[i].value);
	}
}

size_t
domtree_memory(const struct domtree *t)
{
	return sizeof(*t) + (t->mask + 1) * sizeof(struct slot) +
	    t->entries_cap * sizeof(struct entry) + t->arena_cap;
}
