/*
 * test_config: cordon.conf files written to a mkdtemp() directory:
 * defaults, every key, "FILE:LINE: reason" errors (several per file, all
 * reported), relative paths, resolv.conf fallback and the answer
 * settings a policy is built with.  Values by their type (and what a
 * reload leaves to a restart): test_config_values.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "base/config.h"
#include "base/diag.h"
#include "base/netaddr.h"
#include "policy/loader.h"
#include "policy/policy.h"
#include "unit.h"
#include "unit_config.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64];
static char resolv_path[128];
static char resolv_empty[128];
static char resolv_missing[128];

static void
addr_text(const struct netaddr *na, char *buf, size_t size)
{
	if (netaddr_format((const struct sockaddr *)&na->ss, buf, size) == 0)
		snprintf(buf, size, "?");
}

static void
prefix_text(const struct prefix *p, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, p->bits);
}

/* The smallest file that loads: lists must be set, upstreams come from
 * resolv.conf. */
static void
test_defaults(void)
{
	struct diag *d;
	struct config *cfg = load(
	    "; only section headers\n"
	    "[server]\n"
	    "[upstream]\n"
	    "[policy]\n"
	    "lists = sources.ini\n"
	    "[geoip]\n"
	    "[log]\n"
	    "[control]\n", resolv_path, &d);
	char buf[80];
	static const uint8_t zero16[16];

	CHECK(cfg != NULL, "defaults: load failed");
	if (cfg == NULL) {
		dump_diag(d);
		diag_free(d);
		return;
	}
	CHECK(diag_count(d) == 0, "defaults: %zu messages", diag_count(d));
	CHECK_STR(cfg->path, conf_path, "defaults: path");
	CHECK(cfg->nlisten == 2, "defaults: nlisten %zu", cfg->nlisten);
	if (cfg->nlisten == 2) {
		addr_text(&cfg->listen[0], buf, sizeof(buf));
		CHECK_STR(buf, "127.0.0.1:53", "defaults: listen[0]");
		addr_text(&cfg->listen[1], buf, sizeof(buf));
		CHECK_STR(buf, "[::1]:53", "defaults: listen[1]");
	}
	CHECK(cfg->threads == 1, "defaults: threads %u", cfg->threads);
	CHECK(cfg->nallow == 2, "defaults: nallow %zu", cfg->nallow);
	if (cfg->nallow == 2) {
		prefix_text(&cfg->allow[0], buf, sizeof(buf));
		CHECK_STR(buf, "127.0.0.0/8", "defaults: allow[0]");
		prefix_text(&cfg->allow[1], buf, sizeof(buf));
		CHECK_STR(buf, "::1/128", "defaults: allow[1]");
	}
	CHECK_STR(cfg->user, "", "defaults: user");
	CHECK_STR(cfg->pidfile, "", "defaults: pidfile");
	CHECK(cfg->tcp_idle_ms == 10000, "defaults: tcp_idle %u",
	    cfg->tcp_idle_ms);
	CHECK(cfg->tcp_max_clients == 1000, "defaults: tcp_max_clients %zu",
	    cfg->tcp_max_clients);
	CHECK(cfg->edns_size == 1232, "defaults: edns_size %u",
	    cfg->edns_size);
	CHECK(cfg->timeout_ms == 2000, "defaults: timeout %u",
	    cfg->timeout_ms);
	CHECK(cfg->cache_size == 100000, "defaults: cache_size %zu",
	    cfg->cache_size);
	CHECK(cfg->cache_max_ttl == 86400, "defaults: cache_max_ttl %u",
	    cfg->cache_max_ttl);
	CHECK(cfg->answer.action == ACTION_NXDOMAIN, "defaults: action %d",
	    cfg->answer.action);
	CHECK_STR(action_name(cfg->answer.action), "nxdomain", "defaults: action");
	CHECK(memcmp(cfg->answer.sinkhole_a, zero16, 4) == 0, "defaults: sinkhole_a");
	CHECK(memcmp(cfg->answer.sinkhole_aaaa, zero16, 16) == 0,
	    "defaults: sinkhole_aaaa");
	CHECK(cfg->answer.ttl == 60, "defaults: ttl %u", cfg->answer.ttl);
	CHECK(cfg->answer.check_cname, "defaults: check_cname");
	CHECK(cfg->answer.check_answer_ips, "defaults: check_answer_ips");
	CHECK(cfg->answer.ncountries == 0, "defaults: block_countries %zu",
	    cfg->answer.ncountries);
	CHECK(cfg->answer.nasns == 0, "defaults: block_asns %zu",
	    cfg->answer.nasns);
	CHECK_STR(cfg->country_db, "", "defaults: country_db");
	CHECK_STR(cfg->asn_db, "", "defaults: asn_db");
	CHECK_STR(cfg->log_blocked, "", "defaults: log blocked");
	CHECK_STR(cfg->log_queries, "", "defaults: log queries");
	/* upstreams from resolv.conf */
	CHECK(cfg->nupstreams == 2, "defaults: nupstreams %zu",
	    cfg->nupstreams);
	if (cfg->nupstreams == 2) {
		addr_text(&cfg->upstreams[0], buf, sizeof(buf));
		CHECK_STR(buf, "192.0.2.53:53", "resolv: upstream[0]");
		addr_text(&cfg->upstreams[1], buf, sizeof(buf));
		CHECK_STR(buf, "[2001:db8::53]:53", "resolv: upstream[1]");
	}
	snprintf(buf, sizeof(buf), "%s/sources.ini", dir);
	CHECK_STR(cfg->lists, buf, "defaults: lists resolved");
	config_free(cfg);
	diag_free(d);
}

