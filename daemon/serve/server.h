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

#include "serve/forward.h"
#include "serve/query.h"

struct auditlog;
struct dnstap;
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
    struct auditlog *query_log, struct dnstap *tap, char *err,
    size_t errlen);

/* Starts the worker threads.  Returns 0, or -1 with a reason in err. */
int server_start(struct server *s, char *err, size_t errlen);

/* Asks every worker to stop and waits for them.  Queries waiting on the
 * upstream are dropped unanswered. */
void server_stop(struct server *s);

/* Everything the workers count, summed.  Workers publish their counters
 * once a second, so a reading is at most about a second old. */
struct server_stats {
	struct query_stats q;
	struct forward_stats fwd;
	struct upstream_stats *upstreams;	/* one per configured server */
	size_t nupstreams;
	struct list_counter *lists;		/* blocked per list name */
	size_t nlists;
	uint64_t cache_entries;
	uint64_t inflight;
	uint64_t tcp_clients;
};

/* Fills st (free its arrays with server_stats_clear()). */
void server_get_stats(struct server *s, struct server_stats *st);
void server_stats_clear(struct server_stats *st);

/*
 * Asks every worker to drop cached answers for name and the names below
 * it (lower-case wire form; NULL for everything).  Returns at once; the
 * workers flush on their next turn of the loop.
 */
void server_flush(struct server *s, const uint8_t *name);

/*
 * Whether every worker's loop is turning: false, with the reason in
 * why, when one was not started, has ended, or has not run its
 * once-a-second timer for stall_ms.  For /healthz.
 */
bool server_healthy(struct server *s, uint64_t stall_ms, char *why,
    size_t whylen);

void server_free(struct server *s);

#endif
