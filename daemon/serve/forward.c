/*
 * forward: one struct exchange per distinct question in flight.  An
 * exchange owns its UDP socket or TCP bufferevent, a per-try timer and a
 * deadline, and the list of waiters it answers when it ends.  Each server
 * has a hold for UDP and one for TCP: while held, it is not asked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "serve/forward.h"
#include "base/hash.h"
#include "base/netaddr.h"
#include "dns/wire.h"

#define MAX_INFLIGHT	8192	/* exchanges per worker */
#define MAX_WAITERS	256	/* queries sharing one exchange */
#define UPSTREAM_EDNS	1232	/* DNS flag day 2020 payload size */
#define MIN_TRY_MS	200

const unsigned FORWARD_LATENCY_MS[FORWARD_NBUCKETS] = {
	1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 0 /* +Inf */
};

struct waiter {
	forward_done cb;
	void *arg;
};

/* Not asked before until_ms; fails in a row make the next hold longer. */
struct hold {
	uint64_t until_ms;
	unsigned fails;
};

struct server {
	struct netaddr addr;
	struct hold udp, tcp;
};

struct exchange {
	struct forwarder *f;
	struct exchange *next;		/* hash chain */
	uint64_t hash;
	uint8_t qname[DNAME_MAXWIRE];
	size_t qname_len;
	uint16_t qtype, qclass;
	bool do_bit, cd;
	uint16_t id;
	size_t server;			/* index of the server asked now */
	unsigned tries;			/* packets sent, UDP and TCP */
	unsigned refusals;		/* servers that refused this one */
	enum forward_error why;		/* the last refusal */
	uint64_t sent_us;		/* when the current try was sent */
	int fd;				/* UDP socket, -1 when none */
	struct event *ev_read;
	struct event *ev_try;
	struct event *ev_deadline;
	struct bufferevent *tcp;
	uint8_t query[DNS_HEADER_LEN + DNAME_MAXWIRE + 4 + 11];
	size_t query_len;
	struct waiter *waiters;
	size_t nwaiters;
};

struct forwarder {
	struct event_base *base;
	struct server *servers;
	size_t nservers;
	uint32_t timeout_ms;
	uint32_t try_ms;
	size_t next_server;		/* round robin start */
	struct exchange **table;	/* 1024 chains */
	struct hash_key key;		/* names come from clients */
	size_t inflight;
	struct forward_stats stats;
	struct upstream_stats *ustats;	/* per server */
};

#define TABLE_SIZE 1024

const char *
forward_error_text(enum forward_error why)
{
	switch (why) {
	case FORWARD_OK:
		return "answered";
	case FORWARD_TIMEOUT:
		return "no upstream answered in time";
	case FORWARD_REFUSED:
		return "the upstream refused the query";
	case FORWARD_SERVFAIL:
		return "the upstream failed (SERVFAIL)";
	case FORWARD_UNREACHABLE:
		return "the upstream is unreachable (port closed)";
	case FORWARD_TCP_FAILED:
		return "the upstream truncated the answer and failed over TCP";
	case FORWARD_BAD_ANSWER:
		return "malformed upstream answer";
	case FORWARD_HELD_DOWN:
		return "every upstream is held down after refusing";
	case FORWARD_SHUTDOWN:
		return "shutting down";
	}
	return "upstream failure";
}

static uint64_t
hash_question(const struct forwarder *f, const uint8_t *qname, size_t len,
    uint16_t qtype, uint16_t qclass, bool do_bit, bool cd)
{
	uint8_t k[DNAME_MAXWIRE + 5];

	memcpy(k, qname, len);
	wire_put16(k + len, qtype);
	wire_put16(k + len + 2, qclass);
	k[len + 4] = (uint8_t)(do_bit | cd << 1);
	return hash_bytes(&f->key, k, len + 5);
}

