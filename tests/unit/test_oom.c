/*
 * test_oom: a reload that cannot allocate fails with a reason and leaks
 * nothing.  The program is linked with -Wl,--wrap for malloc, calloc,
 * realloc, reallocarray, strdup, strndup, asprintf and vasprintf, so
 * every allocation the library makes itself goes through a counter
 * here (those inside libc, inih, ldns or libidn2 do not).  The whole
 * load the daemon's loader thread does, loader_load(): config, manifest,
 * a source of each format, policy building, and a compiled snapshot,
 * runs once for every allocation point, failing the Nth allocation
 * only and then the Nth and every later one.  Each run must either fail
 * with "out of memory" among its messages or, when the failed
 * allocation was only an optimisation or a message, give the very
 * policy a normal load gives.  ASan and LSan catch crashes and leaks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/loader.h"
#include "base/config.h"
#include "base/diag.h"
#include "policy/policy.h"
#include "policy/snapshot.h"
#include "unit.h"

/* The injector. */

static bool oom_armed;		/* count (and fail) allocations */
static bool oom_persistent;	/* fail from the Nth on, not only the Nth */
static size_t oom_fail_at;	/* 1-based; 0: never */
static size_t oom_count;	/* allocations seen while armed */
static size_t oom_failed;	/* allocations failed while armed */

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__real_reallocarray(void *, size_t, size_t);
char *__real_strdup(const char *);
char *__real_strndup(const char *, size_t);
int __real_vasprintf(char **, const char *, va_list);

void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_realloc(void *, size_t);
void *__wrap_reallocarray(void *, size_t, size_t);
char *__wrap_strdup(const char *);
char *__wrap_strndup(const char *, size_t);
int __wrap_vasprintf(char **, const char *, va_list);
int __wrap_asprintf(char **, const char *, ...);

static bool
should_fail(void)
{
	if (!oom_armed)
		return false;
	oom_count++;
	if (oom_fail_at == 0 || oom_count < oom_fail_at ||
	    (!oom_persistent && oom_count != oom_fail_at))
		return false;
	oom_failed++;
	errno = ENOMEM;
	return true;
}

void *
__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

void *
__wrap_reallocarray(void *p, size_t n, size_t size)
{
	return should_fail() ? NULL : __real_reallocarray(p, n, size);
}

char *
__wrap_strdup(const char *s)
{
	return should_fail() ? NULL : __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : __real_strndup(s, n);
}

int
__wrap_vasprintf(char **s, const char *fmt, va_list ap)
{
	return should_fail() ? -1 : __real_vasprintf(s, fmt, ap);
}

int
__wrap_asprintf(char **s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (should_fail())
		return -1;
	va_start(ap, fmt);
	n = __real_vasprintf(s, fmt, ap);
	va_end(ap);
	return n;
}

/* The fixture. */

static char dir[] = "/tmp/test_oom.XXXXXX";

static const char *
in_dir(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	return p;
}

