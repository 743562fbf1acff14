/*
 * clock: the few clocks the daemon reads, and a struct clock to pass
 * them around, so code that measures time (timeouts, TTLs, rate limits)
 * can be run by a test on a clock it advances by hand.
 *
 *   mono_us	monotonic, microseconds: latencies, hold-downs
 *   coarse_ms	monotonic at the tick's resolution (a few ms), cheap
 *		enough to read once per query: TTLs, rate limits
 *   wall_ms	the wall clock, milliseconds since 1970: what logs say
 */
#ifndef CORDON_CLOCK_H
#define CORDON_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t clock_mono_us(void);
uint64_t clock_mono_ms(void);
uint64_t clock_coarse_ms(void);
uint64_t clock_wall_ms(void);

/* *ts = ms from now on CLOCK_MONOTONIC, the deadline of a
 * pthread_cond_timedwait() on a condition set to that clock. */
void clock_deadline_ms(struct timespec *ts, long ms);

/* A source of time; ctx is the source's own (NULL for the system's). */
struct clock {
	uint64_t (*mono_us)(void *ctx);
	uint64_t (*coarse_ms)(void *ctx);
	uint64_t (*wall_ms)(void *ctx);
	void *ctx;
};

/* The system's clocks, as above. */
struct clock clock_system(void);

#endif
