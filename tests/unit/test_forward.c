/*
 * test_forward: the forwarder over fake_net (no socket, no sleep): what
 * it sends, to whom and when, and what its waiters hear.  Upstream
 * servers are 192.0.2.1 on ports 5301, 5302, ...; the fake tells them
 * apart by port.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "fake_net.h"
#include "base/dname.h"
#include "base/netaddr.h"
#include "dns/wire.h"
#include "serve/forward.h"

#define TIMEOUT_MS	1500	/* three tries of 500 ms */
#define TRY_MS		500

/* What one forward_query() waiter heard. */
struct heard {
	int calls;
	enum forward_error why;
	uint8_t msg[512];
	size_t len;
};

static void
on_done(void *arg, const uint8_t *msg, size_t len, enum forward_error why)
{
	struct heard *h = arg;

	h->calls++;
	h->why = why;
	h->len = msg != NULL && len <= sizeof(h->msg) ? len : 0;
	if (h->len > 0)
		memcpy(h->msg, msg, len);
}

struct world {
	struct fake_net *net;
	struct forwarder *f;
	uint8_t qname[DNAME_MAXWIRE];
	size_t qname_len;
};

static void
world_new(struct world *w, size_t nservers, const char *name)
{
	struct netaddr servers[8];
	struct forward_io io;
	const char *why;
	char text[32];
	size_t i;

	for (i = 0; i < nservers; i++) {
		snprintf(text, sizeof(text), "192.0.2.1:%zu", 5301 + i);
		if (netaddr_parse(text, 53, &servers[i], &why) == -1)
			abort();
	}
	w->net = fake_net_new();
	io = fake_net_io(w->net);
	w->f = forward_new(&io, servers, nservers, TIMEOUT_MS);
	if (w->f == NULL)
		abort();
	w->qname_len = dname_from_text(name, strlen(name), w->qname, &why);
}

static void
world_free(struct world *w)
{
	forward_free(w->f);
	CHECK(fake_net_nopen(w->net) == 0, "a transport left open");
	fake_net_free(w->net);
}

static int
ask(struct world *w, struct heard *h)
{
	return forward_query(w->f, w->qname, w->qname_len, DNS_TYPE_A,
	    DNS_CLASS_IN, false, false, on_done, h);
}

/* The upstream answers conn c's query with rcode (and 192.0.2.99). */
static void
answer(struct fake_conn *c, unsigned rcode, bool tc)
{
	static const uint8_t a[4] = { 192, 0, 2, 99 };
	uint8_t buf[512];
	size_t n = fake_dns_reply(buf, c->msg, c->len, rcode, tc,
	    rcode == RCODE_NOERROR && !tc ? a : NULL, 300);

	fake_net_deliver(c, buf, n);
}

static struct forward_stats
stats(struct world *w)
{
	struct forward_stats st;

	forward_get_stats(w->f, &st);
	return st;
}

static void
test_answered(void)
{
	static const uint8_t a[4] = { 192, 0, 2, 99 };
	struct world w;
	struct heard h = { 0 };
	struct upstream_stats us;
	struct fake_conn *c;

	world_new(&w, 2, "example.com");
	CHECK(ask(&w, &h) == 0, "forward_query");
	CHECK(fake_net_nconns(w.net) == 1, "one packet, got %zu",
	    fake_net_nconns(w.net));
	c = fake_net_last(w.net);
	CHECK(!c->tcp && c->port == 5301, "UDP to the first server");
	CHECK(c->len > DNS_HEADER_LEN && (c->msg[2] & 0x01) &&
	    wire_question_matches(c->msg, c->len, w.qname, w.qname_len,
	    DNS_TYPE_A, DNS_CLASS_IN), "an RD query for the question");
	CHECK(forward_inflight(w.f) == 1, "in flight");
	fake_net_advance(w.net, 7);
	answer(c, RCODE_NOERROR, false);
	CHECK(h.calls == 1 && h.why == FORWARD_OK, "answered: %d %d",
	    h.calls, h.why);
	CHECK(fake_dns_has_a(h.msg, h.len, a), "the upstream's answer");
	CHECK(!c->open && forward_inflight(w.f) == 0, "over");
	CHECK(forward_get_upstream_stats(w.f, 0, &us) && us.sent == 1 &&
	    us.answers == 1 && us.latency_sum_us == 7000 &&
	    us.latency[3] == 1, "server 0: sent %llu answers %llu sum %llu",
	    (unsigned long long)us.sent, (unsigned long long)us.answers,
	    (unsigned long long)us.latency_sum_us);
	CHECK(!forward_get_upstream_stats(w.f, 2, &us), "two servers");
	fake_net_advance(w.net, 10000);
	CHECK(h.calls == 1, "called once");
	world_free(&w);
}

