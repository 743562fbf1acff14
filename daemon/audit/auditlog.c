/*
 * auditlog: workers queue line bodies, each under the next seq; one
 * writer thread chains them (audit.h) and appends them to the file.
 * Workers only copy bytes under a mutex; every system call happens in
 * the writer (or at open and close), so a slow or full disk never
 * stalls a query.  Not here: the line format (audit.c) and reading logs
 * back (cmd_audit.c).
 *
 * Every seq handed out ends up in the file, either on its own line or
 * inside the range of a gap line: refused bodies leave a gap marker in
 * the queue, lines whose write failed are rolled back into a pending
 * gap, and the state file's reserved mark covers whatever a killed
 * process still held in memory.
 */
#include "audit/auditlog.h"
#include "base/clock.h"
#include "base/log.h"
#include "audit/syslogsink.h"
#include "audit/tlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/atomicfile.h"
#include "audit/audit.h"

/* Why seqs were lost: the bits of a gap's "reason". */
enum {
	WHY_QUEUE = 1,		/* the queue was full */
	WHY_INVALID = 2,	/* a body too long or with a line break */
	WHY_WRITE = 4,		/* write(2) failed (disk full, I/O error) */
	WHY_UNCLEAN = 8,	/* the previous run did not stop cleanly */
	WHY_STALLED = 16,	/* the previous stop timed out on the disk */
	WHY_STOP = 32,		/* the previous stop could not write them */
};

/*
 * The queue is two buffers of records.  Workers append to the "fill"
 * buffer; the writer swaps the buffers under the lock and then formats
 * and writes the other one without it.  A record is a header followed by
 * the body bytes.  A header with nlost > 0 is a gap marker for the seqs
 * seq .. seq + nlost - 1, refused where it stands.  Seqs are handed out
 * under the lock, so records lie in the queue in seq order.
 */
struct rec {
	uint64_t seq;
	uint64_t nlost;		/* > 0: gap marker */
	uint64_t ts_ms;		/* gap marker: when the first was lost */
	uint32_t len;		/* body bytes after the header */
	uint32_t why;		/* gap marker: WHY_* bits */
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
#define GAP_LINE_MAX 512

/* Formatted lines are written in chunks of about this size. */
#define OUT_CAP (64 * 1024 + AUDIT_LINE_MAX + 1 + GAP_LINE_MAX)
#define META_CAP 1024

/*
 * The reserved mark runs this far ahead of the last seq handed out.  It
 * is rewritten when half of it is used: the step doubles while that
 * happens more than 4 times a second and halves when it takes longer
 * than 2 s, so a flood does not turn into a flood of state writes, and
 * the gap after a crash (the seqs that may have been lost: the unused
 * part of the mark included) stays within about half a second's lines.
 */
#define RESERVE_MIN 4096
#define RESERVE_MAX (UINT64_C(1) << 20)
#define RESERVE_FAST_MS 250
#define RESERVE_SLOW_MS 2000

/* auditlog_close() waits this long for the writer, then for the state. */
#define CLOSE_WAIT_MS 3000
#define STATE_WAIT_MS 1000

enum line_kind {
	LINE_BODY,		/* queued by submit */
	LINE_GAP,
	LINE_STOP,
};

/* Where a formatted line ends in the chunk and which seqs it holds. */
struct line_meta {
	size_t end;		/* offset after its newline */
	uint64_t from, to;	/* its seq; a gap line's range */
	enum line_kind kind;
};

struct auditlog {
	char *path;
	char *state_path;
	bool sync;
	struct audit_hasher *hasher;	/* the writer's (and open's) */
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t done;

