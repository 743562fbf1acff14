/*
 * query: the per-query pipeline (see query.h for the picture).  The fast
 * paths (blocked, cached, error) allocate nothing; only a cache miss
 * allocates its struct pending.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "audit/audit.h"
#include "audit/auditlog.h"
#include "serve/cache.h"
#include "serve/clients.h"
#include "base/config.h"
#include "serve/forward.h"
#include "policy/geoip.h"
#include "policy/policy.h"
#include "serve/query.h"
#include "dns/reply.h"
#include "dns/wire.h"

#define ABUF_SIZE 65535
#define GEO_CACHE_SLOTS 16384	/* ~1.4 MB a worker, touched as used */
#define RL_SLOTS 16384		/* rate limit: /24s and /56s a worker */
#define INFLIGHT_SLOTS 4096	/* client addresses with upstream queries */
#define SUPPRESS_SLOTS 4096	/* clients whose audit lines are counted */

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
	size_t pending;			/* forwarded queries not answered */
	bool stopping;			/* no more answers: shutting down */
};

/* A forwarded query waiting for the upstream. */
struct pending {
	struct query_env *env;
	struct client client;
	struct dnsquery q;
	uint8_t pkt[DNS_HEADER_LEN + DNAME_MAXWIRE + 4];	/* echo */
};

static bool map_lists(struct query_env *env, struct policy *p);
static void on_suppressed(void *arg, const struct sockaddr *sa,
    uint64_t second, uint64_t count);
static void on_sweep(evutil_socket_t fd, short what, void *arg);

/* The env's clocks: monotonic at the tick (TTLs, rate limits) and the
 * wall clock (what the logs say). */
static uint64_t
now_ms(const struct query_env *env)
{
	return env->clock.coarse_ms(env->clock.ctx);
}

static uint64_t
wall_ms(const struct query_env *env)
{
	return env->clock.wall_ms(env->clock.ctx);
}

struct query_env *
query_env_new(const struct config *cfg, struct policy_slot *slot,
    struct event_base *base, struct auditlog *blocked_log,
    struct auditlog *query_log, const struct query_io *io,
    const struct query_world *world)
{
	struct query_env *env = calloc(1, sizeof(*env));

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
	env->fwd = forward_new(&world->net, cfg->upstreams, cfg->nupstreams,
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
	    on_suppressed, env);
	env->sweep = event_new(base, -1, EV_PERSIST, on_sweep, env);
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

static void
count_blocked(struct query_env *env, const struct policy_list *l,
    enum trigger t)
{
	env->stats.blocked++;
	if (l == policy_geo_list()) {
		env->stats.geo_blocked++;
		return;
	}
	env->lists[env->list_slot[l - policy_list_at(env->policy, 0)]]
	    .blocked[t]++;
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

/* Why a query is blocked: the entry, the list and what matched. */
struct block {
	const struct policy_list *list;
	enum trigger trigger;
	size_t rule_off;		/* SOA owner: offset in the qname */
	char rule[DNAME_MAXTEXT];	/* the listed name or range */
	char answer_ip[INET6_ADDRSTRLEN];	/* "" when none */
};

static const char *const trigger_names[TRIGGER_COUNT] = {
	"qname", "cname", "ip", "geo",
};

/* {"client":{...},"answer":{...}|null}: what GeoIP knows of both ends. */
static size_t
geo_json(struct query_env *env, const struct client *c,
    const struct block *bk, char *buf, size_t size)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	struct geo_info gi;
	uint8_t addr[16];
	int family = AF_INET;
	size_t n, m;

	if (sa->sa_family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)
		    ->sin_addr, 4);
	else {
		family = AF_INET6;
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)
		    ->sin6_addr, 16);
	}
	geo_cache_lookup(env->geo_cache, env->geo, family, addr, &gi);
	n = (size_t)snprintf(buf, size, "{\"client\":");
	if ((m = geo_info_json(&gi, buf + n, size - n)) == 0)
		return 0;
	n += m;
	if (bk != NULL && bk->answer_ip[0] != '\0' &&
	    (inet_pton(AF_INET, bk->answer_ip, addr) == 1 ||
	    inet_pton(AF_INET6, bk->answer_ip, addr) == 1)) {
		family = strchr(bk->answer_ip, ':') ? AF_INET6 : AF_INET;
		geo_cache_lookup(env->geo_cache, env->geo, family, addr, &gi);
		n += (size_t)snprintf(buf + n, size - n, ",\"answer\":");
		if (n >= size || (m = geo_info_json(&gi, buf + n, size - n)) == 0)
			return 0;
		n += m;
	} else
		n += (size_t)snprintf(buf + n, size - n, ",\"answer\":null");
	if (n + 2 > size)
		return 0;
	buf[n++] = '}';
	buf[n] = '\0';
	return n;
}

