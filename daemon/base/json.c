/*
 * json: the JSON string escaper and escape decoder, JSON text output,
 * and a small strict reader for list files.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

#define JSON_MAXDEPTH 64	/* nesting a list file may use */

size_t
json_escape(char *out, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *end = s + len, *run;
	size_t need = 0, n;
	bool fits = true;
	char esc[6];

	if (size > 0)
		out[0] = '\0';
	while (s < end) {
		for (run = s; s < end && (unsigned char)*s >= 0x20 &&
		    *s != '"' && *s != '\\'; s++)
			continue;
		n = (size_t)(s - run);
		if (n > 0) {
			if (fits && need + n < size) {
				memcpy(out + need, run, n);
				out[need + n] = '\0';
			} else if (fits) {
				/* Plain bytes are whole escapes: fill up. */
				if (size > need + 1) {
					memcpy(out + need, run,
					    size - need - 1);
					out[size - 1] = '\0';
				}
				fits = false;
			}
			need += n;
		}
		if (s == end)
			break;
		esc[0] = '\\';
		if (*s == '"' || *s == '\\') {
			esc[1] = *s;
			n = 2;
		} else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[(unsigned char)*s >> 4];
			esc[5] = hex[*s & 0xf];
			n = 6;
		}
		if (fits && need + n < size) {
			memcpy(out + need, esc, n);
			out[need + n] = '\0';
		} else
			fits = false;
		need += n;
		s++;
	}
	return need;
}

void
json_put_string(FILE *f, const char *s)
{
	char buf[6 * 128 + 1];
	size_t len = strlen(s), n;

	fputc('"', f);
	while (len > 0) {
		n = len < 128 ? len : 128;
		fwrite(buf, 1, json_escape(buf, sizeof(buf), s, n), f);
		s += n;
		len -= n;
	}
	fputc('"', f);
}

static int
hex4(const char *p, const char *end, unsigned *v,
    enum json_unescape_error *err, enum json_unescape_error short_err,
    enum json_unescape_error hex_err)
{
	unsigned i, d;

	*v = 0;
	if (end - p < 4) {
		*err = short_err;
		return -1;
	}
	for (i = 0; i < 4; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = (unsigned)(p[i] - '0');
		else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f')
			d = (unsigned)((p[i] | 0x20) - 'a' + 10);
		else {
			*err = hex_err;
			return -1;
		}
		*v = *v << 4 | d;
	}
	return 0;
}

size_t
json_unescape(const char *p, const char *end, char utf8[4], size_t *n,
    unsigned *cp, enum json_unescape_error *err)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned lo;
	size_t took = 6;

	if (end - p < 2) {
		*err = JSON_UNESC_END;
		return 0;
	}
	if (p[1] != 'u') {
		if (p[1] == '\0' || (e = strchr(from, p[1])) == NULL) {
			*err = JSON_UNESC_BAD;
			return 0;
		}
		utf8[0] = to[e - from];
		*cp = (unsigned char)utf8[0];
		*n = 1;
		return 2;
	}
	if (hex4(p + 2, end, cp, err, JSON_UNESC_SHORT, JSON_UNESC_HEX) != 0)
		return 0;
	if (*cp >= 0xdc00 && *cp <= 0xdfff) {
		*err = JSON_UNESC_LONE_LOW;
		return 0;
	}
	if (*cp >= 0xd800 && *cp <= 0xdbff) {
		if (end - p < 8 || p[6] != '\\' || p[7] != 'u') {
			*err = JSON_UNESC_LONE_HIGH;
			return 0;
		}
		if (hex4(p + 8, end, &lo, err, JSON_UNESC_LOW_SHORT,
		    JSON_UNESC_LOW_HEX) != 0)
			return 0;
		if (lo < 0xdc00 || lo > 0xdfff) {
			*err = JSON_UNESC_PAIR;
			return 0;
		}
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
		took = 12;
	}
	if (*cp < 0x80) {
		utf8[0] = (char)*cp;
		*n = 1;
	} else if (*cp < 0x800) {
		utf8[0] = (char)(0xc0 | *cp >> 6);
		utf8[1] = (char)(0x80 | (*cp & 0x3f));
		*n = 2;
	} else if (*cp < 0x10000) {
		utf8[0] = (char)(0xe0 | *cp >> 12);
		utf8[1] = (char)(0x80 | (*cp >> 6 & 0x3f));
		utf8[2] = (char)(0x80 | (*cp & 0x3f));
		*n = 3;
	} else {
		utf8[0] = (char)(0xf0 | *cp >> 18);
		utf8[1] = (char)(0x80 | (*cp >> 12 & 0x3f));
		utf8[2] = (char)(0x80 | (*cp >> 6 & 0x3f));
		utf8[3] = (char)(0x80 | (*cp & 0x3f));
		*n = 4;
	}
	return took;
}

