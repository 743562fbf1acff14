/*
 * check: what `cordond -t` and `cordon check` do, in one place: read a
 * config (and every list it names) or a manifest (and its sources),
 * print every problem as "cordon: FILE:LINE: reason" and a summary.
 */
#ifndef CORDON_CHECK_H
#define CORDON_CHECK_H

#include <stdbool.h>
#include <stdio.h>

struct config;
struct diag;
struct policy;

/* true when path holds lists rather than a config: a compiled snapshot,
 * or a sources manifest (it has a [manifest] or [source NAME] section). */
bool check_is_manifest(const char *path);

/*
 * Loads a config file and the policy its [policy] lists names.  Problems
 * go to d.  On success returns 0 and, when not NULL, hands back the
 * config and policy (the caller frees them); returns -1 when either could
 * not be loaded.
 */
int check_load(const char *config_path, struct diag *d,
    struct config **cfgp, struct policy **policyp);

/*
 * Checks path (config or manifest), prints problems to err and a one-line
 * summary to out.  Returns 0 when nothing was wrong, 1 otherwise.
 */
int check_run(const char *path, FILE *out, FILE *err);

#endif
