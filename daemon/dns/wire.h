/*
 * wire: reading DNS messages off the wire, bounds-checked.  Parses client
 * queries on the hot path without allocating, and scans upstream answers
 * for what the cache and the answer checks need (TTL positions, the
 * OPT record, the negative TTL).  Building messages is reply.h's job.
 *
 * Every read is checked against the message length; names are limited to
 * 255 octets and compression pointers must point backwards, so a
 * malformed or hostile message can neither overrun a buffer nor loop.
 */
#ifndef CORDON_WIRE_H
#define CORDON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dname.h"

#define DNS_HEADER_LEN	12
#define DNS_TYPE_A	1
#define DNS_TYPE_NS	2
#define DNS_TYPE_CNAME	5
#define DNS_TYPE_SOA	6
#define DNS_TYPE_AAAA	28
#define DNS_TYPE_OPT	41
#define DNS_TYPE_DNAME	39
#define DNS_TYPE_IXFR	251
#define DNS_TYPE_AXFR	252
#define DNS_CLASS_IN	1

#define RCODE_NOERROR	0
#define RCODE_FORMERR	1
#define RCODE_SERVFAIL	2
#define RCODE_NXDOMAIN	3
#define RCODE_NOTIMP	4
#define RCODE_REFUSED	5
#define RCODE_BADVERS	16	/* extended: needs an OPT record */

#define OPCODE_QUERY	0

#define EDNS_MIN_SIZE	512	/* RFC 6891 6.2.5: smaller means 512 */

static inline uint16_t
wire_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
wire_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* What to do with a received packet, decided by wire_parse_query(). */
enum wire_verdict {
	WIRE_OK,		/* a well-formed standard query */
	WIRE_DROP,		/* unreadable header, or a response: no answer */
	WIRE_FORMERR,
	WIRE_NOTIMP,		/* opcode other than QUERY */
	WIRE_BADVERS,		/* EDNS version other than 0 */
};

/* A parsed query.  Offsets point into the packet, which the caller keeps
 * for as long as it uses the query (the question is echoed from it). */
struct dnsquery {
	uint16_t id;
	uint8_t opcode;
	bool rd, cd, ad;
	bool has_question;	/* question parsed (for echoing) */
	size_t question_len;	/* qname + type + class, from offset 12 */
	size_t qname_len;	/* wire length of qname */
	uint16_t qtype, qclass;
	uint8_t qname[DNAME_MAXWIRE];	/* lower-cased wire form */
	bool has_edns;
	bool edns_do;
	uint8_t edns_version;
	uint16_t edns_size;	/* the client's payload size, >= 512 */
};

/*
 * Parses a client packet.  Fills q as far as it could read (the header
 * fields whenever the verdict is not WIRE_DROP).  Rules: shorter than a
 * header or QR set → DROP; opcode not QUERY → NOTIMP; QDCOUNT != 1, a
 * compressed or malformed qname, answer or authority records, a record
 * running past the end, more than one OPT or an OPT not owned by the root
 * → FORMERR; EDNS version other than 0 → BADVERS.
 */
enum wire_verdict wire_parse_query(const uint8_t *pkt, size_t len,
    struct dnsquery *q);

/*
 * Reads a possibly compressed name at *off into out (lower-cased wire
 * form, DNAME_MAXWIRE bytes) and advances *off past it in the message.
 * Returns the name's length, or 0 when it is malformed.
 */
size_t wire_read_name(const uint8_t *msg, size_t len, size_t *off,
    uint8_t *out);

/* Advances *off past a possibly compressed name without following
 * pointers.  Returns 0, or -1 when malformed. */
int wire_skip_name(const uint8_t *msg, size_t len, size_t *off);

#define WIRE_MAX_TTLS 256	/* records we track per cached answer */

/* What wire_scan_answer() learns from an upstream answer. */
struct answer_scan {
	uint8_t rcode;
	bool tc, aa, ad;
	uint16_t counts[4];		/* qd, an, ns, ar as received */
	size_t opt_start;		/* offset of the OPT RR, or 0 */
	size_t opt_end;
	size_t ar_start;		/* offset of the additional section */
	size_t end;			/* end of the last record */
	uint32_t min_ttl;		/* over every RR but OPT; UINT32_MAX */
	uint32_t soa_min;		/* negative TTL per RFC 2308, or 0 */
	bool has_soa;
	size_t nttl;
	uint16_t ttl_off[WIRE_MAX_TTLS];	/* TTL positions, no OPT */
};

/*
 * Walks every record of an upstream answer.  Returns 0, or -1 when the
 * message is malformed (a compressed question name included) or has
 * more records than WIRE_MAX_TTLS.  Bytes after the last record are not
 * an error; s->end says where the message really ends.
 */
int wire_scan_answer(const uint8_t *msg, size_t len, struct answer_scan *s);

/* One thing in an answer that the policy may object to. */
struct answer_item {
	uint16_t type;			/* CNAME, DNAME, A or AAAA */
	const uint8_t *addr;		/* A/AAAA: 4 or 16 bytes in msg */
	uint8_t name[DNAME_MAXWIRE];	/* CNAME/DNAME: the target */
};

/*
 * Calls fn for each CNAME and DNAME target and each A and AAAA address
 * in the answer section of a well-formed message (one that
 * wire_scan_answer() accepted), in order, until fn returns true.
 * Returns true when fn stopped the walk.
 */
bool wire_answer_each(const uint8_t *msg, size_t len,
    bool (*fn)(void *arg, const struct answer_item *it), void *arg);

/*
 * Checks that an upstream answer's question is qname/qtype/qclass
 * (compared without regard to case), written out without compression.
 * Returns true when it matches.
 */
bool wire_question_matches(const uint8_t *msg, size_t len,
    const uint8_t *qname, size_t qname_len, uint16_t qtype, uint16_t qclass);

/*
 * Offset of section 1 (answer), 2 (authority) or 3 (additional) of a
 * message with one question, or 0 when it cannot be reached.
 */
size_t wire_section_start(const uint8_t *msg, size_t len, int section);

#endif
