/*
 * server: sockets and worker threads.  A worker owns an event base, one
 * UDP socket and one TCP listener per listen address, its TCP
 * connections and its query_env.  This file binds, runs and stops the
 * workers and publishes their counters; server_udp.c and server_tcp.c
 * carry the two transports.  Nothing here looks inside a DNS message:
 * that is query.c's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/config.h"
#include "serve/dnstap.h"
#include "serve/server_impl.h"

static void
errf(char *err, size_t errlen, const char *fmt, const struct netaddr *na)
{
	char a[INET6_ADDRSTRLEN + 8];

	netaddr_format((const struct sockaddr *)&na->ss, a, sizeof(a));
	snprintf(err, errlen, fmt, a, strerror(errno));
}

static int
open_socket(const struct netaddr *na, int type, char *err, size_t errlen)
{
	int fd, on = 1, rcvbuf = UDP_RCVBUF;

	fd = socket(na->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		errf(err, errlen, "%s: socket: %s", na);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* One socket per worker on the same address: the kernel spreads
	 * clients over them by their address hash. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (na->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (type == SOCK_DGRAM)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	if (bind(fd, (const struct sockaddr *)&na->ss, na->len) == -1)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 1024) == -1)
		goto fail;
	return fd;
fail:
	errf(err, errlen, "cannot listen on %s: %s", na);
	close(fd);
	return -1;
}

/*
 * SO_REUSEPORT would let a second cordond bind the same address and
 * silently take half the clients.  A socket without it fails to bind
 * while any other process holds the port, so try one first.
 */
