/*
 * cordon audit verify|search|report LOG...: what an auditor does with the
 * audit log.  verify walks the hash chain and the sequence across rotated
 * files and names the first broken line; search filters lines; report
 * summarises a period (auditreport.h renders it).  Files are read by
 * auditread.h; the chain format is audit.h's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "audit/audit.h"
#include "audit/auditgz.h"
#include "audit/auditread.h"
#include "audit/auditreport.h"
#include "tool/cmd.h"
#include "tool/cmd_audit_tlog.h"
#include "base/netaddr.h"
#include "base/safetext.h"

static const char usage_text[] =
"usage: cordon audit verify LOG... [--allow-gaps] [--key VKEY|FILE\n"
"           [--checkpoints FILE]... [--partial]]\n"
"       cordon audit keygen [--origin NAME] -o FILE\n"
"       cordon audit checkpoint LOG... --key FILE [--origin NAME] -o FILE\n"
"       cordon audit prove LOG... --seq N [--checkpoints FILE]\n"
"       cordon audit prove --consistency OLD NEW LOG...\n"
"       cordon audit search LOG... [--since T] [--until T] [--client CIDR]\n"
"           [--domain NAME] [--list NAME] [--trigger T] [--country CC]\n"
"           [--format table|json|csv]\n"
"       cordon audit report LOG... [--since T] [--until T] [--html FILE]\n"
"LOG: rotated files oldest first; gzip'd files are read as they are.\n"
"T: RFC 3339 (2026-11-23T05:19:33Z) or a date (2026-11-23); a date given\n"
"to --until includes that whole day.\n";

static int
usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

/*
 * Reading every line of every file.  walk() calls on_line for each line
 * in order and stops when it returns -1; an unreadable file is reported
 * here, as the caller knows nothing more about it.
 */
typedef int (*line_fn)(void *arg, const char *file,
    const struct auditread_line *ln);

enum { WALK_DONE, WALK_STOPPED, WALK_UNREADABLE };

static int
walk(char **files, int nfiles, line_fn on_line, void *arg)
{
	struct auditread_line ln;
	struct auditread *r;
	const char *why;
	int i, rc;

	for (i = 0; i < nfiles; i++) {
		if ((r = auditread_open_any(files[i], &why)) == NULL) {
			fprintf(stderr, "cordon: %s: %s\n", files[i], why);
			return WALK_UNREADABLE;
		}
		while ((rc = auditread_next(r, &ln, &why)) == 1) {
			if (on_line(arg, files[i], &ln) == -1) {
				auditread_close(r);
				return WALK_STOPPED;
			}
		}
		if (rc == -1) {
			fprintf(stderr, "cordon: %s: %s\n", files[i], why);
			auditread_close(r);
			return WALK_UNREADABLE;
		}
		auditread_close(r);
	}
	return WALK_DONE;
}

#define MAX_BAD_SHOWN 10

/* Parses a line for search and report; a line that is not an audit
 * line is reported and skipped, and counted in *nbad. */
static int
read_rec(const char *file, const struct auditread_line *ln,
    struct auditread_rec *rec, size_t *nbad)
{
	const char *why = "longer than any audit line";

	if (ln->is_torn)
		why = "truncated: the last line has no newline";
	else if (!ln->is_long &&
	    auditread_parse(ln->text, ln->len, rec, &why) == 0)
		return 0;
	if (*nbad < MAX_BAD_SHOWN)
		fprintf(stderr, "cordon: %s:%zu: not an audit line: %s\n",
		    file, ln->lineno, why);
	(*nbad)++;
	return -1;
}

/* After the first MAX_BAD_SHOWN, bad lines are only counted: a tiny
 * .gz of millions of empty lines must not print hundreds of MB. */
static void
report_bad(size_t nbad)
{
	if (nbad > MAX_BAD_SHOWN)
		fprintf(stderr, "cordon: %zu lines are not audit lines (the "
		    "first %d shown)\n", nbad, MAX_BAD_SHOWN);
}

