/*
 * auditread: reads audit logs back for `cordon audit` and the audit
 * writer's tree.  A line reader (large buffered reads, no allocation per
 * line; gzip'd files through auditgz.h), in auditread.c, and a small,
 * strict JSON reader that turns one audit line into a record, in
 * auditread_parse.c and auditread_time.c.  It checks no chain and prints
 * nothing: audit.h hashes, cmd_audit_verify.c decides what a broken line
 * means.
 */
#ifndef CORDON_AUDITREAD_H
#define CORDON_AUDITREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

struct auditread;

/* One line of a log file; text is borrowed until the next call. */
struct auditread_line {
	const char *text;	/* without its newline; not NUL-terminated */
	size_t len;
	size_t lineno;		/* 1-based */
	bool is_torn;		/* the file's last line has no newline */
	bool is_long;		/* longer than AUDIT_LINE_MAX; text is empty */
};

/*
 * Opens path for reading lines as they are (the live log; auditgz.h
 * opens gzip'd rotations too).  Returns a new reader (free with
 * auditread_close()), or NULL with *why set to a static reason.
 */
struct auditread *auditread_open(const char *path, const char **why);

/*
 * Reads the next line into *line.  Returns 1, 0 at the end of the file,
 * or -1 when the file cannot be read (a corrupt gzip stream, an I/O
 * error) with *why set.
 */
int auditread_next(struct auditread *r, struct auditread_line *line,
    const char **why);

/* NULL is a no-op. */
void auditread_close(struct auditread *r);

/* A number member that was absent or null. */
#define AUDITREAD_NONE (-1)

/*
 * The members of one audit line.  Strings are decoded (JSON escapes
 * undone) and NUL-terminated, or NULL when the member is absent or null;
 * they point into buf.  Numbers are AUDITREAD_NONE when absent or null.
 * Blocked-attempt lines have event == NULL; event lines carry "policy"
 * (the new policy id), "previous", "entries", "lists", "by"; gap lines
 * "from", "to" and "reason" (lost is then set to to - from + 1) or, in
 * logs of older versions, "lost".
 */
struct auditread_rec {
	uint64_t seq;
	uint64_t ts_ms;		/* ts as ms since the epoch */
	const char *ts;
	const char *event;
	const char *client;
	int64_t port;
	const char *proto, *qname, *qtype, *action, *trigger, *rule;
	const char *list, *category, *reference, *answer_ip, *policy, *prev;
	const char *client_country, *answer_country;	/* from "geo" */
	int64_t client_asn, answer_asn;
	bool has_geo;
	unsigned unknown;		/* top-level members not read */
	const char *previous, *by;			/* policy events */
	int64_t ranges, torn, count;	/* policy, start, suppressed */
	const char *second;		/* suppressed: the second, RFC 3339 */
	int64_t entries, lists, lost;
	int64_t from, to;		/* gap events: the seqs lost */
	const char *reason;		/* gap events: why */
	char buf[AUDIT_LINE_MAX + 1];
};

/*
 * Reads the JSON object in line[0..len) into *rec.  Unknown members are
 * skipped, so newer writers stay readable.  seq (a positive integer), ts
 * (a timestamp) and prev (64 hex digits) are required.  Returns 0, or -1
 * with *why set to a static reason when the line is not an audit line;
 * never reads outside line[0..len).
 */
int auditread_parse(const char *line, size_t len, struct auditread_rec *rec,
    const char **why);

/*
 * Whether a parsed line is one the daemon could have written: no member
 * it does not write, and either an event line (no blocked-attempt
 * members) or a blocked-attempt line (qname, action, trigger, rule and
 * list, and no "event").  For verify; search and report read leniently.
 */
bool auditread_is_strict(const struct auditread_rec *rec, const char **why);

/*
 * Parses an RFC 3339 time, "2026-11-23T05:19:33Z" (fraction and a
 * +hh:mm offset allowed, 't' and ' ' for 'T', 'z' for 'Z') or a date
 * "2026-11-23" (midnight UTC; *is_date says so).  Returns 0, or -1.
 */
int auditread_parse_time(const char *s, size_t len, uint64_t *ms,
    bool *is_date);

#endif
