/*
 * test_reply: every answer cordond makes up, read back with ldns and with
 * a small record walker of our own: header bits, the echoed question,
 * the OPT record (present iff the query had one, DO echoed, EDE), the
 * SOA of blocked answers, sinkhole records, reply_limit() and answers
 * from the cache (TTL countdown, TC when too large).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "base/config.h"
#include "dns/reply.h"
#include "dns/wire.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OUTCAP 4096

/* --- queries --- */

struct qopts {
	uint16_t id;
	uint8_t opcode;
	bool rd, ad, cd;
	const char *qname;	/* wire bytes, as sent (letter case kept) */
	uint16_t qtype, qclass;
	bool edns;
	uint16_t edns_size;
	uint32_t edns_ttl;	/* ext rcode, version, flags */
	const char *options;	/* raw OPT RDATA */
	size_t options_len;
	uint16_t qdcount;	/* 0 means 1 */
	bool no_question;	/* qdcount 0, no question */
};

#define QN_MIX "\x03" "WwW" "\x07" "ExAmPlE" "\x03" "CoM"
#define QN_BAD "\x03" "Ads" "\x03" "BAD" "\x07" "example" "\x03" "NeT"

static size_t
make_query(const struct qopts *o, uint8_t *buf)
{
	size_t n = 12, ql;

	memset(buf, 0, 12);
	wire_put16(buf, o->id);
	buf[2] = (uint8_t)(o->opcode << 3 | (o->rd ? 1 : 0));
	buf[3] = (uint8_t)((o->ad ? 0x20 : 0) | (o->cd ? 0x10 : 0));
	if (!o->no_question) {
		wire_put16(buf + 4, 1);
		ql = strlen(o->qname) + 1;	/* names here have no 0 bytes */
		memcpy(buf + n, o->qname, ql);
		n += ql;
		wire_put16(buf + n, o->qtype);
		wire_put16(buf + n + 2, o->qclass);
		n += 4;
	}
	if (o->edns) {
		wire_put16(buf + 10, 1);
		buf[n] = 0;
		wire_put16(buf + n + 1, DNS_TYPE_OPT);
		wire_put16(buf + n + 3, o->edns_size);
		wire_put32(buf + n + 5, o->edns_ttl);
		wire_put16(buf + n + 9, (uint16_t)o->options_len);
		if (o->options_len > 0)
			memcpy(buf + n + 11, o->options, o->options_len);
		n += 11 + o->options_len;
	}
	return n;
}

/* A query as the server sees it: bytes, parse and context. */
struct client {
	uint8_t pkt[512];
	size_t len;
	struct dnsquery q;
	enum wire_verdict verdict;
	struct reply_ctx ctx;
};

static void
client_init(struct client *c, const struct qopts *o, bool tcp,
    uint16_t our_edns)
{
	c->len = make_query(o, c->pkt);
	c->verdict = wire_parse_query(c->pkt, c->len, &c->q);
	c->ctx.pkt = c->pkt;
	c->ctx.q = &c->q;
	c->ctx.is_tcp = tcp;
	c->ctx.edns_size = our_edns;
	c->ctx.trust_ad = false;
}

/* --- reading answers back --- */

/* Our own walk over an answer: where each section starts, and the OPT. */
struct walk {
	bool ok;
	uint16_t counts[4];
	size_t opt;		/* offset of the OPT RR, 0 when none */
	size_t opt_rdata, opt_rdlen;
	bool opt_last;		/* the OPT is the last RR and ends the msg */
	size_t nopt;
};

static void
walk_answer(const uint8_t *m, size_t len, struct walk *w)
{
	size_t off = 12, sec, i;

	memset(w, 0, sizeof(*w));
	if (len < 12)
		return;
	for (sec = 0; sec < 4; sec++)
		w->counts[sec] = wire_u16(m + 4 + 2 * sec);
	for (sec = 0; sec < 4; sec++) {
		for (i = 0; i < w->counts[sec]; i++) {
			size_t start = off;

			for (;;) {
				if (off >= len)
					return;
				if ((m[off] & 0xc0) == 0xc0) {
					off += 2;
					break;
				}
				if (m[off] == 0) {
					off++;
					break;
				}
				off += 1 + m[off];
			}
			if (sec == 0) {
				off += 4;
				if (off > len)
					return;
				continue;
			}
			if (off + 10 > len ||
			    off + 10 + wire_u16(m + off + 8) > len)
				return;
			if (wire_u16(m + off) == DNS_TYPE_OPT) {
				w->nopt++;
				w->opt = start;
				w->opt_rdata = off + 10;
				w->opt_rdlen = wire_u16(m + off + 8);
				w->opt_last = sec == 3 &&
				    i + 1 == w->counts[3] &&
				    off + 10 + w->opt_rdlen == len;
			}
			off += 10 + wire_u16(m + off + 8);
		}
	}
	w->ok = off == len;
}

/* What an answer should look like. */
struct want {
	unsigned rcode;		/* full rcode, BADVERS = 16 */
	int ede;		/* EDE info-code, -1 for none */
	const char *ede_text;
};

/* The checks every answer must pass.  Returns the parsed packet (free
 * with ldns_pkt_free) or NULL. */
