/*
 * fake_net: see fake_net.h.  Timers and transports are kept until
 * fake_net_free(), so a test may look at one the forwarder closed.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "fake_net.h"
#include "base/dname.h"
#include "base/netaddr.h"
#include "dns/wire.h"

#define FAKE_MAX 256

struct forward_timer {
	struct fake_net *net;
	void (*cb)(void *arg);
	void *arg;
	bool armed, freed;
	uint64_t due_us;
};

struct fake_net {
	uint64_t now_us;
	bool open_fails;
	struct forward_timer *timers[FAKE_MAX];
	size_t ntimers;
	struct fake_conn *conns[FAKE_MAX];
	size_t nconns;
};

/* struct forward_conn is the forwarder's name for a fake_conn. */
static struct fake_conn *
of(struct forward_conn *c)
{
	return (struct fake_conn *)(void *)c;
}

static void *
must(void *p)
{
	if (p == NULL)
		abort();
	return p;
}

struct fake_net *
fake_net_new(void)
{
	struct fake_net *n = must(calloc(1, sizeof(*n)));

	n->now_us = 1000000000;		/* not 0: 0 means "never" */
	return n;
}

void
fake_net_free(struct fake_net *n)
{
	size_t i;

	for (i = 0; i < n->ntimers; i++)
		free(n->timers[i]);
	for (i = 0; i < n->nconns; i++)
		free(n->conns[i]);
	free(n);
}

static uint64_t
fake_mono_us(void *ctx)
{
	return ((struct fake_net *)ctx)->now_us;
}

static uint64_t
fake_coarse_ms(void *ctx)
{
	return ((struct fake_net *)ctx)->now_us / 1000;
}

static uint64_t
fake_wall_ms(void *ctx)
{
	/* 2026-01-01, moving with the monotonic clock */
	return UINT64_C(1767225600000) + ((struct fake_net *)ctx)->now_us /
	    1000;
}

struct clock
fake_net_clock(struct fake_net *n)
{
	struct clock c = { fake_mono_us, fake_coarse_ms, fake_wall_ms, n };

	return c;
}

static struct forward_timer *
fake_timer_new(void *ctx, void (*cb)(void *arg), void *arg)
{
	struct fake_net *n = ctx;
	struct forward_timer *t;

	if (n->ntimers == FAKE_MAX)
		abort();
	t = must(calloc(1, sizeof(*t)));
	t->net = n;
	t->cb = cb;
	t->arg = arg;
	n->timers[n->ntimers++] = t;
	return t;
}

static int
fake_timer_arm(struct forward_timer *t, uint32_t ms)
{
	if (t->freed)
		abort();
	t->armed = true;
	t->due_us = t->net->now_us + (uint64_t)ms * 1000;
	return 0;
}

static void
fake_timer_free(struct forward_timer *t)
{
	if (t->freed)
		abort();		/* freed twice */
	t->freed = true;
	t->armed = false;
}

static struct forward_conn *
fake_open(void *ctx, bool tcp, const struct netaddr *to, const uint8_t *msg,
    size_t len, void (*on_msg)(void *arg, const uint8_t *msg, size_t len),
    void (*on_fail)(void *arg, enum forward_error why), void *arg)
{
	struct fake_net *n = ctx;
	struct fake_conn *c;

	if (n->open_fails)
		return NULL;
	if (n->nconns == FAKE_MAX || len > sizeof(c->msg))
		abort();
	c = must(calloc(1, sizeof(*c)));
	c->net = n;
	c->tcp = tcp;
	c->open = true;
	c->port = ntohs(((const struct sockaddr_in *)(const void *)&to->ss)
	    ->sin_port);
	memcpy(c->msg, msg, len);
	c->len = len;
	c->on_msg = on_msg;
	c->on_fail = on_fail;
	c->arg = arg;
	n->conns[n->nconns++] = c;
	return (struct forward_conn *)(void *)c;
}

static void
fake_close(struct forward_conn *fc)
{
	struct fake_conn *c = of(fc);

	if (!c->open)
		abort();		/* closed twice */
	c->open = false;
}

struct forward_io
fake_net_io(struct fake_net *n)
{
	struct forward_io io = { 0 };

	io.clock = fake_net_clock(n);
	io.ctx = n;
	io.timer_new = fake_timer_new;
	io.timer_arm = fake_timer_arm;
	io.timer_free = fake_timer_free;
	io.open = fake_open;
	io.close = fake_close;
	return io;
}

void
fake_net_advance(struct fake_net *n, uint64_t ms)
{
	uint64_t until = n->now_us + ms * 1000;

	for (;;) {
		struct forward_timer *next = NULL;
		size_t i;

		for (i = 0; i < n->ntimers; i++) {
			struct forward_timer *t = n->timers[i];

			if (t->armed && t->due_us <= until &&
			    (next == NULL || t->due_us < next->due_us))
				next = t;
		}
		if (next == NULL)
			break;
		n->now_us = next->due_us;
		next->armed = false;
		next->cb(next->arg);
	}
	n->now_us = until;
}

