/*
 * atomicfile: files that appear whole or not at all (temporary file in
 * the same folder, fsync, rename), for every output of `cordon compile`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "diag.h"

int
atomicfile_write(const char *path, const void *data, size_t len,
    struct diag *d)
{
	const char *buf = data;
	char *tmp = NULL;
	int fd = -1, saved;

	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		diag_add(d, path, 0, "cannot write: out of memory");
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1)
		goto fail;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	diag_add(d, path, 0, "cannot write: %s", strerror(saved));
	return -1;
}