/* Every key set to something other than its default. */
static void
test_all_keys(void)
{
	struct diag *d;
	struct config *cfg = load(
	    "[server]\n"
	    "listen = 192.0.2.1:5353, [2001:db8::1]:53 10.0.0.1\n"
	    "threads = 8\n"
	    "allow = 10.0.0.0/8, 2001:db8::/32 ,192.0.2.7\n"
	    "user = cordon\n"
	    "pidfile = /run/cordond.pid\n"
	    "tcp_idle = 1500ms\n"
	    "tcp_max_clients = 250\n"
	    "edns_size = 4096\n"
	    "[upstream]\n"
	    "servers = 127.0.0.1:5300, [::1]:5301, 192.0.2.99\n"
	    "timeout = 750ms\n"
	    "cache_size = 0\n"
	    "cache_max_ttl = 1h\n"
	    "[policy]\n"
	    "lists = /etc/cordon/policy.cpol\n"
	    "action = sinkhole\n"
	    "sinkhole_a = 192.0.2.250\n"
	    "sinkhole_aaaa = 2001:db8::250\n"
	    "ttl = 5m\n"
	    "check_cname = no\n"
	    "check_answer_ips = off\n"
	    "block_countries = KP, ir\n"
	    "block_asns = 64500 AS64501\n"
	    "[geoip]\n"
	    "country_db = /var/lib/geoip/country.mmdb\n"
	    "asn_db = /var/lib/geoip/asn.mmdb\n"
	    "[log]\n"
	    "blocked = /var/log/cordon/blocked.jsonl\n"
	    "queries = /var/log/cordon/queries.jsonl\n"
	    "[control]\n"
	    "http = 127.0.0.1:9153\n"
	    "socket = /run/cordon/control.sock\n", resolv_missing, &d);
	char buf[80];
	static const uint8_t a[4] = { 192, 0, 2, 250 };
	uint8_t aaaa[16];

	CHECK(cfg != NULL, "all keys: load failed");
	if (cfg == NULL) {
		dump_diag(d);
		diag_free(d);
		return;
	}
	CHECK(cfg->nlisten == 3, "listen: %zu", cfg->nlisten);
	if (cfg->nlisten == 3) {
		addr_text(&cfg->listen[0], buf, sizeof(buf));
		CHECK_STR(buf, "192.0.2.1:5353", "listen[0]");
		addr_text(&cfg->listen[1], buf, sizeof(buf));
		CHECK_STR(buf, "[2001:db8::1]:53", "listen[1]");
		addr_text(&cfg->listen[2], buf, sizeof(buf));
		CHECK_STR(buf, "10.0.0.1:53", "listen[2]");
	}
	CHECK(cfg->threads == 8, "threads %u", cfg->threads);
	CHECK(cfg->nallow == 3, "allow: %zu", cfg->nallow);
	if (cfg->nallow == 3) {
		prefix_text(&cfg->allow[0], buf, sizeof(buf));
		CHECK_STR(buf, "10.0.0.0/8", "allow[0]");
		prefix_text(&cfg->allow[1], buf, sizeof(buf));
		CHECK_STR(buf, "2001:db8::/32", "allow[1]");
		prefix_text(&cfg->allow[2], buf, sizeof(buf));
		CHECK_STR(buf, "192.0.2.7/32", "allow[2]");
	}
	CHECK_STR(cfg->user, "cordon", "user");
	CHECK_STR(cfg->pidfile, "/run/cordond.pid", "pidfile");
	CHECK(cfg->tcp_idle_ms == 1500, "tcp_idle %u", cfg->tcp_idle_ms);
	CHECK(cfg->tcp_max_clients == 250, "tcp_max_clients %zu",
	    cfg->tcp_max_clients);
	CHECK(cfg->edns_size == 4096, "edns_size %u", cfg->edns_size);
	CHECK(cfg->nupstreams == 3, "servers: %zu", cfg->nupstreams);
	if (cfg->nupstreams == 3) {
		addr_text(&cfg->upstreams[0], buf, sizeof(buf));
		CHECK_STR(buf, "127.0.0.1:5300", "servers[0]");
		addr_text(&cfg->upstreams[1], buf, sizeof(buf));
		CHECK_STR(buf, "[::1]:5301", "servers[1]");
		addr_text(&cfg->upstreams[2], buf, sizeof(buf));
		CHECK_STR(buf, "192.0.2.99:53", "servers[2]");
	}
	CHECK(cfg->timeout_ms == 750, "timeout %u", cfg->timeout_ms);
	CHECK(cfg->cache_size == 0, "cache_size %zu", cfg->cache_size);
	CHECK(cfg->cache_max_ttl == 3600, "cache_max_ttl %u",
	    cfg->cache_max_ttl);
	CHECK_STR(cfg->lists, "/etc/cordon/policy.cpol", "lists");
	CHECK(cfg->answer.action == ACTION_SINKHOLE, "action %d", cfg->answer.action);
	CHECK(memcmp(cfg->answer.sinkhole_a, a, 4) == 0, "sinkhole_a");
	inet_pton(AF_INET6, "2001:db8::250", aaaa);
	CHECK(memcmp(cfg->answer.sinkhole_aaaa, aaaa, 16) == 0, "sinkhole_aaaa");
	CHECK(cfg->answer.ttl == 300, "ttl %u", cfg->answer.ttl);
	CHECK(!cfg->answer.check_cname, "check_cname");
	CHECK(!cfg->answer.check_answer_ips, "check_answer_ips");
	CHECK(cfg->answer.ncountries == 2 &&
	    strcmp(cfg->answer.countries[0], "KP") == 0 &&
	    strcmp(cfg->answer.countries[1], "IR") == 0, "block_countries");
	CHECK(cfg->answer.nasns == 2 && cfg->answer.asns[0] == 64500 &&
	    cfg->answer.asns[1] == 64501, "block_asns");
	CHECK_STR(cfg->country_db, "/var/lib/geoip/country.mmdb",
	    "country_db");
	CHECK_STR(cfg->asn_db, "/var/lib/geoip/asn.mmdb", "asn_db");
	CHECK_STR(cfg->log_blocked, "/var/log/cordon/blocked.jsonl",
	    "log blocked");
	CHECK_STR(cfg->log_queries, "/var/log/cordon/queries.jsonl",
	    "log queries");
	CHECK_STR(cfg->control_http, "127.0.0.1:9153", "control http");
	CHECK_STR(cfg->control_socket, "/run/cordon/control.sock",
	    "control socket");
	config_free(cfg);
	diag_free(d);
}