struct forwarder *
forward_new(struct event_base *base, const struct netaddr *servers,
    size_t nservers, uint32_t timeout_ms)
{
	struct forwarder *f = calloc(1, sizeof(*f));
	size_t i;

	if (f == NULL)
		return NULL;
	f->base = base;
	hash_key_new(&f->key);
	f->servers = calloc(nservers ? nservers : 1, sizeof(*f->servers));
	f->table = calloc(TABLE_SIZE, sizeof(*f->table));
	f->ustats = calloc(nservers ? nservers : 1, sizeof(*f->ustats));
	if (f->servers == NULL || f->table == NULL || f->ustats == NULL) {
		free(f->servers);
		free(f->table);
		free(f->ustats);
		free(f);
		return NULL;
	}
	for (i = 0; i < nservers; i++)
		f->servers[i].addr = servers[i];
	f->nservers = nservers;
	f->timeout_ms = timeout_ms;
	/* Three tries fit in the timeout, each at least MIN_TRY_MS. */
	f->try_ms = timeout_ms / 3;
	if (f->try_ms < MIN_TRY_MS)
		f->try_ms = timeout_ms < MIN_TRY_MS ? timeout_ms : MIN_TRY_MS;
	return f;
}

static void
close_transport(struct exchange *x)
{
	if (x->ev_read != NULL) {
		event_free(x->ev_read);
		x->ev_read = NULL;
	}
	if (x->fd != -1) {
		close(x->fd);
		x->fd = -1;
	}
	if (x->tcp != NULL) {
		bufferevent_free(x->tcp);
		x->tcp = NULL;
	}
}

static void
unlink_exchange(struct exchange *x)
{
	struct exchange **pp = &x->f->table[x->hash % TABLE_SIZE];

	while (*pp != x)
		pp = &(*pp)->next;
	*pp = x->next;
	x->f->inflight--;
}

/* Ends x: every waiter hears the answer (or why not), then x is freed.
 * The exchange is unlinked first, so a waiter that asks again starts
 * anew. */
static void
finish(struct exchange *x, const uint8_t *msg, size_t len,
    enum forward_error why)
{
	size_t i;

	unlink_exchange(x);
	event_free(x->ev_try);
	event_free(x->ev_deadline);
	if (why != FORWARD_OK && why != FORWARD_TIMEOUT &&
	    why != FORWARD_SERVFAIL && why != FORWARD_SHUTDOWN)
		x->f->stats.refused++;
	/* Waiters first: msg may live in the transport's buffers. */
	for (i = 0; i < x->nwaiters; i++)
		x->waiters[i].cb(x->waiters[i].arg, msg, len, why);
	close_transport(x);
	free(x->waiters);
	free(x);
}

static void
build_query(struct exchange *x)
{
	uint8_t *p = x->query;
	size_t n = DNS_HEADER_LEN;

	arc4random_buf(&x->id, sizeof(x->id));
	wire_put16(p, x->id);
	p[2] = 0x01;				/* RD */
	/* AD: we understand it (RFC 6840 5.7), so a validating upstream
	 * says whether the answer is secure; CD as the client asked. */
	p[3] = 0x20 | (x->cd ? 0x10 : 0);
	wire_put16(p + 4, 1);
	wire_put16(p + 6, 0);
	wire_put16(p + 8, 0);
	wire_put16(p + 10, 1);
	memcpy(p + n, x->qname, x->qname_len);
	n += x->qname_len;
	wire_put16(p + n, x->qtype);
	wire_put16(p + n + 2, x->qclass);
	n += 4;
	p[n] = 0;				/* OPT owned by the root */
	wire_put16(p + n + 1, DNS_TYPE_OPT);
	wire_put16(p + n + 3, UPSTREAM_EDNS);
	wire_put32(p + n + 5, x->do_bit ? 0x8000 : 0);
	wire_put16(p + n + 9, 0);
	x->query_len = n + 11;
}

