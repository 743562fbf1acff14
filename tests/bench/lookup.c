/*
 * lookup: times cordon's policy lookups in-process (tests/bench/run-issue3).
 *
 * Loads a policy with policy_load() (a compiled .cpol snapshot or a
 * sources manifest), then times policy_check_name() over a file of names
 * that should be blocked and a file of names that should not, and
 * policy_check_addr() over files of addresses inside and outside the
 * listed ranges.  Every input is converted to the form the lookup takes
 * (lower-case wire names, binary addresses) before timing starts; the
 * timed loops do nothing but the lookups, in file order (the harness
 * shuffles the files, so the loops touch the tables at random).
 *
 * Usage: lookup POLICY NAMES_HIT NAMES_MISS [ADDRS_HIT ADDRS_MISS] [-r REPS]
 *        (a file argument "-" skips that set)
 * Output: "key value" lines, one per figure, for the harness to parse:
 *   load_ms, rss_kb_before/after, rss_anon_kb_*, rss_file_kb_*,
 *   <set>_n, <set>_blocked, <set>_ns_median, <set>_ns_min, <set>_cpu_ns_median
 * where <set> is name_hit, name_miss, addr4_hit, addr4_miss, addr6_hit,
 * addr6_miss.  ns = wall nanoseconds per lookup; cpu_ns = thread CPU
 * nanoseconds per lookup (less moved by other tenants on a shared machine).
 *
 * Build (run-issue3 does this):
 *   gcc -O2 -I daemon tests/bench/lookup.c daemon/libcordon.a \
 *     $(pkg-config --libs ldns libcrypto libevent libmaxminddb inih libidn2 \
 *     libcurl zlib) -lpthread -o lookup
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/diag.h"
#include "base/dname.h"
#include "policy/loader.h"
#include "policy/policy.h"

struct names {
	uint8_t *buf;		/* wire names back to back */
	size_t *off;
	size_t n, cap, len, bufcap;
};

struct addrs {
	uint8_t (*a)[16];
	size_t n, cap;
};

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL) {
		perror("lookup: realloc");
		exit(1);
	}
	return p;
}

static char *
trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static void
read_names(const char *path, struct names *nm)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	uint8_t wire[DNAME_MAXWIRE];
	const char *why;
	size_t lineno = 0, wl;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line);

		lineno++;
		if (*s == '\0' || *s == '#')
			continue;
		wl = dname_from_text(s, strlen(s), wire, &why);
		if (wl == 0) {
			fprintf(stderr, "lookup: %s:%zu: %s\n", path, lineno, why);
			continue;
		}
		if (nm->len + wl > nm->bufcap) {
			nm->bufcap = nm->bufcap ? nm->bufcap * 2 : 1 << 20;
			nm->buf = xrealloc(nm->buf, nm->bufcap);
		}
		if (nm->n == nm->cap) {
			nm->cap = nm->cap ? nm->cap * 2 : 1 << 16;
			nm->off = xrealloc(nm->off, nm->cap * sizeof(*nm->off));
		}
		memcpy(nm->buf + nm->len, wire, wl);
		nm->off[nm->n++] = nm->len;
		nm->len += wl;
	}
	fclose(f);
}

static void
read_addrs(const char *path, struct addrs *v4, struct addrs *v6)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t lineno = 0;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line);
		struct addrs *v;
		int fam;

		lineno++;
		if (*s == '\0' || *s == '#')
			continue;
		fam = strchr(s, ':') ? AF_INET6 : AF_INET;
		v = fam == AF_INET ? v4 : v6;
		if (v->n == v->cap) {
			v->cap = v->cap ? v->cap * 2 : 1 << 16;
			v->a = xrealloc(v->a, v->cap * sizeof(*v->a));
		}
		memset(v->a[v->n], 0, 16);
		if (inet_pton(fam, s, v->a[v->n]) != 1) {
			fprintf(stderr, "lookup: %s:%zu: bad address\n", path,
			    lineno);
			continue;
		}
		v->n++;
	}
	fclose(f);
}

static double
now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Status fields of this process, in kB. */
static void
mem(long *rss, long *anon, long *file)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	*rss = *anon = *file = -1;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss = atol(line + 6);
		else if (strncmp(line, "RssAnon:", 8) == 0)
			*anon = atol(line + 8);
		else if (strncmp(line, "RssFile:", 8) == 0)
			*file = atol(line + 8);
	}
	fclose(f);
}

#define MAXREPS 50

static void
report(const char *set, size_t n, size_t blocked, double *wall, double *cpu,
    int reps)
{
	double mn = wall[0];
	int i;

	for (i = 1; i < reps; i++)
		if (wall[i] < mn)
			mn = wall[i];
	printf("%s_n %zu\n%s_blocked %zu\n", set, n, set, blocked);
	printf("%s_ns_min %.1f\n", set, mn / n);
	printf("%s_ns_median %.1f\n", set, median(wall, reps) / n);
	printf("%s_cpu_ns_median %.1f\n", set, median(cpu, reps) / n);
}

