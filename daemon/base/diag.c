/*
 * diag: the "FILE:LINE: reason" collector and the line reader every text
 * input goes through.  It owns no policy about what is an error; callers
 * decide that and word the reason.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>

#include "base/diag.h"

struct diag {
	char **msgs;		/* the first DIAG_KEEP messages */
	size_t nstored;
	size_t count;		/* every message, stored or not */
};

struct linereader {
	char *name;
	FILE *fp;		/* NULL when reading from memory */
	const char *mem;
	size_t memlen, mempos;
	char *buf;
	size_t cap;
	size_t lineno;
	bool is_error;
};

struct diag *
diag_new(void)
{
	return calloc(1, sizeof(struct diag));
}

void
diag_free(struct diag *d)
{
	if (d == NULL)
		return;
	diag_clear(d);
	free(d->msgs);
	free(d);
}

void
diag_add(struct diag *d, const char *file, size_t line, const char *fmt, ...)
{
	char reason[1024];
	char *msg;
	va_list ap;
	int n;

	d->count++;
	if (d->nstored >= DIAG_KEEP)
		return;
	/* A message that cannot be stored is still counted, so the summary
	 * line of diag_print() accounts for it. */
	if (d->msgs == NULL) {
		d->msgs = calloc(DIAG_KEEP, sizeof(*d->msgs));
		if (d->msgs == NULL)
			return;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = snprintf(NULL, 0, "%s:%zu: %s", file, line, reason);
	else
		n = snprintf(NULL, 0, "%s: %s", file, reason);
	if (n < 0 || (msg = malloc((size_t)n + 1)) == NULL)
		return;
	if (line > 0)
		snprintf(msg, (size_t)n + 1, "%s:%zu: %s", file, line, reason);
	else
		snprintf(msg, (size_t)n + 1, "%s: %s", file, reason);
	d->msgs[d->nstored++] = msg;
}

size_t
diag_count(const struct diag *d)
{
	return d->count;
}

const char *
diag_get(const struct diag *d, size_t i)
{
	if (i >= d->nstored)
		return NULL;
	return d->msgs[i];
}

void
diag_print(const struct diag *d, FILE *out)
{
	size_t i;

	for (i = 0; i < d->nstored; i++)
		fprintf(out, "cordon: %s\n", d->msgs[i]);
	if (d->count > d->nstored)
		fprintf(out, "cordon: %zu more\n", d->count - d->nstored);
}

void
diag_clear(struct diag *d)
{
	size_t i;

	for (i = 0; i < d->nstored; i++)
		free(d->msgs[i]);
	d->nstored = 0;
	d->count = 0;
}

static struct linereader *
reader_new(const char *name)
{
	struct linereader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->name = strdup(name)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

struct linereader *
linereader_open(const char *path, struct diag *d)
{
	struct linereader *r;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		diag_add(d, path, 0, "%s", strerror(errno));
		return NULL;
	}
	if ((r = reader_new(path)) == NULL) {
		diag_add(d, path, 0, "out of memory while opening it");
		fclose(fp);
		return NULL;
	}
	r->fp = fp;
	return r;
}

struct linereader *
linereader_mem(const char *name, const char *buf, size_t len)
{
	struct linereader *r;

	if ((r = reader_new(name)) == NULL)
		return NULL;
	r->mem = buf;
	r->memlen = len;
	return r;
}

/* Copies the next memory line (with its '\n', if any) into r->buf. */
static ssize_t
next_mem(struct linereader *r)
{
	const char *start = r->mem + r->mempos;
	size_t left = r->memlen - r->mempos;
	const char *nl;
	size_t n;

	if (left == 0)
		return -1;
	nl = memchr(start, '\n', left);
	n = nl ? (size_t)(nl - start) + 1 : left;
	if (n + 1 > r->cap) {
		char *p = realloc(r->buf, n + 1);

		if (p == NULL) {
			r->is_error = true;
			errno = ENOMEM;
			return -1;
		}
		r->buf = p;
		r->cap = n + 1;
	}
	memcpy(r->buf, start, n);
	r->buf[n] = '\0';
	r->mempos += n;
	return (ssize_t)n;
}

char *
linereader_next(struct linereader *r, size_t *len)
{
	ssize_t n;
	char *line;

	if (r->is_error)
		return NULL;
	if (r->fp != NULL) {
		n = getline(&r->buf, &r->cap, r->fp);
		if (n < 0 && ferror(r->fp))
			r->is_error = true;
	} else
		n = next_mem(r);
	if (n < 0)
		return NULL;
	line = r->buf;
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	r->lineno++;
	/* Editors on Windows start UTF-8 files with a byte order mark; it is
	 * not part of the first name or key. */
	if (r->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	*len = (size_t)n;
	return line;
}

size_t
linereader_lineno(const struct linereader *r)
{
	return r->lineno;
}

const char *
linereader_name(const struct linereader *r)
{
	return r->name;
}

bool
linereader_error(const struct linereader *r)
{
	return r->is_error;
}

void
linereader_close(struct linereader *r)
{
	if (r == NULL)
		return;
	if (r->fp != NULL)
		fclose(r->fp);
	free(r->buf);
	free(r->name);
	free(r);
}
