/*
 * forward: one struct exchange per distinct question in flight.  An
 * exchange owns its UDP socket or TCP bufferevent, a per-try timer and a
 * deadline, and the list of waiters it answers when it ends.
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

#include "forward.h"
#include "netaddr.h"
#include "wire.h"

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

struct exchange {
	struct forwarder *f;
	struct exchange *next;		/* hash chain */
	uint32_t hash;
	uint8_t qname[DNAME_MAXWIRE];
	size_t qname_len;
	uint16_t qtype, qclass;
	bool do_bit;
	uint16_t id;
	size_t server;			/* index of the server asked now */
	unsigned tries;
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
	struct netaddr *servers;
	size_t nservers;
	uint32_t timeout_ms;
	uint32_t try_ms;
	size_t next_server;		/* round robin start */
	struct exchange **table;	/* 1024 chains */
	size_t inflight;
	struct forward_stats stats;
	struct upstream_stats *ustats;	/* per server */
};

#define TABLE_SIZE 1024

static uint32_t
hash_question(const uint8_t *qname, size_t len, uint16_t qtype, bool do_bit)
{
	uint32_t h = 2166136261U ^ qtype ^ ((uint32_t)do_bit << 16);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= qname[i];
		h *= 16777619U;
	}
	return h;
}

struct forwarder *
forward_new(struct event_base *base, const struct netaddr *servers,
    size_t nservers, uint32_t timeout_ms)
{
	struct forwarder *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->base = base;
	f->servers = calloc(nservers, sizeof(*servers));
	f->table = calloc(TABLE_SIZE, sizeof(*f->table));
	f->ustats = calloc(nservers ? nservers : 1, sizeof(*f->ustats));
	if (f->servers == NULL || f->table == NULL || f->ustats == NULL) {
		free(f->servers);
		free(f->table);
		free(f->ustats);
		free(f);
		return NULL;
	}
	memcpy(f->servers, servers, nservers * sizeof(*servers));
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

/* Ends x: every waiter hears the answer (or NULL), then x is freed.  The
 * exchange is unlinked first, so a waiter that asks again starts anew. */
static void
finish(struct exchange *x, const uint8_t *msg, size_t len)
{
	size_t i;

	unlink_exchange(x);
	event_free(x->ev_try);
	event_free(x->ev_deadline);
	/* Waiters first: msg may live in the transport's buffers. */
	for (i = 0; i < x->nwaiters; i++)
		x->waiters[i].cb(x->waiters[i].arg, msg, len);
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
	p[3] = 0;
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

static void try_next(struct exchange *x);
static void start_tcp(struct exchange *x);

/* A reply that says the server cannot help: ask another if any is left. */
static bool
worth_retrying(const struct exchange *x, const uint8_t *msg)
{
	unsigned rcode = msg[3] & 0x0f;

	return (rcode == RCODE_SERVFAIL || rcode == RCODE_REFUSED) &&
	    x->tries < x->f->nservers;
}

static void
on_reply(struct exchange *x, const uint8_t *msg, size_t len, bool is_tcp)
{
	if (!acceptable(x, msg, len)) {
		x->f->stats.rejected++;
		if (is_tcp)
			try_next(x);
		return;
	}
	if (!is_tcp && (msg[2] & 0x02)) {
		start_tcp(x);
		return;
	}
	if (worth_retrying(x, msg)) {
		x->f->ustats[x->server].errors++;
		try_next(x);
		return;
	}
	count_answer(x);
	finish(x, msg, len);
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
			x->f->ustats[x->server].errors++;
			try_next(x);
		}
		return;
	}
	on_reply(x, buf, (size_t)n, false);
}

static int
send_udp(struct exchange *x)
{
	const struct netaddr *s = &x->f->servers[x->server];

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

/* Asks the next server (round robin) over UDP. */
static void
try_next(struct exchange *x)
{
	close_transport(x);
	if (x->tries > 0) {
		x->server = (x->server + 1) % x->f->nservers;
		x->f->stats.retries++;
	}
	x->tries++;
	build_query(x);			/* a fresh ID for every try */
	x->sent_us = now_us();
	x->f->ustats[x->server].sent++;
	if (send_udp(x) == -1)
		close_transport(x);	/* the timer moves on */
	arm_try_timer(x);
}

static void
on_try_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *x = arg;

	x->f->ustats[x->server].errors++;
	try_next(x);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *x = arg;

	x->f->stats.timeouts++;
	finish(x, NULL, 0);
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
		try_next(x);
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
		x->f->ustats[x->server].errors++;
		try_next(x);
	}
}

/* RFC 7766 5: a truncated UDP answer is asked again over TCP. */
static void
start_tcp(struct exchange *x)
{
	const struct netaddr *s = &x->f->servers[x->server];
	uint8_t lenbuf[2];

	close_transport(x);
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
find_exchange(struct forwarder *f, uint32_t h, const uint8_t *qname,
    size_t len, uint16_t qtype, uint16_t qclass, bool do_bit)
{
	struct exchange *x;

	for (x = f->table[h % TABLE_SIZE]; x != NULL; x = x->next)
		if (x->hash == h && x->qname_len == len &&
		    x->qtype == qtype && x->qclass == qclass &&
		    x->do_bit == do_bit && memcmp(x->qname, qname, len) == 0)
			return x;
	return NULL;
}

static struct exchange *
new_exchange(struct forwarder *f, uint32_t h, const uint8_t *qname,
    size_t len, uint16_t qtype, uint16_t qclass, bool do_bit)
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
	uint32_t h = hash_question(qname, qname_len, qtype, do_bit);
	struct exchange *x;

	(void)cd;	/* we do not validate: CD is the upstream's to honour */
	x = find_exchange(f, h, qname, qname_len, qtype, qclass, do_bit);
	if (x != NULL) {
		if (add_waiter(x, cb, arg) == -1)
			return -1;
		f->stats.shared++;
		return 0;
	}
	if (f->inflight >= MAX_INFLIGHT || f->nservers == 0)
		return -1;
	x = new_exchange(f, h, qname, qname_len, qtype, qclass, do_bit);
	if (x == NULL)
		return -1;
	if (add_waiter(x, cb, arg) == -1) {
		x->nwaiters = 0;
		finish(x, NULL, 0);
		return -1;
	}
	f->stats.sent++;
	try_next(x);
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
			finish(f->table[i], NULL, 0);
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
	if (i >= f->nservers)
		return false;
	*st = f->ustats[i];
	return true;
}
