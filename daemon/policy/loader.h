/*
 * loader: where a policy comes from, joining config and lists.  A path
 * names lists (a compiled snapshot or a sources manifest) or a config
 * whose [policy] lists names them; the config's answer settings and
 * GeoIP databases go into the policy.  The daemon's reload thread
 * (serve/reload.h), `cordond -t`, `cordon check` and `cordon explain`
 * all load through here, so they cannot disagree on what a file means.
 */
#ifndef CORDON_LOADER_H
#define CORDON_LOADER_H

#include <stdbool.h>

struct config;
struct diag;
struct policy;
struct policy_answer;

/* true when path holds lists rather than a config: a compiled snapshot,
 * or a sources manifest (it has a [manifest] or [source NAME] section). */
bool loader_is_lists(const char *path);

/*
 * Loads a config file and the policy its [policy] lists names.  Problems
 * go to d.  On success returns 0 and, when not NULL, hands back the
 * config and policy (the caller frees them); returns -1 when either could
 * not be loaded.
 */
int loader_load(const char *config_path, struct diag *d,
    struct config **cfgp, struct policy **policyp);

/*
 * Loads path: a compiled snapshot (.cpol, recognised by its magic) or a
 * sources manifest and every source it names.  Bad lines are recorded in
 * d and skipped; a manifest, source or snapshot that cannot be read
 * fails the load (NULL).  Returns a policy holding one reference.
 */
struct policy *policy_load(const char *path, const struct policy_answer *pa,
    struct diag *d);

#endif
