/*
 * cidr: entries are collected as 128-bit pairs.  cidr_freeze() sorts
 * them, merges duplicates, and sweeps them (rangesweep.h) to cut the
 * address space into disjoint intervals, each owned by the most specific
 * entry over it; the intervals are then stored per family in their
 * native width.  A lookup is a binary search for the last interval that
 * starts at or below the address.  The text syntax is in cidr_text.c,
 * the serialised form in cidr_blob.c.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "policy/cidr_impl.h"
#include "policy/rangesweep.h"

/* An entry until the matcher is frozen; the sweep reads its range. */
struct cidr_pending {
	struct rangesweep_range r;
	uint32_t value;
	uint32_t seq;		/* order of adding, for merge */
	uint32_t (*merge)(uint32_t old, uint32_t add);
};

/* The last IPv4 and IPv6 addresses, as keys. */
static const struct rangesweep_key top4 = { 0, UINT32_MAX };
static const struct rangesweep_key top6 = { UINT64_MAX, UINT64_MAX };

static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put_be(uint8_t *p, uint64_t v, int bytes)
{
	while (bytes-- > 0) {
		p[bytes] = (uint8_t)v;
		v >>= 8;
	}
}

static bool
is_mapped(const uint8_t *a)
{
	return memcmp(a, v4mapped, sizeof(v4mapped)) == 0;
}

static void
fill4(struct cidr_match *m, const struct cidr_entry4 *e)
{
	memset(m, 0, sizeof(*m));
	m->value = e->value;
	m->family = AF_INET;
	put_be(m->lo, e->lo, 4);
	put_be(m->hi, e->hi, 4);
}

static void
fill6(struct cidr_match *m, const struct cidr_entry6 *e)
{
	m->value = e->value;
	m->family = AF_INET6;
	put_be(m->lo, e->lo.hi, 8);
	put_be(m->lo + 8, e->lo.lo, 8);
	put_be(m->hi, e->hi.hi, 8);
	put_be(m->hi + 8, e->hi.lo, 8);
}

struct cidr *
cidr_new(void)
{
	return calloc(1, sizeof(struct cidr));
}

static void
free_frozen(struct cidr *c)
{
	if (c->is_view)
		return;
	free(c->e4);
	free(c->start4);
	free(c->owner4);
	free(c->e6);
	free(c->start6);
	free(c->owner6);
}

void
cidr_free(struct cidr *c)
{
	if (c == NULL)
		return;
	free(c->pend[CIDR_V4]);
	free(c->pend[CIDR_V6]);
	free_frozen(c);
	free(c);
}

int
cidr_add(struct cidr *c, int family, const uint8_t *lo, const uint8_t *hi,
    uint32_t value, uint32_t (*merge)(uint32_t old, uint32_t add))
{
	struct cidr_pending *p;
	size_t cap;
	int f;

	if (family == AF_INET6 && is_mapped(lo) && is_mapped(hi)) {
		family = AF_INET;
		lo += sizeof(v4mapped);
		hi += sizeof(v4mapped);
	}
	if (c->is_frozen || (family != AF_INET && family != AF_INET6)) {
		errno = EINVAL;
		return -1;
	}
	f = family == AF_INET ? CIDR_V4 : CIDR_V6;
	if (c->npend[f] == c->cappend[f]) {
		/* Interval owners are uint32_t indices, CIDR_NONE reserved. */
		if (c->npend[f] >= CIDR_NONE - 1 || c->seq == UINT32_MAX) {
			errno = ENOMEM;
			return -1;
		}
		cap = c->cappend[f] ? c->cappend[f] * 2 : 64;
		if ((p = realloc(c->pend[f], cap * sizeof(*p))) == NULL)
			return -1;
		c->pend[f] = p;
		c->cappend[f] = cap;
	}
	p = &c->pend[f][c->npend[f]];
	if (f == CIDR_V4) {
		p->r.lo = (struct rangesweep_key){ 0, be32(lo) };
		p->r.hi = (struct rangesweep_key){ 0, be32(hi) };
	} else {
		p->r.lo = (struct rangesweep_key){ be64(lo), be64(lo + 8) };
		p->r.hi = (struct rangesweep_key){ be64(hi), be64(hi + 8) };
	}
	if (rangesweep_key_cmp(&p->r.lo, &p->r.hi) > 0) {
		errno = EINVAL;
		return -1;
	}
	p->value = value;
	p->seq = c->seq++;
	p->merge = merge;
	c->npend[f]++;
	return 0;
}

