/*
 * config: one table of options drives parsing, defaults, comparing and
 * what a reload applies.  Adding an option is one line in options[] and
 * a field in struct config; values are parsed by their type in
 * config_types.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>

#include "base/config.h"
#include "base/config_impl.h"
#include "base/diag.h"
#include "base/inifile.h"

static const struct opt_name action_v[] = {
	{ "nxdomain", ACTION_NXDOMAIN },
	{ "nodata", ACTION_NODATA },
	{ "refused", ACTION_REFUSED },
	{ "sinkhole", ACTION_SINKHOLE },
};
static const struct opt_names action_names = { action_v, 4,
	"not an action (use nxdomain, nodata, refused or sinkhole)" };

const char *
action_name(enum action a)
{
	return action_v[a].name;
}

static const struct opt_name facility_v[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};
static const struct opt_names facility_names = { facility_v, 12,
	"not a syslog facility (use daemon, user, auth, authpriv or local0 "
	"to local7)" };

static const char *
check_not_empty(const struct config *cfg, const struct option *o)
{
	return config_opt_length(cfg, o) == 0 ? "needs at least one address" :
	    NULL;
}

/* A syslog tag: what rsyslog's programname and journald's
 * SYSLOG_IDENTIFIER take, so filters can pick the lines out. */
