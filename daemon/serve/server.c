/*
 * server: sockets and worker threads.  A worker owns an event base, one
 * UDP socket and one TCP listener per listen address, its TCP
 * connections and its query_env.  Nothing here looks inside a DNS
 * message: that is query.c's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/dname.h"
#include "serve/forward.h"
#include "base/log.h"
#include "base/netaddr.h"
#include "serve/server.h"
#include "dns/wire.h"

#define BATCH		32		/* datagrams per recvmmsg */
#define ROUNDS		8		/* batches per readable event */
#define RBUF		4096		/* largest query we read over UDP */
#define SBUF		65535		/* largest answer */
#define CONN_PENDING	64		/* forwarded queries per connection */
#define CONN_OUTBUF	(256 * 1024)	/* unsent bytes before we pause */
#define UDP_RCVBUF	(4 * 1024 * 1024)

struct worker;

struct udp_sock {
	struct worker *w;
	int fd;
	struct event *ev;
	bool is_wildcard;	/* answers need the local address set */
};

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message. */
#define CTL_SIZE CMSG_SPACE(sizeof(struct in6_pktinfo))

struct tcpconn {
	struct worker *w;
	struct tcpconn *prev, *next;	/* the worker's connections */
	struct bufferevent *bev;	/* NULL once closed */
	struct client client;
	unsigned pending;		/* forwarded queries not answered */
	bool eof;			/* client finished sending */
};

struct worker {
	struct server *s;
	unsigned index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct udp_sock *udp;
	struct evconnlistener **tcp;
	size_t nsock;
	int wake[2];
	struct event *wake_ev;
	struct query_env *env;
	struct event *publish_ev;	/* once a second */
	_Atomic uint64_t beat_ms;	/* its last turn: the loop is alive */
	pthread_mutex_t pub_lock;	/* guards pub and the flush list */
	struct server_stats pub;
	uint8_t (*flushes)[DNAME_MAXWIRE + 1];	/* [0] = 0: everything,
						   1: the name after it */
	size_t nflushes;
	struct tcpconn conns;		/* sentinel */
	size_t nconns, max_conns;
	struct mmsghdr rmsg[BATCH], smsg[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	struct sockaddr_storage raddr[BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[CTL_SIZE];
	} rctl[BATCH], sctl[BATCH];
	uint8_t *rbuf, *sbuf, *tcpbuf;
};

struct server {
	const struct config *cfg;
	struct policy_slot *slot;
	struct worker *workers;
	unsigned nworkers;
};

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

/* ---- UDP ---- */

static bool
is_wildcard(const struct netaddr *na)
{
	static const uint8_t zero[16];

	if (na->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&na->ss)->sin_addr.s_addr ==
		    INADDR_ANY;
	return memcmp(&((const struct sockaddr_in6 *)&na->ss)->sin6_addr,
	    zero, 16) == 0;
}

/* A socket bound to 0.0.0.0 or :: learns each query's local address, so
 * the answer leaves from the address the client asked (a client drops
 * answers from any other). */
static int
want_pktinfo(int fd, int family)
{
	int on = 1;

	if (family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
	    sizeof(on));
}

static void
get_pktinfo(struct msghdr *mh, struct client *c)
{
	struct cmsghdr *cm;

	c->has_local = false;
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			memcpy(c->local, &pi.ipi_addr, 4);
			c->ifindex = (unsigned)pi.ipi_ifindex;
			c->has_local = true;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			memcpy(c->local, &pi.ipi6_addr, 16);
			c->ifindex = pi.ipi6_ifindex;
			c->has_local = true;
		}
	}
}

