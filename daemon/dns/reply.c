/*
 * reply: answers made up by cordond and answers served from the cache.
 * Layout of every answer: header, the client's question as it sent it,
 * records, then our OPT (RFC 6891 6.1.1: OPT is the last thing we add,
 * so cutting a message for TC never loses it).
 */
#include <stdio.h>
#include <string.h>

#include "dns/reply.h"
#include "dns/wire.h"

#define FLAG_QR 0x80
#define FLAG_AA 0x04
#define FLAG_TC 0x02
#define FLAG_RD 0x01
#define FLAG_RA 0x80
#define FLAG_AD 0x20
#define FLAG_CD 0x10
#define OPT_EDE 15		/* RFC 8914 option code */
#define OPT_DO 0x8000

/* SOA RDATA of made-up denials: localhost. nobody.invalid. 1 3600 1200
 * 604800 MINIMUM (as Unbound's local zones do). */
static const uint8_t soa_names[] = {
	9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0,
	6, 'n', 'o', 'b', 'o', 'd', 'y', 7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0,
};

size_t
reply_limit(const struct reply_ctx *ctx)
{
	size_t size;

	if (ctx->is_tcp)
		return 65535;
	if (!ctx->q->has_edns)
		return EDNS_MIN_SIZE;
	size = ctx->q->edns_size;
	if (size > ctx->edns_size)
		size = ctx->edns_size;
	return size < EDNS_MIN_SIZE ? EDNS_MIN_SIZE : size;
}

/* Header plus echoed question; returns the offset after the question. */
static size_t
put_header(const struct reply_ctx *ctx, unsigned rcode, uint8_t flags2,
    uint8_t flags3, uint8_t *out)
{
	const struct dnsquery *q = ctx->q;
	size_t n = DNS_HEADER_LEN;

	/* RFC 8906 3.1.3: no recursion is offered for opcodes we do not
	 * implement, so NOTIMP for them leaves RA clear. */
	bool ra = !(rcode == RCODE_NOTIMP && q->opcode != OPCODE_QUERY);

	wire_put16(out, q->id);
	out[2] = (uint8_t)(FLAG_QR | (q->opcode << 3) | flags2 |
	    (q->rd ? FLAG_RD : 0));
	out[3] = (uint8_t)((ra ? FLAG_RA : 0) | (q->cd ? FLAG_CD : 0) |
	    flags3 | (rcode & 0x0f));
	memset(out + 4, 0, 8);
	if (q->has_question) {
		wire_put16(out + 4, 1);
		memcpy(out + n, ctx->pkt + DNS_HEADER_LEN, q->question_len);
		n += q->question_len;
	}
	return n;
}

static size_t
opt_len(const struct reply_ctx *ctx, uint16_t ede, const char *text)
{
	size_t n;

	if (!ctx->q->has_edns)
		return 0;
	n = 11;
	if (ede != EDE_NONE)
		n += 6 + (text ? strlen(text) : 0);
	return n;
}

/* Appends our OPT at out + n (the caller checked room with opt_len). */
static size_t
put_opt(const struct reply_ctx *ctx, unsigned rcode, uint16_t ede,
    const char *text, uint8_t *out, size_t n)
{
	size_t tlen = text ? strlen(text) : 0, rdlen;
	uint32_t ttl;

	if (!ctx->q->has_edns)
		return n;
	rdlen = ede != EDE_NONE ? 6 + tlen : 0;
	out[n] = 0;
	wire_put16(out + n + 1, DNS_TYPE_OPT);
	wire_put16(out + n + 3, ctx->edns_size);
	/* Extended rcode, version 0, DO echoed; other flag bits are zero
	 * whatever the client sent (RFC 6891 6.1.4). */
	ttl = (uint32_t)(rcode >> 4) << 24 | (ctx->q->edns_do ? OPT_DO : 0);
	wire_put32(out + n + 5, ttl);
	wire_put16(out + n + 9, (uint16_t)rdlen);
	n += 11;
	if (ede != EDE_NONE) {
		wire_put16(out + n, OPT_EDE);
		wire_put16(out + n + 2, (uint16_t)(2 + tlen));
		wire_put16(out + n + 4, ede);
		if (tlen > 0)
			memcpy(out + n + 6, text, tlen);
		n += 6 + tlen;
	}
	wire_put16(out + 10, (uint16_t)(wire_u16(out + 10) + 1));
	return n;
}