static const char *
check_tag(const struct config *cfg, const struct option *o)
{
	const char *value = *(char *const *)((const char *)cfg + o->at);
	const char *p;

	for (p = value; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			break;
	if (p == value || *p != '\0' || p - value > 32)
		return "not a syslog tag (1 to 32 letters, digits, '-', '_' "
		    "or '.')";
	return NULL;
}

const char *
config_dnstap_why(const char *spec)
{
	const char *path = spec + 5;

	if (strncmp(spec, "unix:", 5) != 0 && strncmp(spec, "file:", 5) != 0)
		return "expected unix:PATH or file:PATH";
	if (path[0] != '/')
		return "the path must be absolute";
	if (spec[0] == 'u' && strlen(path) >= sizeof(((struct sockaddr_un *)
	    NULL)->sun_path))
		return "path too long for a socket";
	return NULL;
}

static const char *
check_dnstap(const struct config *cfg, const struct option *o)
{
	const char *value = *(char *const *)((const char *)cfg + o->at);

	return value[0] == '\0' ? NULL : config_dnstap_why(value);
}

#define AT(f) .at = offsetof(struct config, f)
#define N_AT(f) .n_at = offsetof(struct config, f)
#define ANSWER(f) .at = offsetof(struct config, answer.f)
#define N_ANSWER(f) .n_at = offsetof(struct config, answer.f)

/*
 * BY_RELOAD: a reload builds the policy with it (policy/loader.c); any
 * other key is read at start only, and a reload that finds it changed
 * says a restart is needed (config_restart_changes()).
 */
static const struct option options[] = {
	{ "server", "listen", OPT_ADDRS, BY_RESTART, AT(listen),
	    N_AT(nlisten), .def = "127.0.0.1:53, [::1]:53",
	    .check = check_not_empty },
	{ "server", "threads", OPT_U32, BY_RESTART, AT(threads), .def = "1",
	    .min = 1, .max = 64 },
	{ "server", "allow", OPT_PREFIXES, BY_RESTART, AT(allow), N_AT(nallow),
	    .def = "127.0.0.0/8, ::1/128" },
	{ "server", "allow_snoop", OPT_PREFIXES, BY_RESTART, AT(allow_snoop),
	    N_AT(nallow_snoop), .def = "" },
	{ "server", "ratelimit", OPT_U32, BY_RESTART, AT(ratelimit),
	    .def = "0", .max = 10000000 },
	{ "server", "slip", OPT_U32, BY_RESTART, AT(slip), .def = "2",
	    .max = 100 },
	{ "server", "client_inflight", OPT_U32, BY_RESTART,
	    AT(client_inflight), .def = "100", .min = 1, .max = 1000000 },
	{ "server", "user", OPT_STR, BY_RESTART, AT(user), .def = "" },
	{ "server", "pidfile", OPT_PATH, BY_RESTART, AT(pidfile), .def = "" },
	{ "server", "tcp_idle", OPT_MS, BY_RESTART, AT(tcp_idle_ms),
	    .def = "10s", .min = 100, .max = 3600000 },
	{ "server", "tcp_max_clients", OPT_SIZE, BY_RESTART,
	    AT(tcp_max_clients), .def = "1000", .min = 1,
	    .max = 1000000000UL * 1000 },
	{ "server", "edns_size", OPT_U16, BY_RESTART, AT(edns_size),
	    .def = "1232", .min = 512, .max = 65535 },
	{ "upstream", "servers", OPT_ADDRS, BY_RESTART, AT(upstreams),
	    N_AT(nupstreams), .def = "" },
	{ "upstream", "timeout", OPT_MS, BY_RESTART, AT(timeout_ms),
	    .def = "2s", .min = 10, .max = 60000 },
	{ "upstream", "cache_size", OPT_SIZE, BY_RESTART, AT(cache_size),
	    .def = "100000", .max = 100000000UL * 1000 },
	{ "upstream", "trust_ad", OPT_BOOL, BY_RESTART, AT(trust_ad),
	    .def = "no" },
	{ "upstream", "cache_max_ttl", OPT_S, BY_RESTART, AT(cache_max_ttl),
	    .def = "1d", .max = 86400000 },
	{ "policy", "lists", OPT_PATH, BY_RELOAD, AT(lists), .def = "" },
	{ "policy", "action", OPT_ENUM, BY_RELOAD, ANSWER(action),
	    .def = "nxdomain", .names = &action_names },
	{ "policy", "sinkhole_a", OPT_IP4, BY_RELOAD, ANSWER(sinkhole_a),
	    .def = "0.0.0.0" },
	{ "policy", "sinkhole_aaaa", OPT_IP6, BY_RELOAD, ANSWER(sinkhole_aaaa),
	    .def = "::" },
	{ "policy", "ttl", OPT_S, BY_RELOAD, ANSWER(ttl), .def = "60s",
	    .max = 86400000 },
	{ "policy", "check_cname", OPT_BOOL, BY_RELOAD, ANSWER(check_cname),
	    .def = "yes" },
	{ "policy", "check_answer_ips", OPT_BOOL, BY_RELOAD,
	    ANSWER(check_answer_ips), .def = "yes" },
	{ "policy", "block_countries", OPT_COUNTRIES, BY_RELOAD,
	    ANSWER(countries), N_ANSWER(ncountries), .def = "" },
	{ "policy", "block_asns", OPT_ASNS, BY_RELOAD, ANSWER(asns),
	    N_ANSWER(nasns), .def = "" },
	{ "geoip", "country_db", OPT_PATH, BY_RELOAD, AT(country_db),
	    .def = "" },
	{ "geoip", "asn_db", OPT_PATH, BY_RELOAD, AT(asn_db), .def = "" },
	{ "log", "blocked", OPT_PATH, BY_RESTART, AT(log_blocked), .def = "" },
	{ "log", "queries", OPT_PATH, BY_RESTART, AT(log_queries), .def = "" },
	{ "log", "state", OPT_PATH, BY_RESTART, AT(log_state), .def = "" },
	{ "log", "sync", OPT_BOOL, BY_RESTART, AT(log_sync), .def = "yes" },
	{ "log", "signing_key", OPT_PATH, BY_RESTART, AT(log_signing_key),
	    .def = "" },
	{ "log", "checkpoints", OPT_PATH, BY_RESTART, AT(log_checkpoints),
	    .def = "" },
	{ "log", "origin", OPT_STR, BY_RESTART, AT(log_origin), .def = "" },
	{ "log", "checkpoint_every", OPT_MS, BY_RESTART,
	    AT(log_checkpoint_every), .def = "60s", .min = 100,
	    .max = 86400000 },
	{ "log", "client_rate", OPT_U32, BY_RESTART, AT(log_client_rate),
	    .def = "100", .max = 10000000 },
	{ "log", "syslog", OPT_BOOL, BY_RESTART, AT(log_syslog), .def = "no" },
	{ "log", "syslog_socket", OPT_PATH, BY_RESTART, AT(log_syslog_socket),
	    .def = "/dev/log" },
	{ "log", "syslog_facility", OPT_ENUM, BY_RESTART,
	    AT(log_syslog_facility), .def = "daemon",
	    .names = &facility_names },
	{ "log", "syslog_tag", OPT_STR, BY_RESTART, AT(log_syslog_tag),
	    .def = "cordon-audit", .check = check_tag },
	{ "log", "dnstap", OPT_STR, BY_RESTART, AT(log_dnstap), .def = "",
	    .check = check_dnstap },
	{ "log", "dnstap_forwarder", OPT_BOOL, BY_RESTART,
	    AT(log_dnstap_forwarder), .def = "no" },
	{ "log", "dnstap_identity", OPT_STR, BY_RESTART,
	    AT(log_dnstap_identity), .def = "" },
	{ "control", "http", OPT_STR, BY_RESTART, AT(control_http),
	    .def = "" },
	{ "control", "socket", OPT_PATH, BY_RESTART, AT(control_socket),
	    .def = "" },
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

struct parse_state {
	struct config *cfg;
	struct diag *d;
};

static bool
known_section(const char *section)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++)
		if (strcmp(options[i].section, section) == 0)
			return true;
	return false;
}

