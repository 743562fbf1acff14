/*
 * metrics: Prometheus text format.  Names follow the usual conventions:
 * cordon_ prefix, _total for counters, base units (seconds).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "audit/auditlog.h"
#include "base/config.h"
#include "serve/dnstap.h"
#include "serve/metrics.h"
#include "base/netaddr.h"
#include "policy/policy.h"
#include "serve/server.h"
#include "dns/wire.h"

static const char *const rcode_names[24] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11",
	"RCODE12", "RCODE13", "RCODE14", "RCODE15", "BADVERS", "RCODE17",
	"RCODE18", "RCODE19", "RCODE20", "RCODE21", "RCODE22", "RCODE23",
};

static const char *const trigger_names[TRIGGER_COUNT] = {
	"qname", "cname", "ip", "geo",
};

static void
head(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A metric without labels: its head and its one sample. */
static void
one(struct evbuffer *out, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	head(out, name, type, help);
	evbuffer_add_printf(out, "%s %llu\n", name, v);
}

/* cordon_log_lines_total of one audit log, if there is one. */
static void
log_lines(struct evbuffer *out, const char *log,
    const struct auditlog_stats *st)
{
	if (st == NULL)
		return;
	evbuffer_add_printf(out, "cordon_log_lines_total{log=\"%s\","
	    "result=\"written\"} %llu\ncordon_log_lines_total{log=\"%s\","
	    "result=\"dropped\"} %llu\n", log,
	    (unsigned long long)st->written, log,
	    (unsigned long long)st->dropped);
}

/* A label value as the exposition format wants it: backslash, quote and
 * line feed escaped; whatever a name holds cannot end the label. */
