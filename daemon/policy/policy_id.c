/*
 * policy_id: what identifies a policy.  The digest of its parts covers
 * every entry and list in a canonical order, so the same lists give the
 * same digest on every host, from a manifest or a snapshot; the id adds
 * the answer settings.
 */
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/sha2.h>

#include "base/hash.h"
#include "policy/cidr.h"
#include "policy/domtree.h"
#include "policy/parts.h"
#include "policy/policy_impl.h"

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

/* The id: the parts' digest and the answer settings (sorted, so the
 * order they were configured in does not count). */
void
policy_make_id(const uint8_t parts_digest[POLICY_DIGEST_LEN],
    const struct policy_answer *pa, char id[POLICY_ID_LEN + 1])
{
	ldns_sha256_CTX ctx;
	uint8_t digest[LDNS_SHA256_DIGEST_LENGTH], b[2];
	size_t i;

	ldns_sha256_init(&ctx);
	ldns_sha256_update(&ctx, parts_digest, POLICY_DIGEST_LEN);
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
		snprintf(id + 2 * i, 3, "%02x", digest[i]);
}
