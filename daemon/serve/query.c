/*
 * query: a worker's env and the receive path of the per-query pipeline
 * (see query.h for the picture): parse, rate limit, ACL, the policy on
 * the name, the cache.  A miss goes on in query_forward.c, answers are
 * filtered in query_filter.c, blocked ones answered and logged in
 * query_audit.c.  The fast paths (blocked, cached, error) allocate
 * nothing; only a cache miss allocates its struct pending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/config.h"
#include "dns/reply.h"
#include "dns/wire.h"
#include "policy/geoip.h"
#include "policy/policy.h"
#include "serve/cache.h"
#include "serve/clients.h"
#include "serve/forward.h"
#include "serve/query.h"
#include "serve/query_impl.h"

#define GEO_CACHE_SLOTS 16384	/* ~1.4 MB a worker, touched as used */
#define RL_SLOTS 16384		/* rate limit: /24s and /56s a worker */
#define INFLIGHT_SLOTS 4096	/* client addresses with upstream queries */
#define SUPPRESS_SLOTS 4096	/* clients whose audit lines are counted */

static bool map_lists(struct query_env *env, struct policy *p);

struct query_env *
query_env_new(const struct config *cfg, struct policy_slot *slot,
    struct event_base *base, struct auditlog *blocked_log,
    struct auditlog *query_log, const struct query_io *io,
    const struct query_world *world)
{
	struct query_env *env = calloc(1, sizeof(*env));
	struct forward_io net;

	if (env == NULL)
		return NULL;
	env->clock = world->clock;
	env->cfg = cfg;
	env->slot = slot;
	env->policy = policy_slot_get(slot, &env->policy_gen);
	env->geo = policy_geoip(env->policy);
	if (!map_lists(env, env->policy)) {
		query_env_free(env);
		return NULL;
	}
	env->cache = cache_new(cfg->cache_size);
	env->geo_cache = geo_cache_new(GEO_CACHE_SLOTS);
	env->tap = world->tap;
	net = world->net;
	if (world->tap != NULL && world->tap_forwarder) {
		net.tap = query_tap_forward;
		net.tap_ctx = env;
	}
	env->fwd = forward_new(&net, cfg->upstreams, cfg->nupstreams,
	    cfg->timeout_ms);
	env->blocked_log = blocked_log;
	env->query_log = query_log;
	env->io = *io;
	/* Each worker sees about 1/threads of a client's queries (the
	 * kernel spreads them by source port), so it allows that share. */
	env->rl = ratelimit_new(cfg->ratelimit == 0 ? 0 :
	    (cfg->ratelimit + cfg->threads - 1) / cfg->threads, cfg->slip,
	    RL_SLOTS);
	env->inflight = inflight_new(cfg->client_inflight, INFLIGHT_SLOTS);
	env->suppress = suppress_new(cfg->log_client_rate, SUPPRESS_SLOTS,
	    query_on_suppressed, env);
	env->sweep = event_new(base, -1, EV_PERSIST, query_on_sweep, env);
	if (env->cache == NULL || env->fwd == NULL || env->geo_cache == NULL ||
	    env->rl == NULL || env->inflight == NULL || env->suppress == NULL ||
	    env->sweep == NULL ||
	    event_add(env->sweep, &(struct timeval){ 1, 0 }) == -1) {
		query_env_free(env);
		return NULL;
	}
	return env;
}

void
query_env_free(struct query_env *env)
{
	if (env == NULL)
		return;
	env->stopping = true;
	forward_free(env->fwd);		/* ends pending queries, no answers */
	env->fwd = NULL;
	if (env->sweep != NULL)
		event_free(env->sweep);
	env->sweep = NULL;
	suppress_free(env->suppress);	/* reports what it still holds */
	env->suppress = NULL;
	ratelimit_free(env->rl);
	env->rl = NULL;
	inflight_free(env->inflight);
	env->inflight = NULL;
	cache_free(env->cache);
	env->cache = NULL;
	geo_cache_free(env->geo_cache);
	env->geo_cache = NULL;
	policy_unref(env->policy);
	env->policy = NULL;
	free(env->lists);
	env->lists = NULL;
	env->nlists = 0;
	free(env->list_slot);
	free(env);
}

void
query_env_stats(const struct query_env *env, struct query_stats *st)
{
	*st = env->stats;
}

void
query_env_forward_stats(const struct query_env *env,
    struct forward_stats *st)
{
	forward_get_stats(env->fwd, st);
}

bool
query_env_upstream_stats(const struct query_env *env, size_t i,
    struct upstream_stats *st)
{
	return forward_get_upstream_stats(env->fwd, i, st);
}