uint64_t
fake_net_now_ms(const struct fake_net *n)
{
	return n->now_us / 1000;
}

void
fake_net_set_open_fails(struct fake_net *n, bool fails)
{
	n->open_fails = fails;
}

size_t
fake_net_nconns(const struct fake_net *n)
{
	return n->nconns;
}

struct fake_conn *
fake_net_conn(struct fake_net *n, size_t i)
{
	return i < n->nconns ? n->conns[i] : NULL;
}

struct fake_conn *
fake_net_last(struct fake_net *n)
{
	return n->nconns > 0 ? n->conns[n->nconns - 1] : NULL;
}

size_t
fake_net_nopen(const struct fake_net *n)
{
	size_t i, k = 0;

	for (i = 0; i < n->nconns; i++)
		k += n->conns[i]->open;
	return k;
}

void
fake_net_deliver(struct fake_conn *c, const uint8_t *msg, size_t len)
{
	if (c->open)
		c->on_msg(c->arg, msg, len);
}

void
fake_net_fail(struct fake_conn *c, enum forward_error why)
{
	if (c->open)
		c->on_fail(c->arg, why);
}

/* ---- DNS messages ---- */

size_t
fake_dns_query(uint8_t *buf, const char *name, uint16_t qtype, uint16_t id,
    bool rd, bool edns)
{
	const char *why;
	size_t n = DNS_HEADER_LEN, nl;

	memset(buf, 0, DNS_HEADER_LEN);
	wire_put16(buf, id);
	buf[2] = rd ? 0x01 : 0;
	wire_put16(buf + 4, 1);
	wire_put16(buf + 10, edns ? 1 : 0);
	nl = dname_from_text(name, strlen(name), buf + n, &why);
	if (nl == 0)
		abort();
	n += nl;
	wire_put16(buf + n, qtype);
	wire_put16(buf + n + 2, DNS_CLASS_IN);
	n += 4;
	if (edns) {
		buf[n] = 0;
		wire_put16(buf + n + 1, DNS_TYPE_OPT);
		wire_put16(buf + n + 3, 1232);
		wire_put32(buf + n + 5, 0);
		wire_put16(buf + n + 9, 0);
		n += 11;
	}
	return n;
}

size_t
fake_dns_reply(uint8_t *buf, const uint8_t *q, size_t qlen, unsigned rcode,
    bool tc, const uint8_t *addr, uint32_t ttl)
{
	size_t n = DNS_HEADER_LEN;

	if (wire_skip_name(q, qlen, &n) == -1 || n + 4 > qlen)
		abort();
	n += 4;
	memcpy(buf, q, n);
	buf[2] = (uint8_t)(0x80 | (q[2] & 0x01) | (tc ? 0x02 : 0));
	buf[3] = (uint8_t)(0x80 | rcode);
	wire_put16(buf + 6, addr != NULL ? 1 : 0);
	wire_put16(buf + 8, 0);
	wire_put16(buf + 10, 0);
	if (addr != NULL) {
		wire_put16(buf + n, 0xc00c);
		wire_put16(buf + n + 2, DNS_TYPE_A);
		wire_put16(buf + n + 4, DNS_CLASS_IN);
		wire_put32(buf + n + 6, ttl);
		wire_put16(buf + n + 10, 4);
		memcpy(buf + n + 12, addr, 4);
		n += 16;
	}
	return n;
}

struct find_a {
	const uint8_t *addr;
};

static bool
is_addr(void *arg, const struct answer_item *it)
{
	struct find_a *f = arg;

	return it->type == DNS_TYPE_A && memcmp(it->addr, f->addr, 4) == 0;
}

bool
fake_dns_has_a(const uint8_t *msg, size_t len, const uint8_t *addr)
{
	struct answer_scan s;
	struct find_a f = { addr };

	if (wire_scan_answer(msg, len, &s) == -1)
		return false;
	return wire_answer_each(msg, len, is_addr, &f);
}

int
fake_dns_ede(const uint8_t *msg, size_t len)
{
	struct answer_scan s;
	size_t off, end;

	if (wire_scan_answer(msg, len, &s) == -1 || s.opt_start == 0)
		return -1;
	off = s.opt_start + 11;			/* root, type .. rdlen */
	end = s.opt_end;
	while (off + 4 <= end) {
		uint16_t code = wire_u16(msg + off), olen = wire_u16(msg +
		    off + 2);

		if (code == 15 && olen >= 2 && off + 4 + olen <= end)
			return wire_u16(msg + off + 4);
		off += 4 + (size_t)olen;
	}
	return -1;
}
