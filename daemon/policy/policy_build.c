/*
 * policy_build: a policy from a manifest's sources.  Every source
 * becomes a list; its names go into the domtree and its ranges into the
 * cidr, each entry's value naming its list and kind (policy_impl.h),
 * with the counts report.json shows.
 */
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/diag.h"
#include "policy/cidr.h"
#include "policy/domtree.h"
#include "policy/parts.h"
#include "policy/policy.h"
#include "policy/policy_impl.h"

#define MAX_LISTS (DOMTREE_MAX_VALUE >> 1)

/* The same name listed twice: an allow entry wins over a block entry
 * (an admin's exception must not be undone by another list), otherwise
 * the first list to name it keeps it. */
static uint32_t
merge(uint32_t old, uint32_t add)
{
	if (VALUE_ALLOWS(add) && !VALUE_ALLOWS(old))
		return add;
	return old;
}

/* The ranges seen while building, to count duplicates for report.json
 * (the matcher merges them only when it is frozen). */
struct range_set {
	uint8_t (*keys)[33];		/* family byte, lo, hi */
	size_t n, cap;			/* cap: a power of two, or 0 */
};

static uint64_t
range_key_hash(const uint8_t *k)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < 33; i++) {
		h ^= k[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Adds the key; returns 1 when it was new, 0 when seen, -1 on ENOMEM. */
static int
range_set_add(struct range_set *rs, const uint8_t *key)
{
	size_t i;

	if ((rs->n + 1) * 2 > rs->cap) {
		struct range_set bigger = { 0 };

		bigger.cap = rs->cap ? rs->cap * 2 : 1024;
		bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
		if (bigger.keys == NULL)
			return -1;
		for (i = 0; i < rs->cap; i++)
			if (rs->keys[i][0] != 0)
				(void)range_set_add(&bigger, rs->keys[i]);
		free(rs->keys);
		*rs = bigger;
	}
	for (i = range_key_hash(key) & (rs->cap - 1); rs->keys[i][0] != 0;
	    i = (i + 1) & (rs->cap - 1))
		if (memcmp(rs->keys[i], key, 33) == 0)
			return 0;
	memcpy(rs->keys[i], key, 33);
	rs->n++;
	return 1;
}

struct load_state {
	struct domtree *names;
	struct cidr *ranges;
	struct range_set *seen;
	size_t list;
	struct source_stats *st;
	bool out_of_memory;
};

static int
on_name(void *arg, const struct source *src, const uint8_t *wire,
    size_t len, enum list_kind kind, size_t line)
{
	struct load_state *ls = arg;
	size_t before = domtree_count(ls->names);

	if (domtree_add(ls->names, wire, len, VALUE(ls->list, kind),
	    merge) == -1) {
		ls->out_of_memory = true;
		return -1;
	}
	ls->st->read++;
	if (domtree_count(ls->names) > before)
		ls->st->kept++;
	else
		ls->st->duplicates++;
	return 0;
}

static int
on_range(void *arg, const struct source *src, int family, const uint8_t *lo,
    const uint8_t *hi, enum list_kind kind, size_t line)
{
	struct load_state *ls = arg;
	size_t n = family == AF_INET ? 4 : 16;
	uint8_t key[33] = { (uint8_t)(family == AF_INET ? 4 : 6) };
	int is_new;

	memcpy(key + 1, lo, n);
	memcpy(key + 17, hi, n);
	if (cidr_add(ls->ranges, family, lo, hi, VALUE(ls->list, kind),
	    merge) == -1 || (is_new = range_set_add(ls->seen, key)) == -1) {
		ls->out_of_memory = true;
		return -1;
	}
	ls->st->read++;
	if (is_new)
		ls->st->kept++;
	else
		ls->st->duplicates++;
	return 0;
}

/* A copy of s the parts own, or NULL when out of memory. */
static char *
keep(struct policy_parts *pp, const char *s)
{
	char *c = strdup(s ? s : "");

	if (c == NULL)
		return NULL;
	pp->strings[pp->nstrings++] = c;
	return c;
}

/* The tables for nsources lists, empty; -1 when out of memory (then
 * nothing is kept). */
static int
parts_new(struct policy_parts *pp, size_t nsources)
{
	pp->names = domtree_new();
	pp->ranges = cidr_new();
	pp->lists = calloc(nsources ? nsources : 1, sizeof(*pp->lists));
	pp->strings = calloc(3 * nsources + 1, sizeof(*pp->strings));
	if (pp->names == NULL || pp->ranges == NULL || pp->lists == NULL ||
	    pp->strings == NULL) {
		policy_parts_clear(pp);
		return -1;
	}
	return 0;
}

/* Source src becomes list i of pp; -1 when out of memory. */
static int
add_list(struct policy_parts *pp, size_t i, const struct source *src)
{
	struct policy_list *l = &pp->lists[i];

	l->name = keep(pp, src->name);
	l->category = keep(pp, src->category);
	l->reference = keep(pp, src->reference);
	l->ede = src->ede;
	l->kind = src->kind;
	pp->nlists = i + 1;
	if (l->name == NULL || l->category == NULL || l->reference == NULL)
		return -1;
	return 0;
}

/* Room for about as many names as the files can hold (one a line of
 * ~20 bytes), so a million names are not rehashed ten times over. */
static void
reserve_names(const struct manifest *m, struct domtree *names)
{
	struct stat st;
	size_t i, bytes = 0;

	for (i = 0; i < m->nsources; i++)
		if (m->sources[i].file != NULL &&
		    stat(m->sources[i].file, &st) == 0 && st.st_size > 0)
			bytes += (size_t)st.st_size;
	(void)domtree_reserve(names, bytes / 20);
}

struct policy *
policy_build(const struct manifest *m, const struct policy_answer *pa,
    struct diag *const *ds, struct source_stats *stats)
{
	struct policy_parts pp = { 0 };
	struct source_stats scratch;
	struct range_set seen = { 0 };
	struct policy *p;
	size_t i;

	if (m->nsources > MAX_LISTS) {
		diag_add(ds[0], m->path, 0, "more than %u sources",
		    (unsigned)MAX_LISTS);
		return NULL;
	}
	if (parts_new(&pp, m->nsources) == -1) {
		diag_add(ds[0], m->path, 0, "out of memory while building "
		    "the policy");
		return NULL;
	}
	/* Only a hint: a table too big to reserve grows as names come. */
	reserve_names(m, pp.names);
	for (i = 0; i < m->nsources; i++) {
		const struct source *src = &m->sources[i];
		struct load_state ls = { pp.names, pp.ranges, &seen, i, stats ?
		    &stats[i] : &scratch, false };
		size_t before;

		memset(ls.st, 0, sizeof(*ls.st));
		ls.out_of_memory = add_list(&pp, i, src) == -1;
		before = diag_count(ds[i]);
		if (ls.out_of_memory || source_parse_all(src, ds[i], on_name,
		    on_range, &ls) == -1) {
			/* Freed first: the message needs memory too. */
			ls.st->failed = true;
			policy_parts_clear(&pp);
			free(seen.keys);
			if (ls.out_of_memory)
				diag_add(ds[i], m->path, src->line,
				    "[source %s]: out of memory while loading "
				    "%s", src->name, src->file ? src->file :
				    "it");
			return NULL;
		}
		ls.st->bad = diag_count(ds[i]) - before;
	}
	free(seen.keys);
	if (cidr_freeze(pp.ranges) == -1) {
		policy_parts_clear(&pp);
		diag_add(ds[0], m->path, 0, "out of memory while indexing "
		    "the address ranges");
		return NULL;
	}
	if ((p = policy_from_parts(&pp, pa)) == NULL)
		diag_add(ds[0], m->path, 0, "out of memory while building "
		    "the policy");
	return p;
}

struct policy *
policy_load_manifest(const char *path, const struct policy_answer *pa,
    struct diag *d)
{
	struct manifest *m;
	struct policy *p;
	struct diag **ds;
	size_t i;

	if ((m = manifest_load(path, d)) == NULL)
		return NULL;
	ds = calloc(m->nsources + 1, sizeof(*ds));
	if (ds == NULL) {
		diag_add(d, path, 0, "out of memory while loading the lists");
		manifest_free(m);
		return NULL;
	}
	for (i = 0; i <= m->nsources; i++)
		ds[i] = d;
	p = policy_build(m, pa, ds, NULL);
	free(ds);
	manifest_free(m);
	return p;
}
