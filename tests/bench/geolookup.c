/*
 * geolookup: GeoIP lookups per second, straight through libmaxminddb
 * (geoip_lookup) and through the per-worker cache cordond uses
 * (geo_cache_lookup), on the same sequence of addresses.
 *
 * Build (run-issue4 does this into its work directory):
 *   gcc -O2 -I daemon tests/bench/geolookup.c daemon/libcordon.a \
 *     $(pkg-config --libs ldns libcrypto libevent libmaxminddb inih \
 *       libidn2 libcurl zlib) -lpthread -o geolookup
 *
 * Usage: geolookup -c COUNTRY_DB [-a ASN_DB] [-n LOOKUPS] [-k ADDRESSES]
 *                  [-s SLOTS] [-6 PERCENT] [-z] [-r SEED] [-D]
 *   -n  lookups per pass (default 1,000,000)
 *   -k  distinct addresses they are drawn from (default 10,000)
 *   -s  geo_cache slots (default 4096, what cordond's workers use)
 *   -6  share of IPv6 addresses, in % (default 10)
 *   -z  draw with a Zipf-like skew (s = 1) instead of uniformly
 *   -r  seed (default 4)
 *   -D  draw the addresses from the documentation ranges (192.0.2.0/24,
 *       198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), the only ones
 *       the test fixtures (tests/fixtures/make-mmdb.pl) know
 * Addresses are random public unicast addresses (IPv4 outside 0/8, 10/8,
 * 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16, 224/3; IPv6 in
 * 2000::/3).  The draw is made before timing; each pass is timed with
 * CLOCK_MONOTONIC and the best of three passes is reported.  The cached
 * pass starts from an empty cache each time.  Output: one "key value"
 * line per figure, for run-issue4 to parse.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/geoip.h"

struct addr {
	int family;
	uint8_t a[16];
};

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
public_v4(const uint8_t *a)
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
		return 0;
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return 0;
	if (a[0] == 169 && a[1] == 254)
		return 0;
	if (a[0] == 172 && (a[1] & 0xf0) == 16)
		return 0;
	if (a[0] == 192 && a[1] == 168)
		return 0;
	return 1;
}

static int doc_ranges;

static void
make_addr(struct addr *x, int v6pct)
{
	static const uint8_t doc4[3][3] = { { 192, 0, 2 }, { 198, 51, 100 },
	    { 203, 0, 113 } };
	uint64_t r;

	memset(x, 0, sizeof(*x));
	if (doc_ranges) {
		r = rnd();
		if ((int)(r % 100) < v6pct) {
			x->family = AF_INET6;
			r = rnd();
			x->a[0] = 0x20; x->a[1] = 0x01; x->a[2] = 0x0d;
			x->a[3] = 0xb8;
			memcpy(x->a + 4, &r, 8);
			r = rnd();
			memcpy(x->a + 12, &r, 4);
		} else {
			x->family = AF_INET;
			memcpy(x->a, doc4[(r >> 8) % 3], 3);
			x->a[3] = (uint8_t)(r >> 16);
		}
		return;
	}
	if ((int)(rnd() % 100) < v6pct) {
		x->family = AF_INET6;
		r = rnd();
		memcpy(x->a, &r, 8);
		r = rnd();
		memcpy(x->a + 8, &r, 8);
		x->a[0] = (uint8_t)(0x20 | (x->a[0] & 0x1f));	/* 2000::/3 */
		return;
	}
	x->family = AF_INET;
	do {
		r = rnd();
		memcpy(x->a, &r, 4);
	} while (!public_v4(x->a));
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
usage(void)
{
	fprintf(stderr, "usage: geolookup -c COUNTRY_DB [-a ASN_DB] [-n N] "
	    "[-k K] [-s SLOTS] [-6 PCT] [-z] [-r SEED] [-D]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *cdb = "", *adb = "";
	size_t n = 1000000, k = 10000, slots = 4096, i;
	int v6pct = 10, zipf = 0, c, pass;
	uint64_t seed = 4, hits = 0, misses = 0, known = 0, sink = 0;
	struct addr *addrs;
	uint32_t *seq;
	struct geoip *g;
	char err[512];
	double best_plain = 1e9, best_cached = 1e9;

	while ((c = getopt(argc, argv, "c:a:n:k:s:6:zr:D")) != -1) {
		switch (c) {
		case 'c': cdb = optarg; break;
		case 'a': adb = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'k': k = strtoul(optarg, NULL, 10); break;
		case 's': slots = strtoul(optarg, NULL, 10); break;
		case '6': v6pct = atoi(optarg); break;
		case 'z': zipf = 1; break;
		case 'r': seed = strtoull(optarg, NULL, 10); break;
		case 'D': doc_ranges = 1; break;
		default: return usage();
		}
	}
	if (k == 0 || n == 0)
		return usage();
	if ((g = geoip_open(cdb, adb, err, sizeof(err))) == NULL) {
		fprintf(stderr, "geolookup: %s\n", err);
		return 1;
	}
	rng_state = seed;
	addrs = calloc(k, sizeof(*addrs));
	seq = calloc(n, sizeof(*seq));
	if (addrs == NULL || seq == NULL)
		return 1;
	for (i = 0; i < k; i++)
		make_addr(&addrs[i], v6pct);
	if (zipf) {
		/* inverse CDF of a Zipf(1) over k ranks, by bisection */
		double *cdf = calloc(k, sizeof(*cdf)), h = 0;

		if (cdf == NULL)
			return 1;
		for (i = 0; i < k; i++)
			cdf[i] = (h += 1.0 / (double)(i + 1));
		for (i = 0; i < n; i++) {
			double u = (double)(rnd() >> 11) / 9007199254740992.0 * h;
			size_t lo = 0, hi = k - 1;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			seq[i] = (uint32_t)lo;
		}
		free(cdf);
	} else
		for (i = 0; i < n; i++)
			seq[i] = (uint32_t)(rnd() % k);

	/* the two paths must agree */
	{
		struct geo_cache *gc = geo_cache_new(slots);
		size_t bad = 0;

		for (i = 0; i < k; i++) {
			struct geo_info a, b;
			const struct addr *x = &addrs[i];

			known += geoip_lookup(g, x->family, x->a, &a);
			geo_cache_lookup(gc, g, x->family, x->a, &b);
			geo_cache_lookup(gc, g, x->family, x->a, &b);
			if (strcmp(a.country, b.country) != 0 || a.asn != b.asn)
				bad++;
		}
		geo_cache_free(gc);
		printf("mismatches %zu\n", bad);
	}

	for (pass = 0; pass < 3; pass++) {
		struct geo_cache *gc;
		struct geo_info gi;
		double t0, t;

		t0 = now();
		for (i = 0; i < n; i++) {
			const struct addr *x = &addrs[seq[i]];

			geoip_lookup(g, x->family, x->a, &gi);
			sink += (uint64_t)gi.asn + (uint8_t)gi.country[0];
		}
		t = now() - t0;
		if (t < best_plain)
			best_plain = t;

		gc = geo_cache_new(slots);
		t0 = now();
		for (i = 0; i < n; i++) {
			const struct addr *x = &addrs[seq[i]];

			geo_cache_lookup(gc, g, x->family, x->a, &gi);
			sink += (uint64_t)gi.asn + (uint8_t)gi.country[0];
		}
		t = now() - t0;
		if (t < best_cached) {
			best_cached = t;
			geo_cache_stats(gc, &hits, &misses);
		}
		geo_cache_free(gc);
	}
	printf("country_db %s\nasn_db %s\nlookups %zu\naddresses %zu\n"
	    "slots %zu\nipv6_pct %d\ndraw %s\nranges %s\nknown_pct %.1f\n",
	    cdb, adb, n, k, slots, v6pct, zipf ? "zipf" : "uniform",
	    doc_ranges ? "documentation" : "public",
	    100.0 * (double)known / (double)k);
	printf("plain_s %.6f\nplain_per_s %.0f\nplain_ns %.1f\n", best_plain,
	    (double)n / best_plain, best_plain * 1e9 / (double)n);
	printf("cached_s %.6f\ncached_per_s %.0f\ncached_ns %.1f\n",
	    best_cached, (double)n / best_cached,
	    best_cached * 1e9 / (double)n);
	printf("cache_hit_pct %.1f\nspeedup %.2f\nsink %llu\n",
	    100.0 * (double)hits / (double)(hits + misses ? hits + misses : 1),
	    best_plain / best_cached, (unsigned long long)(sink & 1));
	geoip_free(g);
	free(addrs);
	free(seq);
	return 0;
}