	/* Under lock. */
	struct qbuf bufs[2];
	int fill;
	size_t cap;			/* bytes per buffer */
	bool is_writer_idle;
	bool is_gathering;		/* writer waits for a batch to fill */
	bool want_reopen;
	bool want_reserve;		/* the reserved mark is near */
	bool is_closing;
	struct timespec close_by;	/* when close gives up on the writer */
	bool is_done;			/* the writer has finished */
	bool is_abandoned;		/* close gave up on the writer */
	uint64_t next_seq;		/* the last seq handed out */
	uint64_t reserved;		/* the mark in the state file */
	uint64_t block;			/* reservation step */
	char head_hash[AUDIT_HEXLEN + 1];	/* = prev after a flush */
	struct auditlog_stats stats;

	/* Writer thread only (and auditlog_open before it starts). */
	struct tlog *tlog;		/* signed checkpoints, or NULL */
	struct syslogsink *syslog;	/* copies to syslog, or NULL */
	uint64_t seq;			/* of the last line formatted */
	char prev[AUDIT_HEXLEN + 1];	/* hash of the last line formatted */
	uint64_t gap_from, gap_to;	/* pending gap; gap_to 0: none */
	uint32_t gap_why;
	int gap_errno;
	uint64_t gap_ts;		/* when its first seq was lost */
	bool is_torn;			/* the file may end mid-line */
	bool is_reopen_pending;		/* a reopen failed; retry */
	uint64_t reserved_disk;		/* as last written */
	uint64_t last_reserve_ms;
	char *out;
	size_t out_used;
	struct line_meta meta[META_CAP];
	size_t nmeta;
	uint64_t chunk_seq;		/* seq and prev before the chunk */
	char chunk_prev[AUDIT_HEXLEN + 1];
};

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

static void
deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
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

/* ---- the state file ---- */

struct state {
	uint64_t seq;			/* the head: last seq in the log */
	char hash[AUDIT_HEXLEN + 1];	/* SHA-256 of that line */
	uint64_t reserved;		/* no seq above was handed out */
	char run[16];			/* running, clean, lost, stalled */
};

#define STATE_FMT "{\"seq\":%" PRIu64 ",\"hash\":\"%s\",\"reserved\":%" \
	PRIu64 ",\"run\":\"%s\"}\n"

/*
 * Replaces the state file whole (temporary file, fsync, rename, fsync
 * of the folder), as atomicfile.h does for compiled outputs.  Returns 0,
 * or -1 with errno set.
 */
static int
state_write(const char *path, const struct state *st)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), STATE_FMT, st->seq, st->hash,
	    st->reserved, st->run);
	return atomicfile_replace(path, buf, (size_t)n, 0640);
}

/* Returns 1 with *st filled, 0 when there is no state file, -1 when it
 * cannot be read or is not one. */
static int
state_read(const char *path, struct state *st)
{
	char buf[512], tail;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "{\"seq\":%" SCNu64 ",\"hash\":\"%64[0-9a-f]\","
	    "\"reserved\":%" SCNu64 ",\"run\":\"%15[a-z]\"%c", &st->seq,
	    st->hash, &st->reserved, st->run, &tail) != 5 || tail != '}' ||
	    strlen(st->hash) != AUDIT_HEXLEN)
		return -1;
	return 1;
}

/* Writes the head and a mark; the writer's, or open's before it. */
static int
write_head(struct auditlog *log, uint64_t reserved, const char *run)
{
	struct state st;

	st.seq = log->seq;
	memcpy(st.hash, log->prev, sizeof(st.hash));
	st.reserved = reserved;
	snprintf(st.run, sizeof(st.run), "%s", run);
	return state_write(log->state_path, &st);
}

/*
 * Keeps the reserved mark ahead of the seqs handed out, and brings it
 * back down after a flood, so the gap a crash leaves stays small.
 * force: write the head anyway (after a reopen the live file no longer
 * holds it).
 */
