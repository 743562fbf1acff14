/*
 * forward_net: the forwarder's world (forward.h's struct forward_io) over
 * libevent and the kernel.  A UDP transport is a connected socket of its
 * own (the kernel drops datagrams from anyone else and picks a random
 * source port for this query alone); a TCP one is a bufferevent reading
 * length-prefixed messages.  A timer or a UDP transport is one
 * allocation, as an event_new() is.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "serve/forward.h"
#include "base/netaddr.h"
#include "dns/wire.h"

struct forward_timer {
	void (*cb)(void *arg);
	void *arg;
	/* the event, event_get_struct_event_size() bytes */
	union {
		void *p;
		uint64_t u;
		long double d;
	} ev[];
};

struct forward_conn {
	void (*on_msg)(void *arg, const uint8_t *msg, size_t len);
	void (*on_fail)(void *arg, enum forward_error why);
	void *arg;
	struct bufferevent *bev;	/* TCP */
	int fd;				/* UDP, -1 for TCP */
	union {
		void *p;
		uint64_t u;
		long double d;
	} ev[];				/* UDP: its read event */
};

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct forward_timer *t = arg;

	t->cb(t->arg);
}

static struct forward_timer *
net_timer_new(void *ctx, void (*cb)(void *arg), void *arg)
{
	struct event_base *base = ctx;
	struct forward_timer *t = malloc(sizeof(*t) +
	    event_get_struct_event_size());

	if (t == NULL)
		return NULL;
	t->cb = cb;
	t->arg = arg;
	if (event_assign((struct event *)t->ev, base, -1, 0, on_timer, t)
	    == -1) {
		free(t);
		return NULL;
	}
	return t;
}

static int
net_timer_arm(struct forward_timer *t, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return event_add((struct event *)t->ev, &tv);
}

static void
net_timer_free(struct forward_timer *t)
{
	event_del((struct event *)t->ev);
	free(t);
}

static void
on_udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct forward_conn *c = arg;
	uint8_t buf[65535];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		/* ICMP port unreachable on a connected socket */
		if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
		    errno == ENETUNREACH)
			c->on_fail(c->arg, FORWARD_UNREACHABLE);
		return;
	}
	c->on_msg(c->arg, buf, (size_t)n);
}

static struct forward_conn *
open_udp(struct event_base *base, const struct netaddr *to,
    const uint8_t *msg, size_t len, struct forward_conn *c)
{
	struct event *ev = (struct event *)c->ev;

	c->fd = socket(to->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		free(c);
		return NULL;
	}
	if (connect(c->fd, (const struct sockaddr *)&to->ss, to->len) == -1 ||
	    send(c->fd, msg, len, 0) == -1 ||
	    event_assign(ev, base, c->fd, EV_READ | EV_PERSIST,
	    on_udp_readable, c) == -1) {
		close(c->fd);
		free(c);
		return NULL;
	}
	if (event_add(ev, NULL) == -1) {
		event_del(ev);
		close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

static void
on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct forward_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t lenbuf[2], *msg;
	size_t len;

	if (evbuffer_copyout(in, lenbuf, 2) != 2)
		return;
	len = wire_u16(lenbuf);
	if (evbuffer_get_length(in) < 2 + len)
		return;
	evbuffer_drain(in, 2);
	msg = evbuffer_pullup(in, (ssize_t)len);
	if (msg == NULL && len > 0) {
		c->on_fail(c->arg, FORWARD_BAD_ANSWER);
		return;
	}
	/* on_msg() may close c and with it bev: touch nothing after. */
	c->on_msg(c->arg, msg, len);
}

static void
on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct forward_conn *c = arg;

	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT))
		c->on_fail(c->arg, FORWARD_TCP_FAILED);
}

static struct forward_conn *
open_tcp(struct event_base *base, const struct netaddr *to,
    const uint8_t *msg, size_t len, struct forward_conn *c)
{
	uint8_t lenbuf[2];

	c->fd = -1;
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, on_tcp_read, NULL, on_tcp_event, c);
	wire_put16(lenbuf, (uint16_t)len);
	if (bufferevent_socket_connect(c->bev,
	    (const struct sockaddr *)&to->ss, (int)to->len) == -1 ||
	    bufferevent_write(c->bev, lenbuf, 2) == -1 ||
	    bufferevent_write(c->bev, msg, len) == -1 ||
	    bufferevent_enable(c->bev, EV_READ) == -1) {
		bufferevent_free(c->bev);
		free(c);
		return NULL;
	}
	return c;
}

static struct forward_conn *
net_open(void *ctx, bool tcp, const struct netaddr *to, const uint8_t *msg,
    size_t len, void (*on_msg)(void *arg, const uint8_t *msg, size_t len),
    void (*on_fail)(void *arg, enum forward_error why), void *arg)
{
	struct forward_conn *c = malloc(sizeof(*c) +
	    (tcp ? 0 : event_get_struct_event_size()));

	if (c == NULL)
		return NULL;
	c->on_msg = on_msg;
	c->on_fail = on_fail;
	c->arg = arg;
	c->bev = NULL;
	return tcp ? open_tcp(ctx, to, msg, len, c) :
	    open_udp(ctx, to, msg, len, c);
}

static void
net_close(struct forward_conn *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else {
		event_del((struct event *)c->ev);
		close(c->fd);
	}
	free(c);
}

void
forward_net_io(struct forward_io *io, struct event_base *base)
{
	io->clock = clock_system();
	io->ctx = base;
	io->timer_new = net_timer_new;
	io->timer_arm = net_timer_arm;
	io->timer_free = net_timer_free;
	io->open = net_open;
	io->close = net_close;
	io->tap = NULL;
	io->tap_ctx = NULL;
}
