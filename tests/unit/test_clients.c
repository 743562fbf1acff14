/*
 * test_clients: the per-client tables (rate limit with slip, upstream
 * queries in flight, audit lines per second) and the keyed hash under
 * them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "serve/clients.h"
#include "base/hash.h"
#include "unit.h"

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, text, &s4->sin_addr);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)(const void *)&(ss))

static void
test_hash(void)
{
	struct hash_key k1 = { 1, 2 }, k2 = { 1, 3 };
	uint8_t buf[64];
	size_t i, len;
	uint64_t seen[64];

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	for (len = 0; len < 64; len++) {
		seen[len] = hash_bytes(&k1, buf, len);
		CHECK(seen[len] == hash_bytes(&k1, buf, len), "len %zu: "
		    "not deterministic", len);
		CHECK(seen[len] != hash_bytes(&k2, buf, len), "len %zu: key "
		    "ignored", len);
		for (i = 0; i < len; i++)
			CHECK(seen[i] != seen[len], "len %zu and %zu collide",
			    i, len);
	}
	/* a zero byte appended changes the hash (length is mixed in) */
	memset(buf, 0, 16);
	CHECK(hash_bytes(&k1, buf, 7) != hash_bytes(&k1, buf, 8), "0-pad");
}

static void
test_ratelimit(void)
{
	struct ratelimit *rl = ratelimit_new(10, 3, 64);
	struct sockaddr_storage a = addr("192.0.2.7"), b = addr("192.0.2.200"),
	    c = addr("198.51.100.1"), v6a = addr("2001:db8:1:100::1"),
	    v6b = addr("2001:db8:1:1ff::2"), v6c = addr("2001:db8:1:200::1"),
	    mapped = addr("::ffff:192.0.2.9");
	unsigned pass = 0, slip = 0, drop = 0, i;
	uint64_t t = 5000000;

	for (i = 0; i < 40; i++) {
		/* a and b share a /24 */
		switch (ratelimit_check(rl, i % 2 ? SA(a) : SA(b), t)) {
		case RL_PASS: pass++; break;
		case RL_SLIP: slip++; break;
		case RL_DROP: drop++; break;
		}
	}
	CHECK(pass == 10 && slip == 10 && drop == 20, "pass %u slip %u "
	    "drop %u", pass, slip, drop);
	CHECK(ratelimit_check(rl, SA(mapped), t) != RL_PASS,
	    "v4-mapped address is the same /24");
	CHECK(ratelimit_check(rl, SA(c), t) == RL_PASS, "other /24 limited");
	CHECK(ratelimit_check(rl, SA(a), t + 1000) == RL_PASS,
	    "next second still limited");
	for (i = 0; i < 10; i++)
		(void)ratelimit_check(rl, SA(v6a), t);
	CHECK(ratelimit_check(rl, SA(v6b), t) != RL_PASS, "same /56 passed");
	CHECK(ratelimit_check(rl, SA(v6c), t) == RL_PASS, "other /56 limited");
	ratelimit_free(rl);

	rl = ratelimit_new(0, 2, 64);
	for (i = 0; i < 100; i++)
		CHECK(ratelimit_check(rl, SA(a), t) == RL_PASS, "rate 0 limits");
	ratelimit_free(rl);
	rl = ratelimit_new(1, 0, 64);
	(void)ratelimit_check(rl, SA(a), t);
	for (i = 0; i < 10; i++)
		CHECK(ratelimit_check(rl, SA(a), t) == RL_DROP, "slip 0 slips");
	ratelimit_free(rl);
}

static void
test_inflight(void)
{
	struct inflight *t = inflight_new(3, 128);
	struct sockaddr_storage a = addr("192.0.2.7");
	int i;

	for (i = 0; i < 3; i++)
		CHECK(inflight_take(t, SA(a)), "take %d", i);
	CHECK(!inflight_take(t, SA(a)), "cap passed");
	inflight_put(t, SA(a));
	CHECK(inflight_take(t, SA(a)), "a slot given back is free again");
	inflight_free(t);
}

struct reports {
	uint64_t count, calls, second;
	char who[64];
};

static void
on_report(void *arg, const struct sockaddr *sa, uint64_t second,
    uint64_t count)
{
	struct reports *r = arg;
	const void *a = sa->sa_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)(const void *)sa)
	    ->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)(const void *)sa)
	    ->sin6_addr;

	r->count += count;
	r->calls++;
	r->second = second;
	inet_ntop(sa->sa_family, a, r->who, sizeof(r->who));
}

static void
test_suppress(void)
{
	struct reports r = { 0 };
	struct suppress *s = suppress_new(5, 256, on_report, &r);
	struct sockaddr_storage a = addr("2001:db8::7"), b = addr("192.0.2.1");
	unsigned ok = 0, i;

	for (i = 0; i < 50; i++)
		ok += suppress_check(s, SA(a), 7000 + i);
	CHECK(ok == 5, "%u lines let through", ok);
	CHECK(suppress_check(s, SA(b), 7100), "another client suppressed");
	suppress_sweep(s, 7999);
	CHECK(r.calls == 0, "reported before its second was over");
	suppress_sweep(s, 8000);
	CHECK(r.calls == 1 && r.count == 45 && r.second == 7,
	    "calls %llu count %llu second %llu", (unsigned long long)r.calls,
	    (unsigned long long)r.count, (unsigned long long)r.second);
	CHECK_STR(r.who, "2001:db8::7", "who");
	suppress_sweep(s, 9000);
	CHECK(r.calls == 1, "reported twice");
	/* held lines are reported at the next line or when freed */
	for (i = 0; i < 8; i++)
		(void)suppress_check(s, SA(b), 9000);
	suppress_free(s);
	CHECK(r.calls == 2 && r.count == 48, "free: calls %llu count %llu",
	    (unsigned long long)r.calls, (unsigned long long)r.count);
}

int
main(void)
{
	test_hash();
	test_ratelimit();
	test_inflight();
	test_suppress();
	return unit_exit();
}
