/*
 * policy: the immutable, reference-counted policy object and its
 * verdicts on names and addresses.  It is made of parts (policy/parts.h)
 * built from sources (policy_build.c) or mapped from a snapshot
 * (snapshot.c), and named by their digest (policy_id.c).
 */
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "policy/cidr.h"
#include "policy/domtree.h"
#include "policy/geoip.h"
#include "policy/policy.h"
#include "policy/parts.h"
#include "policy/policy_impl.h"

struct policy {
	atomic_uint refs;
	struct policy_parts parts;
	struct policy_answer answer;
	struct geoip *geo;
	char id[POLICY_ID_LEN + 1];
};

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

void
policy_parts_clear(struct policy_parts *pp)
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
		policy_parts_clear(parts);
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
	policy_make_id(p->parts.digest, &p->answer, p->id);
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
	policy_parts_clear(&p->parts);
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
