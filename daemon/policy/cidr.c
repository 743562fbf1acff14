/*
 * cidr: entries are collected as 128-bit pairs.  cidr_freeze() sorts
 * them, merges duplicates, and sweeps their boundaries to cut the address
 * space into disjoint intervals, each owned by the most specific entry
 * over it; the intervals are then stored per family in their native
 * width.  A lookup is a binary search for the last interval that starts
 * at or below the address.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"

#define NONE UINT32_MAX		/* an interval no entry covers */
#define V4 0
#define V6 1

/* A 128-bit address, most significant half first; IPv4 lives in lo. */
struct key {
	uint64_t hi, lo;
};

/* An entry until the matcher is frozen. */
struct pending {
	struct key lo, hi;
	uint32_t value;
	uint32_t seq;		/* order of adding, for merge */
	uint32_t (*merge)(uint32_t old, uint32_t add);
};

struct entry4 {
	uint32_t lo, hi, value;
};

struct entry6 {
	struct key lo, hi;
	uint32_t value;
};

struct cidr {
	struct pending *pend[2];	/* by V4, V6 */
	size_t npend[2], cappend[2];
	uint32_t seq;
	bool is_frozen;
	bool is_view;		/* frozen arrays borrowed from a blob */
	/* Frozen IPv4: entries by (lo, hi); intervals by start. */
	struct entry4 *e4;
	size_t n4;
	uint32_t *start4, *owner4;
	size_t nint4;
	/* Frozen IPv6, the same. */
	struct entry6 *e6;
	size_t n6;
	struct key *start6;
	uint32_t *owner6;
	size_t nint6;
};

static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

static int
key_cmp(const struct key *a, const struct key *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static struct key
key_sub(struct key a, struct key b)
{
	struct key r;

	r.lo = a.lo - b.lo;
	r.hi = a.hi - b.hi - (a.lo < b.lo);
	return r;
}

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
fill4(struct cidr_match *m, const struct entry4 *e)
{
	memset(m, 0, sizeof(*m));
	m->value = e->value;
	m->family = AF_INET;
	put_be(m->lo, e->lo, 4);
	put_be(m->hi, e->hi, 4);
}

static void
fill6(struct cidr_match *m, const struct entry6 *e)
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
	free(c->pend[V4]);
	free(c->pend[V6]);
	free_frozen(c);
	free(c);
}