/* Several mistakes in one file: every one is reported, in order, with
 * its own line. */
static void
test_many_errors(void)
{
	struct diag *d;
	struct config *cfg = load(
	    "[server]\n"			/* 1 */
	    "threads = 0\n"			/* 2 */
	    "colour = blue\n"			/* 3 */
	    "\n"				/* 4 */
	    "[bogus]\n"				/* 5 */
	    "key = value\n"			/* 6 */
	    "[upstream]\n"			/* 7 */
	    "timeout = 2x\n"			/* 8 */
	    "cache_size = 10\n"			/* 9: fine */
	    "[policy]\n"			/* 10 */
	    "lists = a.ini\n"			/* 11 */
	    "action = drop\n"			/* 12 */
	    "lsts = b.ini\n"			/* 13 */
	    "[log]\n"				/* 14 */
	    "blocked = x.jsonl\n"		/* 15: fine */
	    "[server]\n"			/* 16 */
	    "edns_size = 100\n",		/* 17 */
	    resolv_path, &d);
	static const struct {
		unsigned line;
		const char *what[3];
	} want[] = {
		{ 2, { "threads", "\"0\"", NULL } },
		{ 3, { "unknown key", "colour", NULL } },
		{ 5, { "unknown section", "bogus", NULL } },
		{ 8, { "timeout", "\"2x\"", NULL } },
		{ 12, { "action", "\"drop\"", NULL } },
		{ 13, { "unknown key", "lsts", NULL } },
		{ 17, { "edns_size", "\"100\"", NULL } },
	};
	size_t i, j;

	CHECK(cfg == NULL, "many errors: loaded");
	CHECK(diag_count(d) == N(want), "many errors: %zu messages, want %zu",
	    diag_count(d), N(want));
	if (diag_count(d) != N(want))
		dump_diag(d);
	for (i = 0; i < N(want); i++) {
		const char *msg = diag_get(d, i);
		char prefix[256];

		snprintf(prefix, sizeof(prefix), "%s:%u: ", conf_path,
		    want[i].line);
		CHECK(starts_with(msg, prefix), "many errors %zu: \"%s\", want"
		    " prefix \"%s\"", i, msg ? msg : "(null)", prefix);
		for (j = 0; j < 3 && want[i].what[j] != NULL; j++)
			CHECK(msg != NULL && strstr(msg, want[i].what[j]) !=
			    NULL, "many errors %zu: \"%s\" lacks \"%s\"", i,
			    msg ? msg : "(null)", want[i].what[j]);
	}
	config_free(cfg);
	diag_free(d);
}

