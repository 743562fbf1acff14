/*
 * forward: one struct exchange per distinct question in flight.  An
 * exchange owns its transport (a UDP socket or a TCP connection), a
 * per-try timer and a deadline, and the list of waiters it answers when
 * it ends.  Each server has a hold for UDP and one for TCP: while held,
 * it is not asked.  Time, timers and transports come through the
 * forwarder's struct forward_io; nothing here touches a socket.
 */
#include <stdlib.h>
#include <string.h>

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
	struct forward_conn *conn;	/* UDP or TCP, NULL when none */
	bool is_tcp;			/* conn is TCP */
	struct forward_timer *t_try;
	struct forward_timer *t_deadline;
	uint8_t query[DNS_HEADER_LEN + DNAME_MAXWIRE + 4 + 11];
	size_t query_len;
	struct waiter *waiters;
	size_t nwaiters;
};

struct forwarder {
	struct forward_io io;
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
forward_new(const struct forward_io *io, const struct netaddr *servers,
    size_t nservers, uint32_t timeout_ms)
{
	struct forwarder *f = calloc(1, sizeof(*f));
	size_t i;

	if (f == NULL)
		return NULL;
	f->io = *io;
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

static uint64_t
now_us(const struct forwarder *f)
{
	return f->io.clock.mono_us(f->io.clock.ctx);
}

static uint64_t
now_ms(const struct forwarder *f)
{
	return now_us(f) / 1000;
}

static void
close_transport(struct exchange *x)
{
	if (x->conn != NULL) {
		x->f->io.close(x->conn);
		x->conn = NULL;
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
	x->f->io.timer_free(x->t_try);
	x->f->io.timer_free(x->t_deadline);
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
	h->until_ms = now_ms(x->f) + ms;
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
	uint64_t us_taken = now_us(x->f) - x->sent_us;
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
	if (x->f->io.tap != NULL)
		x->f->io.tap(x->f->io.tap_ctx, true, is_tcp, &s->addr, msg, len);
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

/* A message on the transport: UDP may be forged, TCP is the answer. */
static void
on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct exchange *x = arg;

	on_reply(x, msg, len, x->is_tcp);
}

static void
on_fail(void *arg, enum forward_error why)
{
	struct exchange *x = arg;
	struct server *s = &x->f->servers[x->server];

	/* ICMP port unreachable on a connected socket: this server is
	 * not there; do not wait for the timer.  A refused or reset TCP
	 * connection: do not ask it over TCP for a while. */
	if (why == FORWARD_UNREACHABLE)
		hold_down(x, &s->udp);
	else if (why == FORWARD_TCP_FAILED)
		hold_down(x, &s->tcp);
	refused(x, why);
}

static struct forward_conn *
open_transport(struct exchange *x, bool tcp)
{
	x->is_tcp = tcp;
	x->conn = x->f->io.open(x->f->io.ctx, tcp,
	    &x->f->servers[x->server].addr, x->query, x->query_len, on_msg,
	    on_fail, x);
	if (x->conn != NULL && x->f->io.tap != NULL)
		x->f->io.tap(x->f->io.tap_ctx, false, tcp,
		    &x->f->servers[x->server].addr, x->query, x->query_len);
	return x->conn;
}

static void
arm_try_timer(struct exchange *x)
{
	(void)x->f->io.timer_arm(x->t_try, x->f->try_ms);
}

/* Moves x to the first server not held down, from the next one on when
 * advance, else from the current one; false when every server is held. */
static bool
pick_server(struct exchange *x, bool advance)
{
	struct forwarder *f = x->f;
	uint64_t now = now_ms(f);
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
	x->sent_us = now_us(x->f);
	x->f->ustats[x->server].sent++;
	(void)open_transport(x, false);	/* failed: the timer moves on */
	arm_try_timer(x);
}

/* No answer in time: maybe this name is slow, not the server; ask the
 * next one (or the same again) without holding anyone down. */
static void
on_try_timeout(void *arg)
{
	struct exchange *x = arg;

	x->f->ustats[x->server].errors++;
	try_next(x, true);
}

static void
on_deadline(void *arg)
{
	struct exchange *x = arg;

	x->f->stats.timeouts++;
	finish(x, NULL, 0, FORWARD_TIMEOUT);
}

/* RFC 7766 5: a truncated UDP answer is asked again over TCP. */
static void
start_tcp(struct exchange *x)
{
	struct server *sv = &x->f->servers[x->server];

	close_transport(x);
	if (held(&sv->tcp, now_ms(x->f))) {
		refused(x, FORWARD_TCP_FAILED);
		return;
	}
	if (!may_send(x))
		return;
	x->tries++;
	x->sent_us = now_us(x->f);
	x->f->ustats[x->server].sent++;
	x->f->stats.tcp++;
	if (open_transport(x, true) == NULL)
		return;			/* the try timer moves on */
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

	if (x == NULL)
		return NULL;
	x->f = f;
	x->hash = h;
	memcpy(x->qname, qname, len);
	x->qname_len = len;
	x->qtype = qtype;
	x->qclass = qclass;
	x->do_bit = do_bit;
	x->cd = cd;
	x->server = f->next_server;
	f->next_server = (f->next_server + 1) % f->nservers;
	x->t_try = f->io.timer_new(f->io.ctx, on_try_timeout, x);
	x->t_deadline = f->io.timer_new(f->io.ctx, on_deadline, x);
	if (x->t_try == NULL || x->t_deadline == NULL ||
	    f->io.timer_arm(x->t_deadline, f->timeout_ms) == -1) {
		if (x->t_try)
			f->io.timer_free(x->t_try);
		if (x->t_deadline)
			f->io.timer_free(x->t_deadline);
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
	uint64_t now = now_ms(f);

	if (i >= f->nservers)
		return false;
	*st = f->ustats[i];
	st->held = held(&f->servers[i].udp, now) ||
	    held(&f->servers[i].tcp, now);
	return true;
}
