/*
 * fetch: one libcurl easy transfer per `url =` source, into a cache
 * directory that holds the last good copy (<name>.data) and what is
 * needed to revalidate it (<name>.meta).  Reporting and parsing are the
 * caller's; see fetch.h for the contract.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool/fetch.h"
#include "policy/sources.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* What CACHE/<name>.meta remembers about CACHE/<name>.data. */
struct meta {
	char *url;		/* the copy is of this URL */
	char *etag;		/* validators the server sent, or NULL */
	char *last_modified;
	time_t fetched_at;
};

/* Where the body goes while it downloads. */
struct sink {
	FILE *f;
	size_t bytes;
	bool is_too_big;
	int write_errno;	/* nonzero: writing the file failed */
};

/* One fetch_source() call. */
struct fetch {
	const struct source *src;
	char *data;		/* CACHE/<name>.data */
	char *meta;		/* CACHE/<name>.meta */
	char *tmp;		/* the body being downloaded, or NULL */
	struct meta old;	/* of the copy in data */
	struct meta fresh;	/* of a 200 response */
	bool has_copy;		/* data holds a good copy of src->url */
	struct fetch_result *r;
};

#define NOMEM "out of memory while fetching"

/* A formatted string, or NULL with errno ENOMEM. */
static char *
dup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1) {
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

static void
meta_clear(struct meta *m)
{
	free(m->url);
	free(m->etag);
	free(m->last_modified);
	memset(m, 0, sizeof(*m));
}

/* A header value we may send back: no control characters (no CR/LF
 * smuggled into our request), not empty, not absurdly long. */
static bool
is_header_value(const char *v)
{
	size_t n = 0;

	for (; v[n] != '\0'; n++)
		if ((unsigned char)v[n] < 0x20 || v[n] == 0x7f)
			return false;
	return n > 0 && n < 1024;
}

/*
 * Reads "KEY VALUE" lines.  A missing or unreadable file is an empty
 * meta (nothing to revalidate, no copy we can vouch for); unknown keys
 * are skipped so later versions may add some.
 */
static void
meta_read(const char *path, struct meta *m)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *v;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if ((v = strchr(line, ' ')) == NULL)
			continue;
		*v++ = '\0';
		/* A value that cannot be copied counts as missing: the copy
		 * is then not used and the next request is unconditional. */
		if (strcmp(line, "url") == 0 && m->url == NULL)
			m->url = strdup(v);
		else if (strcmp(line, "etag") == 0 && m->etag == NULL &&
		    is_header_value(v))
			m->etag = strdup(v);
		else if (strcmp(line, "last-modified") == 0 &&
		    m->last_modified == NULL && is_header_value(v))
			m->last_modified = strdup(v);
		else if (strcmp(line, "fetched") == 0)
			m->fetched_at = (time_t)strtoll(v, NULL, 10);
	}
	free(line);
	fclose(f);
}

/* Writes m to a new temporary file next to path; returns its name, or
 * NULL with errno set. */
static char *
meta_write_tmp(const char *path, const struct meta *m)
{
	char *tmp = dup_printf("%s.tmp.XXXXXX", path);
	FILE *f;
	int fd, saved;
	bool is_ok;

	if (tmp == NULL)
		return NULL;
	if ((fd = mkstemp(tmp)) == -1) {
		free(tmp);
		return NULL;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		saved = errno;
		close(fd);
		goto fail;
	}
	fchmod(fd, 0644);
	fprintf(f, "url %s\n", m->url);
	if (m->etag != NULL)
		fprintf(f, "etag %s\n", m->etag);
	if (m->last_modified != NULL)
		fprintf(f, "last-modified %s\n", m->last_modified);
	fprintf(f, "fetched %lld\n", (long long)m->fetched_at);
	is_ok = fflush(f) == 0 && fsync(fd) == 0;
	saved = errno;
	if (fclose(f) != 0 && is_ok) {
		is_ok = false;
		saved = errno;
	}
	if (is_ok)
		return tmp;
fail:
	unlink(tmp);
	free(tmp);
	errno = saved;
	return NULL;
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	/* CURLOPT_MAXFILESIZE only trusts Content-Length; a chunked or
	 * compressed body is counted here, as it is decoded. */
	if (n > FETCH_MAX_BYTES - s->bytes) {
		s->is_too_big = true;
		return 0;
	}
	if (n > 0 && fwrite(ptr, 1, n, s->f) != n) {
		s->write_errno = errno ? errno : EIO;
		return 0;
	}
	s->bytes += n;
	return n;
}

