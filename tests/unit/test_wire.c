/*
 * test_wire: wire_parse_query() on crafted packets (every verdict),
 * wire_read_name() with compression, wire_scan_answer() on answers built
 * with ldns, and a bounded differential fuzz against ldns_wire2pkt().
 * Packets are copied into exact-size heap buffers so ASan sees any read
 * past the end.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "base/dname.h"
#include "dns/wire.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Byte-string building blocks.  Escapes are resolved before adjacent
 * literals are joined, so "\x00" "\x01" is two bytes. */
#define HDR(f2, f3, qd, an, ns, ar) \
	"\xbe\xef" f2 f3 "\x00" qd "\x00" an "\x00" ns "\x00" ar
#define QWWW "\x03" "www" "\x07" "example" "\x03" "com" "\x00"
#define QMIX "\x03" "WwW" "\x07" "ExAmPlE" "\x03" "CoM" "\x00"
#define T_A "\x00\x01"
#define T_AAAA "\x00\x1c"
#define T_TXT "\x00\x10"
#define C_IN "\x00\x01"
#define C_CH "\x00\x03"
/* OPT: root owner, type 41, class = payload size, TTL, RDLENGTH */
#define OPT(size, ttl, rdlen) "\x00" "\x00\x29" size ttl rdlen
#define OPT0 OPT("\x10\x00", "\x00\x00\x00\x00", "\x00\x00")
#define TTL0 "\x00\x00\x00\x00"
#define TTL_DO "\x00\x00\x80\x00"
/* an A record owned by a pointer to the question name */
#define RR_A "\xc0\x0c" T_A C_IN "\x00\x00\x0e\x10" "\x00\x04" "\xc0\x00\x02\x01"
#define PKT(s) s, sizeof(s) - 1

struct pq_case {
	const char *label;
	const char *pkt;
	size_t len;
	enum wire_verdict verdict;
	/* space separated key=value checks on the parsed query: q (has
	 * question), edns, do, size, ver, type, class, qlen, name (text),
	 * op, rd, cd, ad, id */
	const char *expect;
};

