/*
 * detach: fork with a ready pipe.  Two pipes: the child's stderr, copied
 * by the parent to its own, and a status pipe on which the child writes
 * one byte when it is up.  Both reach EOF in the parent when the child
 * dies, so the parent never waits on a child that is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/detach.h"

static void
copy_until_eof(int from, int to)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (write(to, buf, (size_t)n) != n)
			return;
	}
}

static void
parent(pid_t pid, int msg_fd, int status_fd)
{
	char c;
	ssize_t n;
	int st;

	copy_until_eof(msg_fd, STDERR_FILENO);
	do
		n = read(status_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) != 0)
		_exit(WEXITSTATUS(st));
	_exit(1);
}

int
detach_start(struct detach *dt)
{
	int msg[2], status[2], null;
	pid_t pid;

	dt->status_fd = -1;
	if (pipe2(msg, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(status, O_CLOEXEC) == -1) {
		close(msg[0]);
		close(msg[1]);
		return -1;
	}
	if ((pid = fork()) == -1) {
		close(msg[0]);
		close(msg[1]);
		close(status[0]);
		close(status[1]);
		return -1;
	}
	if (pid > 0) {
		close(msg[1]);
		close(status[1]);
		parent(pid, msg[0], status[0]);
	}
	close(msg[0]);
	close(status[0]);
	(void)setsid();
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		(void)dup2(null, STDIN_FILENO);
		(void)dup2(null, STDOUT_FILENO);
		close(null);
	}
	(void)dup2(msg[1], STDERR_FILENO);
	close(msg[1]);
	dt->status_fd = status[1];
	return 0;
}

void
detach_done(struct detach *dt)
{
	int null;

	if (dt->status_fd == -1)
		return;
	/* stderr first: the parent reads it to EOF before the status */
	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) != -1) {
		(void)dup2(null, STDERR_FILENO);
		close(null);
	}
	(void)write(dt->status_fd, "R", 1);
	close(dt->status_fd);
	dt->status_fd = -1;
}