static bool
acceptable(const struct exchange *x, const uint8_t *msg, size_t len)
{
	if (len < DNS_HEADER_LEN || wire_u16(msg) != x->id ||
	    !(msg[2] & 0x80) || ((msg[2] >> 3) & 0x0f) != OPCODE_QUERY)
		return false;
	return wire_question_matches(msg, len, x->qname, x->qname_len,
	    x->qtype, x->qclass);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t
now_ms(void)
{
	return now_us() / 1000;
}

static bool
held(const struct hold *h, uint64_t now)
{
	return now < h->until_ms;
}

/* The server failed in a way that will not pass with the next name:
 * hold it down, twice as long as last time. */
static void
hold_down(struct exchange *x, struct hold *h)
{
	unsigned shift = h->fails < 8 ? h->fails : 8;
	uint64_t ms = (uint64_t)FORWARD_HOLD_MIN_MS << shift;

	if (ms > FORWARD_HOLD_MAX_MS)
		ms = FORWARD_HOLD_MAX_MS;
	h->fails++;
	h->until_ms = now_ms() + ms;
	x->f->ustats[x->server].holds++;
}

static void
hold_clear(struct hold *h)
{
	h->fails = 0;
	h->until_ms = 0;
}

static void
count_answer(struct exchange *x)
{
	struct upstream_stats *us = &x->f->ustats[x->server];
	uint64_t us_taken = now_us() - x->sent_us;
	size_t b;

	us->answers++;
	us->latency_sum_us += us_taken;
	for (b = 0; b < FORWARD_NBUCKETS - 1; b++)
		if (us_taken <= (uint64_t)FORWARD_LATENCY_MS[b] * 1000)
			break;
	us->latency[b]++;
}

static void try_next(struct exchange *x, bool advance);
static void start_tcp(struct exchange *x);

/* The server asked now cannot help with this question: the next one,
 * unless every server has refused it already. */
static void
refused(struct exchange *x, enum forward_error why)
{
	x->f->ustats[x->server].errors++;
	x->refusals++;
	x->why = why;
	try_next(x, true);
}

static void
on_reply(struct exchange *x, const uint8_t *msg, size_t len, bool is_tcp)
{
	struct server *s = &x->f->servers[x->server];
	unsigned rcode;

	if (!acceptable(x, msg, len)) {
		x->f->stats.rejected++;
		if (is_tcp)
			refused(x, FORWARD_BAD_ANSWER);
		return;			/* UDP: perhaps forged; wait on */
	}
	hold_clear(is_tcp ? &s->tcp : &s->udp);
	if (!is_tcp && (msg[2] & 0x02)) {
		start_tcp(x);
		return;
	}
	rcode = msg[3] & 0x0f;
	if (rcode == RCODE_REFUSED ||
	    (rcode == RCODE_SERVFAIL && x->refusals + 1 < x->f->nservers)) {
		/* SERVFAIL from the last server is passed on: it may say
		 * why (an EDE), REFUSED never is (it looks like our ACL). */
		refused(x, rcode == RCODE_REFUSED ? FORWARD_REFUSED :
		    FORWARD_SERVFAIL);
		return;
	}
	count_answer(x);
	finish(x, msg, len, FORWARD_OK);
}

static void
on_udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *x = arg;
	uint8_t buf[65535];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		/* ICMP port unreachable on a connected socket: this
		 * server is not there; do not wait for the timer. */
		if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
		    errno == ENETUNREACH) {
			hold_down(x, &x->f->servers[x->server].udp);
			refused(x, FORWARD_UNREACHABLE);
		}
		return;
	}
	on_reply(x, buf, (size_t)n, false);
}