size_t
query_env_inflight(const struct query_env *env)
{
	return forward_inflight(env->fwd);
}

uint64_t
query_env_cache_entries(const struct query_env *env)
{
	return cache_count(env->cache);
}

const struct list_counter *
query_env_lists(const struct query_env *env, size_t *n)
{
	*n = env->nlists;
	return env->lists;
}

void
query_env_flush(struct query_env *env, const uint8_t *name)
{
	cache_flush(env->cache, name);
}

/*
 * Maps each list of policy p to its counter, adding counters for lists
 * not seen before.  Runs when a worker takes a new policy.  Returns
 * false when memory ran out: then nothing changed and the worker keeps
 * the policy it had.
 */
static bool
map_lists(struct query_env *env, struct policy *p)
{
	size_t i, j, n = policy_nlists(p), nlists = env->nlists;
	size_t *slot = calloc(n ? n : 1, sizeof(*slot));
	struct list_counter *l;

	if (slot == NULL)
		return false;
	/* room for every list being new, so nothing fails half-way */
	l = realloc(env->lists, (nlists + n + 1) * sizeof(*l));
	if (l == NULL) {
		free(slot);
		return false;
	}
	env->lists = l;
	for (i = 0; i < n; i++) {
		const char *name = policy_list_at(p, i)->name;

		for (j = 0; j < nlists; j++)
			if (strncmp(l[j].name, name, LIST_NAME_MAX - 1) == 0)
				break;
		if (j == nlists) {
			memset(&l[j], 0, sizeof(l[j]));
			snprintf(l[j].name, sizeof(l[j].name), "%s", name);
			nlists++;
		}
		slot[i] = j;
	}
	env->nlists = nlists;
	free(env->list_slot);
	env->list_slot = slot;
	return true;
}

void
query_env_refresh(struct query_env *env)
{
	struct policy *p;
	uint64_t gen;

	if (policy_slot_generation(env->slot) == env->policy_gen)
		return;
	p = policy_slot_get(env->slot, &gen);
	if (!map_lists(env, p)) {
		/* out of memory: keep answering with the old policy and try
		 * again with the next batch */
		policy_unref(p);
		return;
	}
	policy_unref(env->policy);
	env->policy = p;
	env->policy_gen = gen;
	if (policy_geoip(env->policy) != env->geo) {
		env->geo = policy_geoip(env->policy);
		geo_cache_clear(env->geo_cache);
	}
}

static size_t
answered(struct query_env *env, size_t len, const uint8_t *out)
{
	if (len >= DNS_HEADER_LEN) {
		unsigned rcode = out[3] & 0x0f;

		env->stats.rcodes[rcode]++;
	}
	return len;
}

/* BADVERS is an extended rcode: its low bits in the header read 0. */
static size_t
answered_badvers(struct query_env *env, size_t len)
{
	if (len >= DNS_HEADER_LEN)
		env->stats.rcodes[RCODE_BADVERS]++;
	return len;
}

void
query_send_later(struct query_env *env, const struct client *c,
    const uint8_t *msg, size_t len)
{
	answered(env, len, msg);
	if (env->tap != NULL)
		query_tap_client(env, c, NULL, 0, msg, len);
	env->io.send(env->io.ctx, c, msg, len);
}

/* Types and classes we answer REFUSED/NOTIMP without asking anyone. */
static unsigned
unsupported(const struct dnsquery *q)
{
	if (q->qclass != DNS_CLASS_IN)
		return RCODE_REFUSED;
	if (q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_IXFR)
		return RCODE_REFUSED;
	if (q->qtype == DNS_TYPE_OPT)
		return RCODE_FORMERR;
	if (q->qtype >= 128 && q->qtype <= 254)	/* MAILA, MAILB, TKEY */
		return RCODE_NOTIMP;
	return RCODE_NOERROR;
}

/*
 * What is settled before the policy is asked: an unreadable packet, the
 * rate limit, the ACL, FORMERR/NOTIMP/BADVERS, the types we do not
 * answer.  Returns true when the query ends here, with *n the length of
 * its answer in out (0: dropped).
 */
