/*
 * auditread_parse: one audit line into a record (auditread.h): a strict
 * JSON reader that decodes one flat object (plus the nested "geo") into
 * fixed fields, and the stricter grammar verify asks for.  The line may
 * have been edited by an attacker, so every read is bounded by the
 * line's length.  Timestamps: auditread_time.c.
 */
#include "audit/auditread.h"
#include "base/json.h"

#include <stddef.h>
#include <string.h>

/*
 * The JSON reader.  Decoded strings go to rec->buf, each followed by a
 * NUL.  A string's decoded bytes plus its NUL never outnumber its quoted
 * form, so everything decoded from a line of at most AUDIT_LINE_MAX
 * bytes fits in buf.
 */
struct cur {
	const char *p, *end;
	char *out;
	const char *why;
};

enum kind { K_STR, K_INT, K_SEQ, K_OBJ };

struct member {
	const char *name;
	size_t len;			/* strlen(name) */
	enum kind kind;
	size_t off;			/* of the field in the record */
	const struct member *sub;	/* K_OBJ: the object's members */
};

#define F(field) offsetof(struct auditread_rec, field)
#define END { NULL, 0, K_STR, 0, NULL }

static const struct member client_geo[] = {
	{ "country", 7, K_STR, F(client_country), NULL },
	{ "asn", 3, K_INT, F(client_asn), NULL },
	END,
};

static const struct member answer_geo[] = {
	{ "country", 7, K_STR, F(answer_country), NULL },
	{ "asn", 3, K_INT, F(answer_asn), NULL },
	END,
};

static const struct member geo[] = {
	{ "client", 6, K_OBJ, 0, client_geo },
	{ "answer", 6, K_OBJ, 0, answer_geo },
	END,
};

/* In the order audit.c writes blocked-attempt lines, so the lookup hint
 * nearly always hits on the first try. */
static const struct member top[] = {
	{ "seq", 3, K_SEQ, F(seq), NULL },
	{ "ts", 2, K_STR, F(ts), NULL },
	{ "client", 6, K_STR, F(client), NULL },
	{ "port", 4, K_INT, F(port), NULL },
	{ "proto", 5, K_STR, F(proto), NULL },
	{ "qname", 5, K_STR, F(qname), NULL },
	{ "qtype", 5, K_STR, F(qtype), NULL },
	{ "action", 6, K_STR, F(action), NULL },
	{ "trigger", 7, K_STR, F(trigger), NULL },
	{ "rule", 4, K_STR, F(rule), NULL },
	{ "list", 4, K_STR, F(list), NULL },
	{ "category", 8, K_STR, F(category), NULL },
	{ "reference", 9, K_STR, F(reference), NULL },
	{ "answer_ip", 9, K_STR, F(answer_ip), NULL },
	{ "geo", 3, K_OBJ, F(has_geo), geo },
	{ "policy", 6, K_STR, F(policy), NULL },
	{ "prev", 4, K_STR, F(prev), NULL },
	{ "event", 5, K_STR, F(event), NULL },
	{ "previous", 8, K_STR, F(previous), NULL },
	{ "entries", 7, K_INT, F(entries), NULL },
	{ "lists", 5, K_INT, F(lists), NULL },
	{ "by", 2, K_STR, F(by), NULL },
	{ "lost", 4, K_INT, F(lost), NULL },
	{ "from", 4, K_INT, F(from), NULL },
	{ "to", 2, K_INT, F(to), NULL },
	{ "reason", 6, K_STR, F(reason), NULL },
	{ "ranges", 6, K_INT, F(ranges), NULL },
	{ "torn", 4, K_INT, F(torn), NULL },
	{ "second", 6, K_STR, F(second), NULL },
	{ "count", 5, K_INT, F(count), NULL },
	END,
};

#define MAX_DEPTH 16

static int
fail(struct cur *c, const char *why)
{
	c->why = why;
	return -1;
}

static inline void
skip_ws(struct cur *c)
{
	while (c->p < c->end && (unsigned char)*c->p <= ' ' &&
	    (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' ||
	    *c->p == '\n'))
		c->p++;
}

/* A backslash escape, decoded by base/json's one decoder (RFC 8259
 * sec. 7, a surrogate pair as one code point), reported in our words. */