/*
 * verify.  Each line must chain to the one before it (its prev is the
 * SHA-256 of that line) and carry the next seq.  A broken link alone
 * does not say which line was changed, so the verdict on a break waits
 * for one more line:
 *   - a seq jump followed by the seq that should have followed the
 *     line before the jump is an altered seq; followed by a seq that
 *     goes back, a reordering; any other jump is missing lines;
 *   - a bad prev with a good seq means the line before was altered,
 *     unless the next line does not chain to this one either: then this
 *     line (its prev member) was altered.
 */
enum held { HELD_NONE, HELD_JUMP, HELD_CHAIN };

#define MAX_POLICIES 32
#define TS_KEEP 40

struct pos {
	const char *file;
	size_t line;
};

struct seen_policy {
	char *id;
	size_t lines;
};

struct verify {
	bool allow_gaps;
	struct audit_hasher *hasher;
	struct auditread_rec *rec;
	size_t nlines, nfiles, ngaps;
	uint64_t lost;
	bool has_last;
	struct pos last, before;	/* the last line and the one before */
	uint64_t last_seq, first_seq, jump_from;
	char last_hash[AUDIT_HEXLEN + 1];
	enum held held;
	char first_ts[TS_KEEP], last_ts[TS_KEEP];
	struct seen_policy policies[MAX_POLICIES];
	size_t npolicies, more_policies;
};