static int
send_udp(struct exchange *x)
{
	const struct netaddr *s = &x->f->servers[x->server].addr;

	x->fd = socket(s->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (x->fd == -1)
		return -1;
	/* connect() makes the kernel drop datagrams from anyone else and
	 * picks a random ephemeral source port for this query alone. */
	if (connect(x->fd, (const struct sockaddr *)&s->ss, s->len) == -1 ||
	    send(x->fd, x->query, x->query_len, 0) == -1)
		return -1;
	x->ev_read = event_new(x->f->base, x->fd, EV_READ | EV_PERSIST,
	    on_udp_readable, x);
	if (x->ev_read == NULL || event_add(x->ev_read, NULL) == -1)
		return -1;
	return 0;
}

static void
arm_try_timer(struct exchange *x)
{
	struct timeval tv = { x->f->try_ms / 1000,
	    (x->f->try_ms % 1000) * 1000 };

	event_add(x->ev_try, &tv);
}

/* Moves x to the first server not held down, from the next one on when
 * advance, else from the current one; false when every server is held. */
static bool
pick_server(struct exchange *x, bool advance)
{
	struct forwarder *f = x->f;
	uint64_t now = now_ms();
	size_t i, s = x->server;

	for (i = 0; i < f->nservers; i++) {
		if (i > 0 || advance)
			s = (s + 1) % f->nservers;
		if (!held(&f->servers[s].udp, now)) {
			x->server = s;
			return true;
		}
	}
	return false;
}

/* Bounds what one question costs: each refusing server once, at most
 * FORWARD_MAX_TRIES packets. */
static bool
may_send(struct exchange *x)
{
	if (x->refusals >= x->f->nservers) {
		finish(x, NULL, 0, x->why);
		return false;
	}
	if (x->tries >= FORWARD_MAX_TRIES) {
		finish(x, NULL, 0, x->why != FORWARD_OK ? x->why :
		    FORWARD_TIMEOUT);
		return false;
	}
	return true;
}

/* Asks a server over UDP: the one picked first, then round robin. */
static void
try_next(struct exchange *x, bool advance)
{
	close_transport(x);
	if (!may_send(x))
		return;
	if (!pick_server(x, advance)) {
		if (x->tries == 0)
			x->f->stats.held_fast++;
		finish(x, NULL, 0, x->tries == 0 || x->why == FORWARD_OK ?
		    FORWARD_HELD_DOWN : x->why);
		return;
	}
	if (x->tries > 0)
		x->f->stats.retries++;
	x->tries++;
	build_query(x);			/* a fresh ID for every try */
	x->sent_us = now_us();
	x->f->ustats[x->server].sent++;
	if (send_udp(x) == -1)
		close_transport(x);	/* the timer moves on */
	arm_try_timer(x);
}

/* No answer in time: maybe this name is slow, not the server; ask the
 * next one (or the same again) without holding anyone down. */
static void
on_try_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *x = arg;

	x->f->ustats[x->server].errors++;
	try_next(x, true);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *x = arg;

	x->f->stats.timeouts++;
	finish(x, NULL, 0, FORWARD_TIMEOUT);
}

static void
on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct exchange *x = arg;
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
		refused(x, FORWARD_BAD_ANSWER);
		return;
	}
	/* on_reply() may free x and with it bev: copy nothing after. */
	on_reply(x, msg, len, true);
}

static void
on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct exchange *x = arg;

	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)) {
		hold_down(x, &x->f->servers[x->server].tcp);
		refused(x, FORWARD_TCP_FAILED);
	}
}