static int
escape(struct cur *c)
{
	enum json_unescape_error err;
	unsigned cp;
	size_t took, n;
	char u[4];

	if ((took = json_unescape(c->p, c->end, u, &n, &cp, &err)) == 0) {
		switch (err) {
		case JSON_UNESC_END:
			return fail(c, "unterminated string");
		case JSON_UNESC_BAD:
			return fail(c, "bad escape in a string");
		case JSON_UNESC_SHORT:
		case JSON_UNESC_HEX:
			return fail(c, "bad \\u escape");
		default:
			return fail(c, "lone surrogate in \\u escape");
		}
	}
	if (cp == 0)
		return fail(c, "NUL in a string");
	memcpy(c->out, u, n);
	c->out += n;
	c->p += took;
	return 0;
}

/* Bytes that end a run of plain string bytes: '"', '\\', controls. */
static bool
ends_run(unsigned char ch)
{
	return ch < 0x20 || ch == '"' || ch == '\\';
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Whether any byte of x is below n (n <= 128); exact, see "Bit Twiddling
 * Hacks", "Determine if a word has a byte less than n". */
static uint64_t
has_below(uint64_t x, unsigned n)
{
	return (x - ONES * n) & ~x & HIGHS;
}

/*
 * The end of the run of plain bytes from p.  Strings are most of a line,
 * so they are scanned eight bytes at a time for a quote, a backslash or
 * a control byte (x ^ ONES * c has a zero byte where x holds c).  The
 * lowest flagged byte of each test is exact (a borrow only runs upwards
 * from a true hit), so on a little-endian host its index is the count
 * of trailing zero bits / 8.
 */
static inline const char *
scan_run(const char *p, const char *end)
{
	const bool is_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
	uint64_t x, hit;

	while (is_le && end - p >= 8) {
		memcpy(&x, p, sizeof(x));
		hit = has_below(x, 0x20) | has_below(x ^ (ONES * '"'), 1) |
		    has_below(x ^ (ONES * '\\'), 1);
		if (hit != 0)
			return p + (__builtin_ctzll(hit) >> 3);
		p += 8;
	}
	while (p < end && !ends_run((unsigned char)*p))
		p++;
	return p;
}

/* c->p is at the opening quote.  Returns the decoded string, or NULL. */
static const char *
parse_str(struct cur *c)
{
	char *start = c->out;
	const char *run;

	c->p++;
	for (;;) {
		run = c->p;
		c->p = scan_run(c->p, c->end);
		memcpy(c->out, run, (size_t)(c->p - run));
		c->out += c->p - run;
		if (c->p == c->end) {
			fail(c, "unterminated string");
			return NULL;
		}
		if (*c->p == '"')
			break;
		if (*c->p != '\\') {
			fail(c, "control character in a string");
			return NULL;
		}
		if (escape(c) == -1)
			return NULL;
	}
	c->p++;
	*c->out++ = '\0';
	return start;
}

static bool
is_digit(struct cur *c)
{
	return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/*
 * A JSON number.  *is_count says whether it is a non-negative integer
 * that fits in int64_t (then *v holds it), the only kind audit lines use.
 */
static int
parse_number(struct cur *c, int64_t *v, bool *is_count)
{
	uint64_t u = 0;
	bool is_neg = false, fits = true;

	if (*c->p == '-') {
		is_neg = true;
		c->p++;
	}
	if (!is_digit(c))
		return fail(c, "bad number");
	if (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' &&
	    c->p[1] <= '9')
		return fail(c, "number with a leading zero");
	for (; is_digit(c); c->p++) {
		unsigned d = (unsigned)(*c->p - '0');

		if (u > ((uint64_t)INT64_MAX - d) / 10)
			fits = false;
		else
			u = u * 10 + d;
	}
	*is_count = fits && !is_neg;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		*is_count = false;
		if (!is_digit(c))
			return fail(c, "bad number");
		while (is_digit(c))
			c->p++;
	}
	if (c->p < c->end && (*c->p | 0x20) == 'e') {
		c->p++;
		*is_count = false;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!is_digit(c))
			return fail(c, "bad number");
		while (is_digit(c))
			c->p++;
	}
	*v = (int64_t)u;
	return 0;
}