int
cidr_add(struct cidr *c, int family, const uint8_t *lo, const uint8_t *hi,
    uint32_t value, uint32_t (*merge)(uint32_t old, uint32_t add))
{
	struct pending *p;
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
	f = family == AF_INET ? V4 : V6;
	if (c->npend[f] == c->cappend[f]) {
		/* Interval owners are uint32_t indices, NONE reserved. */
		if (c->npend[f] >= NONE - 1 || c->seq == UINT32_MAX) {
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
	if (f == V4) {
		p->lo = (struct key){ 0, be32(lo) };
		p->hi = (struct key){ 0, be32(hi) };
	} else {
		p->lo = (struct key){ be64(lo), be64(lo + 8) };
		p->hi = (struct key){ be64(hi), be64(hi + 8) };
	}
	if (key_cmp(&p->lo, &p->hi) > 0) {
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
	const struct pending *x = a, *y = b;
	int rc;

	if ((rc = key_cmp(&x->lo, &y->lo)) != 0)
		return rc;
	if ((rc = key_cmp(&x->hi, &y->hi)) != 0)
		return rc;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
cmp_key(const void *a, const void *b)
{
	return key_cmp(a, b);
}

/* Sorts by (lo, hi) and folds each run of one range into its first
 * entry, calling merge in the order the entries were added. */
static size_t
merge_duplicates(struct pending *e, size_t n)
{
	size_t i, out = 0;
	struct pending *last;

	if (n == 0)
		return 0;
	qsort(e, n, sizeof(*e), cmp_pending);
	for (i = 0; i < n; i++) {
		last = out > 0 ? &e[out - 1] : NULL;
		if (last != NULL && key_cmp(&last->lo, &e[i].lo) == 0 &&
		    key_cmp(&last->hi, &e[i].hi) == 0) {
			if (e[i].merge != NULL)
				last->value = e[i].merge(last->value,
				    e[i].value);
			continue;
		}
		e[out++] = e[i];
	}
	return out;
}

/* true when entry a is more specific than entry b. */
static bool
is_narrower(const struct pending *a, const struct pending *b)
{
	struct key sa = key_sub(a->hi, a->lo), sb = key_sub(b->hi, b->lo);
	int rc = key_cmp(&sa, &sb);

	return rc < 0 || (rc == 0 && key_cmp(&a->lo, &b->lo) < 0);
}

static void
heap_push(const struct pending *e, uint32_t *heap, size_t *n, uint32_t x)
{
	size_t i = (*n)++, up;

	for (; i > 0; i = up) {
		up = (i - 1) / 2;
		if (!is_narrower(&e[x], &e[heap[up]]))
			break;
		heap[i] = heap[up];
	}
	heap[i] = x;
}

static void
heap_pop(const struct pending *e, uint32_t *heap, size_t *n)
{
	uint32_t x = heap[--*n];
	size_t i = 0, child;

	while ((child = 2 * i + 1) < *n) {
		if (child + 1 < *n && is_narrower(&e[heap[child + 1]],
		    &e[heap[child]]))
			child++;
		if (!is_narrower(&e[heap[child]], &e[x]))
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = x;
}

struct intervals {
	struct key *start;
	uint32_t *owner;
	size_t n;
};

/*
 * The owner of an address changes only where an entry starts (lo) or
 * where one has just ended (hi + 1), so those points, in order, cut the
 * space into intervals.  A heap of the entries started so far, narrowest
 * on top, names each interval's owner; entries that have ended are
 * dropped only when they reach the top, since below it they lose anyway.
 * e is sorted by lo.
 */
static int
sweep(const struct pending *e, size_t n, struct intervals *iv)
{
	struct key *ends, p;
	uint32_t *heap, top;
	size_t i, j = 0, nend = 0, nheap = 0;

	memset(iv, 0, sizeof(*iv));
	if (n == 0)
		return 0;
	ends = malloc(n * sizeof(*ends));
	heap = malloc(n * sizeof(*heap));
	iv->start = malloc(2 * n * sizeof(*iv->start));
	iv->owner = malloc(2 * n * sizeof(*iv->owner));
	if (ends == NULL || heap == NULL || iv->start == NULL ||
	    iv->owner == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		/* An entry that runs to the top address never ends. */
		if (e[i].hi.hi == UINT64_MAX && e[i].hi.lo == UINT64_MAX)
			continue;
		ends[nend] = e[i].hi;
		if (++ends[nend].lo == 0)
			ends[nend].hi++;
		nend++;
	}
	qsort(ends, nend, sizeof(*ends), cmp_key);
	for (i = 0; i < n || j < nend; ) {
		if (i == n || (j < nend && key_cmp(&ends[j], &e[i].lo) < 0))
			p = ends[j];
		else
			p = e[i].lo;
		for (; i < n && key_cmp(&e[i].lo, &p) == 0; i++)
			heap_push(e, heap, &nheap, (uint32_t)i);
		for (; j < nend && key_cmp(&ends[j], &p) == 0; j++)
			continue;
		while (nheap > 0 && key_cmp(&e[heap[0]].hi, &p) < 0)
			heap_pop(e, heap, &nheap);
		top = nheap > 0 ? heap[0] : NONE;
		if (iv->n == 0 ? top == NONE : top == iv->owner[iv->n - 1])
			continue;
		iv->start[iv->n] = p;
		iv->owner[iv->n++] = top;
	}
	free(ends);
	free(heap);
	return 0;
fail:
	free(ends);
	free(heap);
	free(iv->start);
	free(iv->owner);
	memset(iv, 0, sizeof(*iv));
	return -1;
}

/* Stores the IPv4 entries and intervals in 32 bits. */
static int
keep4(struct cidr *c, const struct pending *e, size_t n,
    const struct intervals *iv)
{
	size_t i, nint = 0;

	c->e4 = malloc((n ? n : 1) * sizeof(*c->e4));
	c->start4 = malloc((iv->n ? iv->n : 1) * sizeof(*c->start4));
	c->owner4 = malloc((iv->n ? iv->n : 1) * sizeof(*c->owner4));
	if (c->e4 == NULL || c->start4 == NULL || c->owner4 == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		c->e4[i].lo = (uint32_t)e[i].lo.lo;
		c->e4[i].hi = (uint32_t)e[i].hi.lo;
		c->e4[i].value = e[i].value;
	}
	for (i = 0; i < iv->n; i++) {
		/* The end of an entry reaching 255.255.255.255 is 2^32. */
		if (iv->start[i].lo > UINT32_MAX)
			continue;
		c->start4[nint] = (uint32_t)iv->start[i].lo;
		c->owner4[nint++] = iv->owner[i];
	}
	c->n4 = n;
	c->nint4 = nint;
	return 0;
}

/* Stores the IPv6 entries; the intervals are kept as they are. */
static int
keep6(struct cidr *c, const struct pending *e, size_t n,
    struct intervals *iv)
{
	size_t i;

	if ((c->e6 = malloc((n ? n : 1) * sizeof(*c->e6))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		c->e6[i].lo = e[i].lo;
		c->e6[i].hi = e[i].hi;
		c->e6[i].value = e[i].value;
	}
	c->start6 = iv->start;
	c->owner6 = iv->owner;
	c->nint6 = iv->n;
	c->n6 = n;
	memset(iv, 0, sizeof(*iv));
	/* sweep() sized them for the worst case; a failed shrink is fine. */
	if (c->nint6 > 0) {
		struct key *s = realloc(c->start6, c->nint6 *
		    sizeof(*c->start6));
		uint32_t *o = realloc(c->owner6, c->nint6 *
		    sizeof(*c->owner6));

		if (s != NULL)
			c->start6 = s;
		if (o != NULL)
			c->owner6 = o;
	}
	return 0;
}

int
cidr_freeze(struct cidr *c)
{
	struct intervals iv4 = { 0 }, iv6 = { 0 };
	int f;

	if (c->is_frozen)
		return 0;
	for (f = V4; f <= V6; f++)
		c->npend[f] = merge_duplicates(c->pend[f], c->npend[f]);
	if (sweep(c->pend[V4], c->npend[V4], &iv4) != 0 ||
	    sweep(c->pend[V6], c->npend[V6], &iv6) != 0 ||
	    keep4(c, c->pend[V4], c->npend[V4], &iv4) != 0 ||
	    keep6(c, c->pend[V6], c->npend[V6], &iv6) != 0)
		goto fail;
	free(iv4.start);
	free(iv4.owner);
	for (f = V4; f <= V6; f++) {
		free(c->pend[f]);
		c->pend[f] = NULL;
		c->cappend[f] = 0;
	}
	c->is_frozen = true;
	return 0;
fail:
	free(iv4.start);
	free(iv4.owner);
	free(iv6.start);
	free(iv6.owner);
	free_frozen(c);
	c->e4 = NULL;
	c->e6 = NULL;
	c->start4 = c->owner4 = c->owner6 = NULL;
	c->start6 = NULL;
	c->n4 = c->n6 = c->nint4 = c->nint6 = 0;
	errno = ENOMEM;
	return -1;
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
	if ((owner = c->owner4[base]) == NONE)
		return false;
	if (m != NULL)
		fill4(m, &c->e4[owner]);
	return true;
}

static bool
find6(const struct cidr *c, const uint8_t *addr, struct cidr_match *m)
{
	const struct key *start = c->start6;
	struct key a = { be64(addr), be64(addr + 8) };
	size_t base = 0, n = c->nint6, half;
	uint32_t owner;

	if (n == 0 || key_cmp(&a, &start[0]) < 0)
		return false;
	while (n > 1) {
		half = n / 2;
		if (key_cmp(&start[base + half], &a) <= 0)
			base += half;
		n -= half;
	}
	if ((owner = c->owner6[base]) == NONE)
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

/* Parses one address of len characters at s. */
static int
parse_addr(const char *s, size_t len, int *family, uint8_t out[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, buf, out) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out) == 1)
		*family = AF_INET6;
	else
		return -1;
	return 0;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int
parse_pair(const char *text, const char *dash, int *family, uint8_t lo[16],
    uint8_t hi[16], const char **why)
{
	const char *end = dash, *b = dash + 1;
	int fam2;

	while (end > text && is_blank(end[-1]))
		end--;
	while (is_blank(*b))
		b++;
	if (parse_addr(text, (size_t)(end - text), family, lo) != 0 ||
	    parse_addr(b, strlen(b), &fam2, hi) != 0)
		return -1;
	if (*family != fam2) {
		*why = "mixes IPv4 and IPv6";
		return -1;
	}
	if (memcmp(lo, hi, *family == AF_INET ? 4 : 16) > 0) {
		*why = "has its first address above its last";
		return -1;
	}
	return 0;
}

int
cidr_parse_range(const char *text, int *family, uint8_t lo[16],
    uint8_t hi[16], const char **why)
{
	const char *dash = strchr(text, '-'), *slash = strchr(text, '/');
	unsigned bits = 0, maxbits, i;
	const char *s;

	*why = "is not an IP address, prefix or A-B range";
	if (dash != NULL)
		return slash != NULL ? -1 :
		    parse_pair(text, dash, family, lo, hi, why);
	if (parse_addr(text, slash ? (size_t)(slash - text) : strlen(text),
	    family, lo) != 0)
		return -1;
	memcpy(hi, lo, 16);
	if (slash == NULL)
		return 0;
	maxbits = *family == AF_INET ? 32 : 128;
	for (s = slash + 1; *s >= '0' && *s <= '9' && s - slash <= 3; s++)
		bits = bits * 10 + (unsigned)(*s - '0');
	if (s == slash + 1 || *s != '\0' || bits > maxbits) {
		*why = *family == AF_INET ? "has a prefix length that is not "
		    "0-32" : "has a prefix length that is not 0-128";
		return -1;
	}
	for (i = bits; i < maxbits; i++) {
		if (lo[i / 8] & (0x80 >> (i % 8))) {
			*why = "has host bits set after the prefix length";
			return -1;
		}
		hi[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	}
	return 0;
}

int
cidr_add_text(struct cidr *c, const char *text, uint32_t value,
    uint32_t (*merge)(uint32_t old, uint32_t add), const char **why)
{
	uint8_t lo[16], hi[16];
	int family;

	if (cidr_parse_range(text, &family, lo, hi, why) != 0)
		return -1;
	if (cidr_add(c, family, lo, hi, value, merge) != 0) {
		*why = errno == ENOMEM ? "could not be added: out of memory" :
		    "could not be added: the matcher is frozen";
		return -1;
	}
	return 0;
}

/* The prefix length when lo..hi is one prefix, else -1. */
static int
prefix_bits(const uint8_t *lo, const uint8_t *hi, unsigned maxbits)
{
	unsigned i;
	int bits = -1, l, h;

	for (i = 0; i < maxbits; i++) {
		l = lo[i / 8] >> (7 - i % 8) & 1;
		h = hi[i / 8] >> (7 - i % 8) & 1;
		if (bits < 0 && l == h)
			continue;
		if (bits < 0)
			bits = (int)i;
		if (l != 0 || h != 1)
			return -1;
	}
	return bits < 0 ? (int)maxbits : bits;
}

size_t
cidr_format_range(const struct cidr_match *m, char *buf, size_t size)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
	unsigned maxbits = m->family == AF_INET ? 32 : 128;
	int bits, n;

	if ((m->family != AF_INET && m->family != AF_INET6) ||
	    inet_ntop(m->family, m->lo, lo, sizeof(lo)) == NULL ||
	    inet_ntop(m->family, m->hi, hi, sizeof(hi)) == NULL)
		return 0;
	bits = prefix_bits(m->lo, m->hi, maxbits);
	if (bits == (int)maxbits)
		n = snprintf(buf, size, "%s", lo);
	else if (bits >= 0)
		n = snprintf(buf, size, "%s/%d", lo, bits);
	else
		n = snprintf(buf, size, "%s-%s", lo, hi);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

size_t
cidr_count(const struct cidr *c)
{
	if (c->is_frozen)
		return c->n4 + c->n6;
	return c->npend[V4] + c->npend[V6];
}

size_t
cidr_memory(const struct cidr *c)
{
	return sizeof(*c) +
	    (c->cappend[V4] + c->cappend[V6]) * sizeof(struct pending) +
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

/* ---- serialised form ---- */

#define BLOB_MAGIC 0x52444943U	/* "CIDR" */

struct blob_head {
	uint32_t magic;
	uint32_t reserved;
	uint64_t n4, nint4, n6, nint6;
};

static size_t
pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Byte sizes of the six arrays, in blob order. */
static void
blob_parts(uint64_t n4, uint64_t nint4, uint64_t n6, uint64_t nint6,
    size_t sz[6])
{
	sz[0] = pad8(n4 * sizeof(struct entry4));
	sz[1] = pad8(nint4 * sizeof(uint32_t));
	sz[2] = pad8(nint4 * sizeof(uint32_t));
	sz[3] = pad8(n6 * sizeof(struct entry6));
	sz[4] = pad8(nint6 * sizeof(struct key));
	sz[5] = pad8(nint6 * sizeof(uint32_t));
}

size_t
cidr_blob_size(const struct cidr *c)
{
	size_t sz[6], n = sizeof(struct blob_head), i;

	blob_parts(c->n4, c->nint4, c->n6, c->nint6, sz);
	for (i = 0; i < 6; i++)
		n += sz[i];
	return n;
}

void
cidr_blob_write(const struct cidr *c, uint8_t *buf)
{
	struct blob_head h = { BLOB_MAGIC, 0, c->n4, c->nint4, c->n6,
	    c->nint6 };
	const void *src[6] = { c->e4, c->start4, c->owner4, c->e6, c->start6,
	    c->owner6 };
	size_t raw[6] = { c->n4 * sizeof(struct entry4),
	    c->nint4 * sizeof(uint32_t), c->nint4 * sizeof(uint32_t),
	    c->n6 * sizeof(struct entry6), c->nint6 * sizeof(struct key),
	    c->nint6 * sizeof(uint32_t) };
	size_t sz[6], off = sizeof(h), i;

	memset(buf, 0, cidr_blob_size(c));
	memcpy(buf, &h, sizeof(h));
	blob_parts(c->n4, c->nint4, c->n6, c->nint6, sz);
	for (i = 0; i < 6; i++) {
		if (raw[i] > 0)
			memcpy(buf + off, src[i], raw[i]);
		off += sz[i];
	}
}

static bool
sound4(const struct cidr *c)
{
	size_t i;

	for (i = 0; i < c->n4; i++)
		if (c->e4[i].lo > c->e4[i].hi)
			return false;
	for (i = 0; i < c->nint4; i++) {
		if (c->owner4[i] != NONE && c->owner4[i] >= c->n4)
			return false;
		if (i > 0 && c->start4[i] <= c->start4[i - 1])
			return false;
	}
	return true;
}

static bool
sound6(const struct cidr *c)
{
	size_t i;

	for (i = 0; i < c->n6; i++)
		if (key_cmp(&c->e6[i].lo, &c->e6[i].hi) > 0)
			return false;
	for (i = 0; i < c->nint6; i++) {
		if (c->owner6[i] != NONE && c->owner6[i] >= c->n6)
			return false;
		if (i > 0 && key_cmp(&c->start6[i], &c->start6[i - 1]) <= 0)
			return false;
	}
	return true;
}

struct cidr *
cidr_view(const uint8_t *blob, size_t len, const char **why)
{
	struct blob_head h;
	struct cidr *c;
	size_t sz[6], off = sizeof(h), total = sizeof(h), i;
	const uint8_t *part[6];

	*why = "range table truncated";
	if (len < sizeof(h))
		return NULL;
	memcpy(&h, blob, sizeof(h));
	if (h.magic != BLOB_MAGIC) {
		*why = "range table has a bad magic number";
		return NULL;
	}
	if (h.n4 > len || h.nint4 > len || h.n6 > len || h.nint6 > len)
		return NULL;
	blob_parts(h.n4, h.nint4, h.n6, h.nint6, sz);
	for (i = 0; i < 6; i++) {
		part[i] = blob + off;
		off += sz[i];
		total += sz[i];
	}
	if (total > len)
		return NULL;
	if (((uintptr_t)blob & 7) != 0) {
		*why = "range table is not aligned";
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		*why = "out of memory while loading the range table";
		return NULL;
	}
	c->is_frozen = c->is_view = true;
	c->e4 = (struct entry4 *)(uintptr_t)part[0];
	c->start4 = (uint32_t *)(uintptr_t)part[1];
	c->owner4 = (uint32_t *)(uintptr_t)part[2];
	c->e6 = (struct entry6 *)(uintptr_t)part[3];
	c->start6 = (struct key *)(uintptr_t)part[4];
	c->owner6 = (uint32_t *)(uintptr_t)part[5];
	c->n4 = h.n4;
	c->nint4 = h.nint4;
	c->n6 = h.n6;
	c->nint6 = h.nint6;
	if (!sound4(c) || !sound6(c)) {
		*why = "range table is corrupt";
		free(c);
		return NULL;
	}
	return c;
}
