/*
 * auditreport: counts a period of the audit log and renders the counts.
 * Counting is a set of string tallies (open addressing, keys copied once
 * into an arena, so a million lines cost no allocation each); rendering
 * ranks the tallies once and writes the same sections as text or HTML.
 */
#include "audit/auditreport.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/auditread.h"
#include "base/safetext.h"

#define TOP_N 10
#define TS_LEN 32
#define CHUNK_SIZE (64 * 1024)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct entry {
	const char *key;	/* NULL: the slot is free */
	uint64_t count;
	uint32_t hash, len;
};

struct tally {
	struct entry *slots;
	size_t nslots, nused;	/* nslots is a power of two */
};

struct change {
	char ts[TS_LEN];
	const char *policy, *previous, *by;
	int64_t entries, lists;
};

struct gap {
	char ts[TS_LEN];
	uint64_t lost;
	const char *file;
	size_t line;
};

enum {
	T_DAYS, T_NAMES, T_CLIENTS, T_LISTS, T_TRIGGERS, T_ACTIONS,
	T_CLIENT_CC, T_ANSWER_CC, T_POLICIES, NTALLIES
};

struct auditreport {
	uint64_t since, until;
	const char *const *files;
	size_t nfiles;
	struct chunk *arena;
	struct tally tally[NTALLIES];
	uint64_t nblocked, nevents, first_seq, last_seq, lost;
	char first_ts[TS_LEN], last_ts[TS_LEN];
	const char *start_policy;	/* in force when the period began */
	struct change *changes;
	size_t nchanges, capchanges;
	struct gap *gaps;
	size_t ngaps, capgaps;
};

/* One section: a tally ranked for display. */
struct ranking {
	const char *title;
	const struct entry **rows;
	size_t n;
	uint64_t rest;		/* counted under keys not shown */
	bool is_timeline;	/* days, in date order */
};

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
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

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

/* FNV-1a: short keys, and a flood of similar names does not matter
 * here, as the input is the operator's own log. */
