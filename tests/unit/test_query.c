/*
 * test_query: a worker's query path end to end (query_handle(), the
 * cache, the real forwarder) on fake_net: no socket, no sleep, the
 * clock moved by the test.  Clients are 198.51.100.N over UDP; the
 * answers they get come back through the query_io hooks, recorded here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "unit.h"
#include "fake_net.h"
#include "base/config.h"
#include "base/diag.h"
#include "dns/reply.h"
#include "dns/wire.h"
#include "policy/loader.h"
#include "policy/policy.h"
#include "serve/query.h"

static char dir[] = "/tmp/test_query.XXXXXX";

/*
 * A TCP connection as serve/server_tcp.c keeps one: a count of queries
 * waiting on the upstream (io.hold, io.done), and a client that stopped
 * sending is closed once none waits.
 */
struct fake_tcp {
	unsigned pending;
	bool eof, closed;
	bool underflow;		/* a done without its hold */
	unsigned pending_at_send;	/* the count when an answer went out */
};

/* An answer sent later, through io.send. */
struct sent {
	struct sockaddr_in to;
	uint8_t msg[1500];
	size_t len;
};

struct world {
	struct fake_net *net;
	struct event_base *base;
	struct config *cfg, *cfg2;
	struct policy_slot *slot;
	struct policy *p2;		/* blocks 192.0.2.99 in answers */
	struct query_env *env;
	struct sent sent[16];
	size_t nsent;
	int holds, dones;
};

static void
io_send(void *ctx, const struct client *c, const uint8_t *msg, size_t len)
{
	struct world *w = ctx;
	struct sent *s;

	if (w->nsent == 16 || len > sizeof(s->msg))
		abort();
	s = &w->sent[w->nsent++];
	memcpy(&s->to, &c->addr, sizeof(s->to));
	memcpy(s->msg, msg, len);
	s->len = len;
	if (c->is_tcp)
		((struct fake_tcp *)c->conn)->pending_at_send =
		    ((struct fake_tcp *)c->conn)->pending;
}

static void
io_hold(void *ctx, const struct client *c)
{
	((struct world *)ctx)->holds++;
	if (c->is_tcp)
		((struct fake_tcp *)c->conn)->pending++;
}

static void
io_done(void *ctx, const struct client *c)
{
	struct fake_tcp *t = c->conn;

	((struct world *)ctx)->dones++;
	if (!c->is_tcp)
		return;
	if (t->pending == 0)
		t->underflow = true;
	t->pending--;
	if (t->eof && t->pending == 0)
		t->closed = true;
}

/* The client of t stops sending (server_tcp's on_tcp_event). */
static void
tcp_eof(struct fake_tcp *t)
{
	if (t->pending > 0)
		t->eof = true;
	else
		t->closed = true;
}

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0)
		abort();
}

static void
load(const char *conf, struct config **cfg, struct policy **p)
{
	struct diag *d = diag_new();
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, conf);
	if (d == NULL || loader_load(path, d, cfg, p) == -1) {
		fprintf(stderr, "%s\n", d && diag_count(d) ? diag_get(d, 0) :
		    "cannot load");
		abort();
	}
	diag_free(d);
}

static void
world_new(struct world *w)
{
	static const char conf[] =
	    "[server]\nlisten = 127.0.0.1:53\nallow = 0.0.0.0/0\n"
	    "[upstream]\nservers = 192.0.2.1:5301, 192.0.2.1:5302\n"
	    "timeout = 1500ms\ncache_size = 100\n"
	    "[policy]\nlists = %s/sources.ini\ncheck_answer_ips = %s\n"
	    "[log]\nclient_rate = 0\n";
	struct query_io io = { io_send, io_hold, io_done, NULL, w };
	struct query_world qw = { 0 };
	struct policy *p;
	char text[512];

	memset(w, 0, sizeof(*w));
	write_file("sources.ini", "[source ads]\nfile = ads.domains\n"
	    "format = domains\n\n[source nets]\nfile = nets.cidr\n"
	    "format = cidr\n");
	write_file("ads.domains", "blocked.test\n");
	write_file("nets.cidr", "192.0.2.99/32\n");
	snprintf(text, sizeof(text), conf, dir, "no");
	write_file("one.conf", text);
	snprintf(text, sizeof(text), conf, dir, "yes");
	write_file("two.conf", text);
	load("one.conf", &w->cfg, &p);
	load("two.conf", &w->cfg2, &w->p2);
	w->net = fake_net_new();
	w->base = event_base_new();
	w->slot = policy_slot_new(p);
	if (w->base == NULL || w->slot == NULL)
		abort();
	qw.clock = fake_net_clock(w->net);
	qw.net = fake_net_io(w->net);
	w->env = query_env_new(w->cfg, w->slot, w->base, NULL, NULL, &io,
	    &qw);
	if (w->env == NULL)
		abort();
}