static void
reserve(struct auditlog *log, bool force)
{
	uint64_t handed, block, mark, now = clock_mono_ms();
	bool is_abandoned, is_slow, is_short;

	pthread_mutex_lock(&log->lock);
	handed = log->next_seq;
	block = log->block;
	log->want_reserve = false;
	is_abandoned = log->is_abandoned;
	pthread_mutex_unlock(&log->lock);
	is_slow = now - log->last_reserve_ms > RESERVE_SLOW_MS;
	is_short = handed + block / 2 > log->reserved_disk;
	if (is_abandoned || (!force && !is_short && !(is_slow &&
	    block > RESERVE_MIN)))
		return;
	if (now - log->last_reserve_ms < RESERVE_FAST_MS && block < RESERVE_MAX)
		block *= 2;
	else if (is_slow && block > RESERVE_MIN)
		block /= 2;
	mark = handed + block;
	if (mark < log->reserved_disk && !is_slow)
		mark = log->reserved_disk;
	if (write_head(log, mark, "running") != 0)
		return;				/* tried again next batch */
	log->reserved_disk = mark;
	log->last_reserve_ms = now;
	pthread_mutex_lock(&log->lock);
	log->reserved = mark;
	log->block = block;
	/* Lowered below seqs handed out meanwhile: raise it right away. */
	if (log->next_seq > mark)
		log->want_reserve = true;
	pthread_mutex_unlock(&log->lock);
}

/* ---- formatting and writing (writer thread) ---- */

static void
chunk_start(struct auditlog *log)
{
	log->out_used = 0;
	log->nmeta = 0;
	log->chunk_seq = log->seq;
	memcpy(log->chunk_prev, log->prev, sizeof(log->prev));
}

/*
 * Adds seqs from..to to the pending gap.  The ranges that meet here are
 * always adjacent: refusals in queue order, or the lines of a failed
 * write, which come just before a refusal already pending when the
 * chunk was flushed to make room.
 */
static void
add_gap(struct auditlog *log, uint64_t from, uint64_t to, uint32_t why,
    uint64_t ts_ms)
{
	if (log->gap_to == 0) {
		log->gap_from = from;
		log->gap_to = to;
		log->gap_why = 0;
		log->gap_ts = ts_ms;
	}
	if (ts_ms < log->gap_ts)
		log->gap_ts = ts_ms;
	if (from < log->gap_from)
		log->gap_from = from;
	if (to > log->gap_to)
		log->gap_to = to;
	log->gap_why |= why;
}

/*
 * A write failed after `written` bytes of the chunk.  Keeps the lines
 * that reached the file whole and rolls seq and the chain back to the
 * last of them, so the file stays one valid chain; the rest becomes the
 * pending gap.  A torn line is cut off if the file allows it, else the
 * next write starts on a fresh line.  Returns the lines kept.
 */
static size_t
chunk_failed(struct auditlog *log, size_t written, int why_errno)
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
	for (i = k; i < log->nmeta; i++)
		if (log->meta[i].kind == LINE_BODY)
			dropped++;
	add_gap(log, log->meta[k].from, log->meta[log->nmeta - 1].to,
	    WHY_WRITE, clock_wall_ms());
	log->gap_errno = why_errno;
	if (k == 0) {
		log->seq = log->chunk_seq;
		memcpy(log->prev, log->chunk_prev, sizeof(log->prev));
	} else {
		log->seq = log->meta[k - 1].to;
		begin = k > 1 ? log->meta[k - 2].end : 0;
		audit_hasher_hash(log->hasher, log->out + begin,
		    boundary - 1 - begin, log->prev);
	}
	pthread_mutex_lock(&log->lock);
	log->stats.dropped += dropped;
	pthread_mutex_unlock(&log->lock);
	return k;
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
		k = chunk_failed(log, written, errors);
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
static void
emit(struct auditlog *log, const char *body, size_t len, uint64_t from,
    uint64_t to, enum line_kind kind)
{
	struct line_meta *m;
	char *line = log->out + log->out_used;
	size_t n;

	n = audit_format_line(line, AUDIT_LINE_MAX + 1, from, body, len,
	    log->prev);
	if (n == 0) {
		/* Unreachable: submit bounds bodies to BODY_MAX. */
		add_gap(log, from, to, WHY_INVALID, clock_wall_ms());
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
gap_reason(const struct auditlog *log, char *buf, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *text;
	} whys[] = {
		{ WHY_QUEUE, "queue full" },
		{ WHY_INVALID, "invalid line" },
		{ WHY_WRITE, "write error" },
		{ WHY_UNCLEAN, "unclean stop" },
		{ WHY_STALLED, "not written at stop (disk stalled)" },
		{ WHY_STOP, "not written at stop" },
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(whys) / sizeof(whys[0]); i++) {
		if (!(log->gap_why & whys[i].bit) || n >= size)
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s",
		    n > 0 ? ", " : "", whys[i].text);
		if (whys[i].bit == WHY_WRITE && n < size)
			n += (size_t)snprintf(buf + n, size - n, ": %s",
			    strerror(log->gap_errno));
	}
}

