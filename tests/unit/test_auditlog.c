/*
 * test_auditlog: the writer thread end to end in a temporary directory:
 * numbering and chaining under concurrent submits, continuing an
 * existing file, reopening after rotation, refusing a torn file, gap
 * lines for a full queue and a full disk, and flushing on close.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "auditlog.h"
#include "unit.h"

#define NTHREADS 4
#define PER_THREAD 5000

static void
path_in_dir(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
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
	uint64_t seq;			/* last seq seen */
	char prev[AUDIT_HEXLEN + 1];	/* hash of the last line seen */
	size_t nbodies;			/* lines with "t" and "i" */
	size_t ngaps;
	uint64_t lost;			/* sum of the gaps' "lost" */
	int next_i[NTHREADS];		/* per thread: next "i" expected */
	bool is_ok;
};

static void
readback_init(struct readback *rb)
{
	memset(rb, 0, sizeof(*rb));
	memcpy(rb->prev, AUDIT_GENESIS, sizeof(rb->prev));
	rb->is_ok = true;
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
	    seq != rb->seq + 1 || strcmp(prev, rb->prev) != 0) {
		CHECK(false, "%s: line after seq %" PRIu64 " breaks the "
		    "chain: %s", what, rb->seq, line);
		rb->is_ok = false;
	}
	rb->seq = seq;
	audit_hash(line, len, rb->prev);
	if ((p = strstr(line, "\"event\":\"gap\",\"lost\":")) != NULL) {
		rb->ngaps++;
		rb->lost += strtoull(p + 21, NULL, 10);
		return;
	}
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
open_ok(const char *what, const char *path, size_t queue)
{
	char err[256] = "";
	struct auditlog *log = auditlog_open(path, queue, err, sizeof(err));

	CHECK(log != NULL, "%s: open %s: %s", what, path, err);
	return log;
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
	CHECK(wait_written(log, NTHREADS * PER_THREAD), "threads: slow");
	auditlog_get_stats(log, &st);
	CHECK(st.written == NTHREADS * PER_THREAD && st.dropped == 0 &&
	    st.seq == NTHREADS * PER_THREAD, "threads: stats %" PRIu64
	    " written %" PRIu64 " dropped seq %" PRIu64, st.written,
	    st.dropped, st.seq);
	auditlog_close(log);

	readback_init(&rb);
	check_file(&rb, "threads", path);
	CHECK(rb.seq == NTHREADS * PER_THREAD, "threads: last seq %" PRIu64,
	    rb.seq);
	CHECK(rb.nbodies == NTHREADS * PER_THREAD && rb.ngaps == 0,
	    "threads: %zu bodies %zu gaps", rb.nbodies, rb.ngaps);
	for (t = 0; t < NTHREADS; t++)
		CHECK(rb.next_i[t] == PER_THREAD, "threads: thread %d ends "
		    "at %d", t, rb.next_i[t]);
	unlink(path);
}

/* Reopening an existing file continues seq and the chain in it. */
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

	path_in_dir(path, sizeof(path), dir, "continue.log");
	for (r = 0; r < sizeof(rounds) / sizeof(rounds[0]); r++) {
		log = open_ok("continue", path, 1 << 20);
		if (log == NULL)
			return;
		auditlog_get_stats(log, &st);
		CHECK(st.seq == (uint64_t)total, "continue round %zu: opened "
		    "at seq %" PRIu64 ", want %d", r, st.seq, total);
		submit_n(log, 0, total, rounds[r]);
		total += rounds[r];
		auditlog_close(log);
	}
	readback_init(&rb);
	check_file(&rb, "continue", path);
	CHECK(rb.seq == (uint64_t)total && rb.nbodies == (size_t)total,
	    "continue: seq %" PRIu64 ", %zu bodies, want %d", rb.seq,
	    rb.nbodies, total);
	unlink(path);
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
	CHECK(wait_written(log, 100), "rotate: slow");
	rename(path, older);
	auditlog_reopen(log);
	submit_n(log, 0, 100, 50);
	CHECK(wait_written(log, 150), "rotate: slow");
	rename(path, old);
	auditlog_reopen(log);
	auditlog_reopen(log);
	submit_n(log, 0, 150, 25);
	auditlog_close(log);

	readback_init(&rb);
	check_file(&rb, "rotate .2", older);
	CHECK(rb.seq == 100, "rotate: .2 ends at %" PRIu64, rb.seq);
	check_file(&rb, "rotate .1", old);
	CHECK(rb.seq == 150, "rotate: .1 ends at %" PRIu64, rb.seq);
	check_file(&rb, "rotate", path);
	CHECK(rb.seq == 175 && rb.nbodies == 175 && rb.is_ok,
	    "rotate: ends at %" PRIu64 " with %zu bodies", rb.seq,
	    rb.nbodies);
	unlink(path);
	unlink(old);
	unlink(older);
}