static void
world_free(struct world *w)
{
	query_env_free(w->env);
	CHECK(fake_net_nopen(w->net) == 0, "a transport left open");
	CHECK(w->holds == w->dones, "holds %d, dones %d", w->holds,
	    w->dones);
	fake_net_free(w->net);
	policy_slot_free(w->slot);
	policy_unref(w->p2);
	config_free(w->cfg);
	config_free(w->cfg2);
	event_base_free(w->base);
}

static struct client
client(unsigned n)
{
	struct client c;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&c.addr;

	memset(&c, 0, sizeof(c));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	sin->sin_addr.s_addr = htonl(0xc6336400 + n);	/* 198.51.100.n */
	c.addrlen = sizeof(*sin);
	c.fd = -1;
	return c;
}

/* c asks name/A with id; returns what query_handle() answered now. */
static size_t
ask(struct world *w, unsigned cn, const char *name, uint16_t id,
    uint8_t *out, size_t cap)
{
	struct client c = client(cn);
	uint8_t q[512];
	size_t n = fake_dns_query(q, name, DNS_TYPE_A, id, true, true);

	return query_handle(w->env, &c, q, n, out, cap);
}

/* The upstream answers the last query sent: rcode, 192.0.2.N, ttl. */
static void
upstream(struct world *w, unsigned rcode, bool tc, uint8_t last, uint32_t ttl)
{
	struct fake_conn *c = fake_net_last(w->net);
	const uint8_t a[4] = { 192, 0, 2, last };
	uint8_t buf[512];
	size_t n;

	n = fake_dns_reply(buf, c->msg, c->len, rcode, tc,
	    rcode == RCODE_NOERROR && !tc ? a : NULL, ttl);
	fake_net_deliver(c, buf, n);
}

static struct query_stats
stats(struct world *w)
{
	struct query_stats st;

	query_env_stats(w->env, &st);
	return st;
}

static unsigned
rcode(const uint8_t *m)
{
	return m[3] & 0x0f;
}

static const uint8_t A7[4] = { 192, 0, 2, 7 };
static const uint8_t A99[4] = { 192, 0, 2, 99 };

/* A miss goes upstream and is answered later; the same question is
 * then answered from the cache at once, until its TTL runs out. */
static void
test_miss_then_hit(void)
{
	struct world w;
	uint8_t out[1500];
	size_t n;

	world_new(&w);
	n = ask(&w, 1, "example.com", 0x1234, out, sizeof(out));
	CHECK(n == 0, "a miss is answered later");
	CHECK(fake_net_nconns(w.net) == 1 && !fake_net_last(w.net)->tcp,
	    "one upstream query");
	CHECK(stats(&w).cache_misses == 1 && w.holds == 1, "counted, held");
	upstream(&w, RCODE_NOERROR, false, 7, 300);
	CHECK(w.nsent == 1 && w.dones == 1, "answered through io.send");
	CHECK(wire_u16(w.sent[0].msg) == 0x1234 && (w.sent[0].msg[2] & 0x80)
	    && rcode(w.sent[0].msg) == RCODE_NOERROR, "the client's ID, QR");
	CHECK(fake_dns_has_a(w.sent[0].msg, w.sent[0].len, A7), "the A");
	CHECK(w.sent[0].to.sin_addr.s_addr == htonl(0xc6336401),
	    "to the client");
	CHECK(query_env_cache_entries(w.env) == 1, "cached");

	fake_net_advance(w.net, 10000);
	n = ask(&w, 2, "example.com", 0x4321, out, sizeof(out));
	CHECK(n > DNS_HEADER_LEN && wire_u16(out) == 0x4321 &&
	    fake_dns_has_a(out, n, A7), "a hit is answered now");
	CHECK(fake_net_nconns(w.net) == 1, "without asking upstream");
	CHECK(stats(&w).cache_hits == 1, "counted");
	CHECK(stats(&w).rcodes[RCODE_NOERROR] == 2, "two NOERROR");

	fake_net_advance(w.net, 300 * 1000);
	n = ask(&w, 2, "example.com", 0x4322, out, sizeof(out));
	CHECK(n == 0 && fake_net_nconns(w.net) == 2, "expired: asked again");
	upstream(&w, RCODE_NOERROR, false, 7, 300);

	query_env_flush(w.env, NULL);
	CHECK(query_env_cache_entries(w.env) == 0, "flushed");
	world_free(&w);
}

/* Two clients ask the same at once: one upstream query, two answers,
 * each with its own ID to its own address. */
