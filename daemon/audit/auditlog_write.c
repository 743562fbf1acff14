/*
 * auditlog_write: the writer thread (auditlog_impl.h).  It swaps the
 * queue's buffers, formats and chains the lines of a batch into chunks
 * (audit.h), appends them, hands each line written to the checkpoint
 * tree and the syslog copy, reopens the file after rotation and writes
 * the stop line.  Every system call on the log happens here.
 */
#include "base/clock.h"
#include "audit/auditlog_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <unistd.h>

#include "audit/syslogsink.h"
#include "audit/tlog.h"

/*
 * Hooks for whatever else must see the log exactly as written: the
 * Merkle tree of signed checkpoints and the copies sent to syslog.  They
 * run on the writer thread: on_line_written() once per line that reached
 * the file whole, in file order, with the line's bytes (no newline) and
 * seq; on_log_point() at the points where a checkpoint belongs.
 */
enum log_point {
	POINT_BATCH,		/* a batch was written (and synced) */
	POINT_REOPEN,		/* the file was reopened (rotation) */
	POINT_STOP,		/* the last line of a clean stop is written */
};

/* Blocked attempts are notices, the daemon's own events info, a loss a
 * warning.  An event line names its event right after seq and ts. */
static int
line_severity(const char *line, size_t len, enum line_kind kind)
{
	if (kind == LINE_GAP)
		return LOG_WARNING;
	if (memmem(line, len < 96 ? len : 96, "\"event\":\"", 9) != NULL)
		return LOG_INFO;
	return LOG_NOTICE;
}

static void
on_line_written(struct auditlog *log, const char *line, size_t len,
    enum line_kind kind)
{
	if (log->tlog != NULL)
		tlog_line(log->tlog, line, len);
	if (log->syslog != NULL)
		syslogsink_send(log->syslog, line_severity(line, len, kind),
		    line, len);
}

/* tlog.h: a checkpoint when one is due, and always at rotation and at
 * a clean stop; syslog gets a copy of its line. */
static void
on_log_point(struct auditlog *log, enum log_point point)
{
	const char *cp;
	size_t len;

	if (log->tlog == NULL)
		return;
	cp = tlog_point(log->tlog, point != POINT_BATCH, &len);
	if (cp != NULL && log->syslog != NULL)
		syslogsink_send(log->syslog, LOG_NOTICE, cp, len);
}

/* Copies the sink's counts into the stats.  Called under lock. */
static void
publish_syslog_locked(struct auditlog *log)
{
	if (log->syslog != NULL)
		syslogsink_counts(log->syslog, &log->stats.syslog_sent,
		    &log->stats.syslog_dropped);
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

static void
chunk_flush(struct auditlog *log)
{
	size_t written = 0, k, i, begin = 0;
	uint64_t gaps = 0;
	int errors;

	if (log->nmeta == 0)
		return;
	pthread_mutex_lock(&log->lock);
	log->stats.writing_since = clock_mono_ms() | 1;
	pthread_mutex_unlock(&log->lock);
	if (log->is_torn && write_all(log->fd, "\n", 1) == 1)
		log->is_torn = false;
	if (!log->is_torn)
		written = write_all(log->fd, log->out, log->out_used);
	k = log->nmeta;
	errors = written < log->out_used ? (log->is_torn ? EIO : errno) : 0;
	if (written < log->out_used)
		k = auditlog_chunk_failed(log, written, errors);
	for (i = 0; i < k; i++) {
		on_line_written(log, log->out + begin,
		    log->meta[i].end - 1 - begin, log->meta[i].kind);
		if (log->meta[i].kind == LINE_GAP)
			gaps++;
		begin = log->meta[i].end;
	}
	pthread_mutex_lock(&log->lock);
	log->stats.writing_since = 0;
	log->stats.last_errno = errors;
	if (errors != 0)
		log->stats.write_errors++;
	log->stats.written += k;
	log->stats.gaps += gaps;
	log->stats.seq = log->seq;
	memcpy(log->head_hash, log->prev, sizeof(log->prev));
	publish_syslog_locked(log);
	pthread_mutex_unlock(&log->lock);
	chunk_start(log);
}

/* Whether the chunk takes a gap line and one more line. */
static bool
has_room(const struct auditlog *log)
{
	return log->nmeta + 2 <= META_CAP &&
	    OUT_CAP - log->out_used >= AUDIT_LINE_MAX + 1 + GAP_LINE_MAX;
}

/* Chains and appends one line (seqs from..to) to the chunk. */
void
auditlog_emit(struct auditlog *log, const char *body, size_t len, uint64_t from,
    uint64_t to, enum line_kind kind)
{
	struct line_meta *m;
	char *line = log->out + log->out_used;
	size_t n;

	n = audit_format_line(line, AUDIT_LINE_MAX + 1, from, body, len,
	    log->prev);
	if (n == 0) {
		/* Unreachable: submit bounds bodies to BODY_MAX. */
		auditlog_add_gap(log, from, to, WHY_INVALID, clock_wall_ms());
		return;
	}
	audit_hasher_hash(log->hasher, line, n, log->prev);
	log->seq = to;
	line[n] = '\n';
	log->out_used += n + 1;
	m = &log->meta[log->nmeta++];
	m->end = log->out_used;
	m->from = from;
	m->to = to;
	m->kind = kind;
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
		if (!has_room(log))
			chunk_flush(log);
		if (r.nlost > 0) {
			auditlog_add_gap(log, r.seq, r.seq + r.nlost - 1, r.why,
			    r.ts_ms);
			continue;
		}
		auditlog_emit_gap(log);
		auditlog_emit(log, batch->data + off, r.len, r.seq, r.seq,
		    LINE_BODY);
		off += r.len;
	}
	/* A gap at the end of the batch is recorded now, not later. */
	if (!has_room(log))
		chunk_flush(log);
	auditlog_emit_gap(log);
	chunk_flush(log);
	batch->used = 0;
	batch->gap_off = NO_GAP;
}

