/*
 * metrics: the Prometheus text exposition of what cordond counts, for
 * GET /metrics and `cordon ctl stats`.  Formats numbers it is given;
 * collecting them is the server's and the daemon's job.
 */
#ifndef CORDON_METRICS_H
#define CORDON_METRICS_H

#include <stdint.h>

struct evbuffer;
struct config;
struct policy;
struct server_stats;
struct auditlog_stats;
struct dnstap_stats;

/* Daemon-level facts next to the workers' counters. */
struct metrics_daemon {
	const struct config *cfg;
	const struct policy *policy;	/* in force */
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	double started;			/* unix time */
	double last_reload;		/* unix time of the last good load */
	const struct auditlog_stats *blocked_log;	/* NULL: none */
	const struct auditlog_stats *query_log;		/* NULL: none */
	const struct dnstap_stats *dnstap;		/* NULL: none */
};

/* Appends the exposition (text format 0.0.4) to out. */
void metrics_write(struct evbuffer *out, const struct server_stats *st,
    const struct metrics_daemon *md);

#endif