static void
test_shared(void)
{
	struct world w;
	uint8_t out[1500];
	struct forward_stats fs;

	world_new(&w);
	CHECK(ask(&w, 1, "example.com", 0x1111, out, sizeof(out)) == 0 &&
	    ask(&w, 2, "example.com", 0x2222, out, sizeof(out)) == 0,
	    "both forwarded");
	CHECK(fake_net_nconns(w.net) == 1, "one upstream query, got %zu",
	    fake_net_nconns(w.net));
	query_env_forward_stats(w.env, &fs);
	CHECK(fs.sent == 1 && fs.shared == 1, "shared");
	CHECK(query_env_inflight(w.env) == 1, "one in flight");
	upstream(&w, RCODE_NOERROR, false, 7, 300);
	CHECK(w.nsent == 2, "two answers, got %zu", w.nsent);
	CHECK(wire_u16(w.sent[0].msg) == 0x1111 &&
	    w.sent[0].to.sin_addr.s_addr == htonl(0xc6336401) &&
	    wire_u16(w.sent[1].msg) == 0x2222 &&
	    w.sent[1].to.sin_addr.s_addr == htonl(0xc6336402),
	    "each its own");
	CHECK(fake_dns_has_a(w.sent[0].msg, w.sent[0].len, A7) &&
	    fake_dns_has_a(w.sent[1].msg, w.sent[1].len, A7), "the answer");
	world_free(&w);
}

/* Nobody answers: SERVFAIL with EDE 22 at the timeout, not before. */
static void
test_timeout(void)
{
	struct world w;
	uint8_t out[1500];

	world_new(&w);
	ask(&w, 1, "slow.example", 0x5555, out, sizeof(out));
	fake_net_advance(w.net, 1499);
	CHECK(w.nsent == 0, "no answer before the timeout");
	CHECK(fake_net_nconns(w.net) == 3, "three tries, got %zu",
	    fake_net_nconns(w.net));
	fake_net_advance(w.net, 1);
	CHECK(w.nsent == 1 && rcode(w.sent[0].msg) == RCODE_SERVFAIL,
	    "SERVFAIL at the timeout");
	CHECK(fake_dns_ede(w.sent[0].msg, w.sent[0].len) == EDE_NO_REACHABLE,
	    "EDE %d", fake_dns_ede(w.sent[0].msg, w.sent[0].len));
	CHECK(stats(&w).upstream_failures == 1, "counted");
	CHECK(query_env_cache_entries(w.env) == 0, "nothing cached");
	world_free(&w);
}

/* A truncated UDP answer is asked again over TCP; the client gets the
 * TCP answer. */
static void
test_tc_then_tcp(void)
{
	struct world w;
	uint8_t out[1500];

	world_new(&w);
	ask(&w, 1, "big.example", 0x6666, out, sizeof(out));
	upstream(&w, RCODE_NOERROR, true, 0, 0);
	CHECK(w.nsent == 0, "TC not passed on");
	CHECK(fake_net_nconns(w.net) == 2 && fake_net_last(w.net)->tcp,
	    "over TCP");
	upstream(&w, RCODE_NOERROR, false, 7, 300);
	CHECK(w.nsent == 1 && !(w.sent[0].msg[2] & 0x02) &&
	    fake_dns_has_a(w.sent[0].msg, w.sent[0].len, A7),
	    "the TCP answer, without TC");
	world_free(&w);
}

/* Both servers unreachable: SERVFAIL with EDE 23 after one try each;
 * then both are held down: SERVFAIL at once, nothing sent. */
static void
test_refusing(void)
{
	struct world w;
	uint8_t out[1500];

	world_new(&w);
	ask(&w, 1, "example.com", 0x7777, out, sizeof(out));
	fake_net_fail(fake_net_last(w.net), FORWARD_UNREACHABLE);
	fake_net_fail(fake_net_last(w.net), FORWARD_UNREACHABLE);
	CHECK(fake_net_nconns(w.net) == 2, "each server once");
	CHECK(w.nsent == 1 && rcode(w.sent[0].msg) == RCODE_SERVFAIL &&
	    fake_dns_ede(w.sent[0].msg, w.sent[0].len) == EDE_NETWORK_ERROR,
	    "SERVFAIL, EDE %d", fake_dns_ede(w.sent[0].msg, w.sent[0].len));
	ask(&w, 2, "other.example", 0x7778, out, sizeof(out));
	CHECK(fake_net_nconns(w.net) == 2, "held down: nothing sent");
	CHECK(w.nsent == 2 && rcode(w.sent[1].msg) == RCODE_SERVFAIL &&
	    fake_dns_ede(w.sent[1].msg, w.sent[1].len) == EDE_NO_REACHABLE,
	    "SERVFAIL at once, EDE %d",
	    fake_dns_ede(w.sent[1].msg, w.sent[1].len));
	CHECK(stats(&w).upstream_failures == 2, "counted");
	fake_net_advance(w.net, FORWARD_HOLD_MIN_MS);
	ask(&w, 2, "other.example", 0x7779, out, sizeof(out));
	CHECK(fake_net_nconns(w.net) == 3, "after the hold: asked");
	upstream(&w, RCODE_NOERROR, false, 7, 300);
	CHECK(w.nsent == 3 && rcode(w.sent[2].msg) == RCODE_NOERROR,
	    "and answered");
	world_free(&w);
}

