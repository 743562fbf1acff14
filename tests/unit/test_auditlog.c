/*
 * test_auditlog: the writer thread end to end in a temporary directory:
 * numbering and chaining under concurrent submits, continuing an
 * existing file, reopening after rotation, cutting a torn last line,
 * gap lines with exact seq ranges for a full queue, invalid bodies, a
 * full disk and an unclean stop, start and stop lines, the state file
 * (chain head and reserved mark), a close bounded on a stalled disk, and
 * the copies sent to syslog (exact, in order; dropped and counted, never
 * waited for, when the syslog socket is full or gone).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/auditlog.h"
#include "audit/syslogsink.h"
#include "unit.h"

#define NTHREADS 4
#define PER_THREAD 5000

static void
path_in_dir(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Returns the file's bytes, NUL-terminated; free them. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (f == NULL)
		return NULL;
	do {
		if (cap - *len < 4096) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		n = fread(buf + *len, 1, cap - *len - 1, f);
		*len += n;
	} while (n > 0);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

/* What a log holds, as checked by check_chain(). */
struct readback {
	uint64_t seq;			/* last seq seen (a gap's "to") */
	char prev[AUDIT_HEXLEN + 1];	/* hash of the last line seen */
	size_t nbodies;			/* lines with "t" and "i" */
	size_t ngaps;
	uint64_t lost;			/* seqs inside gap lines */
	uint64_t gap_from, gap_to;	/* of the last gap line */
	char gap_reason[128];
	size_t nstarts, nstops;
	char previous[16];		/* of the last start line */
	long torn;			/* of the last start line, or -1 */
	int next_i[NTHREADS];		/* per thread: next "i" expected */
	bool is_ok;
};

static void
readback_init(struct readback *rb)
{
	memset(rb, 0, sizeof(*rb));
	memcpy(rb->prev, AUDIT_GENESIS, sizeof(rb->prev));
	rb->torn = -1;
	rb->is_ok = true;
}

/* A gap line: {"seq":S,...,"event":"gap","from":S,"to":T,"reason":..}. */
static void
check_gap(struct readback *rb, const char *what, const char *line,
    uint64_t seq)
{
	const char *p = strstr(line, "\"from\":");
	const char *q = strstr(line, "\"reason\":\"");
	uint64_t from = 0, to = 0;

	if (p == NULL || sscanf(p, "\"from\":%" SCNu64 ",\"to\":%" SCNu64,
	    &from, &to) != 2 || from != seq || to < from || q == NULL) {
		CHECK(false, "%s: bad gap line %s", what, line);
		rb->is_ok = false;
		return;
	}
	rb->ngaps++;
	rb->lost += to - from + 1;
	rb->gap_from = from;
	rb->gap_to = to;
	rb->seq = to;
	sscanf(q + 10, "%127[^\"]", rb->gap_reason);
}

static void
check_event(struct readback *rb, const char *line)
{
	const char *p;

	if (strstr(line, "\"event\":\"stop\"") != NULL) {
		rb->nstops++;
		return;
	}
	rb->nstarts++;
	rb->torn = -1;
	rb->previous[0] = '\0';
	if ((p = strstr(line, "\"previous\":\"")) != NULL)
		sscanf(p + 12, "%15[a-z]", rb->previous);
	if ((p = strstr(line, "\"torn\":")) != NULL)
		rb->torn = strtol(p + 7, NULL, 10);
}

static void
check_line(struct readback *rb, const char *what, const char *text,
    size_t len)
{
	char prev[AUDIT_HEXLEN + 1], line[AUDIT_LINE_MAX + 1];
	const char *p;
	uint64_t seq;
	int t, i;

	if (len > AUDIT_LINE_MAX) {
		CHECK(false, "%s: line after seq %" PRIu64 " too long", what,
		    rb->seq);
		rb->is_ok = false;
		return;
	}
	memcpy(line, text, len);
	line[len] = '\0';
	if (audit_parse_chain(line, len, &seq, prev) != 0 ||
	    (rb->seq != 0 && seq != rb->seq + 1) ||
	    strcmp(prev, rb->prev) != 0) {
		CHECK(false, "%s: line after seq %" PRIu64 " breaks the "
		    "chain: %s", what, rb->seq, line);
		rb->is_ok = false;
	}
	rb->seq = seq;
	audit_hash(line, len, rb->prev);
	if (strstr(line, "\"event\":\"gap\"") != NULL) {
		check_gap(rb, what, line, seq);
		return;
	}
	if (strstr(line, "\"event\":\"st") != NULL) {
		check_event(rb, line);
		return;
	}
	if (strstr(line, ",\"a\":1,") != NULL)
		return;			/* written by a test, not the writer */
	if ((p = strstr(line, "\"t\":")) == NULL ||
	    sscanf(p, "\"t\":%d,\"i\":%d", &t, &i) != 2 || t < 0 ||
	    t >= NTHREADS) {
		CHECK(false, "%s: unexpected line %s", what, line);
		rb->is_ok = false;
		return;
	}
	if (i < rb->next_i[t]) {
		CHECK(false, "%s: thread %d body %d out of order", what, t, i);
		rb->is_ok = false;
	}
	rb->next_i[t] = i + 1;
	rb->nbodies++;
}

