/*
 * query_forward: a query the cache could not answer.  A struct pending
 * owns what it needs while the upstream is asked; the answer is checked
 * and stripped of its OPT, cached, filtered by the policy in force and
 * sent through the env's send hook.
 */
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "serve/clients.h"
#include "serve/forward.h"
#include "serve/query_impl.h"

#define ABUF_SIZE 65535

/* A forwarded query waiting for the upstream. */
struct pending {
	struct query_env *env;
	struct client client;
	struct dnsquery q;
	uint8_t pkt[DNS_HEADER_LEN + DNAME_MAXWIRE + 4];	/* echo */
};

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
		query_send_later(env, &p->client, out, n);
		goto done;
	}
	len = strip_opt(msg, &scan, buf);
	(void)cache_store(env->cache, p->q.qname, p->q.qname_len, p->q.qtype,
	    p->q.qclass, cache_variant(&p->q), buf, len, scan.ttl_off,
	    scan.nttl, cache_ttl(env, &scan), now_ms(env));
	if (query_filter_answer(env, buf, len, &bk))
		n = query_answer_blocked(env, &p->client, &ctx, &bk, out,
		    sizeof(out));
	else
		n = reply_from_cache(&ctx, buf, len, scan.ttl_off, scan.nttl,
		    0, out, sizeof(out));
	if (n == 0)
		n = reply_error(&ctx, RCODE_SERVFAIL, EDE_NONE, NULL, out,
		    sizeof(out));
	query_send_later(env, &p->client, out, n);
done:
	env->io.done(env->io.ctx, &p->client);
	free(p);
}

size_t
query_forward(struct query_env *env, const struct client *c, const uint8_t *pkt,
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
	/* Held before it is asked: with every server held down, the
	 * answer (and its io.done) comes before forward_query() returns. */
	env->pending++;
	env->io.hold(env->io.ctx, c);
	if (forward_query(env->fwd, q->qname, q->qname_len, q->qtype,
	    q->qclass, q->edns_do, q->cd, on_upstream_answer, p) == -1) {
		env->pending--;
		inflight_put(env->inflight, sa);
		free(p);
		env->io.done(env->io.ctx, c);
		goto fail;
	}
	return 0;
fail:
	env->stats.upstream_failures++;
	return reply_error(ctx, RCODE_SERVFAIL, EDE_NONE, NULL, out, cap);
}