static const struct pq_case pq_cases[] = {
	/* good queries */
	{ "A, no EDNS", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x00")
	    QWWW T_A C_IN), WIRE_OK,
	    "q=1 edns=0 do=0 type=1 class=1 qlen=21 name=www.example.com "
	    "op=0 rd=1 cd=0 ad=0 id=48879" },
	{ "A, RD clear", PKT(HDR("\x00", "\x00", "\x01", "\x00", "\x00", "\x00")
	    QWWW T_A C_IN), WIRE_OK, "q=1 rd=0" },
	{ "AD and CD", PKT(HDR("\x00", "\x30", "\x01", "\x00", "\x00", "\x00")
	    QWWW T_A C_IN), WIRE_OK, "ad=1 cd=1" },
	{ "OPT 4096", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x01")
	    QWWW T_A C_IN OPT0), WIRE_OK,
	    "q=1 edns=1 do=0 size=4096 ver=0 type=1 qlen=21" },
	{ "OPT DO", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x01")
	    QWWW T_A C_IN OPT("\x04\xd0", TTL_DO, "\x00\x00")), WIRE_OK,
	    "edns=1 do=1 size=1232 ver=0" },
	{ "OPT DO plus Z bits", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x01") QWWW T_A C_IN OPT("\x04\xd0", "\x00\x00\xff\xff",
	    "\x00\x00")), WIRE_OK, "edns=1 do=1" },
	{ "OPT Z bits without DO", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x04\xd0", "\x00\x00\x7f\xff",
	    "\x00\x00")), WIRE_OK, "edns=1 do=0" },
	{ "OPT payload 100 -> 512", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x00\x64", TTL0, "\x00\x00")),
	    WIRE_OK, "edns=1 size=512" },
	{ "OPT payload 0 -> 512", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x00\x00", TTL0, "\x00\x00")),
	    WIRE_OK, "edns=1 size=512" },
	{ "OPT payload 511 -> 512", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x01\xff", TTL0, "\x00\x00")),
	    WIRE_OK, "edns=1 size=512" },
	{ "OPT payload 513", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x01") QWWW T_A C_IN OPT("\x02\x01", TTL0, "\x00\x00")),
	    WIRE_OK, "edns=1 size=513" },
	{ "OPT payload 65535", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x01") QWWW T_A C_IN OPT("\xff\xff", TTL0, "\x00\x00")),
	    WIRE_OK, "edns=1 size=65535" },
	{ "OPT with cookie and empty padding", PKT(HDR("\x01", "\x00", "\x01",
	    "\x00", "\x00", "\x01") QWWW T_A C_IN OPT("\x04\xd0", TTL0,
	    "\x00\x10") "\x00\x0a\x00\x08" "12345678" "\x00\x0c\x00\x00"),
	    WIRE_OK, "edns=1 size=1232" },
	{ "OPT ext rcode bits ignored", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x04\xd0", "\x05\x00\x00\x00",
	    "\x00\x00")), WIRE_OK, "edns=1 ver=0" },
	{ "mixed case lowered", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x00") QMIX T_A C_IN), WIRE_OK,
	    "q=1 name=www.example.com qlen=21" },
	{ "upper-case bytes past Z untouched", PKT(HDR("\x01", "\x00", "\x01",
	    "\x00", "\x00", "\x00") "\x04" "@[`{" "\x01" "\xc1" "\x00" T_A
	    C_IN), WIRE_OK, "q=1 name=@[`{.\\193 qlen=12" },
	{ "root qname", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x00")
	    "\x00" "\x00\x02" C_IN), WIRE_OK,
	    "q=1 name=. type=2 class=1 qlen=5" },
	{ "AAAA CH", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x00")
	    QWWW T_AAAA C_CH), WIRE_OK, "type=28 class=3 qlen=21" },
	{ "type 65535 class 255", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x00") QWWW "\xff\xff" "\x00\xff"), WIRE_OK,
	    "type=65535 class=255" },
	{ "63-octet label", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x00") "\x3f" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaa" "\x00" T_A C_IN), WIRE_OK, "q=1 qlen=69" },
	{ "additional A record then OPT", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x02") QWWW T_A C_IN RR_A OPT0), WIRE_OK,
	    "edns=1 size=4096" },
	{ "additional A record only", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN RR_A), WIRE_OK, "edns=0" },

	/* DROP */
	{ "empty", "", 0, WIRE_DROP, "" },
	{ "1 byte", PKT("\xbe"), WIRE_DROP, "" },
	{ "11 bytes", PKT("\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00"),
	    WIRE_DROP, "" },
	{ "QR set", PKT(HDR("\x81", "\x80", "\x01", "\x00", "\x00", "\x00")
	    QWWW T_A C_IN), WIRE_DROP, "" },
	{ "QR set, header only", PKT(HDR("\x80", "\x00", "\x00", "\x00", "\x00",
	    "\x00")), WIRE_DROP, "" },
	{ "QR set, opcode 5", PKT(HDR("\xa8", "\x00", "\x01", "\x00", "\x00",
	    "\x00") QWWW T_A C_IN), WIRE_DROP, "" },

	/* NOTIMP */
	{ "opcode 2 STATUS", PKT(HDR("\x10", "\x00", "\x01", "\x00", "\x00",
	    "\x00") QWWW T_A C_IN), WIRE_NOTIMP,
	    "op=2 q=1 qlen=21 edns=0 id=48879" },
	{ "opcode 4 NOTIFY", PKT(HDR("\x20", "\x00", "\x01", "\x00", "\x00",
	    "\x00") QWWW "\x00\x06" C_IN), WIRE_NOTIMP,
	    "op=4 q=1 type=6 edns=0" },
	{ "opcode 5 UPDATE", PKT(HDR("\x28", "\x00", "\x01", "\x00", "\x00",
	    "\x00") QWWW "\x00\x06" C_IN), WIRE_NOTIMP, "op=5 q=1 edns=0" },
	{ "opcode 1 IQUERY", PKT(HDR("\x08", "\x00", "\x01", "\x00", "\x00",
	    "\x00") QWWW T_A C_IN), WIRE_NOTIMP, "op=1 q=1" },
	{ "opcode 15", PKT(HDR("\x78", "\x00", "\x01", "\x00", "\x00",
	    "\x00") QWWW T_A C_IN), WIRE_NOTIMP, "op=15" },
	{ "opcode 4 with OPT", PKT(HDR("\x20", "\x00", "\x01", "\x00", "\x00",
	    "\x01") QWWW "\x00\x06" C_IN OPT("\x04\xd0", TTL_DO, "\x00\x00")),
	    WIRE_NOTIMP, "op=4 q=1 edns=1 do=1 size=1232" },
	{ "opcode 2 with OPT", PKT(HDR("\x10", "\x00", "\x01", "\x00", "\x00",
	    "\x01") QWWW T_A C_IN OPT0), WIRE_NOTIMP,
	    "op=2 q=1 edns=1 size=4096" },
	{ "opcode 5 with records and OPT", PKT(HDR("\x28", "\x00", "\x01",
	    "\x01", "\x01", "\x01") QWWW "\x00\x06" C_IN RR_A RR_A OPT0),
	    WIRE_NOTIMP, "op=5 q=1 edns=1 size=4096" },
	{ "opcode 2, no question", PKT(HDR("\x10", "\x00", "\x00", "\x00",
	    "\x00", "\x00")), WIRE_NOTIMP, "op=2 q=0 edns=0" },
	{ "opcode 2, no question, OPT", PKT(HDR("\x10", "\x00", "\x00",
	    "\x00", "\x00", "\x01") OPT0), WIRE_NOTIMP,
	    "op=2 q=0 edns=1 size=4096" },
	{ "opcode 4, compressed qname", PKT(HDR("\x20", "\x00", "\x01", "\x00",
	    "\x00", "\x00") "\xc0\x0c" T_A C_IN), WIRE_NOTIMP, "op=4 q=0" },
	{ "opcode 4, truncated question", PKT(HDR("\x20", "\x00", "\x01",
	    "\x00", "\x00", "\x00") QWWW "\x00"), WIRE_NOTIMP, "op=4 q=0" },
	{ "opcode 5, garbage after header", PKT(HDR("\x28", "\x00", "\x01",
	    "\x00", "\x00", "\x01") "\x7f" "abc"), WIRE_NOTIMP,
	    "op=5 q=0 edns=0" },

	/* FORMERR */
	{ "QDCOUNT 0", PKT(HDR("\x01", "\x00", "\x00", "\x00", "\x00", "\x00")),
	    WIRE_FORMERR, "id=48879 rd=1" },
	{ "QDCOUNT 0 with a question", PKT(HDR("\x01", "\x00", "\x00", "\x00",
	    "\x00", "\x00") QWWW T_A C_IN), WIRE_FORMERR, "" },
	{ "QDCOUNT 2", PKT(HDR("\x01", "\x00", "\x02", "\x00", "\x00", "\x00")
	    QWWW T_A C_IN QWWW T_A C_IN), WIRE_FORMERR, "" },
	/* RFC 6891 7: a responder MUST include an OPT when the request had
	 * one, so the FORMERR answer needs has_edns whenever the OPT can
	 * still be found (reply.h follows q->has_edns). */
	{ "QDCOUNT 2, OPT", PKT(HDR("\x01", "\x00", "\x02", "\x00", "\x00",
	    "\x01") QWWW T_A C_IN QWWW T_A C_IN OPT0), WIRE_FORMERR, "edns=1" },
	{ "QDCOUNT 0, OPT", PKT(HDR("\x01", "\x00", "\x00", "\x00", "\x00",
	    "\x01") OPT("\x04\xd0", TTL_DO, "\x00\x00")), WIRE_FORMERR, "edns=1" },
	{ "ANCOUNT 1, OPT", PKT(HDR("\x01", "\x00", "\x01", "\x01", "\x00",
	    "\x01") QWWW T_A C_IN RR_A OPT0), WIRE_FORMERR, "edns=1" },
	{ "compressed qname", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x00") "\xc0\x0c" T_A C_IN), WIRE_FORMERR, "q=0" },
	{ "qname ending in a pointer", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x00") "\x03" "www" "\xc0\x0c" T_A C_IN), WIRE_FORMERR,
	    "q=0" },
	{ "label type 0x40", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x00") "\x41" "\x00" T_A C_IN), WIRE_FORMERR, "q=0" },
	{ "label type 0x80", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x00") "\x80" "\x00" T_A C_IN), WIRE_FORMERR, "q=0" },
	{ "64-octet label", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x00") "\x40" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaa" "\x00" T_A C_IN), WIRE_FORMERR, "q=0" },
	{ "question: no type/class", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x00") QWWW), WIRE_FORMERR, "q=0" },
	{ "question: 3 of 4 bytes", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x00") QWWW "\x00\x01\x00"), WIRE_FORMERR, "q=0" },
	{ "question: name without root", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x00") "\x03" "www" "\x07" "example"), WIRE_FORMERR,
	    "q=0" },
	{ "question: label past the end", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x00") "\x03" "www" "\x07" "exa"), WIRE_FORMERR, "q=0" },
	{ "header only, QDCOUNT 1", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x00")), WIRE_FORMERR, "q=0" },
	{ "ANCOUNT 1", PKT(HDR("\x01", "\x00", "\x01", "\x01", "\x00", "\x00")
	    QWWW T_A C_IN RR_A), WIRE_FORMERR, "" },
	{ "NSCOUNT 1", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x01", "\x00")
	    QWWW T_A C_IN RR_A), WIRE_FORMERR, "" },
	{ "ANCOUNT 1, nothing there", PKT(HDR("\x01", "\x00", "\x01", "\x01",
	    "\x00", "\x00") QWWW T_A C_IN), WIRE_FORMERR, "" },
	{ "ARCOUNT 1, nothing there", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN), WIRE_FORMERR, "" },
	{ "ARCOUNT 2, one OPT", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x02") QWWW T_A C_IN OPT0), WIRE_FORMERR, "" },
	{ "OPT cut in its fixed part", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN "\x00" "\x00\x29" "\x10\x00"
	    "\x00\x00\x00\x00" "\x00"), WIRE_FORMERR, "" },
	{ "OPT RDLENGTH past the end", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x10\x00", TTL0, "\x00\x04")
	    "\x00\x0a\x00"), WIRE_FORMERR, "" },
	{ "additional record RDLENGTH past the end", PKT(HDR("\x01", "\x00",
	    "\x01", "\x00", "\x00", "\x01") QWWW T_A C_IN "\xc0\x0c" T_A C_IN
	    TTL0 "\x00\x05" "\x01\x02\x03\x04"), WIRE_FORMERR, "" },
	{ "two OPTs", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x02")
	    QWWW T_A C_IN OPT0 OPT0), WIRE_FORMERR, "edns=0" },
	{ "two OPTs around an A", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x03") QWWW T_A C_IN OPT0 RR_A OPT0), WIRE_FORMERR, "" },
	{ "OPT owned by com", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x01") QWWW T_A C_IN "\x03" "com" "\x00" "\x00\x29" "\x10\x00"
	    TTL0 "\x00\x00"), WIRE_FORMERR, "edns=0" },
	{ "OPT owned by a pointer", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN "\xc0\x0c" "\x00\x29" "\x10\x00"
	    TTL0 "\x00\x00"), WIRE_FORMERR, "edns=0" },
	{ "option header cut (3 bytes)", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x10\x00", TTL0, "\x00\x03")
	    "\x00\x0a\x00"), WIRE_FORMERR, "" },
	{ "option length past RDATA", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x10\x00", TTL0, "\x00\x08")
	    "\x00\x0a\x00\x08" "1234"), WIRE_FORMERR, "" },
	{ "option length short of RDATA", PKT(HDR("\x01", "\x00", "\x01",
	    "\x00", "\x00", "\x01") QWWW T_A C_IN OPT("\x10\x00", TTL0,
	    "\x00\x09") "\x00\x0a\x00\x04" "1234" "x"), WIRE_FORMERR, "" },
	{ "second option cut", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x01") QWWW T_A C_IN OPT("\x10\x00", TTL0, "\x00\x0a")
	    "\x00\x0a\x00\x02" "12" "\x00\x0c"), WIRE_FORMERR, "" },

	/* BADVERS */
	{ "EDNS version 1", PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00",
	    "\x01") QWWW T_A C_IN OPT("\x04\xd0", "\x00\x01\x00\x00",
	    "\x00\x00")), WIRE_BADVERS,
	    "q=1 edns=1 ver=1 do=0 size=1232 qlen=21" },
	{ "EDNS version 255, DO", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x01") QWWW T_A C_IN OPT("\x00\x10", "\x00\xff\x80\x00",
	    "\x00\x00")), WIRE_BADVERS, "edns=1 ver=255 do=1 size=512" },
	{ "EDNS version 1 after an A", PKT(HDR("\x01", "\x00", "\x01", "\x00",
	    "\x00", "\x02") QWWW T_A C_IN RR_A OPT("\x04\xd0",
	    "\x00\x01\x00\x00", "\x00\x00")), WIRE_BADVERS, "edns=1 ver=1" },
};