static ldns_pkt *
check_common(const char *label, const struct client *c, const uint8_t *out,
    size_t n, const struct want *w)
{
	ldns_pkt *p = NULL;
	ldns_status st;
	struct walk wk;

	CHECK(n >= 12, "%s: length %zu", label, n);
	if (n < 12)
		return NULL;
	st = ldns_wire2pkt(&p, out, n);
	CHECK(st == LDNS_STATUS_OK, "%s: ldns: %s", label,
	    ldns_get_errorstr_by_id(st));
	if (st != LDNS_STATUS_OK)
		return NULL;
	walk_answer(out, n, &wk);
	CHECK(wk.ok, "%s: records do not end at the message end", label);

	CHECK(ldns_pkt_id(p) == c->q.id, "%s: id %u, want %u", label,
	    ldns_pkt_id(p), c->q.id);
	CHECK(ldns_pkt_qr(p), "%s: QR clear", label);
	CHECK(ldns_pkt_rd(p) == c->q.rd, "%s: RD %d, want %d", label,
	    ldns_pkt_rd(p), c->q.rd);
	/* RA on everything but NOTIMP for opcodes we do not serve
	 * (RFC 8906 3.1.3); CD copied from the query (RFC 4035 3.2.2). */
	CHECK(ldns_pkt_ra(p) == !(w->rcode == RCODE_NOTIMP &&
	    c->q.opcode != OPCODE_QUERY), "%s: RA %d", label,
	    ldns_pkt_ra(p));
	CHECK(ldns_pkt_cd(p) == c->q.cd, "%s: CD %d, want %d", label,
	    ldns_pkt_cd(p), c->q.cd);
	CHECK((out[2] >> 3 & 0x0f) == c->q.opcode, "%s: opcode %u, want %u",
	    label, out[2] >> 3 & 0x0f, c->q.opcode);
	CHECK((out[3] & 0x0f) == (w->rcode & 0x0f), "%s: header rcode %u, "
	    "want %u", label, out[3] & 0x0f, w->rcode & 0x0f);
	CHECK((out[3] & 0x40) == 0, "%s: Z bit set", label);

	/* the question, byte for byte */
	if (c->q.has_question) {
		CHECK(wk.counts[0] == 1, "%s: qdcount %u", label, wk.counts[0]);
		CHECK(n >= 12 + c->q.question_len &&
		    memcmp(out + 12, c->pkt + 12, c->q.question_len) == 0,
		    "%s: question not echoed byte for byte", label);
	} else
		CHECK(wk.counts[0] == 0, "%s: qdcount %u without a question",
		    label, wk.counts[0]);

	/* OPT iff the query had one */
	CHECK(wk.nopt == (c->q.has_edns ? 1u : 0u), "%s: %zu OPT records, "
	    "query had %s", label, wk.nopt, c->q.has_edns ? "one" : "none");
	if (wk.nopt == 1) {
		uint32_t ttl = wire_u32(out + wk.opt + 5);
		unsigned ext = (unsigned)(ttl >> 24) << 4 | (out[3] & 0x0f);

		CHECK(wk.opt_last, "%s: OPT is not the last record", label);
		CHECK(out[wk.opt] == 0, "%s: OPT owner not root", label);
		CHECK(wire_u16(out + wk.opt + 3) == c->ctx.edns_size,
		    "%s: OPT payload %u, want %u", label,
		    wire_u16(out + wk.opt + 3), c->ctx.edns_size);
		CHECK(ext == w->rcode, "%s: extended rcode %u, want %u",
		    label, ext, w->rcode);
		CHECK(ldns_pkt_edns_extended_rcode(p) == w->rcode >> 4,
		    "%s: ldns extended rcode %u", label,
		    ldns_pkt_edns_extended_rcode(p));
		CHECK((ttl >> 16 & 0xff) == 0, "%s: OPT version %u", label,
		    ttl >> 16 & 0xff);
		CHECK((ttl & 0xffff) == (c->q.edns_do ? 0x8000u : 0u),
		    "%s: OPT flags %04x, query DO %d", label, ttl & 0xffff,
		    c->q.edns_do);
		/* options: exactly the EDE, if one is wanted */
		if (w->ede < 0)
			CHECK(wk.opt_rdlen == 0, "%s: OPT RDATA of %zu bytes",
			    label, wk.opt_rdlen);
		else {
			const uint8_t *o = out + wk.opt_rdata;
			size_t tl = w->ede_text ? strlen(w->ede_text) : 0;

			CHECK(wk.opt_rdlen == 6 + tl, "%s: OPT RDATA %zu, want "
			    "%zu", label, wk.opt_rdlen, 6 + tl);
			if (wk.opt_rdlen == 6 + tl) {
				CHECK(wire_u16(o) == 15, "%s: option code %u",
				    label, wire_u16(o));
				CHECK(wire_u16(o + 2) == 2 + tl,
				    "%s: EDE length %u", label,
				    wire_u16(o + 2));
				CHECK(wire_u16(o + 4) == (unsigned)w->ede,
				    "%s: EDE info-code %u, want %d", label,
				    wire_u16(o + 4), w->ede);
				CHECK(tl == 0 || memcmp(o + 6, w->ede_text,
				    tl) == 0, "%s: EDE text \"%.*s\"", label,
				    (int)tl, (const char *)o + 6);
			}
		}
	} else
		CHECK(w->rcode < 16, "%s: rcode %u without OPT", label,
		    w->rcode);
	return p;
}

/*
 * Runs reply_error() (ba == NULL) or reply_blocked() in a child process,
 * so that a sanitizer stopping the child is one failed check rather than
 * the end of the whole test.  Returns the length written to out, or 0.
 */
static size_t
isolated(const char *label, const struct reply_ctx *ctx, unsigned rcode,
    uint16_t ede, const char *text, const struct block_answer *ba,
    uint8_t *out, size_t cap)
{
	int fd[2], status = 0;
	pid_t pid;
	size_t n = 0, got = 0;
	ssize_t r;

	fflush(stdout);
	fflush(stderr);
	if (pipe(fd) == -1 || (pid = fork()) == -1) {
		perror("pipe/fork");
		exit(99);
	}
	if (pid == 0) {
		close(fd[0]);
		n = ba == NULL ? reply_error(ctx, rcode, ede, text, out, cap) :
		    reply_blocked(ctx, ba, out, cap);
		if (write(fd[1], &n, sizeof(n)) != sizeof(n) ||
		    write(fd[1], out, n) != (ssize_t)n)
			_exit(98);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &n, sizeof(n)) != sizeof(n))
		n = 0;
	while (n > 0 && got < n && n <= cap &&
	    (r = read(fd[0], out + got, n - got)) > 0)
		got += (size_t)r;
	close(fd[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: the call died (status %d; see the report above)", label,
	    status);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != n)
		return 0;
	return n;
}

