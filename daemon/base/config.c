/*
 * config: one table of options drives parsing, defaults and docs order.
 * Adding an option is one line in options[] and a field in struct config.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <syslog.h>

#include "base/config.h"
#include "base/diag.h"
#include "base/inifile.h"

struct option;
typedef int (*option_set)(struct config *cfg, const struct option *o,
    const char *value, const char **why);

struct option {
	const char *section;
	const char *key;
	option_set set;
	size_t offset;
	const char *default_value;
	unsigned long min, max;		/* for numbers */
};

struct parse_state {
	struct config *cfg;
	struct diag *d;
	const char *dir;		/* for relative paths */
	bool seen[64];
};

#define FIELD(cfg, o, type) ((type *)((char *)(cfg) + (o)->offset))

#define NOMEM "out of memory"

/* Splits a comma/blank separated list, calling fn on each item. */
static int
each_item(const char *value, int (*fn)(void *, const char *), void *arg,
    const char **why)
{
	char *copy = strdup(value), *save = NULL, *tok;
	int rc = 0;

	if (copy == NULL) {
		*why = NOMEM;
		return -1;
	}
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if ((rc = fn(arg, tok)) == -1)
			break;
	}
	free(copy);
	return rc;
}

static int
set_str(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	char **p = FIELD(cfg, o, char *);

	free(*p);
	if ((*p = strdup(value)) == NULL) {
		*why = NOMEM;
		return -1;
	}
	return 0;
}

/* Reads a bounded unsigned number; the setters below store it in the
 * field's own type, named by the table entry's setter. */
static int
parse_uint(const struct option *o, const char *value, unsigned long *v,
    const char **why)
{
	char *end;

	errno = 0;
	*v = strtoul(value, &end, 10);
	if (!isdigit((unsigned char)value[0]) || *end != '\0' || errno != 0) {
		*why = "not a number";
		return -1;
	}
	if (*v < o->min || *v > o->max) {
		*why = "out of range";
		return -1;
	}
	return 0;
}

static int
set_u16(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	unsigned long v;

	if (parse_uint(o, value, &v, why) == -1)
		return -1;
	*FIELD(cfg, o, uint16_t) = (uint16_t)v;
	return 0;
}

static int
set_u32(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	unsigned long v;

	if (parse_uint(o, value, &v, why) == -1)
		return -1;
	*FIELD(cfg, o, uint32_t) = (uint32_t)v;
	return 0;
}

static int
set_size(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	unsigned long v;

	if (parse_uint(o, value, &v, why) == -1)
		return -1;
	*FIELD(cfg, o, size_t) = v;
	return 0;
}

int
config_parse_duration(const char *text, uint32_t *ms)
{
	char *end;
	unsigned long long v, scale;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		scale = 1000;
	else if (strcmp(end, "m") == 0)
		scale = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		scale = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		scale = 86400 * 1000;
	else
		return -1;
	if (v > 86400ULL * 1000 / scale)
		return -1;
	*ms = (uint32_t)(v * scale);
	return 0;
}

static int
set_duration_ms(struct config *cfg, const struct option *o,
    const char *value, const char **why)
{
	uint32_t ms;

	if (config_parse_duration(value, &ms) == -1) {
		*why = "not a duration (use ms, s, m, h, at most 1d)";
		return -1;
	}
	if (ms < o->min || ms > o->max) {
		*why = "duration out of range";
		return -1;
	}
	*FIELD(cfg, o, uint32_t) = ms;
	return 0;
}

static int
set_duration_s(struct config *cfg, const struct option *o,
    const char *value, const char **why)
{
	if (set_duration_ms(cfg, o, value, why) == -1)
		return -1;
	*FIELD(cfg, o, uint32_t) /= 1000;
	return 0;
}

static int
set_bool(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*FIELD(cfg, o, bool) = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*FIELD(cfg, o, bool) = false;
			return 0;
		}
	}
	*why = "not a boolean (use yes or no)";
	return -1;
}

static const char *const action_names[] = {
	[ACTION_NXDOMAIN] = "nxdomain",
	[ACTION_NODATA] = "nodata",
	[ACTION_REFUSED] = "refused",
	[ACTION_SINKHOLE] = "sinkhole",
};

const char *
action_name(enum action a)
{
	return action_names[a];
}

