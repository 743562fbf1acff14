/*
 * audit: the audit log's line format and hash chain.  Each line is one
 * JSON object {"seq":N, ..., "prev":"<hex SHA-256 of the previous line>"}.
 * The daemon formats lines here; `cordon audit` parses and verifies them
 * here.  No I/O: auditlog.h writes, cmd_audit.c reads files.
 */
#ifndef CORDON_AUDIT_H
#define CORDON_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define AUDIT_HEXLEN 64			/* hex SHA-256 */
#define AUDIT_LINE_MAX 8192		/* longest line written or read */
/* prev of the very first line of a log */
#define AUDIT_GENESIS \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* One blocked attempt.  Plain data; every pointer borrowed. */
struct audit_block {
	uint64_t ts_ms;			/* wall clock, ms since the epoch */
	const struct sockaddr *client;	/* AF_INET or AF_INET6 */
	bool is_tcp;
	const char *qname;		/* presentation form, no final dot */
	uint16_t qtype;
	const char *action;		/* "nxdomain", "nodata", ... */
	const char *trigger;		/* "qname", "cname", "ip", "geo" */
	const char *rule;		/* the listed entry that matched */
	const char *list;
	const char *category;
	const char *reference;		/* the list's; NULL or "" omits it */
	const char *answer_ip;		/* NULL writes null */
	const char *geo_json;		/* NULL omits "geo"; else an object */
	const char *policy;		/* hex id of the policy in force */
};

/*
 * Formats the body of a blocked-attempt line: everything between the
 * "seq" and "prev" members, without the separating commas, e.g.
 * "ts":"2026-11-23T05:19:33.123Z","client":"192.0.2.7",...,"policy":"..".
 * Strings are JSON-escaped.  Returns the length written (NUL not
 * counted), or 0 when it does not fit in size.
 */
size_t audit_format_block(char *buf, size_t size,
    const struct audit_block *b);

/*
 * Formats the body of an event line: "ts":"...","event":"EVENT" followed
 * by ",MEMBERS" when members is not NULL or empty.  members is inserted
 * verbatim and must be valid JSON members, e.g. "\"lost\":3".  Returns
 * the length written, or 0 when it does not fit (or members holds a line
 * break).
 */
size_t audit_format_event(char *buf, size_t size, uint64_t ts_ms,
    const char *event, const char *members);

/* Writes "YYYY-MM-DDThh:mm:ss.mmmZ" (24 chars + NUL) for ts_ms (UTC). */
void audit_format_ts(char buf[25], uint64_t ts_ms);

/*
 * Assembles a full line {"seq":N,BODY,"prev":"PREV"} (no newline).
 * Returns its length, or 0 when it does not fit.
 */
size_t audit_format_line(char *buf, size_t size, uint64_t seq,
    const char *body, size_t bodylen, const char *prev_hex);

/* Hex SHA-256 of line[0..len) (the line without its newline). */
void audit_hash(const char *line, size_t len,
    char out_hex[AUDIT_HEXLEN + 1]);

/*
 * The same for many lines: a hasher keeps its digest state, so a writer
 * or a verifier that hashes a million lines does not set one up per line.
 * One per thread.  audit_hasher_new() returns NULL when out of memory.
 */
struct audit_hasher;
struct audit_hasher *audit_hasher_new(void);
void audit_hasher_free(struct audit_hasher *h);
void audit_hasher_hash(struct audit_hasher *h, const char *line, size_t len,
    char out_hex[AUDIT_HEXLEN + 1]);

/*
 * Reads the "seq" and "prev" members of a line written by
 * audit_format_line().  Returns 0, or -1 when the line is not a chained
 * audit line.
 */
int audit_parse_chain(const char *line, size_t len, uint64_t *seq,
    char prev_hex[AUDIT_HEXLEN + 1]);

/* The seq a line (or the start of a torn one) opens with, {"seq":N,
 * or 0 when it does not. */
uint64_t audit_line_seq(const char *line, size_t len);

#endif
