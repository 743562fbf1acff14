/*
 * wire: bounds-checked reading of DNS messages.  The client-query parser
 * is the first code that touches untrusted bytes, so it is strict and
 * small; answers from upstream are walked record by record.
 */
#include <string.h>

#include "dns/wire.h"

static inline uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/*
 * Reads a name at *off into out, lower-cased.  Compression pointers are
 * followed only when may_point, only strictly backwards (so no name can
 * loop) and never into the header.  A question name may not point at all: nothing precedes it
 * that it could point to.
 */
static size_t
read_name(const uint8_t *msg, size_t len, size_t *off, uint8_t *out,
    bool may_point)
{
	size_t p = *off, n = 0, end = 0, floor = *off, bound = len;
	bool jumped = false;

	for (;;) {
		uint8_t l;

		if (p >= len)
			return 0;
		l = msg[p];
		if ((l & 0xc0) == 0xc0 && may_point) {
			size_t target;

			if (p + 1 >= len)
				return 0;
			target = (size_t)(l & 0x3f) << 8 | msg[p + 1];
			/* never into the header: what it reads as changes
			 * when the header is rewritten (ID, flags) */
			if (target >= floor || target < DNS_HEADER_LEN)
				return 0;
			if (!jumped)
				end = p + 2;
			jumped = true;
			floor = target;
			/* what a pointer reaches lies wholly before it: not
			 * in bytes cordond may cut or rewrite after it (OPT,
			 * trailing bytes) */
			bound = p;
			p = target;
			continue;
		}
		if (l > DNAME_MAXLABEL)
			return 0;	/* pointer or extended label type */
		if (n + 1 + l > DNAME_MAXWIRE || p + 1 + l > bound)
			return 0;
		out[n++] = l;
		p++;
		if (l == 0)
			break;
		for (; l > 0; l--)
			out[n++] = lower(msg[p++]);
	}
	*off = jumped ? end : p;
	return n;
}

static size_t
read_plain_name(const uint8_t *msg, size_t len, size_t *off, uint8_t *out)
{
	return read_name(msg, len, off, out, false);
}

size_t
wire_read_name(const uint8_t *msg, size_t len, size_t *off, uint8_t *out)
{
	return read_name(msg, len, off, out, true);
}

int
wire_skip_name(const uint8_t *msg, size_t len, size_t *off)
{
	size_t p = *off, n = 0;

	for (;;) {
		uint8_t l;

		if (p >= len)
			return -1;
		l = msg[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return -1;
			*off = p + 2;
			return 0;
		}
		if (l > DNAME_MAXLABEL)
			return -1;
		n += 1 + (size_t)l;
		if (n > DNAME_MAXWIRE || p + 1 + l > len)
			return -1;
		p += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	*off = p;
	return 0;
}

/* Reads the fixed part of a record after its owner name. */
struct rr_head {
	uint16_t type, class;
	uint32_t ttl;
	size_t ttl_off, rdata, rdend;
};

static int
read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr_head *rr)
{
	size_t p;

	if (wire_skip_name(msg, len, off) == -1)
		return -1;
	p = *off;
	if (p + 10 > len)
		return -1;
	rr->type = wire_u16(msg + p);
	rr->class = wire_u16(msg + p + 2);
	rr->ttl_off = p + 4;
	rr->ttl = wire_u32(msg + p + 4);
	rr->rdata = p + 10;
	rr->rdend = rr->rdata + wire_u16(msg + p + 8);
	if (rr->rdend > len)
		return -1;
	*off = rr->rdend;
	return 0;
}

/* RFC 6891 6.1.1-6.1.3: one OPT, owned by the root, options well formed. */
static enum wire_verdict
read_opt(const uint8_t *pkt, size_t owner, const struct rr_head *rr,
    struct dnsquery *q)
{
	size_t p;

	if (q->has_edns || pkt[owner] != 0)
		return WIRE_FORMERR;
	for (p = rr->rdata; p < rr->rdend; ) {
		if (p + 4 > rr->rdend)
			return WIRE_FORMERR;
		p += 4 + (size_t)wire_u16(pkt + p + 2);
		if (p > rr->rdend)
			return WIRE_FORMERR;
	}
	q->has_edns = true;
	q->edns_size = rr->class < EDNS_MIN_SIZE ? EDNS_MIN_SIZE : rr->class;
	q->edns_version = (uint8_t)(rr->ttl >> 16);
	q->edns_do = (rr->ttl & 0x8000) != 0;
	return WIRE_OK;
}

