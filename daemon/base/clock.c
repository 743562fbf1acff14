/*
 * clock: clock_gettime(), in the units the callers count in.
 */
#include <time.h>

#include "base/clock.h"

static uint64_t
read_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
clock_mono_us(void)
{
	return read_us(CLOCK_MONOTONIC);
}

uint64_t
clock_mono_ms(void)
{
	return read_us(CLOCK_MONOTONIC) / 1000;
}

uint64_t
clock_coarse_ms(void)
{
	return read_us(CLOCK_MONOTONIC_COARSE) / 1000;
}

uint64_t
clock_wall_ms(void)
{
	return read_us(CLOCK_REALTIME) / 1000;
}

void
clock_deadline_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static uint64_t
sys_mono_us(void *ctx)
{
	(void)ctx;
	return clock_mono_us();
}

static uint64_t
sys_coarse_ms(void *ctx)
{
	(void)ctx;
	return clock_coarse_ms();
}

static uint64_t
sys_wall_ms(void *ctx)
{
	(void)ctx;
	return clock_wall_ms();
}

struct clock
clock_system(void)
{
	struct clock c = { sys_mono_us, sys_coarse_ms, sys_wall_ms, NULL };

	return c;
}
