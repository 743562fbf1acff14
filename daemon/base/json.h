/*
 * json: writing JSON text to a stdio stream, for report.json and other
 * machine-readable output of the `cordon` tool (the audit log's lines are
 * formatted by audit.c, on the hot path, without stdio), and reading the
 * names a `json:KEY` list holds.
 */
#ifndef CORDON_JSON_H
#define CORDON_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Writes s as a JSON string: quotes, backslashes and control characters
 * escaped, bytes of 0x80 and above copied (UTF-8 passes through). */
void json_put_string(FILE *f, const char *s);

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
 * is limited; \uXXXX escapes (surrogate pairs too) become UTF-8.
 * Returns 0, or -1 with *pb saying what was wrong.
 */
int json_key_strings(const char *text, size_t len, const char *key,
    json_string_cb on_string, json_other_cb on_other, void *arg,
    struct json_problem *pb);

#endif