/* Checks one "key=value" expectation; returns false with *got set when
 * it does not hold. */
static bool
expect_one(const struct dnsquery *q, const char *key, const char *val,
    char *got, size_t gotsize)
{
	long want = strtol(val, NULL, 10);
	long have;

	if (strcmp(key, "name") == 0) {
		char text[DNAME_MAXTEXT];

		if (dname_len(q->qname) != q->qname_len ||
		    dname_to_text(q->qname, text, sizeof(text)) == 0) {
			snprintf(got, gotsize, "(bad name, qname_len %zu)",
			    q->qname_len);
			return false;
		}
		snprintf(got, gotsize, "%s", text);
		return strcmp(text, val) == 0;
	}
	if (strcmp(key, "q") == 0)
		have = q->has_question;
	else if (strcmp(key, "edns") == 0)
		have = q->has_edns;
	else if (strcmp(key, "do") == 0)
		have = q->edns_do;
	else if (strcmp(key, "size") == 0)
		have = q->edns_size;
	else if (strcmp(key, "ver") == 0)
		have = q->edns_version;
	else if (strcmp(key, "type") == 0)
		have = q->qtype;
	else if (strcmp(key, "class") == 0)
		have = q->qclass;
	else if (strcmp(key, "qlen") == 0)
		have = (long)q->question_len;
	else if (strcmp(key, "op") == 0)
		have = q->opcode;
	else if (strcmp(key, "rd") == 0)
		have = q->rd;
	else if (strcmp(key, "cd") == 0)
		have = q->cd;
	else if (strcmp(key, "ad") == 0)
		have = q->ad;
	else if (strcmp(key, "id") == 0)
		have = q->id;
	else {
		snprintf(got, gotsize, "unknown key");
		return false;
	}
	snprintf(got, gotsize, "%ld", have);
	return have == want;
}

static const char *const verdict_names[] = {
	"OK", "DROP", "FORMERR", "NOTIMP", "BADVERS",
};

static enum wire_verdict
parse_copy(const uint8_t *pkt, size_t len, struct dnsquery *q)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum wire_verdict v;

	memcpy(copy, pkt, len);
	memset(q, 0xa5, sizeof(*q));
	v = wire_parse_query(copy, len, q);
	free(copy);
	return v;
}

static void
check_case(const char *label, const uint8_t *pkt, size_t len,
    enum wire_verdict want, const char *expect)
{
	struct dnsquery q;
	enum wire_verdict v = parse_copy(pkt, len, &q);
	char buf[256], *tok, *save = NULL;

	CHECK(v == want, "%s: verdict %s, want %s", label,
	    verdict_names[v], verdict_names[want]);
	snprintf(buf, sizeof(buf), "%s", expect);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), got[DNAME_MAXTEXT + 32];

		if (eq == NULL)
			continue;
		*eq = '\0';
		CHECK(expect_one(&q, tok, eq + 1, got, sizeof(got)),
		    "%s: %s=%s, got %s", label, tok, eq + 1, got);
	}
}

static void
test_parse_query(void)
{
	size_t i;

	for (i = 0; i < N(pq_cases); i++)
		check_case(pq_cases[i].label,
		    (const uint8_t *)pq_cases[i].pkt, pq_cases[i].len,
		    pq_cases[i].verdict, pq_cases[i].expect);
}

/* A query for a name of exactly total octets of wire (labels of up to 63
 * octets, letters in upper case), optionally with an OPT. */
static size_t
long_query(uint8_t *buf, size_t total, bool opt)
{
	static const uint8_t hdr[12] = { 0xbe, 0xef, 0x01, 0, 0, 1, 0, 0, 0,
	    0, 0, 0 };
	size_t n = 12, left = total - 1;

	memcpy(buf, hdr, 12);
	buf[11] = opt;
	while (left > 0) {
		size_t l = left - 1 > 63 ? 63 : left - 1;

		if (l == 0) {	/* a 1-octet remainder cannot be a label */
			abort();
		}
		buf[n++] = (uint8_t)l;
		memset(buf + n, 'A', l);
		n += l;
		left -= l + 1;
	}
	buf[n++] = 0;
	memcpy(buf + n, "\x00\x01\x00\x01", 4);
	n += 4;
	if (opt) {
		memcpy(buf + n, OPT0, 11);
		n += 11;
	}
	return n;
}

