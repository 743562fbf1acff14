/*
 * cordon audit verify LOG...: walks the hash chain and the sequence
 * across rotated files and names the first broken line; with --key,
 * also checks the signed checkpoints (cmd_audit_tlog.c).  The chain
 * format is audit.h's, the strict line grammar auditread.h's.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/auditread.h"
#include "tool/cmd_audit_impl.h"

/*
 * Each line must chain to the one before it (its prev is the SHA-256 of
 * that line) and carry the next seq.  A broken link alone does not say
 * which line was changed, so the verdict on a break waits for one more
 * line:
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

int
cmd_audit_verify(int argc, char **argv)
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
			return cmd_audit_usage();
	}
	if ((ncps > 0 || partial) && key == NULL)
		return cmd_audit_usage();
	if (optind >= argc)
		return cmd_audit_usage();
	v.rec = malloc(sizeof(*v.rec));
	v.hasher = audit_hasher_new();
	if (v.rec == NULL || v.hasher == NULL) {
		fprintf(stderr, "cordon: out of memory\n");
		free(v.rec);
		audit_hasher_free(v.hasher);
		return 1;
	}
	v.nfiles = (size_t)(argc - optind);
	rc = cmd_audit_walk(argv + optind, argc - optind, on_verify_line, &v);
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
	if (key != NULL && cmd_audit_tlog_verify(argv + optind,
	    argc - optind, key, cps, ncps, partial) != 0)
		rc = WALK_STOPPED;
	return rc == WALK_DONE ? 0 : 1;
}
