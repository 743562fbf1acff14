/*
 * policy: builds a domtree from a manifest's sources and answers verdicts.
 * An entry's value packs the index of its list and its kind.
 */
#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <ldns/sha2.h>

#include "policy/cidr.h"
#include "base/diag.h"
#include "base/hash.h"
#include "policy/domtree.h"
#include "policy/geoip.h"
#include "policy/policy.h"
#include "policy/parts.h"

struct policy {
	atomic_uint refs;
	struct policy_parts parts;
	struct policy_answer answer;
	struct geoip *geo;
	char id[POLICY_ID_LEN + 1];
};

#define VALUE(list, kind) ((uint32_t)(list) << 1 | ((kind) == KIND_ALLOW))
#define VALUE_LIST(v) ((v) >> 1)
#define VALUE_ALLOWS(v) (((v) & 1) != 0)
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

/* The id is a digest of every entry in a canonical order, so the same
 * lists give the same id on every host, from a manifest or a snapshot. */
struct id_entry {
	uint64_t key;		/* a 64-bit hash of the name: sort key */
	const uint8_t *name;
	size_t len;
	uint32_t value;
};

struct id_state {
	struct id_entry *v;
	size_t n;
};

static void
collect(void *arg, const uint8_t *name, size_t len, uint32_t value)
{
	struct id_state *st = arg;

	st->v[st->n].key = hash_fixed(name, len);
	st->v[st->n].name = name;
	st->v[st->n].len = len;
	st->v[st->n].value = value;
	st->n++;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct id_entry *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c;

	/* Any order fixed by content alone gives a canonical digest; a
	 * hash order is decided by one compare almost always. */
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

struct range_hash {
	ldns_sha256_CTX *ctx;
	const struct policy_parts *pp;
};

/* Ranges hash like names: by list name, category and kind, never by
 * list index or host byte order, so the id is the content's. */
static void
hash_range(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    uint32_t value)
{
	struct range_hash *rh = arg;
	const struct policy_list *l = &rh->pp->lists[VALUE_LIST(value)];
	uint8_t head[2] = { family == AF_INET ? 4 : 6, VALUE_ALLOWS(value) };
	size_t n = family == AF_INET ? 4 : 16;

	ldns_sha256_update(rh->ctx, head, sizeof(head));
	ldns_sha256_update(rh->ctx, lo, n);
	ldns_sha256_update(rh->ctx, hi, n);
	ldns_sha256_update(rh->ctx, (const uint8_t *)l->name,
	    strlen(l->name) + 1);
	ldns_sha256_update(rh->ctx, (const uint8_t *)l->category,
	    strlen(l->category) + 1);
}

static void
hash_u32(ldns_sha256_CTX *ctx, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	ldns_sha256_update(ctx, b, sizeof(b));
}

static void
hash_str(ldns_sha256_CTX *ctx, const char *s)
{
	ldns_sha256_update(ctx, (const uint8_t *)s, strlen(s) + 1);
}

static int
cmp_list(const void *a, const void *b)
{
	const struct policy_list *x = *(const struct policy_list *const *)a;
	const struct policy_list *y = *(const struct policy_list *const *)b;

	return strcmp(x->name, y->name);
}

/* The list table by name (names are unique; entries name their list by
 * name too, never by index, so the manifest's order does not count). */
static int
hash_lists(ldns_sha256_CTX *ctx, const struct policy_parts *pp)
{
	const struct policy_list **v;
	size_t i;

	if ((v = calloc(pp->nlists ? pp->nlists : 1, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < pp->nlists; i++)
		v[i] = &pp->lists[i];
	qsort(v, pp->nlists, sizeof(*v), cmp_list);
	hash_u32(ctx, (uint32_t)pp->nlists);
	for (i = 0; i < pp->nlists; i++) {
		hash_u32(ctx, (uint32_t)v[i]->kind << 16 | v[i]->ede);
		hash_str(ctx, v[i]->name);
		hash_str(ctx, v[i]->category);
		hash_str(ctx, v[i]->reference ? v[i]->reference : "");
	}
	free(v);
	return 0;
}

int
policy_parts_digest(const struct policy_parts *pp,
    uint8_t digest[POLICY_DIGEST_LEN])
{
	struct id_state st = { 0 };
	ldns_sha256_CTX ctx;
	size_t i, count = domtree_count(pp->names);

	st.v = calloc(count ? count : 1, sizeof(*st.v));
	if (st.v == NULL)
		return -1;
	domtree_walk(pp->names, collect, &st);
	qsort(st.v, st.n, sizeof(*st.v), cmp_entry);
	ldns_sha256_init(&ctx);
	if (hash_lists(&ctx, pp) == -1) {
		free(st.v);
		return -1;
	}
	for (i = 0; i < st.n; i++) {
		const struct policy_list *l =
		    &pp->lists[VALUE_LIST(st.v[i].value)];
		uint8_t kind = VALUE_ALLOWS(st.v[i].value);

		ldns_sha256_update(&ctx, st.v[i].name, st.v[i].len);
		ldns_sha256_update(&ctx, &kind, 1);
		ldns_sha256_update(&ctx, (const uint8_t *)l->name,
		    strlen(l->name) + 1);
		ldns_sha256_update(&ctx, (const uint8_t *)l->category,
		    strlen(l->category) + 1);
	}
	if (pp->ranges != NULL) {
		struct range_hash rh = { &ctx, pp };

		cidr_walk(pp->ranges, hash_range, &rh);
	}
	ldns_sha256_final(digest, &ctx);
	free(st.v);
	return 0;
}

static int
cmp_country(const void *a, const void *b)
{
	return memcmp(a, b, 2);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The id: the parts' digest and the answer settings (sorted, so the
 * order they were configured in does not count). */
static void
compute_id(struct policy *p)
{
	const struct policy_answer *pa = &p->answer;
	ldns_sha256_CTX ctx;
	uint8_t digest[LDNS_SHA256_DIGEST_LENGTH], b[2];
	size_t i;

	ldns_sha256_init(&ctx);
	ldns_sha256_update(&ctx, p->parts.digest, POLICY_DIGEST_LEN);
	hash_u32(&ctx, (uint32_t)pa->action);
	hash_u32(&ctx, pa->ttl);
	ldns_sha256_update(&ctx, pa->sinkhole_a, sizeof(pa->sinkhole_a));
	ldns_sha256_update(&ctx, pa->sinkhole_aaaa,
	    sizeof(pa->sinkhole_aaaa));
	b[0] = pa->check_cname;
	b[1] = pa->check_answer_ips;
	ldns_sha256_update(&ctx, b, sizeof(b));
	hash_u32(&ctx, (uint32_t)pa->ncountries);
	for (i = 0; i < pa->ncountries; i++)
		ldns_sha256_update(&ctx, (const uint8_t *)pa->countries[i], 2);
	hash_u32(&ctx, (uint32_t)pa->nasns);
	for (i = 0; i < pa->nasns; i++)
		hash_u32(&ctx, pa->asns[i]);
	ldns_sha256_final(digest, &ctx);
	for (i = 0; i < LDNS_SHA256_DIGEST_LENGTH; i++)
		snprintf(p->id + 2 * i, 3, "%02x", digest[i]);
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

static void
parts_clear(struct policy_parts *pp)
{
	size_t i;

	for (i = 0; i < pp->nstrings; i++)
		free(pp->strings[i]);
	free(pp->strings);
	free(pp->lists);
	domtree_free(pp->names);
	cidr_free(pp->ranges);
	if (pp->map != NULL)
		munmap(pp->map, pp->map_len);
	memset(pp, 0, sizeof(*pp));
}

struct parts_check {
	size_t nlists;
	bool bad;
};

static void
check_name(void *arg, const uint8_t *name, size_t len, uint32_t value)
{
	struct parts_check *pc = arg;

	if (VALUE_LIST(value) >= pc->nlists)
		pc->bad = true;
}

static void
check_range(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    uint32_t value)
{
	check_name(arg, NULL, 0, value);
}

int
policy_parts_check(const struct policy_parts *pp, const char **why)
{
	struct parts_check pc = { pp->nlists, false };

	if (domtree_count(pp->names) > 0 &&
	    VALUE_LIST(domtree_max_value(pp->names)) >= pp->nlists)
		pc.bad = true;
	if (pp->ranges != NULL)
		cidr_walk(pp->ranges, check_range, &pc);
	if (pc.bad) {
		*why = "an entry names a list the file does not have";
		return -1;
	}
	return 0;
}

struct policy *
policy_from_parts(struct policy_parts *parts, const struct policy_answer *pa)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		parts_clear(parts);
		return NULL;
	}
	atomic_init(&p->refs, 1);
	p->parts = *parts;
	memset(parts, 0, sizeof(*parts));
	p->answer = *pa;
	p->answer.countries = NULL;
	p->answer.asns = NULL;
	if (pa->ncountries > 0) {
		char (*c)[3] = calloc(pa->ncountries, sizeof(*c));

		if (c == NULL)
			goto fail;
		memcpy(c, pa->countries, pa->ncountries * sizeof(*c));
		qsort(c, pa->ncountries, sizeof(*c), cmp_country);
		p->answer.countries = (const char (*)[3])c;
	}
	if (pa->nasns > 0) {
		uint32_t *a = calloc(pa->nasns, sizeof(*a));

		if (a == NULL)
			goto fail;
		memcpy(a, pa->asns, pa->nasns * sizeof(*a));
		qsort(a, pa->nasns, sizeof(*a), cmp_u32);
		p->answer.asns = a;
	}
	if (!p->parts.has_digest) {
		if (policy_parts_digest(&p->parts, p->parts.digest) == -1)
			goto fail;
		p->parts.has_digest = true;
	}
	compute_id(p);
	return p;
fail:
	policy_unref(p);
	return NULL;
}

void
policy_get_parts(const struct policy *p, struct policy_parts *parts)
{
	*parts = p->parts;
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
	pp.names = domtree_new();
	pp.ranges = cidr_new();
	pp.lists = calloc(m->nsources ? m->nsources : 1, sizeof(*pp.lists));
	pp.strings = calloc(3 * m->nsources + 1, sizeof(*pp.strings));
	if (pp.names == NULL || pp.ranges == NULL || pp.lists == NULL ||
	    pp.strings == NULL) {
		diag_add(ds[0], m->path, 0, "out of memory while building "
		    "the policy");
		parts_clear(&pp);
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
		pp.lists[i].name = keep(&pp, src->name);
		pp.lists[i].category = keep(&pp, src->category);
		pp.lists[i].reference = keep(&pp, src->reference);
		pp.lists[i].ede = src->ede;
		pp.lists[i].kind = src->kind;
		pp.nlists = i + 1;
		before = diag_count(ds[i]);
		if (pp.lists[i].name == NULL || pp.lists[i].category == NULL ||
		    pp.lists[i].reference == NULL)
			ls.out_of_memory = true;
		if (ls.out_of_memory || source_parse_all(src, ds[i], on_name,
		    on_range, &ls) == -1) {
			/* Freed first: the message needs memory too. */
			ls.st->failed = true;
			parts_clear(&pp);
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
		parts_clear(&pp);
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

struct policy *
policy_ref(struct policy *p)
{
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void
policy_unref(struct policy *p)
{
	if (p == NULL ||
	    atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	parts_clear(&p->parts);
	geoip_free(p->geo);
	free((void *)p->answer.countries);
	free((void *)p->answer.asns);
	free(p);
}

void
policy_set_geoip(struct policy *p, struct geoip *g)
{
	geoip_free(p->geo);
	p->geo = g;
}

const struct geoip *
policy_geoip(const struct policy *p)
{
	return p->geo;
}

bool
policy_check_name(const struct policy *p, const uint8_t *name,
    struct verdict *v)
{
	uint32_t value;

	v->blocked = false;
	v->list = NULL;
	v->rule_off = 0;
	if (!domtree_match(p->parts.names, name, &value, &v->rule_off))
		return false;
	v->list = &p->parts.lists[VALUE_LIST(value)];
	v->blocked = !VALUE_ALLOWS(value);
	return v->blocked;
}

const char *
policy_id(const struct policy *p)
{
	return p->id;
}

const struct policy_answer *
policy_answer(const struct policy *p)
{
	return &p->answer;
}

size_t
policy_entries(const struct policy *p)
{
	return domtree_count(p->parts.names);
}

size_t
policy_nlists(const struct policy *p)
{
	return p->parts.nlists;
}

const struct policy_list *
policy_list_at(const struct policy *p, size_t i)
{
	return i < p->parts.nlists ? &p->parts.lists[i] : NULL;
}

size_t
policy_memory(const struct policy *p)
{
	return domtree_memory(p->parts.names) +
	    cidr_memory(p->parts.ranges);
}

bool
policy_check_addr(const struct policy *p, int family, const uint8_t *addr,
    struct addr_verdict *v)
{
	struct cidr_match m;

	v->blocked = false;
	v->list = NULL;
	if (!cidr_lookup_addr(p->parts.ranges, family, addr, &m))
		return false;
	v->list = &p->parts.lists[VALUE_LIST(m.value)];
	v->blocked = !VALUE_ALLOWS(m.value);
	v->family = m.family;
	memcpy(v->lo, m.lo, 16);
	memcpy(v->hi, m.hi, 16);
	return v->blocked;
}

bool
policy_answer_ranges(const struct policy *p, int family,
    const uint8_t *addr, struct addr_verdict *v)
{
	if (!p->answer.check_answer_ips) {
		v->blocked = false;
		v->list = NULL;
		return false;
	}
	policy_check_addr(p, family, addr, v);
	return v->list != NULL;
}

bool
policy_wants_geo(const struct policy *p)
{
	return p->geo != NULL &&
	    (p->answer.ncountries > 0 || p->answer.nasns > 0);
}

const char *
policy_geo_blocks(const struct policy_answer *pa, const struct geo_info *gi,
    char *rule, size_t size)
{
	size_t i;

	for (i = 0; gi->country[0] != '\0' && i < pa->ncountries; i++)
		if (memcmp(pa->countries[i], gi->country, 2) == 0) {
			snprintf(rule, size, "country %s", gi->country);
			return "block_countries";
		}
	for (i = 0; gi->asn != 0 && i < pa->nasns; i++)
		if (pa->asns[i] == gi->asn) {
			snprintf(rule, size, "AS%u", gi->asn);
			return "block_asns";
		}
	return NULL;
}

const struct policy_list *
policy_geo_list(void)
{
	static const struct policy_list geo_list = { .name = "geoip",
		.category = "geo", .reference = "", .ede = 15 /* Blocked */,
		.kind = KIND_BLOCK };

	return &geo_list;
}

const struct policy_list *
policy_geo_verdict(const struct policy *p, const struct geo_info *gi,
    const char **key, char *rule, size_t size)
{
	const char *k;

	if (!policy_wants_geo(p) ||
	    (k = policy_geo_blocks(&p->answer, gi, rule, size)) == NULL)
		return NULL;
	*key = k;
	return policy_geo_list();
}

size_t
policy_format_range(const struct addr_verdict *v, char *buf, size_t size)
{
	struct cidr_match m = { 0 };

	m.family = v->family;
	memcpy(m.lo, v->lo, 16);
	memcpy(m.hi, v->hi, 16);
	return cidr_format_range(&m, buf, size);
}

const struct policy_list *
policy_name_list(const struct policy *p, const uint8_t *name)
{
	uint32_t value;
	size_t off;

	if (!domtree_match(p->parts.names, name, &value, &off) || off != 0)
		return NULL;
	return &p->parts.lists[VALUE_LIST(value)];
}

bool
policy_has_name(const struct policy *p, const uint8_t *name)
{
	return policy_name_list(p, name) != NULL;
}

const struct policy_list *
policy_range_list(const struct policy *p, int family, const uint8_t *lo,
    const uint8_t *hi)
{
	struct cidr_match m;
	size_t n = family == AF_INET ? 4 : 16;

	/* The range holding lo most specifically is the range itself when
	 * it is listed: nothing listed is narrower and contains all of it. */
	if (!cidr_lookup_addr(p->parts.ranges, family, lo, &m) ||
	    m.family != family || memcmp(m.lo, lo, n) != 0 ||
	    memcmp(m.hi, hi, n) != 0)
		return NULL;
	return &p->parts.lists[VALUE_LIST(m.value)];
}

bool
policy_has_range(const struct policy *p, int family, const uint8_t *lo,
    const uint8_t *hi)
{
	return policy_range_list(p, family, lo, hi) != NULL;
}

size_t
policy_ranges(const struct policy *p)
{
	return cidr_count(p->parts.ranges);
}

struct range_walk {
	const struct policy *p;
	void (*fn)(void *, int, const uint8_t *, const uint8_t *,
	    const struct policy_list *, bool);
	void *arg;
};

static void
range_one(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    uint32_t value)
{
	struct range_walk *rw = arg;

	rw->fn(rw->arg, family, lo, hi,
	    &rw->p->parts.lists[VALUE_LIST(value)], VALUE_ALLOWS(value));
}

void
policy_walk_ranges(const struct policy *p,
    void (*fn)(void *, int, const uint8_t *, const uint8_t *,
    const struct policy_list *, bool), void *arg)
{
	struct range_walk rw = { p, fn, arg };

	cidr_walk(p->parts.ranges, range_one, &rw);
}

struct walk_state {
	const struct policy *p;
	void (*fn)(void *, const uint8_t *, size_t,
	    const struct policy_list *, bool);
	void *arg;
};

static void
walk_one(void *arg, const uint8_t *name, size_t len, uint32_t value)
{
	struct walk_state *ws = arg;

	ws->fn(ws->arg, name, len, &ws->p->parts.lists[VALUE_LIST(value)],
	    VALUE_ALLOWS(value));
}

void
policy_walk_names(const struct policy *p,
    void (*fn)(void *, const uint8_t *, size_t, const struct policy_list *,
    bool), void *arg)
{
	struct walk_state ws = { p, fn, arg };

	domtree_walk(p->parts.names, walk_one, &ws);
}

struct policy_slot {
	pthread_mutex_t lock;
	struct policy *current;
	atomic_uint_fast64_t generation;
};

struct policy_slot *
policy_slot_new(struct policy *p)
{
	struct policy_slot *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->current = p;
	atomic_init(&s->generation, 1);
	return s;
}

void
policy_slot_free(struct policy_slot *s)
{
	if (s == NULL)
		return;
	policy_unref(s->current);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void
policy_slot_set(struct policy_slot *s, struct policy *p)
{
	struct policy *old;

	pthread_mutex_lock(&s->lock);
	old = s->current;
	s->current = p;
	atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
	pthread_mutex_unlock(&s->lock);
	policy_unref(old);
}

struct policy *
policy_slot_get(struct policy_slot *s, uint64_t *gen)
{
	struct policy *p;

	pthread_mutex_lock(&s->lock);
	p = policy_ref(s->current);
	*gen = atomic_load_explicit(&s->generation, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
	return p;
}

uint64_t
policy_slot_generation(struct policy_slot *s)
{
	return atomic_load_explicit(&s->generation, memory_order_acquire);
}
