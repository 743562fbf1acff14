/*
 * detach: going into the background as an init system expects of a
 * classic daemon.  The process forks before it starts any thread (a
 * thread does not survive fork()); the parent waits until the child has
 * started for real (policy loaded, sockets bound, threads running,
 * pidfile written) and exits 0, or shows the child's error messages and
 * exits 1.  Until then the child's stderr is a pipe to the parent.
 */
#ifndef CORDON_DETACH_H
#define CORDON_DETACH_H

struct detach {
	int status_fd;		/* to the parent; -1 when none */
};

/*
 * Forks.  In the parent it does not return: it copies what the child
 * writes on stderr to its own and exits 0 once the child calls
 * detach_done(), 1 if the child ends before that.  In the child it
 * returns 0 after setsid() with stdin and stdout on /dev/null and stderr
 * on the pipe; -1 (errno set) when the fork itself failed.
 */
int detach_start(struct detach *dt);

/* In the child: start-up is over.  The parent exits 0; stderr goes to
 * /dev/null.  Does nothing for a process that did not detach. */
void detach_done(struct detach *dt);

#endif