size_t
reply_error(const struct reply_ctx *ctx, unsigned rcode, uint16_t ede,
    const char *text, uint8_t *out, size_t cap)
{
	size_t n;

	if (text != NULL && strlen(text) > 200)
		text = NULL;
	n = put_header(ctx, rcode, 0, 0, out);
	if (n + opt_len(ctx, ede, text) > cap)
		return 0;
	return put_opt(ctx, rcode, ede, text, out, n);
}

size_t
reply_truncated(const struct reply_ctx *ctx, uint8_t *out, size_t cap)
{
	size_t n = reply_error(ctx, RCODE_NOERROR, EDE_NONE, NULL, out, cap);

	if (n >= DNS_HEADER_LEN)
		out[2] |= FLAG_TC;
	return n;
}

static size_t
put_rr_head(uint8_t *out, size_t n, uint16_t owner_off, uint16_t type,
    uint16_t class, uint32_t ttl, uint16_t rdlen)
{
	wire_put16(out + n, (uint16_t)(0xc000 | owner_off));
	wire_put16(out + n + 2, type);
	wire_put16(out + n + 4, class);
	wire_put32(out + n + 6, ttl);
	wire_put16(out + n + 10, rdlen);
	return n + 12;
}

static size_t
put_soa(const struct reply_ctx *ctx, const struct block_answer *ba,
    uint8_t *out, size_t n)
{
	n = put_rr_head(out, n, (uint16_t)(DNS_HEADER_LEN + ba->rule_off),
	    DNS_TYPE_SOA, ctx->q->qclass, ba->ttl,
	    (uint16_t)(sizeof(soa_names) + 20));
	memcpy(out + n, soa_names, sizeof(soa_names));
	n += sizeof(soa_names);
	wire_put32(out + n, 1);
	wire_put32(out + n + 4, 3600);
	wire_put32(out + n + 8, 1200);
	wire_put32(out + n + 12, 604800);
	wire_put32(out + n + 16, ba->ttl);
	wire_put16(out + 8, 1);
	return n + 20;
}

void
reply_block_text(char *buf, size_t size, const char *list,
    const char *reference, const char *trigger, const char *rule)
{
	int k;

	/* The reference before the rule: a long text is cut at its end. */
	k = snprintf(buf, size, "blocked by list %s", list);
	if (reference != NULL && reference[0] != '\0' && k > 0 &&
	    (size_t)k < size)
		k += snprintf(buf + k, size - (size_t)k, " under %s",
		    reference);
	if (trigger != NULL && k > 0 && (size_t)k < size)
		snprintf(buf + k, size - (size_t)k, " (%s %s)", trigger, rule);
}