static uint32_t
hash_key(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
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
	uint32_t h;
	size_t i;

	if (len > UINT32_MAX)
		return 0;
	if (t->nused * 4 >= t->nslots * 3 && tally_grow(t) == -1)
		return -1;
	h = hash_key(key, len);
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

	if (r == NULL)
		return NULL;
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

static int
rank(const struct tally *t, size_t limit, bool is_by_key,
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

/* Ranks every section; returns how many, or -1 when out of memory. */
static int
rank_all(const struct auditreport *r, struct ranking rk[NSECTIONS])
{
	size_t i, n = 0;

	for (i = 0; i < NSECTIONS; i++) {
		const struct tally *t = &r->tally[sections[i].tally];

		if (sections[i].is_optional && t->nused == 0)
			continue;
		rk[n].title = sections[i].title;
		rk[n].is_timeline = sections[i].tally == T_DAYS;
		if (rank(t, sections[i].limit, sections[i].by_key,
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

static void
free_ranks(struct ranking *rk, int n)
{
	while (n-- > 0)
		free(rk[n].rows);
}

static double
percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The summary lines of the heading, worded once for text and HTML. */
struct totals {
	char blocked[128], events[128];
};

static void
format_totals(const struct auditreport *r, struct totals *t)
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

/*
 * Text.  Strings from the log are bytes: JSON escapes decode to valid
 * UTF-8, but raw bytes pass through as they were written.  Both outputs
 * walk them a character at a time (safetext.h), so a cut never splits a
 * character; the text output escapes controls, bidi controls and bytes
 * that start no valid sequence, HTML shows them as '?' and U+FFFD.
 */

/* Writes s escaped (safetext.h); returns the columns it took. */
static size_t
put_safe(FILE *out, const char *s)
{
	safetext_put(out, s);
	return safetext_width(s);
}

static void
print_bound(FILE *out, const char *what, uint64_t ms, bool is_set)
{
	char ts[25];

	if (!is_set)
		return;
	audit_format_ts(ts, ms);
	fprintf(out, " %s %s", what, ts);
}

static void
print_head(const struct auditreport *r, FILE *out)
{
	struct totals t;
	size_t i;

	fprintf(out, "cordon audit report\nfiles:    ");
	for (i = 0; i < r->nfiles; i++) {
		fputs(i ? ", " : "", out);
		put_safe(out, r->files[i]);
	}
	fprintf(out, "\nperiod:  ");
	if (r->nblocked + r->nevents == 0)
		fprintf(out, " no lines");
	else
		fprintf(out, " %s .. %s (seq %" PRIu64 " .. %" PRIu64 ")",
		    r->first_ts, r->last_ts, r->first_seq, r->last_seq);
	print_bound(out, "since", r->since, r->since != 0);
	print_bound(out, "until", r->until, r->until != UINT64_MAX);
	format_totals(r, &t);
	fprintf(out, "\nblocked:  %s\nevents:   %s\n", t.blocked, t.events);
}

static void
print_ranking(const struct auditreport *r, const struct ranking *rk,
    FILE *out)
{
	size_t i, width = 0, n;

	fprintf(out, "\n%s\n", rk->title);
	if (rk->n == 0) {
		fprintf(out, "  none\n");
		return;
	}
	for (i = 0; i < rk->n; i++)
		if ((n = safetext_width(rk->rows[i]->key)) > width)
			width = n;
	for (i = 0; i < rk->n; i++) {
		fputs("  ", out);
		n = put_safe(out, rk->rows[i]->key);
		fprintf(out, "%*s %10" PRIu64 "  %5.1f%%\n",
		    (int)(width - n), "", rk->rows[i]->count,
		    percent(rk->rows[i]->count, r->nblocked));
	}
	if (rk->rest > 0)
		fprintf(out, "  %-*s %10" PRIu64 "  %5.1f%%\n", (int)width,
		    "(others)", rk->rest, percent(rk->rest, r->nblocked));
}

static void
print_policies(const struct auditreport *r, FILE *out)
{
	const struct tally *t = &r->tally[T_POLICIES];
	const struct change *c;
	struct ranking rk;
	size_t i;

	fprintf(out, "\nPolicies\n  in force at the start: ");
	put_safe(out, r->start_policy ? r->start_policy : "(not recorded)");
	fputc('\n', out);
	for (i = 0; i < r->nchanges; i++) {
		c = &r->changes[i];
		fprintf(out, "  %s  ", c->ts);
		put_safe(out, c->policy);
		fputs(" replaces ", out);
		put_safe(out, c->previous ? c->previous : "(none)");
		fprintf(out, " (%" PRId64 " %s, %" PRId64 " %s, by ",
		    c->entries, plural((uint64_t)c->entries, "entry",
		    "entries"), c->lists, plural((uint64_t)c->lists, "list",
		    "lists"));
		put_safe(out, c->by);
		fputs(")\n", out);
	}
	if (rank(t, 0, false, &rk) == -1)
		return;
	for (i = 0; i < rk.n; i++) {
		fputs("  blocked under ", out);
		put_safe(out, rk.rows[i]->key);
		fprintf(out, ": %" PRIu64 "\n", rk.rows[i]->count);
	}
	free(rk.rows);
}

static void
print_gaps(const struct auditreport *r, FILE *out)
{
	size_t i;

	fprintf(out, "\nGaps\n");
	if (r->ngaps == 0)
		fprintf(out, "  none\n");
	for (i = 0; i < r->ngaps; i++) {
		fprintf(out, "  %s  ", r->gaps[i].ts);
		put_safe(out, r->gaps[i].file);
		fprintf(out, ":%zu  %" PRIu64 " %s lost\n", r->gaps[i].line,
		    r->gaps[i].lost, plural(r->gaps[i].lost, "line", "lines"));
	}
	if (r->ngaps > 1)
		fprintf(out, "  %" PRIu64 " %s lost in all\n", r->lost,
		    plural(r->lost, "line", "lines"));
}

void
auditreport_print(const struct auditreport *r, FILE *out)
{
	struct ranking rk[NSECTIONS];
	int i, n;

	print_head(r, out);
	n = rank_all(r, rk);
	for (i = 0; i < n; i++)
		print_ranking(r, &rk[i], out);
	if (n == -1)
		fprintf(out, "\n(out of memory: rankings left out)\n");
	free_ranks(rk, n);
	print_policies(r, out);
	print_gaps(r, out);
}

/*
 * HTML.  One page with inline CSS and inline SVG, readable offline and
 * printable; every string from the log goes through put_html(), since a
 * name in a query is chosen by whoever sent it.
 */
#define FONT_PX 12		/* svg text, as in the CSS below */
#define BAR_W 420		/* longest bar, px */
#define LABEL_W 340		/* bar labels end 8 px before the bars */
#define ROW_H 22

/* Writes s[0..len) as HTML text or attribute value: markup escaped,
 * controls as '?', invalid bytes as U+FFFD. */
static void
put_html_n(FILE *out, const char *s, size_t len)
{
	size_t i, n;
	uint32_t cp;

	for (i = 0; i < len; i += n) {
		n = safetext_next(s + i, &cp);
		switch (cp) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		case SAFETEXT_NOT_UTF8: fputs("\xef\xbf\xbd", out); break;
		default:
			if (safetext_is_unsafe(cp))
				fputc('?', out);
			else
				fwrite(s + i, 1, n, out);
		}
	}
}

static void
put_html(FILE *out, const char *s)
{
	put_html_n(out, s, strlen(s));
}

/*
 * Bar labels are cut to the room left of the bars by an estimate of
 * their rendered width, not by a count: 48 'W's are three times as wide
 * as 48 'i's.  The widths, in hundredths of an em, are the wider of
 * DejaVu Sans and Liberation Sans (Arial's metrics), the fonts
 * "sans-serif" comes to on Linux, Windows and (as Helvetica) macOS, so
 * the estimate errs long.  Other characters count as an em (CJK is one),
 * those past the BMP (emoji) as 1.2.
 */
static const unsigned char ascii_width[95] = {
	 32,  41,  46,  84,  64,  96,  78,  28,  40,  40,  50,  84,  32,  37,
	 32,  34,  64,  64,  64,  64,  64,  64,  64,  64,  64,  64,  34,  34,
	 84,  84,  84,  56, 102,  69,  69,  73,  78,  67,  62,  78,  76,  30,
	 50,  67,  56,  87,  75,  79,  67,  79,  73,  67,  62,  74,  69,  99,
	 69,  67,  69,  40,  34,  40,  84,  56,  50,  62,  64,  55,  64,  62,
	 36,  64,  64,  28,  28,  58,  28,  98,  64,  62,  64,  64,  42,  53,
	 40,  64,  60,  82,  60,  60,  53,  64,  34,  64,  84,
};
#define ELLIPSIS_WIDTH 100
/* 4 px of margin at the left edge, 8 px before the bars */
#define LABEL_BUDGET ((LABEL_W - 12) * 100 / FONT_PX)

static unsigned
char_width(uint32_t cp)
{
	if (cp >= 0x20 && cp < 0x7f)
		return ascii_width[cp - 0x20];
	if (safetext_is_unsafe(cp))
		return ascii_width['?' - 0x20];
	return cp > 0xffff && cp != SAFETEXT_NOT_UTF8 ? 120 : 100;
}

/* How many bytes of s to show in budget: all of s if it fits, else the
 * longest run of whole characters that fits with an ellipsis after it. */
static size_t
fit_prefix(const char *s, unsigned budget, bool *is_cut)
{
	size_t i = 0, fit = 0, n;
	unsigned w = 0;
	uint32_t cp;

	*is_cut = false;
	while (s[i] != '\0') {
		if (w + ELLIPSIS_WIDTH <= budget)
			fit = i;
		n = safetext_next(s + i, &cp);
		if ((w += char_width(cp)) > budget) {
			*is_cut = true;
			return fit;
		}
		i += n;
	}
	return i;
}

static void
put_label(FILE *out, const char *s)
{
	bool is_cut;
	size_t n = fit_prefix(s, LABEL_BUDGET, &is_cut);

	put_html_n(out, s, n);
	if (is_cut)
		fputs("&#8230;", out);
}

static const char css[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:62em;"
"color:#222;padding:0 1em}\n"
"h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;"
"border-bottom:1px solid #ccc}\n"
"table{border-collapse:collapse}td,th{padding:.15em .8em;text-align:left}"
"td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
"tr:nth-child(even){background:#f4f4f4}\n"
"svg{display:block;margin:.5em 0}svg text{font:12px sans-serif;"
"fill:#222}\n"
".bar{fill:#b03a2e}.col{fill:#2e6db0}.axis{stroke:#999}"
".mono{font-family:monospace}\n";

static uint64_t
max_count(const struct ranking *rk)
{
	uint64_t max = 1;
	size_t i;

	for (i = 0; i < rk->n; i++)
		if (rk->rows[i]->count > max)
			max = rk->rows[i]->count;
	return max;
}

/* Horizontal bars, one per row, labelled on the left; the full key is
 * in the table and in the row's tooltip. */
static void
svg_bars(const struct ranking *rk, FILE *out)
{
	uint64_t max = max_count(rk);
	const struct entry *e;
	size_t i, y;
	double w;

	fprintf(out, "<svg class=\"chart\" width=\"%d\" height=\"%zu\" "
	    "role=\"img\" aria-label=\"", LABEL_W + BAR_W + 80,
	    rk->n * ROW_H + 4);
	put_html(out, rk->title);
	fputs("\">\n", out);
	for (i = 0; i < rk->n; i++) {
		e = rk->rows[i];
		y = i * ROW_H;
		w = (double)BAR_W * (double)e->count / (double)max;
		if (w < 1)
			w = 1;
		fputs("<g><title>", out);
		put_html(out, e->key);
		fprintf(out, ": %" PRIu64 "</title><text x=\"%d\" y=\"%zu\" "
		    "text-anchor=\"end\">", e->count, LABEL_W - 8, y + 15);
		put_label(out, e->key);
		fprintf(out, "</text><rect class=\"bar\" x=\"%d\" y=\"%zu\" "
		    "width=\"%.1f\" height=\"%d\"/><text x=\"%.1f\" y=\"%zu\">"
		    "%" PRIu64 "</text></g>\n", LABEL_W, y + 3, w, ROW_H - 6,
		    LABEL_W + w + 6, y + 15, e->count);
	}
	fputs("</svg>\n", out);
}

/*
 * The day chart.  Every day from the first to the last with a block gets
 * a column, an empty one when nothing was blocked, so the axis is even
 * in time, and each column has its count above it.  Past MAX_COLS days a
 * column stands for a run of whole weeks from the first day (as few
 * weeks as keep it to MAX_COLS columns): daily columns would be a pixel
 * or two wide with counts nobody can read, while week totals keep every
 * count on the page.  The table under the chart still lists each day.
 */
#define MAX_COLS 60
#define COL_H 160		/* the tallest column, px */
#define COL_MARGIN 20		/* left and right of the columns */
#define DATE_H 84		/* below the base: dates, rotated */

struct timeline {
	int64_t first, last;	/* day numbers: first and last with data */
	int64_t days_per_col;
	size_t ncols;		/* 0: no day could be read */
	uint64_t *counts;	/* per column */
	uint64_t max;
};

struct colgeom {
	size_t step;		/* px per column, a 2 px gap included */
	size_t top;		/* room for the counts above the tallest */
	size_t every;		/* a date under every so many columns */
	bool is_count_up;	/* counts too wide for a column: rotated */
};

/* A key of the days tally, "YYYY-MM-DD", as days since 1970-01-01. */
static bool
parse_day(const char *key, int64_t *day)
{
	struct tm tm = { 0 };
	time_t t;
	int i;

	for (i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? key[i] != '-' :
		    !isdigit((unsigned char)key[i]))
			return false;
	tm.tm_year = atoi(key) - 1900;
	tm.tm_mon = atoi(key + 5) - 1;
	tm.tm_mday = atoi(key + 8);
	if ((t = timegm(&tm)) == (time_t)-1 || t < 0)
		return false;
	*day = (int64_t)(t / 86400);
	return true;
}

static void
format_day(char buf[11], int64_t day)
{
	char ts[25];

	audit_format_ts(ts, (uint64_t)day * 86400000u);
	memcpy(buf, ts, 10);
	buf[10] = '\0';
}

/* Returns 0, or -1 when out of memory; free tl->counts. */
static int
timeline_build(const struct ranking *rk, struct timeline *tl)
{
	int64_t day, ndays, k = 1;
	uint64_t *c;
	size_t i;

	memset(tl, 0, sizeof(*tl));
	tl->first = INT64_MAX;
	tl->last = INT64_MIN;
	for (i = 0; i < rk->n; i++) {
		if (!parse_day(rk->rows[i]->key, &day))
			continue;
		tl->first = day < tl->first ? day : tl->first;
		tl->last = day > tl->last ? day : tl->last;
	}
	if (tl->first > tl->last)
		return 0;
	ndays = tl->last - tl->first + 1;
	if (ndays > MAX_COLS)
		k = 7 * ((ndays + 7 * MAX_COLS - 1) / (7 * MAX_COLS));
	tl->days_per_col = k;
	tl->ncols = (size_t)((ndays + k - 1) / k);
	if ((tl->counts = calloc(tl->ncols, sizeof(*c))) == NULL)
		return -1;
	tl->max = 1;
	for (i = 0; i < rk->n; i++) {
		if (!parse_day(rk->rows[i]->key, &day))
			continue;
		c = &tl->counts[(day - tl->first) / k];
		*c += rk->rows[i]->count;
		tl->max = *c > tl->max ? *c : tl->max;
	}
	return 0;
}

/*
 * Columns share 720 px, 12 to 40 each.  A count goes above its column,
 * turned to read upwards when wider than the column (8 px a digit).  A
 * date, turned too, goes under every column of up to 14; past that under
 * the first, the last and every so many between, 48 px or more apart.
 */
static void
colgeom_init(struct colgeom *g, const struct timeline *tl)
{
	int digits = snprintf(NULL, 0, "%" PRIu64, tl->max);

	g->step = 720 / tl->ncols;
	g->step = g->step < 12 ? 12 : g->step > 40 ? 40 : g->step;
	g->is_count_up = (size_t)digits * 8 + 2 > g->step;
	g->top = g->is_count_up ? (size_t)digits * 8 + 10 : 20;
	if (tl->ncols <= 14) {
		g->every = 1;
		return;
	}
	g->every = (48 + g->step - 1) / g->step;
	g->every = g->every < 2 ? 2 : g->every;
}

static bool
is_dated(const struct colgeom *g, size_t i, size_t ncols)
{
	size_t last = ncols - 1;

	if (i == 0 || i == last)
		return true;
	/* a regular date just before the last would print over it */
	return i % g->every == 0 && (last - i) * g->step >= 24;
}

static void
svg_column(const struct timeline *tl, const struct colgeom *g, size_t i,
    FILE *out)
{
	int64_t day = tl->first + (int64_t)i * tl->days_per_col, end;
	uint64_t n = tl->counts[i];
	double h = (double)COL_H * (double)n / (double)tl->max;
	double cx = COL_MARGIN + (double)(i * g->step) + (g->step - 2) / 2.0;
	double y = (double)(g->top + COL_H) - h;
	char from[11], to[11];

	format_day(from, day);
	fprintf(out, "<g><title>%s", from);
	if (tl->days_per_col > 1) {
		end = day + tl->days_per_col - 1;
		format_day(to, end < tl->last ? end : tl->last);
		fprintf(out, " .. %s", to);
	}
	fprintf(out, ": %" PRIu64 "</title><rect class=\"col\" x=\"%zu\" "
	    "y=\"%.1f\" width=\"%zu\" height=\"%.1f\"/>", n,
	    COL_MARGIN + i * g->step, y, g->step - 2, h);
	if (g->is_count_up)
		fprintf(out, "<text class=\"count\" x=\"%.1f\" y=\"%.1f\" "
		    "transform=\"rotate(-90 %.1f %.1f)\">%" PRIu64 "</text>",
		    cx + 4, y - 4, cx + 4, y - 4, n);
	else
		fprintf(out, "<text class=\"count\" x=\"%.1f\" y=\"%.1f\" "
		    "text-anchor=\"middle\">%" PRIu64 "</text>", cx, y - 4, n);
	fputs("</g>\n", out);
	if (!is_dated(g, i, tl->ncols))
		return;
	fprintf(out, "<text class=\"date\" x=\"%.1f\" y=\"%zu\" "
	    "text-anchor=\"end\" transform=\"rotate(-90 %.1f %zu)\">%s"
	    "</text>\n", cx + 4, g->top + COL_H + 6, cx + 4,
	    g->top + COL_H + 6, from);
}

static void
svg_columns(const struct ranking *rk, FILE *out)
{
	struct timeline tl;
	struct colgeom g;
	char first[11];
	size_t i, base, width;

	if (timeline_build(rk, &tl) == -1 || tl.ncols == 0)
		return;		/* the table still follows */
	colgeom_init(&g, &tl);
	base = g.top + COL_H;
	width = 2 * COL_MARGIN + tl.ncols * g.step;
	if (tl.days_per_col > 1) {
		format_day(first, tl.first);
		fprintf(out, "<p>One column per %" PRId64 " days, from %s."
		    "</p>\n", tl.days_per_col, first);
	}
	fprintf(out, "<svg class=\"chart\" width=\"%zu\" height=\"%zu\" "
	    "role=\"img\" aria-label=\"Blocked per day\">\n", width,
	    base + DATE_H);
	fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%zu.5\" "
	    "x2=\"%zu\" y2=\"%zu.5\"/>\n", COL_MARGIN - 4, base,
	    width - COL_MARGIN + 2, base);
	for (i = 0; i < tl.ncols; i++)
		svg_column(&tl, &g, i, out);
	fputs("</svg>\n", out);
	free(tl.counts);
}

static void
html_ranking(const struct auditreport *r, const struct ranking *rk,
    FILE *out)
{
	size_t i;

	fputs("<section><h2>", out);
	put_html(out, rk->title);
	fputs("</h2>\n", out);
	if (rk->n == 0) {
		fputs("<p>none</p></section>\n", out);
		return;
	}
	if (rk->is_timeline)
		svg_columns(rk, out);
	else
		svg_bars(rk, out);
	fputs("<table>\n", out);
	for (i = 0; i < rk->n; i++) {
		fputs("<tr><td class=\"mono\">", out);
		put_html(out, rk->rows[i]->key);
		fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td>"
		    "<td class=\"n\">%.1f%%</td></tr>\n", rk->rows[i]->count,
		    percent(rk->rows[i]->count, r->nblocked));
	}
	if (rk->rest > 0)
		fprintf(out, "<tr><td>(others)</td><td class=\"n\">%" PRIu64
		    "</td><td class=\"n\">%.1f%%</td></tr>\n", rk->rest,
		    percent(rk->rest, r->nblocked));
	fputs("</table></section>\n", out);
}

static void
html_head(const struct auditreport *r, FILE *out)
{
	struct totals t;
	size_t i;

	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>cordon audit report</title>\n"
	    "<style>\n%s</style></head><body>\n<h1>cordon audit report</h1>\n"
	    "<table>\n<tr><th>files</th><td class=\"mono\">", css);
	for (i = 0; i < r->nfiles; i++) {
		fputs(i ? ", " : "", out);
		put_html(out, r->files[i]);
	}
	fputs("</td></tr>\n<tr><th>period</th><td>", out);
	if (r->nblocked + r->nevents == 0)
		fputs("no lines", out);
	else
		fprintf(out, "%s .. %s (seq %" PRIu64 " .. %" PRIu64 ")",
		    r->first_ts, r->last_ts, r->first_seq, r->last_seq);
	format_totals(r, &t);
	fprintf(out, "</td></tr>\n<tr><th>blocked</th><td>%s</td></tr>\n"
	    "<tr><th>events</th><td>%s</td></tr>\n</table>\n", t.blocked,
	    t.events);
}

static void
html_policies(const struct auditreport *r, FILE *out)
{
	const struct change *c;
	size_t i;

	fputs("<section><h2>Policies</h2>\n<p>In force at the start: "
	    "<span class=\"mono\">", out);
	put_html(out, r->start_policy ? r->start_policy : "(not recorded)");
	fputs("</span></p>\n", out);
	if (r->nchanges == 0) {
		fputs("<p>No changes in the period.</p></section>\n", out);
		return;
	}
	fputs("<table>\n<tr><th>time</th><th>policy</th><th>replaces</th>"
	    "<th>entries</th><th>lists</th><th>by</th></tr>\n", out);
	for (i = 0; i < r->nchanges; i++) {
		c = &r->changes[i];
		fprintf(out, "<tr><td>%s</td><td class=\"mono\">", c->ts);
		put_html(out, c->policy);
		fputs("</td><td class=\"mono\">", out);
		put_html(out, c->previous ? c->previous : "(none)");
		fprintf(out, "</td><td class=\"n\">%" PRId64 "</td>"
		    "<td class=\"n\">%" PRId64 "</td><td>", c->entries,
		    c->lists);
		put_html(out, c->by);
		fputs("</td></tr>\n", out);
	}
	fputs("</table></section>\n", out);
}

static void
html_gaps(const struct auditreport *r, FILE *out)
{
	size_t i;

	fputs("<section><h2>Gaps</h2>\n", out);
	if (r->ngaps == 0) {
		fputs("<p>none</p></section>\n", out);
		return;
	}
	fputs("<table>\n<tr><th>time</th><th>where</th><th>lines lost</th>"
	    "</tr>\n", out);
	for (i = 0; i < r->ngaps; i++) {
		fprintf(out, "<tr><td>%s</td><td class=\"mono\">",
		    r->gaps[i].ts);
		put_html(out, r->gaps[i].file);
		fprintf(out, ":%zu</td><td class=\"n\">%" PRIu64
		    "</td></tr>\n", r->gaps[i].line, r->gaps[i].lost);
	}
	fputs("</table></section>\n", out);
}

void
auditreport_write_html(const struct auditreport *r, FILE *out)
{
	struct ranking rk[NSECTIONS];
	int i, n;

	html_head(r, out);
	n = rank_all(r, rk);
	for (i = 0; i < n; i++)
		html_ranking(r, &rk[i], out);
	free_ranks(rk, n);
	html_policies(r, out);
	html_gaps(r, out);
	fputs("</body></html>\n", out);
}