static int
problem(struct pos at, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
problem(struct pos at, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cordon: %s:%zu: ", at.file, at.line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* The verdict on a held break when no (readable) line follows. */
static int
settle_at_end(struct verify *v)
{
	uint64_t n;

	if (v->held == HELD_JUMP) {
		n = v->last_seq - v->jump_from - 1;
		return problem(v->last, "missing lines: seq jumps from %"
		    PRIu64 " to %" PRIu64 " (%" PRIu64 " line%s missing)",
		    v->jump_from, v->last_seq, n, n == 1 ? "" : "s");
	}
	if (v->held == HELD_CHAIN)
		return problem(v->before, "altered: its SHA-256 does not "
		    "match the prev member of %s:%zu", v->last.file,
		    v->last.line);
	return 0;
}

/* The verdict on a held break, given the line after it. */
static int
settle(struct verify *v, uint64_t seq, const char *prev)
{
	if (v->held == HELD_JUMP && seq == v->jump_from + 2)
		return problem(v->last, "altered: seq %" PRIu64 " stands "
		    "where seq %" PRIu64 " belongs", v->last_seq,
		    v->jump_from + 1);
	if (v->held == HELD_JUMP && seq < v->last_seq)
		return problem(v->last, "reordered: seq %" PRIu64 " follows "
		    "seq %" PRIu64 " and is followed by seq %" PRIu64,
		    v->last_seq, v->jump_from, seq);
	if (v->held == HELD_CHAIN && strcmp(prev, v->last_hash) != 0)
		return problem(v->last, "altered: its prev member does not "
		    "match the SHA-256 of %s:%zu", v->before.file,
		    v->before.line);
	return settle_at_end(v);
}

static void
note_policy(struct verify *v, const char *id)
{
	size_t i;

	for (i = v->npolicies; i-- > 0;) {
		if (strcmp(v->policies[i].id, id) == 0) {
			v->policies[i].lines++;
			return;
		}
	}
	if (v->npolicies == MAX_POLICIES ||
	    (v->policies[v->npolicies].id = strdup(id)) == NULL) {
		v->more_policies++;
		return;
	}
	v->policies[v->npolicies++].lines = 1;
}

/* Not snprintf(): this runs for every line. */
static void
copy_ts(char dst[TS_KEEP], const char *ts)
{
	size_t n = strnlen(ts, TS_KEEP - 1);

	memcpy(dst, ts, n);
	dst[n] = '\0';
}

/* Checks line `here` (seq, prev) against the last line. */
static int
check_link(struct verify *v, struct pos here, uint64_t seq,
    const char *prev)
{
	bool is_chained, is_next;

	if (!v->has_last) {
		v->first_seq = seq;
		if (strcmp(prev, AUDIT_GENESIS) != 0)
			fprintf(stderr, "cordon: %s:%zu: note: the log starts "
			    "at seq %" PRIu64 ", chained to a line before it; "
			    "earlier files were not given, so its prev is "
			    "taken as it is\n", here.file, here.line, seq);
		else if (seq != 1)
			fprintf(stderr, "cordon: %s:%zu: note: the log starts "
			    "at seq %" PRIu64 " with the prev of a first "
			    "line\n", here.file, here.line, seq);
		return 0;
	}
	if (v->held != HELD_NONE)
		return settle(v, seq, prev);
	is_chained = strcmp(prev, v->last_hash) == 0;
	is_next = seq == v->last_seq + 1;
	if (is_chained && !is_next)
		return problem(here, "altered: seq %" PRIu64 " does not "
		    "follow seq %" PRIu64 " although the line chains to it",
		    seq, v->last_seq);
	if (!is_chained && is_next)
		v->held = HELD_CHAIN;
	else if (!is_chained && seq > v->last_seq) {
		v->held = HELD_JUMP;
		v->jump_from = v->last_seq;
	} else if (!is_chained)
		return problem(here, "reordered: seq %" PRIu64 " comes after "
		    "seq %" PRIu64, seq, v->last_seq);
	return 0;
}

/* A gap line the daemon writes takes the first seq it stands for:
 * {"seq":S,...,"event":"gap","from":S,"to":T,...}.  Returns the last
 * seq the line accounts for, or 0 when from/to contradict its seq. */
static uint64_t
gap_end(const struct auditread_rec *rec)
{
	if (rec->event == NULL || strcmp(rec->event, "gap") != 0 ||
	    (rec->from == AUDITREAD_NONE && rec->to == AUDITREAD_NONE))
		return rec->seq;
	if (rec->from != (int64_t)rec->seq || rec->to < rec->from)
		return 0;
	return (uint64_t)rec->to;
}

/* What a line says besides the chain: gaps, policies, time. */
static void
account(struct verify *v, struct pos here, const struct auditread_rec *rec)
{
	uint64_t n;

	if (v->nlines == 1)
		copy_ts(v->first_ts, rec->ts);
	copy_ts(v->last_ts, rec->ts);
	if (rec->policy != NULL)
		note_policy(v, rec->policy);
	if (rec->event == NULL || strcmp(rec->event, "gap") != 0)
		return;
	v->ngaps++;
	n = rec->lost > 0 ? (uint64_t)rec->lost : 0;
	v->lost += n;
	if (rec->from == AUDITREAD_NONE) {
		fprintf(stderr, "cordon: %s:%zu: gap event: %" PRIu64
		    " lines lost\n", here.file, here.line, n);
		return;
	}
	fprintf(stderr, "cordon: %s:%zu: gap event: seq %" PRId64 "..%"
	    PRId64 ", %" PRIu64 " line%s lost (%s)\n", here.file, here.line,
	    rec->from, rec->to, n, n == 1 ? "" : "s",
	    rec->reason != NULL ? rec->reason : "no reason given");
}

static int
on_verify_line(void *arg, const char *file, const struct auditread_line *ln)
{
	struct verify *v = arg;
	struct pos here = { file, ln->lineno };
	char prev[AUDIT_HEXLEN + 1];
	const char *why;
	uint64_t seq;

	if (ln->is_torn || ln->is_long) {
		if (settle_at_end(v) == -1)
			return -1;
		if (ln->is_torn)
			return problem(here, "truncated: the last line is "
			    "torn (no newline at the end of the file)");
		return problem(here, "not an audit line: longer than %d "
		    "bytes", AUDIT_LINE_MAX);
	}
	if (audit_parse_chain(ln->text, ln->len, &seq, prev) == -1) {
		if (settle_at_end(v) == -1)
			return -1;
		return problem(here, "not an audit line: no {\"seq\":N,..."
		    "\"prev\":\"HASH\"} chain members");
	}
	if (auditread_parse(ln->text, ln->len, v->rec, &why) == -1 ||
	    !auditread_is_strict(v->rec, &why)) {
		if (settle_at_end(v) == -1)
			return -1;
		return problem(here, "not an audit line: %s", why);
	}
	if (check_link(v, here, seq, prev) == -1)
		return -1;
	if (gap_end(v->rec) == 0)
		return problem(here, "altered: a gap line whose from/to do "
		    "not start at its own seq %" PRIu64, seq);
	v->nlines++;
	v->has_last = true;
	v->before = v->last;
	v->last = here;
	/* The next line follows the last seq a gap line stands for. */
	v->last_seq = gap_end(v->rec);
	audit_hasher_hash(v->hasher, ln->text, ln->len, v->last_hash);
	account(v, here, v->rec);
	return 0;
}

static void
print_verified(const struct verify *v)
{
	size_t i;

	printf("verified: %zu lines in %zu file%s, chain and sequence "
	    "intact\n", v->nlines, v->nfiles, v->nfiles == 1 ? "" : "s");
	if (v->nlines == 0)
		return;
	printf("seq:      %" PRIu64 " .. %" PRIu64 "\n", v->first_seq,
	    v->last_seq);
	printf("ts:       %s .. %s\n", v->first_ts, v->last_ts);
	printf("policies:");
	for (i = 0; i < v->npolicies; i++)
		printf("%s %s (%zu lines)", i ? "," : "", v->policies[i].id,
		    v->policies[i].lines);
	if (v->more_policies > 0)
		printf(", and %zu lines naming other policies",
		    v->more_policies);
	printf("%s\n", v->npolicies == 0 ? " none" : "");
	if (v->ngaps == 0)
		printf("gaps:     none\n");
	else
		printf("gaps:     %zu gap event%s, %" PRIu64 " lines lost\n",
		    v->ngaps, v->ngaps == 1 ? "" : "s", v->lost);
	/* Nothing after the last line vouches for it: keep its hash
	 * elsewhere to detect a changed or removed tail later. */
	printf("last:     %s (SHA-256 of the last line)\n", v->last_hash);
}

static int
run_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "allow-gaps", no_argument, NULL, 'g' },
		{ "key", required_argument, NULL, 'k' },
		{ "checkpoints", required_argument, NULL, 'c' },
		{ "partial", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify v = { 0 };
	char *cps[64];
	const char *key = NULL;
	int ch, rc, ncps = 0;
	bool partial = false;
	size_t i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'g')
			v.allow_gaps = true;
		else if (ch == 'k')
			key = optarg;
		else if (ch == 'c' && ncps < 64)
			cps[ncps++] = optarg;
		else if (ch == 'p')
			partial = true;
		else
			return usage();
	}
	if ((ncps > 0 || partial) && key == NULL)
		return usage();
	if (optind >= argc)
		return usage();
	v.rec = malloc(sizeof(*v.rec));
	v.hasher = audit_hasher_new();
	if (v.rec == NULL || v.hasher == NULL) {
		fprintf(stderr, "cordon: out of memory\n");
		free(v.rec);
		audit_hasher_free(v.hasher);
		return 1;
	}
	v.nfiles = (size_t)(argc - optind);
	rc = walk(argv + optind, argc - optind, on_verify_line, &v);
	if (rc == WALK_DONE && settle_at_end(&v) == -1)
		rc = WALK_STOPPED;
	if (rc == WALK_DONE) {
		print_verified(&v);
		if (v.ngaps > 0 && !v.allow_gaps) {
			fprintf(stderr, "cordon: %zu gap event%s: lines were "
			    "lost (--allow-gaps accepts them)\n", v.ngaps,
			    v.ngaps == 1 ? "" : "s");
			rc = WALK_STOPPED;
		}
	}
	for (i = 0; i < v.npolicies; i++)
		free(v.policies[i].id);
	free(v.rec);
	audit_hasher_free(v.hasher);
	if (key != NULL && tlog_verify(argv + optind, argc - optind, key, cps,
	    ncps, partial) != 0)
		rc = WALK_STOPPED;
	return rc == WALK_DONE ? 0 : 1;
}