/*
 * The reader: strict RFC 8259, bounded in depth so a hostile file cannot
 * exhaust the stack.  It runs twice: first to check the whole document,
 * so a broken file hands out nothing, then to hand out the strings in
 * the array under the top-level key.
 */
struct json {
	const char *p, *end;
	size_t line;
	const char *err;	/* first syntax error, with errline */
	size_t errline;
	bool handing_out;	/* false in the checking pass */
	json_string_cb on_string;
	json_other_cb on_other;
	void *arg;
	bool stopped;
	const char *key;
	size_t keyline;		/* line of KEY at the top level, 0 if none */
	size_t notarray;	/* line where KEY holds something else */
	char *str;		/* the last string read, decoded */
	size_t slen, scap;
	size_t sline;		/* line where it started */
};

static int json_value(struct json *j, int depth);

static int
json_error(struct json *j, const char *err)
{
	if (j->err == NULL) {
		j->err = err;
		j->errline = j->line;
	}
	return -1;
}

static void
json_blank(struct json *j)
{
	for (; j->p < j->end; j->p++) {
		if (*j->p == '\n')
			j->line++;
		else if (*j->p != ' ' && *j->p != '\t' && *j->p != '\r')
			break;
	}
}

static int
json_put(struct json *j, const char *s, size_t n)
{
	char *str;
	size_t cap;

	if (j->slen + n + 1 > j->scap) {
		cap = j->scap ? j->scap * 2 : 64;
		while (cap < j->slen + n + 1)
			cap *= 2;
		if ((str = realloc(j->str, cap)) == NULL)
			return json_error(j, "out of memory");
		j->str = str;
		j->scap = cap;
	}
	memcpy(j->str + j->slen, s, n);
	j->slen += n;
	j->str[j->slen] = '\0';
	return 0;
}

/* The escape at j->p, in the list reader's words. */
static int
json_escape_in(struct json *j)
{
	static const char *const why[] = {
		[JSON_UNESC_END] = "unterminated string",
		[JSON_UNESC_BAD] = "bad escape in string",
		[JSON_UNESC_SHORT] = "short \\u escape",
		[JSON_UNESC_HEX] = "bad hex digit in \\u escape",
		[JSON_UNESC_LONE_LOW] = "lone low surrogate in \\u escape",
		[JSON_UNESC_LONE_HIGH] = "lone high surrogate in \\u escape",
		[JSON_UNESC_LOW_SHORT] = "short \\u escape",
		[JSON_UNESC_LOW_HEX] = "bad hex digit in \\u escape",
		[JSON_UNESC_PAIR] = "bad surrogate pair",
	};
	enum json_unescape_error err;
	char u[4];
	size_t n, took;
	unsigned cp;

	if ((took = json_unescape(j->p, j->end, u, &n, &cp, &err)) == 0)
		return json_error(j, why[err]);
	j->p += took;
	return json_put(j, u, n);
}

static int
json_string(struct json *j)
{
	const char *run;

	j->slen = 0;
	j->sline = j->line;
	if (json_put(j, "", 0) != 0)
		return -1;
	j->p++;
	for (;;) {
		for (run = j->p; j->p < j->end && *j->p != '"' &&
		    *j->p != '\\' && (unsigned char)*j->p >= 0x20; j->p++)
			continue;
		if (json_put(j, run, (size_t)(j->p - run)) != 0)
			return -1;
		/* Lines are joined with '\n', which strings cannot hold. */
		if (j->p == j->end || *j->p == '\n')
			return json_error(j, "unterminated string");
		if (*j->p == '"')
			break;
		if (*j->p != '\\')
			return json_error(j, "control character in string");
		if (json_escape_in(j) != 0)
			return -1;
	}
	j->p++;
	return 0;
}

static bool
json_digits(struct json *j)
{
	const char *start = j->p;

	while (j->p < j->end && isdigit((unsigned char)*j->p))
		j->p++;
	return j->p > start;
}

static int
json_number(struct json *j)
{
	if (*j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!json_digits(j))
		return json_error(j, "bad number");
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!json_digits(j))
			return json_error(j, "bad number");
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!json_digits(j))
			return json_error(j, "bad number");
	}
	return 0;
}

static int
json_literal(struct json *j)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t i, n;

	for (i = 0; i < 3; i++) {
		n = strlen(words[i]);
		if ((size_t)(j->end - j->p) >= n &&
		    memcmp(j->p, words[i], n) == 0) {
			j->p += n;
			return 0;
		}
	}
	return json_error(j, "unexpected character");
}

