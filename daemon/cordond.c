/*
 * cordond: the daemon's main.  Reads the config and the lists, opens the
 * audit logs, binds, drops privileges, starts the workers and then waits
 * for signals: SIGTERM/SIGINT stop, SIGHUP reloads the lists, SIGUSR1
 * reopens the logs.  The only process-wide state is struct daemon here.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "audit/audit.h"
#include "audit/auditlog.h"
#include "audit/syslogsink.h"
#include "policy/check.h"
#include "policy/loader.h"
#include "base/clock.h"
#include "base/config.h"
#include "serve/control.h"
#include "base/detach.h"
#include "base/dname.h"
#include "serve/reload.h"
#include "serve/metrics.h"
#include "base/diag.h"
#include "base/pidfile.h"
#include "base/log.h"
#include "policy/policy.h"
#include "serve/query.h"
#include "serve/server.h"
#include "audit/tlog.h"
#include "serve/dnstap.h"

#define AUDIT_QUEUE_BYTES (64 * 1024 * 1024)

struct daemon {
	const char *config_path;
	bool foreground;
	struct config *cfg;
	struct policy_slot *slot;
	struct auditlog *blocked_log;
	struct auditlog *query_log;
	struct dnstap *tap;		/* [log] dnstap; NULL: none */
	struct server *server;
	struct event_base *base;
	struct event *signals[4];
	struct reload *reload;
	struct control *control;
	struct detach detach;
	int pidfile_fd;			/* -1: none */
	uint64_t reloads_ok, reloads_failed;
	double started, last_load;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: cordond [-c FILE] [-f] [-t] [-V] [-h]\n"
	    "  -c FILE  config file (default %s/cordon/cordon.conf)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -t       check the config and every list, then exit\n"
	    "  -V       print the version\n"
	    "  -h       this help\n", SYSCONFDIR);
}

/* Writes an "event" line to the audit log (policy changes). */
static void
log_policy_event(struct daemon *d, struct policy *p, const char *old_id,
    const char *by)
{
	char members[512], body[1024];
	size_t n;

	if (d->blocked_log == NULL)
		return;
	snprintf(members, sizeof(members),
	    "\"policy\":\"%s\",\"previous\":%s%s%s,\"entries\":%zu,"
	    "\"ranges\":%zu,\"lists\":%zu,\"by\":\"%s\"", policy_id(p),
	    old_id ? "\"" : "", old_id ? old_id : "null", old_id ? "\"" : "",
	    policy_entries(p), policy_ranges(p), policy_nlists(p), by);
	n = audit_format_event(body, sizeof(body), clock_wall_ms(), "policy",
	    members);
	if (n > 0)
		(void)auditlog_submit(d->blocked_log, body, n);
}

static double
unix_now(void)
{
	return clock_wall_ms() / 1000.0;
}

/*
 * What a reload changed that only a restart applies (config.h's
 * config_restart_changes() says which keys those are): a warning in the
 * log, and the note buf appends to the reload's reply.
 */
static void
restart_notes(const struct config *old, const struct config *cfg,
    char *buf, size_t size)
{
	char changed[256];

	buf[0] = '\0';
	if (config_restart_changes(old, cfg, changed, sizeof(changed)) == 0)
		return;
	snprintf(buf, size, "; %s changed: restart to apply it", changed);
	log_warn("reload: %s changed in %s: restart to apply it", changed,
	    cfg->path);
}

/* Runs on the main loop when the loader thread is done. */
static bool
apply_reload(void *arg, struct config *cfg, struct policy *p,
    struct diag *dg, const char *by, char *msg, size_t msglen)
{
	struct daemon *d = arg;
	struct policy *old;
	char notes[320];
	size_t i;
	uint64_t gen;

