/*
 * sources_impl: what the readers of manifests and list formats share
 * (manifest.c, sources.c, formats.c, rpz.c); not a contract for anyone
 * else.  One parse of one source: its state, the hand-off of names and
 * ranges to the caller's callbacks, and the field helpers every line
 * format uses.
 */
#ifndef CORDON_SOURCES_IMPL_H
#define CORDON_SOURCES_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/sources.h"

#define QUOTEMAX 64		/* characters of bad text shown in messages */
#define QUOTEBUF (QUOTEMAX * 4 + 8)

/*
 * Writes text as a double-quoted, escaped string for a message into buf
 * (QUOTEBUF bytes), cut at QUOTEMAX characters: list files come from
 * outside and may hold any byte, and a message must stay one readable
 * line.  Returns buf.
 */
const char *src_quote(char *buf, const char *s, size_t len);

struct parse {
	const struct source *src;
	struct diag *d;
	source_name_cb cb;
	source_range_cb on_range;	/* NULL: names only */
	void *arg;
	const char *file;
	size_t line;		/* the line being read */
	bool is_stopped;	/* the callback asked to stop */
};

/* Hands one name to the callback, or reports why it is not a name. */
void src_emit(struct parse *p, const char *text, size_t len,
    enum list_kind kind, size_t line);

/* Hands one address range (text, NUL terminated) to the callback, or
 * reports why it is not one; msg is the text quoted in the report. */
void src_emit_range(struct parse *p, const char *text, const char *msg,
    size_t msglen, enum list_kind kind);

/* Reports "WHAT \"TEXT\"" for the current line. */
void src_bad_line(struct parse *p, const char *what, const char *text,
    size_t len);

bool src_is_blank(char c);
/* Returns the next blank-separated field of *s and its length, or NULL. */
const char *src_next_field(const char **s, size_t *len);
/* Ends line at the first mark. */
void src_cut_comment(char *line, char mark);
/* Cuts surrounding blanks. */
char *src_trim(char *s);
/* Whether the field is word, ignoring case. */
bool src_field_is(const char *f, size_t len, const char *word);

/* Calls fn for each line of the file, setting p->line; a line with a NUL
 * byte is reported instead.  Returns as source_parse_all() does. */
typedef void (*src_line_fn)(struct parse *p, char *line);
int src_parse_lines(struct parse *p, src_line_fn fn);

/* Reads the whole file, lines joined by '\n' (line ends and a UTF-8 BOM
 * as the line reader takes them) and NUL terminated; *size excludes the
 * NUL.  NULL when it could not be read, reported.  Free with free(). */
char *src_slurp(struct parse *p, size_t *size);

/* formats.c: the line formats, and JSON. */
void src_domains_line(struct parse *p, char *line);
void src_hosts_line(struct parse *p, char *line);
void src_adblock_line(struct parse *p, char *line);
void src_cidr_line(struct parse *p, char *line);
int src_parse_json(struct parse *p);

/* rpz.c: RPZ zone files, through ldns. */
int src_parse_rpz(struct parse *p);

#endif