static const char *
json_type(char c)
{
	switch (c) {
	case '{':
		return "an object";
	case '[':
		return "an array";
	case 't':
	case 'f':
		return "a boolean";
	case 'n':
		return "null";
	default:
		return "a number";
	}
}

/* Ends a member or element: returns 1 after ',', 0 at close, -1 else. */
static int
json_next(struct json *j, char close, const char *err)
{
	json_blank(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		json_blank(j);
		return 1;
	}
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	return json_error(j, err);
}

/*
 * The items of an array or the members of an object (j->p at the opening
 * bracket), each read by item, up to close: an empty container, or items
 * separated by commas.
 */
static int
json_items(struct json *j, int depth, char close, const char *err,
    int (*item)(struct json *, int))
{
	int rc;

	j->p++;
	json_blank(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	do {
		if (item(j, depth) != 0)
			return -1;
	} while ((rc = json_next(j, close, err)) == 1);
	return rc;
}

/* An item of the array of names: a string is handed out, anything else
 * reported. */
static int
json_name(struct json *j, int depth)
{
	size_t line = j->line;

	if (j->p < j->end && *j->p == '"') {
		if (json_string(j) != 0)
			return -1;
		if (j->handing_out && j->on_string(j->arg, j->str, j->slen,
		    j->sline) == -1) {
			j->stopped = true;
			return -1;
		}
		return 0;
	}
	if (j->handing_out && j->p < j->end)
		j->on_other(j->arg, line, json_type(*j->p));
	return json_value(j, depth);
}

static int
json_member(struct json *j, int depth)
{
	bool is_key;

	if (j->p == j->end || *j->p != '"')
		return json_error(j, "expected a string key");
	if (json_string(j) != 0)
		return -1;
	is_key = depth == 1 && strlen(j->key) == j->slen &&
	    memcmp(j->str, j->key, j->slen) == 0;
	json_blank(j);
	if (j->p == j->end || *j->p != ':')
		return json_error(j, "expected ':'");
	j->p++;
	json_blank(j);
	if (!is_key)
		return json_value(j, depth);
	j->keyline = j->sline;
	if (j->p < j->end && *j->p == '[')
		return json_items(j, depth + 1, ']', "expected ',' or ']'",
		    json_name);
	j->notarray = j->line;
	return json_value(j, depth);
}

static int
json_value(struct json *j, int depth)
{
	json_blank(j);
	if (j->p == j->end)
		return json_error(j, "unexpected end of input");
	/* depth counts the containers around this value. */
	if ((*j->p == '{' || *j->p == '[') && depth >= JSON_MAXDEPTH)
		return json_error(j, "nested deeper than 64 levels");
	switch (*j->p) {
	case '{':
		return json_items(j, depth + 1, '}', "expected ',' or '}'",
		    json_member);
	case '[':
		return json_items(j, depth + 1, ']', "expected ',' or ']'",
		    json_value);
	case '"':
		return json_string(j);
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return json_number(j);
	default:
		return json_literal(j);
	}
}

static int
json_document(struct json *j)
{
	json_blank(j);
	if (j->p == j->end || *j->p != '{')
		return json_error(j, "expected an object at the top");
	if (json_items(j, 1, '}', "expected ',' or '}'", json_member) != 0)
		return -1;
	json_blank(j);
	if (j->p != j->end)
		return json_error(j, "text after the top-level object");
	return 0;
}

int
json_key_strings(const char *text, size_t len, const char *key,
    json_string_cb on_string, json_other_cb on_other, void *arg,
    struct json_problem *pb)
{
	struct json j = { .key = key, .on_string = on_string,
	    .on_other = on_other, .arg = arg };
	int rc = -1;

	memset(pb, 0, sizeof(*pb));
	j.p = text;
	j.end = text + len;
	j.line = 1;
	if (json_document(&j) != 0) {
		pb->kind = JSON_SYNTAX;
		pb->what = j.err;
		pb->line = j.errline;
		goto out;
	}
	if (j.keyline == 0) {
		pb->kind = JSON_NO_KEY;
		goto out;
	}
	if (j.notarray != 0) {
		pb->kind = JSON_NOT_ARRAY;
		pb->line = j.notarray;
		goto out;
	}
	j.p = text;
	j.line = 1;
	j.handing_out = true;
	if ((rc = json_document(&j)) != 0)
		pb->kind = j.stopped ? JSON_STOPPED : JSON_SYNTAX;
out:
	free(j.str);
	return rc;
}
