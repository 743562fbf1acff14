/*
 * fetch: downloads a `url =` source into a local cache for `cordon
 * compile`, with conditional requests (ETag, Last-Modified) and a last
 * good copy that a failed download never replaces.  It parses nothing
 * and prints nothing: the caller reports and parses the copy it names.
 *
 * Uses libcurl.  The caller must call curl_global_init(CURL_GLOBAL_DEFAULT)
 * once, before any thread is started and before the first fetch_source(),
 * and curl_global_cleanup() at exit; this module keeps no global state.
 */
#ifndef CORDON_FETCH_H
#define CORDON_FETCH_H

#include <stddef.h>
#include <time.h>

struct source;

#define FETCH_MAX_BYTES	(256UL * 1024 * 1024)	/* a larger body fails */
#define FETCH_MAX_REDIRECTS 5

enum fetch_status {
	FETCH_FETCHED,		/* downloaded; path is the new copy */
	FETCH_NOT_MODIFIED,	/* 304: path is the kept copy */
	FETCH_FAILED_CACHED,	/* failed (see error); path is the last
				 * good copy */
	FETCH_FAILED,		/* failed and no copy: path is NULL */
};

struct fetch_result {
	enum fetch_status status;
	char *path;		/* the local copy to parse, or NULL; owned */
	char *error;		/* why it failed, without the URL (e.g.
				 * "HTTP status 500"); owned, or NULL when
				 * status is FETCH_FETCHED/NOT_MODIFIED, or
				 * when even the reason could not be
				 * allocated (then: out of memory) */
	long http_code;		/* last response's status; 0 when none */
	size_t bytes;		/* body bytes received by this transfer */
	time_t fetched_at;	/* when path was downloaded (0: unknown or
				 * no copy) */
};

/*
 * Fetches src->url (http or https; redirects followed, at most
 * FETCH_MAX_REDIRECTS, to http or https only) into
 * CACHE_DIR/<src->name>.data, creating CACHE_DIR (one level) when it is
 * missing.  The ETag and Last-Modified of the response are kept in
 * CACHE_DIR/<src->name>.meta, with the URL, and sent back as
 * If-None-Match / If-Modified-Since the next time the same URL is
 * fetched.  The body is written to a temporary file in CACHE_DIR and
 * renamed over the copy only when the whole transfer succeeded.
 *
 * Failures: no connection, TLS errors, HTTP status >= 400 or any status
 * but 200 and 304, more than FETCH_MAX_BYTES, more than timeout_s seconds
 * in all (0: no limit), a cache that cannot be written.  A cached copy
 * counts only when it was fetched from the same URL.
 *
 * Fills r (any previous contents are overwritten, not freed; start from
 * a zeroed struct or after fetch_result_clear()).  Returns 0 when
 * r->path names a copy to parse (FETCH_FETCHED, FETCH_NOT_MODIFIED,
 * FETCH_FAILED_CACHED), -1 when there is none (FETCH_FAILED).  Either
 * way release r with fetch_result_clear().
 */
int fetch_source(const struct source *src, const char *cache_dir,
    long timeout_s, struct fetch_result *r);

/* Frees what r owns and zeroes it. */
void fetch_result_clear(struct fetch_result *r);

/* "fetched", "not_modified", "failed_cached", "failed" (report.json). */
const char *fetch_status_name(enum fetch_status s);

#endif
