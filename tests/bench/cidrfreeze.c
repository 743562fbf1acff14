/*
 * cidrfreeze: times the range sweep in-process: cidr_freeze() and
 * lookups of the address matcher, and rangeset_resolve() of the exports,
 * over random overlapping ranges (fixed seed: 3/4 IPv4 prefixes /8../32,
 * 1/4 IPv6 prefixes /16../128, one in eight an A-B range, one in eight
 * an allow for the resolve).  Half the lookups are near a range, half
 * anywhere.  The blob and the resolved sets are hashed (FNV-1a), so two
 * builds can be shown to freeze the same tables.
 *
 * Usage: cidrfreeze [-n RANGES] [-l LOOKUPS] [-r REPS]
 * Output: "key value" lines: n, freeze_ms_median, lookup4_ns_median,
 * lookup6_ns_median, resolve_ms_median (the median of REPS runs, 3 by
 * default), each run's figures as run_K_* (the blob's size and hash
 * among them), and resolved_F (ranges and hash of family F's result).  Times are the thread's
 * CPU time, which other tenants of a shared machine move less than the
 * wall clock.
 *
 * Build:
 *   gcc -O2 -I daemon tests/bench/cidrfreeze.c daemon/libcordon_tool.a \
 *     daemon/libcordon.a -o cidrfreeze
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "policy/cidr.h"
#include "tool/rangeset.h"

struct brange {
	int family;
	uint8_t lo[16], hi[16];
	bool allow;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
random_range(struct brange *r)
{
	size_t w, i;
	unsigned bits;

	r->family = next() % 4 ? AF_INET : AF_INET6;
	w = r->family == AF_INET ? 4 : 16;
	memset(r->lo, 0, 16);
	for (i = 0; i < w; i++)
		r->lo[i] = (uint8_t)next();
	if (r->family == AF_INET6)
		r->lo[0] = 0x20, r->lo[1] = 0x01;	/* keep them crowded */
	else
		r->lo[0] = 10 + next() % 4;
	memcpy(r->hi, r->lo, 16);
	if (next() % 8 == 0) {
		/* an A-B range: hi raised in its low bytes */
		for (i = w - 2; i < w; i++)
			r->hi[i] = r->lo[i] + (uint8_t)(next() %
			    (256 - r->lo[i]));
	} else {
		bits = r->family == AF_INET ? 8 + next() % 25 :
		    16 + next() % 113;
		for (i = bits; i < w * 8; i++) {
			r->lo[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
			r->hi[i / 8] |= (uint8_t)(0x80 >> (i % 8));
		}
	}
	r->allow = next() % 8 == 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* FNV-1a, to tell whether two builds froze the same tables. */
static uint64_t
fnv(const uint8_t *p, size_t n, uint64_t h)
{
	while (n-- > 0)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static uint32_t
keep_old(uint32_t old, uint32_t add)
{
	(void)add;
	return old;
}

/* Returns the ns per lookup of family over nlook random addresses. */
static double
time_lookups(const struct cidr *c, int family, size_t nlook,
    const struct brange *r, size_t n, size_t *hits)
{
	uint8_t (*addr)[16] = malloc(nlook * sizeof(*addr));
	size_t i, j, w = family == AF_INET ? 4 : 16;
	double t;

	if (addr == NULL)
		exit(1);
	for (i = 0; i < nlook; i++) {
		do
			j = next() % n;
		while (r[j].family != family);
		memcpy(addr[i], r[j].lo, 16);
		addr[i][w - 1] ^= (uint8_t)next();	/* near a range */
		if (i % 2 == 1)		/* or anywhere */
			for (j = 0; j < w; j++)
				addr[i][j] = (uint8_t)next();
	}
	*hits = 0;
	t = now_ms();
	for (i = 0; i < nlook; i++)
		*hits += cidr_lookup_addr(c, family, addr[i], NULL);
	t = now_ms() - t;
	free(addr);
	return t * 1e6 / (double)nlook;
}

static double
time_resolve(const struct brange *r, size_t n)
{
	struct rangeset in[2], out[2];
	double t;
	size_t i;
	int f;

	rangeset_init(&in[0], AF_INET);
	rangeset_init(&in[1], AF_INET6);
	for (i = 0; i < n; i++)
		if (rangeset_add(&in[r[i].family == AF_INET6], r[i].lo,
		    r[i].hi, r[i].allow) != 0)
			exit(1);
	t = now_ms();
	for (f = 0; f < 2; f++) {
		rangeset_init(&out[f], in[f].family);
		if (rangeset_resolve(&in[f], &out[f]) != 0)
			exit(1);
	}
	t = now_ms() - t;
	for (f = 0; f < 2; f++) {
		printf("resolved_%d %zu %016llx\n", f, out[f].n,
		    (unsigned long long)fnv((const uint8_t *)out[f].v,
		    out[f].n * sizeof(*out[f].v), 0xcbf29ce484222325ULL));
		rangeset_clear(&in[f]);
		rangeset_clear(&out[f]);
	}
	return t;
}

int
main(int argc, char **argv)
{
	size_t n = 100000, nlook = 1000000, i, hits;
	int reps = 3, ch, k;
	double fz[16], l4[16], l6[16], rs[16], t;
	struct brange *r;
	struct cidr *c;
	uint8_t *blob;

	while ((ch = getopt(argc, argv, "n:l:r:")) != -1) {
		if (ch == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (ch == 'l')
			nlook = strtoul(optarg, NULL, 10);
		else if (ch == 'r')
			reps = atoi(optarg);
		else
			return 2;
	}
	if (reps < 1 || reps > 16 || n == 0)
		return 2;
	if ((r = malloc(n * sizeof(*r))) == NULL)
		return 1;
	for (i = 0; i < n; i++)
		random_range(&r[i]);
	printf("n %zu\n", n);
	for (k = 0; k < reps; k++) {
		if ((c = cidr_new()) == NULL)
			return 1;
		for (i = 0; i < n; i++)
			if (cidr_add(c, r[i].family, r[i].lo, r[i].hi,
			    (uint32_t)i, keep_old) != 0)
				return 1;
		t = now_ms();
		if (cidr_freeze(c) != 0)
			return 1;
		fz[k] = now_ms() - t;
		l4[k] = time_lookups(c, AF_INET, nlook, r, n, &hits);
		printf("run_%d_hits4 %zu\n", k, hits);
		l6[k] = time_lookups(c, AF_INET6, nlook, r, n, &hits);
		printf("run_%d_hits6 %zu\n", k, hits);
		printf("run_%d_count %zu\n", k, cidr_count(c));
		if ((blob = aligned_alloc(8, cidr_blob_size(c))) == NULL)
			return 1;
		cidr_blob_write(c, blob);
		printf("run_%d_blob %zu %016llx\n", k, cidr_blob_size(c),
		    (unsigned long long)fnv(blob, cidr_blob_size(c),
		    0xcbf29ce484222325ULL));
		free(blob);
		cidr_free(c);
		rs[k] = time_resolve(r, n);
		printf("run_%d_freeze_ms %.1f\nrun_%d_resolve_ms %.1f\n", k,
		    fz[k], k, rs[k]);
	}
	printf("freeze_ms_median %.1f\n", median(fz, reps));
	printf("lookup4_ns_median %.1f\n", median(l4, reps));
	printf("lookup6_ns_median %.1f\n", median(l6, reps));
	printf("resolve_ms_median %.1f\n", median(rs, reps));
	free(r);
	return 0;
}
