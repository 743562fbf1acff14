/*
 * server: listeners and workers.  Binds every listen address for UDP and
 * TCP, once per worker with SO_REUSEPORT, so the kernel spreads clients
 * over workers that share nothing on the hot path.  Each worker is a
 * thread with its own event loop, sockets, cache, forwarder and counters
 * (a query_env).  UDP is read and answered in batches (recvmmsg and
 * sendmmsg); TCP follows RFC 7766: many queries per connection, answered
 * as they complete, idle connections closed, a cap on connections.
 */
#ifndef CORDON_SERVER_H
#define CORDON_SERVER_H

#include <stddef.h>

#include "query.h"

struct auditlog;
struct config;
struct policy_slot;
struct server;

/*
 * Creates the workers and binds every socket (call before dropping
 * privileges).  Borrows cfg, slot and the logs for the server's life.
 * Returns NULL with a reason in err.
 */
struct server *server_new(const struct config *cfg,
    struct policy_slot *slot, struct auditlog *blocked_log,
    struct auditlog *query_log, char *err, size_t errlen);

/* Starts the worker threads.  Returns 0, or -1 with a reason in err. */
int server_start(struct server *s, char *err, size_t errlen);

/* Asks every worker to stop and waits for them.  Queries waiting on the
 * upstream are dropped unanswered. */
void server_stop(struct server *s);

/* Sums the workers' counters (approximate while running). */
void server_get_stats(struct server *s, struct query_stats *st);

void server_free(struct server *s);

#endif