/* Checks every line of data[0..len) and continues rb across files. */
static void
check_chain(struct readback *rb, const char *what, const char *data,
    size_t len)
{
	const char *line = data, *nl;

	if (len > 0 && data[len - 1] != '\n') {
		CHECK(false, "%s: file does not end in a newline", what);
		rb->is_ok = false;
	}
	while (line < data + len) {
		nl = memchr(line, '\n', (size_t)(data + len - line));
		if (nl == NULL)
			break;
		check_line(rb, what, line, (size_t)(nl - line));
		line = nl + 1;
	}
}

static void
check_file(struct readback *rb, const char *what, const char *path)
{
	size_t len;
	char *data = slurp(path, &len);

	CHECK(data != NULL, "%s: cannot read %s", what, path);
	if (data != NULL)
		check_chain(rb, what, data, len);
	free(data);
}

static size_t
make_body(char *buf, size_t size, int t, int i)
{
	char ts[25];

	audit_format_ts(ts, UINT64_C(1795411173123) + (uint64_t)i);
	return (size_t)snprintf(buf, size, "\"ts\":\"%s\",\"t\":%d,\"i\":%d,"
	    "\"qname\":\"www.binance.com\",\"policy\":\"5f3c1a\"", ts, t, i);
}

static struct auditlog *
open_conf(const char *path, const char *state, size_t queue, char *err,
    size_t errlen)
{
	struct auditlog_conf conf = { path, state, queue, true, NULL, NULL };

	return auditlog_open(&conf, err, errlen);
}

static struct auditlog *
open_ok(const char *what, const char *path, size_t queue)
{
	char err[256] = "";
	struct auditlog *log = open_conf(path, NULL, queue, err, sizeof(err));

	CHECK(log != NULL, "%s: open %s: %s", what, path, err);
	return log;
}

/* Removes path and its state file. */
static void
unlink_log(const char *path)
{
	char state[256];

	snprintf(state, sizeof(state), "%s.state", path);
	unlink(path);
	unlink(state);
}

/* Submits n bodies of thread t from i0; returns how many were refused. */
static int
submit_n(struct auditlog *log, int t, int i0, int n)
{
	char body[256];
	int i, refused = 0;
	size_t len;

	for (i = i0; i < i0 + n; i++) {
		len = make_body(body, sizeof(body), t, i);
		if (auditlog_submit(log, body, len) != 0)
			refused++;
	}
	return refused;
}

/* Waits up to 2 s for the writer to have written `lines` lines. */
static bool
wait_written(struct auditlog *log, uint64_t lines)
{
	struct auditlog_stats st;
	int k;

	for (k = 0; k < 200; k++) {
		auditlog_get_stats(log, &st);
		if (st.written >= lines)
			return true;
		sleep_ms(10);
	}
	return false;
}

struct worker_arg {
	struct auditlog *log;
	int t;
	int refused;
};

static void *
worker(void *p)
{
	struct worker_arg *a = p;

	a->refused = submit_n(a->log, a->t, 0, PER_THREAD);
	return NULL;
}

static void
test_threads(const char *dir)
{
	struct worker_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	struct auditlog_stats st;
	struct readback rb;
	struct auditlog *log;
	char path[128];
	int t;

	path_in_dir(path, sizeof(path), dir, "threads.log");
	log = open_ok("threads", path, 8 << 20);
	if (log == NULL)
		return;
	for (t = 0; t < NTHREADS; t++) {
		args[t].log = log;
		args[t].t = t;
		pthread_create(&th[t], NULL, worker, &args[t]);
	}
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		CHECK(args[t].refused == 0, "threads: %d refused in thread %d",
		    args[t].refused, t);
	}
	/* The start line, then every body. */
	CHECK(wait_written(log, NTHREADS * PER_THREAD + 1), "threads: slow");
	auditlog_get_stats(log, &st);
	/* Four threads flat out may outrun the reserved mark (overrun);
	 * a resolver does not, see test_reserve. */
	CHECK(st.written == NTHREADS * PER_THREAD + 1 && st.dropped == 0 &&
	    st.seq == NTHREADS * PER_THREAD + 1, "threads: %" PRIu64
	    " written %" PRIu64 " dropped seq %" PRIu64, st.written,
	    st.dropped, st.seq);
	auditlog_close(log);

	readback_init(&rb);
	check_file(&rb, "threads", path);
	CHECK(rb.seq == NTHREADS * PER_THREAD + 2, "threads: last seq %"
	    PRIu64, rb.seq);
	CHECK(rb.nbodies == NTHREADS * PER_THREAD && rb.ngaps == 0 &&
	    rb.nstarts == 1 && rb.nstops == 1, "threads: %zu bodies %zu gaps",
	    rb.nbodies, rb.ngaps);
	CHECK_STR(rb.previous, "new", "threads: first start");
	for (t = 0; t < NTHREADS; t++)
		CHECK(rb.next_i[t] == PER_THREAD, "threads: thread %d ends "
		    "at %d", t, rb.next_i[t]);
	unlink_log(path);
}

/* Reopening an existing file continues seq and the chain in it; each
 * run adds a start line saying the last one stopped cleanly, and a stop
 * line. */
