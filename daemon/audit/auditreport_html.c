/*
 * auditreport_html: the report as one self-contained HTML page
 * (auditreport_write_html() in auditreport.h): the sections of
 * auditreport_rank.c as inline SVG charts and tables.
 */
#include "audit/auditreport.h"
#include "audit/auditreport_impl.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "base/safetext.h"

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
	auditreport_format_totals(r, &t);
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
	n = auditreport_rank_all(r, rk);
	for (i = 0; i < n; i++)
		html_ranking(r, &rk[i], out);
	auditreport_free_ranks(rk, n);
	html_policies(r, out);
	html_gaps(r, out);
	fputs("</body></html>\n", out);
}