static void
write_file(const char *name, const char *text)
{
	const char *path = in_dir(name);
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

static void
setup(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	write_file("ex.domains", "binance.com\nexample.com  # comment\n"
	    "bad..name\nokx.com\n");
	write_file("ok.domains", "safe.example.com\n");
	write_file("ads.hosts", "0.0.0.0 ads.example.net tracker.example\n"
	    "127.0.0.1 localhost\n");
	write_file("ab.txt", "[Adblock Plus 2.0]\n||coin.example^\n"
	    "@@||fine.coin.example^\n/banner/*\n");
	write_file("reg.rpz", "$ORIGIN rpz.example.\n"
	    "@ SOA ns. admin. (1 3600 600 86400 60)\n"
	    "bad.example CNAME .\n*.wild.example CNAME .\n"
	    "24.0.2.0.192.rpz-ip CNAME .\n");
	write_file("nets.cidr", "198.51.100.0/24\n2001:db8::/32\n"
	    "203.0.113.1-203.0.113.9 ; range\nnot-an-address\n");
	write_file("ico.json", "{\"domains\": [\"ico.example\", "
	    "\"otc.example\", 7]}\n");
	write_file("sources.ini",
	    "[manifest]\nhome_country = cn\n"
	    "[source exchanges]\nfile = ex.domains\nformat = domains\n"
	    "category = exchange\n"
	    "[source mine]\nfile = ok.domains\nformat = domains\n"
	    "kind = allow\n"
	    "[source ads]\nfile = ads.hosts\nformat = hosts\n"
	    "[source adblock]\nfile = ab.txt\nformat = adblock\n"
	    "[source regulator]\nfile = reg.rpz\nformat = rpz\n"
	    "[source nets]\nfile = nets.cidr\nformat = cidr\n"
	    "category = infra\n"
	    "[source ico]\nfile = ico.json\nformat = json:domains\n");
	write_file("resolv.conf", "nameserver 192.0.2.53\n");
	write_file("cordon.conf",
	    "[server]\nlisten = 127.0.0.1:5353, [::1]:5353\n"
	    "allow = 127.0.0.0/8, ::1/128, 10.0.0.0/8\n"
	    "[upstream]\nservers = 127.0.0.1:5300, 127.0.0.2:5300\n"
	    "[policy]\nlists = sources.ini\naction = nodata\n"
	    "[log]\nblocked = blocked.jsonl\n"
	    "[control]\nsocket = control.sock\n");
}

static void
teardown(void)
{
	static const char *const files[] = {
		"ex.domains", "ok.domains", "ads.hosts", "ab.txt", "reg.rpz",
		"nets.cidr", "ico.json", "sources.ini", "resolv.conf",
		"cordon.conf", "policy.cpol",
	};
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(in_dir(files[i]));
	rmdir(dir);
}

/* What a load gave, to compare with a normal load. */
struct outcome {
	bool ok;
	char id[17];
	size_t entries, ranges, nlists;
	bool says_oom;		/* a stored message says "out of memory" */
	size_t messages;
};

static bool
mentions_oom(const struct diag *d)
{
	const char *m;
	size_t i;

	for (i = 0; (m = diag_get(d, i)) != NULL; i++)
		if (strstr(m, "out of memory") != NULL)
			return true;
	return false;
}

static void
judge(struct policy *p, struct diag *d, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->ok = p != NULL;
	o->says_oom = mentions_oom(d);
	o->messages = diag_count(d);
	if (p == NULL)
		return;
	snprintf(o->id, sizeof(o->id), "%s", policy_id(p));
	o->entries = policy_entries(p);
	o->ranges = policy_ranges(p);
	o->nlists = policy_nlists(p);
}

/* The daemon's load: config, then the policy it names. */
static void
load_config(struct outcome *o)
{
	struct diag *d = diag_new();
	struct config *cfg = NULL;
	struct policy *p = NULL;

	if (d == NULL)
		abort();
	oom_armed = true;
	if (loader_load(in_dir("cordon.conf"), d, &cfg, &p) == -1)
		cfg = NULL, p = NULL;
	oom_armed = false;
	judge(p, d, o);
	if (p != NULL && (cfg == NULL || cfg->answer.action != ACTION_NODATA ||
	    cfg->nlisten != 2 || cfg->nallow != 3 || cfg->nupstreams != 2 ||
	    strstr(cfg->lists, "/sources.ini") == NULL ||
	    cfg->lists[0] != '/'))
		o->ok = false, snprintf(o->id, sizeof(o->id), "bad config");
	config_free(cfg);
	policy_unref(p);
	diag_free(d);
}

/* A compiled snapshot of the same lists. */
static void
load_snapshot(struct outcome *o)
{
	struct policy_answer pa = { 0 };
	struct diag *d = diag_new();
	struct policy *p;

	if (d == NULL)
		abort();
	/* The answer arrays are copied into the policy: one more place. */
	pa.countries = (const char (*)[3])"KY";
	pa.ncountries = 1;
	oom_armed = true;
	p = policy_load(in_dir("policy.cpol"), &pa, d);
	oom_armed = false;
	judge(p, d, o);
	policy_unref(p);
	diag_free(d);
}

/*
 * Runs load with the Nth allocation failing, N = 1.. until a run
 * allocates fewer than N times; returns how many points were walked.
 */
static size_t
walk(const char *what, void (*load)(struct outcome *), bool persistent)
{
	struct outcome want, got;
	size_t n, total, failed_runs = 0;

	oom_fail_at = 0;
	oom_count = 0;
	load(&want);
	total = oom_count;
	CHECK(want.ok, "%s: a normal load works", what);
	CHECK(total > 0, "%s: the load allocates through the wrappers",
	    what);
	oom_persistent = persistent;
	for (n = 1; n <= total + 1 && n < 100000; n++) {
		oom_fail_at = n;
		oom_count = 0;
		oom_failed = 0;
		load(&got);
		if (oom_failed == 0) {
			CHECK(n == total + 1, "%s: run %zu failed nothing "
			    "(total %zu)", what, n, total);
			CHECK(got.ok && strcmp(got.id, want.id) == 0,
			    "%s: run %zu with nothing failed", what, n);
			continue;
		}
		if (!got.ok) {
			failed_runs++;
			/* Failing from N on, even the message may not fit;
			 * it is still counted. */
			CHECK(persistent ? got.messages > 0 : got.says_oom,
			    "%s: allocation %zu/%zu failed the load without "
			    "saying out of memory", what, n, total);
			continue;
		}
		CHECK(strcmp(got.id, want.id) == 0 &&
		    got.entries == want.entries &&
		    got.ranges == want.ranges && got.nlists == want.nlists,
		    "%s: allocation %zu/%zu failed but the load gave policy "
		    "%s (%zu names, %zu ranges), not %s (%zu, %zu)", what, n,
		    total, got.id, got.entries, got.ranges, want.id,
		    want.entries, want.ranges);
	}
	oom_fail_at = 0;
	oom_persistent = false;
	printf("%s%s: %zu allocation points, %zu runs failed the load\n",
	    what, persistent ? " (failing from N on)" : "", total,
	    failed_runs);
	CHECK(failed_runs > 0, "%s: some failure failed the load", what);
	return total;
}

static void
make_snapshot(void)
{
	struct diag *d = diag_new();
	struct policy_answer pa = { 0 };
	struct policy *p;

	p = policy_load(in_dir("sources.ini"), &pa, d);
	if (p == NULL || snapshot_write(p, in_dir("policy.cpol"), d) != 0) {
		diag_print(d, stderr);
		exit(99);
	}
	policy_unref(p);
	diag_free(d);
}

int
main(void)
{
	setup();
	make_snapshot();
	walk("config and manifest", load_config, false);
	walk("config and manifest", load_config, true);
	walk("snapshot", load_snapshot, false);
	walk("snapshot", load_snapshot, true);
	teardown();
	return unit_exit();
}