static int
cmp_pending(const void *a, const void *b)
{
	const struct cidr_pending *x = a, *y = b;
	int rc;

	if ((rc = rangesweep_key_cmp(&x->r.lo, &y->r.lo)) != 0)
		return rc;
	if ((rc = rangesweep_key_cmp(&x->r.hi, &y->r.hi)) != 0)
		return rc;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts by (lo, hi) and folds each run of one range into its first
 * entry, calling merge in the order the entries were added. */
static size_t
merge_duplicates(struct cidr_pending *e, size_t n)
{
	size_t i, out = 0;
	struct cidr_pending *last;

	if (n == 0)
		return 0;
	qsort(e, n, sizeof(*e), cmp_pending);
	for (i = 0; i < n; i++) {
		last = out > 0 ? &e[out - 1] : NULL;
		if (last != NULL &&
		    rangesweep_key_cmp(&last->r.lo, &e[i].r.lo) == 0 &&
		    rangesweep_key_cmp(&last->r.hi, &e[i].r.hi) == 0) {
			if (e[i].merge != NULL)
				last->value = e[i].merge(last->value,
				    e[i].value);
			continue;
		}
		e[out++] = e[i];
	}
	return out;
}

/* Stores the IPv4 entries and intervals in 32 bits. */
static int
keep4(struct cidr *c, const struct cidr_pending *e, size_t n,
    const struct rangesweep *iv)
{
	size_t i;

	c->e4 = malloc((n ? n : 1) * sizeof(*c->e4));
	c->start4 = malloc((iv->n ? iv->n : 1) * sizeof(*c->start4));
	c->owner4 = malloc((iv->n ? iv->n : 1) * sizeof(*c->owner4));
	if (c->e4 == NULL || c->start4 == NULL || c->owner4 == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		c->e4[i].lo = (uint32_t)e[i].r.lo.lo;
		c->e4[i].hi = (uint32_t)e[i].r.hi.lo;
		c->e4[i].value = e[i].value;
	}
	for (i = 0; i < iv->n; i++) {
		c->start4[i] = (uint32_t)iv->start[i].lo;
		c->owner4[i] = iv->owner[i];
	}
	c->n4 = n;
	c->nint4 = iv->n;
	return 0;
}

/* Stores the IPv6 entries; the intervals are kept as they are. */
static int
keep6(struct cidr *c, const struct cidr_pending *e, size_t n,
    struct rangesweep *iv)
{
	size_t i;

	if ((c->e6 = malloc((n ? n : 1) * sizeof(*c->e6))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		c->e6[i].lo = e[i].r.lo;
		c->e6[i].hi = e[i].r.hi;
		c->e6[i].value = e[i].value;
	}
	c->start6 = iv->start;
	c->owner6 = iv->owner;
	c->nint6 = iv->n;
	c->n6 = n;
	memset(iv, 0, sizeof(*iv));
	return 0;
}

/* Frees a half-built frozen form, leaving the entries pending. */
static void
unfreeze(struct cidr *c)
{
	free_frozen(c);
	c->e4 = NULL;
	c->e6 = NULL;
	c->start4 = c->owner4 = c->owner6 = NULL;
	c->start6 = NULL;
	c->n4 = c->n6 = c->nint4 = c->nint6 = 0;
}

/* Distinct ranges differ in size or in start, so no two tie in the
 * sweep: merge_duplicates() has already decided each range's value. */
static int
sweep(const struct cidr *c, int f, struct rangesweep *iv)
{
	return rangesweep_run(c->pend[f], c->npend[f], sizeof(*c->pend[f]),
	    f == CIDR_V4 ? &top4 : &top6, NULL, iv);
}

int
cidr_freeze(struct cidr *c)
{
	struct rangesweep iv4 = { 0 }, iv6 = { 0 };
	int f;

	if (c->is_frozen)
		return 0;
	for (f = CIDR_V4; f <= CIDR_V6; f++)
		c->npend[f] = merge_duplicates(c->pend[f], c->npend[f]);
	if (sweep(c, CIDR_V4, &iv4) != 0 || sweep(c, CIDR_V6, &iv6) != 0 ||
	    keep4(c, c->pend[CIDR_V4], c->npend[CIDR_V4], &iv4) != 0 ||
	    keep6(c, c->pend[CIDR_V6], c->npend[CIDR_V6], &iv6) != 0) {
		rangesweep_clear(&iv4);
		rangesweep_clear(&iv6);
		unfreeze(c);
		errno = ENOMEM;
		return -1;
	}
	rangesweep_clear(&iv4);
	for (f = CIDR_V4; f <= CIDR_V6; f++) {
		free(c->pend[f]);
		c->pend[f] = NULL;
		c->cappend[f] = 0;
	}
	c->is_frozen = true;
	return 0;
}

static bool
find4(const struct cidr *c, uint32_t a, struct cidr_match *m)
{
	const uint32_t *start = c->start4;
	size_t base = 0, n = c->nint4, half;
	uint32_t owner;

	if (n == 0 || a < start[0])
		return false;
	/* start[base] <= a holds throughout. */
	while (n > 1) {
		half = n / 2;
		if (start[base + half] <= a)
			base += half;
		n -= half;
	}
	if ((owner = c->owner4[base]) == CIDR_NONE)
		return false;
	if (m != NULL)
		fill4(m, &c->e4[owner]);
	return true;
}

static bool
find6(const struct cidr *c, const uint8_t *addr, struct cidr_match *m)
{
	const struct rangesweep_key *start = c->start6;
	struct rangesweep_key a = { be64(addr), be64(addr + 8) };
	size_t base = 0, n = c->nint6, half;
	uint32_t owner;

	if (n == 0 || rangesweep_key_cmp(&a, &start[0]) < 0)
		return false;
	while (n > 1) {
		half = n / 2;
		if (rangesweep_key_cmp(&start[base + half], &a) <= 0)
			base += half;
		n -= half;
	}
	if ((owner = c->owner6[base]) == CIDR_NONE)
		return false;
	if (m != NULL)
		fill6(m, &c->e6[owner]);
	return true;
}

bool
cidr_lookup_addr(const struct cidr *c, int family, const uint8_t *addr,
    struct cidr_match *m)
{
	if (family == AF_INET)
		return find4(c, be32(addr), m);
	if (family != AF_INET6)
		return false;
	if (is_mapped(addr))
		return find4(c, be32(addr + sizeof(v4mapped)), m);
	return find6(c, addr, m);
}

bool
cidr_lookup(const struct cidr *c, const struct sockaddr *sa,
    struct cidr_match *m)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		return cidr_lookup_addr(c, AF_INET,
		    (const uint8_t *)&sin->sin_addr, m);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		return cidr_lookup_addr(c, AF_INET6, sin6->sin6_addr.s6_addr,
		    m);
	default:
		return false;
	}
}

size_t
cidr_count(const struct cidr *c)
{
	if (c->is_frozen)
		return c->n4 + c->n6;
	return c->npend[CIDR_V4] + c->npend[CIDR_V6];
}

size_t
cidr_memory(const struct cidr *c)
{
	return sizeof(*c) +
	    (c->cappend[CIDR_V4] + c->cappend[CIDR_V6]) *
	    sizeof(struct cidr_pending) +
	    c->n4 * sizeof(*c->e4) +
	    c->nint4 * (sizeof(*c->start4) + sizeof(*c->owner4)) +
	    c->n6 * sizeof(*c->e6) +
	    c->nint6 * (sizeof(*c->start6) + sizeof(*c->owner6));
}

void
cidr_walk(const struct cidr *c,
    void (*fn)(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    uint32_t value), void *arg)
{
	struct cidr_match m;
	size_t i;

	for (i = 0; i < c->n4; i++) {
		fill4(&m, &c->e4[i]);
		fn(arg, AF_INET, m.lo, m.hi, m.value);
	}
	for (i = 0; i < c->n6; i++) {
		fill6(&m, &c->e6[i]);
		fn(arg, AF_INET6, m.lo, m.hi, m.value);
	}
}
