/*
 * fake_net: the forwarder's world (forward.h's struct forward_io) for
 * unit tests, in the way of Unbound's testcode/fake_event.c: a clock
 * that moves only when the test advances it, timers that run when it
 * passes their time, and transports that record what was sent and
 * deliver what the test says the upstream answered.  No socket, no
 * sleep.  Also a few DNS messages to send through it.
 */
#ifndef CORDON_FAKE_NET_H
#define CORDON_FAKE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "serve/forward.h"

struct fake_net;

/* One transport the forwarder opened: where, how, what it sent. */
struct fake_conn {
	struct fake_net *net;
	bool tcp;
	bool open;			/* not closed by the forwarder */
	uint16_t port;			/* of the server asked */
	uint8_t msg[512];		/* the query sent */
	size_t len;
	void (*on_msg)(void *arg, const uint8_t *msg, size_t len);
	void (*on_fail)(void *arg, enum forward_error why);
	void *arg;
};

struct fake_net *fake_net_new(void);
/* Frees every timer and transport record (the forwarder first). */
void fake_net_free(struct fake_net *n);

/* The world for forward_new(), the clocks for query_env_new(). */
struct forward_io fake_net_io(struct fake_net *n);
struct clock fake_net_clock(struct fake_net *n);

/* Moves the clock on by ms, running each timer whose time comes, in
 * order, at its time. */
void fake_net_advance(struct fake_net *n, uint64_t ms);
uint64_t fake_net_now_ms(const struct fake_net *n);

/* While set, opening a transport fails (as a socket() would). */
void fake_net_set_open_fails(struct fake_net *n, bool fails);

/* Transports opened so far, oldest first, and how many are open now. */
size_t fake_net_nconns(const struct fake_net *n);
struct fake_conn *fake_net_conn(struct fake_net *n, size_t i);
struct fake_conn *fake_net_last(struct fake_net *n);
size_t fake_net_nopen(const struct fake_net *n);

/* The upstream of conn c answers msg, or fails (why as forward_io). */
void fake_net_deliver(struct fake_conn *c, const uint8_t *msg, size_t len);
void fake_net_fail(struct fake_conn *c, enum forward_error why);

/* ---- DNS messages ---- */

/* A query for name/qtype with id; rd sets RD, edns adds an OPT (DO bit
 * off).  Returns its length. */
size_t fake_dns_query(uint8_t *buf, const char *name, uint16_t qtype,
    uint16_t id, bool rd, bool edns);
/* The answer to query q (its header and question): rcode, TC when tc,
 * and one A record addr with ttl when addr is not NULL.  Returns its
 * length. */
size_t fake_dns_reply(uint8_t *buf, const uint8_t *q, size_t qlen,
    unsigned rcode, bool tc, const uint8_t *addr, uint32_t ttl);
/* Whether msg holds the A record addr in its answer section. */
bool fake_dns_has_a(const uint8_t *msg, size_t len, const uint8_t *addr);
/* The EDE info code of msg's OPT, or -1 when there is none. */
int fake_dns_ede(const uint8_t *msg, size_t len);

#endif