static void
test_long_names(void)
{
	/* 255 = 64*3 + 62 + 1: labels 63,63,63,61 */
	static const struct {
		size_t total;
		enum wire_verdict want;
	} cases[] = {
		{ 255, WIRE_OK }, { 254, WIRE_OK }, { 200, WIRE_OK },
		{ 256, WIRE_FORMERR }, { 257, WIRE_FORMERR },
		{ 300, WIRE_FORMERR }, { 1000, WIRE_FORMERR },
	};
	uint8_t buf[1100];
	size_t i;

	for (i = 0; i < N(cases); i++) {
		int opt;

		for (opt = 0; opt < 2; opt++) {
			char label[64];
			struct dnsquery q;
			size_t len = long_query(buf, cases[i].total, opt);
			enum wire_verdict v = parse_copy(buf, len, &q);

			snprintf(label, sizeof(label), "name of %zu octets%s",
			    cases[i].total, opt ? " + OPT" : "");
			CHECK(v == cases[i].want, "%s: verdict %s", label,
			    verdict_names[v]);
			if (v == WIRE_OK) {
				CHECK(q.qname_len == cases[i].total &&
				    q.question_len == cases[i].total + 4,
				    "%s: qname_len %zu question_len %zu",
				    label, q.qname_len, q.question_len);
				CHECK(q.qname[1] == 'a' && q.has_edns == opt,
				    "%s: not lower-cased or edns", label);
			}
		}
	}
}

/* Messages for wire_read_name: offsets are written down with them. */
static void
test_read_name(void)
{
	uint8_t msg[600];
	size_t len = 12, i;
	struct {
		const char *label;
		size_t at;
		const char *want;	/* text, or NULL: rejected */
		size_t end;		/* *off after */
	} cases[32];
	size_t ncases = 0;

#define ADD(bytes) do {							\
	memcpy(msg + len, bytes, sizeof(bytes) - 1);			\
	len += sizeof(bytes) - 1;					\
} while (0)
#define CASE(l, a, w, e) do {						\
	cases[ncases].label = l;					\
	cases[ncases].at = a;						\
	cases[ncases].want = w;						\
	cases[ncases].end = e;						\
	ncases++;							\
} while (0)

	memset(msg, 0, 12);
	ADD("\x07" "ExAmPlE" "\x03" "com" "\x00");	/* 12..24 */
	CASE("plain", 12, "example.com", 25);
	ADD("\x03" "WWW" "\xc0\x0c");			/* 25..30 */
	CASE("label + backwards pointer", 25, "www.example.com", 31);
	ADD("\x01" "a" "\xc0\x19");			/* 31..34 -> 25 */
	CASE("pointer to a pointer", 31, "a.www.example.com", 35);
	ADD("\xc0\x1f");				/* 35..36 -> 31 */
	CASE("bare pointer, chain of three", 35, "a.www.example.com", 37);
	ADD("\xc0\x27" "\x00");				/* 37 -> 39 */
	CASE("forward pointer", 37, NULL, 0);
	ADD("\xc0\x28");				/* 40 -> 40 */
	CASE("self pointer", 40, NULL, 0);
	ADD("\xc0\x2c" "\xc0\x2a");			/* 42 -> 44, 44 -> 42 */
	CASE("loop, entered at the back", 44, NULL, 0);
	CASE("loop, entered at the front", 42, NULL, 0);
	ADD("\x01" "b" "\xc0\x2e");			/* 46: -> 46 itself */
	CASE("pointer to its own name", 46, NULL, 0);
	ADD("\x01" "c" "\xc0\x33");			/* 50: 52 -> 51 */
	CASE("pointer into its own label", 50, NULL, 0);
	ADD("\x00");					/* 54 */
	CASE("root", 54, ".", 55);
	ADD("\xc0\x36");				/* 55 -> 54 */
	CASE("pointer to root", 55, ".", 57);
	ADD("\x41" "x" "\x00");				/* 57: 0x40 label */
	CASE("label type 0x40", 57, NULL, 0);
	ADD("\x80" "\x00");				/* 60 */
	CASE("label type 0x80", 60, NULL, 0);
	ADD("\x01" "d" "\xc1\x00");			/* 62 -> 256 (past) */
	CASE("pointer far past the end", 62, NULL, 0);

	/* > 255 through pointers: 63-octet labels stacked by pointers */
	{
		size_t n1 = len, n2, n3, n4, n5;

		msg[len++] = 63;
		memset(msg + len, 'p', 63);
		len += 63;
		msg[len++] = 0;			/* n1: 65 octets */
		n2 = len;
		msg[len++] = 63;
		memset(msg + len, 'q', 63);
		len += 63;
		msg[len++] = 0xc0 | (uint8_t)(n1 >> 8);
		msg[len++] = (uint8_t)n1;	/* n2: 129 */
		n3 = len;
		msg[len++] = 63;
		memset(msg + len, 'r', 63);
		len += 63;
		msg[len++] = 0xc0 | (uint8_t)(n2 >> 8);
		msg[len++] = (uint8_t)n2;	/* n3: 193 */
		n4 = len;
		msg[len++] = 61;
		memset(msg + len, 's', 61);
		len += 61;
		msg[len++] = 0xc0 | (uint8_t)(n3 >> 8);
		msg[len++] = (uint8_t)n3;	/* n4: 255 */
		CASE("255 octets through pointers", n4, "*", len);
		n5 = len;
		msg[len++] = 62;
		memset(msg + len, 't', 62);
		len += 62;
		msg[len++] = 0xc0 | (uint8_t)(n3 >> 8);
		msg[len++] = (uint8_t)n3;	/* n5: 256 */
		CASE("256 octets through pointers", n5, NULL, 0);
		CASE("1 + 255 octets", len, NULL, 0);
		msg[len++] = 1;
		msg[len++] = 'u';
		msg[len++] = 0xc0 | (uint8_t)(n4 >> 8);
		msg[len++] = (uint8_t)n4;
	}
	/* truncated: the last two bytes are a lone pointer byte */
	CASE("pointer cut", len, NULL, 0);
	msg[len++] = 0x01;
	msg[len++] = 'z';
	msg[len++] = 0xc0;
	CASE("offset at the end", len, NULL, 0);

	for (i = 0; i < ncases; i++) {
		uint8_t *copy = malloc(len), out[DNAME_MAXWIRE];
		size_t off = cases[i].at, n;
		char text[DNAME_MAXTEXT];

		memcpy(copy, msg, len);
		n = wire_read_name(copy, len, &off, out);
		if (cases[i].want == NULL) {
			CHECK(n == 0, "read_name %s (at %zu): accepted, %zu",
			    cases[i].label, cases[i].at, n);
		} else {
			CHECK(n > 0, "read_name %s (at %zu): rejected",
			    cases[i].label, cases[i].at);
			if (n > 0) {
				CHECK(n == dname_len(out),
				    "read_name %s: len %zu vs %zu",
				    cases[i].label, n, dname_len(out));
				dname_to_text(out, text, sizeof(text));
				if (strcmp(cases[i].want, "*") == 0)
					CHECK(n == 255, "read_name %s: %zu",
					    cases[i].label, n);
				else
					CHECK_STR(text, cases[i].want,
					    "read_name %s", cases[i].label);
				CHECK(off == cases[i].end,
				    "read_name %s: off %zu, want %zu",
				    cases[i].label, off, cases[i].end);
			}
		}
		/* wire_skip_name agrees on where a name ends */
		if (cases[i].want != NULL) {
			size_t so = cases[i].at;

			CHECK(wire_skip_name(copy, len, &so) == 0 &&
			    so == cases[i].end, "skip_name %s: off %zu",
			    cases[i].label, so);
		}
		free(copy);
	}
