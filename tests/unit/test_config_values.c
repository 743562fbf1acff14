/*
 * test_config_values: every value cordon.conf takes, by its type
 * (string, number, duration, boolean, address, name, list): what is
 * accepted and the "FILE:LINE: [section] key: "value": reason" of what
 * is not; durations as config_parse_duration() reads them; and values
 * compared, for what a reload leaves to a restart
 * (config_restart_changes()).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/diag.h"
#include "unit.h"
#include "unit_config.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64];
static char resolv_path[128];

/* One value per line of a [section] key = value file. */
struct value_case {
	const char *section, *key, *value;
	int ok;				/* 1 accepted, 0 rejected */
	const char *why;		/* substring of the reason, or NULL */
};

static const struct value_case value_cases[] = {
	{ "server", "threads", "1", 1, NULL },
	{ "server", "threads", "64", 1, NULL },
	{ "server", "threads", "0", 0, "out of range" },
	{ "server", "threads", "65", 0, "out of range" },
	{ "server", "threads", "abc", 0, "not a number" },
	{ "server", "threads", "-1", 0, NULL },
	{ "server", "threads", "2x", 0, NULL },
	{ "server", "threads", "99999999999999999999999", 0, NULL },
	{ "server", "edns_size", "512", 1, NULL },
	{ "server", "edns_size", "65535", 1, NULL },
	{ "server", "edns_size", "511", 0, "out of range" },
	{ "server", "edns_size", "65536", 0, "out of range" },
	{ "server", "tcp_idle", "100ms", 1, NULL },
	{ "server", "tcp_idle", "1h", 1, NULL },
	{ "server", "tcp_idle", "2x", 0, "duration" },
	{ "server", "tcp_idle", "99ms", 0, "out of range" },
	{ "server", "tcp_max_clients", "0", 0, "out of range" },
	{ "server", "listen", "localhost:53", 0, "not an IP address" },
	{ "server", "listen", "127.0.0.1:0", 0, "port" },
	{ "server", "listen", "127.0.0.1:53, [::1]:99999", 0, "port" },
	{ "server", "listen", "", 0, NULL },
	{ "server", "allow", "10.0.0.1/8", 0, "host bits" },
	{ "server", "allow", "10.0.0.0/33", 0, NULL },
	{ "server", "allow", "nowhere", 0, NULL },
	{ "upstream", "servers", "127.0.0.1:65536", 0, "port" },
	{ "upstream", "servers", "dns.example", 0, NULL },
	{ "upstream", "timeout", "10ms", 1, NULL },
	{ "upstream", "timeout", "60s", 1, NULL },
	{ "upstream", "timeout", "9ms", 0, "out of range" },
	{ "upstream", "timeout", "61s", 0, "out of range" },
	{ "upstream", "timeout", "2x", 0, "duration" },
	{ "upstream", "timeout", "", 0, NULL },
	{ "upstream", "cache_size", "-5", 0, NULL },
	{ "upstream", "cache_size", "lots", 0, "not a number" },
	{ "upstream", "cache_max_ttl", "0", 1, NULL },
	{ "upstream", "cache_max_ttl", "25h", 0, NULL },
	{ "policy", "action", "nodata", 1, NULL },
	{ "policy", "action", "refused", 1, NULL },
	{ "policy", "action", "block", 0, "not an action" },
	{ "policy", "sinkhole_a", "::1", 0, "IPv4" },
	{ "policy", "sinkhole_a", "1.2.3", 0, "IPv4" },
	{ "policy", "sinkhole_aaaa", "1.2.3.4", 0, "IPv6" },
	{ "policy", "ttl", "0", 1, NULL },
	{ "policy", "ttl", "1h", 1, NULL },
	{ "policy", "ttl", "60x", 0, "duration" },
	{ "policy", "check_cname", "yes", 1, NULL },
	{ "policy", "check_cname", "true", 1, NULL },
	{ "policy", "check_cname", "maybe", 0, "boolean" },
	{ "policy", "check_answer_ips", "2", 0, "boolean" },
	/* every type's reason, as the table's types give it */
	{ "server", "ratelimit", "1e3", 0, "not a number" },
	{ "server", "slip", "101", 0, "out of range" },
	{ "server", "client_inflight", "0", 0, "out of range" },
	{ "server", "tcp_max_clients", "x", 0, "not a number" },
	{ "server", "edns_size", "1232.5", 0, "not a number" },
	{ "server", "tcp_idle", "2h", 0, "duration out of range" },
	{ "server", "tcp_idle", "5 s", 0, "not a duration (use ms, s, m, h" },
	{ "upstream", "cache_max_ttl", "25h", 0, "not a duration" },
	{ "upstream", "cache_max_ttl", "1d", 1, NULL },
	{ "upstream", "trust_ad", "perhaps", 0,
	    "not a boolean (use yes or no)" },
	{ "server", "listen", "", 0, "needs at least one address" },
	{ "server", "listen", ", ,", 0, "needs at least one address" },
	{ "upstream", "servers", "192.0.2.1 nowhere", 0, "not an IP address" },
	{ "server", "allow_snoop", "192.0.3.0/23", 0, "host bits" },
	{ "server", "allow_snoop", "", 1, NULL },
	{ "policy", "sinkhole_a", "192.0.2.256", 0, "not an IPv4 address" },
	{ "policy", "sinkhole_aaaa", "2001:db8::g", 0,
	    "not an IPv6 address" },
	{ "policy", "action", "SinkHole", 1, NULL },
	{ "policy", "action", "", 0,
	    "not an action (use nxdomain, nodata, refused or sinkhole)" },
	{ "policy", "block_countries", "KP, KOR", 0,
	    "not a two-letter ISO 3166 country code" },
	{ "policy", "block_countries", "k1", 0, "ISO 3166" },
	{ "policy", "block_asns", "AS4294967296", 0,
	    "not an AS number (use 64500 or AS64500)" },
	{ "policy", "block_asns", "as4294967295, 1", 1, NULL },
	{ "policy", "block_asns", "ASX", 0, "AS number" },
	{ "log", "syslog_facility", "local8", 0, "not a syslog facility (use "
	    "daemon, user, auth, authpriv or local0 to local7)" },
	{ "log", "syslog_facility", "AUTHPRIV", 1, NULL },
	{ "log", "syslog_tag", "cordon audit", 0, "not a syslog tag (1 to 32 "
	    "letters, digits, '-', '_' or '.')" },
	{ "log", "syslog_tag", "a23456789012345678901234567890123", 0,
	    "not a syslog tag" },
	{ "log", "syslog_tag", "a2345678901234567890123456789012", 1, NULL },
	{ "log", "syslog_tag", "", 0, "not a syslog tag" },
	{ "log", "checkpoint_every", "99ms", 0, "duration out of range" },
	{ "log", "client_rate", "10000001", 0, "out of range" },
	{ "log", "sync", "ja", 0, "boolean" },
};