static void
put_label(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

static void
write_queries(struct evbuffer *out, const struct server_stats *st)
{
	size_t i;
	int t;

	head(out, "cordon_queries_total", "counter", "Queries received.");
	evbuffer_add_printf(out, "cordon_queries_total{proto=\"udp\"} %llu\n"
	    "cordon_queries_total{proto=\"tcp\"} %llu\n",
	    (unsigned long long)st->q.queries[0],
	    (unsigned long long)st->q.queries[1]);
	head(out, "cordon_answers_total", "counter", "Answers by rcode.");
	for (i = 0; i < 24; i++)
		if (st->q.rcodes[i] > 0 || i <= RCODE_REFUSED)
			evbuffer_add_printf(out,
			    "cordon_answers_total{rcode=\"%s\"} %llu\n",
			    rcode_names[i],
			    (unsigned long long)st->q.rcodes[i]);
	one(out, "cordon_dropped_total", "counter",
	    "Packets dropped unanswered (unreadable).", st->q.dropped);
	one(out, "cordon_refused_acl_total", "counter",
	    "Queries from clients outside allow.", st->q.refused_acl);
	head(out, "cordon_ratelimited_total", "counter",
	    "UDP queries over [server] ratelimit: dropped, or slipped (TC).");
	evbuffer_add_printf(out, "cordon_ratelimited_total{result=\"dropped\"} "
	    "%llu\ncordon_ratelimited_total{result=\"slipped\"} %llu\n",
	    (unsigned long long)st->q.ratelimited,
	    (unsigned long long)st->q.slipped);
	one(out, "cordon_refused_rd0_total", "counter",
	    "RD=0 queries refused (no allow_snoop, or not in the cache).",
	    st->q.refused_rd0);
	one(out, "cordon_client_inflight_full_total", "counter",
	    "Queries answered SERVFAIL: the client had [server] "
	    "client_inflight queries waiting on the upstream.",
	    st->q.client_inflight_full);
	head(out, "cordon_blocked_total", "counter",
	    "Blocked queries by list and trigger.");
	for (i = 0; i < st->nlists; i++)
		for (t = 0; t < TRIGGER_COUNT; t++) {
			evbuffer_add_printf(out, "cordon_blocked_total{list=\"");
			put_label(out, st->lists[i].name);
			evbuffer_add_printf(out, "\",trigger=\"%s\"} %llu\n",
			    trigger_names[t],
			    (unsigned long long)st->lists[i].blocked[t]);
		}
	evbuffer_add_printf(out, "cordon_blocked_total{list=\"geoip\","
	    "trigger=\"geo\"} %llu\n", (unsigned long long)st->q.geo_blocked);
}

static void
write_cache(struct evbuffer *out, const struct server_stats *st)
{
	one(out, "cordon_cache_hits_total", "counter", "Answers from cache.",
	    st->q.cache_hits);
	one(out, "cordon_cache_misses_total", "counter",
	    "Allowed queries not in cache.", st->q.cache_misses);
	one(out, "cordon_cache_entries", "gauge", "Answers cached.",
	    st->cache_entries);
}

/* One family (counter or gauge) with a sample per upstream server. */
static void
per_server(struct evbuffer *out, const struct server_stats *st,
    const struct config *cfg, const char *name, const char *type,
    const char *help, size_t field)
{
	size_t i;

	head(out, name, type, help);
	for (i = 0; i < st->nupstreams; i++) {
		char a[64];
		uint64_t v;

		netaddr_format((const struct sockaddr *)&cfg->upstreams[i].ss, a,
		    sizeof(a));
		memcpy(&v, (const char *)&st->upstreams[i] + field, sizeof(v));
		evbuffer_add_printf(out, "%s{server=\"%s\"} %llu\n", name, a,
		    (unsigned long long)v);
	}
}

static void
write_upstream(struct evbuffer *out, const struct server_stats *st,
    const struct config *cfg)
{
	size_t i, b;

	per_server(out, st, cfg, "cordon_upstream_queries_total", "counter",
	    "Tries sent per upstream server.",
	    offsetof(struct upstream_stats, sent));
	per_server(out, st, cfg, "cordon_upstream_errors_total", "counter",
	    "Tries that failed per upstream server (timeout, refused, "
	    "SERVFAIL, unreachable).", offsetof(struct upstream_stats, errors));
	per_server(out, st, cfg, "cordon_upstream_holddowns_total", "counter",
	    "Times a server was held down: unreachable, or TCP refused.",
	    offsetof(struct upstream_stats, holds));
	per_server(out, st, cfg, "cordon_upstream_held_down", "gauge",
	    "Workers holding the server down now (not asking it).",
	    offsetof(struct upstream_stats, held));
	head(out, "cordon_upstream_latency_seconds", "histogram",
	    "Time from sending a try to its answer.");
	for (i = 0; i < st->nupstreams; i++) {
		const struct upstream_stats *u = &st->upstreams[i];
		unsigned long long cum = 0;
		char a[64];

		netaddr_format((const struct sockaddr *)&cfg->upstreams[i].ss, a,
		    sizeof(a));
		for (b = 0; b < FORWARD_NBUCKETS; b++) {
			cum += u->latency[b];
			if (b == FORWARD_NBUCKETS - 1)
				evbuffer_add_printf(out, "cordon_upstream_latency"
				    "_seconds_bucket{server=\"%s\",le=\"+Inf\"} "
				    "%llu\n", a, cum);
			else
				evbuffer_add_printf(out, "cordon_upstream_latency"
				    "_seconds_bucket{server=\"%s\",le=\"%g\"} "
				    "%llu\n", a, FORWARD_LATENCY_MS[b] / 1000.0,
				    cum);
		}
		evbuffer_add_printf(out, "cordon_upstream_latency_seconds_sum"
		    "{server=\"%s\"} %.6f\n", a, u->latency_sum_us / 1e6);
		evbuffer_add_printf(out, "cordon_upstream_latency_seconds_count"
		    "{server=\"%s\"} %llu\n", a, (unsigned long long)u->answers);
	}
	one(out, "cordon_upstream_timeouts_total", "counter",
	    "Queries answered SERVFAIL because no upstream answered in time.",
	    st->fwd.timeouts);
	one(out, "cordon_upstream_refused_total", "counter",
	    "Queries answered SERVFAIL because the upstreams refused, were "
	    "unreachable or held down, or failed over TCP.", st->fwd.refused);
	one(out, "cordon_upstream_held_fast_total", "counter",
	    "Of those, queries failed at once: every server was held down.",
	    st->fwd.held_fast);
	one(out, "cordon_upstream_inflight", "gauge",
	    "Upstream exchanges in flight.", st->inflight);
}

static void
write_daemon(struct evbuffer *out, const struct metrics_daemon *md)
{
	head(out, "cordon_policy_info", "gauge", "The policy in force.");
	evbuffer_add_printf(out, "cordon_policy_info{policy=\"");
	put_label(out, policy_id(md->policy));
	evbuffer_add_printf(out, "\"} 1\n");
	head(out, "cordon_policy_entries", "gauge", "Names in the policy.");
	evbuffer_add_printf(out, "cordon_policy_entries %zu\n",
	    policy_entries(md->policy));
	head(out, "cordon_reloads_total", "counter", "Policy reloads.");
	evbuffer_add_printf(out, "cordon_reloads_total{result=\"ok\"} %llu\n"
	    "cordon_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)md->reloads_ok,
	    (unsigned long long)md->reloads_failed);
	head(out, "cordon_policy_loaded_timestamp_seconds", "gauge",
	    "When the policy in force was loaded.");
	evbuffer_add_printf(out, "cordon_policy_loaded_timestamp_seconds "
	    "%.3f\n", md->last_reload);
	head(out, "cordon_log_lines_total", "counter",
	    "Audit log lines written and dropped.");
	log_lines(out, "blocked", md->blocked_log);
	log_lines(out, "queries", md->query_log);
	if (md->dnstap != NULL) {
		head(out, "cordon_dnstap_messages_total", "counter",
		    "dnstap messages queued for the collector, and dropped "
		    "because its queue was full.");
		evbuffer_add_printf(out, "cordon_dnstap_messages_total{result="
		    "\"sent\"} %llu\ncordon_dnstap_messages_total{result="
		    "\"dropped\"} %llu\n",
		    (unsigned long long)md->dnstap->sent,
		    (unsigned long long)md->dnstap->dropped);
	}
	if (md->blocked_log != NULL && md->cfg->log_syslog) {
		head(out, "cordon_syslog_messages_total", "counter",
		    "Copies of audit lines and checkpoints sent to syslog, and "
		    "those the socket could not take.");
		evbuffer_add_printf(out, "cordon_syslog_messages_total{result="
		    "\"sent\"} %llu\ncordon_syslog_messages_total{result="
		    "\"dropped\"} %llu\n",
		    (unsigned long long)md->blocked_log->syslog_sent,
		    (unsigned long long)md->blocked_log->syslog_dropped);
	}
	head(out, "cordon_start_time_seconds", "gauge", "Start time.");
	evbuffer_add_printf(out, "cordon_start_time_seconds %.3f\n",
	    md->started);
}

void
metrics_write(struct evbuffer *out, const struct server_stats *st,
    const struct metrics_daemon *md)
{
	write_queries(out, st);
	write_cache(out, st);
	write_upstream(out, st, md->cfg);
	one(out, "cordon_tcp_clients", "gauge", "Open TCP connections.",
	    st->tcp_clients);
	one(out, "cordon_log_queue_refused_total", "counter",
	    "Audit lines the workers could not queue.", st->q.log_dropped);
	one(out, "cordon_log_suppressed_total", "counter",
	    "Audit lines over [log] client_rate, counted in \"suppressed\" "
	    "events instead.", st->q.log_suppressed);
	write_daemon(out, md);
}
