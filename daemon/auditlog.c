/*
 * auditlog: workers queue line bodies; one writer thread numbers them,
 * chains them (audit.h) and appends them to the file.  Workers only copy
 * bytes under a mutex; every system call happens in the writer, so a
 * slow or full disk never stalls a query.  Not here: the line format
 * (audit.c) and reading logs back (cmd_audit.c).
 */
#include "auditlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

/*
 * The queue is two buffers of records.  Workers append to the "fill"
 * buffer; the writer swaps the buffers under the lock and then formats
 * and writes the other one without it.  A record is a header followed by
 * the body bytes.  A header with lost > 0 is a gap marker: it stands
 * where bodies were refused, so the gap line lands at the right place.
 */
struct rec {
	uint64_t lost;		/* > 0: gap marker for this many bodies */
	uint32_t len;		/* body bytes after the header */
};
#define HDR sizeof(struct rec)
#define NO_GAP SIZE_MAX

struct qbuf {
	char *data;
	size_t used;
	size_t gap_off;		/* offset of a trailing gap marker */
};

/* {"seq":<20 digits>,BODY,"prev":"<64 hex>"} around the body. */
#define LINE_OVERHEAD (sizeof("{\"seq\":,,\"prev\":\"\"}") - 1 + 20 + \
	AUDIT_HEXLEN)
#define BODY_MAX (AUDIT_LINE_MAX - LINE_OVERHEAD)

/* Formatted lines are written in chunks of about this size. */
#define OUT_CAP (64 * 1024 + AUDIT_LINE_MAX + 1)
#define META_CAP 1024

/* Where a formatted line ends in the chunk, and what losing it costs. */
struct line_meta {
	size_t end;		/* offset after its newline */
	uint64_t lost;		/* bodies it stands for: 1, or a gap's N */
	bool is_body;
};

struct auditlog {
	char *path;
	struct audit_hasher *hasher;	/* the writer's (and open's) */
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;

	/* Under lock. */
	struct qbuf bufs[2];
	int fill;
	size_t cap;			/* bytes per buffer */
	bool is_writer_idle;
	bool is_gathering;		/* writer waits for a batch to fill */
	bool want_reopen;
	bool is_closing;
	struct auditlog_stats stats;

	/* Writer thread only (and auditlog_open before it starts). */
	uint64_t seq;			/* of the last line written */
	char prev[AUDIT_HEXLEN + 1];	/* hash of the last line written */
	uint64_t pending_lost;		/* bodies lost, no gap line yet */
	bool is_torn;			/* the file may end mid-line */
	bool is_reopen_pending;		/* a reopen failed; retry */
	char *out;
	size_t out_used;
	struct line_meta meta[META_CAP];
	size_t nmeta;
	uint64_t chunk_seq;		/* seq and prev before the chunk */
	char chunk_prev[AUDIT_HEXLEN + 1];
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Writes all of buf.  Returns the bytes written, which is less than len
 * only on an error (errno set); a partial write with progress is retried
 * because it is how a disk reports filling up.
 */
static size_t
write_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			break;
		}
		done += (size_t)n;
	}
	return done;
}

static void
chunk_start(struct auditlog *log)
{
	log->out_used = 0;
	log->nmeta = 0;
	log->chunk_seq = log->seq;
	memcpy(log->chunk_prev, log->prev, sizeof(log->prev));
}

/*
 * A write failed after `written` bytes of the chunk.  Keeps the lines
 * that reached the file whole and rolls seq and the chain back to the
 * last of them, so the file stays one valid chain; the rest becomes a
 * gap line on the next write.  A torn line is cut off if the file allows
 * it, else the next write starts on a fresh line.
 */