size_t
reply_blocked(const struct reply_ctx *ctx, const struct block_answer *ba,
    uint8_t *out, size_t cap)
{
	const struct dnsquery *q = ctx->q;
	const char *text = ba->ede_text;
	unsigned rcode = RCODE_NOERROR;
	char cut[EDE_TEXT_MAX + 1];
	size_t n;

	if (text != NULL && strlen(text) > EDE_TEXT_MAX) {
		/* cut, but never inside a UTF-8 character */
		n = EDE_TEXT_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
		memcpy(cut, text, n);
		cut[n] = '\0';
		text = cut;
	}
	/* header + question + SOA or address + OPT: well under 512 */
	if (cap < DNS_HEADER_LEN + q->question_len + 64 +
	    opt_len(ctx, ba->ede, text))
		return 0;
	switch (ba->action) {
	case ACTION_REFUSED:
		return reply_error(ctx, RCODE_REFUSED, ba->ede, text, out,
		    cap);
	case ACTION_NXDOMAIN:
		rcode = RCODE_NXDOMAIN;
		break;
	default:
		break;
	}
	n = put_header(ctx, rcode, FLAG_AA, 0, out);
	if (ba->action == ACTION_SINKHOLE && q->qtype == DNS_TYPE_A) {
		n = put_rr_head(out, n, DNS_HEADER_LEN, DNS_TYPE_A, q->qclass,
		    ba->ttl, 4);
		memcpy(out + n, ba->sinkhole_a, 4);
		n += 4;
		wire_put16(out + 6, 1);
	} else if (ba->action == ACTION_SINKHOLE &&
	    q->qtype == DNS_TYPE_AAAA) {
		n = put_rr_head(out, n, DNS_HEADER_LEN, DNS_TYPE_AAAA,
		    q->qclass, ba->ttl, 16);
		memcpy(out + n, ba->sinkhole_aaaa, 16);
		n += 16;
		wire_put16(out + 6, 1);
	} else
		n = put_soa(ctx, ba, out, n);
	return put_opt(ctx, rcode, ba->ede, text, out, n);
}

/* Copies the records of msg up to end into out (header and question are
 * there already), lowering TTLs by elapsed; offsets past end are left
 * out with the records they belong to. */
static void
copy_records(const uint8_t *msg, size_t body, size_t end,
    const uint16_t *ttl_off, size_t nttl, uint32_t elapsed, uint8_t *out)
{
	size_t i;

	memcpy(out + body, msg + body, end - body);
	for (i = 0; i < nttl; i++) {
		uint32_t ttl;

		if ((size_t)ttl_off[i] + 4 > end)
			continue;
		ttl = wire_u32(out + ttl_off[i]);
		if (ttl > 0x7fffffffU)
			ttl = 0;
		wire_put32(out + ttl_off[i], ttl > elapsed ? ttl - elapsed : 0);
	}
}

size_t
reply_from_cache(const struct reply_ctx *ctx, const uint8_t *msg,
    size_t msglen, const uint16_t *ttl_off, size_t nttl, uint32_t elapsed,
    uint8_t *out, size_t cap)
{
	const struct dnsquery *q = ctx->q;
	size_t body = DNS_HEADER_LEN + q->question_len, n, end;
	size_t limit = reply_limit(ctx), optlen = opt_len(ctx, EDE_NONE, NULL);
	uint8_t flags3 = 0;
	unsigned rcode = msg[3] & 0x0f;

	if (msglen < body || cap < body + optlen)
		return 0;
	if (limit > cap)
		limit = cap;
	/* RFC 6840 5.8: AD only for clients that asked for it, and only
	 * when the upstream is trusted to have validated. */
	if (ctx->trust_ad && (q->ad || q->edns_do))
		flags3 = msg[3] & FLAG_AD;
	n = put_header(ctx, rcode, 0, flags3, out);
	end = msglen;
	if (end + optlen > limit) {
		/* RFC 2181 9: the additional section is optional; without
		 * it the answer may fit.  Otherwise cut to the header and
		 * question with TC set; the client retries over TCP. */
		end = wire_section_start(msg, msglen, 3);
		if (end == 0 || end + optlen > limit) {
			out[2] |= FLAG_TC;
			return put_opt(ctx, rcode, EDE_NONE, NULL, out, n);
		}
	}
	memcpy(out + 6, msg + 6, 4);
	wire_put16(out + 10, end == msglen ? wire_u16(msg + 10) : 0);
	copy_records(msg, body, end, ttl_off, nttl, elapsed, out);
	return put_opt(ctx, rcode, EDE_NONE, NULL, out, end);
}
