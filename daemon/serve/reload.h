/*
 * reload: policy reloads off the event loops.  A reload reads the config
 * file and the lists (manifest or snapshot) it names in a thread of its
 * own, then hands the result to the main loop, which swaps it in.  Asked
 * again while loading, it loads once more after the current run, so the
 * last request always sees the files as they were when it was made.
 */
#ifndef CORDON_RELOAD_H
#define CORDON_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "serve/control.h"

struct config;
struct diag;
struct event_base;
struct reload;
struct policy;

/*
 * Called on the main loop when a load ends.  cfg and p are the new
 * config and policy (NULL when the load failed; d says why); the apply
 * function takes ownership of both, puts the policy in force, writes a
 * one-line outcome to msg and returns whether the reload succeeded.
 */
typedef bool (*reload_apply)(void *arg, struct config *cfg,
    struct policy *p, struct diag *d, const char *by, char *msg,
    size_t msglen);

struct reload *reload_new(struct event_base *base, const char *config_path,
    reload_apply apply, void *arg);

/* Asks for a reload; done (may be NULL) hears its outcome. */
void reload_request(struct reload *l, const char *by, control_done done,
    void *ctx);

/* Waits for a load in progress, answers waiters "stopping", frees l. */
void reload_free(struct reload *l);

#endif