static int
probe_free(const struct netaddr *na, int type, char *err, size_t errlen)
{
	int fd, on = 1;

	fd = socket(na->ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		errf(err, errlen, "%s: socket: %s", na);
		return -1;
	}
	if (na->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	/* TCP: connections of an earlier run in TIME_WAIT must not count
	 * (a listener still does).  UDP: no SO_REUSEADDR, or two sockets
	 * that both set it could share the port. */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)&na->ss, na->len) == -1) {
		errf(err, errlen, "cannot listen on %s: %s (another server "
		    "there?)", na);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* ---- hooks for answers made later ---- */

static void
io_send(void *ctx, const struct client *cl, const uint8_t *msg, size_t len)
{
	if (cl->is_tcp)
		tcp_send(cl, msg, len);
	else
		udp_send(cl, msg, len);
}

static void
io_hold(void *ctx, const struct client *cl)
{
	if (cl->is_tcp)
		tcp_hold(cl);
}

static void
io_done(void *ctx, const struct client *cl)
{
	if (cl->is_tcp)
		tcp_done(cl);
}

static bool
io_gone(void *ctx, const struct client *cl)
{
	return cl->is_tcp && tcp_gone(cl);
}

/* ---- workers ---- */

/* Copies the worker's counters where the main thread can read them. */
static void
publish(struct worker *w)
{
	struct server_stats *p = &w->pub;
	const struct list_counter *lists;
	struct list_counter *l;
	size_t i, nlists;

	pthread_mutex_lock(&w->pub_lock);
	query_env_stats(w->env, &p->q);
	query_env_forward_stats(w->env, &p->fwd);
	for (i = 0; i < p->nupstreams; i++)
		query_env_upstream_stats(w->env, i, &p->upstreams[i]);
	p->cache_entries = query_env_cache_entries(w->env);
	p->inflight = query_env_inflight(w->env);
	p->tcp_clients = w->nconns;
	lists = query_env_lists(w->env, &nlists);
	if (p->nlists != nlists &&
	    (l = realloc(p->lists, nlists * sizeof(*l))) != NULL) {
		p->lists = l;
		p->nlists = nlists;
	}
	if (p->nlists > 0)
		memcpy(p->lists, lists, p->nlists * sizeof(*p->lists));
	pthread_mutex_unlock(&w->pub_lock);
}

static void
on_publish(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	atomic_store_explicit(&w->beat_ms, clock_mono_ms(), memory_order_relaxed);
	query_env_refresh(w->env);
	publish(w);
}

static void
run_flushes(struct worker *w)
{
	size_t i;

	pthread_mutex_lock(&w->pub_lock);
	for (i = 0; i < w->nflushes; i++)
		query_env_flush(w->env, w->flushes[i][0] ?
		    w->flushes[i] + 1 : NULL);
	free(w->flushes);
	w->flushes = NULL;
	w->nflushes = 0;
	pthread_mutex_unlock(&w->pub_lock);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char b;

	while (read(fd, &b, 1) == 1) {
		if (b == 'q')
			event_base_loopbreak(w->base);
		else if (b == 'f')
			run_flushes(w);
	}
}

static int
worker_bind(struct worker *w, char *err, size_t errlen)
{
	const struct config *cfg = w->s->cfg;
	size_t i;

	w->udp = calloc(cfg->nlisten, sizeof(*w->udp));
	w->tcp = calloc(cfg->nlisten, sizeof(*w->tcp));
	if (w->udp == NULL || w->tcp == NULL)
		return -1;
	for (i = 0; i < cfg->nlisten; i++) {
		int tfd;

		w->udp[i].w = w;
		w->udp[i].fd = open_socket(&cfg->listen[i], SOCK_DGRAM, err,
		    errlen);
		if (w->udp[i].fd == -1)
			return -1;
		w->nsock = i + 1;
		w->udp[i].is_wildcard = udp_is_wildcard(&cfg->listen[i]);
		if (w->udp[i].is_wildcard && udp_want_pktinfo(w->udp[i].fd,
		    cfg->listen[i].ss.ss_family) == -1) {
			snprintf(err, errlen, "IP_PKTINFO: %s", strerror(errno));
			return -1;
		}
		w->udp[i].ev = event_new(w->base, w->udp[i].fd,
		    EV_READ | EV_PERSIST, udp_on_readable, &w->udp[i]);
		if (w->udp[i].ev == NULL || event_add(w->udp[i].ev, NULL))
			return -1;
		tfd = open_socket(&cfg->listen[i], SOCK_STREAM, err, errlen);
		if (tfd == -1)
			return -1;
		w->tcp[i] = evconnlistener_new(w->base, tcp_on_accept, w,
		    LEV_OPT_CLOSE_ON_FREE, -1, tfd);
		if (w->tcp[i] == NULL) {
			close(tfd);
			return -1;
		}
	}
	return 0;
}

static int
worker_init(struct server *s, struct worker *w, unsigned index,
    struct auditlog *blocked_log, struct auditlog *query_log, char *err,
    size_t errlen)
{
	const struct config *cfg = s->cfg;
	struct query_io io = { io_send, io_hold, io_done, io_gone, w };
	struct query_world world = { 0 };
	struct timeval second = { 1, 0 };

	w->s = s;
	pthread_mutex_init(&w->pub_lock, NULL);
	w->index = index;
	w->wake[0] = w->wake[1] = -1;
	w->conns.next = w->conns.prev = &w->conns;
	w->max_conns = (cfg->tcp_max_clients + cfg->threads - 1) /
	    cfg->threads;
	w->base = event_base_new();
	w->rbuf = malloc((size_t)BATCH * RBUF);
	w->sbuf = malloc((size_t)BATCH * SBUF);
	w->tcpbuf = malloc(SBUF);
	if (w->base == NULL || w->rbuf == NULL || w->sbuf == NULL ||
	    w->tcpbuf == NULL || pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "cannot set up worker %u: %s", index,
		    strerror(errno));
		return -1;
	}
	w->wake_ev = event_new(w->base, w->wake[0], EV_READ | EV_PERSIST,
	    on_wake, w);
	w->publish_ev = event_new(w->base, -1, EV_PERSIST, on_publish, w);
	w->pub.nupstreams = cfg->nupstreams;
	w->pub.upstreams = calloc(cfg->nupstreams + 1,
	    sizeof(*w->pub.upstreams));
	if (w->wake_ev == NULL || event_add(w->wake_ev, NULL) == -1 ||
	    w->publish_ev == NULL || event_add(w->publish_ev, &second) == -1 ||
	    w->pub.upstreams == NULL || worker_bind(w, err, errlen) == -1)
		return -1;
	world.clock = clock_system();
	forward_net_io(&world.net, w->base);
	world.tap = s->tap != NULL ? dnstap_queue(s->tap) : NULL;
	world.tap_forwarder = cfg->log_dnstap_forwarder;
	w->env = query_env_new(cfg, s->slot, w->base, blocked_log, query_log,
	    &io, &world);
	if (w->env == NULL) {
		snprintf(err, errlen, "cannot set up worker %u", index);
		return -1;
	}
	publish(w);
	return 0;
}

