/*
 * clients: what one worker counts per client, in fixed tables sized at
 * start, so the hot path allocates nothing and a flood of new addresses
 * only recycles slots.  Slots are found by a keyed hash of the address
 * (hash.h); two clients that land in one slot share it, which errs on
 * the side of limiting.  Not thread-safe: one set per worker.
 *
 * - Response rate limiting ([server] ratelimit, slip): answers per
 *   second per /24 (IPv4) or /56 (IPv6).  Past the rate a query is
 *   dropped, except every slip-th one, which gets an empty TC answer so
 *   a real client behind a spoofed flood can retry over TCP.
 * - Upstream queries in flight per client address ([server]
 *   client_inflight), so one client cannot fill the forwarder.
 * - Audit lines per client address and second ([log] client_rate):
 *   past the rate, blocked attempts are counted, and the count is
 *   handed back once the second is over, for one "suppressed" event.
 */
#ifndef CORDON_CLIENTS_H
#define CORDON_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum rl_verdict {
	RL_PASS,
	RL_DROP,
	RL_SLIP,		/* answer with TC and nothing else */
};

struct ratelimit;

/* rate 0: never limits (ratelimit_check always passes). */
struct ratelimit *ratelimit_new(uint32_t rate, uint32_t slip, size_t slots);
void ratelimit_free(struct ratelimit *rl);
enum rl_verdict ratelimit_check(struct ratelimit *rl,
    const struct sockaddr *sa, uint64_t now_ms);

struct inflight;

struct inflight *inflight_new(uint32_t cap, size_t slots);
void inflight_free(struct inflight *t);
/* Takes one of sa's slots; false when it has cap in flight already. */
bool inflight_take(struct inflight *t, const struct sockaddr *sa);
/* Gives back what inflight_take() took. */
void inflight_put(struct inflight *t, const struct sockaddr *sa);

struct suppress;

/* Called for each client and second with lines held back. */
typedef void (*suppress_report)(void *arg, const struct sockaddr *sa,
    uint64_t second, uint64_t count);

/* rate 0: never suppresses. */
struct suppress *suppress_new(uint32_t rate, size_t slots,
    suppress_report report, void *arg);
/* Reports whatever is still held back, then frees s. */
void suppress_free(struct suppress *s);
/* True when sa may have one more audit line this second; false when
 * the line is counted instead. */
bool suppress_check(struct suppress *s, const struct sockaddr *sa,
    uint64_t now_ms);
/* Reports every count of a second before now's (call once a second). */
void suppress_sweep(struct suppress *s, uint64_t now_ms);

#endif