static void
sync_file(struct auditlog *log)
{
	/* Pipes and character devices cannot be synced; nothing to do. */
	while (fdatasync(log->fd) != 0 && errno == EINTR)
		;
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
	sync_file(log);
	close(log->fd);
	log->fd = fd;
	log->is_torn = false;
	log->is_reopen_pending = false;
	on_log_point(log, POINT_REOPEN);
}

#define BATCH_MS 50

static void
gather_locked(struct auditlog *log)
{
	struct timespec deadline;

	clock_deadline_ms(&deadline, BATCH_MS);
	log->is_gathering = true;
	while (!log->want_reopen && !log->is_closing && !log->want_reserve &&
	    log->bufs[log->fill].used < log->cap / 4) {
		if (pthread_cond_timedwait(&log->wake, &log->lock,
		    &deadline) == ETIMEDOUT)
			break;
	}
	log->is_gathering = false;
}

/*
 * The end of a stop: the stop line, after everything queued, then the
 * head in the state file; whatever could not be written is left there
 * for the next start to record as a gap.
 */
static void
finish(struct auditlog *log)
{
	char body[128];
	uint64_t handed, stop_seq;
	bool is_abandoned, is_stopped;
	size_t n;

	pthread_mutex_lock(&log->lock);
	stop_seq = ++log->next_seq;
	pthread_mutex_unlock(&log->lock);
	n = audit_format_event(body, sizeof(body), clock_wall_ms(), "stop", NULL);
	chunk_start(log);
	auditlog_emit_gap(log);
	auditlog_emit(log, body, n, stop_seq, stop_seq, LINE_STOP);
	chunk_flush(log);
	is_stopped = log->seq == stop_seq && log->gap_to == 0;
	if (log->gap_to != 0) {
		auditlog_emit_gap(log);		/* one more try */
		chunk_flush(log);
	}
	sync_file(log);
	pthread_mutex_lock(&log->lock);
	handed = log->next_seq;
	is_abandoned = log->is_abandoned;
	pthread_mutex_unlock(&log->lock);
	if (is_abandoned)
		return;
	if (is_stopped) {
		on_log_point(log, POINT_STOP);
		(void)auditlog_write_head(log, handed, "clean");
	} else {
		(void)auditlog_write_head(log, handed, "lost");
	}
}

void *
auditlog_writer_main(void *arg)
{
	struct auditlog *log = arg;
	struct qbuf *batch;
	bool is_closing, is_done, is_reopen;

	for (;;) {
		pthread_mutex_lock(&log->lock);
		while (log->bufs[log->fill].used == 0 && !log->want_reopen &&
		    !log->is_closing && !log->want_reserve) {
			log->is_writer_idle = true;
			pthread_cond_wait(&log->wake, &log->lock);
		}
		log->is_writer_idle = false;
		gather_locked(log);
		is_reopen = log->want_reopen;
		log->want_reopen = false;
		is_closing = log->is_closing;
		batch = &log->bufs[log->fill];
		log->fill ^= 1;
		pthread_mutex_unlock(&log->lock);

		if (is_reopen || log->is_reopen_pending)
			reopen_file(log);
		/* After a reopen the head is only in the old file. */
		auditlog_reserve(log, is_reopen);
		if (batch->used > 0) {
			write_batch(log, batch);
			if (log->sync)
				sync_file(log);
			on_log_point(log, POINT_BATCH);
		}
		if (!is_closing)
			continue;
		pthread_mutex_lock(&log->lock);
		is_done = log->bufs[log->fill].used == 0;
		pthread_mutex_unlock(&log->lock);
		if (is_done)
			break;
	}
	finish(log);
	pthread_mutex_lock(&log->lock);
	log->is_done = true;
	pthread_cond_broadcast(&log->done);
	pthread_mutex_unlock(&log->lock);
	return NULL;
}