/* A reply with the wrong ID may be forged: ignored, the query waits. */
static void
test_forged(void)
{
	struct world w;
	struct heard h = { 0 };
	struct fake_conn *c;
	uint8_t buf[512];
	size_t n;

	world_new(&w, 1, "example.com");
	ask(&w, &h);
	c = fake_net_last(w.net);
	n = fake_dns_reply(buf, c->msg, c->len, RCODE_NOERROR, false, NULL,
	    0);
	wire_put16(buf, (uint16_t)(wire_u16(buf) + 1));
	fake_net_deliver(c, buf, n);
	CHECK(h.calls == 0 && c->open, "a forged reply is ignored");
	CHECK(stats(&w).rejected == 1, "and counted");
	answer(c, RCODE_NOERROR, false);
	CHECK(h.calls == 1 && h.why == FORWARD_OK, "then the real one");
	world_free(&w);
}

/* Two clients, one question: one upstream query, both answered. */
static void
test_shared(void)
{
	struct world w;
	struct heard h1 = { 0 }, h2 = { 0 }, h3 = { 0 };

	world_new(&w, 2, "example.com");
	CHECK(ask(&w, &h1) == 0 && ask(&w, &h2) == 0, "forward_query");
	CHECK(fake_net_nconns(w.net) == 1, "one upstream query, got %zu",
	    fake_net_nconns(w.net));
	CHECK(stats(&w).sent == 1 && stats(&w).shared == 1, "shared");
	/* another type is another question */
	CHECK(forward_query(w.f, w.qname, w.qname_len, DNS_TYPE_AAAA,
	    DNS_CLASS_IN, false, false, on_done, &h3) == 0, "AAAA");
	CHECK(fake_net_nconns(w.net) == 2, "AAAA asked apart");
	answer(fake_net_conn(w.net, 0), RCODE_NOERROR, false);
	CHECK(h1.calls == 1 && h2.calls == 1 && h1.why == FORWARD_OK &&
	    h2.why == FORWARD_OK && h1.len == h2.len && h1.len > 0,
	    "both waiters hear the answer");
	CHECK(h3.calls == 0, "the AAAA still waits");
	world_free(&w);
	CHECK(h3.calls == 1 && h3.why == FORWARD_SHUTDOWN,
	    "forward_free ends it: %d", h3.why);
}

/* Nobody answers: a try every TRY_MS, round robin, no hold-down; the
 * waiter hears FORWARD_TIMEOUT at the deadline, not before. */
static void
test_timeout(void)
{
	struct world w;
	struct heard h = { 0 }, h2 = { 0 };
	struct upstream_stats us;

	world_new(&w, 2, "slow.example");
	ask(&w, &h);
	fake_net_advance(w.net, TRY_MS - 1);
	CHECK(fake_net_nconns(w.net) == 1, "one try before the timer");
	fake_net_advance(w.net, 1);
	CHECK(fake_net_nconns(w.net) == 2, "a second try at %d ms", TRY_MS);
	CHECK(!fake_net_conn(w.net, 0)->open, "the first socket closed");
	CHECK(fake_net_conn(w.net, 1)->port == 5302, "to the next server");
	fake_net_advance(w.net, TIMEOUT_MS - TRY_MS - 1);
	CHECK(h.calls == 0, "no answer before the deadline");
	CHECK(fake_net_nconns(w.net) == 3 &&
	    fake_net_conn(w.net, 2)->port == 5301, "third try, round robin");
	fake_net_advance(w.net, 1);
	CHECK(h.calls == 1 && h.why == FORWARD_TIMEOUT, "timeout: %d %d",
	    h.calls, h.why);
	CHECK(stats(&w).timeouts == 1 && stats(&w).retries >= 2,
	    "counted: %llu retries",
	    (unsigned long long)stats(&w).retries);
	CHECK(forward_get_upstream_stats(w.f, 0, &us) && us.errors >= 1 &&
	    us.held == 0, "a timeout holds nobody down");
	/* the next question goes out at once */
	w.qname_len = dname_from_text("next.example", 12, w.qname,
	    &(const char *){ NULL });
	ask(&w, &h2);
	CHECK(fake_net_last(w.net)->open && fake_net_nopen(w.net) == 1,
	    "asked at once");
	world_free(&w);
}