static void
test_continue(const char *dir)
{
	static const int rounds[] = { 1000, 1, 0, 7 };
	struct auditlog_stats st;
	struct readback rb;
	struct auditlog *log;
	char path[128];
	size_t r;
	int total = 0;
	uint64_t seq = 0;

	path_in_dir(path, sizeof(path), dir, "continue.log");
	for (r = 0; r < sizeof(rounds) / sizeof(rounds[0]); r++) {
		log = open_ok("continue", path, 1 << 20);
		if (log == NULL)
			return;
		auditlog_get_stats(log, &st);
		CHECK(st.seq == seq, "continue round %zu: opened at seq %"
		    PRIu64 ", want %" PRIu64, r, st.seq, seq);
		submit_n(log, 0, total, rounds[r]);
		total += rounds[r];
		seq += (uint64_t)rounds[r] + 2;
		auditlog_close(log);
	}
	readback_init(&rb);
	check_file(&rb, "continue", path);
	CHECK(rb.seq == seq && rb.nbodies == (size_t)total &&
	    rb.nstarts == 4 && rb.nstops == 4 && rb.ngaps == 0,
	    "continue: seq %" PRIu64 ", %zu bodies, want %d", rb.seq,
	    rb.nbodies, total);
	CHECK_STR(rb.previous, "clean", "continue: last start");
	unlink_log(path);
}

/* logrotate: rename, reopen; seq and chain run on into the new file. */
static void
test_rotate(const char *dir)
{
	struct readback rb;
	struct auditlog *log;
	char path[128], old[128], older[128];

	path_in_dir(path, sizeof(path), dir, "rotate.log");
	path_in_dir(old, sizeof(old), dir, "rotate.log.1");
	path_in_dir(older, sizeof(older), dir, "rotate.log.2");
	log = open_ok("rotate", path, 1 << 20);
	if (log == NULL)
		return;
	submit_n(log, 0, 0, 100);
	CHECK(wait_written(log, 101), "rotate: slow");
	rename(path, older);
	auditlog_reopen(log);
	submit_n(log, 0, 100, 50);
	CHECK(wait_written(log, 151), "rotate: slow");
	rename(path, old);
	auditlog_reopen(log);
	auditlog_reopen(log);
	submit_n(log, 0, 150, 25);
	auditlog_close(log);

	readback_init(&rb);
	check_file(&rb, "rotate .2", older);
	CHECK(rb.seq == 101, "rotate: .2 ends at %" PRIu64, rb.seq);
	check_file(&rb, "rotate .1", old);
	CHECK(rb.seq == 151, "rotate: .1 ends at %" PRIu64, rb.seq);
	check_file(&rb, "rotate", path);
	CHECK(rb.seq == 177 && rb.nbodies == 175 && rb.is_ok,
	    "rotate: ends at %" PRIu64 " with %zu bodies", rb.seq,
	    rb.nbodies);
	unlink_log(path);
	unlink(old);
	unlink(older);
}

/* Reads a state file: returns the fields matched (4 when whole). */
static int
read_state(const char *path, uint64_t *seq, char hash[65],
    uint64_t *reserved, char run[16])
{
	size_t len;
	char *data = slurp(path, &len);
	int n;

	if (data == NULL)
		return 0;
	n = sscanf(data, "{\"seq\":%" SCNu64 ",\"hash\":\"%64[0-9a-f]\","
	    "\"reserved\":%" SCNu64 ",\"run\":\"%15[a-z]\"}", seq, hash,
	    reserved, run);
	free(data);
	return n;
}

static void
write_state(const char *path, uint64_t seq, const char *hash,
    uint64_t reserved, const char *run)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "{\"seq\":%" PRIu64 ",\"hash\":\"%s\","
	    "\"reserved\":%" PRIu64 ",\"run\":\"%s\"}\n", seq, hash,
	    reserved, run);
	write_file(path, buf);
}

/* A torn last line is cut off and recorded; the daemon still starts. */
static void
test_torn(const char *dir)
{
	static const struct {
		const char *name;
		const char *text;
		uint64_t seq;		/* head after the cut */
		long torn;		/* bytes cut; -2: all of text */
		uint64_t gap_to;	/* 0: no gap */
	} cases[] = {
		{ "empty", "", 0, -1, 0 },
		{ "one line",
		  "{\"seq\":9,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}\n",
		  9, -1, 0 },
		{ "torn only line",
		  "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}", 0, -2,
		  1 },
		{ "torn second line",
		  "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}\n"
		  "{\"seq\":2,\"a\":", 1, 13, 2 },
		{ "torn seq digits", "{\"seq\":", 0, 7, 0 },
	};
	struct auditlog_stats st;
	struct readback rb;
	struct auditlog *log;
	char path[128], err[256];
	size_t i;

	path_in_dir(path, sizeof(path), dir, "torn.log");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink_log(path);
		write_file(path, cases[i].text);
		err[0] = '\0';
		log = open_conf(path, NULL, 1 << 16, err, sizeof(err));
		CHECK(log != NULL, "torn %s: %s", cases[i].name, err);
		if (log == NULL)
			continue;
		auditlog_get_stats(log, &st);
		CHECK(st.seq == cases[i].seq, "torn %s: seq %" PRIu64,
		    cases[i].name, st.seq);
		auditlog_close(log);
		readback_init(&rb);
		check_file(&rb, cases[i].name, path);
		CHECK(rb.is_ok && rb.torn == (cases[i].torn == -2 ?
		    (long)strlen(cases[i].text) : cases[i].torn),
		    "torn %s: torn %ld", cases[i].name, rb.torn);
		CHECK(rb.ngaps == (cases[i].gap_to ? 1u : 0u) &&
		    (cases[i].gap_to == 0 || (rb.gap_to == cases[i].gap_to &&
		    rb.gap_from == cases[i].seq + 1)), "torn %s: %zu gaps, to %"
		    PRIu64, cases[i].name, rb.ngaps, rb.gap_to);
		CHECK_STR(rb.previous, cases[i].seq > 0 || cases[i].torn != -1 ?
		    "unclean" : "new", "torn %s", cases[i].name);
	}
	unlink_log(path);
}