/* --- reply_error --- */

static const char *const names_of_errors[] = {
	[RCODE_FORMERR] = "FORMERR", [RCODE_SERVFAIL] = "SERVFAIL",
	[RCODE_NOTIMP] = "NOTIMP", [RCODE_REFUSED] = "REFUSED",
	[RCODE_BADVERS] = "BADVERS",
};

struct error_case {
	const char *label;
	struct qopts q;
	unsigned rcode;
	uint16_t ede;
	const char *text;
};

static const char cookie[] = "\x00\x0a\x00\x08" "abcdefgh";

static const struct error_case error_cases[] = {
	{ "SERVFAIL, no EDNS", { .id = 1, .rd = true, .qname = QN_MIX,
	    .qtype = 1, .qclass = 1 }, RCODE_SERVFAIL, EDE_NONE, NULL },
	{ "SERVFAIL, EDNS, EDE 22", { .id = 2, .rd = true, .qname = QN_MIX,
	    .qtype = 28, .qclass = 1, .edns = true, .edns_size = 4096 },
	    RCODE_SERVFAIL, EDE_NO_REACHABLE, "no upstream answered" },
	{ "SERVFAIL, EDNS DO, no EDE", { .id = 3, .qname = QN_MIX,
	    .qtype = 1, .qclass = 1, .edns = true, .edns_size = 1232,
	    .edns_ttl = 0x8000 }, RCODE_SERVFAIL, EDE_NONE, NULL },
	{ "SERVFAIL, EDNS with all flag bits and a cookie", { .id = 4,
	    .rd = true, .qname = QN_MIX, .qtype = 1, .qclass = 1,
	    .edns = true, .edns_size = 1232, .edns_ttl = 0xffff,
	    .options = cookie, .options_len = sizeof(cookie) - 1 },
	    RCODE_SERVFAIL, EDE_NONE, NULL },
	{ "SERVFAIL, EDNS Z bits without DO", { .id = 5, .qname = QN_MIX,
	    .qtype = 1, .qclass = 1, .edns = true, .edns_size = 1232,
	    .edns_ttl = 0x7fff }, RCODE_SERVFAIL, EDE_NONE, NULL },
	{ "REFUSED, EDE 18 no text", { .id = 6, .rd = true, .qname = QN_MIX,
	    .qtype = 1, .qclass = 1, .edns = true, .edns_size = 512 },
	    RCODE_REFUSED, EDE_PROHIBITED, NULL },
	{ "REFUSED, no EDNS (EDE dropped)", { .id = 7, .qname = QN_MIX,
	    .qtype = 1, .qclass = 1 }, RCODE_REFUSED, EDE_PROHIBITED,
	    "not allowed" },
	{ "FORMERR with question", { .id = 8, .rd = true, .qname = QN_MIX,
	    .qtype = 1, .qclass = 1, .edns = true, .edns_size = 1232,
	    .edns_ttl = 0x8000 }, RCODE_FORMERR, EDE_NONE, NULL },
	{ "FORMERR without question", { .id = 9, .rd = true,
	    .no_question = true }, RCODE_FORMERR, EDE_NONE, NULL },
	{ "FORMERR without question, EDNS", { .id = 10, .no_question = true,
	    .edns = true, .edns_size = 1232 }, RCODE_FORMERR, EDE_NONE,
	    NULL },
	{ "NOTIMP opcode 4", { .id = 11, .opcode = 4, .qname = QN_MIX,
	    .qtype = 6, .qclass = 1 }, RCODE_NOTIMP, EDE_NONE, NULL },
	{ "NOTIMP opcode 5, EDNS DO", { .id = 12, .opcode = 5, .rd = true,
	    .qname = QN_MIX, .qtype = 6, .qclass = 1, .edns = true,
	    .edns_size = 4096, .edns_ttl = 0x8000 }, RCODE_NOTIMP, EDE_NONE,
	    NULL },
	{ "NOTIMP opcode 2, no question, EDNS", { .id = 13, .opcode = 2,
	    .no_question = true, .edns = true, .edns_size = 1232 },
	    RCODE_NOTIMP, EDE_NONE, NULL },
	{ "BADVERS", { .id = 14, .rd = true, .qname = QN_MIX, .qtype = 1,
	    .qclass = 1, .edns = true, .edns_size = 1232,
	    .edns_ttl = 0x00010000 }, RCODE_BADVERS, EDE_NONE, NULL },
	{ "BADVERS, version 200, DO", { .id = 15, .qname = QN_MIX,
	    .qtype = 1, .qclass = 1, .edns = true, .edns_size = 1232,
	    .edns_ttl = 0x00c88000 }, RCODE_BADVERS, EDE_NONE, NULL },
	{ "SERVFAIL, CH class, ID 0xffff", { .id = 0xffff, .rd = true,
	    .qname = QN_MIX, .qtype = 16, .qclass = 3 }, RCODE_SERVFAIL,
	    EDE_NONE, NULL },
};

