/*
 * tlog: the audit writer's side of the transparency log (PRODUCT.md,
 * "Transparency: signed checkpoints").  Every line the writer puts in
 * the file becomes a leaf of the RFC 9162 tree (merkle.h); at the
 * checkpoint points (every checkpoint_every, at reload, rotation and
 * stop) a C2SP checkpoint signed with the operator's Ed25519 key
 * (note.h) is appended to the checkpoints file.  The tree's compact
 * form is kept in a tree file beside the log, so a restart continues
 * the tree; lines written after it was last saved are read back from
 * the log.  Runs on the writer thread only.
 */
#ifndef CORDON_TLOG_H
#define CORDON_TLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tlog_conf {
	const char *key_path;		/* Ed25519 private key, PEM */
	const char *origin;		/* NULL: cordon/HOSTNAME */
	const char *checkpoints_path;	/* NULL: LOG.checkpoints */
	uint32_t every_ms;		/* a checkpoint at least this often */
};

struct tlog;

/*
 * Loads the key and the tree file (LOG.tree) and catches up with the
 * lines of log_path written after it.  Returns NULL with err set.  A
 * missing tree file with a log that does not start at seq 1 is noted in
 * err_note (the checkpoints then cannot verify from seq 1), not an error.
 */
struct tlog *tlog_open(const struct tlog_conf *c, const char *log_path,
    char *err, size_t errlen, char *note, size_t notelen);

/* A line the writer wrote (no newline). */
void tlog_line(struct tlog *t, const char *line, size_t len);

/* A point where a checkpoint may be due: writes one when forced or when
 * every_ms has passed (and the tree grew), then saves the tree.  Returns
 * the line just appended to the checkpoints file (no newline; valid until
 * the next call), or NULL when none was written. */
const char *tlog_point(struct tlog *t, bool force, size_t *len);

uint64_t tlog_size(const struct tlog *t);

void tlog_close(struct tlog *t);

#endif