/* Walks the answer and authority sections of a non-QUERY message (an
 * UPDATE's prerequisites and updates live there) to reach its OPT. */
static int
skip_records(const uint8_t *pkt, size_t len, size_t *off, unsigned count)
{
	struct rr_head rr;

	for (; count > 0; count--)
		if (read_rr(pkt, len, off, &rr) == -1)
			return -1;
	return 0;
}

static enum wire_verdict
parse_additional(const uint8_t *pkt, size_t len, size_t off,
    struct dnsquery *q)
{
	uint16_t i, arcount = wire_u16(pkt + 10);
	enum wire_verdict v;

	for (i = 0; i < arcount; i++) {
		struct rr_head rr;
		size_t owner = off;

		if (read_rr(pkt, len, &off, &rr) == -1)
			return WIRE_FORMERR;
		if (rr.type != DNS_TYPE_OPT)
			continue;
		if ((v = read_opt(pkt, owner, &rr, q)) != WIRE_OK) {
			q->has_edns = false;
			return v;
		}
	}
	if (q->has_edns && q->edns_version != 0)
		return WIRE_BADVERS;
	return WIRE_OK;
}

/* For a FORMERR: RFC 6891 7 wants an OPT in the answer when the query
 * had a sound one, so look for it past whatever the sections hold. */
static void
find_opt(const uint8_t *pkt, size_t len, struct dnsquery *q)
{
	size_t off = DNS_HEADER_LEN;
	uint16_t i, qdcount = wire_u16(pkt + 4);

	for (i = 0; i < qdcount; i++) {
		if (wire_skip_name(pkt, len, &off) == -1 || off + 4 > len)
			return;
		off += 4;
	}
	if (skip_records(pkt, len, &off, wire_u16(pkt + 6)) == -1 ||
	    skip_records(pkt, len, &off, wire_u16(pkt + 8)) == -1)
		return;
	if (parse_additional(pkt, len, off, q) != WIRE_OK)
		q->has_edns = false;
}

static enum wire_verdict
parse_other_opcode(const uint8_t *pkt, size_t len, size_t off,
    struct dnsquery *q)
{
	uint16_t i, qdcount = wire_u16(pkt + 4);

	/* RFC 8906 3.1.3 / 3.2: NOTIMP, with an OPT if the query had one. */
	for (i = 0; i < qdcount; i++) {
		if (wire_skip_name(pkt, len, &off) == -1 || off + 4 > len)
			return WIRE_NOTIMP;
		off += 4;
	}
	if (skip_records(pkt, len, &off, wire_u16(pkt + 6)) == -1 ||
	    skip_records(pkt, len, &off, wire_u16(pkt + 8)) == -1)
		return WIRE_NOTIMP;
	(void)parse_additional(pkt, len, off, q);
	return WIRE_NOTIMP;
}

enum wire_verdict
wire_parse_query(const uint8_t *pkt, size_t len, struct dnsquery *q)
{
	size_t off = DNS_HEADER_LEN, n;

	q->has_question = false;
	q->has_edns = false;
	q->edns_do = false;
	q->edns_version = 0;
	q->edns_size = EDNS_MIN_SIZE;
	if (len < DNS_HEADER_LEN || (pkt[2] & 0x80))
		return WIRE_DROP;
	q->id = wire_u16(pkt);
	q->opcode = (pkt[2] >> 3) & 0x0f;
	q->rd = (pkt[2] & 0x01) != 0;
	q->ad = (pkt[3] & 0x20) != 0;
	q->cd = (pkt[3] & 0x10) != 0;
	if (wire_u16(pkt + 4) == 1) {
		size_t qoff = off;

		n = read_plain_name(pkt, len, &qoff, q->qname);
		if (n != 0 && qoff + 4 <= len) {
			q->qname_len = n;
			q->qtype = wire_u16(pkt + qoff);
			q->qclass = wire_u16(pkt + qoff + 2);
			q->question_len = qoff + 4 - DNS_HEADER_LEN;
			q->has_question = true;
		}
	}
	if (q->opcode != OPCODE_QUERY)
		return parse_other_opcode(pkt, len, off, q);
	if (!q->has_question || wire_u16(pkt + 6) != 0 ||
	    wire_u16(pkt + 8) != 0) {
		find_opt(pkt, len, q);
		return WIRE_FORMERR;
	}
	return parse_additional(pkt, len, off + q->question_len, q);
}