static void
test_values(void)
{
	size_t i;

	for (i = 0; i < N(value_cases); i++) {
		const struct value_case *c = &value_cases[i];
		char text[512], prefix[256];
		struct diag *d;
		struct config *cfg;

		/* the line under test is line 4 */
		snprintf(text, sizeof(text),
		    "[policy]\nlists = x.ini\n[%s]\n%s = %s\n", c->section,
		    c->key, c->value);
		cfg = load(text, resolv_path, &d);
		if (c->ok) {
			CHECK(cfg != NULL && diag_count(d) == 0,
			    "[%s] %s = %s: rejected", c->section, c->key,
			    c->value);
			if (cfg == NULL)
				dump_diag(d);
		} else {
			const char *msg = diag_get(d, 0);

			CHECK(cfg == NULL, "[%s] %s = %s: accepted",
			    c->section, c->key, c->value);
			CHECK(diag_count(d) == 1, "[%s] %s = %s: %zu messages",
			    c->section, c->key, c->value, diag_count(d));
			snprintf(prefix, sizeof(prefix), "%s:4: ", conf_path);
			CHECK(starts_with(msg, prefix),
			    "[%s] %s = %s: message \"%s\", want prefix \"%s\"",
			    c->section, c->key, c->value, msg ? msg : "(null)",
			    prefix);
			CHECK(msg != NULL && strstr(msg, c->key) != NULL &&
			    strstr(msg, c->value) != NULL,
			    "[%s] %s = %s: message \"%s\" names neither key nor"
			    " value", c->section, c->key, c->value,
			    msg ? msg : "(null)");
			if (c->why != NULL)
				CHECK(msg != NULL && strstr(msg, c->why) != NULL,
				    "[%s] %s = %s: message \"%s\", want \"%s\"",
				    c->section, c->key, c->value,
				    msg ? msg : "(null)", c->why);
		}
		config_free(cfg);
		diag_free(d);
	}
}

struct duration_case {
	const char *text;
	int rc;
	uint32_t ms;
};