/* Writes the gap line owed, if any: it takes the gap's first seq. */
static void
emit_gap(struct auditlog *log)
{
	char body[GAP_LINE_MAX - 128], members[GAP_LINE_MAX - 192];
	char why[160];
	uint64_t from = log->gap_from, to = log->gap_to;
	size_t n;

	if (to == 0)
		return;
	log->gap_to = 0;
	gap_reason(log, why, sizeof(why));
	snprintf(members, sizeof(members), "\"from\":%" PRIu64 ",\"to\":%"
	    PRIu64 ",\"reason\":\"%s\"", from, to, why);
	n = audit_format_event(body, sizeof(body), log->gap_ts, "gap",
	    members);
	emit(log, body, n, from, to, LINE_GAP);
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
			add_gap(log, r.seq, r.seq + r.nlost - 1, r.why,
			    r.ts_ms);
			continue;
		}
		emit_gap(log);
		emit(log, batch->data + off, r.len, r.seq, r.seq, LINE_BODY);
		off += r.len;
	}
	/* A gap at the end of the batch is recorded now, not later. */
	if (!has_room(log))
		chunk_flush(log);
	emit_gap(log);
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

	deadline_in(&deadline, BATCH_MS);
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
	n = audit_format_event(body, sizeof(body), clock_wall_ms(), "stop",
	    NULL);
	chunk_start(log);
	emit_gap(log);
	emit(log, body, n, stop_seq, stop_seq, LINE_STOP);
	chunk_flush(log);
	is_stopped = log->seq == stop_seq && log->gap_to == 0;
	if (log->gap_to != 0) {
		emit_gap(log);		/* one more try */
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
		(void)write_head(log, handed, "clean");
	} else {
		(void)write_head(log, handed, "lost");
	}
}

static void *
writer_main(void *arg)
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
		reserve(log, is_reopen);
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

/* ---- the queue (any thread) ---- */

/* Records refused seq in the fill buffer.  Called under lock. */
static void
drop_locked(struct auditlog *log, uint64_t seq, uint32_t why)
{
	struct qbuf *b = &log->bufs[log->fill];
	struct rec r;

	if (b->gap_off != NO_GAP) {
		memcpy(&r, b->data + b->gap_off, HDR);
		if (r.seq + r.nlost == seq) {
			r.nlost++;
			r.why |= why;
			memcpy(b->data + b->gap_off, &r, HDR);
			return;
		}
	}
	/* Every accepted body left HDR bytes free for this marker, and
	 * seqs are handed out under the lock, so a trailing marker always
	 * ends just before seq. */
	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.nlost = 1;
	r.why = why;
	r.ts_ms = clock_wall_ms();
	memcpy(b->data + b->used, &r, HDR);
	b->gap_off = b->used;
	b->used += HDR;
}

/* Stretches the trailing gap marker to end at seq `to`. */
static void
mark_lost_locked(struct auditlog *log, uint64_t to)
{
	struct qbuf *b = &log->bufs[log->fill];
	struct rec r;

	memcpy(&r, b->data + b->gap_off, HDR);
	r.nlost = to - r.seq + 1;
	memcpy(b->data + b->gap_off, &r, HDR);
}

