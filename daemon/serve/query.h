/*
 * query: one query's life, from the bytes a client sent to the bytes it
 * gets back.
 *
 *   receive (server) → wire_parse_query → ACL → policy(name)
 *     blocked  → reply_blocked, audit line        → answer now
 *     allowed  → cache hit  → reply_from_cache    → answer now
 *              → cache miss → forward_query ... on_upstream_answer:
 *                             scan, strip OPT, cache_store,
 *                             reply_from_cache    → answer later
 *
 * Answers made now are written into the caller's buffer, so the server
 * can send a whole batch with one system call.  Answers made later go
 * through the env's send hook.  A struct pending owns everything a
 * forwarded query needs until its answer is sent; the client's transport
 * (a TCP connection) is held through the hooks, never freed here.
 *
 * One query_env per worker thread; nothing here is shared between
 * threads except the policy slot and the audit logs, which are
 * thread-safe.
 */
#ifndef CORDON_QUERY_H
#define CORDON_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "base/log.h"
#include "serve/forward.h"

struct auditlog;
struct event_base;
struct config;
struct policy_slot;
struct query_env;
struct dnstap_queue;

/* Who asked and how to reach them.  Plain data, copied by a pending
 * query; conn is the server's (a TCP connection), opaque here. */
struct client {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool is_tcp;
	int fd;			/* UDP: the socket the query came in on */
	void *conn;		/* TCP: the connection */
	/* UDP on a wildcard address: the local address the query was sent
	 * to, so the answer leaves from it (IP_PKTINFO). */
	bool has_local;
	uint8_t local[16];
	unsigned ifindex;
};

/* Counters of one worker, summed by the server for metrics. */
struct query_stats {
	uint64_t queries[2];		/* udp, tcp */
	uint64_t rcodes[24];		/* answers by rcode (BADVERS = 16) */
	uint64_t dropped;		/* unreadable packets */
	uint64_t blocked;
	uint64_t geo_blocked;		/* by block_countries/block_asns */
	uint64_t refused_acl;
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t upstream_failures;	/* SERVFAIL made by us */
	uint64_t log_dropped;		/* audit lines the queue refused */
	uint64_t log_suppressed;	/* lines folded into "suppressed" */
	uint64_t ratelimited;		/* queries dropped by [server] ratelimit */
	uint64_t slipped;		/* limited queries answered with TC */
	uint64_t refused_rd0;		/* RD=0 not answered from the cache */
	uint64_t client_inflight_full;	/* [server] client_inflight reached */
};

/* Triggers, as in the audit log. */
enum trigger {
	TRIGGER_QNAME,
	TRIGGER_CNAME,
	TRIGGER_IP,
	TRIGGER_GEO,
	TRIGGER_COUNT,
};

/* Blocked queries of one list (by name, so counts survive reloads). */
#define LIST_NAME_MAX 64
struct list_counter {
	char name[LIST_NAME_MAX];
	uint64_t blocked[TRIGGER_COUNT];
};

/* Hooks the server provides for answers made later. */
struct query_io {
	/* Sends msg to c (UDP: sendto from c->fd; TCP: on c->conn). */
	void (*send)(void *ctx, const struct client *c, const uint8_t *msg,
	    size_t len);
	/* c has a query waiting on the upstream (TCP: hold the connection
	 * until done is called). */
	void (*hold)(void *ctx, const struct client *c);
	/* c's pending query is over (TCP: drop the connection's hold). */
	void (*done)(void *ctx, const struct client *c);
	/* c's connection is gone: do not send (may be NULL). */
	bool (*gone)(void *ctx, const struct client *c);
	void *ctx;
};

/* The world a worker's env runs in: its clocks and the forwarder's
 * (forward_net_io() and clock_system() for the real one). */
struct query_world {
	struct clock clock;
	struct forward_io net;
	struct dnstap_queue *tap;	/* NULL: no dnstap */
	bool tap_forwarder;		/* upstream exchanges too */
};

/*
 * A worker's env: takes a policy reference from slot, creates the cache
 * and the forwarder in world (copied); a timer on base reports
 * suppressed audit lines.  Returns NULL when memory ran out.
 */
struct query_env *query_env_new(const struct config *cfg,
    struct policy_slot *slot, struct event_base *base,
    struct auditlog *blocked_log, struct auditlog *query_log,
    const struct query_io *io, const struct query_world *world);
/* Ends every forwarded query without answering and frees env. */
void query_env_free(struct query_env *env);

/* Takes the newest policy if a reload put one in the slot.  Cheap;
 * called by the server once per batch of packets. */
void query_env_refresh(struct query_env *env);

/*
 * Handles one packet from c.  Returns the length of an answer written to
 * out now, or 0 when there is none yet (dropped, or forwarded: answered
 * later through env->io).  cap must be at least 65535 for TCP and at
 * least the configured edns_size for UDP.
 */
size_t query_handle(struct query_env *env, const struct client *c,
    const uint8_t *pkt, size_t len, uint8_t *out, size_t cap);

/* What the server asks of a worker's env: its counters and those of
 * its forwarder (upstream i: false past the last), the cache's size,
 * the blocked counts per list (valid until the next call into env). */
void query_env_stats(const struct query_env *env, struct query_stats *st);
void query_env_forward_stats(const struct query_env *env,
    struct forward_stats *st);
bool query_env_upstream_stats(const struct query_env *env, size_t i,
    struct upstream_stats *st);
size_t query_env_inflight(const struct query_env *env);
uint64_t query_env_cache_entries(const struct query_env *env);
const struct list_counter *query_env_lists(const struct query_env *env,
    size_t *n);

/* Drops cached answers for name and the names below it (lower-case wire
 * form; NULL for everything). */
void query_env_flush(struct query_env *env, const uint8_t *name);

#endif