static bool
take_word(struct cur *c, const char *word, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

static int parse_object(struct cur *c, const struct member *table,
    struct auditread_rec *rec, int depth);

/* Any value, checked and thrown away (members this reader does not
 * know, written by a newer cordond). */
static int
skip_value(struct cur *c, int depth)
{
	char *mark = c->out;
	int64_t v;
	bool is_count;

	if (c->p == c->end)
		return fail(c, "missing value");
	switch (*c->p) {
	case '"':
		if (parse_str(c) == NULL)
			return -1;
		c->out = mark;
		return 0;
	case '{':
		return parse_object(c, NULL, NULL, depth + 1);
	case '[':
		if (depth >= MAX_DEPTH)
			return fail(c, "nested too deeply");
		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == ']') {
			c->p++;
			return 0;
		}
		for (;;) {
			skip_ws(c);
			if (skip_value(c, depth + 1) == -1)
				return -1;
			skip_ws(c);
			if (c->p < c->end && *c->p == ',') {
				c->p++;
				continue;
			}
			if (c->p < c->end && *c->p == ']') {
				c->p++;
				return 0;
			}
			return fail(c, "expected , or ] in an array");
		}
	case 't':
		return take_word(c, "true", 4) ? 0 : fail(c, "bad literal");
	case 'f':
		return take_word(c, "false", 5) ? 0 : fail(c, "bad literal");
	case 'n':
		return take_word(c, "null", 4) ? 0 : fail(c, "bad literal");
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return parse_number(c, &v, &is_count);
		return fail(c, "bad value");
	}
}

/* The value of a member this reader knows; null leaves the default. */
static int
parse_known(struct cur *c, const struct member *m, struct auditread_rec *rec,
    int depth)
{
	char *field = (char *)rec + m->off;
	const char *s;
	int64_t v;
	bool is_count;

	if (take_word(c, "null", 4))
		return m->kind == K_SEQ ? fail(c, "seq is null") : 0;
	if (c->p == c->end)
		return fail(c, "missing value");
	switch (m->kind) {
	case K_STR:
		if (*c->p != '"')
			return fail(c, "a member is not a string");
		if ((s = parse_str(c)) == NULL)
			return -1;
		memcpy(field, &s, sizeof(s));
		return 0;
	case K_INT:
	case K_SEQ:
		if (*c->p != '-' && (*c->p < '0' || *c->p > '9'))
			return fail(c, "a member is not a number");
		if (parse_number(c, &v, &is_count) == -1)
			return -1;
		if (!is_count || (m->kind == K_SEQ && v == 0))
			return fail(c, "a number is not a count");
		if (m->kind == K_SEQ)
			rec->seq = (uint64_t)v;
		else
			memcpy(field, &v, sizeof(v));
		return 0;
	case K_OBJ:
		if (*c->p != '{')
			return fail(c, "a member is not an object");
		if (m->off != 0)
			*(bool *)field = true;
		return parse_object(c, m->sub, rec, depth + 1);
	}
	return fail(c, "bad member");
}

/* Names are a few bytes: a loop beats a call to memcmp(). */
static inline bool
is_named(const struct member *m, const char *name, size_t len)
{
	size_t i;

	if (m->name == NULL || m->len != len)
		return false;
	for (i = 0; i < len; i++)
		if (m->name[i] != name[i])
			return false;
	return true;
}

/* Finds name in table, trying the entry after the last hit first. */
static const struct member *
lookup(const struct member *table, const char *name, size_t len,
    size_t *hint)
{
	size_t i;

	if (table == NULL)
		return NULL;
	if (is_named(&table[*hint], name, len))
		return &table[(*hint)++];
	for (i = 0; table[i].name != NULL; i++) {
		if (is_named(&table[i], name, len)) {
			*hint = i + 1;
			return &table[i];
		}
	}
	return NULL;
}

/*
 * A member name.  Names are plain ASCII in every line cordond writes, so
 * they are compared where they stand; one with escapes is decoded first.
 */
static const struct member *
member_name(struct cur *c, const struct member *table, size_t *hint)
{
	const struct member *m;
	const char *name = c->p + 1, *q = scan_run(name, c->end);
	char *mark = c->out;

	if (q < c->end && *q == '"') {
		c->p = q + 1;
		return lookup(table, name, (size_t)(q - name), hint);
	}
	if ((name = parse_str(c)) == NULL)
		return NULL;
	m = lookup(table, name, (size_t)(c->out - mark) - 1, hint);
	c->out = mark;
	return m;
}