/* Queues body under the next seq.  Called under lock; returns whether
 * the writer must be woken, *is_ok whether the body was taken. */
static bool
queue_locked(struct auditlog *log, const char *body, size_t len,
    bool *is_ok)
{
	struct qbuf *b = &log->bufs[log->fill];
	bool is_valid = len <= BODY_MAX && memchr(body, '\n', len) == NULL;
	bool must_wake;
	uint64_t seq = ++log->next_seq;
	struct rec r;

	*is_ok = false;
	if (is_valid && log->cap - b->used >= HDR + len + HDR) {
		memset(&r, 0, sizeof(r));
		r.seq = seq;
		r.len = (uint32_t)len;
		memcpy(b->data + b->used, &r, HDR);
		memcpy(b->data + b->used + HDR, body, len);
		b->used += HDR + len;
		b->gap_off = NO_GAP;
		*is_ok = true;
	} else {
		log->stats.dropped++;
		drop_locked(log, seq, is_valid ? WHY_QUEUE : WHY_INVALID);
	}
	if (seq > log->reserved)
		log->stats.overrun++;
	must_wake = log->is_writer_idle ||
	    (log->is_gathering && b->used >= log->cap / 4);
	if (seq + log->block / 2 > log->reserved && !log->want_reserve) {
		log->want_reserve = true;
		must_wake = true;
	}
	log->is_writer_idle = false;
	return must_wake;
}

int
auditlog_submit(struct auditlog *log, const char *body, size_t len)
{
	bool is_ok, must_wake;

	pthread_mutex_lock(&log->lock);
	must_wake = queue_locked(log, body, len, &is_ok);
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

bool
auditlog_healthy(struct auditlog *log, uint64_t stall_ms, char *why,
    size_t whylen)
{
	struct auditlog_stats st;
	uint64_t now = clock_mono_ms();

	auditlog_get_stats(log, &st);
	if (st.last_errno != 0) {
		snprintf(why, whylen, "audit log %s: writing fails: %s",
		    log->path, strerror(st.last_errno));
		return false;
	}
	if (st.writing_since != 0 && now - st.writing_since > stall_ms) {
		snprintf(why, whylen, "audit log %s: a write has been blocked "
		    "for %llu s", log->path, (unsigned long long)
		    ((now - st.writing_since) / 1000));
		return false;
	}
	return true;
}

/* ---- opening ---- */

/* What the file and the state file say about the previous run. */
struct found {
	bool has_lines;			/* the file ends in a chained line */
	uint64_t seq;			/* of that line */
	char hash[AUDIT_HEXLEN + 1];	/* its SHA-256 */
	size_t torn;			/* bytes of a torn line cut off */
	uint64_t torn_seq;		/* its seq, when readable */
};


static int
read_all_at(struct auditlog *log, char *buf, size_t n, off_t at, char *err,
    size_t errlen)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(log->fd, buf + got, n - got, at + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: read: %s", log->path,
			    r < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/*
 * Cuts a torn last line (a crash in the middle of a write) off the
 * file, so the chain goes on from the last whole line; the start line
 * records how many bytes went.  Returns the new size, or -1.
 */
static off_t
cut_torn(struct auditlog *log, char *buf, size_t *n, off_t size,
    struct found *f, char *err, size_t errlen)
{
	size_t frag = 0;

	while (frag < *n && buf[*n - 1 - frag] != '\n')
		frag++;
	if (frag > AUDIT_LINE_MAX || (frag == *n && (off_t)*n < size)) {
		snprintf(err, errlen, "%s: the file ends in %s bytes without "
		    "a newline: not a torn audit line; repair or move the "
		    "file", log->path, frag == *n ? "more than 16384" :
		    "thousands of");
		return -1;
	}
	if (ftruncate(log->fd, size - (off_t)frag) != 0) {
		snprintf(err, errlen, "%s: cannot cut off the torn last line: "
		    "%s", log->path, strerror(errno));
		return -1;
	}
	f->torn = frag;
	f->torn_seq = audit_line_seq(buf + *n - frag, frag);
	*n -= frag;
	return size - (off_t)frag;
}

/*
 * Reads the last line of a non-empty file from its end (logs grow to
 * gigabytes; only the tail matters).
 */
static int
read_tail(struct auditlog *log, off_t size, struct found *f, char *err,
    size_t errlen)
{
	char buf[2 * (AUDIT_LINE_MAX + 1)];
	size_t n, start;
	off_t at;

	n = (uint64_t)size < sizeof(buf) ? (size_t)size : sizeof(buf);
	at = size - (off_t)n;
	if (n == 0)
		return 0;
	if (read_all_at(log, buf, n, at, err, errlen) != 0)
		return -1;
	if (buf[n - 1] != '\n' &&
	    (size = cut_torn(log, buf, &n, size, f, err, errlen)) < 0)
		return -1;
	if (n == 0)
		return 0;
	start = n - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && at > 0) {
		snprintf(err, errlen, "%s: last line is longer than %d bytes",
		    log->path, AUDIT_LINE_MAX);
		return -1;
	}
	if (audit_parse_chain(buf + start, n - 1 - start, &f->seq,
	    f->hash) != 0) {
		snprintf(err, errlen, "%s: last line is not a chained audit "
		    "line", log->path);
		return -1;
	}
	audit_hasher_hash(log->hasher, buf + start, n - 1 - start, f->hash);
	f->has_lines = true;
	return 0;
}

static int
open_file(struct auditlog *log, struct found *f, char *err, size_t errlen)
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
	if (S_ISREG(st.st_mode) && st.st_size > 0)
		return read_tail(log, st.st_size, f, err, errlen);
	return 0;
}