static int
set_action(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	size_t i;

	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strcasecmp(value, action_names[i]) == 0) {
			cfg->action = (enum action)i;
			return 0;
		}
	}
	*why = "not an action (use nxdomain, nodata, refused or sinkhole)";
	return -1;
}

static int
set_facility(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	static const struct {
		const char *name;
		int facility;
	} names[] = {
		{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};
	size_t i;

	(void)o;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(value, names[i].name) == 0) {
			cfg->log_syslog_facility = names[i].facility;
			return 0;
		}
	}
	*why = "not a syslog facility (use daemon, user, auth, authpriv or "
	    "local0 to local7)";
	return -1;
}

/* A syslog tag: what rsyslog's programname and journald's
 * SYSLOG_IDENTIFIER take, so filters can pick the lines out. */
static int
set_tag(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	const char *p;

	for (p = value; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			break;
	if (p == value || *p != '\0' || p - value > 32) {
		*why = "not a syslog tag (1 to 32 letters, digits, '-', '_' "
		    "or '.')";
		return -1;
	}
	return set_str(cfg, o, value, why);
}

static int
set_ip(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	int af = o->max == 4 ? AF_INET : AF_INET6;

	if (inet_pton(af, value, FIELD(cfg, o, uint8_t)) != 1) {
		*why = af == AF_INET ? "not an IPv4 address" :
		    "not an IPv6 address";
		return -1;
	}
	return 0;
}

struct addr_list {
	struct netaddr **v;
	size_t *n;
	uint16_t port;
	const char **why;
};

static int
add_addr(void *arg, const char *item)
{
	struct addr_list *l = arg;
	struct netaddr na, *v;

	if (netaddr_parse(item, l->port, &na, l->why) == -1)
		return -1;
	v = realloc(*l->v, (*l->n + 1) * sizeof(*v));
	if (v == NULL) {
		*l->why = NOMEM;
		return -1;
	}
	v[(*l->n)++] = na;
	*l->v = v;
	return 0;
}

static int
set_addrs(struct config *cfg, const struct option *o, const char *value,
    const char **why, struct netaddr **v, size_t *n)
{
	struct addr_list l = { v, n, 53, why };

	free(*v);
	*v = NULL;
	*n = 0;
	return each_item(value, add_addr, &l, why);
}

static int
set_listen(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	if (set_addrs(cfg, o, value, why, &cfg->listen, &cfg->nlisten) == -1)
		return -1;
	if (cfg->nlisten == 0) {
		*why = "needs at least one address";
		return -1;
	}
	return 0;
}

static int
set_upstreams(struct config *cfg, const struct option *o,
    const char *value, const char **why)
{
	return set_addrs(cfg, o, value, why, &cfg->upstreams,
	    &cfg->nupstreams);
}

struct prefix_list {
	struct prefix **v;
	size_t *n;
	const char **why;
};

static int
add_prefix(void *arg, const char *item)
{
	struct prefix_list *l = arg;
	struct prefix p, *v;

	if (netaddr_parse_prefix(item, &p, l->why) == -1)
		return -1;
	v = realloc(*l->v, (*l->n + 1) * sizeof(*v));
	if (v == NULL) {
		*l->why = NOMEM;
		return -1;
	}
	v[(*l->n)++] = p;
	*l->v = v;
	return 0;
}

static int
set_prefixes(const char *value, const char **why, struct prefix **v,
    size_t *n)
{
	struct prefix_list l = { v, n, why };

	free(*v);
	*v = NULL;
	*n = 0;
	return each_item(value, add_prefix, &l, why);
}

static int
set_allow(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	return set_prefixes(value, why, &cfg->allow, &cfg->nallow);
}

static int
set_allow_snoop(struct config *cfg, const struct option *o,
    const char *value, const char **why)
{
	return set_prefixes(value, why, &cfg->allow_snoop, &cfg->nallow_snoop);
}

struct code_list {
	struct config *cfg;
	const char **why;
};

static int
add_country(void *arg, const char *item)
{
	struct code_list *l = arg;
	char (*v)[3];

	if (strlen(item) != 2 || !isalpha((unsigned char)item[0]) ||
	    !isalpha((unsigned char)item[1])) {
		*l->why = "not a two-letter ISO 3166 country code";
		return -1;
	}
	v = realloc(l->cfg->block_countries,
	    (l->cfg->nblock_countries + 1) * sizeof(*v));
	if (v == NULL) {
		*l->why = NOMEM;
		return -1;
	}
	v[l->cfg->nblock_countries][0] = (char)toupper((unsigned char)item[0]);
	v[l->cfg->nblock_countries][1] = (char)toupper((unsigned char)item[1]);
	v[l->cfg->nblock_countries][2] = '\0';
	l->cfg->block_countries = v;
	l->cfg->nblock_countries++;
	return 0;
}

static int
set_countries(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	struct code_list l = { cfg, why };

	free(cfg->block_countries);
	cfg->block_countries = NULL;
	cfg->nblock_countries = 0;
	return each_item(value, add_country, &l, why);
}

static int
add_asn(void *arg, const char *item)
{
	struct code_list *l = arg;
	unsigned long v;
	uint32_t *a;
	char *end;

	if (strncasecmp(item, "AS", 2) == 0)
		item += 2;
	errno = 0;
	v = strtoul(item, &end, 10);
	if (!isdigit((unsigned char)item[0]) || *end != '\0' || errno != 0 ||
	    v == 0 || v > UINT32_MAX) {
		*l->why = "not an AS number (use 64500 or AS64500)";
		return -1;
	}
	a = realloc(l->cfg->block_asns, (l->cfg->nblock_asns + 1) * sizeof(*a));
	if (a == NULL) {
		*l->why = NOMEM;
		return -1;
	}
	a[l->cfg->nblock_asns++] = (uint32_t)v;
	l->cfg->block_asns = a;
	return 0;
}

static int
set_asns(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	struct code_list l = { cfg, why };

	free(cfg->block_asns);
	cfg->block_asns = NULL;
	cfg->nblock_asns = 0;
	return each_item(value, add_asn, &l, why);
}

#define OFF(f) offsetof(struct config, f)
static const struct option options[] = {
	{ "server", "listen", set_listen, 0, "127.0.0.1:53, [::1]:53", 0, 0 },
	{ "server", "threads", set_u32, OFF(threads), "1", 1, 64 },
	{ "server", "allow", set_allow, 0, "127.0.0.0/8, ::1/128", 0, 0 },
	{ "server", "allow_snoop", set_allow_snoop, 0, "", 0, 0 },
	{ "server", "ratelimit", set_u32, OFF(ratelimit), "0", 0, 10000000 },
	{ "server", "slip", set_u32, OFF(slip), "2", 0, 100 },
	{ "server", "client_inflight", set_u32, OFF(client_inflight), "100",
	    1, 1000000 },
	{ "server", "user", set_str, OFF(user), "", 0, 0 },
	{ "server", "pidfile", set_str, OFF(pidfile), "", 0, 0 },
	{ "server", "tcp_idle", set_duration_ms, OFF(tcp_idle_ms), "10s",
	    100, 3600000 },
	{ "server", "tcp_max_clients", set_size, OFF(tcp_max_clients), "1000",
	    1, 1000000000UL * 1000 },
	{ "server", "edns_size", set_u16, OFF(edns_size), "1232", 512,
	    65535 },
	{ "upstream", "servers", set_upstreams, 0, "", 0, 0 },
	{ "upstream", "timeout", set_duration_ms, OFF(timeout_ms), "2s", 10,
	    60000 },
	{ "upstream", "cache_size", set_size, OFF(cache_size), "100000", 0,
	    100000000UL * 1000 },
	{ "upstream", "trust_ad", set_bool, OFF(trust_ad), "no", 0, 0 },
	{ "upstream", "cache_max_ttl", set_duration_s, OFF(cache_max_ttl),
	    "1d", 0, 86400000 },
	{ "policy", "lists", set_str, OFF(lists), "", 0, 0 },
	{ "policy", "action", set_action, 0, "nxdomain", 0, 0 },
	{ "policy", "sinkhole_a", set_ip, OFF(sinkhole_a), "0.0.0.0", 0, 4 },
	{ "policy", "sinkhole_aaaa", set_ip, OFF(sinkhole_aaaa), "::", 0, 6 },
	{ "policy", "ttl", set_duration_s, OFF(block_ttl), "60s", 0,
	    86400000 },
	{ "policy", "check_cname", set_bool, OFF(check_cname), "yes", 0, 0 },
	{ "policy", "check_answer_ips", set_bool, OFF(check_answer_ips),
	    "yes", 0, 0 },
	{ "policy", "block_countries", set_countries, 0, "", 0, 0 },
	{ "policy", "block_asns", set_asns, 0, "", 0, 0 },
	{ "geoip", "country_db", set_str, OFF(country_db), "", 0, 0 },
	{ "geoip", "asn_db", set_str, OFF(asn_db), "", 0, 0 },
	{ "log", "blocked", set_str, OFF(log_blocked), "", 0, 0 },
	{ "log", "queries", set_str, OFF(log_queries), "", 0, 0 },
	{ "log", "state", set_str, OFF(log_state), "", 0, 0 },
	{ "log", "sync", set_bool, OFF(log_sync), "yes", 0, 0 },
	{ "log", "signing_key", set_str, OFF(log_signing_key), "", 0, 0 },
	{ "log", "checkpoints", set_str, OFF(log_checkpoints), "", 0, 0 },
	{ "log", "origin", set_str, OFF(log_origin), "", 0, 0 },
	{ "log", "checkpoint_every", set_duration_ms,
	    OFF(log_checkpoint_every), "60s", 100, 86400000 },
	{ "log", "client_rate", set_u32, OFF(log_client_rate), "100", 0,
	    10000000 },
	{ "log", "syslog", set_bool, OFF(log_syslog), "no", 0, 0 },
	{ "log", "syslog_socket", set_str, OFF(log_syslog_socket), "/dev/log",
	    0, 0 },
	{ "log", "syslog_facility", set_facility, 0, "daemon", 0, 0 },
	{ "log", "syslog_tag", set_tag, OFF(log_syslog_tag), "cordon-audit",
	    0, 0 },
	{ "control", "http", set_str, OFF(control_http), "", 0, 0 },
	{ "control", "socket", set_str, OFF(control_socket), "", 0, 0 },
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

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
	if (options[i].set(st->cfg, &options[i], value, &why) == -1) {
		diag_add(st->d, st->cfg->path, line, "[%s] %s: \"%s\": %s",
		    section, key, value, why);
		return -1;
	}
	st->seen[i] = true;
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
	const char *why = NOMEM;
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		if (options[i].set(cfg, &options[i], options[i].default_value,
		    &why) == -1) {
			diag_add(d, cfg->path, 0, "[%s] %s: default \"%s\": %s",
			    options[i].section, options[i].key,
			    options[i].default_value, why);
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

	if (**p == '\0' || **p == '/' || dir == NULL)
		return 0;
	if (asprintf(&abs, "%s/%s", dir, *p) == -1)
		return -1;
	free(*p);
	*p = abs;
	return 0;
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

struct config *
config_load(const char *path, const char *resolv_conf, struct diag *d)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct parse_state st = { 0 };
	size_t before = diag_count(d);
	char *dir;

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
	if ((dir = dir_of(path)) == NULL ||
	    resolve_path(&cfg->lists, dir) == -1 ||
	    resolve_path(&cfg->log_blocked, dir) == -1 ||
	    resolve_path(&cfg->log_queries, dir) == -1 ||
	    resolve_path(&cfg->log_state, dir) == -1 ||
	    resolve_path(&cfg->log_signing_key, dir) == -1 ||
	    resolve_path(&cfg->log_checkpoints, dir) == -1 ||
	    resolve_path(&cfg->pidfile, dir) == -1 ||
	    resolve_path(&cfg->country_db, dir) == -1 ||
	    resolve_path(&cfg->asn_db, dir) == -1 ||
	    resolve_path(&cfg->control_socket, dir) == -1 ||
	    resolve_path(&cfg->log_syslog_socket, dir) == -1) {
		diag_add(d, path, 0, "out of memory while reading the config");
		free(dir);
		goto fail;
	}
	free(dir);
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
		if (options[i].set == set_str || options[i].set == set_tag)
			free(*FIELD(cfg, &options[i], char *));
	free(cfg->listen);
	free(cfg->allow);
	free(cfg->allow_snoop);
	free(cfg->block_countries);
	free(cfg->block_asns);
	free(cfg->upstreams);
	free(cfg->path);
	free(cfg->lines);
	free(cfg);
}