/* Problems other than a bad value. */
struct error_case {
	const char *label;
	const char *text;
	const char *resolv;
	unsigned line;		/* 0: "FILE: reason" */
	const char *file;	/* NULL: the config */
	const char *what;
};

static void
test_errors(void)
{
	const struct error_case cases[] = {
		{ "unknown section", "[policy]\nlists = a\n[serverr]\n"
		    "threads = 2\n", resolv_path, 3, NULL,
		    "unknown section [serverr]" },
		{ "unknown key", "[policy]\nlists = a\nlist = b\n",
		    resolv_path, 3, NULL, "unknown key \"list\"" },
		{ "bad country", "[policy]\nlists = a\nblock_countries = "
		    "CN, China\n", resolv_path, 3, NULL, "ISO 3166" },
		{ "bad AS number", "[policy]\nlists = a\nblock_asns = AS0\n",
		    resolv_path, 3, NULL, "AS number" },
		{ "key outside a section", "threads = 2\n[policy]\n"
		    "lists = a\n", resolv_path, 1, NULL, NULL },
		{ "syntax", "[policy]\nlists = a\nthis is not ini\n",
		    resolv_path, 3, NULL, NULL },
		{ "lists not set", "[server]\nthreads = 2\n", resolv_path, 0,
		    NULL, "lists" },
		{ "resolv.conf without nameserver", "[policy]\nlists = a\n",
		    resolv_empty, 0, NULL, resolv_empty },
		{ "resolv.conf missing", "[policy]\nlists = a\n"
		    "[upstream]\nservers =\n", resolv_missing, 0, NULL,
		    resolv_missing },
		/* an unknown section is a mistake even before it has keys */
		{ "empty unknown section", "[policy]\nlists = a\n"
		    "[contrl]\n", resolv_path, 3, NULL, "contrl" },
	};
	size_t i;

	for (i = 0; i < N(cases); i++) {
		const struct error_case *c = &cases[i];
		struct diag *d;
		struct config *cfg = load(c->text, c->resolv, &d);
		const char *msg = diag_get(d, 0);
		char prefix[256];

		if (c->line > 0)
			snprintf(prefix, sizeof(prefix), "%s:%u: ",
			    c->file ? c->file : conf_path, c->line);
		else
			snprintf(prefix, sizeof(prefix), "%s: ",
			    c->file ? c->file : conf_path);
		CHECK(cfg == NULL, "%s: loaded", c->label);
		if (cfg != NULL) {
			config_free(cfg);
			diag_free(d);
			continue;
		}
		CHECK(diag_count(d) == 1, "%s: %zu messages", c->label,
		    diag_count(d));
		CHECK(starts_with(msg, prefix), "%s: \"%s\", want prefix \"%s\"",
		    c->label, msg ? msg : "(null)", prefix);
		if (c->what != NULL)
			CHECK(msg != NULL && strstr(msg, c->what) != NULL,
			    "%s: \"%s\" lacks \"%s\"", c->label,
			    msg ? msg : "(null)", c->what);
		config_free(cfg);
		diag_free(d);
	}
}