static void
test_refuse(const char *dir)
{
	static const struct {
		const char *name;
		const char *text;
		const char *want_err;	/* NULL: opens */
		uint64_t seq;
	} cases[] = {
		{ "empty", "", NULL, 0 },
		{ "one line",
		  "{\"seq\":9,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}\n",
		  NULL, 9 },
		{ "torn only line",
		  "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}",
		  "torn", 0 },
		{ "torn second line",
		  "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}\n"
		  "{\"seq\":2,\"a\":", "torn", 0 },
		{ "not audit", "hello\n", "not a chained audit line", 0 },
		{ "blank last line",
		  "{\"seq\":1,\"a\":1,\"prev\":\"" AUDIT_GENESIS "\"}\n\n",
		  "not a chained audit line", 0 },
	};
	struct auditlog_stats st;
	struct auditlog *log;
	char path[128], err[256];
	size_t i;

	path_in_dir(path, sizeof(path), dir, "refuse.log");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(path, cases[i].text);
		err[0] = '\0';
		log = auditlog_open(path, 1 << 16, err, sizeof(err));
		if (cases[i].want_err == NULL) {
			CHECK(log != NULL, "refuse %s: %s", cases[i].name,
			    err);
			if (log == NULL)
				continue;
			auditlog_get_stats(log, &st);
			CHECK(st.seq == cases[i].seq, "refuse %s: seq %"
			    PRIu64, cases[i].name, st.seq);
			auditlog_close(log);
			continue;
		}
		CHECK(log == NULL, "refuse %s: opened", cases[i].name);
		auditlog_close(log);
		CHECK(strstr(err, cases[i].want_err) != NULL &&
		    strstr(err, path) != NULL, "refuse %s: error \"%s\"",
		    cases[i].name, err);
	}
	unlink(path);
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
 * The refused bodies must show up as one gap line with the right count.
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
	int i, refused = 0, accepted = 0;

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
	for (i = 0; i < 1000000 && refused < 37; i++) {
		if (submit_n(log, 0, i, 1) == 0)
			accepted++;
		else
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
	CHECK(rb.nbodies == (size_t)accepted, "queue full: %zu bodies, "
	    "%d accepted", rb.nbodies, accepted);
	CHECK(rb.ngaps >= 1 && rb.lost == 37, "queue full: %zu gaps lost %"
	    PRIu64, rb.ngaps, rb.lost);
	CHECK(rb.seq == (uint64_t)accepted + rb.ngaps, "queue full: seq %"
	    PRIu64, rb.seq);
	free(r.data);
	unlink(path);
}

/*
 * A full disk: the log is a symlink to /dev/full, so every write fails
 * with ENOSPC.  The bodies count as dropped, seq does not advance, and
 * after a reopen onto a real file a gap line opens the chain.
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
		if (st.dropped >= 5)
			break;
		sleep_ms(10);
	}
	CHECK(st.dropped == 5 && st.written == 0 && st.seq == 0,
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
	CHECK(rb.ngaps == 1 && rb.lost == 5 && rb.nbodies == 3 &&
	    rb.seq == 4, "disk full: %zu gaps lost %" PRIu64 ", %zu bodies, "
	    "seq %" PRIu64, rb.ngaps, rb.lost, rb.nbodies, rb.seq);
	unlink(path);
	unlink(real);
}

/* Bodies the writer must not accept become a counted gap, not a line. */
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
	CHECK(rb.nbodies == 4 && rb.ngaps >= 1 && rb.lost == 2 &&
	    rb.seq == 4 + rb.ngaps,
	    "bad body: %zu bodies %zu gaps lost %" PRIu64,
	    rb.nbodies, rb.ngaps, rb.lost);
	unlink(path);
}

/* A line reaches the file well within a second, without a close. */
static void
test_latency(const char *dir)
{
	struct auditlog *log;
	struct stat st;
	char path[128];
	int k;

	path_in_dir(path, sizeof(path), dir, "latency.log");
	log = open_ok("latency", path, 1 << 16);
	if (log == NULL)
		return;
	submit_n(log, 0, 0, 1);
	for (k = 0; k < 100; k++) {
		if (stat(path, &st) == 0 && st.st_size > 0)
			break;
		sleep_ms(10);
	}
	CHECK(k < 100, "latency: nothing written after 1 s");
	auditlog_close(log);
	unlink(path);
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
	CHECK(rb.nbodies == 10000 && rb.seq == 10000,
	    "flush: %zu bodies, seq %" PRIu64, rb.nbodies, rb.seq);
	unlink(path);
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
	test_refuse(dir);
	test_queue_full(dir);
	test_disk_full(dir);
	test_bad_body(dir);
	test_latency(dir);
	test_close_flushes(dir);
	if (rmdir(dir) != 0)
		CHECK(false, "%s left files behind", dir);
	return unit_exit();
}