#undef ADD
#undef CASE
}

/* --- wire_scan_answer on answers built with ldns --- */

struct rr_spec {
	ldns_pkt_section section;
	const char *text;
};

/* Builds a response to www.example.com/A from rr texts. */
static uint8_t *
build_answer(const struct rr_spec *rrs, size_t n, ldns_pkt_rcode rcode,
    bool edns, size_t *len)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = NULL;
	uint8_t *wirebuf = NULL;
	size_t i;

	ldns_pkt_set_id(p, 0x1234);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rd(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, rcode);
	if (ldns_rr_new_question_frm_str(&q, "www.example.com. IN A", NULL,
	    NULL) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	for (i = 0; i < n; i++) {
		ldns_rr *rr = NULL;

		if (ldns_rr_new_frm_str(&rr, rrs[i].text, 3600, NULL, NULL) !=
		    LDNS_STATUS_OK) {
			fprintf(stderr, "bad rr text: %s\n", rrs[i].text);
			abort();
		}
		ldns_pkt_push_rr(p, rrs[i].section, rr);
	}
	if (edns) {
		ldns_pkt_set_edns_udp_size(p, 1232);
		ldns_pkt_set_edns_do(p, true);
	}
	if (ldns_pkt2wire(&wirebuf, p, len) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(p);
	return wirebuf;
}

/* Sets the TTL of the i-th record (ldns parses texts to 32-bit TTLs, but
 * the top bit case is easier to write in place). */
static void
set_ttl(uint8_t *msg, const struct answer_scan *s, size_t i, uint32_t ttl)
{
	wire_put32(msg + s->ttl_off[i], ttl);
}

struct scan_case {
	const char *label;
	struct rr_spec rrs[6];
	size_t nrr;
	ldns_pkt_rcode rcode;
	bool edns;
	uint32_t ttls[6];	/* expected, in wire order, OPT excluded */
	uint16_t types[6];
	uint32_t min_ttl;
	bool has_soa;
	uint32_t soa_min;
};

#define AN LDNS_SECTION_ANSWER
#define NS LDNS_SECTION_AUTHORITY
#define AR LDNS_SECTION_ADDITIONAL

static const struct scan_case scan_cases[] = {
	{ "one A", { { AN, "www.example.com. 300 IN A 192.0.2.1" } }, 1,
	    LDNS_RCODE_NOERROR, false, { 300 }, { 1 }, 300, false, 0 },
	{ "CNAME chain + A, EDNS", {
	    { AN, "www.example.com. 600 IN CNAME a.example.net." },
	    { AN, "a.example.net. 60 IN CNAME b.example.net." },
	    { AN, "b.example.net. 120 IN A 192.0.2.2" },
	    { NS, "example.net. 86400 IN NS ns1.example.net." },
	    { AR, "ns1.example.net. 7200 IN A 192.0.2.53" } }, 5,
	    LDNS_RCODE_NOERROR, true, { 600, 60, 120, 86400, 7200 },
	    { 5, 5, 1, 2, 1 }, 60, false, 0 },
	{ "NXDOMAIN, SOA minimum smaller", {
	    { NS, "example.com. 3600 IN SOA ns.example.com. host.example.com. "
	    "1 7200 900 1209600 300" } }, 1, LDNS_RCODE_NXDOMAIN, true,
	    { 3600 }, { 6 }, 3600, true, 300 },
	{ "NODATA, SOA TTL smaller", {
	    { NS, "example.com. 60 IN SOA ns.example.com. host.example.com. "
	    "1 7200 900 1209600 300" } }, 1, LDNS_RCODE_NOERROR, false,
	    { 60 }, { 6 }, 60, true, 60 },
	{ "NXDOMAIN, SOA TTL == minimum", {
	    { NS, "example.com. 42 IN SOA ns.example.com. host.example.com. "
	    "1 7200 900 1209600 42" } }, 1, LDNS_RCODE_NXDOMAIN, false,
	    { 42 }, { 6 }, 42, true, 42 },
	{ "no records", { { AN, NULL } }, 0, LDNS_RCODE_SERVFAIL, true,
	    { 0 }, { 0 }, UINT32_MAX, false, 0 },
	{ "AAAA + TXT, zero TTL", {
	    { AN, "www.example.com. 0 IN AAAA 2001:db8::1" },
	    { AN, "www.example.com. 5 IN TXT \"hello\"" } }, 2,
	    LDNS_RCODE_NOERROR, true, { 0, 5 }, { 28, 16 }, 0, false, 0 },
};

static void
test_scan(void)
{
	size_t i, j;

	for (i = 0; i < N(scan_cases); i++) {
		const struct scan_case *c = &scan_cases[i];
		size_t len, k;
		uint8_t *w = build_answer(c->rrs, c->nrr, c->rcode, c->edns,
		    &len);
		uint8_t *copy = malloc(len);
		struct answer_scan s;

		memcpy(copy, w, len);
		CHECK(wire_scan_answer(copy, len, &s) == 0, "scan %s: rejected",
		    c->label);
		CHECK(s.rcode == (uint8_t)c->rcode, "scan %s: rcode %u",
		    c->label, s.rcode);
		CHECK(s.nttl == c->nrr, "scan %s: nttl %zu, want %zu",
		    c->label, s.nttl, c->nrr);
		for (j = 0; j < s.nttl && j < c->nrr; j++) {
			CHECK(wire_u32(copy + s.ttl_off[j]) == c->ttls[j],
			    "scan %s: RR %zu TTL at %u is %u, want %u",
			    c->label, j, s.ttl_off[j],
			    wire_u32(copy + s.ttl_off[j]), c->ttls[j]);
			CHECK(s.ttl_off[j] >= 4 &&
			    wire_u16(copy + s.ttl_off[j] - 4) == c->types[j],
			    "scan %s: RR %zu type before TTL %u, want %u",
			    c->label, j, wire_u16(copy + s.ttl_off[j] - 4),
			    c->types[j]);
			CHECK(wire_u16(copy + s.ttl_off[j] - 2) == 1,
			    "scan %s: RR %zu class", c->label, j);
		}
		CHECK(s.min_ttl == c->min_ttl, "scan %s: min_ttl %u, want %u",
		    c->label, s.min_ttl, c->min_ttl);
		CHECK(s.has_soa == c->has_soa, "scan %s: has_soa %d", c->label,
		    s.has_soa);
		CHECK(s.soa_min == c->soa_min, "scan %s: soa_min %u, want %u",
		    c->label, s.soa_min, c->soa_min);
		CHECK(s.counts[0] == 1, "scan %s: qd %u", c->label,
		    s.counts[0]);
		if (c->edns) {
			CHECK(s.opt_start > 12 && s.opt_end == len &&
			    copy[s.opt_start] == 0 &&
			    wire_u16(copy + s.opt_start + 1) == DNS_TYPE_OPT,
			    "scan %s: OPT at %zu..%zu of %zu", c->label,
			    s.opt_start, s.opt_end, len);
			CHECK(s.opt_end - s.opt_start == 11,
			    "scan %s: OPT length %zu", c->label,
			    s.opt_end - s.opt_start);
			for (j = 0; j < s.nttl; j++)
				CHECK(s.ttl_off[j] != s.opt_start + 5,
				    "scan %s: OPT TTL tracked", c->label);
		} else
			CHECK(s.opt_start == 0, "scan %s: opt_start %zu",
			    c->label, s.opt_start);

		/* TTLs with the top bit set count as zero */
		if (s.nttl > 0) {
			struct answer_scan s2;

			for (k = 0; k < s.nttl; k++)
				set_ttl(copy, &s, k, 0x7fffffffU);
			set_ttl(copy, &s, s.nttl - 1, 0x80000000U);
			CHECK(wire_scan_answer(copy, len, &s2) == 0 &&
			    s2.min_ttl == 0, "scan %s: top-bit TTL gives "
			    "min_ttl %u", c->label, s2.min_ttl);
			if (c->has_soa)
				CHECK(s2.soa_min == 0,
				    "scan %s: top-bit SOA TTL gives soa_min %u",
				    c->label, s2.soa_min);
			set_ttl(copy, &s, s.nttl - 1, 0xffffffffU);
			CHECK(wire_scan_answer(copy, len, &s2) == 0 &&
			    s2.min_ttl == 0, "scan %s: TTL 0xffffffff gives "
			    "min_ttl %u", c->label, s2.min_ttl);
			set_ttl(copy, &s, s.nttl - 1, 0x7fffffffU);
			CHECK(wire_scan_answer(copy, len, &s2) == 0 &&
			    s2.min_ttl == 0x7fffffffU, "scan %s: TTL 2^31-1 "
			    "gives min_ttl %u", c->label, s2.min_ttl);
		}
		/* every cut of the message is malformed */
		for (k = 0; k < len; k++) {
			uint8_t *cut = malloc(k ? k : 1);
			struct answer_scan s3;

			memcpy(cut, w, k);
			if (wire_scan_answer(cut, k, &s3) != -1) {
				CHECK(0, "scan %s: cut to %zu accepted",
				    c->label, k);
				free(cut);
				break;
			}
			free(cut);
		}
		free(copy);
		free(w);
	}
}

/* SOA MINIMUM with the top bit set counts as zero. */
static void
test_scan_soa_minimum(void)
{
	struct rr_spec rr = { NS, "example.com. 3600 IN SOA ns.example.com. "
	    "host.example.com. 1 7200 900 1209600 2147483648" };
	size_t len;
	uint8_t *w = build_answer(&rr, 1, LDNS_RCODE_NXDOMAIN, false, &len);
	struct answer_scan s;

	CHECK(wire_scan_answer(w, len, &s) == 0 && s.has_soa &&
	    s.soa_min == 0, "SOA minimum 2^31: soa_min %u", s.soa_min);
	free(w);
}

/* Malformed answers: edits of a good one. */
static void
test_scan_malformed(void)
{
	struct rr_spec rrs[] = {
		{ AN, "www.example.com. 300 IN A 192.0.2.1" },
		{ NS, "example.com. 3600 IN SOA ns.example.com. "
		    "host.example.com. 1 7200 900 1209600 300" },
	};
	size_t len, i, soa_rdlen_off = 0;
	uint8_t *w = build_answer(rrs, 2, LDNS_RCODE_NOERROR, true, &len);
	uint8_t *m = malloc(len + 64);
	struct answer_scan s;

	memcpy(m, w, len);
	CHECK(wire_scan_answer(m, len, &s) == 0 && s.nttl == 2,
	    "malformed base rejected");
	soa_rdlen_off = s.ttl_off[1] + 4;

	/* qdcount 0 and 2 */
	wire_put16(m + 4, 0);
	CHECK(wire_scan_answer(m, len, &s) == -1, "qdcount 0 accepted");
	wire_put16(m + 4, 2);
	CHECK(wire_scan_answer(m, len, &s) == -1, "qdcount 2 accepted");
	wire_put16(m + 4, 1);
	/* one record more than there is, in each section */
	for (i = 0; i < 3; i++) {
		uint16_t was = wire_u16(m + 6 + 2 * i);

		wire_put16(m + 6 + 2 * i, (uint16_t)(was + 1));
		CHECK(wire_scan_answer(m, len, &s) == -1,
		    "count %zu + 1 accepted", i);
		wire_put16(m + 6 + 2 * i, was);
	}
	/* SOA RDLENGTH one too long */
	wire_put16(m + soa_rdlen_off,
	    (uint16_t)(wire_u16(m + soa_rdlen_off) + 1));
	CHECK(wire_scan_answer(m, len, &s) == -1, "SOA RDLENGTH +1 accepted");
	/* SOA RDATA too short for the five numbers */
	memcpy(m, w, len);
	{
		size_t rd = soa_rdlen_off + 2, rdlen = wire_u16(m + soa_rdlen_off);
		size_t after = rd + rdlen;

		/* shrink the RDATA to 10 bytes, moving what follows */
		memmove(m + rd + 10, m + after, len - after);
		wire_put16(m + soa_rdlen_off, 10);
		CHECK(wire_scan_answer(m, len - (rdlen - 10), &s) == -1,
		    "SOA with 10 bytes of RDATA accepted");
	}
	free(m);
	free(w);

	/* OPT outside the additional section, and two OPTs */
	{
		static const uint8_t base[] = {
			0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
			1, 'a', 0, 0, 1, 0, 1,
			0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0,
		};
		uint8_t two[sizeof(base) + 11];

		m = malloc(sizeof(base));
		memcpy(m, base, sizeof(base));
		CHECK(wire_scan_answer(m, sizeof(base), &s) == -1,
		    "OPT in the answer section accepted");
		m[7] = 0;
		m[9] = 1;
		CHECK(wire_scan_answer(m, sizeof(base), &s) == -1,
		    "OPT in the authority section accepted");
		m[9] = 0;
		m[11] = 1;
		CHECK(wire_scan_answer(m, sizeof(base), &s) == 0 &&
		    s.opt_start == 19 && s.opt_end == 30 && s.nttl == 0,
		    "OPT in additional: opt %zu..%zu", s.opt_start,
		    s.opt_end);
		memcpy(two, m, sizeof(base));
		memcpy(two + sizeof(base), base + 19, 11);
		two[11] = 2;
		free(m);
		m = malloc(sizeof(two));
		memcpy(m, two, sizeof(two));
		CHECK(wire_scan_answer(m, sizeof(two), &s) == -1,
		    "two OPTs accepted");
		free(m);
	}
}

/* WIRE_MAX_TTLS records are fine, one more is not. */
static void
test_scan_many(void)
{
	static const size_t counts[] = { WIRE_MAX_TTLS, WIRE_MAX_TTLS + 1 };
	size_t c;

	for (c = 0; c < N(counts); c++) {
		size_t n = counts[c], len = 0, i;
		uint8_t *m = malloc(19 + n * 16);
		struct answer_scan s;
		int rc;

		static const uint8_t hdr[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0,
		    0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1 };
		memcpy(m, hdr, sizeof(hdr));
		len = sizeof(hdr);
		wire_put16(m + 6, (uint16_t)n);
		for (i = 0; i < n; i++) {
			static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0,
			    0, 0, 0, 0, 4, 192, 0, 2, 1 };
			memcpy(m + len, rr, sizeof(rr));
			wire_put32(m + len + 6, (uint32_t)(1000 + i));
			len += sizeof(rr);
		}
		rc = wire_scan_answer(m, len, &s);
		if (n <= WIRE_MAX_TTLS) {
			CHECK(rc == 0 && s.nttl == n && s.min_ttl == 1000,
			    "%zu records: rc %d nttl %zu", n, rc, s.nttl);
			CHECK(rc == 0 && wire_u32(m + s.ttl_off[n - 1]) ==
			    1000 + n - 1, "%zu records: last TTL", n);
		} else
			CHECK(rc == -1, "%zu records accepted", n);
		free(m);
	}
}

