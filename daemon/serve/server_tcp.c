/*
 * server_tcp: a worker's TCP clients, as RFC 7766 has them: many
 * queries per connection, answered as they complete, reading paused
 * while too many wait or too much is unsent, idle connections closed,
 * a cap on connections.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "base/config.h"
#include "base/log.h"
#include "serve/server_impl.h"
#include "dns/wire.h"

static void
conn_free_if_done(struct tcpconn *c)
{
	if (c->bev == NULL && c->pending == 0) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		free(c);
	}
}

void
tcp_conn_close(struct tcpconn *c)
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

/* Whether a whole frame waits in the input buffer. */
static bool
conn_has_frame(struct tcpconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t lenbuf[2];

	return evbuffer_copyout(in, lenbuf, 2) == 2 &&
	    evbuffer_get_length(in) >= 2 + (size_t)wire_u16(lenbuf);
}

/* A client that stopped sending is closed once every query it sent has
 * its answer written (RFC 7766 6.2.4); returns whether c was closed. */
static bool
conn_close_if_finished(struct tcpconn *c)
{
	if (!c->eof || c->pending > 0 || conn_has_frame(c) ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return false;
	tcp_conn_close(c);
	return true;
}

/* Reading resumes once answers drained and few queries are waiting,
 * starting with the frames already read: no new bytes may come to wake
 * the read callback, so the loop runs it. */
static void
conn_maybe_resume(struct tcpconn *c)
{
	if (c->bev == NULL || conn_close_if_finished(c))
		return;
	if (c->pending >= CONN_PENDING || conn_output_full(c))
		return;
	if (!c->eof)
		bufferevent_enable(c->bev, EV_READ);
	if (conn_has_frame(c))
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
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
		if (!conn_has_frame(c)) {
			(void)conn_close_if_finished(c);
			return;
		}
		(void)evbuffer_copyout(in, lenbuf, 2);
		len = wire_u16(lenbuf);
		msg = evbuffer_pullup(in, (ssize_t)(2 + len));
		if (msg == NULL) {
			tcp_conn_close(c);
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

	if (what & BEV_EVENT_EOF) {
		/* RFC 7766 6.2.4: answer what was asked before closing,
		 * frames read but not yet handled too. */
		c->eof = true;
		bufferevent_disable(bev, EV_READ);
		on_tcp_read(bev, c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->pending > 0) {
		/* Not idle: queries are still on their way. */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	tcp_conn_close(c);
}

void
tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd,
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

void
tcp_send(const struct client *cl, const uint8_t *msg, size_t len)
{
	struct tcpconn *c = cl->conn;

	if (c->bev != NULL)
		conn_write(c, msg, len);
}

void
tcp_hold(const struct client *cl)
{
	((struct tcpconn *)cl->conn)->pending++;
}

void
tcp_done(const struct client *cl)
{
	struct tcpconn *c = cl->conn;

	c->pending--;
	if (c->bev == NULL)
		conn_free_if_done(c);
	else
		conn_maybe_resume(c);
}

bool
tcp_gone(const struct client *cl)
{
	return ((struct tcpconn *)cl->conn)->bev == NULL;
}