	for (i = 0; i < diag_count(dg) && i < 20; i++)
		log_warn("%s", diag_get(dg, i));
	old = policy_slot_get(d->slot, &gen);
	if (p == NULL) {
		d->reloads_failed++;
		snprintf(msg, msglen, "reload failed, keeping policy %s: %s",
		    policy_id(old), diag_count(dg) > 0 ? diag_get(dg, 0) :
		    "unknown error");
		log_err("%s", msg);
		policy_unref(old);
		config_free(cfg);
		return false;
	}
	restart_notes(d->cfg, cfg, notes, sizeof(notes));
	log_policy_event(d, p, policy_id(old), by);
	snprintf(msg, msglen, "policy %s loaded: %zu names in %zu lists "
	    "(was %s)%s", policy_id(p), policy_entries(p), policy_nlists(p),
	    policy_id(old), notes);
	log_info("%s", msg);
	policy_slot_set(d->slot, p);
	d->reloads_ok++;
	d->last_load = unix_now();
	policy_unref(old);
	config_free(cfg);
	return true;
}

/* ---- control ---- */

static void
ctl_reload(void *arg, const char *by, control_done done, void *ctx)
{
	struct daemon *d = arg;

	reload_request(d->reload, by, done, ctx);
}

static void
ctl_metrics(void *arg, struct evbuffer *out)
{
	struct daemon *d = arg;
	struct server_stats st;
	struct auditlog_stats bl, ql;
	struct dnstap_stats ts;
	struct metrics_daemon md = { 0 };
	uint64_t gen;
	struct policy *p = policy_slot_get(d->slot, &gen);

	server_get_stats(d->server, &st);
	md.cfg = d->cfg;
	md.policy = p;
	md.reloads_ok = d->reloads_ok;
	md.reloads_failed = d->reloads_failed;
	md.started = d->started;
	md.last_reload = d->last_load;
	if (d->blocked_log != NULL) {
		auditlog_get_stats(d->blocked_log, &bl);
		md.blocked_log = &bl;
	}
	if (d->query_log != NULL) {
		auditlog_get_stats(d->query_log, &ql);
		md.query_log = &ql;
	}
	if (d->tap != NULL) {
		dnstap_get_stats(d->tap, &ts);
		md.dnstap = &ts;
	}
	metrics_write(out, &st, &md);
	server_stats_clear(&st);
	policy_unref(p);
}

static int
ctl_flush(void *arg, const char *name, struct evbuffer *out)
{
	struct daemon *d = arg;
	uint8_t wire[DNAME_MAXWIRE];
	const char *why;

	if (name == NULL) {
		server_flush(d->server, NULL);
		evbuffer_add_printf(out, "cache flushed");
		return 0;
	}
	if (dname_from_text(name, strlen(name), wire, &why) == 0) {
		evbuffer_add_printf(out, "%s: %s", name, why);
		return -1;
	}
	server_flush(d->server, wire);
	evbuffer_add_printf(out, "cache flushed for %s and below", name);
	return 0;
}

#define HEALTH_STALL_MS 5000

/*
 * /healthz: 200 only when the daemon really serves: a policy in force,
 * every worker's loop turning, and the audit logs being written (an
 * operator must hear when blocked attempts stop reaching the disk).
 */
static bool
ctl_healthy(void *arg, struct evbuffer *why)
{
	struct daemon *d = arg;
	struct policy *p;
	uint64_t gen;
	char msg[512];
	bool ok = true;

	p = policy_slot_get(d->slot, &gen);
	if (p == NULL) {
		evbuffer_add_printf(why, "no policy in force\n");
		ok = false;
	}
	policy_unref(p);
	if (!server_healthy(d->server, HEALTH_STALL_MS, msg, sizeof(msg))) {
		evbuffer_add_printf(why, "%s\n", msg);
		ok = false;
	}
	if (d->blocked_log != NULL && !auditlog_healthy(d->blocked_log,
	    HEALTH_STALL_MS, msg, sizeof(msg))) {
		evbuffer_add_printf(why, "%s\n", msg);
		ok = false;
	}
	if (d->query_log != NULL && !auditlog_healthy(d->query_log,
	    HEALTH_STALL_MS, msg, sizeof(msg))) {
		evbuffer_add_printf(why, "%s\n", msg);
		ok = false;
	}
	return ok;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	switch (sig) {
	case SIGHUP:
		reload_request(d->reload, "signal", NULL, NULL);
		break;
	case SIGUSR1:
		if (d->blocked_log != NULL)
			auditlog_reopen(d->blocked_log);
		if (d->query_log != NULL)
			auditlog_reopen(d->query_log);
		log_info("log files reopened");
		break;
	default:
		log_info("signal %d: stopping", (int)sig);
		event_base_loopbreak(d->base);
	}
}