static void
test_refuse(const char *dir)
{
	static const struct {
		const char *name;
		const char *text;
		const char *want_err;
	} cases[] = {
		{ "not audit", "hello\n", "not a chained audit line" },
		{ "blank last line",
		  "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}\n\n",
		  "not a chained audit line" },
	};
	struct auditlog *log;
	char path[128], err[256], big[AUDIT_LINE_MAX + 100];
	size_t i;

	path_in_dir(path, sizeof(path), dir, "refuse.log");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(path, cases[i].text);
		err[0] = '\0';
		log = open_conf(path, NULL, 1 << 16, err, sizeof(err));
		CHECK(log == NULL, "refuse %s: opened", cases[i].name);
		auditlog_close(log);
		CHECK(strstr(err, cases[i].want_err) != NULL &&
		    strstr(err, path) != NULL, "refuse %s: error \"%s\"",
		    cases[i].name, err);
	}
	/* A "torn line" longer than any line cordond writes is not one. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	log = open_conf(path, NULL, 1 << 16, err, sizeof(err));
	CHECK(log == NULL && strstr(err, "without a newline") != NULL,
	    "refuse long fragment: %s", err);
	auditlog_close(log);
	unlink_log(path);
}

/* Checks both files from scratch. */
static void
recheck(struct readback *rb, const char *what, const char *a, const char *b)
{
	readback_init(rb);
	check_file(rb, what, a);
	check_file(rb, what, b);
}

/* The state file: head and mark after a clean stop, the head carried
 * over when the live file is gone, the gap an unclean stop owes. */
static void
test_state(const char *dir)
{
	struct auditlog_stats st;
	struct readback rb;
	struct auditlog *log;
	char path[128], state[160], moved[128], hash[65], run[16];
	char last_hash[AUDIT_HEXLEN + 1];
	uint64_t seq, reserved;

	path_in_dir(path, sizeof(path), dir, "state.log");
	path_in_dir(moved, sizeof(moved), dir, "state.log.1");
	snprintf(state, sizeof(state), "%s.state", path);
	log = open_ok("state", path, 1 << 20);
	if (log == NULL)
		return;
	CHECK(read_state(state, &seq, hash, &reserved, run) == 4 &&
	    strcmp(run, "running") == 0 && reserved >= 4096,
	    "state: while running: %s %" PRIu64, run, reserved);
	submit_n(log, 0, 0, 10);
	auditlog_close(log);
	readback_init(&rb);
	check_file(&rb, "state", path);
	memcpy(last_hash, rb.prev, sizeof(last_hash));
	CHECK(read_state(state, &seq, hash, &reserved, run) == 4 &&
	    seq == 12 && reserved == 12 && strcmp(run, "clean") == 0 &&
	    strcmp(hash, rb.prev) == 0, "state: after a clean stop: %"
	    PRIu64 " %" PRIu64 " %s", seq, reserved, run);

	/* The live file rotated away: the chain goes on from the state. */
	rename(path, moved);
	log = open_ok("state moved", path, 1 << 20);
	if (log == NULL)
		return;
	auditlog_get_stats(log, &st);
	CHECK(st.seq == 12, "state moved: opened at %" PRIu64, st.seq);
	submit_n(log, 0, 10, 1);
	auditlog_close(log);
	recheck(&rb, "state moved", moved, path);
	CHECK(rb.is_ok && rb.seq == 15 && rb.nstarts == 2 && rb.ngaps == 0,
	    "state moved: seq %" PRIu64, rb.seq);
	CHECK_STR(rb.previous, "clean", "state moved");

	/* A crash while running: head + 1 .. the mark is a gap. */
	write_state(state, 15, rb.prev, 4000, "running");
	log = open_ok("state unclean", path, 1 << 20);
	if (log == NULL)
		return;
	auditlog_close(log);
	recheck(&rb, "state unclean", moved, path);
	CHECK(rb.is_ok && rb.ngaps == 1 && rb.gap_from == 16 &&
	    rb.gap_to == 4000 && rb.seq == 4002, "state unclean: gap %"
	    PRIu64 "..%" PRIu64 " seq %" PRIu64, rb.gap_from, rb.gap_to,
	    rb.seq);
	CHECK_STR(rb.gap_reason, "unclean stop", "state unclean");
	CHECK_STR(rb.previous, "unclean", "state unclean");

	/* A stop that timed out on a stalled disk. */
	write_state(state, 4002, rb.prev, 4010, "stalled");
	log = open_ok("state stalled", path, 1 << 20);
	auditlog_close(log);
	recheck(&rb, "state stalled", moved, path);
	CHECK(rb.is_ok && rb.ngaps == 2 && rb.gap_from == 4003 &&
	    rb.gap_to == 4010, "state stalled: gap %" PRIu64 "..%" PRIu64,
	    rb.gap_from, rb.gap_to);
	CHECK_STR(rb.gap_reason, "not written at stop (disk stalled)",
	    "state stalled");

	/* The file went on past the state (a crash between state writes):
	 * the file's head wins, and a mark below it means no gap. */
	write_state(state, 5, AUDIT_GENESIS, 10, "running");
	log = open_ok("state behind", path, 1 << 20);
	auditlog_get_stats(log, &st);
	CHECK(st.seq == 4012, "state behind: opened at %" PRIu64, st.seq);
	auditlog_close(log);
	recheck(&rb, "state behind", moved, path);
	CHECK(rb.is_ok && rb.ngaps == 2, "state behind: %zu gaps",
	    rb.ngaps);
	CHECK_STR(rb.previous, "unclean", "state behind");

	/* An unreadable state file: unclean, the file's head. */
	write_file(state, "garbage\n");
	log = open_ok("state garbage", path, 1 << 20);
	auditlog_close(log);
	recheck(&rb, "state garbage", moved, path);
	CHECK(rb.is_ok, "state garbage: chain");
	CHECK_STR(rb.previous, "unclean", "state garbage");

	/* A state file that cannot be written refuses the open. */
	{
		char err[256] = "";
		struct auditlog *bad = open_conf(path,
		    "/nonexistent/dir/x.state", 1 << 16, err, sizeof(err));

		CHECK(bad == NULL && strstr(err, "state file") != NULL,
		    "state unwritable: %s", err);
		auditlog_close(bad);
	}
	unlink_log(path);
	unlink(moved);
}