static void
write_log(struct query_env *env, struct auditlog *log,
    const struct client *c, const struct dnsquery *q, const struct block *bk,
    const char *action)
{
	char qname[DNAME_MAXTEXT], body[AUDIT_LINE_MAX], geo[512];
	struct audit_block b = { 0 };
	size_t n;

	dname_to_text(q->qname, qname, sizeof(qname));
	b.ts_ms = wall_ms(env);
	b.client = (const struct sockaddr *)&c->addr;
	b.is_tcp = c->is_tcp;
	b.qname = qname;
	b.qtype = q->qtype;
	b.action = action;
	if (bk != NULL) {
		b.trigger = trigger_names[bk->trigger];
		b.rule = bk->rule;
		b.list = bk->list->name;
		b.category = bk->list->category;
		b.reference = bk->list->reference;
		b.answer_ip = bk->answer_ip[0] ? bk->answer_ip : NULL;
	}
	b.policy = policy_id(env->policy);
	if (env->geo != NULL && geo_json(env, c, bk, geo, sizeof(geo)) > 0)
		b.geo_json = geo;
	n = audit_format_block(body, sizeof(body), &b);
	if (n == 0 || auditlog_submit(log, body, n) == -1)
		env->stats.log_dropped++;
}

static size_t
answer_blocked(struct query_env *env, const struct client *c,
    const struct reply_ctx *ctx, const struct block *bk, uint8_t *out,
    size_t cap)
{
	const struct policy_answer *pa = policy_answer(env->policy);
	const char *action = action_name(pa->action);
	const char *ref = bk->list->reference;
	char text[DNAME_MAXTEXT + 256];
	struct block_answer ba;
	int k;

	/* The reference before the rule: a long text is cut at its end. */
	k = snprintf(text, sizeof(text), "blocked by list %s",
	    bk->list->name);
	if (ref != NULL && ref[0] != '\0' && k > 0 &&
	    (size_t)k < sizeof(text))
		k += snprintf(text + k, sizeof(text) - (size_t)k, " under %s",
		    ref);
	if (bk->trigger != TRIGGER_QNAME && k > 0 && (size_t)k < sizeof(text))
		snprintf(text + k, sizeof(text) - (size_t)k, " (%s %s)",
		    trigger_names[bk->trigger], bk->rule);
	ba.action = pa->action;
	ba.rule_off = bk->rule_off;
	ba.ttl = pa->ttl;
	ba.sinkhole_a = pa->sinkhole_a;
	ba.sinkhole_aaaa = pa->sinkhole_aaaa;
	ba.ede = bk->list->ede;
	ba.ede_text = text;
	count_blocked(env, bk->list, bk->trigger);
	if (env->blocked_log != NULL) {
		if (suppress_check(env->suppress,
		    (const struct sockaddr *)&c->addr, wall_ms(env)))
			write_log(env, env->blocked_log, c, ctx->q, bk, action);
		else
			env->stats.log_suppressed++;
	}
	if (env->query_log != NULL)
		write_log(env, env->query_log, c, ctx->q, bk, action);
	return reply_blocked(ctx, &ba, out, cap);
}

/* ---- answer inspection: CNAME chains and addresses (RPZ-style) ---- */

struct inspection {
	struct query_env *env;
	struct block *bk;
};

static bool
inspect_name(struct inspection *in, const struct answer_item *it)
{
	struct verdict v;
	struct block *bk = in->bk;

	if (!policy_answer(in->env->policy)->check_cname ||
	    !policy_check_name(in->env->policy, it->name, &v))
		return false;
	bk->list = v.list;
	bk->trigger = TRIGGER_CNAME;
	dname_to_text(it->name + v.rule_off, bk->rule, sizeof(bk->rule));
	return true;
}

