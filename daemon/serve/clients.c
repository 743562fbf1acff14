/*
 * clients: direct-mapped tables of per-client counters.  A slot keeps
 * the address it counts for, so a slot taken over by another client
 * starts from zero instead of inheriting someone else's count.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "serve/clients.h"
#include "base/hash.h"

/* Family byte and up to 16 address bytes, masked to the prefix. */
struct ckey {
	uint8_t b[17];
};

/* Fills k from sa, keeping bits4 / bits6 leading bits of the address.
 * IPv4-mapped IPv6 addresses count as IPv4. */
static void
make_key(struct ckey *k, const struct sockaddr *sa, unsigned bits4,
    unsigned bits6)
{
	const uint8_t *a;
	unsigned bits, i;

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		k->b[0] = 4;
		bits = bits4;
	} else {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			a = a6->s6_addr + 12;
			k->b[0] = 4;
			bits = bits4;
		} else {
			a = a6->s6_addr;
			k->b[0] = 6;
			bits = bits6;
		}
	}
	for (i = 0; i < bits / 8; i++)
		k->b[1 + i] = a[i];
	if (bits % 8)
		k->b[1 + i] = (uint8_t)(a[i] & (0xff << (8 - bits % 8)));
}

static size_t
slot_of(const struct hash_key *hk, const struct ckey *k, size_t nslots)
{
	return (size_t)(hash_bytes(hk, k->b, sizeof(k->b)) % nslots);
}

/* Socket address of a key, for reports. */
static void
key_addr(const struct ckey *k, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (k->b[0] == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, k->b + 1, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, k->b + 1, 16);
	}
}

/* ---- response rate limiting ---- */

struct rl_slot {
	struct ckey key;
	uint64_t second;
	uint32_t answers;
	uint32_t limited;
};

struct ratelimit {
	uint32_t rate, slip;
	size_t nslots;
	struct hash_key hk;
	struct rl_slot *slots;
};

struct ratelimit *
ratelimit_new(uint32_t rate, uint32_t slip, size_t nslots)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->rate = rate;
	rl->slip = slip;
	rl->nslots = nslots ? nslots : 1;
	hash_key_new(&rl->hk);
	if (rate > 0 &&
	    (rl->slots = calloc(rl->nslots, sizeof(*rl->slots))) == NULL) {
		free(rl);
		return NULL;
	}
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->slots);
	free(rl);
}

enum rl_verdict
ratelimit_check(struct ratelimit *rl, const struct sockaddr *sa,
    uint64_t now_ms)
{
	struct ckey k;
	struct rl_slot *s;
	uint64_t second = now_ms / 1000;

	if (rl->rate == 0)
		return RL_PASS;
	make_key(&k, sa, 24, 56);
	s = &rl->slots[slot_of(&rl->hk, &k, rl->nslots)];
	if (s->second != second || memcmp(&s->key, &k, sizeof(k)) != 0) {
		s->key = k;
		s->second = second;
		s->answers = 0;
		s->limited = 0;
	}
	if (s->answers < rl->rate) {
		s->answers++;
		return RL_PASS;
	}
	s->limited++;
	if (rl->slip > 0 && s->limited % rl->slip == 0)
		return RL_SLIP;
	return RL_DROP;
}

/* ---- upstream queries in flight ---- */

struct if_slot {
	struct ckey key;
	uint32_t count;
};

struct inflight {
	uint32_t cap;
	size_t nslots;
	struct hash_key hk;
	struct if_slot *slots;
};

struct inflight *
inflight_new(uint32_t cap, size_t nslots)
{
	struct inflight *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cap = cap;
	t->nslots = nslots ? nslots : 1;
	hash_key_new(&t->hk);
	if ((t->slots = calloc(t->nslots, sizeof(*t->slots))) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
inflight_free(struct inflight *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

bool
inflight_take(struct inflight *t, const struct sockaddr *sa)
{
	struct ckey k;
	struct if_slot *s;

	make_key(&k, sa, 32, 128);
	s = &t->slots[slot_of(&t->hk, &k, t->nslots)];
	/* An idle slot changes hands; a busy one is shared. */
	if (s->count == 0)
		s->key = k;
	if (s->count >= t->cap)
		return false;
	s->count++;
	return true;
}

void
inflight_put(struct inflight *t, const struct sockaddr *sa)
{
	struct ckey k;
	struct if_slot *s;

	make_key(&k, sa, 32, 128);
	s = &t->slots[slot_of(&t->hk, &k, t->nslots)];
	if (s->count > 0)
		s->count--;
}

/* ---- audit lines per client and second ---- */

struct sup_slot {
	struct ckey key;
	uint64_t second;
	uint32_t lines;
	uint64_t held;			/* lines counted, not written */
};

struct suppress {
	uint32_t rate;
	size_t nslots;
	struct hash_key hk;
	struct sup_slot *slots;
	suppress_report report;
	void *arg;
};

struct suppress *
suppress_new(uint32_t rate, size_t nslots, suppress_report report,
    void *arg)
{
	struct suppress *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->rate = rate;
	s->nslots = nslots ? nslots : 1;
	s->report = report;
	s->arg = arg;
	hash_key_new(&s->hk);
	if (rate > 0 &&
	    (s->slots = calloc(s->nslots, sizeof(*s->slots))) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void
report_slot(struct suppress *s, struct sup_slot *sl)
{
	struct sockaddr_storage ss;

	if (sl->held == 0)
		return;
	key_addr(&sl->key, &ss);
	s->report(s->arg, (const struct sockaddr *)&ss, sl->second, sl->held);
	sl->held = 0;
}

void
suppress_free(struct suppress *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; s->slots != NULL && i < s->nslots; i++)
		report_slot(s, &s->slots[i]);
	free(s->slots);
	free(s);
}

bool
suppress_check(struct suppress *s, const struct sockaddr *sa,
    uint64_t now_ms)
{
	struct ckey k;
	struct sup_slot *sl;
	uint64_t second = now_ms / 1000;

	if (s->rate == 0)
		return true;
	make_key(&k, sa, 32, 128);
	sl = &s->slots[slot_of(&s->hk, &k, s->nslots)];
	if (sl->second != second || memcmp(&sl->key, &k, sizeof(k)) != 0) {
		report_slot(s, sl);
		sl->key = k;
		sl->second = second;
		sl->lines = 0;
	}
	if (sl->lines < s->rate) {
		sl->lines++;
		return true;
	}
	sl->held++;
	return false;
}

void
suppress_sweep(struct suppress *s, uint64_t now_ms)
{
	uint64_t second = now_ms / 1000;
	size_t i;

	for (i = 0; s->slots != NULL && i < s->nslots; i++)
		if (s->slots[i].held > 0 && s->slots[i].second < second)
			report_slot(s, &s->slots[i]);
}