static void
test_error(void)
{
	size_t i;

	for (i = 0; i < N(error_cases); i++) {
		const struct error_case *e = &error_cases[i];
		struct client c;
		uint8_t out[OUTCAP];
		struct want w = { e->rcode, -1, NULL };
		ldns_pkt *p;
		size_t n;

		client_init(&c, &e->q, false, 1232);
		/* wire_parse_query() stops at a missing question (see
		 * test_wire); what matters here is that reply_error()
		 * follows has_edns without a question. */
		if (e->q.no_question && e->q.edns && !c.q.has_edns) {
			c.q.has_edns = true;
			c.q.edns_size = e->q.edns_size;
		}
		if (e->q.edns && (e->q.edns_ttl & 0x00ff0000))
			CHECK(c.verdict == WIRE_BADVERS, "%s: setup", e->label);
		if (c.q.has_edns && e->ede != EDE_NONE) {
			w.ede = e->ede;
			w.ede_text = e->text;
		}
		memset(out, 0xee, sizeof(out));
		n = isolated(e->label, &c.ctx, e->rcode, e->ede, e->text, NULL, out,
		    512);
		CHECK(n > 0 && n <= 512, "%s (%s): length %zu", e->label,
		    names_of_errors[e->rcode], n);
		if (n == 0)
			continue;
		p = check_common(e->label, &c, out, n, &w);
		if (p != NULL) {
			CHECK(ldns_pkt_ancount(p) == 0 &&
			    ldns_pkt_nscount(p) == 0, "%s: records", e->label);
			CHECK(!ldns_pkt_tc(p), "%s: TC", e->label);
		}
		ldns_pkt_free(p);
	}
}

/* --- reply_blocked --- */

static const uint8_t sink_a[4] = { 192, 0, 2, 66 };
static const uint8_t sink_aaaa[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0x66 };

struct block_case {
	const char *label;
	enum action action;
	uint16_t qtype;
	bool edns, do_bit;
	size_t rule_off;	/* in QN_BAD: 0 ads.bad..., 4 bad..., 8 example */
	uint32_t ttl;
	const char *text;
	/* expected */
	unsigned rcode;
	int answer;		/* 0 none, 1 A, 28 AAAA */
	bool soa;
};

static const struct block_case block_cases[] = {
	{ "nxdomain A", ACTION_NXDOMAIN, 1, true, false, 4, 60, "exchanges",
	    RCODE_NXDOMAIN, 0, true },
	{ "nxdomain A, no EDNS", ACTION_NXDOMAIN, 1, false, false, 4, 60,
	    "exchanges", RCODE_NXDOMAIN, 0, true },
	{ "nxdomain AAAA exact rule, DO", ACTION_NXDOMAIN, 28, true, true, 0,
	    300, "ico", RCODE_NXDOMAIN, 0, true },
	{ "nxdomain TXT, rule at TLD+1, no text", ACTION_NXDOMAIN, 16, true,
	    false, 8, 0, NULL, RCODE_NXDOMAIN, 0, true },
	{ "nodata A", ACTION_NODATA, 1, true, false, 4, 3600, "otc",
	    RCODE_NOERROR, 0, true },
	{ "nodata MX, no EDNS", ACTION_NODATA, 15, false, false, 0, 1,
	    NULL, RCODE_NOERROR, 0, true },
	{ "refused", ACTION_REFUSED, 1, true, false, 4, 60, "exchanges",
	    RCODE_REFUSED, 0, false },
	{ "refused, no EDNS", ACTION_REFUSED, 28, false, false, 4, 60,
	    "exchanges", RCODE_REFUSED, 0, false },
	{ "sinkhole A", ACTION_SINKHOLE, 1, true, false, 4, 120, "exchanges",
	    RCODE_NOERROR, 1, false },
	{ "sinkhole A, no EDNS", ACTION_SINKHOLE, 1, false, false, 4, 120,
	    NULL, RCODE_NOERROR, 1, false },
	{ "sinkhole AAAA, DO", ACTION_SINKHOLE, 28, true, true, 8, 7, "x",
	    RCODE_NOERROR, 28, false },
	{ "sinkhole TXT -> nodata", ACTION_SINKHOLE, 16, true, false, 4, 60,
	    "exchanges", RCODE_NOERROR, 0, true },
	{ "sinkhole MX -> nodata, no EDNS", ACTION_SINKHOLE, 15, false, false,
	    0, 60, NULL, RCODE_NOERROR, 0, true },
	{ "sinkhole ANY -> nodata", ACTION_SINKHOLE, 255, true, false, 4, 60,
	    "exchanges", RCODE_NOERROR, 0, true },
};

static void
check_soa(const char *label, const struct client *c, ldns_pkt *p,
    const struct block_case *b)
{
	ldns_rr_list *auth = ldns_pkt_authority(p);
	ldns_rr *soa;
	ldns_rdf *owner;
	const uint8_t *rule = c->pkt + 12 + b->rule_off;
	size_t rule_len = c->q.qname_len - b->rule_off;

	CHECK(ldns_rr_list_rr_count(auth) == 1, "%s: %zu authority records",
	    label, ldns_rr_list_rr_count(auth));
	if (ldns_rr_list_rr_count(auth) != 1)
		return;
	soa = ldns_rr_list_rr(auth, 0);
	CHECK(ldns_rr_get_type(soa) == LDNS_RR_TYPE_SOA, "%s: type %d",
	    label, ldns_rr_get_type(soa));
	CHECK(ldns_rr_get_class(soa) == c->q.qclass, "%s: SOA class %d",
	    label, ldns_rr_get_class(soa));
	owner = ldns_rr_owner(soa);
	/* the rule's name, as the client spelled it */
	CHECK(ldns_rdf_size(owner) == rule_len &&
	    memcmp(ldns_rdf_data(owner), rule, rule_len) == 0,
	    "%s: SOA owner is not the rule suffix at %zu", label, b->rule_off);
	CHECK(ldns_rr_ttl(soa) == b->ttl, "%s: SOA TTL %u, want %u", label,
	    ldns_rr_ttl(soa), b->ttl);
	CHECK(ldns_rr_rd_count(soa) == 7 &&
	    ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)) == b->ttl,
	    "%s: SOA minimum %u, want %u", label,
	    ldns_rr_rd_count(soa) == 7 ?
	    ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)) : 0, b->ttl);
}