static void
set_error(struct fetch_result *r, const char *fmt, ...)
{
	va_list ap;

	free(r->error);
	va_start(ap, fmt);
	if (vasprintf(&r->error, fmt, ap) == -1)
		r->error = NULL;	/* fetch.h: out of memory */
	va_end(ap);
}

/* Appends one header line to *h; -1 when out of memory. */
static int
add_header(struct curl_slist **h, const char *name, const char *value)
{
	struct curl_slist *n;
	char *line;

	if ((line = dup_printf("%s: %s", name, value)) == NULL)
		return -1;
	n = curl_slist_append(*h, line);
	free(line);
	if (n == NULL)
		return -1;
	*h = n;
	return 0;
}

/* If-None-Match / If-Modified-Since from the last good copy, in *h
 * (NULL: none).  -1 when out of memory. */
static int
conditional_headers(const struct fetch *ft, struct curl_slist **h)
{
	*h = NULL;
	if (!ft->has_copy)
		return 0;
	if ((ft->old.etag != NULL &&
	    add_header(h, "If-None-Match", ft->old.etag) == -1) ||
	    (ft->old.last_modified != NULL && add_header(h,
	    "If-Modified-Since", ft->old.last_modified) == -1)) {
		curl_slist_free_all(*h);
		*h = NULL;
		return -1;
	}
	return 0;
}

static void
set_options(CURL *c, const struct fetch *ft, long timeout_s,
    struct sink *s, struct curl_slist *h, char *errbuf)
{
	curl_easy_setopt(c, CURLOPT_URL, ft->src->url);
	/* No file://, ftp:// or the rest of libcurl's protocols, not even
	 * through a redirect: a list server must not make us read local
	 * files or talk to other services. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)FETCH_MAX_BYTES);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cordon/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	if (h != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
}

/* The value of a header of the final response, or NULL. */
static char *
header_value(CURL *c, const char *name)
{
	struct curl_header *h;

	if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
	    !is_header_value(h->value))
		return NULL;
	return strdup(h->value);	/* NULL: kept as if not sent */
}

/* Why a transfer that curl_easy_perform() ended with rc failed. */
static void
transfer_error(struct fetch *ft, CURLcode rc, const struct sink *s,
    const char *errbuf)
{
	if (s->is_too_big || rc == CURLE_FILESIZE_EXCEEDED)
		set_error(ft->r, "larger than %lu MiB",
		    (unsigned long)(FETCH_MAX_BYTES >> 20));
	else if (s->write_errno != 0)
		set_error(ft->r, "cannot write %s: %s", ft->tmp,
		    strerror(s->write_errno));
	else
		set_error(ft->r, "%s", errbuf[0] ? errbuf :
		    curl_easy_strerror(rc));
}

/* Runs the transfer into s->f; 0 when a 200 or 304 arrived whole. */
static int
transfer(struct fetch *ft, long timeout_s, struct sink *s)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h;
	CURL *c;
	CURLcode rc;
	int ret = -1;

	if (conditional_headers(ft, &h) == -1) {
		set_error(ft->r, NOMEM);
		return -1;
	}
	if ((c = curl_easy_init()) == NULL) {
		set_error(ft->r, "cannot start libcurl");
		curl_slist_free_all(h);
		return -1;
	}
	set_options(c, ft, timeout_s, s, h, errbuf);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ft->r->http_code);
	ft->r->bytes = s->bytes;
	if (rc != CURLE_OK)
		transfer_error(ft, rc, s, errbuf);
	else if (ft->r->http_code == 304 && h == NULL)
		set_error(ft->r, "HTTP status 304 to a request that was not "
		    "conditional");
	else if (ft->r->http_code != 200 && ft->r->http_code != 304)
		set_error(ft->r, "HTTP status %ld", ft->r->http_code);
	else
		ret = 0;
	if (ret == 0 && ft->r->http_code == 200 &&
	    (ft->fresh.url = strdup(ft->src->url)) == NULL) {
		set_error(ft->r, NOMEM);
		ret = -1;
	}
	if (ret == 0 && ft->r->http_code == 200) {
		ft->fresh.etag = header_value(c, "ETag");
		ft->fresh.last_modified = header_value(c, "Last-Modified");
		ft->fresh.fetched_at = time(NULL);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return ret;
}