/* wire_question_matches compares case-insensitively. */
static void
test_question_matches(void)
{
	static const uint8_t msg[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0,
	    0, 0, 0, 3, 'W', 'w', 'W', 1, 'X', 0, 0, 28, 0, 1 };
	static const uint8_t name[] = { 3, 'w', 'w', 'w', 1, 'x', 0 };
	uint8_t *m = malloc(sizeof(msg));

	memcpy(m, msg, sizeof(msg));
	CHECK(wire_question_matches(m, sizeof(msg), name, sizeof(name), 28, 1),
	    "question matches");
	CHECK(!wire_question_matches(m, sizeof(msg), name, sizeof(name), 1, 1),
	    "qtype ignored");
	CHECK(!wire_question_matches(m, sizeof(msg), name, sizeof(name), 28, 3),
	    "qclass ignored");
	CHECK(!wire_question_matches(m, sizeof(msg), name, 2, 28, 1),
	    "name length ignored");
	CHECK(!wire_question_matches(m, sizeof(msg) - 1, name, sizeof(name), 28,
	    1), "cut question matched");
	free(m);
}

/* --- differential fuzz against ldns --- */

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint32_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

static const struct {
	const char *pkt;
	size_t len;
} seeds[] = {
	{ PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x00") QWWW T_A
	    C_IN) },
	{ PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x01") QMIX T_AAAA
	    C_IN OPT("\x04\xd0", TTL_DO, "\x00\x00")) },
	{ PKT(HDR("\x01", "\x20", "\x01", "\x00", "\x00", "\x01") QWWW T_TXT
	    C_IN OPT("\x10\x00", TTL0, "\x00\x10") "\x00\x0a\x00\x08"
	    "12345678" "\x00\x0c\x00\x00") },
	{ PKT(HDR("\x00", "\x10", "\x01", "\x00", "\x00", "\x02") "\x01" "a"
	    "\x00" T_A C_IN RR_A OPT0) },
	{ PKT(HDR("\x01", "\x00", "\x01", "\x00", "\x00", "\x00") "\x00" T_A
	    C_IN) },
};

