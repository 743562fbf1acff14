/*
 * auditgz: gzip'd audit logs, inflated with zlib's inflate() so that
 * what follows a member can be checked.
 */
#include "audit/auditgz.h"
#include "audit/auditread.h"
#include "audit/auditread_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define IN_CHUNK (256 * 1024)

struct gz {
	int fd;
	bool is_member_done;	/* inflate ended a member; next or end */
	bool is_in_eof;		/* read(2) has returned 0 */
	z_stream zs;
	unsigned char *in;	/* raw bytes: in[zs.next_in .. +avail_in) */
};

static ssize_t
read_some(int fd, void *dst, size_t n)
{
	ssize_t got;

	while ((got = read(fd, dst, n)) < 0 && errno == EINTR)
		;
	return got;
}

/* Appends to the raw bytes waiting in r->in; -1 with errno on error. */
static int
read_in(struct gz *r)
{
	ssize_t got;

	if (r->zs.avail_in > 0 && r->zs.next_in != r->in)
		memmove(r->in, r->zs.next_in, r->zs.avail_in);
	r->zs.next_in = r->in;
	got = read_some(r->fd, r->in + r->zs.avail_in, IN_CHUNK -
	    r->zs.avail_in);
	if (got < 0)
		return -1;
	if (got == 0)
		r->is_in_eof = true;
	r->zs.avail_in += (uInt)got;
	return 0;
}

/*
 * After a member: the end of the file, or another member's magic.
 * Returns 1 at the end, 0 to go on, -1 with why set.
 */
static int
next_member(struct gz *r, const char **why)
{
	while (r->zs.avail_in < 2 && !r->is_in_eof) {
		if (read_in(r) != 0) {
			*why = strerror(errno);
			return -1;
		}
	}
	if (r->zs.avail_in == 0)
		return 1;
	if (r->zs.avail_in < 2 || r->zs.next_in[0] != 0x1f ||
	    r->zs.next_in[1] != 0x8b) {
		*why = "bytes after the end of the gzip data";
		return -1;
	}
	(void)inflateReset(&r->zs);
	r->is_member_done = false;
	return 0;
}

/* Inflates up to n bytes into dst: how many (0 at the end), or -1. */
static ssize_t
read_gz(void *ctx, int fd, char *dst, size_t n, const char **why)
{
	struct gz *r = ctx;
	int rc;

	(void)fd;
	r->zs.next_out = (Bytef *)dst;
	r->zs.avail_out = (uInt)n;
	while (r->zs.avail_out == n) {
		if (r->is_member_done) {
			if ((rc = next_member(r, why)) != 0)
				return rc > 0 ? 0 : -1;
		}
		if (r->zs.avail_in == 0) {
			if (r->is_in_eof) {
				*why = "the gzip file is truncated";
				return -1;
			}
			if (read_in(r) != 0) {
				*why = strerror(errno);
				return -1;
			}
			continue;
		}
		rc = inflate(&r->zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			r->is_member_done = true;
		else if (rc == Z_MEM_ERROR) {
			*why = "out of memory";
			return -1;
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			*why = "the gzip data is corrupt";
			return -1;
		}
	}
	return (ssize_t)(n - r->zs.avail_out);
}

static void
free_gz(void *ctx)
{
	struct gz *r = ctx;

	(void)inflateEnd(&r->zs);
	free(r->in);
	free(r);
}

static const struct auditread_source gz_source = { read_gz, free_gz };

struct auditread *
auditread_open_any(const char *path, const char **why)
{
	unsigned char magic[2];
	struct gz *r;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*why = strerror(errno);
		return NULL;
	}
	while ((n = pread(fd, magic, 2, 0)) < 0 && errno == EINTR)
		;
	if (n != 2 || magic[0] != 0x1f || magic[1] != 0x8b)
		return auditread_from_fd(fd, NULL, NULL, why);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->in = malloc(IN_CHUNK)) == NULL ||
	    inflateInit2(&r->zs, 15 + 16) != Z_OK) {
		if (r != NULL)
			free(r->in);
		free(r);
		close(fd);
		*why = "out of memory";
		return NULL;
	}
	r->fd = fd;
	r->zs.next_in = r->in;
	return auditread_from_fd(fd, &gz_source, r, why);
}