static void
check_sinkhole(const char *label, const struct client *c, ldns_pkt *p,
    const struct block_case *b)
{
	ldns_rr_list *an = ldns_pkt_answer(p);
	ldns_rr *rr;
	ldns_rdf *owner, *rd;
	size_t alen = b->answer == 1 ? 4 : 16;

	CHECK(ldns_rr_list_rr_count(an) == 1, "%s: %zu answers", label,
	    ldns_rr_list_rr_count(an));
	if (ldns_rr_list_rr_count(an) != 1)
		return;
	rr = ldns_rr_list_rr(an, 0);
	CHECK(ldns_rr_get_type(rr) == (ldns_rr_type)b->answer, "%s: type %d",
	    label, ldns_rr_get_type(rr));
	CHECK(ldns_rr_get_class(rr) == c->q.qclass, "%s: class", label);
	CHECK(ldns_rr_ttl(rr) == b->ttl, "%s: TTL %u, want %u", label,
	    ldns_rr_ttl(rr), b->ttl);
	owner = ldns_rr_owner(rr);
	CHECK(ldns_rdf_size(owner) == c->q.qname_len &&
	    memcmp(ldns_rdf_data(owner), c->pkt + 12, c->q.qname_len) == 0,
	    "%s: owner is not the qname", label);
	rd = ldns_rr_rdf(rr, 0);
	CHECK(rd != NULL && ldns_rdf_size(rd) == alen &&
	    memcmp(ldns_rdf_data(rd), alen == 4 ? sink_a : sink_aaaa, alen)
	    == 0, "%s: address", label);
	CHECK(ldns_pkt_nscount(p) == 0, "%s: authority records", label);
}

static void
test_blocked(void)
{
	size_t i;

	for (i = 0; i < N(block_cases); i++) {
		const struct block_case *b = &block_cases[i];
		struct qopts o = { .id = (uint16_t)(0x4000 + i), .rd = i % 2,
		    .qname = QN_BAD, .qtype = b->qtype, .qclass = 1,
		    .edns = b->edns, .edns_size = 1400,
		    .edns_ttl = b->do_bit ? 0x8000 : 0 };
		struct block_answer ba = { b->action, b->rule_off, b->ttl,
		    sink_a, sink_aaaa, EDE_BLOCKED, b->text };
		struct want w = { b->rcode, b->edns ? EDE_BLOCKED : -1,
		    b->text };
		struct client c;
		uint8_t out[OUTCAP];
		ldns_pkt *p;
		size_t n;
		int udp;

		for (udp = 0; udp < 2; udp++) {
			char label[96];

			snprintf(label, sizeof(label), "blocked %s%s", b->label,
			    udp ? "" : " (TCP)");
			client_init(&c, &o, !udp, 1232);
			memset(out, 0xee, sizeof(out));
			n = isolated(label, &c.ctx, 0, 0, NULL, &ba, out, 512);
			CHECK(n > 0 && n <= 512, "%s: length %zu", label, n);
			if (n == 0)
				continue;
			p = check_common(label, &c, out, n, &w);
			if (p == NULL)
				continue;
			CHECK(!ldns_pkt_tc(p), "%s: TC", label);
			if (b->answer != 0)
				check_sinkhole(label, &c, p, b);
			else
				CHECK(ldns_pkt_ancount(p) == 0,
				    "%s: %u answers", label,
				    ldns_pkt_ancount(p));
			if (b->soa)
				check_soa(label, &c, p, b);
			else if (b->answer == 0)
				CHECK(ldns_pkt_nscount(p) == 0,
				    "%s: authority records", label);
			ldns_pkt_free(p);
		}
	}
}

/* A long EDE text still fits 512 bytes. */
static void
test_blocked_long_text(void)
{
	char text[256];
	struct qopts o = { .id = 77, .qname = QN_BAD, .qtype = 1, .qclass = 1,
	    .edns = true, .edns_size = 512 };
	struct client c;
	struct block_answer ba = { ACTION_NXDOMAIN, 4, 60, sink_a, sink_aaaa,
	    EDE_BLOCKED, text };
	uint8_t out[OUTCAP];
	size_t n, len;

	for (len = 0; len < sizeof(text); len += 50) {
		char label[64];

		memset(text, 'L', len);
		text[len] = '\0';
		client_init(&c, &o, false, 1232);
		snprintf(label, sizeof(label), "blocked, EDE text of %zu", len);
		n = isolated(label, &c.ctx, 0, 0, NULL, &ba, out, 512);
		CHECK(n > 0 && n <= 512, "EDE text of %zu: length %zu", len, n);
		if (n > 0) {
			ldns_pkt *p = NULL;

			CHECK(ldns_wire2pkt(&p, out, n) == LDNS_STATUS_OK,
			    "EDE text of %zu: unreadable", len);
			ldns_pkt_free(p);
		}
		snprintf(label, sizeof(label), "error, EDE text of %zu", len);
		n = isolated(label, &c.ctx, RCODE_REFUSED, EDE_BLOCKED, text,
		    NULL, out, 512);
		CHECK(n > 0 && n <= 512, "error EDE text of %zu: length %zu",
		    len, n);
	}
}

/* The list's EDE code (RFC 8914 15-18) is the one answered; a text over
 * EDE_TEXT_MAX is cut there, not dropped. */
