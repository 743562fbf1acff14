/*
 * auditreport_rank: the sections of a report (auditreport_impl.h), each
 * a tally ranked for display, and the totals of its heading, worded once
 * for the text and the HTML output.  Ties rank by key, so the order
 * never depends on the hash.
 */
#include "audit/auditreport_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_N 10

static const struct {
	int tally;
	const char *title;
	size_t limit;		/* 0: every key */
	bool by_key;
	bool is_optional;	/* left out when empty (no geo) */
} sections[] = {
	{ T_DAYS, "Blocked per day", 0, true, false },
	{ T_NAMES, "Top 10 names", TOP_N, false, false },
	{ T_CLIENTS, "Top 10 clients", TOP_N, false, false },
	{ T_LISTS, "By list", 0, false, false },
	{ T_TRIGGERS, "By trigger", 0, false, false },
	{ T_ACTIONS, "By action", 0, false, false },
	{ T_CLIENT_CC, "By client country", 0, false, true },
	{ T_ANSWER_CC, "By answer country", 0, false, true },
};

_Static_assert(sizeof(sections) / sizeof(sections[0]) == NSECTIONS,
    "NSECTIONS in auditreport_impl.h");

/*
 * Ranking.  The top ten of a million distinct names are picked in one
 * pass with a short insertion list rather than by sorting them all.
 */
static int
by_count(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int
by_key(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	return strcmp(x->key, y->key);
}

static void
insert_top(const struct entry **top, size_t *n, size_t limit,
    const struct entry *e)
{
	size_t i;

	if (*n == limit && by_count(&e, &top[limit - 1]) >= 0)
		return;
	i = *n < limit ? (*n)++ : limit - 1;
	for (; i > 0 && by_count(&e, &top[i - 1]) < 0; i--)
		top[i] = top[i - 1];
	top[i] = e;
}

int
auditreport_rank(const struct tally *t, size_t limit, bool is_by_key,
    struct ranking *rk)
{
	size_t i, n = 0, cap = limit ? limit : t->nused;
	uint64_t shown = 0, total = 0;

	rk->rows = calloc(cap ? cap : 1, sizeof(*rk->rows));
	if (rk->rows == NULL)
		return -1;
	for (i = 0; i < t->nslots; i++) {
		if (t->slots[i].key == NULL)
			continue;
		total += t->slots[i].count;
		if (limit)
			insert_top(rk->rows, &n, limit, &t->slots[i]);
		else
			rk->rows[n++] = &t->slots[i];
	}
	if (!limit)
		qsort(rk->rows, n, sizeof(*rk->rows),
		    is_by_key ? by_key : by_count);
	for (i = 0; i < n; i++)
		shown += rk->rows[i]->count;
	rk->n = n;
	rk->rest = total - shown;
	return 0;
}

int
auditreport_rank_all(const struct auditreport *r, struct ranking rk[NSECTIONS])
{
	size_t i, n = 0;

	for (i = 0; i < NSECTIONS; i++) {
		const struct tally *t = &r->tally[sections[i].tally];

		if (sections[i].is_optional && t->nused == 0)
			continue;
		rk[n].title = sections[i].title;
		rk[n].is_timeline = sections[i].tally == T_DAYS;
		if (auditreport_rank(t, sections[i].limit, sections[i].by_key,
		    &rk[n]) == -1)
			break;
		n++;
	}
	if (i == NSECTIONS)
		return (int)n;
	while (n-- > 0)
		free(rk[n].rows);
	return -1;
}

void
auditreport_free_ranks(struct ranking *rk, int n)
{
	while (n-- > 0)
		free(rk[n].rows);
}

void
auditreport_format_totals(const struct auditreport *r, struct totals *t)
{
	size_t names = r->tally[T_NAMES].nused;
	size_t clients = r->tally[T_CLIENTS].nused;

	snprintf(t->blocked, sizeof(t->blocked), "%" PRIu64 " %s, %zu %s, "
	    "%zu %s", r->nblocked, plural(r->nblocked, "attempt", "attempts"),
	    names, plural(names, "name", "names"),
	    clients, plural(clients, "client", "clients"));
	snprintf(t->events, sizeof(t->events), "%" PRIu64 " (%zu %s, %zu %s)",
	    r->nevents, r->nchanges, plural(r->nchanges, "policy change",
	    "policy changes"), r->ngaps, plural(r->ngaps, "gap", "gaps"));
}
