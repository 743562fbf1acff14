/*
 * audit: formats audit lines and links them into a SHA-256 hash chain,
 * and reads the chain members back for `cordon audit`.  Pure functions
 * on caller buffers: no I/O, no allocation, no locks, so the daemon's
 * workers can format a body on the hot path.
 */
#include "audit/audit.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "base/json.h"

/*
 * Bounded output cursor.  Once a write does not fit, is_full sticks and
 * every later write is ignored, so formatters check once at the end.
 */
struct out {
	char *p;
	size_t left;		/* bytes left, the NUL included */
	bool is_full;
};

static void
out_init(struct out *o, char *buf, size_t size)
{
	o->p = buf;
	o->left = size;
	o->is_full = size == 0;
}

static void
put_mem(struct out *o, const char *s, size_t n)
{
	if (o->is_full || n >= o->left) {
		o->is_full = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
	o->left -= n;
	*o->p = '\0';
}

static void
put_raw(struct out *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

static void
put_u64(struct out *o, uint64_t v)
{
	char num[24];
	int n;

	n = snprintf(num, sizeof(num), "%" PRIu64, v);
	put_mem(o, num, (size_t)n);
}

/*
 * A JSON string (RFC 8259 section 7), escaped by base/json's
 * json_escape.  Names come from the wire, so a quote, backslash or
 * control byte in them must not end the string or the line: a forged
 * name could otherwise inject members or whole lines into the evidence.
 * Bytes >= 0x80 pass through; ldns presentation form already escapes
 * them as \DDD.
 */
static void
put_str(struct out *o, const char *s)
{
	size_t n;

	if (s == NULL) {
		put_raw(o, "null");
		return;
	}
	put_mem(o, "\"", 1);
	if (o->is_full)
		return;
	if ((n = json_escape(o->p, o->left, s, strlen(s))) >= o->left) {
		o->is_full = true;
		return;
	}
	o->p += n;
	o->left -= n;
	put_mem(o, "\"", 1);
}

/* name is the member's prefix with its comma, e.g. ",\"rule\":". */
static void
put_member_str(struct out *o, const char *name, const char *value)
{
	put_raw(o, name);
	put_str(o, value);
}

/*
 * Mnemonics for the types a blocked query is likely to ask for; the rest
 * print as RFC 3597 "TYPEnnn".  A table, not ldns_rr_type2str(), because
 * that allocates and this runs for every blocked query.
 */
static const struct {
	uint16_t type;
	const char *name;
} qtypes[] = {
	{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" },
	{ 12, "PTR" }, { 13, "HINFO" }, { 15, "MX" }, { 16, "TXT" },
	{ 17, "RP" }, { 18, "AFSDB" }, { 28, "AAAA" }, { 29, "LOC" },
	{ 33, "SRV" }, { 35, "NAPTR" }, { 39, "DNAME" }, { 43, "DS" },
	{ 44, "SSHFP" }, { 46, "RRSIG" }, { 47, "NSEC" }, { 48, "DNSKEY" },
	{ 50, "NSEC3" }, { 51, "NSEC3PARAM" }, { 52, "TLSA" },
	{ 53, "SMIMEA" }, { 59, "CDS" }, { 60, "CDNSKEY" },
	{ 61, "OPENPGPKEY" }, { 64, "SVCB" }, { 65, "HTTPS" },
	{ 99, "SPF" }, { 251, "IXFR" }, { 252, "AXFR" }, { 255, "ANY" },
	{ 256, "URI" }, { 257, "CAA" },
};

static void
put_qtype(struct out *o, uint16_t type)
{
	char name[16];
	size_t i;

	for (i = 0; i < sizeof(qtypes) / sizeof(qtypes[0]); i++) {
		if (qtypes[i].type == type) {
			put_str(o, qtypes[i].name);
			return;
		}
	}
	snprintf(name, sizeof(name), "TYPE%u", (unsigned)type);
	put_str(o, name);
}

static void
put_client(struct out *o, const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (sa != NULL && sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		put_member_str(o, ",\"client\":", addr);
		put_raw(o, ",\"port\":");
		put_u64(o, ntohs(sin->sin_port));
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		put_member_str(o, ",\"client\":", addr);
		put_raw(o, ",\"port\":");
		put_u64(o, ntohs(sin6->sin6_port));
	} else {
		put_raw(o, ",\"client\":null,\"port\":null");
	}
}

/*
 * Days since 1970-01-01 to a civil date, after Howard Hinnant's
 * days_from_civil inverse: exact for the proleptic Gregorian calendar
 * and free of gmtime()'s time_t range and locale questions.
 */
static void
civil_from_days(uint64_t days, unsigned *y, unsigned *m, unsigned *d)
{
	uint64_t z = days + 719468;	/* shift the epoch to 0000-03-01 */
	uint64_t era = z / 146097;
	uint64_t doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;

	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

/* Writes v as exactly n decimal digits, zero-padded. */
static void
put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* 9999-12-31T23:59:59.999Z: the last instant that fits in 24 chars. */
#define TS_MAX_MS UINT64_C(253402300799999)

void
audit_format_ts(char buf[25], uint64_t ts_ms)
{
	uint64_t secs, days;
	unsigned y, mo, d, sod;

	if (ts_ms > TS_MAX_MS)
		ts_ms = TS_MAX_MS;
	secs = ts_ms / 1000;
	days = secs / 86400;
	sod = (unsigned)(secs % 86400);
	civil_from_days(days, &y, &mo, &d);
	memcpy(buf, "0000-00-00T00:00:00.000Z", 25);
	put_digits(buf, y, 4);
	put_digits(buf + 5, mo, 2);
	put_digits(buf + 8, d, 2);
	put_digits(buf + 11, sod / 3600, 2);
	put_digits(buf + 14, sod / 60 % 60, 2);
	put_digits(buf + 17, sod % 60, 2);
	put_digits(buf + 20, (unsigned)(ts_ms % 1000), 3);
}

static void
put_ts(struct out *o, uint64_t ts_ms)
{
	char ts[25];

	audit_format_ts(ts, ts_ms);
	put_member_str(o, "\"ts\":", ts);
}

size_t
audit_format_block(char *buf, size_t size, const struct audit_block *b)
{
	struct out o;

	out_init(&o, buf, size);
	put_ts(&o, b->ts_ms);
	put_client(&o, b->client);
	put_member_str(&o, ",\"proto\":", b->is_tcp ? "tcp" : "udp");
	put_member_str(&o, ",\"qname\":", b->qname);
	put_raw(&o, ",\"qtype\":");
	put_qtype(&o, b->qtype);
	put_member_str(&o, ",\"action\":", b->action);
	put_member_str(&o, ",\"trigger\":", b->trigger);
	put_member_str(&o, ",\"rule\":", b->rule);
	put_member_str(&o, ",\"list\":", b->list);
	put_member_str(&o, ",\"category\":", b->category);
	if (b->reference != NULL && b->reference[0] != '\0')
		put_member_str(&o, ",\"reference\":", b->reference);
	put_member_str(&o, ",\"answer_ip\":", b->answer_ip);
	if (b->geo_json != NULL) {
		/*
		 * geo_json is inserted verbatim; a line break in it would
		 * split the record into two lines and break the chain.
		 */
		if (strpbrk(b->geo_json, "\r\n") != NULL)
			return 0;
		put_raw(&o, ",\"geo\":");
		put_raw(&o, b->geo_json);
	}
	put_member_str(&o, ",\"policy\":", b->policy);
	if (o.is_full)
		return 0;
	return (size_t)(o.p - buf);
}

size_t
audit_format_event(char *buf, size_t size, uint64_t ts_ms,
    const char *event, const char *members)
{
	struct out o;

	out_init(&o, buf, size);
	put_ts(&o, ts_ms);
	put_member_str(&o, ",\"event\":", event);
	if (members != NULL && *members != '\0') {
		if (strpbrk(members, "\r\n") != NULL)
			return 0;
		put_raw(&o, ",");
		put_raw(&o, members);
	}
	if (o.is_full)
		return 0;
	return (size_t)(o.p - buf);
}

size_t
audit_format_line(char *buf, size_t size, uint64_t seq,
    const char *body, size_t bodylen, const char *prev_hex)
{
	struct out o;

	out_init(&o, buf, size);
	put_raw(&o, "{\"seq\":");
	put_u64(&o, seq);
	if (bodylen > 0) {
		put_mem(&o, ",", 1);
		put_mem(&o, body, bodylen);
	}
	put_raw(&o, ",\"prev\":\"");
	put_mem(&o, prev_hex, AUDIT_HEXLEN);
	put_raw(&o, "\"}");
	if (o.is_full)
		return 0;
	return (size_t)(o.p - buf);
}

static void
to_hex(const unsigned char *digest, char out_hex[AUDIT_HEXLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out_hex[2 * i] = hex[digest[i] >> 4];
		out_hex[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out_hex[AUDIT_HEXLEN] = '\0';
}

void
audit_hash(const char *line, size_t len, char out_hex[AUDIT_HEXLEN + 1])
{
	unsigned char digest[SHA256_DIGEST_LENGTH];

	/* OpenSSL's SHA-256 (the libcrypto ldns itself links) rather than
	 * ldns_sha256(): it uses the CPU's SHA extensions, and hashing every
	 * audit line with the portable code cost a fifth of the daemon's CPU
	 * time under a flood of blocked queries. */
	SHA256((const unsigned char *)line, len, digest);
	to_hex(digest, out_hex);
}

struct audit_hasher {
	EVP_MD *md;		/* fetched once: SHA256() fetches per call */
	EVP_MD_CTX *ctx;
};

struct audit_hasher *
audit_hasher_new(void)
{
	struct audit_hasher *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (h->md == NULL || h->ctx == NULL) {
		audit_hasher_free(h);
		return NULL;
	}
	return h;
}

void
audit_hasher_free(struct audit_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

void
audit_hasher_hash(struct audit_hasher *h, const char *line, size_t len,
    char out_hex[AUDIT_HEXLEN + 1])
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	unsigned int n = 0;

	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, line, len) != 1 ||
	    EVP_DigestFinal_ex(h->ctx, digest, &n) != 1 ||
	    n != SHA256_DIGEST_LENGTH) {
		audit_hash(line, len, out_hex);	/* cannot fail the same way */
		return;
	}
	to_hex(digest, out_hex);
}

#define SEQ_PREFIX "{\"seq\":"
#define PREV_PREFIX ",\"prev\":\""
#define PREV_SUFFIX "\"}"
#define PREV_LEN (sizeof(PREV_PREFIX) - 1 + AUDIT_HEXLEN + \
	sizeof(PREV_SUFFIX) - 1)

/*
 * Reads a decimal seq as audit_format_line() writes it: at least one
 * digit, no sign, no leading zero, no overflow, and not 0 (seq starts at
 * 1).  Returns the number of digits, or 0.
 */
static size_t
parse_seq(const char *s, size_t len, uint64_t *seq)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned digit = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - digit) / 10)
			return 0;
		v = v * 10 + digit;
	}
	if (i == 0 || v == 0 || s[0] == '0')
		return 0;
	*seq = v;
	return i;
}