/* Makes the downloaded body (and ft->fresh, its meta) the copy. */
static int
keep_new_copy(struct fetch *ft, FILE *f)
{
	char *mtmp = NULL;

	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		set_error(ft->r, "cannot write %s: %s", ft->tmp,
		    strerror(errno));
		return -1;
	}
	/* The meta goes second: a crash in between leaves the old meta,
	 * whose validators then ask the server for a fresh body. */
	if ((mtmp = meta_write_tmp(ft->meta, &ft->fresh)) == NULL ||
	    rename(ft->tmp, ft->data) != 0) {
		set_error(ft->r, "cannot write %s: %s",
		    mtmp == NULL ? ft->meta : ft->data, strerror(errno));
		if (mtmp != NULL)
			unlink(mtmp);
		free(mtmp);
		return -1;
	}
	free(ft->tmp);
	ft->tmp = NULL;
	if (rename(mtmp, ft->meta) != 0) {
		unlink(mtmp);
		unlink(ft->meta);
	}
	free(mtmp);
	return 0;
}

/* Downloads into a temporary file; 0 when ft->r is FETCHED or
 * NOT_MODIFIED, -1 with ft->r->error set otherwise. */
static int
download(struct fetch *ft, long timeout_s)
{
	struct sink s = { 0 };
	int fd, rc = -1;

	if ((ft->tmp = dup_printf("%s.tmp.XXXXXX", ft->data)) == NULL) {
		set_error(ft->r, NOMEM);
		return -1;
	}
	if ((fd = mkstemp(ft->tmp)) == -1 ||
	    (s.f = fdopen(fd, "w")) == NULL) {
		set_error(ft->r, "cannot write %s: %s", ft->tmp,
		    strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(ft->tmp);
		}
		free(ft->tmp);
		ft->tmp = NULL;
		return -1;
	}
	fchmod(fd, 0644);
	if (transfer(ft, timeout_s, &s) == 0) {
		if (ft->r->http_code == 304) {
			ft->r->status = FETCH_NOT_MODIFIED;
			rc = 0;
		} else if (keep_new_copy(ft, s.f) == 0) {
			ft->r->status = FETCH_FETCHED;
			rc = 0;
		}
	}
	fclose(s.f);
	if (ft->tmp != NULL)
		unlink(ft->tmp);
	return rc;
}

int
fetch_source(const struct source *src, const char *cache_dir,
    long timeout_s, struct fetch_result *r)
{
	struct fetch ft = { .src = src, .r = r };
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->status = FETCH_FAILED;
	if (src->url == NULL || strchr(src->name, '/') != NULL) {
		set_error(r, "not a url source");
		return -1;
	}
	if (mkdir(cache_dir, 0755) == -1 && errno != EEXIST) {
		set_error(r, "cannot create %s: %s", cache_dir,
		    strerror(errno));
		return -1;
	}
	ft.data = dup_printf("%s/%s.data", cache_dir, src->name);
	ft.meta = dup_printf("%s/%s.meta", cache_dir, src->name);
	if (ft.data == NULL || ft.meta == NULL) {
		set_error(r, NOMEM);
		free(ft.data);
		free(ft.meta);
		return -1;
	}
	meta_read(ft.meta, &ft.old);
	ft.has_copy = ft.old.url != NULL &&
	    strcmp(ft.old.url, src->url) == 0 && access(ft.data, R_OK) == 0;
	if (download(&ft, timeout_s) == 0) {
		free(r->error);
		r->error = NULL;
		rc = 0;
	} else if (ft.has_copy) {
		r->status = FETCH_FAILED_CACHED;
		rc = 0;
	}
	if (rc == 0) {
		r->path = ft.data;
		ft.data = NULL;
		r->fetched_at = r->status == FETCH_FETCHED ?
		    ft.fresh.fetched_at : ft.old.fetched_at;
	}
	free(ft.data);
	free(ft.meta);
	free(ft.tmp);
	meta_clear(&ft.old);
	meta_clear(&ft.fresh);
	return rc;
}

void
fetch_result_clear(struct fetch_result *r)
{
	free(r->path);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

const char *
fetch_status_name(enum fetch_status s)
{
	switch (s) {
	case FETCH_FETCHED:
		return "fetched";
	case FETCH_NOT_MODIFIED:
		return "not_modified";
	case FETCH_FAILED_CACHED:
		return "failed_cached";
	case FETCH_FAILED:
		return "failed";
	}
	return "failed";
}
