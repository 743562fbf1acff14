/*
 * auditreport_text: the report as text (auditreport_print() in
 * auditreport.h), the sections of auditreport_rank.c one after another.
 */
#include "audit/auditreport.h"
#include "audit/auditreport_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "base/safetext.h"

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
	auditreport_format_totals(r, &t);
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
	if (auditreport_rank(t, 0, false, &rk) == -1)
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
	n = auditreport_rank_all(r, rk);
	for (i = 0; i < n; i++)
		print_ranking(r, &rk[i], out);
	if (n == -1)
		fprintf(out, "\n(out of memory: rankings left out)\n");
	auditreport_free_ranks(rk, n);
	print_policies(r, out);
	print_gaps(r, out);
}