/*
 * Decides where the chain goes on and what the start line says, and
 * queues the gap line an unclean stop owes, then the start line.
 */
static void
queue_start(struct auditlog *log, const struct found *f,
    const struct state *st, int has_state)
{
	const char *previous;
	char members[128], body[256];
	uint64_t lost_to = 0;
	uint32_t why = WHY_UNCLEAN;
	size_t n;
	bool is_ok;

	log->seq = 0;
	memcpy(log->prev, AUDIT_GENESIS, sizeof(log->prev));
	if (f->has_lines) {
		log->seq = f->seq;
		memcpy(log->prev, f->hash, sizeof(log->prev));
	}
	if (has_state == 1 && st->seq > log->seq) {
		/* The live file was rotated away or is behind. */
		log->seq = st->seq;
		memcpy(log->prev, st->hash, sizeof(log->prev));
	}
	if (has_state == 1) {
		previous = strcmp(st->run, "clean") == 0 ? "clean" : "unclean";
		lost_to = st->reserved;
		if (strcmp(st->run, "stalled") == 0)
			why = WHY_STALLED;
		else if (strcmp(st->run, "lost") == 0)
			why = WHY_STOP;
	} else {
		previous = f->has_lines || f->torn > 0 || has_state == -1 ?
		    "unclean" : "new";
	}
	if (f->torn_seq > lost_to)
		lost_to = f->torn_seq;
	log->next_seq = log->seq;
	memcpy(log->head_hash, log->prev, sizeof(log->prev));
	log->stats.seq = log->seq;
	if (lost_to > log->seq) {
		drop_locked(log, log->seq + 1, why);
		mark_lost_locked(log, lost_to);
		log->next_seq = lost_to;
	}
	if (f->torn > 0)
		snprintf(members, sizeof(members), "\"previous\":\"%s\","
		    "\"torn\":%zu", previous, f->torn);
	else
		snprintf(members, sizeof(members), "\"previous\":\"%s\"",
		    previous);
	n = audit_format_event(body, sizeof(body), clock_wall_ms(), "start",
	    members);
	(void)queue_locked(log, body, n, &is_ok);
}