static size_t
mutate(uint8_t *buf, size_t len, size_t cap)
{
	unsigned rounds = 1 + rnd() % 4, r;

	for (r = 0; r < rounds; r++) {
		size_t pos = len ? rnd() % len : 0, k;

		switch (rnd() % 8) {
		case 0:		/* flip a bit */
		case 1:
			if (len)
				buf[pos] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 2:		/* set a byte, often a special value */
			if (len) {
				static const uint8_t special[] = { 0, 1, 0x29,
				    0x3f, 0x40, 0xc0, 0xff, 'A', 0x0c };
				buf[pos] = rnd() % 2 ? (uint8_t)rnd() :
				    special[rnd() % sizeof(special)];
			}
			break;
		case 3:		/* truncate */
			len = len ? rnd() % len : 0;
			break;
		case 4:		/* insert bytes */
			k = 1 + rnd() % 4;
			if (len + k <= cap) {
				memmove(buf + pos + k, buf + pos, len - pos);
				for (size_t j = 0; j < k; j++)
					buf[pos + j] = (uint8_t)rnd();
				len += k;
			}
			break;
		case 5:		/* delete bytes */
			k = 1 + rnd() % 4;
			if (pos + k <= len) {
				memmove(buf + pos, buf + pos + k,
				    len - pos - k);
				len -= k;
			}
			break;
		case 6:		/* change a count in the header */
			if (len >= 12)
				buf[5 + 2 * (rnd() % 4)] = (uint8_t)(rnd() % 3);
			break;
		case 7:		/* duplicate a tail */
			k = len - pos;
			if (len + k <= cap) {
				memcpy(buf + len, buf + pos, k);
				len += k;
			}
			break;
		}
	}
	return len;
}

#define FUZZ_ITERS 200000

/* Compares ldns's reading of pkt with q; returns NULL when they agree,
 * or what differs. */
static const char *
ldns_agrees(const uint8_t *pkt, size_t len, const struct dnsquery *q)
{
	ldns_pkt *p = NULL;
	ldns_status st = ldns_wire2pkt(&p, pkt, len);
	const char *why = NULL;

	if (st != LDNS_STATUS_OK)
		return ldns_get_errorstr_by_id(st);
	if (ldns_rr_list_rr_count(ldns_pkt_question(p)) != 1)
		why = "question count";
	else {
		ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
		ldns_rdf *owner = ldns_rr_owner(qr);
		const uint8_t *d = ldns_rdf_data(owner);
		size_t dl = ldns_rdf_size(owner), j;

		if (dl != q->qname_len)
			why = "qname length";
		for (j = 0; why == NULL && j < dl; j++)
			if (tolower(d[j]) != q->qname[j])
				why = "qname";
		if (why == NULL && ldns_rr_get_type(qr) != q->qtype)
			why = "qtype";
		if (why == NULL && ldns_rr_get_class(qr) != q->qclass)
			why = "qclass";
		if (why == NULL && ldns_pkt_id(p) != q->id)
			why = "id";
		if (why == NULL && ldns_pkt_rd(p) != q->rd)
			why = "rd";
		if (why == NULL && q->has_edns && ldns_pkt_edns_do(p) !=
		    q->edns_do)
			why = "DO";
	}
	ldns_pkt_free(p);
	return why;
}

/*
 * The same query with only its header, question and OPT: what cordond
 * uses of a query (it builds its own upstream query).  Records in the
 * additional section are walked here independently of wire.c.  Returns
 * the new length, or 0 when the walk fails.
 */
static size_t
strip_to_question(const uint8_t *pkt, size_t len, const struct dnsquery *q,
    uint8_t *out)
{
	size_t off = DNS_HEADER_LEN + q->question_len, n;
	unsigned i, ar = wire_u16(pkt + 10), nopt = 0;

	memcpy(out, pkt, off);
	n = off;
	for (i = 0; i < ar; i++) {
		size_t start = off, end;

		for (;;) {
			if (off >= len)
				return 0;
			if ((pkt[off] & 0xc0) == 0xc0) {
				off += 2;
				break;
			}
			if (pkt[off] == 0) {
				off++;
				break;
			}
			off += 1 + pkt[off];
		}
		if (off + 10 > len)
			return 0;
		end = off + 10 + wire_u16(pkt + off + 8);
		if (end > len)
			return 0;
		if (wire_u16(pkt + off) == DNS_TYPE_OPT) {
			memcpy(out + n, pkt + start, end - start);
			n += end - start;
			nopt++;
		}
		off = end;
	}
	wire_put16(out + 6, 0);
	wire_put16(out + 8, 0);
	wire_put16(out + 10, (uint16_t)nopt);
	return n;
}

