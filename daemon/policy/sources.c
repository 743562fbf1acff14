/*
 * sources: one parse of one source.  Picks the reader of the source's
 * format (formats.c, rpz.c) and holds what they share: the hand-off of
 * names and ranges to the callbacks, the line loop and the field
 * helpers.  Storing, deduplicating and matching entries is not done here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/diag.h"
#include "base/dname.h"
#include "policy/cidr.h"
#include "policy/sources_impl.h"

/*
 * Writes text as a double-quoted, escaped string for a message, cut at
 * QUOTEMAX characters: list files come from outside and may hold any
 * byte, and a message must stay one readable line.
 */
const char *
src_quote(char *buf, const char *s, size_t len)
{
	size_t at = 0, i;
	unsigned char c;

	buf[at++] = '"';
	for (i = 0; i < len && i < QUOTEMAX; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			at += (size_t)snprintf(buf + at, 5, "\\x%02x", c);
		else
			buf[at++] = (char)c;
	}
	if (i < len) {
		/* Do not cut a UTF-8 sequence in half. */
		while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80) {
			i--;
			at--;
		}
		memcpy(buf + at, "...", 3);
		at += 3;
	}
	buf[at++] = '"';
	buf[at] = '\0';
	return buf;
}

/* Hands one name to the callback, or reports why it is not a name. */
void
src_emit(struct parse *p, const char *text, size_t len, enum list_kind kind,
    size_t line)
{
	uint8_t wire[DNAME_MAXWIRE];
	const char *why;
	char q[QUOTEBUF];
	size_t n;

	if ((n = dname_from_text(text, len, wire, &why)) == 0) {
		diag_add(p->d, p->file, line, "%s %s", src_quote(q, text, len),
		    why);
		return;
	}
	if (p->cb(p->arg, p->src, wire, n, kind, line) != 0)
		p->is_stopped = true;
}

/* Hands one address range (text, NUL terminated) to the callback, or
 * reports why it is not one; msg is the text quoted in the report. */
void
src_emit_range(struct parse *p, const char *text, const char *msg,
    size_t msglen, enum list_kind kind)
{
	uint8_t lo[16], hi[16];
	const char *why;
	char q[QUOTEBUF];
	int family;

	if (cidr_parse_range(text, &family, lo, hi, &why) != 0) {
		diag_add(p->d, p->file, p->line, "%s %s",
		    src_quote(q, msg, msglen), why);
		return;
	}
	if (p->on_range(p->arg, p->src, family, lo, hi, kind, p->line) != 0)
		p->is_stopped = true;
}

void
src_bad_line(struct parse *p, const char *what, const char *text, size_t len)
{
	char q[QUOTEBUF];

	diag_add(p->d, p->file, p->line, "%s %s", what,
	    src_quote(q, text, len));
}

bool
src_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Returns the next blank-separated field of *s and its length, or NULL. */
const char *
src_next_field(const char **s, size_t *len)
{
	const char *start = *s, *end;

	while (src_is_blank(*start))
		start++;
	if (*start == '\0') {
		*s = start;
		return NULL;
	}
	for (end = start; *end != '\0' && !src_is_blank(*end); end++)
		continue;
	*s = end;
	*len = (size_t)(end - start);
	return start;
}

void
src_cut_comment(char *line, char mark)
{
	char *c = strchr(line, mark);

	if (c != NULL)
		*c = '\0';
}

char *
src_trim(char *s)
{
	char *end;

	while (src_is_blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && src_is_blank(end[-1]))
		*--end = '\0';
	return s;
}

bool
src_field_is(const char *f, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(f, word, len) == 0;
}

int
src_parse_lines(struct parse *p, src_line_fn fn)
{
	struct linereader *lr;
	size_t len;
	char *line;
	int rc = 0;

	if ((lr = linereader_open(p->file, p->d)) == NULL)
		return -1;
	while (!p->is_stopped && (line = linereader_next(lr, &len)) != NULL) {
		p->line = linereader_lineno(lr);
		/* A NUL would silently cut the line short. */
		if (memchr(line, '\0', len) != NULL) {
			diag_add(p->d, p->file, p->line,
			    "line has a NUL byte");
			continue;
		}
		fn(p, line);
	}
	if (linereader_error(lr)) {
		if (errno == ENOMEM)
			diag_add(p->d, p->file, linereader_lineno(lr) + 1,
			    "out of memory while reading the list");
		else
			diag_add(p->d, p->file, linereader_lineno(lr) + 1,
			    "read error: %s", strerror(errno));
		rc = -1;
	}
	linereader_close(lr);
	return p->is_stopped ? -1 : rc;
}

/* Lines joined by '\n' so JSON and zone file lines stay lines. */
char *
src_slurp(struct parse *p, size_t *size)
{
	struct linereader *lr;
	char *buf = NULL, *nbuf, *line;
	size_t len, used = 0, cap = 0;

	if ((lr = linereader_open(p->file, p->d)) == NULL)
		return NULL;
	while ((line = linereader_next(lr, &len)) != NULL) {
		if (used + len + 2 > cap) {
			cap = (used + len + 2) * 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				diag_add(p->d, p->file, 0, "out of memory "
				    "while reading the list");
				goto fail;
			}
			buf = nbuf;
		}
		memcpy(buf + used, line, len);
		used += len;
		buf[used++] = '\n';
	}
	if (linereader_error(lr)) {
		if (errno == ENOMEM)
			diag_add(p->d, p->file, 0, "out of memory while "
			    "reading the list");
		else
			diag_add(p->d, p->file, 0, "read error: %s",
			    strerror(errno));
		goto fail;
	}
	linereader_close(lr);
	*size = used;
	if (buf == NULL && (buf = strdup("")) == NULL)
		diag_add(p->d, p->file, 0, "out of memory while reading the "
		    "list");
	else
		buf[used] = '\0';	/* the loop keeps a byte for it */
	return buf;
fail:
	linereader_close(lr);
	free(buf);
	return NULL;
}

int
source_parse_all(const struct source *src, struct diag *d,
    source_name_cb on_name, source_range_cb on_range, void *arg)
{
	struct parse p = {
		.src = src, .d = d, .cb = on_name, .on_range = on_range,
		.arg = arg, .file = src->file,
	};

	/* A url source has a file only once `cordon compile` fetched it:
	 * the daemon never fetches (no network I/O while loading). */
	if (src->file == NULL) {
		if (src->manifest != NULL)
			diag_add(d, src->manifest, src->line, "[source %s]: "
			    "url sources are fetched by `cordon compile`: "
			    "load the policy.cpol it builds", src->name);
		else
			diag_add(d, src->url ? src->url : src->name, 0, "url "
			    "sources are fetched by `cordon compile`: load the "
			    "policy.cpol it builds");
		return -1;
	}
	switch (src->format) {
	case FORMAT_DOMAINS:
		return src_parse_lines(&p, src_domains_line);
	case FORMAT_HOSTS:
		return src_parse_lines(&p, src_hosts_line);
	case FORMAT_ADBLOCK:
		return src_parse_lines(&p, src_adblock_line);
	case FORMAT_RPZ:
		return src_parse_rpz(&p);
	case FORMAT_JSON:
		return src_parse_json(&p);
	case FORMAT_CIDR:
		if (on_range != NULL)
			return src_parse_lines(&p, src_cidr_line);
		diag_add(d, src->file, 0, "format cidr is not supported by "
		    "this build yet");
		return -1;
	}
	return -1;
}