static uint32_t
clamp_ttl(uint32_t ttl)
{
	/* RFC 2181 8: a TTL with the top bit set is zero. */
	return ttl > 0x7fffffffU ? 0 : ttl;
}

/*
 * Where the names of a record's rdata are, for the types whose names may
 * be compressed or that resolvers decompress (RFC 3597 4, and the DNSSEC
 * signer and next names): skip bytes of fixed data, then names, then
 * more fixed bytes (-1: anything up to the end).  An answer is passed
 * on as it came, so each of these names must be one a client can read:
 * pointers strictly backwards, inside the message, and the rdata exactly
 * as long as its parts; A and AAAA rdata are 4 and 16 octets.
 */
struct rdata_names {
	uint16_t type;
	uint8_t skip, nnames;
	int16_t tail;
};

static const struct rdata_names rdata_names[] = {
	{ 2, 0, 1, 0 },		/* NS */
	{ 3, 0, 1, 0 },		/* MD */
	{ 4, 0, 1, 0 },		/* MF */
	{ 5, 0, 1, 0 },		/* CNAME */
	{ 6, 0, 2, 20 },	/* SOA */
	{ 7, 0, 1, 0 },		/* MB */
	{ 8, 0, 1, 0 },		/* MG */
	{ 9, 0, 1, 0 },		/* MR */
	{ 12, 0, 1, 0 },	/* PTR */
	{ 14, 0, 2, 0 },	/* MINFO */
	{ 15, 2, 1, 0 },	/* MX */
	{ 17, 0, 2, 0 },	/* RP */
	{ 18, 2, 1, 0 },	/* AFSDB */
	{ 21, 2, 1, 0 },	/* RT */
	{ 26, 2, 2, 0 },	/* PX */
	{ 33, 6, 1, 0 },	/* SRV */
	{ 36, 2, 1, 0 },	/* KX */
	{ 39, 0, 1, 0 },	/* DNAME */
	{ 46, 18, 1, -1 },	/* RRSIG: signer, then the signature */
	{ 47, 0, 1, -1 },	/* NSEC: next name, then the bitmap */
};

static int
check_rdata_names(const uint8_t *msg, size_t len, const struct rr_head *rr)
{
	uint8_t name[DNAME_MAXWIRE];
	size_t i, k, p;

	/* addresses have their one length (a client's parser insists) */
	if ((rr->type == DNS_TYPE_A && rr->rdend - rr->rdata != 4) ||
	    (rr->type == DNS_TYPE_AAAA && rr->rdend - rr->rdata != 16))
		return -1;
	for (i = 0; i < sizeof(rdata_names) / sizeof(rdata_names[0]); i++) {
		const struct rdata_names *rn = &rdata_names[i];

		if (rn->type != rr->type)
			continue;
		p = rr->rdata + rn->skip;
		if (p > rr->rdend)
			return -1;
		for (k = 0; k < rn->nnames; k++)
			if (read_name(msg, rr->rdend, &p, name, true) == 0)
				return -1;
		if (rn->tail >= 0 && p + (size_t)rn->tail != rr->rdend)
			return -1;
		return 0;
	}
	(void)len;
	return 0;
}

static int
scan_record(const uint8_t *msg, size_t len, size_t *off, int section,
    struct answer_scan *s)
{
	uint8_t name[DNAME_MAXWIRE];
	struct rr_head rr;
	size_t start = *off, p = *off;
	uint32_t ttl;

	/* the owner as a client will read it: pointers only backwards */
	if (wire_read_name(msg, len, &p, name) == 0)
		return -1;
	if (read_rr(msg, len, off, &rr) == -1 ||
	    check_rdata_names(msg, len, &rr) == -1)
		return -1;
	if (rr.type == DNS_TYPE_OPT) {
		if (section != 3 || s->opt_start != 0)
			return -1;
		s->opt_start = start;
		s->opt_end = *off;
		return 0;
	}
	if (s->nttl == WIRE_MAX_TTLS || rr.ttl_off > UINT16_MAX)
		return -1;
	s->ttl_off[s->nttl++] = (uint16_t)rr.ttl_off;
	ttl = clamp_ttl(rr.ttl);
	if (ttl < s->min_ttl)
		s->min_ttl = ttl;
	if (rr.type == DNS_TYPE_SOA && section == 2) {
		uint32_t minimum;

		if (rr.rdend - rr.rdata < 22)
			return -1;
		/* RFC 2308 5: negative TTL = min(SOA TTL, SOA MINIMUM). */
		minimum = clamp_ttl(wire_u32(msg + rr.rdend - 4));
		s->soa_min = minimum < ttl ? minimum : ttl;
		s->has_soa = true;
	}
	return 0;
}