/*
 * The writer blocks every signal, so SIGUSR1, SIGHUP and SIGTERM reach
 * the daemon's own handlers instead of interrupting a write.
 */
static int
start_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(th, NULL, fn, arg);
	if (rc == 0)
		(void)pthread_setname_np(*th, "cordond-log");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void
free_log(struct auditlog *log)
{
	if (log->fd >= 0)
		close(log->fd);
	free(log->bufs[0].data);
	free(log->bufs[1].data);
	free(log->out);
	free(log->path);
	free(log->state_path);
	audit_hasher_free(log->hasher);
	tlog_close(log->tlog);
	syslogsink_close(log->syslog);
	free(log);
}

static int
init_sync(struct auditlog *log)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&log->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&log->wake, &attr);
	pthread_cond_init(&log->done, &attr);
	pthread_condattr_destroy(&attr);
	return 0;
}

static void
destroy_sync(struct auditlog *log)
{
	pthread_cond_destroy(&log->wake);
	pthread_cond_destroy(&log->done);
	pthread_mutex_destroy(&log->lock);
}

static struct auditlog *
alloc_log(const struct auditlog_conf *conf)
{
	struct auditlog *log;
	int i;

	if ((log = calloc(1, sizeof(*log))) == NULL)
		return NULL;
	log->fd = -1;
	log->sync = conf->sync;
	/* Each half holds at least the largest body plus a gap marker. */
	log->cap = conf->queue_bytes / 2;
	if (log->cap < 2 * HDR + BODY_MAX)
		log->cap = 2 * HDR + BODY_MAX;
	log->block = RESERVE_MIN;
	log->path = strdup(conf->path);
	if (conf->state_path != NULL)
		log->state_path = strdup(conf->state_path);
	else if (asprintf(&log->state_path, "%s.state", conf->path) < 0)
		log->state_path = NULL;
	log->hasher = audit_hasher_new();
	log->out = malloc(OUT_CAP);
	for (i = 0; i < 2; i++) {
		log->bufs[i].data = malloc(log->cap);
		log->bufs[i].gap_off = NO_GAP;
	}
	if (log->path == NULL || log->state_path == NULL ||
	    log->out == NULL || log->hasher == NULL ||
	    log->bufs[0].data == NULL || log->bufs[1].data == NULL) {
		free_log(log);
		return NULL;
	}
	return log;
}

