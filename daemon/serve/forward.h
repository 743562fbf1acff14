/*
 * forward: a worker's exchanges with the upstream servers.  Sends a query
 * from a fresh socket (random source port) with a random ID, accepts a
 * reply only from the server asked, with the ID and question sent;
 * repeats a truncated exchange over TCP; tries the next server when one
 * does not answer in time or refuses; gives up when the query's timeout
 * runs out.  Identical questions in flight share one exchange.
 *
 * Refusals are bounded: an exchange sends at most FORWARD_MAX_TRIES
 * packets and asks each server that refuses (REFUSED, ICMP unreachable,
 * a refused or reset TCP connection) once.  A server that is unreachable
 * or refuses TCP is held down (not asked) for a while that doubles with
 * each failure, from FORWARD_HOLD_MIN_MS to FORWARD_HOLD_MAX_MS; the first
 * query after the hold is its probe.  A server that does not answer one
 * name is not held down: timeouts only move the exchange on.  Runs on the
 * worker's event base through a struct forward_io; nothing here blocks.
 */
#ifndef CORDON_FORWARD_H
#define CORDON_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"

struct event_base;
struct forwarder;
struct netaddr;

#define FORWARD_MAX_TRIES	6	/* packets per exchange, UDP and TCP */
#define FORWARD_HOLD_MIN_MS	500
#define FORWARD_HOLD_MAX_MS	4000

/* Why an exchange ended without an answer to pass on. */
enum forward_error {
	FORWARD_OK = 0,		/* msg is the answer */
	FORWARD_TIMEOUT,	/* no server answered in time */
	FORWARD_REFUSED,	/* every server asked answered REFUSED */
	FORWARD_SERVFAIL,	/* a server answered SERVFAIL, then no answer */
	FORWARD_UNREACHABLE,	/* ICMP unreachable: nobody on the port */
	FORWARD_TCP_FAILED,	/* truncated over UDP, TCP refused or reset */
	FORWARD_BAD_ANSWER,	/* a TCP answer that did not match */
	FORWARD_HELD_DOWN,	/* every server is held down after refusing */
	FORWARD_SHUTDOWN	/* forward_free() */
};

/* A short English reason, for an EDE text. */
const char *forward_error_text(enum forward_error why);

/*
 * Called once per forward_query() call: msg is the upstream's answer
 * (borrowed, valid during the call) and why FORWARD_OK, or msg is NULL
 * and why says what went wrong.  Must not free the forwarder.
 */
typedef void (*forward_done)(void *arg, const uint8_t *msg, size_t len,
    enum forward_error why);

/* Counters since start, for metrics. */
struct forward_stats {
	uint64_t sent;		/* upstream exchanges started */
	uint64_t shared;	/* queries that joined one in flight */
	uint64_t retries;	/* tries after the first */
	uint64_t tcp;		/* exchanges repeated over TCP */
	uint64_t timeouts;
	uint64_t rejected;	/* replies that did not match */
	uint64_t refused;	/* exchanges ended: the servers refused */
	uint64_t held_fast;	/* queries failed at once: all held down */
};

/* Per upstream server, for metrics: latency of answered tries in
 * buckets of at most FORWARD_LATENCY_MS[i] milliseconds (the last one
 * catches the rest). */
#define FORWARD_NBUCKETS 12
extern const unsigned FORWARD_LATENCY_MS[FORWARD_NBUCKETS];

struct upstream_stats {
	uint64_t sent;		/* tries sent to this server */
	uint64_t answers;	/* acceptable answers from it */
	uint64_t errors;	/* refused, unreachable, SERVFAIL, bad TCP */
	uint64_t latency[FORWARD_NBUCKETS];
	uint64_t latency_sum_us;
	uint64_t holds;		/* times it was held down (UDP or TCP) */
	uint64_t held;		/* 1 while held down now (a gauge) */
};

/*
 * What the forwarder needs from the world: a clock, timers and
 * transports.  forward_net_io() gives the real ones (libevent and the
 * kernel); a test gives fakes it drives by hand.  Handles are opaque to
 * the forwarder.
 */
struct forward_timer;
struct forward_conn;

struct forward_io {
	struct clock clock;
	void *ctx;
	/* A stopped timer that calls cb(arg) when it runs out. */
	struct forward_timer *(*timer_new)(void *ctx, void (*cb)(void *arg),
	    void *arg);
	/* (Re)starts t to run out in ms; 0, or -1. */
	int (*timer_arm)(struct forward_timer *t, uint32_t ms);
	void (*timer_free)(struct forward_timer *t);
	/*
	 * Opens a UDP socket connected to (or a TCP connection to) to and
	 * sends msg on it (over TCP with its two-byte length).  Then every
	 * message read calls on_msg (msg borrowed for the call) and a
	 * failure on_fail: FORWARD_UNREACHABLE (UDP: ICMP unreachable),
	 * FORWARD_TCP_FAILED (refused, reset, closed) or FORWARD_BAD_ANSWER
	 * (a TCP message that cannot be read).  Either may close the conn.
	 * Returns NULL when it could not open or send.
	 */
	struct forward_conn *(*open)(void *ctx, bool tcp,
	    const struct netaddr *to, const uint8_t *msg, size_t len,
	    void (*on_msg)(void *arg, const uint8_t *msg, size_t len),
	    void (*on_fail)(void *arg, enum forward_error why), void *arg);
	void (*close)(struct forward_conn *c);
	/* When not NULL, called with every query sent to a server and
	 * every answer accepted from one (dnstap FORWARDER_QUERY and
	 * FORWARDER_RESPONSE); msg borrowed for the call. */
	void (*tap)(void *tap_ctx, bool is_response, bool is_tcp,
	    const struct netaddr *server, const uint8_t *msg, size_t len);
	void *tap_ctx;
};

/* The real world on base, with the system's clocks (forward_net.c). */
void forward_net_io(struct forward_io *io, struct event_base *base);

/* io and servers are copied. */
struct forwarder *forward_new(const struct forward_io *io,
    const struct netaddr *servers, size_t nservers, uint32_t timeout_ms);

/* Ends every exchange, calling each waiter with FORWARD_SHUTDOWN, and
 * frees f. */
void forward_free(struct forwarder *f);

/*
 * Asks for qname (lower-case wire form) type/class, with the DO and CD
 * bits of the client (both part of what is shared).  Returns 0 when cb
 * will be called later, or -1 when the query could not be started (too
 * many in flight, no socket): then cb is never called.
 */
int forward_query(struct forwarder *f, const uint8_t *qname,
    size_t qname_len, uint16_t qtype, uint16_t qclass, bool do_bit,
    bool cd, forward_done cb, void *arg);

size_t forward_inflight(const struct forwarder *f);
void forward_get_stats(const struct forwarder *f, struct forward_stats *st);
/* Stats of server i (as configured); false past the last. */
bool forward_get_upstream_stats(const struct forwarder *f, size_t i,
    struct upstream_stats *st);

#endif
