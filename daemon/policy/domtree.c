/*
 * domtree: open-addressing hash table of wire names.  A slot (8 bytes)
 * holds 16 bits of the name's hash, the entry's value and the offset of
 * the name in the arena, where an entry is [length][wire name]; a probe
 * reads the arena only when the hash bits agree.  The slot count is not a
 * power of two: the slot of a hash is (hash * nslots) >> 32, so a
 * serialised table is sized to 60 % load whatever the count (a million
 * names: 13 MB of slots, 22 MB of names).  The same layout is the
 * serialised form.
 */
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "policy/domtree.h"

#define ENTRY_HEAD 1		/* length byte */
#define MAX_LOAD_PCT 70		/* while building: grow past this */
#define BLOB_LOAD_PCT 60	/* serialised tables */
#define BLOB_MAGIC 0x45525444U	/* "DTRE" */

struct slot {
	uint16_t tag;		/* low 16 bits of the hash */
	uint16_t value;
	uint32_t off;		/* arena offset + 1; 0 = empty */
};

struct blob_head {
	uint32_t magic;
	uint32_t nslots;
	uint32_t count;
	uint32_t arena_len;
};

struct domtree {
	struct slot *slots;
	uint32_t nslots;
	uint32_t count;
	uint8_t *arena;
	size_t arena_len, arena_cap;
	bool is_view;		/* slots and arena borrowed */
	uint32_t max_value;	/* largest value of a view */
};

/* base/hash's unkeyed hash_fixed(): the table is built from the
 * admin's lists, and the hash must be the same on every host that loads
 * a snapshot.  The high half: home() uses its top bits, the tag its low
 * 16. */
static uint32_t
hash_name(const uint8_t *p, size_t len)
{
	return (uint32_t)(hash_fixed(p, len) >> 32);
}

static inline uint32_t
home(uint32_t h, uint32_t nslots)
{
	return (uint32_t)(((uint64_t)h * nslots) >> 32);
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
	t->nslots = 1024;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
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
	if (!t->is_view) {
		free(t->slots);
		free(t->arena);
	}
	free(t);
}

static const struct slot *
find_slot(const struct domtree *t, const uint8_t *name, size_t len,
    uint32_t h)
{
	uint32_t i = home(h, t->nslots);
	uint16_t tag = (uint16_t)h;

	for (;;) {
		const struct slot *s = &t->slots[i];

		if (s->off == 0)
			return s;
		if (s->tag == tag) {
			const uint8_t *e = t->arena + s->off - 1;

			if (e[0] == len && memcmp(e + ENTRY_HEAD, name, len) == 0)
				return s;
		}
		if (++i == t->nslots)
			i = 0;
	}
}

/* The hash of the name a slot points to (slots keep 16 bits of it). */
static uint32_t
slot_hash(const struct domtree *t, const struct slot *s)
{
	const uint8_t *e = t->arena + s->off - 1;

	return hash_name(e + ENTRY_HEAD, e[0]);
}

static void
place(struct slot *slots, uint32_t nslots, struct slot s, uint32_t h)
{
	uint32_t i = home(h, nslots);

	while (slots[i].off != 0)
		if (++i == nslots)
			i = 0;
	slots[i] = s;
}

/* Lays the entries of t out in a fresh table of n slots. */
static void lay_into(const struct domtree *t, struct slot *slots,
    uint32_t n);

static struct slot *
rehash(const struct domtree *t, uint32_t n)
{
	struct slot *slots = malloc((size_t)n * sizeof(*slots));

	if (slots != NULL)
		lay_into(t, slots, n);
	return slots;
}

static int
grow_slots(struct domtree *t)
{
	struct slot *slots;

	if (t->nslots > UINT32_MAX / 2)
		return -1;
	if ((slots = rehash(t, t->nslots * 2)) == NULL)
		return -1;
	free(t->slots);
	t->slots = slots;
	t->nslots *= 2;
	return 0;
}