int
audit_parse_chain(const char *line, size_t len, uint64_t *seq,
    char prev_hex[AUDIT_HEXLEN + 1])
{
	const size_t head = sizeof(SEQ_PREFIX) - 1;
	const char *tail, *hex;
	size_t digits, i;

	if (len > AUDIT_LINE_MAX || len < head + 1 + PREV_LEN)
		return -1;
	if (memcmp(line, SEQ_PREFIX, head) != 0)
		return -1;
	digits = parse_seq(line + head, len - head - PREV_LEN, seq);
	if (digits == 0)
		return -1;
	/* After seq: either the prev member or ",<body>" before it. */
	tail = line + len - PREV_LEN;
	if (line + head + digits != tail && (line[head + digits] != ',' ||
	    line + head + digits + 1 == tail))
		return -1;
	if (memcmp(tail, PREV_PREFIX, sizeof(PREV_PREFIX) - 1) != 0)
		return -1;
	hex = tail + sizeof(PREV_PREFIX) - 1;
	for (i = 0; i < AUDIT_HEXLEN; i++) {
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f')))
			return -1;
	}
	if (memcmp(hex + AUDIT_HEXLEN, PREV_SUFFIX, 2) != 0)
		return -1;
	if (memchr(line, '\n', len) != NULL)
		return -1;
	memcpy(prev_hex, hex, AUDIT_HEXLEN);
	prev_hex[AUDIT_HEXLEN] = '\0';
	return 0;
}

uint64_t
audit_line_seq(const char *line, size_t len)
{
	static const char head[] = "{\"seq\":";
	uint64_t v = 0;
	size_t i;

	if (len <= sizeof(head) - 1 || memcmp(line, head, sizeof(head) - 1))
		return 0;
	for (i = sizeof(head) - 1; i < len && line[i] >= '0' &&
	    line[i] <= '9' && v < UINT64_MAX / 10 - 10; i++)
		v = v * 10 + (uint64_t)(line[i] - '0');
	return v;
}