static const struct duration_case duration_cases[] = {
	{ "500ms", 0, 500 },
	{ "2s", 0, 2000 },
	{ "1m", 0, 60000 },
	{ "1h", 0, 3600000 },
	{ "5", 0, 5000 },
	{ "0", 0, 0 },
	{ "0ms", 0, 0 },
	{ "1ms", 0, 1 },
	{ "90s", 0, 90000 },
	{ "24h", 0, 86400000 },
	{ "1440m", 0, 86400000 },
	{ "86400", 0, 86400000 },
	{ "86400000ms", 0, 86400000 },
	/* over a day */
	{ "25h", -1, 0 },
	{ "1441m", -1, 0 },
	{ "86401s", -1, 0 },
	{ "86401", -1, 0 },
	{ "86400001ms", -1, 0 },
	{ "99999999999999999999999999", -1, 0 },
	{ "4294968s", -1, 0 },		/* would wrap a uint32 of ms */
	/* not a duration */
	{ "2x", -1, 0 },
	{ "", -1, 0 },
	{ "s", -1, 0 },
	{ "ms", -1, 0 },
	{ "-1", -1, 0 },
	{ "-1s", -1, 0 },
	{ "+1s", -1, 0 },
	{ " 2s", -1, 0 },
	{ "2 s", -1, 0 },
	{ "2s ", -1, 0 },
	{ "1.5s", -1, 0 },
	{ "2sec", -1, 0 },
	{ "2mss", -1, 0 },
	{ "1h30m", -1, 0 },
	{ "0x10", -1, 0 },
};

static void
test_durations(void)
{
	size_t i;

	for (i = 0; i < N(duration_cases); i++) {
		const struct duration_case *c = &duration_cases[i];
		uint32_t ms = 0xdeadbeef;
		int rc = config_parse_duration(c->text, &ms);

		CHECK(rc == c->rc, "duration \"%s\": rc %d, want %d", c->text,
		    rc, c->rc);
		if (rc == 0 && c->rc == 0)
			CHECK(ms == c->ms, "duration \"%s\": %u ms, want %u",
			    c->text, ms, c->ms);
	}
}


/* A config that sets nothing a restart_case changes but lists and
 * upstreams (so resolv.conf is not read). */
#define RESTART_BASE "[policy]\nlists = a.ini\n[upstream]\nservers = " \
	"192.0.2.1\n"

struct restart_case {
	const char *section, *key, *value;
	bool restart;		/* false: a reload applies it */
};

/* Every key, changed; a reload applies [policy] and [geoip] only
 * (cordond.c's apply_reload swaps the policy and nothing else). */
static const struct restart_case restart_cases[] = {
	{ "server", "listen", "127.0.0.1:5353", true },
	{ "server", "listen", "127.0.0.1:53, [::1]:54", true },
	{ "server", "threads", "2", true },
	{ "server", "allow", "127.0.0.0/16, ::1/128", true },
	{ "server", "allow_snoop", "127.0.0.1", true },
	{ "server", "ratelimit", "10", true },
	{ "server", "slip", "3", true },
	{ "server", "client_inflight", "5", true },
	{ "server", "user", "nobody", true },
	{ "server", "pidfile", "cordond.pid", true },
	{ "server", "tcp_idle", "5s", true },
	{ "server", "tcp_max_clients", "7", true },
	{ "server", "edns_size", "4096", true },
	{ "upstream", "servers", "192.0.2.2", true },
	{ "upstream", "servers", "192.0.2.1:54", true },
	{ "upstream", "timeout", "1s", true },
	{ "upstream", "cache_size", "5", true },
	{ "upstream", "trust_ad", "yes", true },
	{ "upstream", "cache_max_ttl", "1h", true },
	{ "log", "blocked", "b.jsonl", true },
	{ "log", "queries", "q.jsonl", true },
	{ "log", "state", "b.state", true },
	{ "log", "sync", "no", true },
	{ "log", "signing_key", "k.key", true },
	{ "log", "checkpoints", "b.cp", true },
	{ "log", "origin", "example.org/log", true },
	{ "log", "checkpoint_every", "2m", true },
	{ "log", "client_rate", "5", true },
	{ "log", "syslog", "yes", true },
	{ "log", "syslog_socket", "log.sock", true },
	{ "log", "syslog_facility", "local1", true },
	{ "log", "syslog_tag", "other", true },
	{ "control", "http", "127.0.0.1:9000", true },
	{ "control", "socket", "ctl.sock", true },
	{ "policy", "lists", "b.ini", false },
	{ "policy", "action", "sinkhole", false },
	{ "policy", "sinkhole_a", "192.0.2.9", false },
	{ "policy", "sinkhole_aaaa", "::2", false },
	{ "policy", "ttl", "5m", false },
	{ "policy", "check_cname", "no", false },
	{ "policy", "check_answer_ips", "no", false },
	{ "policy", "block_countries", "KP", false },
	{ "policy", "block_asns", "64500", false },
	{ "geoip", "country_db", "c.mmdb", false },
	{ "geoip", "asn_db", "a.mmdb", false },
	/* the same values, written otherwise */
	{ "server", "listen", "127.0.0.1 [::1]", false },
	{ "server", "threads", "01", false },
	{ "server", "tcp_idle", "10000ms", false },
	{ "upstream", "trust_ad", "off", false },
	{ "log", "syslog_facility", "DAEMON", false },
	{ "log", "syslog_socket", "/dev/log", false },
};

