/*
 * auditlog_impl: what the files of the audit log writer share; seen
 * only by audit/auditlog*.c.  auditlog.c is the writer's life (open,
 * stop, close) and the queue workers fill; auditlog_write.c the writer
 * thread that formats, chains and appends the queued lines, and reopens
 * the file after rotation; auditlog_gap.c the accounting that turns
 * every lost seq into a gap line; auditlog_state.c the state file and
 * the recovery at start (the file's last line, a torn line cut off, the
 * previous run clean or not).
 */
#ifndef CORDON_AUDITLOG_IMPL_H
#define CORDON_AUDITLOG_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "audit/audit.h"
#include "audit/auditlog.h"

struct syslogsink;
struct tlog;

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

/* What the state file holds (auditlog.h). */
struct state {
	uint64_t seq;			/* the head: last seq in the log */
	char hash[AUDIT_HEXLEN + 1];	/* SHA-256 of that line */
	uint64_t reserved;		/* no seq above was handed out */
	char run[16];			/* running, clean, lost, stalled */
};

/* What the file and the state file say about the previous run. */
struct found {
	bool has_lines;			/* the file ends in a chained line */
	uint64_t seq;			/* of that line */
	char hash[AUDIT_HEXLEN + 1];	/* its SHA-256 */
	size_t torn;			/* bytes of a torn line cut off */
	uint64_t torn_seq;		/* its seq, when readable */
};

/* The queue (auditlog.c), called under lock: records seq as refused;
 * stretches the trailing gap marker to end at seq to; queues body under
 * the next seq and returns whether the writer must be woken, *is_ok
 * whether the body was taken. */
void auditlog_drop_locked(struct auditlog *log, uint64_t seq, uint32_t why);
void auditlog_mark_lost_locked(struct auditlog *log, uint64_t to);
bool auditlog_queue_locked(struct auditlog *log, const char *body,
    size_t len, bool *is_ok);

/* The writer thread (auditlog_write.c); arg is the log.  Chains and
 * appends one line (seqs from..to) to the chunk being formatted. */
void *auditlog_writer_main(void *arg);
void auditlog_emit(struct auditlog *log, const char *body, size_t len,
    uint64_t from, uint64_t to, enum line_kind kind);

/* Gap accounting (auditlog_gap.c), writer thread: adds seqs from..to to
 * the pending gap; rolls the chunk back to its lines that reached the
 * file whole after a write failed at `written` bytes (returns how many);
 * emits the gap line owed, if any. */
void auditlog_add_gap(struct auditlog *log, uint64_t from, uint64_t to,
    uint32_t why, uint64_t ts_ms);
size_t auditlog_chunk_failed(struct auditlog *log, size_t written,
    int why_errno);
void auditlog_emit_gap(struct auditlog *log);

/* The state file and recovery (auditlog_state.c).  state_write replaces
 * it whole (0, or -1 with errno); state_read returns 1 with *st filled,
 * 0 when there is none, -1 when it is unreadable; write_head writes the
 * head and a mark (the writer's, or open's before it starts); reserve
 * keeps the mark ahead of the seqs handed out; open_file opens, locks
 * and reads the file's tail into *f; queue_start queues the gap an
 * unclean stop owes and the start line. */
int auditlog_state_write(const char *path, const struct state *st);
int auditlog_state_read(const char *path, struct state *st);
int auditlog_write_head(struct auditlog *log, uint64_t reserved,
    const char *run);
void auditlog_reserve(struct auditlog *log, bool force);
int auditlog_open_file(struct auditlog *log, struct found *f, char *err,
    size_t errlen);
void auditlog_queue_start(struct auditlog *log, const struct found *f,
    const struct state *st, int has_state);

#endif