static void
chunk_failed(struct auditlog *log, size_t written)
{
	size_t k = 0, begin, boundary, i;
	uint64_t dropped = 0;
	off_t end;

	while (k < log->nmeta && log->meta[k].end <= written)
		k++;
	boundary = k > 0 ? log->meta[k - 1].end : 0;
	if (written > boundary) {
		end = lseek(log->fd, 0, SEEK_CUR);
		if (end < 0 || ftruncate(log->fd,
		    end - (off_t)(written - boundary)) != 0)
			log->is_torn = true;
	}
	for (i = k; i < log->nmeta; i++) {
		log->pending_lost += log->meta[i].lost;
		if (log->meta[i].is_body)
			dropped++;
	}
	log->seq = log->chunk_seq + k;
	if (k == 0) {
		memcpy(log->prev, log->chunk_prev, sizeof(log->prev));
	} else {
		begin = k > 1 ? log->meta[k - 2].end : 0;
		audit_hasher_hash(log->hasher, log->out + begin, boundary - 1 - begin,
		    log->prev);
	}
	pthread_mutex_lock(&log->lock);
	log->stats.written += k;
	log->stats.dropped += dropped;
	log->stats.seq = log->seq;
	pthread_mutex_unlock(&log->lock);
}

static void
chunk_flush(struct auditlog *log)
{
	size_t written = 0;

	if (log->nmeta == 0)
		return;
	if (log->is_torn && write_all(log->fd, "\n", 1) == 1)
		log->is_torn = false;
	if (!log->is_torn)
		written = write_all(log->fd, log->out, log->out_used);
	if (written < log->out_used) {
		chunk_failed(log, written);
	} else {
		pthread_mutex_lock(&log->lock);
		log->stats.written += log->nmeta;
		log->stats.seq = log->seq;
		pthread_mutex_unlock(&log->lock);
	}
	chunk_start(log);
}

/* Numbers, chains and appends one line to the chunk. */
static void
emit(struct auditlog *log, const char *body, size_t len, uint64_t lost,
    bool is_body)
{
	struct line_meta *m;
	char *line;
	size_t n;

	if (log->nmeta == META_CAP ||
	    OUT_CAP - log->out_used < AUDIT_LINE_MAX + 1)
		chunk_flush(log);
	line = log->out + log->out_used;
	n = audit_format_line(line, AUDIT_LINE_MAX + 1, log->seq + 1, body,
	    len, log->prev);
	if (n == 0) {
		/* Unreachable: submit bounds bodies to BODY_MAX. */
		log->pending_lost += lost;
		return;
	}
	audit_hasher_hash(log->hasher, line, n, log->prev);
	log->seq++;
	line[n] = '\n';
	log->out_used += n + 1;
	m = &log->meta[log->nmeta++];
	m->end = log->out_used;
	m->lost = lost;
	m->is_body = is_body;
}

/* Writes the gap line owed for lost bodies, if any. */
static void
emit_gap(struct auditlog *log)
{
	char body[128], members[32];
	uint64_t lost = log->pending_lost;
	size_t n;

	if (lost == 0)
		return;
	log->pending_lost = 0;
	snprintf(members, sizeof(members), "\"lost\":%" PRIu64, lost);
	n = audit_format_event(body, sizeof(body), now_ms(), "gap", members);
	emit(log, body, n, lost, false);
}

static void
write_batch(struct auditlog *log, struct qbuf *batch)
{
	struct rec r;
	size_t off = 0;

	chunk_start(log);
	while (off < batch->used) {
		memcpy(&r, batch->data + off, HDR);
		off += HDR;
		if (r.lost > 0) {
			log->pending_lost += r.lost;
			continue;
		}
		emit_gap(log);
		emit(log, batch->data + off, r.len, 1, true);
		off += r.len;
	}
	/* A gap at the end of the batch is recorded now, not later. */
	emit_gap(log);
	chunk_flush(log);
	batch->used = 0;
	batch->gap_off = NO_GAP;
}

/*
 * Reopens path after logrotate moved it.  On failure the writer keeps
 * appending to the moved file, which loses nothing, and tries again
 * before the next batch.
 */
static void
reopen_file(struct auditlog *log)
{
	int fd;

	fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log->is_reopen_pending = true;
		return;
	}
	(void)flock(fd, LOCK_EX | LOCK_NB);	/* best effort after rotation */
	close(log->fd);
	log->fd = fd;
	log->is_torn = false;
	log->is_reopen_pending = false;
}

/*
 * Once a line is queued, let more gather for up to BATCH_MS (or until
 * the buffer is a quarter full) before writing: a busy resolver then
 * wakes this thread a few times a second instead of once per line, and a
 * line still reaches the file well within a second.  Called under lock.
 */
#define BATCH_MS 50