static void
test_blocked_ede_code_and_cut(void)
{
	char text[300];
	struct qopts o = { .id = 78, .qname = QN_BAD, .qtype = 1, .qclass = 1,
	    .edns = true, .edns_size = 1232 };
	struct client c;
	struct block_answer ba = { ACTION_NXDOMAIN, 4, 60, sink_a, sink_aaaa,
	    16, text };
	uint8_t out[OUTCAP];
	ldns_pkt *p = NULL;
	ldns_rdf *rdf;
	size_t n;

	memset(text, 'T', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	client_init(&c, &o, false, 1232);
	n = reply_blocked(&c.ctx, &ba, out, sizeof(out));
	CHECK(n > 0, "answered");
	CHECK(ldns_wire2pkt(&p, out, n) == LDNS_STATUS_OK, "readable");
	rdf = p != NULL ? ldns_pkt_edns_data(p) : NULL;
	/* OPTION-CODE 15 (EDE), length 2 + 200, INFO-CODE 16 */
	CHECK(rdf != NULL && ldns_rdf_size(rdf) == 4 + 2 + EDE_TEXT_MAX,
	    "one EDE option with the text cut to %d bytes", EDE_TEXT_MAX);
	if (rdf != NULL && ldns_rdf_size(rdf) >= 6) {
		const uint8_t *d = ldns_rdf_data(rdf);

		CHECK(d[0] == 0 && d[1] == 15 && d[4] == 0 && d[5] == 16,
		    "EDE 16 (Censored), as the list says");
	}
	ldns_pkt_free(p);
}

/* --- reply_limit --- */

struct limit_case {
	bool tcp, edns;
	uint16_t client, ours;
	size_t want;
};

static const struct limit_case limit_cases[] = {
	{ false, false, 0, 1232, 512 },
	{ false, false, 0, 4096, 512 },
	{ false, true, 4096, 1232, 1232 },
	{ false, true, 1232, 4096, 1232 },
	{ false, true, 1000, 1232, 1000 },
	{ false, true, 512, 1232, 512 },
	{ false, true, 513, 1232, 513 },
	{ false, true, 511, 1232, 512 },
	{ false, true, 100, 1232, 512 },
	{ false, true, 0, 1232, 512 },
	{ false, true, 65535, 65535, 65535 },
	{ false, true, 4096, 512, 512 },
	{ false, true, 4096, 256, 512 },	/* never below 512 */
	{ false, true, 100, 256, 512 },
	{ true, false, 0, 1232, 65535 },
	{ true, true, 512, 1232, 65535 },
	{ true, true, 4096, 512, 65535 },
};

static void
test_limit(void)
{
	size_t i;

	for (i = 0; i < N(limit_cases); i++) {
		const struct limit_case *l = &limit_cases[i];
		struct qopts o = { .id = 1, .qname = QN_MIX, .qtype = 1,
		    .qclass = 1, .edns = l->edns, .edns_size = l->client };
		struct client c;
		size_t got;

		client_init(&c, &o, l->tcp, l->ours);
		got = reply_limit(&c.ctx);
		CHECK(got == l->want, "limit %s, %s client %u, ours %u: %zu, "
		    "want %zu", l->tcp ? "TCP" : "UDP",
		    l->edns ? "EDNS" : "no EDNS", l->client, l->ours, got,
		    l->want);
	}
}

/* --- reply_from_cache --- */

/* An upstream answer for www.example.com (lower case, as cached): nrr A
 * records with TTLs ttls[i % nttls], one NS in authority, no OPT. */
static uint8_t *
cached_answer(size_t nrr, const uint32_t *ttls, size_t nttls,
    ldns_pkt_rcode rcode, bool aa, bool ad, size_t *len)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *rr = NULL;
	uint8_t *w = NULL;
	size_t i;
	char text[128];

	ldns_pkt_set_id(p, 0x9999);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rd(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_aa(p, aa);
	ldns_pkt_set_ad(p, ad);
	ldns_pkt_set_rcode(p, rcode);
	if (ldns_rr_new_question_frm_str(&rr, "www.example.com. IN A", NULL,
	    NULL) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, rr);
	for (i = 0; i < nrr; i++) {
		snprintf(text, sizeof(text), "www.example.com. %u IN A "
		    "192.0.2.%zu", ttls[i % nttls], i % 250 + 1);
		if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) !=
		    LDNS_STATUS_OK)
			abort();
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	snprintf(text, sizeof(text), "example.com. %u IN NS ns.example.com.",
	    ttls[0]);
	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr);
	if (ldns_pkt2wire(&w, p, len) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(p);
	return w;
}

struct cache_case {
	const char *label;
	size_t nrr;
	uint32_t ttls[3];
	uint32_t elapsed;
	bool edns, do_bit, ad;
	uint16_t client_size;
	bool tcp;
	bool want_tc;
};

static const struct cache_case cache_cases[] = {
	{ "fresh", 2, { 300, 60, 0 }, 0, false, false, false, 0, false,
	    false },
	{ "elapsed 59", 2, { 300, 60, 0 }, 59, true, false, false, 1232,
	    false, false },
	{ "elapsed 60: one TTL at 0", 2, { 300, 60, 0 }, 60, true, true,
	    false, 1232, false, false },
	{ "elapsed 61: never below 0", 3, { 300, 60, 5 }, 61, false, false,
	    false, 0, false, false },
	{ "elapsed huge", 3, { 300, 60, 0 }, 0xffffffffU, true, false, false,
	    4096, false, false },
	{ "TTL 2^31-1", 1, { 0x7fffffffU, 0, 0 }, 1, false, false, false, 0,
	    false, false },
	{ "TTL with the top bit set counts as 0", 2, { 0x80000000U, 10, 0 }, 1,
	    false, false, false, 0, false, false },
	/* 12 + 21 + 40 * 16 + NS = 685 bytes: too big without EDNS */
	{ "40 records, no EDNS: TC", 40, { 100, 200, 0 }, 5, false, false,
	    false, 0, false, true },
	{ "40 records, EDNS 600: TC", 40, { 100, 200, 0 }, 5, true, true,
	    false, 600, false, true },
	{ "40 records, EDNS 1232: fits", 40, { 100, 200, 0 }, 5, true, false,
	    false, 1232, false, false },
	{ "40 records, TCP: fits", 40, { 100, 200, 0 }, 5, false, false,
	    false, 0, true, false },
	{ "200 records, EDNS 4096 but ours 1232: TC", 200, { 100, 0, 0 }, 5,
	    true, false, false, 4096, false, true },
	{ "200 records, TCP", 200, { 100, 0, 0 }, 5, true, false, false, 4096,
	    true, false },
	{ "AD asked for", 2, { 300, 60, 0 }, 0, false, false, true, 0, false,
	    false },
};