static void
worker_clear(struct worker *w)
{
	size_t i;

	query_env_free(w->env);		/* before the connections */
	if (w->publish_ev != NULL)
		event_free(w->publish_ev);
	server_stats_clear(&w->pub);
	free(w->flushes);
	pthread_mutex_destroy(&w->pub_lock);
	while (w->conns.next != &w->conns) {
		struct tcpconn *c = w->conns.next;

		c->pending = 0;
		tcp_conn_close(c);
	}
	for (i = 0; i < w->nsock; i++) {
		if (w->udp[i].ev != NULL)
			event_free(w->udp[i].ev);
		close(w->udp[i].fd);
		if (w->tcp[i] != NULL)
			evconnlistener_free(w->tcp[i]);
	}
	free(w->udp);
	free(w->tcp);
	if (w->wake_ev != NULL)
		event_free(w->wake_ev);
	if (w->wake[0] != -1) {
		close(w->wake[0]);
		close(w->wake[1]);
	}
	if (w->base != NULL)
		event_base_free(w->base);
	free(w->rbuf);
	free(w->sbuf);
	free(w->tcpbuf);
}

struct server *
server_new(const struct config *cfg, struct policy_slot *slot,
    struct auditlog *blocked_log, struct auditlog *query_log,
    struct dnstap *tap, char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	unsigned i;

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->slot = slot;
	s->tap = tap;
	s->workers = calloc(cfg->threads, sizeof(*s->workers));
	if (s->workers == NULL) {
		free(s);
		return NULL;
	}
	for (i = 0; i < cfg->nlisten; i++) {
		if (probe_free(&cfg->listen[i], SOCK_DGRAM, err, errlen) == -1 ||
		    probe_free(&cfg->listen[i], SOCK_STREAM, err, errlen) == -1) {
			free(s->workers);
			free(s);
			return NULL;
		}
	}
	/* nworkers counts the workers begun, so a failure frees exactly
	 * those (a zeroed worker was never set up: its fds read as 0). */
	for (i = 0; i < cfg->threads; i++) {
		s->nworkers = i + 1;
		if (worker_init(s, &s->workers[i], i, blocked_log, query_log,
		    err, errlen) == -1) {
			server_free(s);
			return NULL;
		}
	}
	return s;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	atomic_store_explicit(&w->beat_ms, clock_mono_ms(), memory_order_relaxed);
	event_base_dispatch(w->base);
	/* a loop that ends before server_stop() is a dead worker */
	atomic_store_explicit(&w->beat_ms, 0, memory_order_relaxed);
	return NULL;
}

