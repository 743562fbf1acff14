/*
 * atomicfile: writes a file whole or not at all: the data goes to a
 * temporary file in the same folder, is synced, then renamed over path,
 * so a reader (or a daemon reloading) never sees half a file and a
 * failure leaves any old file as it was.
 */
#ifndef CORDON_ATOMICFILE_H
#define CORDON_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

struct diag;

/*
 * Writes len bytes of data to path with mode, then syncs the folder too,
 * so the rename itself survives a crash.  Returns 0, or -1 with errno
 * set; the old file, if any, is then as it was.
 */
int atomicfile_replace(const char *path, const void *data, size_t len,
    mode_t mode);

/* Writes len bytes of data to path (mode 0644).  Returns 0, or -1 with
 * "PATH: cannot write: reason" recorded in d. */
int atomicfile_write(const char *path, const void *data, size_t len,
    struct diag *d);

#endif