static void
gather_locked(struct auditlog *log)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += BATCH_MS * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	log->is_gathering = true;
	while (!log->want_reopen && !log->is_closing &&
	    log->bufs[log->fill].used < log->cap / 4) {
		if (pthread_cond_timedwait(&log->wake, &log->lock,
		    &deadline) == ETIMEDOUT)
			break;
	}
	log->is_gathering = false;
}

static void *
writer_main(void *arg)
{
	struct auditlog *log = arg;
	struct qbuf *batch;
	bool is_closing, is_done;

	for (;;) {
		pthread_mutex_lock(&log->lock);
		while (log->bufs[log->fill].used == 0 && !log->want_reopen &&
		    !log->is_closing) {
			log->is_writer_idle = true;
			pthread_cond_wait(&log->wake, &log->lock);
		}
		log->is_writer_idle = false;
		gather_locked(log);
		if (log->want_reopen)
			log->is_reopen_pending = true;
		log->want_reopen = false;
		is_closing = log->is_closing;
		batch = &log->bufs[log->fill];
		log->fill ^= 1;
		pthread_mutex_unlock(&log->lock);

		if (log->is_reopen_pending)
			reopen_file(log);
		write_batch(log, batch);
		if (!is_closing)
			continue;
		pthread_mutex_lock(&log->lock);
		is_done = log->bufs[log->fill].used == 0;
		pthread_mutex_unlock(&log->lock);
		if (is_done)
			break;
	}
	/* Pipes and character devices cannot be synced; nothing to do. */
	while (fsync(log->fd) != 0 && errno == EINTR)
		;
	return NULL;
}

/* Records one refused body in the fill buffer.  Called under lock. */
static void
drop_locked(struct auditlog *log)
{
	struct qbuf *b = &log->bufs[log->fill];
	struct rec r;

	log->stats.dropped++;
	if (b->gap_off != NO_GAP) {
		memcpy(&r, b->data + b->gap_off, HDR);
		r.lost++;
		memcpy(b->data + b->gap_off, &r, HDR);
		return;
	}
	/* Every accepted body left HDR bytes free for this marker. */
	memset(&r, 0, sizeof(r));
	r.lost = 1;
	memcpy(b->data + b->used, &r, HDR);
	b->gap_off = b->used;
	b->used += HDR;
}

int
auditlog_submit(struct auditlog *log, const char *body, size_t len)
{
	struct qbuf *b;
	struct rec r;
	bool is_ok = false, must_wake;

	/* A line break in a body would split its line and break the chain. */
	bool is_valid = len <= BODY_MAX && memchr(body, '\n', len) == NULL;

	pthread_mutex_lock(&log->lock);
	b = &log->bufs[log->fill];
	if (is_valid && log->cap - b->used >= HDR + len + HDR) {
		memset(&r, 0, sizeof(r));
		r.len = (uint32_t)len;
		memcpy(b->data + b->used, &r, HDR);
		memcpy(b->data + b->used + HDR, body, len);
		b->used += HDR + len;
		b->gap_off = NO_GAP;
		is_ok = true;
	} else {
		drop_locked(log);
	}
	must_wake = log->is_writer_idle ||
	    (log->is_gathering && b->used >= log->cap / 4);
	log->is_writer_idle = false;
	pthread_mutex_unlock(&log->lock);
	if (must_wake)
		pthread_cond_signal(&log->wake);
	return is_ok ? 0 : -1;
}

void
auditlog_reopen(struct auditlog *log)
{
	pthread_mutex_lock(&log->lock);
	log->want_reopen = true;
	pthread_cond_signal(&log->wake);
	pthread_mutex_unlock(&log->lock);
}

void
auditlog_get_stats(struct auditlog *log, struct auditlog_stats *st)
{
	pthread_mutex_lock(&log->lock);
	*st = log->stats;
	pthread_mutex_unlock(&log->lock);
}

/*
 * Reads the last line of a non-empty file from its end (logs grow to
 * gigabytes; only the tail matters) and continues seq and the chain from
 * it.  A file that does not end in a newline was torn by a crash: the
 * operator decides what to do with it, we do not guess.
 */
