/*
 * snapshot: the compiled policy file (policy.cpol).  `cordon compile`
 * writes a policy's tables as they are in memory, behind a versioned
 * header and a SHA-256 checksum; cordond maps the file and uses the
 * tables in place, so loading a million names parses nothing.  A
 * truncated, corrupt or wrong-version file is refused with a reason.
 *
 * Layout: a fixed header (magic, version, byte order, size, checksum of
 * everything after the header, policy id, section table), then 8-byte
 * aligned sections: the lists (kind, name, category), the name table.
 */
#ifndef CORDON_SNAPSHOT_H
#define CORDON_SNAPSHOT_H

#include <stdbool.h>

struct diag;
struct policy;
struct policy_answer;

/* 3: domtree slots placed by base/hash's hash_fixed (2: by FNV-1a 32). */
#define SNAPSHOT_VERSION 3

/* true when path starts with the snapshot magic. */
bool snapshot_is_snapshot(const char *path);

/*
 * Writes p to path atomically (a temporary file in the same folder,
 * fsync, rename): a failed write leaves any old file as it was.
 * Returns 0, or -1 with the reason recorded in d.
 */
int snapshot_write(const struct policy *p, const char *path,
    struct diag *d);

/* Maps path and returns a policy using it in place, or NULL with the
 * reason recorded in d. */
struct policy *snapshot_load(const char *path,
    const struct policy_answer *pa, struct diag *d);

#endif
