/*
 * cordon audit search LOG...: the blocked attempts of a period that
 * pass the filters (cmd_audit_impl.h), as an aligned table, as the
 * lines themselves (json) or as CSV.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/auditread.h"
#include "base/safetext.h"
#include "tool/cmd.h"
#include "tool/cmd_audit_impl.h"

/*
 * The output.  json repeats the lines byte for byte, so its output
 * can be hashed against the log; csv follows RFC 4180; table buffers the
 * rows to align them.
 */
#define NCSV 13
#define NCOLS 9

struct table {
	char *text;		/* rows of NCOLS NUL-terminated cells */
	size_t used, cap, nrows;
	size_t width[NCOLS];
};

struct search {
	struct filter f;
	enum format format;
	struct auditread_rec *rec;
	struct table table;
	size_t nbad;
};

static const char *const csv_head[NCSV] = { "ts", "client", "port",
	"proto", "qname", "qtype", "action", "trigger", "rule", "list",
	"category", "answer_ip", "seq" };
static const char *const table_head[NCOLS] = { "SEQ", "TS", "CLIENT",
	"QNAME", "QTYPE", "ACTION", "TRIGGER", "LIST", "RULE" };

/* safetext.h: no formulas, no control or bidi characters. */
static void
put_csv_cell(const char *s, bool is_last)
{
	if (s != NULL)
		safetext_put_csv(stdout, s);
	putchar(is_last ? '\n' : ',');
}

static void
put_csv(const struct auditread_rec *r)
{
	char port[24], seq[24];
	const char *cells[NCSV];
	size_t i;

	snprintf(port, sizeof(port), "%" PRId64, r->port);
	snprintf(seq, sizeof(seq), "%" PRIu64, r->seq);
	cells[0] = r->ts;
	cells[1] = r->client;
	cells[2] = r->port == AUDITREAD_NONE ? NULL : port;
	cells[3] = r->proto;
	cells[4] = r->qname;
	cells[5] = r->qtype;
	cells[6] = r->action;
	cells[7] = r->trigger;
	cells[8] = r->rule;
	cells[9] = r->list;
	cells[10] = r->category;
	cells[11] = r->answer_ip;
	cells[12] = seq;
	for (i = 0; i < NCSV; i++)
		put_csv_cell(cells[i], i == NCSV - 1);
}

static int
table_add(struct table *t, const char *const cells[NCOLS])
{
	size_t i, len, need = 0;
	char *p;

	for (i = 0; i < NCOLS; i++)
		need += strlen(cells[i]) + 1;
	if (t->cap - t->used < need) {
		size_t cap = t->cap ? t->cap * 2 : 1 << 16;

		while (cap - t->used < need)
			cap *= 2;
		if ((p = realloc(t->text, cap)) == NULL)
			return -1;
		t->text = p;
		t->cap = cap;
	}
	for (i = 0; i < NCOLS; i++) {
		len = strlen(cells[i]);
		memcpy(t->text + t->used, cells[i], len + 1);
		t->used += len + 1;
		len = safetext_width(cells[i]);
		if (len > t->width[i])
			t->width[i] = len;
	}
	t->nrows++;
	return 0;
}

static int
table_add_rec(struct table *t, const struct auditread_rec *r)
{
	char seq[24];
	const char *cells[NCOLS] = { seq, r->ts, r->client, r->qname,
		r->qtype, r->action, r->trigger, r->list, r->rule };
	size_t i;

	snprintf(seq, sizeof(seq), "%" PRIu64, r->seq);
	for (i = 0; i < NCOLS; i++)
		if (cells[i] == NULL)
			cells[i] = "-";
	return table_add(t, cells);
}

/* Control and bidi characters from a log must not reach a terminal. */
static void
put_cell(const char *s, size_t width, bool is_last)
{
	size_t n = safetext_width(s);

	safetext_put(stdout, s);
	if (is_last) {
		putchar('\n');
		return;
	}
	for (; n < width + 2; n++)
		putchar(' ');
}

static void
table_print(struct table *t)
{
	const char *p = t->text;
	size_t i, r;

	for (i = 0; i < NCOLS; i++)
		if (strlen(table_head[i]) > t->width[i])
			t->width[i] = strlen(table_head[i]);
	for (i = 0; i < NCOLS; i++)
		put_cell(table_head[i], t->width[i], i == NCOLS - 1);
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < NCOLS; i++) {
			put_cell(p, t->width[i], i == NCOLS - 1);
			p += strlen(p) + 1;
		}
	}
}

static int
on_search_line(void *arg, const char *file, const struct auditread_line *ln)
{
	struct search *s = arg;

	if (cmd_audit_read_rec(file, ln, s->rec, &s->nbad) == -1 ||
	    !cmd_audit_matches(&s->f, s->rec))
		return 0;
	switch (s->format) {
	case FMT_JSON:
		fwrite(ln->text, 1, ln->len, stdout);
		putchar('\n');
		break;
	case FMT_CSV:
		put_csv(s->rec);
		break;
	case FMT_TABLE:
		if (table_add_rec(&s->table, s->rec) == -1)
			cmd_oom("tabulating the log");
		break;
	}
	return 0;
}

/* One option of search or report; returns 0, or -1 after a message. */
int
cmd_audit_search(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "client", required_argument, NULL, 'c' },
		{ "domain", required_argument, NULL, 'd' },
		{ "list", required_argument, NULL, 'l' },
		{ "trigger", required_argument, NULL, 't' },
		{ "country", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct search s = { .f = { .until = UINT64_MAX } };
	int ch, rc;
	size_t i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (ch == '?' || cmd_audit_set_option(&s.f, ch, optarg,
		    &s.format) == -1)
			return cmd_audit_usage();
	if (optind >= argc)
		return cmd_audit_usage();
	if ((s.rec = malloc(sizeof(*s.rec))) == NULL) {
		fprintf(stderr, "cordon: out of memory\n");
		return 1;
	}
	if (s.format == FMT_CSV)
		for (i = 0; i < NCSV; i++)
			put_csv_cell(csv_head[i], i == NCSV - 1);
	rc = cmd_audit_walk(argv + optind, argc - optind, on_search_line, &s);
	if (s.format == FMT_TABLE && rc == WALK_DONE)
		table_print(&s.table);
	free(s.table.text);
	free(s.rec);
	if (fflush(stdout) == EOF)
		rc = WALK_STOPPED;
	cmd_audit_report_bad(s.nbad);
	return rc == WALK_DONE && s.nbad == 0 ? 0 : 1;
}