/* [policy] block_countries / block_asns: where the address is (GeoIP
 * through this worker's cache, the verdict policy's). */
static bool
inspect_geo(struct inspection *in, int family, const uint8_t *addr)
{
	struct block *bk = in->bk;
	struct geo_info gi;
	const char *key;

	if (!policy_wants_geo(in->env->policy))
		return false;
	geo_cache_lookup(in->env->geo_cache, in->env->geo, family, addr, &gi);
	bk->list = policy_geo_verdict(in->env->policy, &gi, &key, bk->rule,
	    sizeof(bk->rule));
	if (bk->list == NULL)
		return false;
	bk->trigger = TRIGGER_GEO;
	inet_ntop(family, addr, bk->answer_ip, sizeof(bk->answer_ip));
	return true;
}

static bool
inspect_item(void *arg, const struct answer_item *it)
{
	struct inspection *in = arg;
	struct block *bk = in->bk;
	struct addr_verdict av;
	int family;

	if (it->addr == NULL)
		return inspect_name(in, it);
	family = it->type == DNS_TYPE_A ? AF_INET : AF_INET6;
	/* policy.h: the ranges first (an allow range also vouches for the
	 * address against GeoIP), then GeoIP; explain judges the same way. */
	if (policy_answer_ranges(in->env->policy, family, it->addr, &av)) {
		if (!av.blocked)
			return false;
		bk->list = av.list;
		bk->trigger = TRIGGER_IP;
		policy_format_range(&av, bk->rule, sizeof(bk->rule));
		inet_ntop(family, it->addr, bk->answer_ip,
		    sizeof(bk->answer_ip));
		return true;
	}
	return inspect_geo(in, family, it->addr);
}

/*
 * Checks an answer against the policy in force now: a cached answer is
 * judged when it is served, not when it was stored, so a reload applies
 * to the whole cache at once.  Returns true when it must be blocked.
 */
static bool
inspect_answer(struct query_env *env, const uint8_t *msg, size_t len,
    struct block *bk)
{
	const struct policy_answer *pa = policy_answer(env->policy);
	struct inspection in = { env, bk };

	if (!pa->check_cname && !pa->check_answer_ips &&
	    !policy_wants_geo(env->policy))
		return false;
	bk->rule_off = 0;
	bk->answer_ip[0] = '\0';
	return wire_answer_each(msg, len, inspect_item, &in);
}

/*
 * Copies msg without its OPT record (we add our own per client) and
 * without anything after its last record into buf, and drops the TTL
 * positions of what was cut.  An OPT that is not the last record takes
 * the whole additional section with it: a record after it could point
 * into bytes that would move.  Returns the new length.
 */
static size_t
strip_opt(const uint8_t *msg, struct answer_scan *s, uint8_t *buf)
{
	size_t len = s->end, i, j;

	if (s->opt_start == 0) {
		memcpy(buf, msg, len);
		return len;
	}
	if (s->opt_end == s->end) {
		len = s->opt_start;
		memcpy(buf, msg, len);
		wire_put16(buf + 10, (uint16_t)(wire_u16(buf + 10) - 1));
	} else {
		len = s->ar_start;
		memcpy(buf, msg, len);
		wire_put16(buf + 10, 0);
	}
	for (i = j = 0; i < s->nttl; i++)
		if (s->ttl_off[i] < len)
			s->ttl_off[j++] = s->ttl_off[i];
	s->nttl = j;
	return len;
}

/* How long an answer may be cached: its smallest TTL, or for a denial
 * the SOA's negative TTL (RFC 2308 5); 0 for anything else. */
static uint32_t
cache_ttl(const struct query_env *env, const struct answer_scan *s)
{
	uint32_t ttl;

	if (s->tc)
		return 0;
	if (s->rcode == RCODE_NOERROR && s->counts[1] > 0)
		ttl = s->min_ttl;
	else if (s->rcode == RCODE_NXDOMAIN || s->rcode == RCODE_NOERROR)
		ttl = s->has_soa ? s->soa_min : 0;
	else
		return 0;
	return ttl > env->cfg->cache_max_ttl ? env->cfg->cache_max_ttl : ttl;
}

