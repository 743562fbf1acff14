/*
 * diag: collects "FILE:LINE: reason" messages for every text input
 * (config, manifest, lists) and reads text files line by line while
 * counting lines.  It prints nothing by itself until asked, so one run
 * can report every mistake at once.
 *
 * Out of memory, the one policy for the whole project: library code
 * (everything in libcordon: config, manifest and list parsing, policy
 * building, snapshots, GeoIP, fetching) never aborts or exits when an
 * allocation fails.  It frees what it built, returns its ordinary error
 * and, where it has a diag, records the reason as "FILE[:LINE]: ...
 * out of memory while DOING" like any other problem; a reload that
 * cannot allocate therefore fails as a whole and the daemon keeps the
 * policy it had.  A diag that cannot store a message still counts it.
 * Only the top level of the `cordon` tool (cmd_*.c) may give up on an
 * allocation failure: it prints "cordon: out of memory while DOING"
 * and exits 1 (cmd_oom() in cmd.h), never abort().
 */
#ifndef CORDON_DIAG_H
#define CORDON_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct diag;

/* Returns a new, empty collector; free with diag_free(). */
struct diag *diag_new(void);
void diag_free(struct diag *d);

/*
 * Records "FILE:LINE: reason" (line 0 records "FILE: reason").  Only the
 * first DIAG_KEEP messages are stored; later ones are counted.
 */
#define DIAG_KEEP 1000
void diag_add(struct diag *d, const char *file, size_t line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Number of messages recorded (including those not stored). */
size_t diag_count(const struct diag *d);
/* The i-th stored message, without the "cordon: " prefix; NULL past end. */
const char *diag_get(const struct diag *d, size_t i);
/* Prints each stored message as "cordon: MSG\n", then "cordon: N more"
 * when messages were counted but not stored. */
void diag_print(const struct diag *d, FILE *out);
/* Forgets every message. */
void diag_clear(struct diag *d);

/*
 * Line reader.  Lines may be any length; "\r\n" and "\n" both end a line,
 * and a final line without a newline is returned too.
 */
struct linereader;

/* Opens path for reading; on failure records "PATH: strerror" in d
 * and returns NULL.  Close with linereader_close(). */
struct linereader *linereader_open(const char *path, struct diag *d);
/* Reads from a memory buffer (borrowed; must outlive the reader); name is
 * used in messages. */
struct linereader *linereader_mem(const char *name, const char *buf,
    size_t len);
/* Returns the next line without its end-of-line, NUL terminated, borrowed
 * until the next call; *len receives its length.  NULL at end of input or
 * on a read error (linereader_error() tells which). */
char *linereader_next(struct linereader *r, size_t *len);
/* Line number of the line last returned (1-based). */
size_t linereader_lineno(const struct linereader *r);
/* The name given at open. */
const char *linereader_name(const struct linereader *r);
/* true when reading stopped on an I/O error, not end of input. */
bool linereader_error(const struct linereader *r);
void linereader_close(struct linereader *r);

#endif