/*
 * search and report share the period and the filters.
 */
enum format { FMT_TABLE, FMT_JSON, FMT_CSV };

struct filter {
	uint64_t since, until;		/* inclusive, ms */
	bool has_client;
	struct prefix client;
	char domain[256];		/* lower case, no final dot */
	size_t domain_len;
	const char *list, *trigger, *country;
};

static int
parse_period(const char *opt, const char *text, bool is_until, uint64_t *ms)
{
	bool is_date;

	if (auditread_parse_time(text, strlen(text), ms, &is_date) == -1) {
		fprintf(stderr, "cordon: %s \"%s\": not an RFC 3339 time "
		    "(2026-11-23T05:19:33Z) or a date (2026-11-23)\n", opt,
		    text);
		return -1;
	}
	if (is_until && is_date)
		*ms += 86400 * 1000 - 1;
	return 0;
}

static int
set_domain(struct filter *f, const char *name)
{
	size_t i, len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= sizeof(f->domain)) {
		fprintf(stderr, "cordon: --domain \"%s\": name too long\n",
		    name);
		return -1;
	}
	for (i = 0; i < len; i++)
		f->domain[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ?
		    name[i] | 0x20 : name[i]);
	f->domain[len] = '\0';
	f->domain_len = len;
	return 0;
}