/* The mark stays ahead of every seq handed out under a flood. */
static void
test_reserve(const char *dir)
{
	struct auditlog_stats st;
	struct auditlog *log;
	char path[128], state[160], hash[65], run[16];
	uint64_t seq, reserved;
	int k;

	path_in_dir(path, sizeof(path), dir, "reserve.log");
	snprintf(state, sizeof(state), "%s.state", path);
	log = open_ok("reserve", path, 8 << 20);
	if (log == NULL)
		return;
	/* 50,000 lines a second, above a busy resolver's blocked rate. */
	for (k = 0; k < 60; k++) {
		submit_n(log, 0, k * 500, 500);
		sleep_ms(10);
	}
	CHECK(wait_written(log, 30001), "reserve: slow");
	sleep_ms(100);
	auditlog_get_stats(log, &st);
	CHECK(read_state(state, &seq, hash, &reserved, run) == 4 &&
	    reserved > 30001 && st.overrun == 0, "reserve: mark %" PRIu64
	    " overrun %" PRIu64, reserved, st.overrun);
	/* The step grew under the flood; once it is over the mark comes
	 * back down, but never below a seq handed out. */
	CHECK(reserved - 30001 > 4096, "reserve: the step did not grow: %"
	    PRIu64, reserved);
	sleep_ms(2100);
	submit_n(log, 0, 30000, 1);
	CHECK(wait_written(log, 30002), "reserve: slow");
	sleep_ms(50);
	{
		uint64_t flood_mark = reserved;

		CHECK(read_state(state, &seq, hash, &reserved, run) == 4 &&
		    reserved < flood_mark && reserved >= 30002 + 4096,
		    "reserve: after the flood %" PRIu64 ", then %" PRIu64,
		    flood_mark, reserved);
	}
	auditlog_close(log);
	unlink_log(path);
}

struct fifo_reader {
	int fd;
	char *data;
	size_t len;
};

