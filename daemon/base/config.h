/*
 * config: cordon.conf → a validated struct config.  Plain data: opening
 * sockets, loading lists and starting threads belong to others.  Parsing
 * fills a fresh struct and config_load() fails as a whole, so a reload
 * with a bad file never touches the running config.
 */
#ifndef CORDON_CONFIG_H
#define CORDON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/netaddr.h"

struct diag;

enum action {
	ACTION_NXDOMAIN,
	ACTION_NODATA,
	ACTION_REFUSED,
	ACTION_SINKHOLE,
};

/*
 * How blocked names are answered and which answers are inspected: the
 * [policy] keys other than lists.  The config holds them as parsed (and
 * owns the arrays); a policy is built with them (policy/policy.h) and
 * keeps its own copy, so a reload changes them with the lists.  A new
 * [policy] key is a field here and a line in config.c's table.
 */
struct policy_answer {
	enum action action;
	uint32_t ttl;			/* seconds */
	uint8_t sinkhole_a[4];
	uint8_t sinkhole_aaaa[16];
	bool check_cname;
	bool check_answer_ips;
	const char (*countries)[3];	/* block_countries: upper-case ISO */
	size_t ncountries;
	const uint32_t *asns;		/* block_asns */
	size_t nasns;
};

struct config {
	char *path;			/* the file read */

	/* [server] */
	struct netaddr *listen;
	size_t nlisten;
	uint32_t threads;
	struct prefix *allow;
	size_t nallow;
	struct prefix *allow_snoop;	/* may ask with RD=0 (cache only) */
	size_t nallow_snoop;
	uint32_t ratelimit;		/* answers/s per /24 or /56; 0 = off */
	uint32_t slip;			/* every Nth limited answer: TC */
	uint32_t client_inflight;	/* upstream queries per client */
	char *user;			/* "" = stay */
	char *pidfile;			/* "" = none */
	uint32_t tcp_idle_ms;
	size_t tcp_max_clients;
	uint16_t edns_size;		/* largest UDP answer we send */

	/* [upstream] */
	struct netaddr *upstreams;
	size_t nupstreams;
	uint32_t timeout_ms;
	size_t cache_size;
	uint32_t cache_max_ttl;		/* seconds */
	bool trust_ad;			/* pass the upstream's AD bit on */

	/* [policy]: a reload applies these with the lists */
	char *lists;			/* resolved path */
	struct policy_answer answer;	/* the rest of [policy] */

	/* [geoip] */
	char *country_db;
	char *asn_db;

	/* [log] */
	char *log_blocked;		/* "" = none */
	char *log_queries;		/* "" = none */
	char *log_state;		/* "" = BLOCKED.state */
	bool log_sync;			/* fdatasync each batch */
	char *log_signing_key;		/* "" = no checkpoints */
	char *log_checkpoints;		/* "" = BLOCKED.checkpoints */
	char *log_origin;		/* "" = cordon/HOSTNAME */
	uint32_t log_checkpoint_every;	/* ms */
	uint32_t log_client_rate;	/* blocked lines/s per client, then
					 * one "suppressed" event; 0 = off */
	bool log_syslog;		/* blocked lines, checkpoints too */
	char *log_dnstap;		/* unix:PATH | file:PATH | "" */
	bool log_dnstap_forwarder;	/* upstream exchanges too */
	char *log_dnstap_identity;	/* "": the host name */
	char *log_syslog_socket;	/* the syslog daemon's socket */
	int log_syslog_facility;	/* LOG_DAEMON, LOG_LOCAL0, ... */
	char *log_syslog_tag;

	/* [control] */
	char *control_http;
	char *control_socket;

	size_t *lines;			/* where each key was set; 0: default */
};

/* The line of cfg's file that set section/key, or 0 (default). */
size_t config_line(const struct config *cfg, const char *section,
    const char *key);

/*
 * Reads path.  Every problem is recorded in d as FILE:LINE: reason; the
 * result is NULL when there was any.  Relative paths in the file are
 * resolved against the directory of path.  An empty [upstream] servers
 * takes the nameservers of resolv_conf (normally "/etc/resolv.conf").
 * Free with config_free().
 */
struct config *config_load(const char *path, const char *resolv_conf,
    struct diag *d);
void config_free(struct config *cfg);

/* Why a [log] dnstap value is not "unix:/PATH" or "file:/PATH" (a
 * static string), or NULL when it is. */
const char *config_dnstap_why(const char *spec);

/*
 * What a reload would leave as it was: the keys that old and cfg set
 * differently and that only a restart applies (a reload applies the
 * lists, [policy] and [geoip]; sockets, threads, the cache, upstreams,
 * log files and the control listeners stay as they were started).
 * Writes them to buf as "[server] listen, [upstream] timeout" ("..."
 * ends what does not fit; "" when none) and returns how many there are.
 */
size_t config_restart_changes(const struct config *old,
    const struct config *cfg, char *buf, size_t size);

/* "nxdomain", "nodata", "refused", "sinkhole". */
const char *action_name(enum action a);

/* Parses "500ms", "2s", "1m", "1h" or a bare number of seconds into
 * milliseconds.  Returns 0, or -1 for anything else or over a day. */
int config_parse_duration(const char *text, uint32_t *ms);

#endif