/* The name itself or a name below it, ignoring ASCII case. */
static bool
is_in_domain(const struct filter *f, const char *qname)
{
	size_t len;

	if (f->domain_len == 0)
		return true;
	if (qname == NULL)
		return false;
	len = strlen(qname);
	if (len > 0 && qname[len - 1] == '.')
		len--;
	if (len < f->domain_len || strncasecmp(qname + len - f->domain_len,
	    f->domain, f->domain_len) != 0)
		return false;
	return len == f->domain_len || qname[len - f->domain_len - 1] == '.';
}

static bool
is_client_in(const struct filter *f, const char *client)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (client == NULL)
		return false;
	if (inet_pton(AF_INET, client, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, client, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		return false;
	return netaddr_in_prefix(&f->client, (struct sockaddr *)&ss);
}

static bool
is_same(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

static bool
matches(const struct filter *f, const struct auditread_rec *rec)
{
	if (rec->event != NULL || rec->ts_ms < f->since ||
	    rec->ts_ms > f->until)
		return false;
	if (!is_same(f->list, rec->list) || !is_same(f->trigger, rec->trigger))
		return false;
	if (f->country != NULL && !(rec->client_country != NULL &&
	    strcasecmp(f->country, rec->client_country) == 0) &&
	    !(rec->answer_country != NULL &&
	    strcasecmp(f->country, rec->answer_country) == 0))
		return false;
	if (f->has_client && !is_client_in(f, rec->client))
		return false;
	return is_in_domain(f, rec->qname);
}

/*
 * search output.  json repeats the lines byte for byte, so its output
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

	if (read_rec(file, ln, s->rec, &s->nbad) == -1 ||
	    !matches(&s->f, s->rec))
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
static int
set_option(struct filter *f, int ch, const char *arg, enum format *fmt)
{
	const char *why;

	switch (ch) {
	case 's':
		return parse_period("--since", arg, false, &f->since);
	case 'u':
		return parse_period("--until", arg, true, &f->until);
	case 'c':
		if (netaddr_parse_prefix(arg, &f->client, &why) == -1) {
			fprintf(stderr, "cordon: --client \"%s\": %s\n", arg,
			    why);
			return -1;
		}
		f->has_client = true;
		return 0;
	case 'd':
		return set_domain(f, arg);
	case 'l':
		f->list = arg;
		return 0;
	case 't':
		f->trigger = arg;
		return 0;
	case 'C':
		f->country = arg;
		return 0;
	case 'f':
		if (strcmp(arg, "table") == 0)
			*fmt = FMT_TABLE;
		else if (strcmp(arg, "json") == 0)
			*fmt = FMT_JSON;
		else if (strcmp(arg, "csv") == 0)
			*fmt = FMT_CSV;
		else {
			fprintf(stderr, "cordon: --format \"%s\": use table, "
			    "json or csv\n", arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

static int
run_search(int argc, char **argv)
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
		if (ch == '?' || set_option(&s.f, ch, optarg, &s.format) == -1)
			return usage();
	if (optind >= argc)
		return usage();
	if ((s.rec = malloc(sizeof(*s.rec))) == NULL) {
		fprintf(stderr, "cordon: out of memory\n");
		return 1;
	}
	if (s.format == FMT_CSV)
		for (i = 0; i < NCSV; i++)
			put_csv_cell(csv_head[i], i == NCSV - 1);
	rc = walk(argv + optind, argc - optind, on_search_line, &s);
	if (s.format == FMT_TABLE && rc == WALK_DONE)
		table_print(&s.table);
	free(s.table.text);
	free(s.rec);
	if (fflush(stdout) == EOF)
		rc = WALK_STOPPED;
	report_bad(s.nbad);
	return rc == WALK_DONE && s.nbad == 0 ? 0 : 1;
}

/*
 * report
 */
struct report {
	struct auditreport *r;
	struct auditread_rec *rec;
	size_t nbad;
};

static int
on_report_line(void *arg, const char *file, const struct auditread_line *ln)
{
	struct report *rp = arg;

	if (read_rec(file, ln, rp->rec, &rp->nbad) == -1)
		return 0;
	if (auditreport_add(rp->r, rp->rec, file, ln->lineno) == -1)
		cmd_oom("building the report");
	return 0;
}

static int
write_html(const struct auditreport *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "cordon: %s: %s\n", path, strerror(errno));
		return -1;
	}
	auditreport_write_html(r, f);
	if (ferror(f) | (fclose(f) == EOF)) {
		fprintf(stderr, "cordon: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

static int
run_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "html", required_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct filter f = { .until = UINT64_MAX };
	struct report rp = { 0 };
	const char *html = NULL;
	enum format fmt = FMT_TABLE;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'h')
			html = optarg;
		else if (ch == '?' || set_option(&f, ch, optarg, &fmt) == -1)
			return usage();
	}
	if (optind >= argc)
		return usage();
	rp.rec = malloc(sizeof(*rp.rec));
	rp.r = auditreport_new(f.since, f.until,
	    (const char *const *)argv + optind, (size_t)(argc - optind));
	if (rp.rec == NULL || rp.r == NULL) {
		fprintf(stderr, "cordon: out of memory\n");
		rc = WALK_STOPPED;
		goto done;
	}
	rc = walk(argv + optind, argc - optind, on_report_line, &rp);
	if (rc != WALK_DONE)
		goto done;
	auditreport_print(rp.r, stdout);
	if (html != NULL && write_html(rp.r, html) == -1)
		rc = WALK_STOPPED;
done:
	auditreport_free(rp.r);
	free(rp.rec);
	report_bad(rp.nbad);
	return rc == WALK_DONE && rp.nbad == 0 ? 0 : 1;
}

int
cmd_audit(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "verify") == 0)
		return run_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "search") == 0)
		return run_search(argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return run_report(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return audit_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "checkpoint") == 0)
		return audit_checkpoint(argc - 1, argv + 1);
	if (strcmp(argv[1], "prove") == 0)
		return audit_prove(argc - 1, argv + 1);
	fprintf(stderr, "cordon: audit: no subcommand \"%s\"\n", argv[1]);
	return usage();
}