/* Relative paths are taken from the config's directory, absolute ones
 * are kept. */
static void
test_paths(void)
{
	struct diag *d;
	struct config *cfg = load(
	    "[server]\n"
	    "pidfile = run/cordond.pid\n"
	    "[upstream]\n"
	    "servers = 127.0.0.1:5300\n"
	    "[policy]\n"
	    "lists = blocklists/sources.ini\n"
	    "[geoip]\n"
	    "country_db = geo/country.mmdb\n"
	    "asn_db = /abs/asn.mmdb\n"
	    "[log]\n"
	    "blocked = blocked.jsonl\n"
	    "queries = ../q.jsonl\n"
	    "[control]\n"
	    "socket = control.sock\n", resolv_missing, &d);
	static const struct {
		const char *label;
		size_t off;
		const char *rel;	/* NULL: absolute, as written */
		const char *abs;
	} paths[] = {
		{ "pidfile", offsetof(struct config, pidfile),
		    "run/cordond.pid", NULL },
		{ "lists", offsetof(struct config, lists),
		    "blocklists/sources.ini", NULL },
		{ "country_db", offsetof(struct config, country_db),
		    "geo/country.mmdb", NULL },
		{ "asn_db", offsetof(struct config, asn_db), NULL,
		    "/abs/asn.mmdb" },
		{ "log blocked", offsetof(struct config, log_blocked),
		    "blocked.jsonl", NULL },
		{ "log queries", offsetof(struct config, log_queries),
		    "../q.jsonl", NULL },
		{ "control socket", offsetof(struct config, control_socket),
		    "control.sock", NULL },
	};
	size_t i;

	CHECK(cfg != NULL, "paths: load failed");
	if (cfg == NULL) {
		dump_diag(d);
		diag_free(d);
		return;
	}
	for (i = 0; i < N(paths); i++) {
		const char *got = *(char **)((char *)cfg + paths[i].off);
		char want[256];

		if (paths[i].rel != NULL)
			snprintf(want, sizeof(want), "%s/%s", dir, paths[i].rel);
		else
			snprintf(want, sizeof(want), "%s", paths[i].abs);
		CHECK_STR(got, want, "paths: %s", paths[i].label);
	}
	/* empty paths stay empty */
	CHECK_STR(cfg->user, "", "paths: user");
	config_free(cfg);
	diag_free(d);
}

