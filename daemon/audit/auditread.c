/*
 * auditread: audit log files back into lines (auditread.h).  Lines are
 * split in a large buffer, read through a decoder when one is given
 * (auditread_source.h: gzip'd rotations are inflated by auditgz.c, which
 * only the tool links).  The input may have been edited by an attacker,
 * so a line's length is bounded and never trusted.  Lines into records:
 * auditread_parse.c and auditread_time.c.
 */
#include "audit/auditread.h"
#include "audit/auditread_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Reads go straight into a 1 MiB buffer: a million-line log is a few
 * hundred reads, and lines are handed out in place, never copied.
 */
#define READ_CHUNK (1024 * 1024)

struct auditread {
	int fd;
	const struct auditread_source *src;	/* NULL: read fd as it is */
	void *src_ctx;
	char *buf;
	size_t cap;
	size_t pos, end;	/* unread bytes are buf[pos..end) */
	size_t lineno;
	bool is_eof;
};

struct auditread *
auditread_from_fd(int fd, const struct auditread_source *src, void *ctx,
    const char **why)
{
	struct auditread *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->buf = malloc(READ_CHUNK + AUDIT_LINE_MAX + 1)) == NULL) {
		*why = "out of memory";
		free(r);
		if (src != NULL)
			src->free(ctx);
		close(fd);
		return NULL;
	}
	r->fd = fd;
	r->src = src;
	r->src_ctx = ctx;
	r->cap = READ_CHUNK + AUDIT_LINE_MAX + 1;
	return r;
}

struct auditread *
auditread_open(const char *path, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		*why = strerror(errno);
		return NULL;
	}
	return auditread_from_fd(fd, NULL, NULL, why);
}

void
auditread_close(struct auditread *r)
{
	if (r == NULL)
		return;
	if (r->src != NULL)
		r->src->free(r->src_ctx);
	close(r->fd);
	free(r->buf);
	free(r);
}

/* Moves the unread bytes to the front and reads more after them. */
static int
fill(struct auditread *r, const char **why)
{
	ssize_t n;

	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->end -= r->pos;
		r->pos = 0;
	}
	if (r->src != NULL)
		n = r->src->read(r->src_ctx, r->fd, r->buf + r->end,
		    r->cap - r->end, why);
	else {
		while ((n = read(r->fd, r->buf + r->end, r->cap - r->end)) <
		    0 && errno == EINTR)
			;
		if (n < 0)
			*why = strerror(errno);
	}
	if (n < 0)
		return -1;
	if (n == 0)
		r->is_eof = true;
	r->end += (size_t)n;
	return 0;
}

static int
hand_out(struct auditread *r, struct auditread_line *line, size_t len,
    bool is_long, bool is_torn)
{
	line->text = r->buf + r->pos;
	line->len = len;
	line->lineno = ++r->lineno;
	line->is_torn = is_torn;
	line->is_long = is_long || len > AUDIT_LINE_MAX;
	if (line->is_long)
		line->len = 0;
	r->pos += len + (is_torn ? 0 : 1);
	return 1;
}

int
auditread_next(struct auditread *r, struct auditread_line *line,
    const char **why)
{
	bool is_long = false;
	char *nl;

	for (;;) {
		nl = memchr(r->buf + r->pos, '\n', r->end - r->pos);
		if (nl != NULL)
			return hand_out(r, line,
			    (size_t)(nl - r->buf) - r->pos, is_long, false);
		if (r->end - r->pos > AUDIT_LINE_MAX) {
			/* Too long to be ours: drop it up to its newline. */
			is_long = true;
			r->pos = r->end;
		}
		if (r->is_eof) {
			if (r->pos == r->end && !is_long)
				return 0;
			return hand_out(r, line, r->end - r->pos, is_long,
			    true);
		}
		if (fill(r, why) == -1)
			return -1;
	}
}