static void
test_fuzz(void)
{
	uint8_t buf[1024], stripped[1024];
	size_t i, ok = 0, mismatches = 0, tolerated = 0;
	size_t by_verdict[5] = { 0 };

	for (i = 0; i < FUZZ_ITERS; i++) {
		size_t s = rnd() % N(seeds), len;
		uint8_t *copy;
		struct dnsquery q;
		enum wire_verdict v;
		const char *why;

		memcpy(buf, seeds[s].pkt, seeds[s].len);
		len = mutate(buf, seeds[s].len, sizeof(buf));
		copy = malloc(len ? len : 1);
		memcpy(copy, buf, len);
		v = wire_parse_query(copy, len, &q);
		by_verdict[v]++;
		if (v != WIRE_OK) {
			free(copy);
			continue;
		}
		ok++;
		if ((why = ldns_agrees(copy, len, &q)) != NULL) {
			/* ldns also checks the RDATA of every additional
			 * record against its type; wire.h promises only
			 * that records do not run past the end.  Such a
			 * difference is tolerated when ldns accepts, and
			 * agrees on, the header + question + OPT. */
			size_t sl = strip_to_question(copy, len, &q, stripped);
			const char *why2 = sl == 0 ? "additional walk failed" :
			    ldns_agrees(stripped, sl, &q);

			if (why2 == NULL) {
				tolerated++;
			} else {
				mismatches++;
				if (mismatches <= 5) {
					size_t j;

					fprintf(stderr, "fuzz %zu: seed %zu, "
					    "%zu bytes:", i, s, len);
					for (j = 0; j < len; j++)
						fprintf(stderr, " %02x",
						    copy[j]);
					fputc('\n', stderr);
					CHECK(0, "fuzz %zu: WIRE_OK but ldns "
					    "disagrees: %s (stripped: %s)", i,
					    why, why2);
				}
			}
		}
		free(copy);
	}
	CHECK(mismatches == 0, "fuzz: %zu of %zu accepted packets disagree "
	    "with ldns", mismatches, ok);
	/* the loop exercised every verdict */
	CHECK(by_verdict[WIRE_OK] > 1000 && by_verdict[WIRE_FORMERR] > 1000 &&
	    by_verdict[WIRE_DROP] > 100 && by_verdict[WIRE_NOTIMP] > 100 &&
	    by_verdict[WIRE_BADVERS] > 10, "fuzz verdicts: ok %zu drop %zu "
	    "formerr %zu notimp %zu badvers %zu", by_verdict[0],
	    by_verdict[1], by_verdict[2], by_verdict[3], by_verdict[4]);
	printf("fuzz: %d iterations; ok %zu (of which %zu have additional "
	    "records ldns rejects) drop %zu formerr %zu notimp %zu badvers "
	    "%zu\n", FUZZ_ITERS, by_verdict[0], tolerated, by_verdict[1],
	    by_verdict[2], by_verdict[3], by_verdict[4]);
}

/* ../shared/fuzz-findings 1 and 4: a question given as a pointer, and
 * bytes after the last record. */
static void
test_hostile_answers(void)
{
	static const uint8_t good[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 1, 0, 1,
		0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1,
	};
	static const uint8_t qptr[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		0xc0, 0x04, 0, 1, 0, 1,
		0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1,
	};
	uint8_t trail[sizeof(good) + 5], root[1] = { 0 }, a[3] = { 1, 'a', 0 };
	struct answer_scan s;

	CHECK(wire_scan_answer(good, sizeof(good), &s) == 0 &&
	    s.end == sizeof(good) && s.ar_start == sizeof(good),
	    "good answer: end %zu", s.end);
	CHECK(wire_question_matches(good, sizeof(good), a, 3, 1, 1),
	    "good question");
	CHECK(!wire_question_matches(qptr, sizeof(qptr), root, 1, 1, 1),
	    "a pointer into the header matched as the root name");
	CHECK(wire_scan_answer(qptr, sizeof(qptr), &s) == -1,
	    "question as a pointer scanned");
	memcpy(trail, good, sizeof(good));
	memcpy(trail + sizeof(good), "\1\2\3\4\5", 5);
	CHECK(wire_scan_answer(trail, sizeof(trail), &s) == 0 &&
	    s.end == sizeof(good), "trailing bytes: end %zu", s.end);
	CHECK(wire_section_start(good, sizeof(good), 1) == 19 &&
	    wire_section_start(good, sizeof(good), 3) == sizeof(good),
	    "section starts");
	CHECK(wire_section_start(good, 20, 3) == 0, "cut message");
}

/*
 * Found by tests/fuzz/fuzz_answer: answers passed on as they came must
 * be readable by the client, so a forward pointer in an owner name or in
 * the names of a record's rdata, or rdata longer than its names, makes
 * the answer malformed (ldns and dnspython refuse them).
 */
static void
test_answer_pointers(void)
{
	/* owner of the answer record points at itself */
	static const uint8_t fwd_owner[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 1, 0, 1,
		0xc0, 19, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1,
	};
	/* CNAME whose target points forward, past itself */
	static const uint8_t fwd_rdata[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 5, 0, 1,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, 2, 0xc0, 40,
	};
	/* CNAME with a good target and two stray bytes in its rdata */
	static const uint8_t long_rdata[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 5, 0, 1,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, 4, 0xc0, 12, 7, 7,
	};
	/* the same CNAME, right */
	static const uint8_t good_cname[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 5, 0, 1,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, 2, 0xc0, 12,
	};
	/* an owner pointing into the header (offset 0 reads as a label of
	 * 0x12 octets): its meaning changes with our ID */
	static const uint8_t hdr_owner[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 1, 0, 1,
		0xc0, 0, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1,
	};
	/* an owner pointing at the question's last octet, which reads as
	 * a label running over the pointer itself (and, in the upstream's
	 * message, into bytes cordond cuts) */
	static const uint8_t over_owner[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 1, 0, 1,
		0xc0, 18, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1,
	};
	struct answer_scan s;

	CHECK(wire_scan_answer(over_owner, sizeof(over_owner), &s) == -1,
	    "a name reached by a pointer running past the pointer accepted");
	CHECK(wire_scan_answer(hdr_owner, sizeof(hdr_owner), &s) == -1,
	    "an owner pointing into the header accepted");
	CHECK(wire_scan_answer(fwd_owner, sizeof(fwd_owner), &s) == -1,
	    "an owner pointing forward accepted");
	CHECK(wire_scan_answer(fwd_rdata, sizeof(fwd_rdata), &s) == -1,
	    "a CNAME target pointing forward accepted");
	CHECK(wire_scan_answer(long_rdata, sizeof(long_rdata), &s) == -1,
	    "CNAME rdata longer than its name accepted");
	CHECK(wire_scan_answer(good_cname, sizeof(good_cname), &s) == 0,
	    "a good CNAME refused");
}

int
main(void)
{
	test_parse_query();
	test_long_names();
	test_read_name();
	test_scan();
	test_scan_soa_minimum();
	test_scan_malformed();
	test_scan_many();
	test_question_matches();
	test_hostile_answers();
	test_answer_pointers();
	test_fuzz();
	return unit_exit();
}