/* Sets mh's control data to send from c's local address. */
static void
put_pktinfo(struct msghdr *mh, const struct client *c, void *ctl)
{
	struct cmsghdr *cm;

	if (!c->has_local) {
		mh->msg_control = NULL;
		mh->msg_controllen = 0;
		return;
	}
	memset(ctl, 0, CTL_SIZE);
	mh->msg_control = ctl;
	cm = ctl;
	if (c->addr.ss_family == AF_INET) {
		struct in_pktinfo pi = { 0 };

		memcpy(&pi.ipi_spec_dst, c->local, 4);
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		memcpy(&pi.ipi6_addr, c->local, 16);
		pi.ipi6_ifindex = c->ifindex;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
}

static void
send_batch(struct worker *w, int fd, unsigned n)
{
	unsigned sent = 0;

	while (sent < n) {
		int r = sendmmsg(fd, w->smsg + sent, n - sent, 0);

		if (r > 0) {
			sent += (unsigned)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* socket full: UDP may drop */
		sent++;			/* this one failed; go on */
	}
}

static void
on_udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *u = arg;
	struct worker *w = u->w;
	unsigned round, i;
	int n;

	query_env_refresh(w->env);
	for (round = 0; round < ROUNDS; round++) {
		unsigned nsend = 0;

		for (i = 0; i < BATCH; i++) {
			w->riov[i].iov_base = w->rbuf + (size_t)i * RBUF;
			w->riov[i].iov_len = RBUF;
			memset(&w->rmsg[i].msg_hdr, 0, sizeof(struct msghdr));
			w->rmsg[i].msg_hdr.msg_name = &w->raddr[i];
			w->rmsg[i].msg_hdr.msg_namelen = sizeof(w->raddr[i]);
			w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
			w->rmsg[i].msg_hdr.msg_iovlen = 1;
			if (u->is_wildcard) {
				w->rmsg[i].msg_hdr.msg_control = &w->rctl[i];
				w->rmsg[i].msg_hdr.msg_controllen = CTL_SIZE;
			}
		}
		n = recvmmsg(fd, w->rmsg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < (unsigned)n; i++) {
			struct client c;
			uint8_t *out = w->sbuf + (size_t)nsend * SBUF;
			size_t len;

			memcpy(&c.addr, &w->raddr[i], sizeof(c.addr));
			c.addrlen = w->rmsg[i].msg_hdr.msg_namelen;
			c.is_tcp = false;
			c.fd = fd;
			c.conn = NULL;
			c.has_local = false;
			if (u->is_wildcard)
				get_pktinfo(&w->rmsg[i].msg_hdr, &c);
			len = query_handle(w->env, &c, w->riov[i].iov_base,
			    w->rmsg[i].msg_len, out, SBUF);
			if (len == 0)
				continue;
			w->siov[nsend].iov_base = out;
			w->siov[nsend].iov_len = len;
			memset(&w->smsg[nsend].msg_hdr, 0,
			    sizeof(struct msghdr));
			w->smsg[nsend].msg_hdr.msg_name = &w->raddr[i];
			w->smsg[nsend].msg_hdr.msg_namelen = c.addrlen;
			w->smsg[nsend].msg_hdr.msg_iov = &w->siov[nsend];
			w->smsg[nsend].msg_hdr.msg_iovlen = 1;
			put_pktinfo(&w->smsg[nsend].msg_hdr, &c, &w->sctl[nsend]);
			nsend++;
		}
		send_batch(w, fd, nsend);
		if (n < BATCH)
			return;
	}
}

/* ---- TCP ---- */

static void
conn_free_if_done(struct tcpconn *c)
{
	if (c->bev == NULL && c->pending == 0) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		free(c);
	}
}

static void
conn_close(struct tcpconn *c)
{
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->w->nconns--;
	}
	conn_free_if_done(c);
}

static bool
conn_output_full(struct tcpconn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    CONN_OUTBUF;
}

/* Reading resumes once answers drained and few queries are waiting;
 * a client that stopped sending is closed when all is answered. */
static void
conn_maybe_resume(struct tcpconn *c)
{
	if (c->bev == NULL)
		return;
	if (c->eof) {
		if (c->pending == 0 && evbuffer_get_length(
		    bufferevent_get_output(c->bev)) == 0)
			conn_close(c);
		return;
	}
	if (c->pending < CONN_PENDING && !conn_output_full(c))
		bufferevent_enable(c->bev, EV_READ);
}

static void
conn_write(struct tcpconn *c, const uint8_t *msg, size_t len)
{
	uint8_t prefix[2];

	wire_put16(prefix, (uint16_t)len);
	if (bufferevent_write(c->bev, prefix, 2) == -1 ||
	    bufferevent_write(c->bev, msg, len) == -1)
		log_debug("tcp: cannot queue an answer");
}