/* The keys test_all_keys() leaves at their defaults, each into its own
 * field. */
static void
test_more_keys(void)
{
	struct diag *d;
	struct config *cfg = load(
	    "[server]\n"
	    "allow_snoop = 192.0.2.0/24\n"
	    "ratelimit = 50\n"
	    "slip = 0\n"
	    "client_inflight = 7\n"
	    "[upstream]\n"
	    "servers = 192.0.2.1\n"
	    "trust_ad = yes\n"
	    "[policy]\n"
	    "lists = a.ini\n"
	    "[log]\n"
	    "state = /s\n"
	    "sync = no\n"
	    "signing_key = /k\n"
	    "checkpoints = /c\n"
	    "origin = example.org/log\n"
	    "checkpoint_every = 90s\n"
	    "client_rate = 0\n"
	    "syslog = yes\n"
	    "syslog_socket = /run/log.sock\n"
	    "syslog_facility = local3\n"
	    "syslog_tag = cordon.test\n", resolv_missing, &d);
	char buf[80];

	CHECK(cfg != NULL, "more keys: load failed");
	if (cfg == NULL) {
		dump_diag(d);
		diag_free(d);
		return;
	}
	CHECK(cfg->nallow_snoop == 1, "allow_snoop: %zu", cfg->nallow_snoop);
	if (cfg->nallow_snoop == 1) {
		prefix_text(&cfg->allow_snoop[0], buf, sizeof(buf));
		CHECK_STR(buf, "192.0.2.0/24", "allow_snoop[0]");
	}
	CHECK(cfg->ratelimit == 50 && cfg->slip == 0 &&
	    cfg->client_inflight == 7, "ratelimit %u slip %u inflight %u",
	    cfg->ratelimit, cfg->slip, cfg->client_inflight);
	CHECK(cfg->trust_ad, "trust_ad");
	CHECK_STR(cfg->log_state, "/s", "log state");
	CHECK(!cfg->log_sync, "log sync");
	CHECK_STR(cfg->log_signing_key, "/k", "log signing_key");
	CHECK_STR(cfg->log_checkpoints, "/c", "log checkpoints");
	CHECK_STR(cfg->log_origin, "example.org/log", "log origin");
	CHECK(cfg->log_checkpoint_every == 90000, "checkpoint_every %u",
	    cfg->log_checkpoint_every);
	CHECK(cfg->log_client_rate == 0, "client_rate %u",
	    cfg->log_client_rate);
	CHECK(cfg->log_syslog, "log syslog");
	CHECK_STR(cfg->log_syslog_socket, "/run/log.sock", "syslog_socket");
	CHECK(cfg->log_syslog_facility == LOG_LOCAL3, "syslog_facility %d",
	    cfg->log_syslog_facility);
	CHECK_STR(cfg->log_syslog_tag, "cordon.test", "syslog_tag");
	config_free(cfg);
	diag_free(d);
}

