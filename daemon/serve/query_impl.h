/*
 * query_impl: what the files of a query's life share; seen only by
 * serve/.  query.c is the env and the receive path (parse, ACL, rate
 * limit, policy, cache), query_forward.c the forwarded query and its
 * answer, query_filter.c the answer filter (CNAME chains, addresses,
 * GeoIP), query_audit.c a blocked answer and the audit lines.  The
 * contract is query.h.
 */
#ifndef CORDON_QUERY_IMPL_H
#define CORDON_QUERY_IMPL_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "base/dname.h"
#include "dns/reply.h"
#include "dns/wire.h"
#include "serve/cache.h"
#include "serve/query.h"

struct auditlog;
struct policy_list;

struct query_env {
	const struct config *cfg;
	struct policy_slot *slot;
	struct policy *policy;		/* this worker's reference */
	uint64_t policy_gen;
	struct cache *cache;
	struct forwarder *fwd;
	struct auditlog *blocked_log;	/* NULL when not configured */
	struct auditlog *query_log;	/* NULL when not configured */
	struct query_io io;
	struct clock clock;
	struct query_stats stats;
	struct geo_cache *geo_cache;	/* recent GeoIP lookups */
	const struct geoip *geo;	/* the policy's, cached against */
	struct list_counter *lists;	/* blocked per list name */
	size_t nlists;
	size_t *list_slot;		/* policy list index → lists[] */
	struct ratelimit *rl;		/* [server] ratelimit, slip */
	struct inflight *inflight;	/* upstream queries per client */
	struct suppress *suppress;	/* [log] client_rate */
	struct event *sweep;		/* reports suppressed lines, 1/s */
	struct dnstap_queue *tap;	/* NULL: no dnstap */
	size_t pending;			/* forwarded queries not answered */
	bool stopping;			/* no more answers: shutting down */
};

/* Why a query is blocked: the entry, the list and what matched. */
struct block {
	const struct policy_list *list;
	enum trigger trigger;
	size_t rule_off;		/* SOA owner: offset in the qname */
	char rule[DNAME_MAXTEXT];	/* the listed name or range */
	char answer_ip[INET6_ADDRSTRLEN];	/* "" when none */
};

/* The env's clocks: monotonic at the tick (TTLs, rate limits) and the
 * wall clock (what the logs say). */
static inline uint64_t
now_ms(const struct query_env *env)
{
	return env->clock.coarse_ms(env->clock.ctx);
}

static inline uint64_t
wall_ms(const struct query_env *env)
{
	return env->clock.wall_ms(env->clock.ctx);
}

static inline uint8_t
cache_variant(const struct dnsquery *q)
{
	return (q->edns_do ? CACHE_DO : 0) | (q->cd ? CACHE_CD : 0);
}

/* query.c: counts the answer msg (its rcode) and sends it to c through
 * the env's send hook. */
void query_send_later(struct query_env *env, const struct client *c,
    const uint8_t *msg, size_t len);

/* query_forward.c: asks the upstream for ctx's query (pkt its bytes).
 * Returns 0 when the answer goes out later through query_send_later(),
 * or the length of a SERVFAIL written to out now. */
size_t query_forward(struct query_env *env, const struct client *c,
    const uint8_t *pkt, const struct reply_ctx *ctx, uint8_t *out,
    size_t cap);

/* query_filter.c: judges the answer msg by the policy in force now;
 * true, with bk filled in, when it must be blocked. */
bool query_filter_answer(struct query_env *env, const uint8_t *msg,
    size_t len, struct block *bk);

/* query_audit.c: counts the block, writes its audit lines and the
 * blocked answer to out; returns its length (0 when it did not fit). */
size_t query_answer_blocked(struct query_env *env, const struct client *c,
    const struct reply_ctx *ctx, const struct block *bk, uint8_t *out,
    size_t cap);
/* A line about q (blocked by bk, or passed when bk is NULL) to log. */
void query_write_log(struct query_env *env, struct auditlog *log,
    const struct client *c, const struct dnsquery *q,
    const struct block *bk, const char *action);
/* The suppressed-lines reports (clients.h's suppress) and their timer. */
void query_on_suppressed(void *arg, const struct sockaddr *sa,
    uint64_t second, uint64_t count);
void query_on_sweep(evutil_socket_t fd, short what, void *arg);

/* ---- query_tap.c ---- */

/* A client's query (resp NULL) or the answer to it, to dnstap; the
 * query's bytes go with an answer when they are at hand (qlen > 0). */
void query_tap_client(struct query_env *env, const struct client *c,
    const uint8_t *query, size_t qlen, const uint8_t *resp, size_t rlen);
/* forward_io's tap: an upstream exchange's query or answer (ctx the
 * env). */
void query_tap_forward(void *ctx, bool is_response, bool is_tcp,
    const struct netaddr *server, const uint8_t *msg, size_t len);

#endif
