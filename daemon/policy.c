/*
 * policy: builds a domtree from a manifest's sources and answers verdicts.
 * An entry's value packs the index of its list and its kind.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/sha2.h>

#include "diag.h"
#include "domtree.h"
#include "policy.h"

struct policy {
	atomic_uint refs;
	struct domtree *names;
	struct policy_list *lists;
	char **strings;			/* owned copies behind lists */
	size_t nlists;
	struct policy_answer answer;
	char id[17];
};

#define VALUE(list, kind) ((uint32_t)(list) << 1 | ((kind) == KIND_ALLOW))
#define VALUE_LIST(v) ((v) >> 1)
#define VALUE_ALLOWS(v) (((v) & 1) != 0)

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

struct load_state {
	struct policy *p;
	size_t list;
	int failed;
};

static int
on_name(void *arg, const struct source *src, const uint8_t *wire,
    size_t len, enum list_kind kind, size_t line)
{
	struct load_state *st = arg;

	if (domtree_add(st->p->names, wire, len, VALUE(st->list, kind),
	    merge) == -1) {
		st->failed = 1;
		return -1;
	}
	return 0;
}

static char *
keep(struct policy *p, size_t *n, const char *s)
{
	char *c = strdup(s ? s : "");

	if (c == NULL)
		abort();
	p->strings[(*n)++] = c;
	return c;
}

/* The id is a digest of every entry in a canonical order plus the
 * answer settings, so the same lists give the same id on every host. */
struct id_entry {
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
	int c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void
compute_id(struct policy *p)
{
	struct id_state st = { 0 };
	ldns_sha256_CTX ctx;
	uint8_t digest[LDNS_SHA256_DIGEST_LENGTH];
	size_t i, count = domtree_count(p->names);

	st.v = calloc(count ? count : 1, sizeof(*st.v));
	if (st.v == NULL)
		abort();
	domtree_walk(p->names, collect, &st);
	qsort(st.v, st.n, sizeof(*st.v), cmp_entry);
	ldns_sha256_init(&ctx);
	for (i = 0; i < st.n; i++) {
		const struct policy_list *l = &p->lists[VALUE_LIST(st.v[i].value)];
		uint8_t kind = VALUE_ALLOWS(st.v[i].value);

		ldns_sha256_update(&ctx, st.v[i].name, st.v[i].len);
		ldns_sha256_update(&ctx, &kind, 1);
		ldns_sha256_update(&ctx, (const uint8_t *)l->name,
		    strlen(l->name) + 1);
		ldns_sha256_update(&ctx, (const uint8_t *)l->category,
		    strlen(l->category) + 1);
	}
	ldns_sha256_update(&ctx, (const uint8_t *)&p->answer,
	    sizeof(p->answer));
	ldns_sha256_final(digest, &ctx);
	free(st.v);
	for (i = 0; i < 8; i++)
		snprintf(p->id + 2 * i, 3, "%02x", digest[i]);
}

static struct policy *
policy_alloc(const struct policy_answer *pa, size_t nlists)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		abort();
	atomic_init(&p->refs, 1);
	memset(&p->answer, 0, sizeof(p->answer));
	p->answer.action = pa->action;
	p->answer.ttl = pa->ttl;
	memcpy(p->answer.sinkhole_a, pa->sinkhole_a, 4);
	memcpy(p->answer.sinkhole_aaaa, pa->sinkhole_aaaa, 16);
	p->names = domtree_new();
	p->lists = calloc(nlists ? nlists : 1, sizeof(*p->lists));
	p->strings = calloc(nlists ? 2 * nlists : 1, sizeof(*p->strings));
	if (p->names == NULL || p->lists == NULL || p->strings == NULL)
		abort();
	return p;
}

struct policy *
policy_load(const char *path, const struct policy_answer *pa,
    struct diag *d)
{
	struct manifest *m = manifest_load(path, d);
	struct load_state st = { 0 };
	struct policy *p;
	size_t i, nstr = 0;

	if (m == NULL)
		return NULL;
	p = policy_alloc(pa, m->nsources);
	st.p = p;
	for (i = 0; i < m->nsources; i++) {
		const struct source *src = &m->sources[i];

		p->lists[i].name = keep(p, &nstr, src->name);
		p->lists[i].category = keep(p, &nstr, src->category);
		p->lists[i].kind = src->kind;
		p->nlists = i + 1;
		st.list = i;
		if (source_parse(src, d, on_name, &st) == -1) {
			if (st.failed)
				diag_add(d, path, src->line,
				    "[source %s]: out of memory", src->name);
			manifest_free(m);
			policy_unref(p);
			return NULL;
		}
	}
	manifest_free(m);
	compute_id(p);
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
	size_t i;

	if (p == NULL ||
	    atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < 2 * p->nlists; i++)
		free(p->strings[i]);
	free(p->strings);
	free(p->lists);
	domtree_free(p->names);
	free(p);
}

bool
policy_check_name(const struct policy *p, const uint8_t *name,
    struct verdict *v)
{
	uint32_t value;

	v->blocked = false;
	v->list = NULL;
	v->rule_off = 0;
	if (!domtree_match(p->names, name, &value, &v->rule_off))
		return false;
	v->list = &p->lists[VALUE_LIST(value)];
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
	return domtree_count(p->names);
}

size_t
policy_nlists(const struct policy *p)
{
	return p->nlists;
}

const struct policy_list *
policy_list_at(const struct policy *p, size_t i)
{
	return i < p->nlists ? &p->lists[i] : NULL;
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
		abort();
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