static int
parse_member(struct cur *c, const struct member *table,
    struct auditread_rec *rec, int depth, size_t *hint, uint64_t *seen)
{
	const struct member *m;
	size_t k;

	skip_ws(c);
	if (c->p == c->end || *c->p != '"')
		return fail(c, "expected a member name");
	c->why = NULL;
	m = member_name(c, table, hint);
	if (m == NULL && c->why != NULL)
		return -1;
	if (m != NULL) {
		/* the daemon never writes a member twice: a second "seq"
		 * or "event" is someone's edit, not a line */
		k = (size_t)(m - table);
		if (k < 64 && (*seen >> k & 1))
			return fail(c, "a member appears twice");
		if (k < 64)
			*seen |= (uint64_t)1 << k;
	} else if (depth == 0)
		rec->unknown++;
	skip_ws(c);
	if (c->p == c->end || *c->p != ':')
		return fail(c, "expected : after a member name");
	c->p++;
	skip_ws(c);
	if (m == NULL)
		return skip_value(c, depth);
	return parse_known(c, m, rec, depth);
}

/* c->p is at '{'.  table NULL skips every member. */
static int
parse_object(struct cur *c, const struct member *table,
    struct auditread_rec *rec, int depth)
{
	size_t hint = 0;
	uint64_t seen = 0;

	if (depth >= MAX_DEPTH)
		return fail(c, "nested too deeply");
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return 0;
	}
	for (;;) {
		if (parse_member(c, table, rec, depth, &hint, &seen) == -1)
			return -1;
		skip_ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			return 0;
		}
		return fail(c, "expected , or } in an object");
	}
}

static bool
is_hash(const char *s)
{
	return strspn(s, "0123456789abcdef") == AUDIT_HEXLEN &&
	    s[AUDIT_HEXLEN] == '\0';
}

/* Every field but buf, as a record without members. */
static const struct auditread_rec blank = {
	.port = AUDITREAD_NONE,
	.client_asn = AUDITREAD_NONE,
	.answer_asn = AUDITREAD_NONE,
	.entries = AUDITREAD_NONE,
	.lists = AUDITREAD_NONE,
	.lost = AUDITREAD_NONE,
	.from = AUDITREAD_NONE,
	.to = AUDITREAD_NONE,
	.ranges = AUDITREAD_NONE,
	.torn = AUDITREAD_NONE,
	.count = AUDITREAD_NONE,
};

static int
bad(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

int
auditread_parse(const char *line, size_t len, struct auditread_rec *rec,
    const char **why)
{
	struct cur c = { line, line + len, rec->buf, NULL };
	bool is_date;

	/* Not a memset: buf is 8 KiB and this runs for every line. */
	memcpy(rec, &blank, offsetof(struct auditread_rec, buf));
	if (len > AUDIT_LINE_MAX)
		return bad(why, "line too long");
	skip_ws(&c);
	if (c.p == c.end || *c.p != '{')
		return bad(why, "not a JSON object");
	if (parse_object(&c, top, rec, 0) == -1)
		return bad(why, c.why);
	skip_ws(&c);
	if (c.p != c.end)
		return bad(why, "text after the JSON object");
	if (rec->seq == 0)
		return bad(why, "no seq member");
	if (rec->ts == NULL || auditread_parse_time(rec->ts, strlen(rec->ts),
	    &rec->ts_ms, &is_date) == -1 || is_date)
		return bad(why, "no valid ts member");
	if (rec->prev == NULL || !is_hash(rec->prev))
		return bad(why, "no valid prev member");
	if (rec->from > 0 && rec->to >= rec->from && rec->lost < 0)
		rec->lost = rec->to - rec->from + 1;
	return 0;
}


bool
auditread_is_strict(const struct auditread_rec *rec, const char **why)
{
	bool blocked = rec->qname != NULL || rec->action != NULL ||
	    rec->trigger != NULL || rec->rule != NULL || rec->list != NULL;

	if (rec->unknown > 0) {
		*why = "a member the daemon does not write";
		return false;
	}
	if (rec->event != NULL && blocked) {
		*why = "an event line with blocked-attempt members";
		return false;
	}
	if (rec->event == NULL && (rec->qname == NULL ||
	    rec->action == NULL || rec->trigger == NULL || rec->rule == NULL ||
	    rec->list == NULL || rec->client == NULL)) {
		*why = "a blocked-attempt line without its members";
		return false;
	}
	return true;
}
