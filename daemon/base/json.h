/*
 * json: the one JSON string escaper (into a buffer, for the audit line
 * on the hot path, and to a stdio stream for report.json and the other
 * machine-readable output of the `cordon` tool), the one escape decoder,
 * and the reader of the names a `json:KEY` list holds.
 */
#ifndef CORDON_JSON_H
#define CORDON_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * The one JSON string escaper, with the audit line's rules (PRODUCT.md's
 * log format, hashed into the chain, so its bytes are a contract): '"'
 * and '\\' become \" and \\, every byte below 0x20 becomes \u00XX
 * (lower-case hex, \n and \t too), every other byte, DEL and bytes of
 * 0x80 and above included, is copied.  No quotes around it.
 *
 * Writes the escaped form of the len bytes at s into out, NUL terminated
 * when size > 0, and returns its length like snprintf: the result fits
 * if and only if the return is below size.  When it does not fit, out
 * holds the longest prefix of whole escapes that does (never half of
 * \u00XX), NUL terminated.
 */
size_t json_escape(char *out, size_t size, const char *s, size_t len);

/* Writes s as a JSON string, quoted, escaped by json_escape. */
void json_put_string(FILE *f, const char *s);

/*
 * The one decoder of a JSON string escape, shared by the readers (list
 * files here, audit lines in audit/auditread.c), which report its
 * errors in their own words.
 */
enum json_unescape_error {
	JSON_UNESC_END = 1,	/* the text ends at the backslash */
	JSON_UNESC_BAD,		/* not one of \" \\ \/ \b \f \n \r \t \u */
	JSON_UNESC_SHORT,	/* fewer than 4 bytes after \u */
	JSON_UNESC_HEX,		/* a byte of those 4 is not a hex digit */
	JSON_UNESC_LONE_LOW,	/* \uDC00-\uDFFF first */
	JSON_UNESC_LONE_HIGH,	/* \uD800-\uDBFF not followed by \u */
	JSON_UNESC_LOW_SHORT,	/* ... followed by \u and fewer than 4 bytes */
	JSON_UNESC_LOW_HEX,	/* ... followed by \u and a bad hex digit */
	JSON_UNESC_PAIR,	/* ... followed by a \u escape not DC00-DFFF */
};

/*
 * Decodes the escape at p (*p == '\\', end bounds the text): writes its
 * code point as UTF-8 (1 to 4 bytes; \u0000 is one NUL byte, which a
 * caller may refuse) to utf8, sets *n to their count and *cp to the code
 * point, and returns the bytes of text it took (2, 6 or 12).  Returns 0
 * with *err set when the escape is bad.
 */
size_t json_unescape(const char *p, const char *end, char utf8[4],
    size_t *n, unsigned *cp, enum json_unescape_error *err);

/* Called for each string of the array (decoded, NUL terminated,
 * borrowed); return -1 to stop. */
typedef int (*json_string_cb)(void *arg, const char *s, size_t len,
    size_t line);
/* Called for each element of the array that is not a string. */
typedef void (*json_other_cb)(void *arg, size_t line, const char *found);

enum json_result {
	JSON_OK,
	JSON_SYNTAX,		/* what and line say where */
	JSON_NO_KEY,		/* the top-level object has no such key */
	JSON_NOT_ARRAY,		/* line of the key's value */
	JSON_STOPPED,		/* on_string returned -1 */
};

struct json_problem {
	enum json_result kind;
	const char *what;	/* static text */
	size_t line;
};

/*
 * Reads text (len bytes) as one JSON document whose top level is an
 * object, and hands out the strings of the array under key.  The whole
 * document is checked first, so a broken one hands out nothing.  Nesting
 * is limited; \u escapes (four hex digits; surrogate pairs too) become UTF-8.
 * Returns 0, or -1 with *pb saying what was wrong.
 */
int json_key_strings(const char *text, size_t len, const char *key,
    json_string_cb on_string, json_other_cb on_other, void *arg,
    struct json_problem *pb);

#endif
