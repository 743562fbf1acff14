/*
 * note: C2SP signed notes (c2sp.org/signed-note) with Ed25519, as Go's
 * golang.org/x/mod/sumdb/note reads and writes them, and the C2SP
 * checkpoint (c2sp.org/tlog-checkpoint) they carry for the audit log.
 *
 * A signed note is a text ending in a newline, a blank line, then lines
 * "— NAME BASE64(keyid || signature)".  The key id is the first 4 bytes
 * (big-endian) of SHA-256(NAME || 0x0A || 0x01 || public key); a
 * verifier key is "NAME+KEYID(8 hex)+BASE64(0x01 || public key)".
 */
#ifndef CORDON_NOTE_H
#define CORDON_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct note_key;	/* a private key and its name */
struct note_verifier;	/* a public key and its name */

/* A new key for name (an origin: no spaces, no '+'); NULL on failure. */
struct note_key *note_key_generate(const char *name);
/* An Ed25519 private key in PEM (PKCS#8, as `openssl genpkey -algorithm
 * ed25519` writes it) at path, signing as name.  NULL with err set. */
struct note_key *note_key_load(const char *path, const char *name,
    char *err, size_t errlen);
/* Writes k as PEM to path, mode 0600.  Returns 0, or -1 with err set. */
int note_key_save(const struct note_key *k, const char *path, char *err,
    size_t errlen);
void note_key_free(struct note_key *k);

/* The verifier key of k ("NAME+KEYID+BASE64"), NUL-terminated in buf;
 * returns its length, 0 when buf is too small. */
size_t note_vkey(const struct note_key *k, char *buf, size_t size);

/* text signed by k: a new string (free it), or NULL.  text must end in
 * a newline and hold no blank line. */
char *note_sign(const struct note_key *k, const char *text);

/* Parses a verifier key; NULL with *why set. */
struct note_verifier *note_verifier_parse(const char *vkey,
    const char **why);
void note_verifier_free(struct note_verifier *v);

/*
 * Checks that msg (len bytes) is a note signed by v: returns 0 and the
 * length of its text (up to and with its last newline) in *text_len, or
 * -1 with *why set.
 */
int note_open(const struct note_verifier *v, const char *msg, size_t len,
    size_t *text_len, const char **why);

/* "ORIGIN\nSIZE\nBASE64(root)\n" into buf; returns the length, 0 when
 * buf is too small. */
size_t note_checkpoint_text(const char *origin, uint64_t size,
    const uint8_t root[32], char *buf, size_t bufsize);
/* The origin (copied into origin[originsize]), size and root of a
 * checkpoint text; 0, or -1 when it is not one. */
int note_checkpoint_parse(const char *text, size_t len, char *origin,
    size_t originsize, uint64_t *size, uint8_t root[32]);

#endif