/* The policy is built with the config's [policy] answer settings, as
 * they are (block_countries and block_asns need GeoIP databases: those
 * go in through policy_load(), as the loader hands them on). */
static void
test_answer_settings(void)
{
	char lists[160];
	struct diag *d = diag_new();
	struct config *cfg = NULL;
	struct policy *p = NULL;
	const struct policy_answer *got;

	snprintf(lists, sizeof(lists), "%s/answer.domains", dir);
	write_file(lists, "blocked.example\n");
	snprintf(lists, sizeof(lists), "%s/answer.ini", dir);
	write_file(lists, "[source a]\nfile = answer.domains\n"
	    "format = domains\n");
	write_file(conf_path, "[upstream]\nservers = 192.0.2.1\n"
	    "[policy]\nlists = answer.ini\naction = sinkhole\nttl = 77\n"
	    "sinkhole_a = 192.0.2.7\nsinkhole_aaaa = 2001:db8::7\n"
	    "check_cname = no\n");
	CHECK(loader_load(conf_path, d, &cfg, &p) == 0, "answer: load");
	if (p != NULL && cfg != NULL) {
		got = policy_answer(p);
		CHECK(got->action == ACTION_SINKHOLE && got->ttl == 77 &&
		    memcmp(got->sinkhole_a, cfg->answer.sinkhole_a, 4) == 0 &&
		    memcmp(got->sinkhole_aaaa, cfg->answer.sinkhole_aaaa,
		    16) == 0 && !got->check_cname && got->check_answer_ips &&
		    got->ncountries == 0 && got->nasns == 0,
		    "answer: the policy's settings are the config's");
	} else
		dump_diag(d);
	policy_unref(p);
	config_free(cfg);
	p = NULL;
	write_file(conf_path, "[upstream]\nservers = 192.0.2.1\n"
	    "[policy]\nlists = answer.ini\nblock_countries = IR, kp\n"
	    "block_asns = AS64500\n");
	if ((cfg = config_load(conf_path, resolv_missing, d)) != NULL)
		p = policy_load(cfg->lists, &cfg->answer, d);
	CHECK(p != NULL, "answer: policy_load");
	if (p == NULL)
		dump_diag(d);
	else {
		got = policy_answer(p);
		CHECK(got->ncountries == 2 && strcmp(got->countries[0],
		    "IR") == 0 && strcmp(got->countries[1], "KP") == 0 &&
		    got->nasns == 1 && got->asns[0] == 64500 &&
		    got->countries != cfg->answer.countries,
		    "answer: countries and ASNs copied");
	}
	policy_unref(p);
	config_free(cfg);
	diag_free(d);
	unlink(lists);
	snprintf(lists, sizeof(lists), "%s/answer.domains", dir);
	unlink(lists);
}

int
main(void)
{
	strcpy(dir, "/tmp/cordon-test-config.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/cordon.conf", dir);
	snprintf(resolv_path, sizeof(resolv_path), "%s/resolv.conf", dir);
	snprintf(resolv_empty, sizeof(resolv_empty), "%s/resolv-empty.conf",
	    dir);
	snprintf(resolv_missing, sizeof(resolv_missing), "%s/no-such-file",
	    dir);
	write_file(resolv_path,
	    "# written by test_config\n"
	    "search example.org\n"
	    "options ndots:2\n"
	    "nameserver 192.0.2.53\n"
	    "nameserver fe80::1%eth0\n"
	    "  nameserver 2001:db8::53\n"
	    ";nameserver 192.0.2.54\n");
	write_file(resolv_empty,
	    "# no nameserver here\n"
	    "search example.org\n"
	    "nameserver not-an-address\n");

	test_defaults();
	test_all_keys();
	test_many_errors();
	test_errors();
	test_paths();
	test_more_keys();
	test_answer_settings();

	unlink(conf_path);
	unlink(resolv_path);
	unlink(resolv_empty);
	rmdir(dir);
	return unit_exit();
}