static uint8_t
cache_variant(const struct dnsquery *q)
{
	return (q->edns_do ? CACHE_DO : 0) | (q->cd ? CACHE_CD : 0);
}

static void
send_later(struct query_env *env, const struct client *c, const uint8_t *out,
    size_t len)
{
	answered(env, len, out);
	env->io.send(env->io.ctx, c, out, len);
}

/* RFC 8914: 22 when nobody answered or all refused, 23 when talking to
 * the upstream went wrong. */
static uint16_t
upstream_ede(enum forward_error why)
{
	switch (why) {
	case FORWARD_UNREACHABLE:
	case FORWARD_TCP_FAILED:
	case FORWARD_BAD_ANSWER:
		return EDE_NETWORK_ERROR;
	default:
		return EDE_NO_REACHABLE;
	}
}

static void
on_upstream_answer(void *arg, const uint8_t *msg, size_t len,
    enum forward_error why)
{
	struct pending *p = arg;
	struct query_env *env = p->env;
	struct reply_ctx ctx = { p->pkt, &p->q, p->client.is_tcp,
	    env->cfg->edns_size, env->cfg->trust_ad };
	uint8_t buf[ABUF_SIZE], out[ABUF_SIZE];
	struct answer_scan scan;
	struct block bk;
	size_t n;

	env->pending--;
	inflight_put(env->inflight, (const struct sockaddr *)&p->client.addr);
	if (env->stopping || (env->io.gone != NULL &&
	    env->io.gone(env->io.ctx, &p->client)))
		goto done;
	if (msg == NULL || wire_scan_answer(msg, len, &scan) == -1) {
		if (msg != NULL)
			why = FORWARD_BAD_ANSWER;
		env->stats.upstream_failures++;
		n = reply_error(&ctx, RCODE_SERVFAIL, upstream_ede(why),
		    forward_error_text(why), out, sizeof(out));
		send_later(env, &p->client, out, n);
		goto done;
	}
	len = strip_opt(msg, &scan, buf);
	(void)cache_store(env->cache, p->q.qname, p->q.qname_len, p->q.qtype,
	    p->q.qclass, cache_variant(&p->q), buf, len, scan.ttl_off,
	    scan.nttl, cache_ttl(env, &scan), now_ms(env));
	if (inspect_answer(env, buf, len, &bk))
		n = answer_blocked(env, &p->client, &ctx, &bk, out,
		    sizeof(out));
	else
		n = reply_from_cache(&ctx, buf, len, scan.ttl_off, scan.nttl,
		    0, out, sizeof(out));
	if (n == 0)
		n = reply_error(&ctx, RCODE_SERVFAIL, EDE_NONE, NULL, out,
		    sizeof(out));
	send_later(env, &p->client, out, n);
done:
	env->io.done(env->io.ctx, &p->client);
	free(p);
}

