/*
 * pidfile: open without following links, flock, truncate, write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/pidfile.h"

/* The PID the file holds now, or 0. */
static long
pid_in(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = 0;

	if (n > 0) {
		buf[n] = '\0';
		(void)sscanf(buf, "%ld", &pid);
	}
	return pid;
}

int
pidfile_take(const char *path, char *err, size_t errlen)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "pidfile %s: %s", path,
		    errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "pidfile %s: locked: cordond "
			    "(pid %ld) is running already", path, pid_in(fd));
		else
			snprintf(err, errlen, "pidfile %s: %s", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void
pidfile_release(const char *path, int fd)
{
	if (fd == -1)
		return;
	/* unlink before closing: while we hold the lock nobody else can
	 * have taken the file over */
	(void)unlink(path);
	close(fd);
}
