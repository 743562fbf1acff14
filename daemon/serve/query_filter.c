/*
 * query_filter: the answer filter (RPZ-style).  An answer, from the
 * upstream or the cache, is judged by the policy in force when it is
 * served: every name of its CNAME chain, every address against the
 * ranges, then where GeoIP places it.
 */
#include <arpa/inet.h>

#include "policy/geoip.h"
#include "policy/policy.h"
#include "serve/clients.h"
#include "serve/query_impl.h"

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
bool
query_filter_answer(struct query_env *env, const uint8_t *msg,
    size_t len, struct block *bk)
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
