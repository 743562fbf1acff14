/*
 * reply: builds the answers cordond sends: errors, blocked answers made
 * up from the policy, and answers served from the cache.  Every answer
 * copies the ID, RD and CD (RFC 4035 3.2.2), sets QR and RA (not on
 * NOTIMP for an opcode we do not serve), echoes the client's question
 * byte for byte (letter case included), carries an OPT record exactly
 * when the query had one (RFC 6891), and fits the client's payload size
 * or is cut with TC set.  Writes into the caller's buffer; no allocation.
 */
#ifndef CORDON_REPLY_H
#define CORDON_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

struct dnsquery;

/* RFC 8914 Extended DNS Error codes cordond uses. */
#define EDE_NONE		0xffff
#define EDE_BLOCKED		15
#define EDE_OTHER		0
#define EDE_PROHIBITED		18
#define EDE_NOT_AUTHORITATIVE	20
#define EDE_NOT_SUPPORTED	21
#define EDE_NO_REACHABLE	22
#define EDE_NETWORK_ERROR	23

/* Where the answer goes and how large it may be. */
struct reply_ctx {
	const uint8_t *pkt;		/* the client's packet (question echo) */
	const struct dnsquery *q;
	bool is_tcp;
	uint16_t edns_size;		/* our largest UDP answer */
	bool trust_ad;			/* [upstream] trust_ad */
};

/* Largest answer the client can take: 65535 over TCP; over UDP its EDNS
 * payload size (never below 512) capped at ctx->edns_size, or 512. */
size_t reply_limit(const struct reply_ctx *ctx);

/*
 * An answer with no records: FORMERR, SERVFAIL, NOTIMP, REFUSED, or
 * BADVERS (rcode 16, carried by the OPT).  The question is echoed when it
 * was parsed.  ede is an EDE code or EDE_NONE; text may be NULL.
 * Returns the length written to out (cap >= 512 always suffices).
 */
size_t reply_error(const struct reply_ctx *ctx, unsigned rcode,
    uint16_t ede, const char *text, uint8_t *out, size_t cap);

/* An empty answer with TC set (rate limiting's slip): the client is
 * told to come back over TCP.  Returns the length. */
size_t reply_truncated(const struct reply_ctx *ctx, uint8_t *out,
    size_t cap);

/* How a blocked name is answered. */
struct block_answer {
	enum action action;
	size_t rule_off;	/* offset of the listed name within qname */
	uint32_t ttl;
	const uint8_t *sinkhole_a;	/* 4 bytes */
	const uint8_t *sinkhole_aaaa;	/* 16 bytes */
	uint16_t ede;		/* EDE code: 15-18 (the list's ede) */
	const char *ede_text;	/* names the list; NULL for none; cut to
				 * EDE_TEXT_MAX bytes */
};
#define EDE_TEXT_MAX 200

/*
 * The EDE text of a blocked answer, which names the list: "blocked by
 * list LIST", then " under REFERENCE" when the list has one (the legal
 * order it implements), then " (TRIGGER RULE)" when what matched was not
 * the query name itself (trigger NULL).  Cut at size.
 */
void reply_block_text(char *buf, size_t size, const char *list,
    const char *reference, const char *trigger, const char *rule);

/*
 * A made-up answer for a blocked name: NXDOMAIN or NODATA with a SOA
 * owned by the listed name (so resolvers cache the denial, RFC 2308),
 * REFUSED, or a sinkhole address (A and AAAA; other types NODATA).  With
 * EDNS, an EDE 15 "Blocked" option carrying ede_text.  Returns the length.
 */
size_t reply_blocked(const struct reply_ctx *ctx,
    const struct block_answer *ba, uint8_t *out, size_t cap);

/*
 * An answer from a cached upstream message (wire form without OPT; its
 * question has the same length as the client's).  The rcode and records
 * come from the cache, TTLs lowered by elapsed seconds; the ID, RD, CD
 * and question come from the client; AD is passed on only with
 * ctx->trust_ad, to a client that set AD or DO (RFC 6840 5.8).  When the
 * answer does not fit, the additional section goes first; TC is set
 * (and the body left empty) only when the rest does not fit either.
 * Returns the length, or 0 when cap is too small.
 */
size_t reply_from_cache(const struct reply_ctx *ctx, const uint8_t *msg,
    size_t msglen, const uint16_t *ttl_off, size_t nttl, uint32_t elapsed,
    uint8_t *out, size_t cap);

#endif