static int
read_tail(struct auditlog *log, off_t size, char *err, size_t errlen)
{
	char buf[AUDIT_LINE_MAX + 2];
	size_t n, got = 0, start;
	ssize_t r;

	n = (uint64_t)size < sizeof(buf) ? (size_t)size : sizeof(buf);
	while (got < n) {
		r = pread(log->fd, buf + got, n - got,
		    size - (off_t)(n - got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: read: %s", log->path,
			    r < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		got += (size_t)r;
	}
	if (buf[n - 1] != '\n') {
		snprintf(err, errlen, "%s: last line is torn (no final "
		    "newline); repair or move the file", log->path);
		return -1;
	}
	start = n - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && n < (size_t)size) {
		snprintf(err, errlen, "%s: last line is longer than %d bytes",
		    log->path, AUDIT_LINE_MAX);
		return -1;
	}
	if (audit_parse_chain(buf + start, n - 1 - start, &log->seq,
	    log->prev) != 0) {
		snprintf(err, errlen, "%s: last line is not a chained audit "
		    "line", log->path);
		return -1;
	}
	audit_hasher_hash(log->hasher, buf + start, n - 1 - start, log->prev);
	return 0;
}

static int
open_file(struct auditlog *log, char *err, size_t errlen)
{
	struct stat st;

	/* O_RDWR: the tail is read through the very inode we append to. */
	log->fd = open(log->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640);
	if (log->fd < 0 || fstat(log->fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", log->path, strerror(errno));
		return -1;
	}
	/* Two writers would fork the chain: one process per log file. */
	if (S_ISREG(st.st_mode) && flock(log->fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "%s: %s", log->path, errno == EWOULDBLOCK ?
		    "in use by another process (is another cordond running?)" :
		    strerror(errno));
		return -1;
	}
	log->seq = 0;
	memcpy(log->prev, AUDIT_GENESIS, sizeof(log->prev));
	if (S_ISREG(st.st_mode) && st.st_size > 0)
		return read_tail(log, st.st_size, err, errlen);
	return 0;
}

/*
 * The writer blocks every signal, so SIGUSR1, SIGHUP and SIGTERM reach
 * the daemon's own handlers instead of interrupting a write.
 */
static int
start_writer(struct auditlog *log)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&log->thread, NULL, writer_main, log);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

struct auditlog *
auditlog_open(const char *path, size_t queue_bytes, char *err,
    size_t errlen)
{
	struct auditlog *log;
	pthread_condattr_t attr;
	int i, rc;

	log = calloc(1, sizeof(*log));
	if (log == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	log->fd = -1;
	/* Each half holds at least the largest body plus a gap marker. */
	log->cap = queue_bytes / 2;
	if (log->cap < 2 * HDR + BODY_MAX)
		log->cap = 2 * HDR + BODY_MAX;
	log->path = strdup(path);
	log->hasher = audit_hasher_new();
	log->out = malloc(OUT_CAP);
	for (i = 0; i < 2; i++) {
		log->bufs[i].data = malloc(log->cap);
		log->bufs[i].gap_off = NO_GAP;
	}
	if (log->path == NULL || log->out == NULL || log->hasher == NULL ||
	    log->bufs[0].data == NULL || log->bufs[1].data == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (open_file(log, err, errlen) != 0)
		goto fail;
	log->stats.seq = log->seq;
	pthread_mutex_init(&log->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&log->wake, &attr);
	pthread_condattr_destroy(&attr);
	rc = start_writer(log);
	if (rc != 0) {
		snprintf(err, errlen, "%s: writer thread: %s", path,
		    strerror(rc));
		pthread_cond_destroy(&log->wake);
		pthread_mutex_destroy(&log->lock);
		goto fail;
	}
	return log;
fail:
	if (log->fd >= 0)
		close(log->fd);
	free(log->bufs[0].data);
	free(log->bufs[1].data);
	free(log->out);
	free(log->path);
	audit_hasher_free(log->hasher);
	free(log);
	return NULL;
}

void
auditlog_close(struct auditlog *log)
{
	if (log == NULL)
		return;
	pthread_mutex_lock(&log->lock);
	log->is_closing = true;
	pthread_cond_signal(&log->wake);
	pthread_mutex_unlock(&log->lock);
	pthread_join(log->thread, NULL);
	close(log->fd);
	pthread_cond_destroy(&log->wake);
	pthread_mutex_destroy(&log->lock);
	free(log->bufs[0].data);
	free(log->bufs[1].data);
	free(log->out);
	free(log->path);
	audit_hasher_free(log->hasher);
	free(log);
}