/* TC over UDP: the same question again over TCP, to the same server. */
static void
test_tc_then_tcp(void)
{
	static const uint8_t a[4] = { 192, 0, 2, 99 };
	struct world w;
	struct heard h = { 0 };
	struct fake_conn *u, *t;

	world_new(&w, 2, "big.example");
	ask(&w, &h);
	u = fake_net_last(w.net);
	answer(u, RCODE_NOERROR, true);
	CHECK(h.calls == 0, "a truncated answer is not passed on");
	CHECK(fake_net_nconns(w.net) == 2, "one more transport");
	t = fake_net_last(w.net);
	CHECK(t->tcp && t->port == u->port, "TCP to the same server");
	CHECK(t->len == u->len && memcmp(t->msg, u->msg, u->len) == 0,
	    "the same query");
	CHECK(!u->open, "the UDP socket closed");
	CHECK(stats(&w).tcp == 1, "counted");
	answer(t, RCODE_NOERROR, false);
	CHECK(h.calls == 1 && h.why == FORWARD_OK &&
	    fake_dns_has_a(h.msg, h.len, a), "the TCP answer");
	world_free(&w);
}

/* ICMP unreachable: hold the server down and move on at once; each
 * refusing server is asked once; all held: fail without a packet until
 * the hold ends, then probe. */
static void
test_unreachable(void)
{
	struct world w;
	struct heard h = { 0 }, h2 = { 0 }, h3 = { 0 };
	struct upstream_stats us;

	world_new(&w, 2, "example.com");
	ask(&w, &h);
	fake_net_fail(fake_net_last(w.net), FORWARD_UNREACHABLE);
	CHECK(fake_net_nconns(w.net) == 2 &&
	    fake_net_last(w.net)->port == 5302, "next server at once");
	CHECK(forward_get_upstream_stats(w.f, 0, &us) && us.held == 1 &&
	    us.holds == 1, "server 0 held down");
	fake_net_fail(fake_net_last(w.net), FORWARD_UNREACHABLE);
	CHECK(h.calls == 1 && h.why == FORWARD_UNREACHABLE,
	    "both unreachable: %d %d", h.calls, h.why);
	CHECK(fake_net_nconns(w.net) == 2, "each asked once");
	CHECK(stats(&w).refused == 1, "counted");
	ask(&w, &h2);
	CHECK(h2.calls == 1 && h2.why == FORWARD_HELD_DOWN,
	    "all held: fails at once: %d %d", h2.calls, h2.why);
	CHECK(fake_net_nconns(w.net) == 2 && stats(&w).held_fast == 1,
	    "without a packet");
	fake_net_advance(w.net, FORWARD_HOLD_MIN_MS);
	ask(&w, &h3);
	CHECK(fake_net_nconns(w.net) == 3, "after the hold: a probe");
	answer(fake_net_last(w.net), RCODE_NOERROR, false);
	CHECK(h3.calls == 1 && h3.why == FORWARD_OK, "probe answered");
	world_free(&w);
}

/* Eight servers that all answer REFUSED: at most FORWARD_MAX_TRIES
 * packets, then FORWARD_REFUSED. */