static void *
read_fifo(void *p)
{
	struct fifo_reader *r = p;
	size_t cap = 1 << 20;
	ssize_t n;

	r->data = malloc(cap);
	r->len = 0;
	for (;;) {
		if (cap - r->len < 65536) {
			cap *= 2;
			r->data = realloc(r->data, cap);
		}
		if (r->data == NULL)
			abort();
		n = read(r->fd, r->data + r->len, cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r->len += (size_t)n;
	}
	return NULL;
}

/*
 * A FIFO nobody reads stalls the writer like a hung disk: the pipe
 * fills, the writer blocks, the queue fills and submits are refused.
 * The refused bodies must show up as gap lines naming exactly their
 * seqs.
 */
static void
test_queue_full(const char *dir)
{
	struct fifo_reader r;
	struct auditlog_stats st;
	struct readback rb;
	struct auditlog *log;
	pthread_t th;
	char path[128];
	int i, refused = 0, accepted = 0, runs = 0, run_from = 0;
	int last_refused = -1;

	path_in_dir(path, sizeof(path), dir, "fifo");
	if (mkfifo(path, 0600) != 0) {
		CHECK(false, "queue full: mkfifo: %s", strerror(errno));
		return;
	}
	r.fd = open(path, O_RDONLY | O_NONBLOCK);
	CHECK(r.fd >= 0, "queue full: open fifo: %s", strerror(errno));
	if (r.fd < 0)
		return;
	log = open_ok("queue full", path, 0);
	if (log == NULL)
		return;
	fcntl(r.fd, F_SETFL, 0);
	/* The writer may drain a batch between two refusals (it blocks only
	 * once the FIFO is full), so refusals come in runs: each run is one
	 * gap line naming exactly its seqs (body i has seq i + 2). */
	for (i = 0; i < 1000000 && refused < 37; i++) {
		if (submit_n(log, 0, i, 1) == 0) {
			accepted++;
			continue;
		}
		if (refused == 0 || last_refused != i - 1) {
			runs++;
			run_from = i;
		}
		last_refused = i;
		refused++;
	}
	CHECK(refused == 37, "queue full: only %d refused", refused);
	auditlog_get_stats(log, &st);
	CHECK(st.dropped == 37, "queue full: dropped %" PRIu64, st.dropped);
	pthread_create(&th, NULL, read_fifo, &r);
	auditlog_close(log);
	pthread_join(th, NULL);
	close(r.fd);

	readback_init(&rb);
	check_chain(&rb, "queue full", r.data, r.len);
	CHECK(rb.is_ok && rb.nbodies == (size_t)accepted, "queue full: %zu "
	    "bodies, %d accepted", rb.nbodies, accepted);
	/* One gap per run of refusals, 37 seqs in all; the last gap is
	 * exactly the last run's seqs. */
	CHECK(rb.ngaps == (size_t)runs && rb.lost == 37 &&
	    rb.gap_from == (uint64_t)run_from + 2 &&
	    rb.gap_to == (uint64_t)last_refused + 2, "queue full: %zu gaps "
	    "(%d runs) lost %" PRIu64 " %" PRIu64 "..%" PRIu64, rb.ngaps, runs,
	    rb.lost, rb.gap_from, rb.gap_to);
	CHECK_STR(rb.gap_reason, "queue full", "queue full");
	CHECK(rb.seq == (uint64_t)accepted + 39 && rb.nstops == 1,
	    "queue full: seq %" PRIu64, rb.seq);
	free(r.data);
	unlink_log(path);
}

/*
 * A full disk: the log is a symlink to /dev/full, so every write fails
 * with ENOSPC.  The lines count as dropped, and after a reopen onto a
 * real file one gap line holds every seq lost, the start line's too.
 */
static void
test_disk_full(const char *dir)
{
	struct auditlog_stats st;
	struct readback rb;
	struct auditlog *log;
	char path[128], real[128];
	int fd, k;

	fd = open("/dev/full", O_RDWR);
	if (fd < 0) {
		printf("disk full: no /dev/full, skipped\n");
		return;
	}
	close(fd);
	path_in_dir(path, sizeof(path), dir, "full.log");
	path_in_dir(real, sizeof(real), dir, "real.log");
	if (symlink("/dev/full", path) != 0) {
		CHECK(false, "disk full: symlink: %s", strerror(errno));
		return;
	}
	log = open_ok("disk full", path, 1 << 16);
	if (log == NULL)
		return;
	submit_n(log, 0, 0, 5);
	for (k = 0; k < 200; k++) {
		auditlog_get_stats(log, &st);
		if (st.dropped >= 6)
			break;
		sleep_ms(10);
	}
	CHECK(st.dropped == 6 && st.written == 0 && st.seq == 0,
	    "disk full: dropped %" PRIu64 " written %" PRIu64 " seq %" PRIu64,
	    st.dropped, st.written, st.seq);
	unlink(path);
	if (symlink("real.log", path) != 0)
		CHECK(false, "disk full: symlink: %s", strerror(errno));
	auditlog_reopen(log);
	submit_n(log, 0, 5, 3);
	auditlog_close(log);

	readback_init(&rb);
	check_file(&rb, "disk full", real);
	CHECK(rb.is_ok && rb.ngaps == 1 && rb.gap_from == 1 &&
	    rb.gap_to == 6 && rb.nbodies == 3 && rb.seq == 10,
	    "disk full: %zu gaps %" PRIu64 "..%" PRIu64 ", %zu bodies, seq %"
	    PRIu64, rb.ngaps, rb.gap_from, rb.gap_to, rb.nbodies, rb.seq);
	CHECK_STR(rb.gap_reason, "write error: No space left on device",
	    "disk full");
	unlink_log(path);
	unlink(real);
}

/* Bodies the writer must not accept become a gap, not a line. */
static void
test_bad_body(const char *dir)
{
	static const char nl[] = "\"ts\":\"x\",\n\"t\":0";
	struct readback rb;
	struct auditlog *log;
	char path[128], *big;

	path_in_dir(path, sizeof(path), dir, "bad.log");
	log = open_ok("bad body", path, 1 << 16);
	if (log == NULL)
		return;
	big = malloc(AUDIT_LINE_MAX);
	if (big == NULL)
		abort();
	memset(big, 'a', AUDIT_LINE_MAX);
	submit_n(log, 0, 0, 2);
	CHECK(auditlog_submit(log, nl, strlen(nl)) == -1, "newline taken");
	CHECK(auditlog_submit(log, big, AUDIT_LINE_MAX) == -1, "big taken");
	submit_n(log, 0, 2, 2);
	auditlog_close(log);
	free(big);

	readback_init(&rb);
	check_file(&rb, "bad body", path);
	/* One gap line, or two if the writer ran between the refusals. */
	CHECK(rb.is_ok && rb.nbodies == 4 && rb.ngaps >= 1 && rb.lost == 2 &&
	    rb.seq == 8, "bad body: %zu bodies %zu gaps lost %" PRIu64,
	    rb.nbodies, rb.ngaps, rb.lost);
	CHECK_STR(rb.gap_reason, "invalid line", "bad body");
	unlink_log(path);
}

/* A line reaches the file well within a second, without a close. */
static void
test_latency(const char *dir)
{
	struct auditlog *log;
	struct stat st;
	off_t start_size = 0;
	char path[128];
	int k;

	path_in_dir(path, sizeof(path), dir, "latency.log");
	log = open_ok("latency", path, 1 << 16);
	if (log == NULL)
		return;
	CHECK(wait_written(log, 1), "latency: no start line");
	if (stat(path, &st) == 0)
		start_size = st.st_size;
	submit_n(log, 0, 0, 1);
	for (k = 0; k < 100; k++) {
		if (stat(path, &st) == 0 && st.st_size > start_size)
			break;
		sleep_ms(10);
	}
	CHECK(k < 100, "latency: nothing written after 1 s");
	auditlog_close(log);
	unlink_log(path);
}

/* close() writes everything queued, however recently. */
static void
test_close_flushes(const char *dir)
{
	struct readback rb;
	struct auditlog *log;
	char path[128];

	path_in_dir(path, sizeof(path), dir, "flush.log");
	log = open_ok("flush", path, 4 << 20);
	if (log == NULL)
		return;
	submit_n(log, 0, 0, 10000);
	auditlog_close(log);
	readback_init(&rb);
	check_file(&rb, "flush", path);
	CHECK(rb.nbodies == 10000 && rb.seq == 10002 && rb.nstops == 1,
	    "flush: %zu bodies, seq %" PRIu64, rb.nbodies, rb.seq);
	unlink_log(path);
}

/*
 * close() on a stalled disk (a FIFO nobody reads) returns within a few
 * seconds and leaves "stalled" with the exact seqs handed out in the
 * state file.  In a child process: the stuck writer and its memory are
 * left to the process's end, which _exit() reaches without the leak
 * checker.
 */
static void
test_stalled_close(const char *dir)
{
	char path[128], state[160], hash[65], run[16];
	uint64_t seq = 0, reserved = 0, start;
	struct auditlog *log;
	pid_t pid;
	int status = 0;

	path_in_dir(path, sizeof(path), dir, "stall");
	snprintf(state, sizeof(state), "%s.state", path);
	if (mkfifo(path, 0600) != 0) {
		CHECK(false, "stall: mkfifo: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	start = clock_ms();
	pid = fork();
	if (pid == 0) {
		log = open_ok("stall", path, 1 << 20);
		if (log == NULL)
			_exit(2);
		submit_n(log, 0, 0, 3000);	/* far more than a pipe holds */
		auditlog_close(log);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stall: child "
	    "status %d", status);
	CHECK(clock_ms() - start < 5000, "stall: close took %" PRIu64 " ms",
	    clock_ms() - start);
	CHECK(read_state(state, &seq, hash, &reserved, run) == 4 &&
	    strcmp(run, "stalled") == 0 && reserved == 3001 && seq < 3001,
	    "stall: state %" PRIu64 " %" PRIu64 " %s", seq, reserved, run);
	/* The next start owes exactly seq + 1 .. 3001 (the last body). */
	unlink(path);
	log = open_ok("stall restart", path, 1 << 16);
	auditlog_close(log);
	{
		struct readback rb;
		size_t len;
		char *data = slurp(path, &len);

		readback_init(&rb);
		rb.seq = seq;
		memcpy(rb.prev, hash, sizeof(rb.prev));
		if (data != NULL)
			check_chain(&rb, "stall restart", data, len);
		free(data);
		CHECK(rb.is_ok && rb.ngaps == 1 && rb.gap_from == seq + 1 &&
		    rb.gap_to == 3001, "stall restart: gap %" PRIu64 "..%"
		    PRIu64, rb.gap_from, rb.gap_to);
		CHECK_STR(rb.gap_reason, "not written at stop (disk stalled)",
		    "stall restart");
	}
	unlink_log(path);
}

static struct auditlog *
open_syslog(const char *path, const char *sock)
{
	struct syslogsink_conf sc = { sock, LOG_LOCAL3, "cordon-audit" };
	struct auditlog_conf conf = { path, NULL, 1 << 20, false, NULL, &sc };
	char err[256] = "";
	struct auditlog *log = auditlog_open(&conf, err, sizeof(err));

	CHECK(log != NULL, "syslog: open %s: %s", path, err);
	return log;
}

static int
bind_dgram(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (strlen(path) >= sizeof(sa.sun_path)) {
		CHECK(false, "syslog: %s: too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		CHECK(false, "syslog: bind %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* A syslog daemon: keeps what arrives on fd until told to stop. */
struct collector {
	int fd;
	pthread_t th;
	volatile int stop;
	char *msgs[64];
	size_t lens[64];
	size_t n;
};

static void *
collector_main(void *arg)
{
	struct collector *c = arg;
	char msg[AUDIT_LINE_MAX + 256];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, msg, sizeof(msg), 0);
		if (n > 0 && c->n < 64) {
			c->msgs[c->n] = malloc((size_t)n + 1);
			memcpy(c->msgs[c->n], msg, (size_t)n);
			c->msgs[c->n][n] = '\0';
			c->lens[c->n++] = (size_t)n;
		} else if (n < 0 && c->stop) {
			return NULL;
		} else if (n < 0) {
			sleep_ms(1);
		}
	}
}

/* Checks that message k is line, under <pri> and the tag. */
static void
check_copy(const struct collector *c, size_t k, const char *line,
    size_t len, int pri)
{
	char head[64];
	const char *msg, *tag;
	size_t n;

	CHECK(k < c->n, "syslog: copy %zu missing", k);
	if (k >= c->n)
		return;
	msg = c->msgs[k];
	n = c->lens[k];
	snprintf(head, sizeof(head), "<%d>", pri);
	CHECK(strncmp(msg, head, strlen(head)) == 0, "syslog: copy %zu: "
	    "%.40s, want %s", k, msg, head);
	/* <PRI>Mmm dd hh:mm:ss TAG[PID]: */
	tag = msg + strlen(head) + 16;
	snprintf(head, sizeof(head), "cordon-audit[%ld]: ", (long)getpid());
	CHECK(n > len && strncmp(tag, head, strlen(head)) == 0 &&
	    memcmp(msg + n - len, line, len) == 0 &&
	    tag + strlen(head) == msg + n - len, "syslog: copy %zu: %s", k,
	    msg);
}

static void
test_syslog(const char *dir)
{
	char path[128], sock[128];
	struct auditlog_stats st;
	struct auditlog *log;
	size_t len, k = 0;
	char *data, *line, *nl;
	int fd, pri;
	uint64_t start;

	path_in_dir(path, sizeof(path), dir, "sys");
	path_in_dir(sock, sizeof(sock), dir, "sys.sock");
	if ((fd = bind_dgram(sock)) == -1)
		return;
	/* Every line written, in file order, byte for byte. */
	{
		struct collector c = { .fd = fd };

		pthread_create(&c.th, NULL, collector_main, &c);
		log = open_syslog(path, sock);
		submit_n(log, 0, 0, 50);
		auditlog_close(log);
		sleep_ms(50);
		c.stop = 1;
		pthread_join(c.th, NULL);
		data = slurp(path, &len);
		for (line = data; line != NULL && *line != '\0';
		    line = nl + 1) {
			if ((nl = strchr(line, '\n')) == NULL)
				break;
			pri = LOG_LOCAL3 | (memmem(line, (size_t)(nl - line),
			    "\"event\":", 8) != NULL ? LOG_INFO : LOG_NOTICE);
			check_copy(&c, k++, line, (size_t)(nl - line), pri);
		}
		CHECK(k == 52 && c.n == 52, "syslog: %zu lines, %zu copies, "
		    "want start + 50 + stop", k, c.n);
		while (c.n > 0)
			free(c.msgs[--c.n]);
		free(data);
		unlink_log(path);
	}

	/* A full socket (nobody reads it): dropped and counted, never
	 * waited for; the file has every line. */
	log = open_syslog(path, sock);
	start = clock_ms();
	submit_n(log, 0, 0, 2000);
	CHECK(wait_written(log, 2001), "syslog full: slow");
	auditlog_get_stats(log, &st);
	CHECK(st.syslog_sent + st.syslog_dropped == st.written &&
	    st.syslog_dropped > 0 && st.syslog_sent > 0 && st.dropped == 0,
	    "syslog full: written %" PRIu64 " sent %" PRIu64 " dropped %"
	    PRIu64, st.written, st.syslog_sent, st.syslog_dropped);
	auditlog_close(log);
	CHECK(clock_ms() - start < 3000, "syslog full: took %" PRIu64 " ms",
	    clock_ms() - start);
	unlink_log(path);
	close(fd);
	unlink(sock);

	/* No syslog daemon at all: the log is written as ever. */
	log = open_syslog(path, sock);
	submit_n(log, 0, 0, 10);
	CHECK(wait_written(log, 11), "syslog gone: slow");
	auditlog_get_stats(log, &st);
	CHECK(st.syslog_sent == 0 && st.syslog_dropped == 11 &&
	    st.written == 11, "syslog gone: sent %" PRIu64 " dropped %" PRIu64,
	    st.syslog_sent, st.syslog_dropped);
	auditlog_close(log);
	unlink_log(path);
}

int
main(void)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/test_auditlog.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	auditlog_close(NULL);
	test_threads(dir);
	test_continue(dir);
	test_rotate(dir);
	test_torn(dir);
	test_refuse(dir);
	test_state(dir);
	test_reserve(dir);
	test_queue_full(dir);
	test_disk_full(dir);
	test_bad_body(dir);
	test_latency(dir);
	test_close_flushes(dir);
	test_stalled_close(dir);
	test_syslog(dir);
	if (rmdir(dir) != 0)
		CHECK(false, "%s left files behind", dir);
	return unit_exit();
}
