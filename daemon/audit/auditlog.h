/*
 * auditlog: the non-blocking audit log writer.  Workers hand it line
 * bodies (see audit.h); each body gets its seq when it is queued, and a
 * writer thread chains the lines with SHA-256 and appends them to the
 * file, so no worker ever waits on the disk.  Nothing handed a seq is
 * lost without a trace: a body refused (queue full, invalid), a line that
 * could not be written (disk full, I/O error) or one still queued when
 * the process died becomes a gap line naming the exact seqs.
 *
 * The chain head (last seq, hash of the last line) and a reserved
 * high-water mark of seq live in a small state file, rewritten
 * atomically: at start, every few thousand seqs, at reopen and at stop.
 * A restart therefore continues seq and prev even when the live file was
 * rotated away, and after a crash it records as a gap every seq that may
 * have been handed out and lost (head + 1 .. reserved mark).  The state
 * file is one line, {"seq":HEAD,"hash":"<hex SHA-256 of that line>",
 * "reserved":MARK,"run":"running|clean|lost|stalled"}: "clean" after a
 * stop whose stop line was written, "lost" when lines after HEAD could
 * not be written at stop, "stalled" when the stop timed out.
 *
 * With conf->syslog each line, once written, and each signed checkpoint
 * also goes to syslog (syslogsink.h), from the writer thread.
 *
 * Lines the writer adds itself (audit.h formats them):
 *   {"seq":S,"ts":..,"event":"gap","from":S,"to":T,"reason":".."}
 *	a gap line takes the first lost seq and stands for S..T, so the
 *	next line has seq T + 1;
 *   {"seq":N,"ts":..,"event":"start","previous":"clean|unclean|new"
 *	[,"torn":BYTES]}  first line of every run ("torn": the bytes of a
 *	torn last line that were cut off the file before it);
 *   {"seq":N,"ts":..,"event":"stop"}  last line of a clean stop.
 */
#ifndef CORDON_AUDITLOG_H
#define CORDON_AUDITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct auditlog;

struct tlog_conf;
struct syslogsink_conf;

struct auditlog_conf {
	const char *path;	/* the log */
	const char *state_path;	/* NULL: PATH.state */
	size_t queue_bytes;	/* memory for bodies waiting to be written */
	bool sync;		/* fdatasync each batch before the next */
	const struct tlog_conf *tlog;	/* signed checkpoints, or NULL */
	const struct syslogsink_conf *syslog;	/* a copy of every line
				   written and checkpoint, or NULL */
};

struct auditlog_stats {
	uint64_t written;	/* lines written since open */
	uint64_t dropped;	/* bodies refused because the queue was full
				   or the file could not be written */
	uint64_t seq;		/* seq of the last line written (a gap
				   line counts as its "to") */
	uint64_t gaps;		/* gap lines written since open */
	uint64_t overrun;	/* seqs handed out beyond the reserved mark
				   (the writer fell behind; 0 normally) */
	uint64_t write_errors;	/* batches a write error cut short */
	int last_errno;		/* of the last batch: 0 when it was written */
	uint64_t writing_since;	/* CLOCK_MONOTONIC ms a write in progress
				   began; 0 when the writer is not writing */
	uint64_t syslog_sent;	/* copies the syslog socket took */
	uint64_t syslog_dropped;	/* copies it could not take */
};

/*
 * Whether the log is being written: false, with the reason in why, when
 * the last batch failed (disk full, I/O error) or a write has been
 * blocked for more than stall_ms (a stalled disk).  For /healthz.
 */
bool auditlog_healthy(struct auditlog *log, uint64_t stall_ms, char *why,
    size_t whylen);

/*
 * Opens (creating, mode 0640) conf->path for appending and reads the
 * state file.  seq and prev continue from whichever is further on, the
 * file's last line or the state; a torn last line is cut off and
 * recorded in the start line; the seqs an unclean stop may have lost
 * are queued as a gap line, then the start line.  A last line that is
 * not a chained audit line, or a state file that cannot be written, is
 * an error.  Starts the writer thread.  Returns a new writer, or NULL
 * with a reason in err.
 */
struct auditlog *auditlog_open(const struct auditlog_conf *conf, char *err,
    size_t errlen);

/*
 * Queues one line body (copied) under the next seq.  Thread-safe, never
 * waits on I/O; bodies reach the file in seq order and within a second.
 * Returns 0, or -1 when the body was refused (queue full, too long, a
 * line break in it): its seq then lies in a gap line.
 */
int auditlog_submit(struct auditlog *log, const char *body, size_t len);

/* Asks the writer to reopen the file by name (after logrotate moved it);
 * the chain and seq go on in the new file.  Async-signal-safe is NOT
 * required: call it from an event callback. */
void auditlog_reopen(struct auditlog *log);

void auditlog_get_stats(struct auditlog *log, struct auditlog_stats *st);

/* Asks the writer to write everything queued and the stop line, without
 * waiting: a daemon with two logs stops both at once, so that closing
 * them takes the time of one.  auditlog_close() then waits.  NULL is a
 * no-op. */
void auditlog_stop(struct auditlog *log);

/*
 * Stops the writer (auditlog_stop()) and waits for it: it writes
 * everything queued, then the stop line, syncs, records the head in the
 * state file, stops the thread and frees the writer.  Takes at most
 * about 4 s from auditlog_stop(): when the disk is stalled it records in the state
 * file which seqs it could not write (the next start turns them into a
 * gap line) and returns without freeing what the stuck thread still
 * uses; the process is expected to exit.  NULL is a no-op.
 */
void auditlog_close(struct auditlog *log);

#endif