static void
test_refused_bounded(void)
{
	struct world w;
	struct heard h = { 0 };
	size_t i;

	world_new(&w, 8, "example.com");
	ask(&w, &h);
	for (i = 0; i < 8 && h.calls == 0; i++)
		answer(fake_net_last(w.net), RCODE_REFUSED, false);
	CHECK(fake_net_nconns(w.net) == FORWARD_MAX_TRIES,
	    "%zu packets, want %d", fake_net_nconns(w.net),
	    FORWARD_MAX_TRIES);
	CHECK(h.calls == 1 && h.why == FORWARD_REFUSED, "refused: %d %d",
	    h.calls, h.why);
	for (i = 1; i < fake_net_nconns(w.net); i++)
		CHECK(fake_net_conn(w.net, i)->port !=
		    fake_net_conn(w.net, i - 1)->port, "a new server each");
	world_free(&w);
}

/* SERVFAIL moves on; from the last server it is passed on (it may say
 * why), REFUSED never is. */
static void
test_servfail(void)
{
	struct world w;
	struct heard h = { 0 };

	world_new(&w, 2, "example.com");
	ask(&w, &h);
	answer(fake_net_last(w.net), RCODE_SERVFAIL, false);
	CHECK(h.calls == 0 && fake_net_nconns(w.net) == 2, "next server");
	answer(fake_net_last(w.net), RCODE_SERVFAIL, false);
	CHECK(h.calls == 1 && h.why == FORWARD_OK && h.len > 3 &&
	    (h.msg[3] & 0x0f) == RCODE_SERVFAIL, "the last SERVFAIL passed");
	world_free(&w);
}

/* TCP refused after TC: that server's TCP is held down, the next is
 * asked; while held, a TC from it moves on without a TCP attempt. */
static void
test_tcp_refused(void)
{
	struct world w;
	struct heard h = { 0 }, h2 = { 0 };

	world_new(&w, 2, "big.example");
	ask(&w, &h);
	answer(fake_net_last(w.net), RCODE_NOERROR, true);
	CHECK(fake_net_last(w.net)->tcp, "TCP");
	fake_net_fail(fake_net_last(w.net), FORWARD_TCP_FAILED);
	CHECK(fake_net_nconns(w.net) == 3 && !fake_net_last(w.net)->tcp &&
	    fake_net_last(w.net)->port == 5302, "UDP to the next server");
	answer(fake_net_last(w.net), RCODE_NOERROR, false);
	CHECK(h.calls == 1 && h.why == FORWARD_OK, "answered by it");
	/* a new question starts at server 1, then server 0 by round
	 * robin; server 0's TC must not open TCP while it is held */
	w.qname_len = dname_from_text("big2.example", 12, w.qname,
	    &(const char *){ NULL });
	ask(&w, &h2);
	CHECK(fake_net_last(w.net)->port == 5302, "round robin");
	answer(fake_net_last(w.net), RCODE_REFUSED, false);
	CHECK(fake_net_last(w.net)->port == 5301, "then server 0");
	answer(fake_net_last(w.net), RCODE_NOERROR, true);
	CHECK(h2.calls == 1 && h2.why == FORWARD_TCP_FAILED,
	    "TCP held: no attempt, fails: %d %d", h2.calls, h2.why);
	CHECK(!fake_net_last(w.net)->tcp, "no TCP connection opened");
	world_free(&w);
}

/* A socket that cannot be opened: the try timer moves the query on. */
static void
test_open_fails(void)
{
	struct world w;
	struct heard h = { 0 };

	world_new(&w, 1, "example.com");
	fake_net_set_open_fails(w.net, true);
	CHECK(ask(&w, &h) == 0, "started");
	CHECK(fake_net_nconns(w.net) == 0, "nothing sent");
	fake_net_set_open_fails(w.net, false);
	fake_net_advance(w.net, TRY_MS);
	CHECK(fake_net_nconns(w.net) == 1, "the timer tries again");
	answer(fake_net_last(w.net), RCODE_NOERROR, false);
	CHECK(h.calls == 1 && h.why == FORWARD_OK, "answered");
	world_free(&w);
}

int
main(void)
{
	test_answered();
	test_forged();
	test_shared();
	test_timeout();
	test_tc_then_tcp();
	test_unreachable();
	test_refused_bounded();
	test_servfail();
	test_tcp_refused();
	test_open_fails();
	return unit_exit();
}