int
server_start(struct server *s, char *err, size_t errlen)
{
	sigset_t all, old;
	unsigned i;
	int rc = 0;

	/* Workers never take signals: the main loop handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < s->nworkers; i++) {
		char name[16];

		atomic_init(&s->workers[i].beat_ms, clock_mono_ms());
		if (pthread_create(&s->workers[i].thread, NULL, worker_main,
		    &s->workers[i]) != 0) {
			snprintf(err, errlen, "cannot start worker %u", i);
			rc = -1;
			break;
		}
		/* "cordond-w0" in ps -L, top -H and /proc/PID/task/N/comm */
		snprintf(name, sizeof(name), "cordond-w%u", i % 10000);
		(void)pthread_setname_np(s->workers[i].thread, name);
		s->workers[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

bool
server_healthy(struct server *s, uint64_t stall_ms, char *why,
    size_t whylen)
{
	uint64_t now = clock_mono_ms(), beat;
	unsigned i;

	for (i = 0; i < s->nworkers; i++) {
		if (!s->workers[i].started) {
			snprintf(why, whylen, "worker %u is not running", i);
			return false;
		}
		beat = atomic_load_explicit(&s->workers[i].beat_ms,
		    memory_order_relaxed);
		if (beat == 0) {
			snprintf(why, whylen, "worker %u has stopped", i);
			return false;
		}
		if (now > beat && now - beat > stall_ms) {
			snprintf(why, whylen, "worker %u has not turned its "
			    "loop for %llu ms", i,
			    (unsigned long long)(now - beat));
			return false;
		}
	}
	return true;
}

void
server_stop(struct server *s)
{
	unsigned i;

	for (i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];

		if (!w->started)
			continue;
		(void)write(w->wake[1], "q", 1);
		pthread_join(w->thread, NULL);
		w->started = false;
		publish(w);		/* the final counts */
	}
}

static void
add_lists(struct server_stats *st, const struct list_counter *l, size_t n)
{
	size_t i, j;
	int t;

	for (i = 0; i < n; i++) {
		for (j = 0; j < st->nlists; j++)
			if (strcmp(st->lists[j].name, l[i].name) == 0)
				break;
		if (j == st->nlists) {
			struct list_counter *v = realloc(st->lists,
			    (j + 1) * sizeof(*v));

			if (v == NULL)
				return;
			st->lists = v;
			st->lists[j] = l[i];
			st->nlists++;
			continue;
		}
		for (t = 0; t < TRIGGER_COUNT; t++)
			st->lists[j].blocked[t] += l[i].blocked[t];
	}
}

static void
add_u64(uint64_t *dst, const uint64_t *src, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		dst[k] += src[k];
}

void
server_get_stats(struct server *s, struct server_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof(*st));
	st->nupstreams = s->cfg->nupstreams;
	st->upstreams = calloc(st->nupstreams + 1, sizeof(*st->upstreams));
	for (i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];

		pthread_mutex_lock(&w->pub_lock);
		add_u64((uint64_t *)&st->q, (const uint64_t *)&w->pub.q,
		    sizeof(st->q) / sizeof(uint64_t));
		add_u64((uint64_t *)&st->fwd, (const uint64_t *)&w->pub.fwd,
		    sizeof(st->fwd) / sizeof(uint64_t));
		if (st->upstreams != NULL)
			add_u64((uint64_t *)st->upstreams,
			    (const uint64_t *)w->pub.upstreams,
			    st->nupstreams * sizeof(*st->upstreams) /
			    sizeof(uint64_t));
		st->cache_entries += w->pub.cache_entries;
		st->inflight += w->pub.inflight;
		st->tcp_clients += w->pub.tcp_clients;
		add_lists(st, w->pub.lists, w->pub.nlists);
		pthread_mutex_unlock(&w->pub_lock);
	}
	if (st->upstreams == NULL)
		st->nupstreams = 0;
}

void
server_stats_clear(struct server_stats *st)
{
	free(st->upstreams);
	free(st->lists);
	memset(st, 0, sizeof(*st));
}

void
server_flush(struct server *s, const uint8_t *name)
{
	unsigned i;

	for (i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		uint8_t (*v)[DNAME_MAXWIRE + 1];

		pthread_mutex_lock(&w->pub_lock);
		v = realloc(w->flushes, (w->nflushes + 1) * sizeof(*v));
		if (v != NULL) {
			w->flushes = v;
			memset(v[w->nflushes], 0, sizeof(*v));
			if (name != NULL) {
				v[w->nflushes][0] = 1;
				memcpy(v[w->nflushes] + 1, name,
				    dname_len(name));
			}
			w->nflushes++;
		}
		pthread_mutex_unlock(&w->pub_lock);
		(void)write(w->wake[1], "f", 1);
	}
}

void
server_free(struct server *s)
{
	unsigned i;

	if (s == NULL)
		return;
	server_stop(s);
	for (i = 0; i < s->nworkers; i++)
		worker_clear(&s->workers[i]);
	free(s->workers);
	free(s);
}
