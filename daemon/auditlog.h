/*
 * auditlog: the non-blocking audit log writer.  Workers hand it line
 * bodies (see audit.h); a writer thread numbers them, chains them with
 * SHA-256 and appends them to the file, so no worker ever waits on the
 * disk.  It continues seq and the chain of an existing file, reopens the
 * file on request (log rotation) and flushes everything on close.
 */
#ifndef CORDON_AUDITLOG_H
#define CORDON_AUDITLOG_H

#include <stddef.h>
#include <stdint.h>

struct auditlog;

struct auditlog_stats {
	uint64_t written;	/* lines written since open */
	uint64_t dropped;	/* bodies refused because the queue was full
				   or the file could not be written */
	uint64_t seq;		/* seq of the last line written */
};

/*
 * Opens (creating, mode 0640) path for appending.  When the file already
 * holds lines, seq and prev continue from its last line; a last line that
 * is not a chained audit line is an error.  queue_bytes bounds the memory
 * of bodies waiting to be written.  Starts the writer thread.  Returns a
 * new writer, or NULL with a reason in err.
 */
struct auditlog *auditlog_open(const char *path, size_t queue_bytes,
    char *err, size_t errlen);

/*
 * Queues one line body (copied).  Thread-safe, never waits on I/O; bodies
 * reach the file in the order queued and within a second.  Returns 0, or
 * -1 when the queue is full (the body is counted as dropped and a
 * {"event":"gap","lost":N} line records the loss when writing resumes).
 */
int auditlog_submit(struct auditlog *log, const char *body, size_t len);

/* Asks the writer to reopen the file by name (after logrotate moved it);
 * the chain and seq go on in the new file.  Async-signal-safe is NOT
 * required: call it from an event callback. */
void auditlog_reopen(struct auditlog *log);

void auditlog_get_stats(struct auditlog *log, struct auditlog_stats *st);

/* Writes everything queued, fsyncs, stops the thread and frees the
 * writer.  NULL is a no-op. */
void auditlog_close(struct auditlog *log);

#endif
