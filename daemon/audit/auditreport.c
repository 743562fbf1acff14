/*
 * auditreport: counts a period of the audit log (auditreport.h).
 * Counting is a set of string tallies (open addressing under a keyed
 * hash, base/hash.h, as the log is input an auditor does not trust;
 * keys copied once into an arena, so a million lines cost no allocation
 * each).  Ranking and rendering: auditreport_rank.c, auditreport_text.c,
 * auditreport_html.c.
 */
#include "audit/auditreport.h"
#include "audit/auditreport_impl.h"

#include <stdlib.h>
#include <string.h>

#include "audit/auditread.h"
#include "base/hash.h"

#define CHUNK_SIZE (64 * 1024)

static char *
arena_dup(struct auditreport *r, const char *s, size_t len)
{
	struct chunk *c = r->arena;
	size_t cap;
	char *p;

	if (c == NULL || c->cap - c->used < len + 1) {
		cap = len + 1 > CHUNK_SIZE ? len + 1 : CHUNK_SIZE;
		if ((c = malloc(sizeof(*c) + cap)) == NULL)
			return NULL;
		c->next = r->arena;
		c->used = 0;
		c->cap = cap;
		r->arena = c;
	}
	p = c->data + c->used;
	memcpy(p, s, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

static const char *
arena_str(struct auditreport *r, const char *s)
{
	return s == NULL ? NULL : arena_dup(r, s, strlen(s));
}

static int
tally_grow(struct tally *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 64, i, j;
	struct entry *slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (i = 0; i < t->nslots; i++) {
		if (t->slots[i].key == NULL)
			continue;
		for (j = t->slots[i].hash & (n - 1); slots[j].key != NULL;
		    j = (j + 1) & (n - 1))
			;
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return 0;
}

static int
tally_add(struct auditreport *r, struct tally *t, const char *key,
    size_t len)
{
	struct entry *e;
	uint64_t h;
	size_t i;

	if (len > UINT32_MAX)
		return 0;
	if (t->nused * 4 >= t->nslots * 3 && tally_grow(t) == -1)
		return -1;
	h = hash_bytes(&t->key, key, len);
	for (i = h & (t->nslots - 1);; i = (i + 1) & (t->nslots - 1)) {
		e = &t->slots[i];
		if (e->key == NULL)
			break;
		if (e->hash == h && e->len == len &&
		    memcmp(e->key, key, len) == 0) {
			e->count++;
			return 0;
		}
	}
	if ((e->key = arena_dup(r, key, len)) == NULL)
		return -1;
	e->hash = h;
	e->len = (uint32_t)len;
	e->count = 1;
	t->nused++;
	return 0;
}

static int
tally_str(struct auditreport *r, int which, const char *s)
{
	if (s == NULL)
		s = "-";
	return tally_add(r, &r->tally[which], s, strlen(s));
}

struct auditreport *
auditreport_new(uint64_t since, uint64_t until, const char *const *files,
    size_t nfiles)
{
	struct auditreport *r = calloc(1, sizeof(*r));
	size_t i;

	if (r == NULL)
		return NULL;
	for (i = 0; i < NTALLIES; i++)
		hash_key_new(&r->tally[i].key);
	r->since = since;
	r->until = until;
	r->files = files;
	r->nfiles = nfiles;
	return r;
}

void
auditreport_free(struct auditreport *r)
{
	struct chunk *c, *next;
	size_t i;

	if (r == NULL)
		return;
	for (c = r->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	for (i = 0; i < NTALLIES; i++)
		free(r->tally[i].slots);
	free(r->changes);
	free(r->gaps);
	free(r);
}

/* Grows an array of n elements of size sz to hold one more. */
static int
reserve(void **arr, size_t n, size_t *cap, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((p = realloc(*arr, ncap * sz)) == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int
add_change(struct auditreport *r, const struct auditread_rec *rec)
{
	struct change *c;

	if (reserve((void **)&r->changes, r->nchanges, &r->capchanges,
	    sizeof(*c)) == -1)
		return -1;
	/* A period that opens with a change started under its previous. */
	if (r->nchanges == 0 && r->nblocked == 0 && r->start_policy == NULL)
		r->start_policy = arena_str(r, rec->previous != NULL ?
		    rec->previous : "(none)");
	c = &r->changes[r->nchanges++];
	snprintf(c->ts, sizeof(c->ts), "%s", rec->ts);
	c->policy = arena_str(r, rec->policy != NULL ? rec->policy : "-");
	c->previous = arena_str(r, rec->previous);
	c->by = arena_str(r, rec->by != NULL ? rec->by : "-");
	c->entries = rec->entries;
	c->lists = rec->lists;
	return c->policy == NULL || c->by == NULL ? -1 : 0;
}

static int
add_gap(struct auditreport *r, const struct auditread_rec *rec,
    const char *file, size_t line)
{
	struct gap *g;

	if (reserve((void **)&r->gaps, r->ngaps, &r->capgaps,
	    sizeof(*g)) == -1)
		return -1;
	g = &r->gaps[r->ngaps++];
	snprintf(g->ts, sizeof(g->ts), "%s", rec->ts);
	g->lost = rec->lost > 0 ? (uint64_t)rec->lost : 0;
	g->file = file;
	g->line = line;
	r->lost += g->lost;
	return 0;
}

static int
add_event(struct auditreport *r, const struct auditread_rec *rec,
    const char *file, size_t line)
{
	r->nevents++;
	if (strcmp(rec->event, "policy") == 0)
		return add_change(r, rec);
	if (strcmp(rec->event, "gap") == 0)
		return add_gap(r, rec, file, line);
	return 0;
}

/* Names are counted without regard to ASCII case, as DNS compares them. */
static int
add_name(struct auditreport *r, const char *qname)
{
	char low[AUDIT_LINE_MAX];
	size_t i;

	if (qname == NULL)
		return tally_str(r, T_NAMES, NULL);
	for (i = 0; qname[i] != '\0' && i < sizeof(low); i++)
		low[i] = (char)(qname[i] >= 'A' && qname[i] <= 'Z' ?
		    qname[i] | 0x20 : qname[i]);
	return tally_add(r, &r->tally[T_NAMES], low, i);
}

static int
add_blocked(struct auditreport *r, const struct auditread_rec *rec)
{
	int rc = 0;

	r->nblocked++;
	if (r->start_policy == NULL && r->nchanges == 0 && rec->policy)
		if ((r->start_policy = arena_str(r, rec->policy)) == NULL)
			return -1;
	rc |= tally_add(r, &r->tally[T_DAYS], rec->ts, 10);
	rc |= add_name(r, rec->qname);
	rc |= tally_str(r, T_CLIENTS, rec->client);
	rc |= tally_str(r, T_LISTS, rec->list);
	rc |= tally_str(r, T_TRIGGERS, rec->trigger);
	rc |= tally_str(r, T_ACTIONS, rec->action);
	rc |= tally_str(r, T_POLICIES, rec->policy);
	if (rec->client_country != NULL)
		rc |= tally_str(r, T_CLIENT_CC, rec->client_country);
	if (rec->answer_country != NULL)
		rc |= tally_str(r, T_ANSWER_CC, rec->answer_country);
	return rc == 0 ? 0 : -1;
}

/*
 * Before the period: every line names the policy in force after it (a
 * blocked attempt the one it was decided by, a policy event the new one).
 * Copied only when it changes, so skipping a long prefix costs nothing.
 */
static int
note_start(struct auditreport *r, const char *policy)
{
	if (policy == NULL || (r->start_policy != NULL &&
	    strcmp(r->start_policy, policy) == 0))
		return 0;
	r->start_policy = arena_str(r, policy);
	return r->start_policy == NULL ? -1 : 0;
}

int
auditreport_add(struct auditreport *r, const struct auditread_rec *rec,
    const char *file, size_t line)
{
	if (rec->ts_ms > r->until)
		return 0;
	if (rec->ts_ms < r->since)
		return note_start(r, rec->policy);
	if (r->nblocked + r->nevents == 0) {
		r->first_seq = rec->seq;
		snprintf(r->first_ts, sizeof(r->first_ts), "%s", rec->ts);
	}
	r->last_seq = rec->seq;
	snprintf(r->last_ts, sizeof(r->last_ts), "%s", rec->ts);
	if (rec->event != NULL)
		return add_event(r, rec, file, line);
	return add_blocked(r, rec);
}