static int
open_logs(struct daemon *d)
{
	struct auditlog_conf lc = { NULL, NULL, AUDIT_QUEUE_BYTES,
	    d->cfg->log_sync, NULL, NULL };
	struct tlog_conf tc = { d->cfg->log_signing_key, d->cfg->log_origin,
	    d->cfg->log_checkpoints, d->cfg->log_checkpoint_every };
	struct syslogsink_conf sc = { d->cfg->log_syslog_socket,
	    d->cfg->log_syslog_facility, d->cfg->log_syslog_tag };
	char err[512];

	if (d->cfg->log_blocked[0] != '\0') {
		lc.path = d->cfg->log_blocked;
		lc.tlog = tc.key_path[0] != '\0' ? &tc : NULL;
		lc.syslog = d->cfg->log_syslog ? &sc : NULL;
		lc.state_path = d->cfg->log_state[0] != '\0' ?
		    d->cfg->log_state : NULL;
		d->blocked_log = auditlog_open(&lc, err, sizeof(err));
		if (d->blocked_log == NULL) {
			log_err("%s", err);
			return -1;
		}
	}
	if (d->cfg->log_dnstap[0] != '\0') {
		struct dnstap_conf dc = { d->cfg->log_dnstap,
		    d->cfg->log_dnstap_identity[0] != '\0' ?
		    d->cfg->log_dnstap_identity : NULL,
		    "cordon " PACKAGE_VERSION, d->cfg->threads };

		if ((d->tap = dnstap_open(&dc, err, sizeof(err))) == NULL) {
			log_err("[log] dnstap: %s", err);
			return -1;
		}
	}
	if (d->cfg->log_queries[0] != '\0') {
		lc.path = d->cfg->log_queries;
		lc.state_path = NULL;		/* QUERIES.state */
		lc.tlog = NULL;
		lc.syslog = NULL;	/* every query would flood it */
		d->query_log = auditlog_open(&lc, err, sizeof(err));
		if (d->query_log == NULL) {
			log_err("%s", err);
			return -1;
		}
	}
	return 0;
}