static void
time_names(const struct policy *p, const char *set, const struct names *nm,
    int reps)
{
	double wall[MAXREPS], cpu[MAXREPS];
	size_t blocked = 0, i;
	struct verdict v;
	int r;

	if (nm->n == 0)
		return;
	/* one untimed pass: page in the tables, warm the caches */
	for (i = 0; i < nm->n; i++)
		policy_check_name(p, nm->buf + nm->off[i], &v);
	for (r = 0; r < reps; r++) {
		double w0 = now_ns(CLOCK_MONOTONIC);
		double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);

		blocked = 0;
		for (i = 0; i < nm->n; i++)
			blocked += policy_check_name(p, nm->buf + nm->off[i],
			    &v);
		cpu[r] = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		wall[r] = now_ns(CLOCK_MONOTONIC) - w0;
	}
	report(set, nm->n, blocked, wall, cpu, reps);
}

static void
time_addrs(const struct policy *p, const char *set, int fam,
    const struct addrs *a, int reps)
{
	double wall[MAXREPS], cpu[MAXREPS];
	size_t blocked = 0, i;
	struct addr_verdict v;
	int r;

	if (a->n == 0)
		return;
	for (i = 0; i < a->n; i++)
		policy_check_addr(p, fam, a->a[i], &v);
	for (r = 0; r < reps; r++) {
		double w0 = now_ns(CLOCK_MONOTONIC);
		double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);

		blocked = 0;
		for (i = 0; i < a->n; i++)
			blocked += policy_check_addr(p, fam, a->a[i], &v);
		cpu[r] = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		wall[r] = now_ns(CLOCK_MONOTONIC) - w0;
	}
	report(set, a->n, blocked, wall, cpu, reps);
}

int
main(int argc, char **argv)
{
	const char *files[5] = { NULL };
	struct names hit = { 0 }, miss = { 0 };
	struct addrs h4 = { 0 }, h6 = { 0 }, m4 = { 0 }, m6 = { 0 };
	struct policy_answer pa;
	struct diag *d;
	struct policy *p;
	long rss0, anon0, file0, rss1, anon1, file1;
	double t0, t1;
	int reps = 5, nf = 0, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (nf < 5)
			files[nf++] = argv[i];
	}
	if (nf < 3 || reps < 1 || reps > MAXREPS) {
		fprintf(stderr, "usage: lookup POLICY NAMES_HIT NAMES_MISS "
		    "[ADDRS_HIT ADDRS_MISS] [-r REPS]\n");
		return 2;
	}

	/* Read the inputs first, so the memory figures below are the
	 * policy's alone. */
	if (strcmp(files[1], "-") != 0)
		read_names(files[1], &hit);
	if (strcmp(files[2], "-") != 0)
		read_names(files[2], &miss);
	if (nf >= 4 && strcmp(files[3], "-") != 0)
		read_addrs(files[3], &h4, &h6);
	if (nf >= 5 && strcmp(files[4], "-") != 0)
		read_addrs(files[4], &m4, &m6);

	memset(&pa, 0, sizeof(pa));
	d = diag_new();
	mem(&rss0, &anon0, &file0);
	t0 = now_ns(CLOCK_MONOTONIC);
	p = policy_load(files[0], &pa, d);
	t1 = now_ns(CLOCK_MONOTONIC);
	mem(&rss1, &anon1, &file1);
	if (p == NULL) {
		diag_print(d, stderr);
		fprintf(stderr, "lookup: %s: could not load\n", files[0]);
		return 1;
	}
	printf("load_ms %.2f\n", (t1 - t0) / 1e6);
	printf("entries %zu\nranges %zu\npolicy_memory %zu\n",
	    policy_entries(p), policy_ranges(p), policy_memory(p));
	printf("rss_kb_before %ld\nrss_kb_after %ld\n", rss0, rss1);
	printf("rss_anon_kb_before %ld\nrss_anon_kb_after %ld\n", anon0, anon1);
	printf("rss_file_kb_before %ld\nrss_file_kb_after %ld\n", file0, file1);
	fflush(stdout);

	time_names(p, "name_hit", &hit, reps);
	time_names(p, "name_miss", &miss, reps);
	time_addrs(p, "addr4_hit", AF_INET, &h4, reps);
	time_addrs(p, "addr4_miss", AF_INET, &m4, reps);
	time_addrs(p, "addr6_hit", AF_INET6, &h6, reps);
	time_addrs(p, "addr6_miss", AF_INET6, &m6, reps);

	policy_unref(p);
	diag_free(d);
	free(hit.buf);
	free(hit.off);
	free(miss.buf);
	free(miss.off);
	free(h4.a);
	free(h6.a);
	free(m4.a);
	free(m6.a);
	return 0;
}