int
wire_scan_answer(const uint8_t *msg, size_t len, struct answer_scan *s)
{
	uint8_t name[DNAME_MAXWIRE];
	size_t off = DNS_HEADER_LEN;
	int section;
	uint16_t i;

	memset(s, 0, offsetof(struct answer_scan, ttl_off));
	s->min_ttl = UINT32_MAX;
	if (len < DNS_HEADER_LEN)
		return -1;
	s->rcode = msg[3] & 0x0f;
	s->tc = (msg[2] & 0x02) != 0;
	s->aa = (msg[2] & 0x04) != 0;
	s->ad = (msg[3] & 0x20) != 0;
	for (section = 0; section < 4; section++)
		s->counts[section] = wire_u16(msg + 4 + 2 * section);
	if (s->counts[0] != 1)
		return -1;
	/* The question is written out, never compressed: nothing before it
	 * could be pointed at, and the cached copy must keep the layout of
	 * the client's question (reply_from_cache echoes it in place). */
	if (read_plain_name(msg, len, &off, name) == 0 || off + 4 > len)
		return -1;
	off += 4;
	for (section = 1; section < 4; section++) {
		if (section == 3)
			s->ar_start = off;
		for (i = 0; i < s->counts[section]; i++)
			if (scan_record(msg, len, &off, section, s) == -1)
				return -1;
	}
	/* Bytes after the last record are not part of the message: they
	 * are left out of what is cached and sent on. */
	s->end = off;
	return 0;
}

bool
wire_question_matches(const uint8_t *msg, size_t len, const uint8_t *qname,
    size_t qname_len, uint16_t qtype, uint16_t qclass)
{
	uint8_t name[DNAME_MAXWIRE];
	size_t off = DNS_HEADER_LEN, n;

	if (len < DNS_HEADER_LEN || wire_u16(msg + 4) != 1)
		return false;
	/* Uncompressed only: a pointer into the header can read as the
	 * root name, and the answer's layout must be the question's. */
	n = read_plain_name(msg, len, &off, name);
	if (n != qname_len || memcmp(name, qname, n) != 0 || off + 4 > len)
		return false;
	return wire_u16(msg + off) == qtype &&
	    wire_u16(msg + off + 2) == qclass;
}

bool
wire_answer_each(const uint8_t *msg, size_t len,
    bool (*fn)(void *arg, const struct answer_item *it), void *arg)
{
	struct answer_item it;
	size_t off = DNS_HEADER_LEN;
	uint16_t i, ancount;

	if (len < DNS_HEADER_LEN)
		return false;
	ancount = wire_u16(msg + 6);
	if (wire_skip_name(msg, len, &off) == -1 || off + 4 > len)
		return false;
	off += 4;
	for (i = 0; i < ancount; i++) {
		struct rr_head rr;
		size_t rdoff;

		if (read_rr(msg, len, &off, &rr) == -1)
			return false;
		it.type = rr.type;
		it.addr = NULL;
		switch (rr.type) {
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			if (rr.rdend - rr.rdata !=
			    (rr.type == DNS_TYPE_A ? 4U : 16U))
				continue;
			it.addr = msg + rr.rdata;
			break;
		case DNS_TYPE_CNAME:
		case DNS_TYPE_DNAME:
			rdoff = rr.rdata;
			if (wire_read_name(msg, len, &rdoff, it.name) == 0)
				continue;
			break;
		default:
			continue;
		}
		if (fn(arg, &it))
			return true;
	}
	return false;
}

size_t
wire_section_start(const uint8_t *msg, size_t len, int section)
{
	size_t off = DNS_HEADER_LEN;
	int sec;

	if (len < DNS_HEADER_LEN || section < 1 || section > 3 ||
	    wire_u16(msg + 4) != 1)
		return 0;
	if (wire_skip_name(msg, len, &off) == -1 || off + 4 > len)
		return 0;
	off += 4;
	for (sec = 1; sec < section; sec++)
		if (skip_records(msg, len, &off,
		    wire_u16(msg + 4 + 2 * sec)) == -1)
			return 0;
	return off;
}
