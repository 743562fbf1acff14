/*
 * query_audit: what a blocked query is answered and what the audit logs
 * say: the line of a blocked query (or, in the query log, of one that
 * passed) with what GeoIP knows of both ends, the per-list counts, and
 * the report of the lines suppressed for a client.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/auditlog.h"
#include "base/config.h"
#include "policy/geoip.h"
#include "policy/policy.h"
#include "serve/clients.h"
#include "serve/query_impl.h"

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

void
query_write_log(struct query_env *env, struct auditlog *log,
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

size_t
query_answer_blocked(struct query_env *env, const struct client *c,
    const struct reply_ctx *ctx, const struct block *bk, uint8_t *out,
    size_t cap)
{
	const struct policy_answer *pa = policy_answer(env->policy);
	const char *action = action_name(pa->action);
	char text[DNAME_MAXTEXT + 256];
	struct block_answer ba;

	reply_block_text(text, sizeof(text), bk->list->name,
	    bk->list->reference, bk->trigger == TRIGGER_QNAME ? NULL :
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
			query_write_log(env, env->blocked_log, c, ctx->q, bk,
			    action);
		else
			env->stats.log_suppressed++;
	}
	if (env->query_log != NULL)
		query_write_log(env, env->query_log, c, ctx->q, bk, action);
	return reply_blocked(ctx, &ba, out, cap);
}

/* ---- suppressed audit lines ---- */

void
query_on_suppressed(void *arg, const struct sockaddr *sa, uint64_t second,
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

void
query_on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct query_env *env = arg;

	suppress_sweep(env->suppress, wall_ms(env));
}
