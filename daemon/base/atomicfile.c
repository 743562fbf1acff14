/*
 * atomicfile: files that appear whole or not at all (temporary file in
 * the same folder, fsync, rename), for every output of `cordon compile`.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomicfile.h"
#include "base/diag.h"

/* fsync of the folder holding path: the rename is then on disk too. */
static void
sync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

int
atomicfile_replace(const char *path, const void *data, size_t len,
    mode_t mode)
{
	const char *buf = data;
	char *tmp = NULL;
	int fd = -1, saved;

	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		errno = ENOMEM;
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
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	sync_dir_of(path);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	errno = saved;
	return -1;
}

int
atomicfile_write(const char *path, const void *data, size_t len,
    struct diag *d)
{
	if (atomicfile_replace(path, data, len, 0644) == 0)
		return 0;
	diag_add(d, path, 0, "cannot write: %s", strerror(errno));
	return -1;
}
