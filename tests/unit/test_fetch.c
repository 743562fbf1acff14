/*
 * Unit tests for fetch.c that need no network: the cache rules around a
 * transfer that fails before it starts (a refused file:// URL), and the
 * status names.  Real transfers are tested by tests/system/test_fetch.py.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool/fetch.h"
#include "policy/sources.h"
#include "unit.h"

#define URL "file:///etc/hostname"

static void
put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

static size_t
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

static const struct {
	const char *name;
	const char *meta;	/* NULL: no cached copy at all */
	int want_rc;
	enum fetch_status want;
} cases[] = {
	{ "no-copy", NULL, -1, FETCH_FAILED },
	{ "copy", "url " URL "\netag \"x\"\nfetched 1700000000\n", 0,
	    FETCH_FAILED_CACHED },
	{ "other-url", "url http://elsewhere.test/\nfetched 1\n", -1,
	    FETCH_FAILED },
	{ "bad-meta", "garbage\n", -1, FETCH_FAILED },
};

static void
test_failures(const char *cache)
{
	size_t i, before;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char meta[128], data[128];
		struct source src = { .name = (char *)cases[i].name,
		    .url = URL };
		struct fetch_result r = { 0 };
		int rc;

		snprintf(meta, sizeof(meta), "%s.meta", cases[i].name);
		snprintf(data, sizeof(data), "%s.data", cases[i].name);
		if (cases[i].meta != NULL) {
			put(cache, meta, cases[i].meta);
			put(cache, data, "kept.example\n");
		}
		before = count_files(cache);
		rc = fetch_source(&src, cache, 5, &r);
		CHECK(rc == cases[i].want_rc, "%s: rc %d", cases[i].name, rc);
		CHECK_STR(fetch_status_name(r.status),
		    fetch_status_name(cases[i].want), "%s", cases[i].name);
		CHECK(r.error != NULL && strstr(r.error, "file") != NULL,
		    "%s: error %s", cases[i].name, r.error ? r.error : "-");
		CHECK((r.path != NULL) == (rc == 0), "%s: path %s",
		    cases[i].name, r.path ? r.path : "-");
		if (cases[i].want == FETCH_FAILED_CACHED)
			CHECK(r.fetched_at == 1700000000, "%s: fetched_at "
			    "%lld", cases[i].name, (long long)r.fetched_at);
		CHECK(count_files(cache) == before, "%s: %zu files, want %zu "
		    "(a temporary file was left)", cases[i].name,
		    count_files(cache), before);
		fetch_result_clear(&r);
		CHECK(r.path == NULL && r.error == NULL, "%s: cleared",
		    cases[i].name);
	}
}

int
main(void)
{
	char top[] = "/tmp/test_fetch.XXXXXX", cache[64], cmd[96];
	struct source notes = { .name = "x" };
	struct fetch_result r = { 0 };
	static const char *const names[] = {	/* report.json's words */
		[FETCH_FETCHED] = "fetched",
		[FETCH_NOT_MODIFIED] = "not_modified",
		[FETCH_FAILED_CACHED] = "failed_cached",
		[FETCH_FAILED] = "failed",
	};
	size_t i;

	if (mkdtemp(top) == NULL)
		return 99;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(cache, sizeof(cache), "%s/cache", top);
	test_failures(cache);	/* the first call creates cache */

	CHECK(fetch_source(&notes, cache, 5, &r) == -1, "file source");
	CHECK(r.status == FETCH_FAILED && r.path == NULL, "file source");
	fetch_result_clear(&r);

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK_STR(fetch_status_name(i), names[i], "status %zu", i);

	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (unit_failures == 0 && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", top);
	return unit_exit();
}