static bool
screen(struct query_env *env, const struct client *c, enum wire_verdict wv,
    struct dnsquery *q, const struct reply_ctx *ctx, uint8_t *out,
    size_t cap, size_t *n)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	unsigned rcode;

	*n = 0;
	if (wv == WIRE_DROP) {
		env->stats.dropped++;
		return true;
	}
	if (!c->is_tcp) {
		switch (ratelimit_check(env->rl, sa, now_ms(env))) {
		case RL_PASS:
			break;
		case RL_SLIP:
			env->stats.slipped++;
			*n = answered(env, reply_truncated(ctx, out, cap), out);
			return true;
		case RL_DROP:
			env->stats.ratelimited++;
			return true;
		}
	}
	if (!netaddr_in_any(env->cfg->allow, env->cfg->nallow, sa)) {
		env->stats.refused_acl++;
		*n = answered(env, reply_error(ctx, RCODE_REFUSED,
		    EDE_PROHIBITED, NULL, out, cap), out);
		return true;
	}
	switch (wv) {
	case WIRE_FORMERR:
		/* The question is not echoed: it is what was wrong, or
		 * not one question.  A sound OPT still gets one back. */
		q->has_question = false;
		*n = answered(env, reply_error(ctx, RCODE_FORMERR,
		    EDE_NONE, NULL, out, cap), out);
		return true;
	case WIRE_NOTIMP:
		*n = answered(env, reply_error(ctx, RCODE_NOTIMP,
		    EDE_NONE, NULL, out, cap), out);
		return true;
	case WIRE_BADVERS:
		*n = answered_badvers(env, reply_error(ctx, RCODE_BADVERS,
		    EDE_NONE, NULL, out, cap));
		return true;
	default:
		break;
	}
	if ((rcode = unsupported(q)) == RCODE_NOERROR)
		return false;
	*n = answered(env, reply_error(ctx, rcode, rcode == RCODE_REFUSED ?
	    EDE_NOT_SUPPORTED : EDE_NONE, NULL, out, cap), out);
	return true;
}

static size_t
handle(struct query_env *env, const struct client *c,
    const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	struct dnsquery q;
	struct reply_ctx ctx = { pkt, &q, c->is_tcp, env->cfg->edns_size,
	    env->cfg->trust_ad };
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	struct verdict v;
	struct block bk;
	struct cache_hit hit;
	size_t n;

	env->stats.queries[c->is_tcp]++;
	if (screen(env, c, wire_parse_query(pkt, len, &q), &q, &ctx, out, cap,
	    &n))
		return n;
	if (policy_check_name(env->policy, q.qname, &v)) {
		bk.list = v.list;
		bk.trigger = TRIGGER_QNAME;
		bk.rule_off = v.rule_off;
		bk.answer_ip[0] = '\0';
		dname_to_text(q.qname + v.rule_off, bk.rule, sizeof(bk.rule));
		return answered(env, query_answer_blocked(env, c, &ctx, &bk,
		    out, cap), out);
	}
	/* RD=0 asks what the cache holds (cache snooping): only for
	 * [server] allow_snoop, and never forwarded.  RFC 8914 4.21. */
	if (!q.rd && !netaddr_in_any(env->cfg->allow_snoop,
	    env->cfg->nallow_snoop, sa)) {
		env->stats.refused_rd0++;
		return answered(env, reply_error(&ctx, RCODE_REFUSED,
		    EDE_NOT_AUTHORITATIVE, "recursion not desired (RD=0)",
		    out, cap), out);
	}
	if (env->query_log != NULL)
		query_write_log(env, env->query_log, c, &q, NULL, "pass");
	if (cache_lookup(env->cache, q.qname, q.qname_len, q.qtype, q.qclass,
	    cache_variant(&q), now_ms(env), &hit)) {
		env->stats.cache_hits++;
		if (query_filter_answer(env, hit.msg, hit.len, &bk))
			return answered(env, query_answer_blocked(env, c, &ctx,
			    &bk, out, cap), out);
		n = reply_from_cache(&ctx, hit.msg, hit.len, hit.ttl_off,
		    hit.nttl, hit.elapsed, out, cap);
		if (n > 0)
			return answered(env, n, out);
	}
	env->stats.cache_misses++;
	if (!q.rd) {
		env->stats.refused_rd0++;
		return answered(env, reply_error(&ctx, RCODE_REFUSED,
		    EDE_NOT_AUTHORITATIVE, "not in the cache (RD=0)", out,
		    cap), out);
	}
	return answered(env, query_forward(env, c, pkt, &ctx, out, cap),
	    out);
}

size_t
query_handle(struct query_env *env, const struct client *c,
    const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	size_t n;

	if (env->tap == NULL)
		return handle(env, c, pkt, len, out, cap);
	query_tap_client(env, c, pkt, len, NULL, 0);
	if ((n = handle(env, c, pkt, len, out, cap)) > 0)
		query_tap_client(env, c, pkt, len, out, n);
	return n;
}
