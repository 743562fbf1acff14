/*
 * pidfile: the daemon's PID in a file that is also its lock.  The file
 * is locked (flock) for as long as the daemon runs, so a second instance
 * with the same pidfile refuses to start instead of overwriting it, and
 * a stale file left by a crash is simply taken over.
 */
#ifndef CORDON_PIDFILE_H
#define CORDON_PIDFILE_H

#include <stddef.h>

/*
 * Opens and locks path, and writes the calling process's PID into it.
 * Returns the open descriptor (keep it: closing drops the lock), or -1
 * with the reason in err (another instance running, or why the file
 * could not be written).  Never follows a symbolic link at path.
 */
int pidfile_take(const char *path, char *err, size_t errlen);

/* Removes path if fd (from pidfile_take(), or -1 for none) still holds
 * its lock, and closes fd. */
void pidfile_release(const char *path, int fd);

#endif