struct auditlog *
auditlog_open(const struct auditlog_conf *conf, char *err, size_t errlen)
{
	struct auditlog *log;
	struct found f;
	struct state st;
	int has_state, rc;

	if ((log = alloc_log(conf)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", conf->path);
		return NULL;
	}
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	has_state = state_read(log->state_path, &st);
	if (open_file(log, &f, err, errlen) != 0) {
		free_log(log);
		return NULL;
	}
	if (conf->tlog != NULL) {
		char note[512];

		log->tlog = tlog_open(conf->tlog, conf->path, err, errlen, note,
		    sizeof(note));
		if (log->tlog == NULL) {
			free_log(log);
			return NULL;
		}
		if (note[0] != '\0')
			log_warn("%s", note);
	}
	if (conf->syslog != NULL &&
	    (log->syslog = syslogsink_open(conf->syslog)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", conf->path);
		free_log(log);
		return NULL;
	}
	init_sync(log);
	log->reserved = UINT64_MAX;	/* set below, once it is known */
	queue_start(log, &f, &st, has_state);
	/* The mark covers the start lines and a block beyond them. */
	log->reserved = log->reserved_disk = log->next_seq + log->block;
	log->last_reserve_ms = clock_mono_ms();
	if (write_head(log, log->reserved, "running") != 0) {
		snprintf(err, errlen, "%s: cannot write the state file: %s",
		    log->state_path, strerror(errno));
		goto fail;
	}
	rc = start_thread(&log->thread, writer_main, log);
	if (rc != 0) {
		snprintf(err, errlen, "%s: writer thread: %s", conf->path,
		    strerror(rc));
		goto fail;
	}
	return log;
fail:
	destroy_sync(log);
	free_log(log);
	return NULL;
}

/* ---- closing ---- */

/* The state a stalled stop leaves, written by a thread of its own so
 * that a stalled disk under the state file cannot hold up the stop. */
struct last_state {
	char *path;
	struct state st;
	pthread_mutex_t lock;
	pthread_cond_t done;
	bool is_done;
};

static void *
last_state_main(void *arg)
{
	struct last_state *ls = arg;

	(void)state_write(ls->path, &ls->st);
	pthread_mutex_lock(&ls->lock);
	ls->is_done = true;
	pthread_cond_signal(&ls->done);
	pthread_mutex_unlock(&ls->lock);
	return NULL;
}

/* Records head .. handed as not written; leaks ls if it never ends. */
static void
write_stalled(struct auditlog *log, uint64_t seq, const char *hash,
    uint64_t handed)
{
	struct last_state *ls = calloc(1, sizeof(*ls));
	struct timespec deadline;
	pthread_condattr_t attr;
	pthread_t th;
	bool is_done;

	if (ls == NULL || (ls->path = strdup(log->state_path)) == NULL) {
		free(ls);
		return;
	}
	ls->st.seq = seq;
	memcpy(ls->st.hash, hash, sizeof(ls->st.hash));
	ls->st.reserved = handed;
	snprintf(ls->st.run, sizeof(ls->st.run), "stalled");
	pthread_mutex_init(&ls->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ls->done, &attr);
	pthread_condattr_destroy(&attr);
	if (start_thread(&th, last_state_main, ls) != 0) {
		(void)state_write(ls->path, &ls->st);
		return;
	}
	pthread_detach(th);
	deadline_in(&deadline, STATE_WAIT_MS);
	pthread_mutex_lock(&ls->lock);
	while (!ls->is_done && pthread_cond_timedwait(&ls->done, &ls->lock,
	    &deadline) != ETIMEDOUT)
		;
	is_done = ls->is_done;
	pthread_mutex_unlock(&ls->lock);
	if (is_done) {
		pthread_cond_destroy(&ls->done);
		pthread_mutex_destroy(&ls->lock);
		free(ls->path);
		free(ls);
	}
}

void
auditlog_stop(struct auditlog *log)
{
	if (log == NULL)
		return;
	pthread_mutex_lock(&log->lock);
	if (!log->is_closing) {
		log->is_closing = true;
		deadline_in(&log->close_by, CLOSE_WAIT_MS);
		pthread_cond_signal(&log->wake);
	}
	pthread_mutex_unlock(&log->lock);
}

void
auditlog_close(struct auditlog *log)
{
	char hash[AUDIT_HEXLEN + 1];
	struct timespec deadline;
	uint64_t seq, handed;
	bool is_done;

	if (log == NULL)
		return;
	auditlog_stop(log);
	pthread_mutex_lock(&log->lock);
	deadline = log->close_by;
	while (!log->is_done && pthread_cond_timedwait(&log->done,
	    &log->lock, &deadline) != ETIMEDOUT)
		;
	is_done = log->is_done;
	if (!is_done)
		log->is_abandoned = true;
	seq = log->stats.seq;
	handed = log->next_seq;
	memcpy(hash, log->head_hash, sizeof(hash));
	pthread_mutex_unlock(&log->lock);
	if (!is_done) {
		/* The writer is stuck in the kernel: leave it (and the memory
		 * it uses) to the process's exit, and say what is missing. */
		write_stalled(log, seq, hash, handed);
		return;
	}
	pthread_join(log->thread, NULL);
	destroy_sync(log);
	free_log(log);
}
