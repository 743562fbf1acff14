/*
 * auditread_source: how a decoder (auditgz.h) feeds auditread's line
 * splitter.  Seen only by auditread.c and the decoders.
 */
#ifndef CORDON_AUDITREAD_SOURCE_H
#define CORDON_AUDITREAD_SOURCE_H

#include <sys/types.h>

struct auditread;

struct auditread_source {
	/* Up to n decoded bytes from fd into dst: how many, 0 at the end,
	 * or -1 with *why set to a static reason. */
	ssize_t (*read)(void *ctx, int fd, char *dst, size_t n,
	    const char **why);
	void (*free)(void *ctx);
};

/* A reader of fd through src (NULL: fd as it is).  Owns fd and ctx from
 * here on, also when it fails (NULL, *why set). */
struct auditread *auditread_from_fd(int fd,
    const struct auditread_source *src, void *ctx, const char **why);

#endif
