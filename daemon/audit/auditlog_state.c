/*
 * auditlog_state: the state file (the chain head and the reserved
 * mark, auditlog.h) and the recovery at start: the last line of the file
 * read from its end, a torn last line cut off, and from both and the
 * state what the start line says and which seqs an unclean stop lost.
 */
#include "base/clock.h"
#include "audit/auditlog_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomicfile.h"

/* ---- the state file ---- */

#define STATE_FMT "{\"seq\":%" PRIu64 ",\"hash\":\"%s\",\"reserved\":%" \
	PRIu64 ",\"run\":\"%s\"}\n"


/*
 * Replaces the state file whole (temporary file, fsync, rename, fsync
 * of the folder), as atomicfile.h does for compiled outputs.  Returns 0,
 * or -1 with errno set.
 */
int
auditlog_state_write(const char *path, const struct state *st)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), STATE_FMT, st->seq, st->hash,
	    st->reserved, st->run);
	return atomicfile_replace(path, buf, (size_t)n, 0640);
}

/* Returns 1 with *st filled, 0 when there is no state file, -1 when it
 * cannot be read or is not one. */
int
auditlog_state_read(const char *path, struct state *st)
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
int
auditlog_write_head(struct auditlog *log, uint64_t reserved, const char *run)
{
	struct state st;

	st.seq = log->seq;
	memcpy(st.hash, log->prev, sizeof(st.hash));
	st.reserved = reserved;
	snprintf(st.run, sizeof(st.run), "%s", run);
	return auditlog_state_write(log->state_path, &st);
}

/*
 * Keeps the reserved mark ahead of the seqs handed out, and brings it
 * back down after a flood, so the gap a crash leaves stays small.
 * force: write the head anyway (after a reopen the live file no longer
 * holds it).
 */
void
auditlog_reserve(struct auditlog *log, bool force)
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
	if (auditlog_write_head(log, mark, "running") != 0)
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

/* ---- recovery at start ---- */

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

int
auditlog_open_file(struct auditlog *log, struct found *f, char *err,
    size_t errlen)
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
void
auditlog_queue_start(struct auditlog *log, const struct found *f,
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
		auditlog_drop_locked(log, log->seq + 1, why);
		auditlog_mark_lost_locked(log, lost_to);
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
	(void)auditlog_queue_locked(log, body, n, &is_ok);
}