/* RFC 7766 5: a truncated UDP answer is asked again over TCP. */
static void
start_tcp(struct exchange *x)
{
	struct server *sv = &x->f->servers[x->server];
	const struct netaddr *s = &sv->addr;
	uint8_t lenbuf[2];

	close_transport(x);
	if (held(&sv->tcp, now_ms())) {
		refused(x, FORWARD_TCP_FAILED);
		return;
	}
	if (!may_send(x))
		return;
	x->tries++;
	x->sent_us = now_us();
	x->f->ustats[x->server].sent++;
	x->f->stats.tcp++;
	x->tcp = bufferevent_socket_new(x->f->base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (x->tcp == NULL)
		return;			/* the try timer moves on */
	bufferevent_setcb(x->tcp, on_tcp_read, NULL, on_tcp_event, x);
	wire_put16(lenbuf, (uint16_t)x->query_len);
	if (bufferevent_socket_connect(x->tcp,
	    (const struct sockaddr *)&s->ss, (int)s->len) == -1 ||
	    bufferevent_write(x->tcp, lenbuf, 2) == -1 ||
	    bufferevent_write(x->tcp, x->query, x->query_len) == -1 ||
	    bufferevent_enable(x->tcp, EV_READ) == -1) {
		bufferevent_free(x->tcp);
		x->tcp = NULL;
		return;
	}
	arm_try_timer(x);
}

static int
add_waiter(struct exchange *x, forward_done cb, void *arg)
{
	struct waiter *w;

	if (x->nwaiters == MAX_WAITERS)
		return -1;
	w = realloc(x->waiters, (x->nwaiters + 1) * sizeof(*w));
	if (w == NULL)
		return -1;
	w[x->nwaiters].cb = cb;
	w[x->nwaiters].arg = arg;
	x->waiters = w;
	x->nwaiters++;
	return 0;
}

static struct exchange *
find_exchange(struct forwarder *f, uint64_t h, const uint8_t *qname,
    size_t len, uint16_t qtype, uint16_t qclass, bool do_bit, bool cd)
{
	struct exchange *x;

	for (x = f->table[h % TABLE_SIZE]; x != NULL; x = x->next)
		if (x->hash == h && x->qname_len == len &&
		    x->qtype == qtype && x->qclass == qclass &&
		    x->do_bit == do_bit && x->cd == cd &&
		    memcmp(x->qname, qname, len) == 0)
			return x;
	return NULL;
}

static struct exchange *
new_exchange(struct forwarder *f, uint64_t h, const uint8_t *qname,
    size_t len, uint16_t qtype, uint16_t qclass, bool do_bit, bool cd)
{
	struct exchange *x = calloc(1, sizeof(*x));
	struct timeval tv = { f->timeout_ms / 1000,
	    (f->timeout_ms % 1000) * 1000 };

	if (x == NULL)
		return NULL;
	x->f = f;
	x->fd = -1;
	x->hash = h;
	memcpy(x->qname, qname, len);
	x->qname_len = len;
	x->qtype = qtype;
	x->qclass = qclass;
	x->do_bit = do_bit;
	x->cd = cd;
	x->server = f->next_server;
	f->next_server = (f->next_server + 1) % f->nservers;
	x->ev_try = evtimer_new(f->base, on_try_timeout, x);
	x->ev_deadline = evtimer_new(f->base, on_deadline, x);
	if (x->ev_try == NULL || x->ev_deadline == NULL ||
	    evtimer_add(x->ev_deadline, &tv) == -1) {
		if (x->ev_try)
			event_free(x->ev_try);
		if (x->ev_deadline)
			event_free(x->ev_deadline);
		free(x);
		return NULL;
	}
	x->next = f->table[h % TABLE_SIZE];
	f->table[h % TABLE_SIZE] = x;
	f->inflight++;
	return x;
}

int
forward_query(struct forwarder *f, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, uint16_t qclass, bool do_bit, bool cd, forward_done cb,
    void *arg)
{
	uint64_t h = hash_question(f, qname, qname_len, qtype, qclass, do_bit,
	    cd);
	struct exchange *x;

	x = find_exchange(f, h, qname, qname_len, qtype, qclass, do_bit, cd);
	if (x != NULL) {
		if (add_waiter(x, cb, arg) == -1)
			return -1;
		f->stats.shared++;
		return 0;
	}
	if (f->inflight >= MAX_INFLIGHT || f->nservers == 0)
		return -1;
	x = new_exchange(f, h, qname, qname_len, qtype, qclass, do_bit, cd);
	if (x == NULL)
		return -1;
	if (add_waiter(x, cb, arg) == -1) {
		x->nwaiters = 0;
		finish(x, NULL, 0, FORWARD_SHUTDOWN);
		return -1;
	}
	f->stats.sent++;
	try_next(x, false);
	return 0;
}

void
forward_free(struct forwarder *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < TABLE_SIZE; i++)
		while (f->table[i] != NULL)
			finish(f->table[i], NULL, 0, FORWARD_SHUTDOWN);
	free(f->table);
	free(f->servers);
	free(f->ustats);
	free(f);
}

size_t
forward_inflight(const struct forwarder *f)
{
	return f->inflight;
}

void
forward_get_stats(const struct forwarder *f, struct forward_stats *st)
{
	*st = f->stats;
}

bool
forward_get_upstream_stats(const struct forwarder *f, size_t i,
    struct upstream_stats *st)
{
	uint64_t now = now_ms();

	if (i >= f->nservers)
		return false;
	*st = f->ustats[i];
	st->held = held(&f->servers[i].udp, now) ||
	    held(&f->servers[i].tcp, now);
	return true;
}