static struct config *
load_quiet(const char *text)
{
	struct diag *d;
	struct config *cfg = load(text, resolv_path, &d);

	if (cfg == NULL)
		dump_diag(d);
	diag_free(d);
	return cfg;
}

static void
check_restart_case(const struct config *old, const struct restart_case *c)
{
	char text[512], want[80], buf[128];
	struct config *cfg;
	size_t n;

	snprintf(text, sizeof(text), RESTART_BASE "[%s]\n%s = %s\n",
	    c->section, c->key, c->value);
	if ((cfg = load_quiet(text)) == NULL) {
		CHECK(false, "restart: [%s] %s = %s: load failed",
		    c->section, c->key, c->value);
		return;
	}
	n = config_restart_changes(old, cfg, buf, sizeof(buf));
	snprintf(want, sizeof(want), "[%s] %s", c->section, c->key);
	CHECK(n == (c->restart ? 1u : 0u), "restart: [%s] %s = %s: %zu "
	    "changes (%s)", c->section, c->key, c->value, n, buf);
	CHECK_STR(buf, c->restart ? want : "", "restart: [%s] %s = %s",
	    c->section, c->key, c->value);
	n = config_restart_changes(cfg, cfg, buf, sizeof(buf));
	CHECK(n == 0 && buf[0] == '\0', "restart: [%s] %s: itself %zu",
	    c->section, c->key, n);
	config_free(cfg);
}

/* Several at once, in the table's order; what does not fit ends in
 * "...", and the count is of all of them. */
static void
check_restart_many(const struct config *old)
{
	struct config *cfg = load_quiet(RESTART_BASE
	    "[policy]\nttl = 1s\n[server]\nthreads = 3\nlisten = 127.0.0.1\n"
	    "[log]\nclient_rate = 1\n[control]\nhttp = 127.0.0.1:1\n");
	char buf[128], small[40];
	size_t n;

	if (cfg == NULL) {
		CHECK(false, "restart many: load failed");
		return;
	}
	n = config_restart_changes(old, cfg, buf, sizeof(buf));
	CHECK(n == 4, "restart many: %zu changes", n);
	CHECK_STR(buf, "[server] listen, [server] threads, [log] client_rate, "
	    "[control] http", "restart many");
	n = config_restart_changes(old, cfg, small, sizeof(small));
	CHECK(n == 4, "restart many, small: %zu changes", n);
	CHECK_STR(small, "[server] listen, [server] threads ...",
	    "restart many, small");
	n = config_restart_changes(old, cfg, small, 4);
	CHECK(n == 4 && small[0] == '\0', "restart many, tiny: %zu \"%s\"",
	    n, small);
	config_free(cfg);
}

static void
test_restart_changes(void)
{
	struct config *old = load_quiet(RESTART_BASE);
	size_t i;

	CHECK(old != NULL, "restart: base config failed");
	if (old == NULL)
		return;
	for (i = 0; i < N(restart_cases); i++)
		check_restart_case(old, &restart_cases[i]);
	check_restart_many(old);
	config_free(old);
}

int
main(void)
{
	strcpy(dir, "/tmp/cordon-test-config-values.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/cordon.conf", dir);
	snprintf(resolv_path, sizeof(resolv_path), "%s/resolv.conf", dir);
	write_file(resolv_path, "nameserver 192.0.2.53\n");

	test_durations();
	test_values();
	test_restart_changes();

	unlink(conf_path);
	unlink(resolv_path);
	rmdir(dir);
	return unit_exit();
}