static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user[0] == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_err("[server] user: no such user \"%s\"", user);
		return -1;
	}
	if (getuid() != 0 && getuid() == pw->pw_uid)
		return 0;
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		log_err("cannot drop privileges to %s: %s", user,
		    strerror(errno));
		return -1;
	}
	/* Refuse to go on if root could be regained. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_err("privileges could be regained after dropping them");
		return -1;
	}
	return 0;
}

static int
take_pidfile(struct daemon *d)
{
	char err[512];

	if (d->cfg->pidfile[0] == '\0')
		return 0;
	if ((d->pidfile_fd = pidfile_take(d->cfg->pidfile, err,
	    sizeof(err))) == -1) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
setup_signals(struct daemon *d)
{
	static const int sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 4; i++) {
		d->signals[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		if (d->signals[i] == NULL ||
		    event_add(d->signals[i], NULL) == -1)
			return -1;
	}
	return 0;
}

static int
start(struct daemon *d)
{
	struct control_ops ops = { ctl_reload, ctl_metrics, ctl_flush,
	    ctl_healthy, d };
	struct diag *dg = diag_new();
	struct policy *p = NULL;
	char err[512];
	size_t i;
	int rc;

	/* Before anything starts a thread: threads do not survive fork(). */
	if (!d->foreground) {
		if (detach_start(&d->detach) == -1) {
			log_err("fork: %s", strerror(errno));
			diag_free(dg);
			return -1;
		}
		log_setup(LOG_TO_STDERR | LOG_TO_SYSLOG, LOG_LEVEL_INFO);
	}
	rc = loader_load(d->config_path, dg, &d->cfg, &p);
	for (i = 0; i < diag_count(dg); i++)
		fprintf(stderr, "cordon: %s\n", diag_get(dg, i));
	diag_free(dg);
	if (rc == -1)
		return -1;
	if (d->cfg->country_db[0] == '\0' && d->cfg->asn_db[0] == '\0')
		log_warn("no GeoIP database configured ([geoip] country_db, "
		    "asn_db): audit lines carry no country or AS");
	if (getuid() == 0 && d->cfg->user[0] == '\0')
		log_warn("running as root: set [server] user to drop "
		    "privileges once the sockets are bound");
	if ((d->slot = policy_slot_new(p)) == NULL) {
		policy_unref(p);
		log_err("out of memory");
		return -1;
	}
	if (take_pidfile(d) == -1)
		return -1;
	if (!d->foreground && chdir("/") == -1) {
		log_err("chdir /: %s", strerror(errno));
		return -1;
	}
	if (open_logs(d) == -1)
		return -1;
	d->server = server_new(d->cfg, d->slot, d->blocked_log, d->query_log,
	    d->tap, err, sizeof(err));
	if (d->server == NULL) {
		log_err("%s", err);
		return -1;
	}
	/* Control listeners are opened before privileges go: a port below
	 * 1024, a socket owned by the service user. */
	d->base = event_base_new();
	if (d->base == NULL || setup_signals(d) == -1)
		return -1;
	d->reload = reload_new(d->base, d->config_path, apply_reload, d);
	d->control = control_new(d->base, d->cfg->control_http,
	    d->cfg->control_socket, d->cfg->user, &ops, err, sizeof(err));
	if (d->reload == NULL || d->control == NULL) {
		log_err("%s", d->control == NULL ? err : "cannot start loader");
		return -1;
	}
	if (drop_privileges(d->cfg->user) == -1)
		return -1;
	log_policy_event(d, p, NULL, "start");
	d->started = d->last_load = unix_now();
	if (server_start(d->server, err, sizeof(err)) == -1) {
		log_err("%s", err);
		return -1;
	}
	log_info("ready: policy %s, %zu names in %zu lists, %u thread%s",
	    policy_id(p), policy_entries(p), policy_nlists(p),
	    d->cfg->threads, d->cfg->threads == 1 ? "" : "s");
	detach_done(&d->detach);
	return 0;
}

static void
stop(struct daemon *d)
{
	size_t i;

	control_free(d->control);
	reload_free(d->reload);
	server_free(d->server);		/* workers first: they log */
	if (!dnstap_close(d->tap))	/* writes what is queued */
		log_warn("[log] dnstap: the collector is not reading; the "
		    "messages still queued are lost");
	auditlog_stop(d->blocked_log);	/* both at once: bounded time */
	auditlog_stop(d->query_log);
	auditlog_close(d->blocked_log);
	auditlog_close(d->query_log);
	for (i = 0; i < 4; i++)
		if (d->signals[i] != NULL)
			event_free(d->signals[i]);
	if (d->base != NULL)
		event_base_free(d->base);
	policy_slot_free(d->slot);
	if (d->cfg != NULL)
		pidfile_release(d->cfg->pidfile, d->pidfile_fd);
	config_free(d->cfg);
}

int
main(int argc, char **argv)
{
	struct daemon d = { 0 };
	bool check_only = false;
	char abs_config[PATH_MAX];
	int ch, rc = 0;

	d.pidfile_fd = -1;
	d.detach.status_fd = -1;
	d.config_path = SYSCONFDIR "/cordon/cordon.conf";
	while ((ch = getopt(argc, argv, "c:ftVh")) != -1) {
		switch (ch) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'f':
			d.foreground = true;
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("cordond %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check_only)
		return check_run(d.config_path, stdout, stderr);
	log_setup(LOG_TO_STDERR, LOG_LEVEL_INFO);
	/* In the background the daemon works from /: a reload must find
	 * the config where the start did. */
	if (!d.foreground && realpath(d.config_path, abs_config) != NULL)
		d.config_path = abs_config;
	raise_fd_limit();
	if (start(&d) == 0)
		event_base_dispatch(d.base);
	else
		rc = 1;
	stop(&d);
	if (rc == 0)
		log_info("stopped");
	return rc;
}
