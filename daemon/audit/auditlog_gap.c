/*
 * auditlog_gap: gap accounting on the writer thread (auditlog_impl.h).
 * Seqs refused in the queue, lines whose write failed and seqs an
 * earlier run may have lost gather into one pending gap, written as a
 * gap line that takes the gap's first seq and names why.
 */
#include "base/clock.h"
#include "audit/auditlog_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Adds seqs from..to to the pending gap.  The ranges that meet here are
 * always adjacent: refusals in queue order, or the lines of a failed
 * write, which come just before a refusal already pending when the
 * chunk was flushed to make room.
 */
void
auditlog_add_gap(struct auditlog *log, uint64_t from, uint64_t to, uint32_t why,
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
size_t
auditlog_chunk_failed(struct auditlog *log, size_t written, int why_errno)
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
	auditlog_add_gap(log, log->meta[k].from, log->meta[log->nmeta - 1].to,
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
void
auditlog_emit_gap(struct auditlog *log)
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
	auditlog_emit(log, body, n, from, to, LINE_GAP);
}