static void
test_from_cache(void)
{
	size_t i;

	for (i = 0; i < N(cache_cases); i++) {
		const struct cache_case *k = &cache_cases[i];
		size_t mlen, n, j;
		uint8_t *msg = cached_answer(k->nrr, k->ttls, 3,
		    LDNS_RCODE_NOERROR, true, true, &mlen);
		struct answer_scan s;
		struct qopts o = { .id = (uint16_t)(0x7000 + i), .rd = i % 2,
		    .ad = k->ad, .qname = QN_MIX, .qtype = 1, .qclass = 1,
		    .edns = k->edns, .edns_size = k->client_size,
		    .edns_ttl = k->do_bit ? 0x8000 : 0 };
		struct client c;
		struct want w = { RCODE_NOERROR, -1, NULL };
		uint8_t *out = malloc(70000);
		ldns_pkt *p;
		size_t limit;

		CHECK(wire_scan_answer(msg, mlen, &s) == 0, "%s: scan",
		    k->label);
		o.cd = i % 3 == 0;
		client_init(&c, &o, k->tcp, 1232);
		c.ctx.trust_ad = i % 2 == 0;
		limit = reply_limit(&c.ctx);
		n = reply_from_cache(&c.ctx, msg, mlen, s.ttl_off, s.nttl,
		    k->elapsed, out, 70000);
		CHECK(n > 0 && n <= limit, "%s: length %zu, limit %zu",
		    k->label, n, limit);
		p = check_common(k->label, &c, out, n, &w);
		if (p == NULL) {
			free(out);
			free(msg);
			continue;
		}
		CHECK(ldns_pkt_tc(p) == k->want_tc, "%s: TC %d", k->label,
		    ldns_pkt_tc(p));
		/* AD only from a trusted upstream, and only for clients
		 * that asked (AD or DO); the cached answers all have AD. */
		CHECK(ldns_pkt_ad(p) == (c.ctx.trust_ad &&
		    (k->ad || k->do_bit)), "%s: AD %d", k->label,
		    ldns_pkt_ad(p));
		if (k->want_tc) {
			CHECK(ldns_pkt_ancount(p) == 0 &&
			    ldns_pkt_nscount(p) == 0 &&
			    ldns_rr_list_rr_count(ldns_pkt_additional(p)) == 0,
			    "%s: TC answer has records", k->label);
			CHECK(n == 12 + c.q.question_len +
			    (c.q.has_edns ? 11 : 0), "%s: TC length %zu",
			    k->label, n);
		} else {
			ldns_rr_list *an = ldns_pkt_answer(p);

			CHECK(n == mlen + (c.q.has_edns ? 11 : 0),
			    "%s: length %zu, cached %zu", k->label, n, mlen);
			CHECK(ldns_rr_list_rr_count(an) == k->nrr &&
			    ldns_pkt_nscount(p) == 1, "%s: %zu answers",
			    k->label, ldns_rr_list_rr_count(an));
			for (j = 0; j < ldns_rr_list_rr_count(an); j++) {
				uint32_t t = k->ttls[j % 3], want;

				if (t > 0x7fffffffU)
					t = 0;
				want = t > k->elapsed ? t - k->elapsed : 0;
				CHECK(ldns_rr_ttl(ldns_rr_list_rr(an, j)) ==
				    want, "%s: answer %zu TTL %u, want %u",
				    k->label, j,
				    ldns_rr_ttl(ldns_rr_list_rr(an, j)), want);
				/* records are the cached ones */
				CHECK(ldns_rdf2native_int32(ldns_rr_rdf(
				    ldns_rr_list_rr(an, j), 0)) ==
				    (uint32_t)(0xc0000200 + j % 250 + 1),
				    "%s: answer %zu address", k->label, j);
			}
		}
		/* the cached message itself is not changed */
		{
			uint8_t *again = cached_answer(k->nrr, k->ttls, 3,
			    LDNS_RCODE_NOERROR, true, true, &mlen);

			CHECK(memcmp(again, msg, mlen) == 0,
			    "%s: cached message modified", k->label);
			free(again);
		}
		ldns_pkt_free(p);
		free(out);
		free(msg);
	}
}