static size_t
forward(struct query_env *env, const struct client *c, const uint8_t *pkt,
    const struct reply_ctx *ctx, uint8_t *out, size_t cap)
{
	const struct dnsquery *q = ctx->q;
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	struct pending *p;

	if (!inflight_take(env->inflight, sa)) {
		env->stats.client_inflight_full++;
		return reply_error(ctx, RCODE_SERVFAIL, EDE_OTHER,
		    "too many queries of this client waiting on the upstream",
		    out, cap);
	}
	if ((p = malloc(sizeof(*p))) == NULL) {
		inflight_put(env->inflight, sa);
		goto fail;
	}
	p->env = env;
	p->client = *c;
	p->q = *q;
	memcpy(p->pkt, pkt, DNS_HEADER_LEN + q->question_len);
	env->pending++;
	if (forward_query(env->fwd, q->qname, q->qname_len, q->qtype,
	    q->qclass, q->edns_do, q->cd, on_upstream_answer, p) == -1) {
		env->pending--;
		inflight_put(env->inflight, sa);
		free(p);
		goto fail;
	}
	env->io.hold(env->io.ctx, c);
	return 0;
fail:
	env->stats.upstream_failures++;
	return reply_error(ctx, RCODE_SERVFAIL, EDE_NONE, NULL, out, cap);
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

size_t
query_handle(struct query_env *env, const struct client *c,
    const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	struct dnsquery q;
	struct reply_ctx ctx = { pkt, &q, c->is_tcp, env->cfg->edns_size,
	    env->cfg->trust_ad };
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	enum wire_verdict wv;
	struct verdict v;
	struct block bk;
	struct cache_hit hit;
	unsigned rcode;
	size_t n;

	env->stats.queries[c->is_tcp]++;
	wv = wire_parse_query(pkt, len, &q);
	if (wv == WIRE_DROP) {
		env->stats.dropped++;
		return 0;
	}
	if (!c->is_tcp) {
		switch (ratelimit_check(env->rl, sa, now_ms(env))) {
		case RL_PASS:
			break;
		case RL_SLIP:
			env->stats.slipped++;
			return answered(env, reply_truncated(&ctx, out, cap),
			    out);
		case RL_DROP:
			env->stats.ratelimited++;
			return 0;
		}
	}
	if (!netaddr_in_any(env->cfg->allow, env->cfg->nallow, sa)) {
		env->stats.refused_acl++;
		return answered(env, reply_error(&ctx, RCODE_REFUSED,
		    EDE_PROHIBITED, NULL, out, cap), out);
	}
	switch (wv) {
	case WIRE_FORMERR:
		/* The question is not echoed: it is what was wrong, or
		 * not one question.  A sound OPT still gets one back. */
		q.has_question = false;
		return answered(env, reply_error(&ctx, RCODE_FORMERR,
		    EDE_NONE, NULL, out, cap), out);
	case WIRE_NOTIMP:
		return answered(env, reply_error(&ctx, RCODE_NOTIMP,
		    EDE_NONE, NULL, out, cap), out);
	case WIRE_BADVERS:
		return answered_badvers(env, reply_error(&ctx, RCODE_BADVERS,
		    EDE_NONE, NULL, out, cap));
	default:
		break;
	}
	if ((rcode = unsupported(&q)) != RCODE_NOERROR)
		return answered(env, reply_error(&ctx, rcode,
		    rcode == RCODE_REFUSED ? EDE_NOT_SUPPORTED : EDE_NONE,
		    NULL, out, cap), out);
	if (policy_check_name(env->policy, q.qname, &v)) {
		bk.list = v.list;
		bk.trigger = TRIGGER_QNAME;
		bk.rule_off = v.rule_off;
		bk.answer_ip[0] = '\0';
		dname_to_text(q.qname + v.rule_off, bk.rule, sizeof(bk.rule));
		return answered(env, answer_blocked(env, c, &ctx, &bk, out,
		    cap), out);
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
		write_log(env, env->query_log, c, &q, NULL, "pass");
	if (cache_lookup(env->cache, q.qname, q.qname_len, q.qtype, q.qclass,
	    cache_variant(&q), now_ms(env), &hit)) {
		env->stats.cache_hits++;
		if (inspect_answer(env, hit.msg, hit.len, &bk))
			return answered(env, answer_blocked(env, c, &ctx, &bk,
			    out, cap), out);
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
	return answered(env, forward(env, c, pkt, &ctx, out, cap), out);
}

/* ---- suppressed audit lines ---- */

static void
on_suppressed(void *arg, const struct sockaddr *sa, uint64_t second,
    uint64_t count)
{
	struct query_env *env = arg;
	char addr[INET6_ADDRSTRLEN], ts[25], members[160], body[256];
	const void *a;
	size_t n;

	if (env->blocked_log == NULL)
		return;
	a = sa->sa_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)(const void *)sa)
	    ->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)(const void *)sa)
	    ->sin6_addr;
	inet_ntop(sa->sa_family, a, addr, sizeof(addr));
	audit_format_ts(ts, second * 1000);
	snprintf(members, sizeof(members), "\"client\":\"%s\",\"second\":"
	    "\"%s\",\"count\":%llu", addr, ts, (unsigned long long)count);
	n = audit_format_event(body, sizeof(body), wall_ms(env),
	    "suppressed", members);
	if (n == 0 || auditlog_submit(env->blocked_log, body, n) == -1)
		env->stats.log_dropped++;
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct query_env *env = arg;

	suppress_sweep(env->suppress, wall_ms(env));
}