/*
 * Every server held down: forward_query() ends the query before it
 * returns.  A TCP client still gets its SERVFAIL with the connection
 * held for it (never a done before its hold, which would wrap the
 * connection's count), and the connection closes after EOF.
 */
static void
test_held_down_tcp(void)
{
	struct world w;
	struct fake_tcp t = { 0 };
	struct client c = client(3);
	uint8_t out[1500], q[512];
	size_t n;

	world_new(&w);
	ask(&w, 1, "example.com", 0x7777, out, sizeof(out));
	fake_net_fail(fake_net_last(w.net), FORWARD_UNREACHABLE);
	fake_net_fail(fake_net_last(w.net), FORWARD_UNREACHABLE);
	CHECK(w.nsent == 1, "both servers held down");
	c.is_tcp = true;
	c.conn = &t;
	n = fake_dns_query(q, "other.example", DNS_TYPE_A, 0x7778, true,
	    true);
	n = query_handle(w.env, &c, q, n, out, sizeof(out));
	CHECK(n == 0 && w.nsent == 2 && rcode(w.sent[1].msg) ==
	    RCODE_SERVFAIL && wire_u16(w.sent[1].msg) == 0x7778,
	    "SERVFAIL at once, through io.send");
	CHECK(fake_net_nconns(w.net) == 2, "nothing sent upstream");
	CHECK(!t.underflow, "io.done before io.hold: the count wrapped");
	CHECK(t.pending_at_send == 1, "the connection held while answered, "
	    "count %u", t.pending_at_send);
	CHECK(t.pending == 0 && w.holds == w.dones, "pending %u, holds %d, "
	    "dones %d", t.pending, w.holds, w.dones);
	tcp_eof(&t);
	CHECK(t.closed, "closed after EOF");
	world_free(&w);
}

/* A listed name is answered now, blocked, with EDE 15; nobody asked. */
static void
test_blocked(void)
{
	struct world w;
	uint8_t out[1500];
	size_t n;

	world_new(&w);
	n = ask(&w, 1, "www.blocked.test", 0x8888, out, sizeof(out));
	CHECK(n > 0 && rcode(out) == RCODE_NXDOMAIN &&
	    fake_dns_ede(out, n) == EDE_BLOCKED, "blocked now");
	CHECK(fake_net_nconns(w.net) == 0, "not forwarded");
	CHECK(stats(&w).blocked == 1, "counted");
	world_free(&w);
}

/* A reload while a query waits on the upstream: its answer is judged
 * by the policy in force when it comes back, and so is the cache. */
static void
test_policy_swap(void)
{
	struct world w;
	uint8_t out[1500];
	const struct list_counter *l;
	size_t n, nl, i;
	uint64_t nets = 0;

	world_new(&w);
	ask(&w, 1, "example.com", 0x9999, out, sizeof(out));
	policy_slot_set(w.slot, w.p2);	/* check_answer_ips = yes */
	w.p2 = NULL;
	query_env_refresh(w.env);
	upstream(&w, RCODE_NOERROR, false, 99, 300);
	CHECK(w.nsent == 1 && rcode(w.sent[0].msg) == RCODE_NXDOMAIN &&
	    fake_dns_ede(w.sent[0].msg, w.sent[0].len) == EDE_BLOCKED &&
	    !fake_dns_has_a(w.sent[0].msg, w.sent[0].len, A99),
	    "the new policy blocks the answer's address");
	CHECK(stats(&w).blocked == 1, "counted");
	l = query_env_lists(w.env, &nl);
	for (i = 0; i < nl; i++)
		if (strcmp(l[i].name, "nets") == 0)
			nets = l[i].blocked[TRIGGER_IP];
	CHECK(nets == 1, "under list nets, by IP");
	n = ask(&w, 2, "example.com", 0x999a, out, sizeof(out));
	CHECK(n > 0 && rcode(out) == RCODE_NXDOMAIN, "cached, still blocked");
	CHECK(fake_net_nconns(w.net) == 1, "from the cache");
	world_free(&w);
}

static void
cleanup(void)
{
	static const char *const names[] = { "sources.ini", "ads.domains",
		"nets.cidr", "one.conf", "two.conf" };

	unit_rm_dir(dir, names, sizeof(names) / sizeof(names[0]));
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_miss_then_hit();
	test_shared();
	test_timeout();
	test_tc_then_tcp();
	test_refusing();
	test_held_down_tcp();
	test_blocked();
	test_policy_swap();
	cleanup();
	return unit_exit();
}