int
domtree_reserve(struct domtree *t, size_t n)
{
	uint64_t want = (uint64_t)n * 100 / MAX_LOAD_PCT + 1;
	uint32_t nslots;
	struct slot *slots;

	if (t->is_view || want >= UINT32_MAX)
		return -1;
	if (want <= t->nslots)
		return 0;
	nslots = (uint32_t)want;	/* any count: see home() */
	if ((slots = rehash(t, nslots)) == NULL)
		return -1;
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

int
domtree_add(struct domtree *t, const uint8_t *name, size_t len,
    uint32_t value, uint32_t (*merge)(uint32_t, uint32_t))
{
	uint32_t h = hash_name(name, len);
	struct slot *s;
	uint8_t *e;

	if (t->is_view || len < 2 || len > 255 || value > DOMTREE_MAX_VALUE)
		return -1;
	s = (struct slot *)find_slot(t, name, len, h);
	if (s->off != 0) {
		if (merge != NULL)
			value = merge(s->value, value);
		else
			value = s->value;
		s->value = (uint16_t)value;
		return 0;
	}
	if (t->arena_len + ENTRY_HEAD + len >= UINT32_MAX)
		return -1;
	if (t->arena_len + ENTRY_HEAD + len > t->arena_cap) {
		size_t cap = t->arena_cap ? t->arena_cap * 2 : 4096;
		uint8_t *a;

		while (cap < t->arena_len + ENTRY_HEAD + len)
			cap *= 2;
		if ((a = realloc(t->arena, cap)) == NULL)
			return -1;
		t->arena = a;
		t->arena_cap = cap;
	}
	e = t->arena + t->arena_len;
	e[0] = (uint8_t)len;
	memcpy(e + ENTRY_HEAD, name, len);
	s->tag = (uint16_t)h;
	s->value = (uint16_t)value;
	s->off = (uint32_t)t->arena_len + 1;
	t->arena_len += ENTRY_HEAD + len;
	t->count++;
	if ((uint64_t)t->count * 100 > (uint64_t)t->nslots * MAX_LOAD_PCT)
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
		const struct slot *s = find_slot(t, suffix, slen,
		    hash_name(suffix, slen));

		if (s->off != 0) {
			*value = s->value;
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
	uint32_t i;

	for (i = 0; i < t->nslots; i++) {
		const uint8_t *e;

		if (t->slots[i].off == 0)
			continue;
		e = t->arena + t->slots[i].off - 1;
		fn(arg, e + ENTRY_HEAD, e[0], t->slots[i].value);
	}
}

size_t
domtree_memory(const struct domtree *t)
{
	return sizeof(*t) + (size_t)t->nslots * sizeof(struct slot) +
	    (t->is_view ? t->arena_len : t->arena_cap);
}

/* rehash() into memory the caller provides. */
static void
lay_into(const struct domtree *t, struct slot *slots, uint32_t n)
{
	uint32_t i;

	if (n == t->nslots) {		/* same size, same places */
		memcpy(slots, t->slots, (size_t)n * sizeof(*slots));
		return;
	}
	memset(slots, 0, (size_t)n * sizeof(*slots));
	for (i = 0; i < t->nslots; i++)
		if (t->slots[i].off != 0)
			place(slots, n, t->slots[i], slot_hash(t, &t->slots[i]));
}

/*
 * Slots of a serialised table: the tree's own when it is between 45 and
 * 70 % full (then it is copied as it is), else BLOB_LOAD_PCT full; at
 * least one free either way.
 */
static uint32_t
blob_slots(const struct domtree *t)
{
	uint64_t n = (uint64_t)t->count * 100 / BLOB_LOAD_PCT + 1;

	if ((uint64_t)t->count * 100 >= (uint64_t)t->nslots * 45 &&
	    (uint64_t)t->count * 100 <= (uint64_t)t->nslots * MAX_LOAD_PCT &&
	    t->count < t->nslots)
		return t->nslots;
	return n < 16 ? 16 : (uint32_t)n;
}

size_t
domtree_blob_size(const struct domtree *t)
{
	size_t n = sizeof(struct blob_head) +
	    (size_t)blob_slots(t) * sizeof(struct slot) + t->arena_len;

	return (n + 7) & ~(size_t)7;
}

void
domtree_blob_write(const struct domtree *t, uint8_t *buf)
{
	uint32_t nslots = blob_slots(t);
	struct blob_head h = { BLOB_MAGIC, nslots, t->count,
	    (uint32_t)t->arena_len };
	size_t slots = (size_t)nslots * sizeof(struct slot);
	size_t total = domtree_blob_size(t);
	size_t used = sizeof(h) + slots + t->arena_len;
	memcpy(buf, &h, sizeof(h));
	lay_into(t, (struct slot *)(void *)(buf + sizeof(h)), nslots);
	if (t->arena_len > 0)
		memcpy(buf + sizeof(h) + slots, t->arena, t->arena_len);
	memset(buf + used, 0, total - used);
}

/* Whether name[0..len) is exactly one uncompressed wire name: labels of
 * at most 63 octets that end with the root label at name[len - 1].  The
 * lookups and walks (wire_len) rely on it. */
static bool
is_wire_name(const uint8_t *name, size_t len)
{
	size_t at = 0;

	if (len > 255)
		return false;
	while (at < len && name[at] != 0) {
		if (name[at] > 63)
			return false;
		at += 1 + (size_t)name[at];
	}
	return at == len - 1;
}

/* Every slot must point at a whole entry inside the arena, ending in the
 * root label; there must be a free slot (or a miss would probe forever).
 * Lookups and walks go through the slots only, so this is all they need.
 * Also finds the largest value, for the caller's checks. */
static bool
blob_is_sound(const struct slot *slots, uint32_t nslots,
    const uint8_t *arena, size_t arena_len, uint32_t count,
    uint32_t *max_value)
{
	uint32_t i, used = 0;

	*max_value = 0;
	for (i = 0; i < nslots; i++) {
		size_t off, len;

		if (slots[i].off == 0)
			continue;
		off = (size_t)slots[i].off - 1;
		if (off + ENTRY_HEAD > arena_len)
			return false;
		len = arena[off];
		if (len == 0 || off + ENTRY_HEAD + len > arena_len ||
		    !is_wire_name(arena + off + ENTRY_HEAD, len))
			return false;
		if (slots[i].value > *max_value)
			*max_value = slots[i].value;
		used++;
	}
	return used == count && used < nslots;
}

struct domtree *
domtree_view(const uint8_t *blob, size_t len, const char **why)
{
	struct blob_head h;
	struct domtree *t;
	size_t slots;
	uint32_t max_value;

	*why = "name table truncated";
	if (len < sizeof(h))
		return NULL;
	memcpy(&h, blob, sizeof(h));
	if (h.magic != BLOB_MAGIC) {
		*why = "name table has a bad magic number";
		return NULL;
	}
	slots = (size_t)h.nslots * sizeof(struct slot);
	if (h.nslots == 0 || sizeof(h) + slots + h.arena_len > len)
		return NULL;
	if (((uintptr_t)blob & 7) != 0) {
		*why = "name table is not aligned";
		return NULL;
	}
	if (!blob_is_sound((const struct slot *)(blob + sizeof(h)), h.nslots,
	    blob + sizeof(h) + slots, h.arena_len, h.count, &max_value)) {
		*why = "name table is corrupt";
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*why = "out of memory while loading the name table";
		return NULL;
	}
	t->is_view = true;
	t->slots = (struct slot *)(blob + sizeof(h));
	t->nslots = h.nslots;
	t->count = h.count;
	t->arena = (uint8_t *)(blob + sizeof(h) + slots);
	t->arena_len = h.arena_len;
	t->arena_cap = h.arena_len;
	t->max_value = max_value;
	return t;
}

uint32_t
domtree_max_value(const struct domtree *t)
{
	uint32_t i, max = 0;

	if (t->is_view)
		return t->max_value;
	for (i = 0; i < t->nslots; i++)
		if (t->slots[i].off != 0 && t->slots[i].value > max)
			max = t->slots[i].value;
	return max;
}