/* The rcode comes from the cached answer; the answer fits exactly. */
static void
test_from_cache_edges(void)
{
	static const uint32_t ttls[1] = { 30 };
	size_t mlen, n;
	uint8_t *msg = cached_answer(0, ttls, 1, LDNS_RCODE_NXDOMAIN, false,
	    false, &mlen);
	struct answer_scan s;
	struct qopts o = { .id = 5, .rd = true, .qname = QN_MIX, .qtype = 1,
	    .qclass = 1, .edns = true, .edns_size = 1232, .edns_ttl = 0x8000 };
	struct client c;
	struct want w = { RCODE_NXDOMAIN, -1, NULL };
	uint8_t out[OUTCAP];
	ldns_pkt *p;

	wire_scan_answer(msg, mlen, &s);
	client_init(&c, &o, false, 1232);
	n = reply_from_cache(&c.ctx, msg, mlen, s.ttl_off, s.nttl, 10, out,
	    sizeof(out));
	p = check_common("cache NXDOMAIN", &c, out, n, &w);
	if (p != NULL)
		CHECK(ldns_pkt_nscount(p) == 1 && ldns_rr_ttl(ldns_rr_list_rr(
		    ldns_pkt_authority(p), 0)) == 20, "cache NXDOMAIN: NS");
	ldns_pkt_free(p);
	free(msg);

	/* exactly at the limit: fits; one byte more: TC.  40 A records =
	 * 685 bytes; a client size of 696 leaves room for the OPT. */
	{
		static const uint32_t t2[1] = { 100 };
		uint8_t *m = cached_answer(40, t2, 1, LDNS_RCODE_NOERROR,
		    false, false, &mlen);
		uint8_t *big = malloc(2048);
		uint16_t sizes[2];
		int k;

		wire_scan_answer(m, mlen, &s);
		sizes[0] = (uint16_t)(mlen + 11);
		sizes[1] = (uint16_t)(mlen + 10);
		for (k = 0; k < 2; k++) {
			struct qopts o2 = { .id = 6, .qname = QN_MIX,
			    .qtype = 1, .qclass = 1, .edns = true,
			    .edns_size = sizes[k] };

			client_init(&c, &o2, false, 4096);
			n = reply_from_cache(&c.ctx, m, mlen, s.ttl_off,
			    s.nttl, 0, big, 2048);
			CHECK(n <= sizes[k], "limit %u: length %zu", sizes[k],
			    n);
			CHECK(((big[2] & 0x02) != 0) == (k == 1),
			    "limit %u (message %zu + OPT): TC %d", sizes[k],
			    mlen, (big[2] & 0x02) != 0);
		}
		/* without EDNS, a message of exactly 512 fits */
		free(big);
		free(m);
	}

	/* cap too small for even the header and question */
	{
		uint8_t small[20];

		msg = cached_answer(1, ttls, 1, LDNS_RCODE_NOERROR, false,
		    false, &mlen);
		wire_scan_answer(msg, mlen, &s);
		client_init(&c, &o, false, 1232);
		n = reply_from_cache(&c.ctx, msg, mlen, s.ttl_off, s.nttl, 0,
		    small, sizeof(small));
		CHECK(n == 0, "cap 20: length %zu", n);
		free(msg);
	}
}

/* An answer that fits once its additional section (glue) is left out
 * is sent without it, not cut to nothing with TC (RFC 2181 9). */
static void
test_from_cache_optional_first(void)
{
	size_t nans;

	for (nans = 1; nans <= 40; nans += 39) {
		ldns_pkt *p = ldns_pkt_new(), *r;
		ldns_rr *rr = NULL;
		uint8_t *w = NULL, out[OUTCAP];
		size_t wlen, n, i;
		char text[128];
		struct answer_scan s;
		struct qopts o = { .id = 7, .rd = true, .qname = QN_MIX,
		    .qtype = 1, .qclass = 1 };
		struct client c;

		ldns_pkt_set_qr(p, true);
		if (ldns_rr_new_question_frm_str(&rr, "www.example.com. IN A",
		    NULL, NULL) != LDNS_STATUS_OK)
			abort();
		ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, rr);
		for (i = 0; i < nans; i++) {
			snprintf(text, sizeof(text), "www.example.com. 300 IN "
			    "A 192.0.2.%zu", i + 1);
			ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL);
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
		}
		for (i = 0; i < 40; i++) {
			snprintf(text, sizeof(text), "ns%zu.glue.example. 300 "
			    "IN A 198.51.100.%zu", i, i);
			ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL);
			ldns_pkt_push_rr(p, LDNS_SECTION_ADDITIONAL, rr);
		}
		if (ldns_pkt2wire(&w, p, &wlen) != LDNS_STATUS_OK)
			abort();
		CHECK(wlen > 512, "answer of %zu octets is no test", wlen);
		CHECK(wire_scan_answer(w, wlen, &s) == 0, "scan");
		client_init(&c, &o, false, 1232);
		n = reply_from_cache(&c.ctx, w, wlen, s.ttl_off, s.nttl, 5,
		    out, sizeof(out));
		CHECK(n > 0 && n <= 512, "length %zu", n);
		CHECK(ldns_wire2pkt(&r, out, n) == LDNS_STATUS_OK, "parse");
		if (nans == 1) {
			CHECK(!ldns_pkt_tc(r), "TC set though the answer fits");
			CHECK(ldns_pkt_ancount(r) == 1 &&
			    ldns_pkt_arcount(r) == 0, "an %u ar %u",
			    ldns_pkt_ancount(r), ldns_pkt_arcount(r));
			CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(r),
			    0)) == 295, "TTL counted down");
		} else {
			CHECK(ldns_pkt_tc(r), "40 A records fit in 512?");
			CHECK(ldns_pkt_ancount(r) == 0 &&
			    ldns_pkt_arcount(r) == 0, "TC answer has records");
		}
		ldns_pkt_free(r);
		ldns_pkt_free(p);
		free(w);
	}
}

/* The EDE text names the list, then the order it implements, then what
 * matched when it was not the query name; a small buffer cuts it. */
static void
test_block_text(void)
{
	char buf[128], small[20];

	reply_block_text(buf, sizeof(buf), "exchanges", "", NULL, NULL);
	CHECK_STR(buf, "blocked by list exchanges", "plain");
	reply_block_text(buf, sizeof(buf), "exchanges", "Order 17", NULL,
	    NULL);
	CHECK_STR(buf, "blocked by list exchanges under Order 17", "ref");
	reply_block_text(buf, sizeof(buf), "x", NULL, "cname", "a.example");
	CHECK_STR(buf, "blocked by list x (cname a.example)", "trigger");
	reply_block_text(buf, sizeof(buf), "x", "R", "answer_ip", "192.0.2.1");
	CHECK_STR(buf, "blocked by list x under R (answer_ip 192.0.2.1)",
	    "both");
	reply_block_text(small, sizeof(small), "exchanges", "Order 17",
	    "cname", "a.example");
	CHECK_STR(small, "blocked by list exc", "cut");
}

int
main(void)
{
	test_limit();
	test_error();
	test_blocked();
	test_blocked_long_text();
	test_blocked_ede_code_and_cut();
	test_block_text();
	test_from_cache();
	test_from_cache_edges();
	test_from_cache_optional_first();
	return unit_exit();
}