/* An unknown section is reported once, at its header. */
static int
on_section(void *arg, const char *section, size_t line)
{
	struct parse_state *st = arg;

	if (known_section(section))
		return 0;
	diag_add(st->d, st->cfg->path, line, "unknown section [%s]", section);
	return -1;
}

static int
on_option(void *arg, const char *section, const char *key,
    const char *value, size_t line)
{
	struct parse_state *st = arg;
	const char *why = NULL;
	size_t i;

	if (section[0] == '\0') {
		diag_add(st->d, st->cfg->path, line, "\"%s\" is outside any "
		    "[section]", key);
		return -1;
	}
	if (!known_section(section))
		return -1;		/* reported at its header */
	for (i = 0; i < NOPTIONS; i++) {
		if (strcmp(options[i].section, section) == 0 &&
		    strcmp(options[i].key, key) == 0)
			break;
	}
	if (i == NOPTIONS) {
		diag_add(st->d, st->cfg->path, line, "[%s] unknown key \"%s\"",
		    section, key);
		return -1;
	}
	if (config_opt_set(st->cfg, &options[i], value, &why) == -1) {
		diag_add(st->d, st->cfg->path, line, "[%s] %s: \"%s\": %s",
		    section, key, value, why);
		return -1;
	}
	st->cfg->lines[i] = line;
	return 0;
}

size_t
config_line(const struct config *cfg, const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < NOPTIONS; i++)
		if (strcmp(options[i].section, section) == 0 &&
		    strcmp(options[i].key, key) == 0)
			return cfg->lines[i];
	return 0;
}

/* Fails only out of memory (or with a broken table, a bug the unit
 * tests catch); d says which. */
static int
set_defaults(struct config *cfg, struct diag *d)
{
	const char *why = NULL;
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		if (config_opt_set(cfg, &options[i], options[i].def,
		    &why) == -1) {
			diag_add(d, cfg->path, 0, "[%s] %s: default \"%s\": %s",
			    options[i].section, options[i].key,
			    options[i].def, why);
			return -1;
		}
	}
	return 0;
}

/* Paths in the file are relative to the file's directory, so a config
 * means the same whatever directory the daemon was started from. */