static void
on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct tcpconn *c = arg;
	struct worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);

	query_env_refresh(w->env);
	for (;;) {
		uint8_t lenbuf[2], *msg;
		size_t len, n;

		if (c->pending >= CONN_PENDING || conn_output_full(c)) {
			bufferevent_disable(bev, EV_READ);
			return;
		}
		if (evbuffer_copyout(in, lenbuf, 2) != 2)
			return;
		len = wire_u16(lenbuf);
		if (evbuffer_get_length(in) < 2 + len)
			return;
		msg = evbuffer_pullup(in, (ssize_t)(2 + len));
		if (msg == NULL) {
			conn_close(c);
			return;
		}
		n = query_handle(w->env, &c->client, msg + 2, len,
		    w->tcpbuf, SBUF);
		evbuffer_drain(in, 2 + len);
		if (n > 0)
			conn_write(c, w->tcpbuf, n);
	}
}

static void
on_tcp_write(struct bufferevent *bev, void *arg)
{
	conn_maybe_resume(arg);
}

static void
on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcpconn *c = arg;

	if ((what & BEV_EVENT_EOF) && (c->pending > 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)) {
		/* RFC 7766 6.2.4: answer what was asked before closing. */
		c->eof = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->pending > 0) {
		/* Not idle: queries are still on their way. */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	conn_close(c);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct worker *w = arg;
	const struct config *cfg = w->s->cfg;
	struct timeval idle = { cfg->tcp_idle_ms / 1000,
	    (cfg->tcp_idle_ms % 1000) * 1000 };
	struct tcpconn *c;

	if (w->nconns >= w->max_conns || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->w = w;
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	memcpy(&c->client.addr, sa, (size_t)salen);
	c->client.addrlen = (socklen_t)salen;
	c->client.is_tcp = true;
	c->client.fd = -1;
	c->client.conn = c;
	c->next = w->conns.next;
	c->prev = &w->conns;
	w->conns.next->prev = c;
	w->conns.next = c;
	w->nconns++;
	bufferevent_setcb(c->bev, on_tcp_read, on_tcp_write, on_tcp_event, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ);
}

/* ---- hooks for answers made later ---- */

static void
io_send(void *ctx, const struct client *cl, const uint8_t *msg, size_t len)
{
	struct tcpconn *c = cl->conn;

	if (!cl->is_tcp) {
		union {
			struct cmsghdr align;
			uint8_t buf[CTL_SIZE];
		} ctl;
		struct iovec iov = { (void *)msg, len };
		struct msghdr mh = { 0 };

		mh.msg_name = (void *)&cl->addr;
		mh.msg_namelen = cl->addrlen;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		put_pktinfo(&mh, cl, &ctl);
		(void)sendmsg(cl->fd, &mh, MSG_DONTWAIT);
		return;
	}
	if (c->bev != NULL)
		conn_write(c, msg, len);
}

static void
io_hold(void *ctx, const struct client *cl)
{
	if (cl->is_tcp)
		((struct tcpconn *)cl->conn)->pending++;
}

static void
io_done(void *ctx, const struct client *cl)
{
	struct tcpconn *c = cl->conn;

	if (!cl->is_tcp)
		return;
	c->pending--;
	if (c->bev == NULL)
		conn_free_if_done(c);
	else
		conn_maybe_resume(c);
}

static bool
io_gone(void *ctx, const struct client *cl)
{
	return cl->is_tcp && ((struct tcpconn *)cl->conn)->bev == NULL;
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
		w->udp[i].is_wildcard = is_wildcard(&cfg->listen[i]);
		if (w->udp[i].is_wildcard && want_pktinfo(w->udp[i].fd,
		    cfg->listen[i].ss.ss_family) == -1) {
			snprintf(err, errlen, "IP_PKTINFO: %s", strerror(errno));
			return -1;
		}
		w->udp[i].ev = event_new(w->base, w->udp[i].fd,
		    EV_READ | EV_PERSIST, on_udp_readable, &w->udp[i]);
		if (w->udp[i].ev == NULL || event_add(w->udp[i].ev, NULL))
			return -1;
		tfd = open_socket(&cfg->listen[i], SOCK_STREAM, err, errlen);
		if (tfd == -1)
			return -1;
		w->tcp[i] = evconnlistener_new(w->base, on_accept, w,
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
	struct query_world world;
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
		conn_close(c);
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
    struct auditlog *blocked_log, struct auditlog *query_log, char *err,
    size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	unsigned i;

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->slot = slot;
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