static int
resolve_path(char **p, const char *dir)
{
	char *abs;

	if (**p == '\0' || **p == '/')
		return 0;
	if (asprintf(&abs, "%s/%s", dir, *p) == -1)
		return -1;
	free(*p);
	*p = abs;
	return 0;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Resolves every OPT_PATH; fails only out of memory. */
static int
resolve_paths(struct config *cfg)
{
	char *dir = dir_of(cfg->path);
	size_t i;
	int rc = dir == NULL ? -1 : 0;

	for (i = 0; i < NOPTIONS && rc == 0; i++)
		if (options[i].type == OPT_PATH)
			rc = resolve_path((char **)((char *)cfg +
			    options[i].at), dir);
	free(dir);
	return rc;
}

static int
read_resolv_conf(struct config *cfg, const char *path, struct diag *d)
{
	FILE *f = fopen(path, "r");
	char line[512], addr[256];
	const char *why;

	if (f == NULL) {
		diag_add(d, cfg->path, 0, "[upstream] servers is empty and "
		    "%s cannot be read: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct netaddr na, *v;

		if (sscanf(line, " nameserver %255s", addr) != 1)
			continue;
		if (netaddr_parse(addr, 53, &na, &why) == -1)
			continue;	/* e.g. a scoped fe80::1%eth0 */
		v = realloc(cfg->upstreams, (cfg->nupstreams + 1) * sizeof(*v));
		if (v == NULL) {
			diag_add(d, cfg->path, 0, "out of memory while reading "
			    "%s", path);
			fclose(f);
			return -1;
		}
		v[cfg->nupstreams++] = na;
		cfg->upstreams = v;
	}
	fclose(f);
	if (cfg->nupstreams == 0) {
		diag_add(d, cfg->path, 0, "[upstream] servers is empty and "
		    "%s names no usable nameserver", path);
		return -1;
	}
	return 0;
}

struct config *
config_load(const char *path, const char *resolv_conf, struct diag *d)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct parse_state st = { 0 };
	size_t before = diag_count(d);

	if (cfg == NULL || (cfg->path = strdup(path)) == NULL ||
	    (cfg->lines = calloc(NOPTIONS, sizeof(*cfg->lines))) == NULL) {
		diag_add(d, path, 0, "out of memory while reading the config");
		goto fail;
	}
	if (set_defaults(cfg, d) == -1)
		goto fail;
	st.cfg = cfg;
	st.d = d;
	(void)inifile_parse_sections(path, on_section, on_option, &st, d);
	if (diag_count(d) != before)
		goto fail;
	if (resolve_paths(cfg) == -1) {
		diag_add(d, path, 0, "out of memory while reading the config");
		goto fail;
	}
	if (cfg->lists[0] == '\0')
		diag_add(d, path, 0, "[policy] lists is not set");
	if (strlen(cfg->log_syslog_socket) >= sizeof(((struct sockaddr_un *)
	    NULL)->sun_path))
		diag_add(d, path, config_line(cfg, "log", "syslog_socket"),
		    "[log] syslog_socket: path too long for a socket");
	if (cfg->nupstreams == 0)
		(void)read_resolv_conf(cfg, resolv_conf, d);
	if (diag_count(d) != before)
		goto fail;
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < NOPTIONS; i++)
		config_opt_free(cfg, &options[i]);
	free(cfg->path);
	free(cfg->lines);
	free(cfg);
}

/* Appends "[section] key" to buf at *len; false when it does not fit. */
static bool
append_key(char *buf, size_t size, size_t *len, const struct option *o)
{
	int n = snprintf(buf + *len, size - *len, "%s[%s] %s",
	    *len > 0 ? ", " : "", o->section, o->key);

	if (n < 0 || (size_t)n >= size - *len - 4) {
		buf[*len] = '\0';
		return false;
	}
	*len += (size_t)n;
	return true;
}

size_t
config_restart_changes(const struct config *old, const struct config *cfg,
    char *buf, size_t size)
{
	size_t i, len = 0, changed = 0;
	bool fits = size > 4;

	if (size > 0)
		buf[0] = '\0';
	for (i = 0; i < NOPTIONS; i++) {
		if (options[i].apply == BY_RELOAD ||
		    config_opt_equal(old, cfg, &options[i]))
			continue;
		changed++;
		if (fits && !(fits = append_key(buf, size, &len, &options[i])))
			snprintf(buf + len, size - len, "%s...",
			    len > 0 ? " " : "");
	}
	return changed;
}
