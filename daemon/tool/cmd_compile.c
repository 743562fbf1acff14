/*
 * cordon compile MANIFEST -o DIR [--export FMT,...] [--strict]: builds
 * DIR/policy.cpol, the exports asked for, and DIR/report.json (per
 * source counts and bad lines, totals, names added and removed since the
 * previous build in DIR, the policy id).  Every file is written through
 * a temporary file and a rename, so a failed build leaves DIR as it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/atomicfile.h"
#include "tool/cmd.h"
#include "base/diag.h"
#include "base/dname.h"
#include "tool/export.h"
#include "tool/fetch.h"
#include "policy/geoip.h"
#include "base/json.h"
#include "base/netaddr.h"
#include "policy/policy.h"
#include "policy/snapshot.h"
#include "policy/sources.h"

#define REPORT_NAMES_MAX 1000	/* added/removed names listed in full */
#define FETCH_TIMEOUT_S 120

struct build {
	const char *manifest_path;
	const char *dir;
	unsigned exports;
	bool strict;
	bool geoip;			/* --geoip: annotate ranges */
	const char *country_db;
	const char *asn_db;
	unsigned wide4, wide6;		/* warn about ranges wider */
	struct geoip *geo;
	size_t geo_warnings;
	struct manifest *m;
	struct diag **ds;		/* per source, then the manifest's */
	struct source_stats *stats;
	struct fetch_result *fetches;	/* per source; url sources only */
	struct policy *policy;
	struct policy *previous;
	size_t *added, *removed;	/* per source, against previous */
	size_t export_counts[EXPORT_NFORMATS];
};

static int
parse_width(const char *text, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*text == '/')
		text++;
	v = strtoul(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: cordon compile MANIFEST -o DIR "
	    "[--export FMT,...] [--strict]\n"
	    "       [--geoip --country-db FILE --asn-db FILE "
	    "[--wide4 N] [--wide6 N]]\n"
	    "  formats: rpz, hosts, dnsmasq, unbound, nft, ipset, domains, "
	    "cidr, all\n");
}

static char *
path_in(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		cmd_oom("naming an output file");
	return p;
}

/* ---- names and ranges added and removed since the previous build ---- */

struct diff {
	const struct policy *other;	/* NULL: nothing to compare with */
	FILE *f;
	size_t count;
};

static void
diff_item(struct diff *df, const char *text)
{
	if (df->count < REPORT_NAMES_MAX) {
		fputs(df->count ? "," : "", df->f);
		json_put_string(df->f, text);
	}
	df->count++;
}

static void
diff_name(void *arg, const uint8_t *name, size_t len,
    const struct policy_list *l, bool allow)
{
	struct diff *df = arg;
	char text[DNAME_MAXTEXT];

	if (df->other != NULL && policy_has_name(df->other, name))
		return;
	dname_to_text(name, text, sizeof(text));
	diff_item(df, text);
}

static void
diff_range(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    const struct policy_list *l, bool allow)
{
	struct diff *df = arg;
	struct addr_verdict v = { .family = family };
	char text[128];

	if (df->other != NULL && policy_has_range(df->other, family, lo, hi))
		return;
	memcpy(v.lo, lo, family == AF_INET ? 4 : 16);
	memcpy(v.hi, hi, family == AF_INET ? 4 : 16);
	policy_format_range(&v, text, sizeof(text));
	diff_item(df, text);
}

/*
 * Per source: entries (names and ranges) this build adds and removes
 * against the previous one.  An entry that moved from one list to
 * another is removed from the first and added to the second.
 */
struct per_source {
	const struct build *b;
	const struct policy *other;
	size_t *count;
};

static size_t
source_index(const struct build *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->m->nsources; i++)
		if (strcmp(b->m->sources[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static void
count_moved(struct per_source *ps, const struct policy_list *mine,
    const struct policy_list *theirs)
{
	size_t i;

	if (theirs != NULL && strcmp(theirs->name, mine->name) == 0)
		return;
	if ((i = source_index(ps->b, mine->name)) != SIZE_MAX)
		ps->count[i]++;
}

static void
per_source_name(void *arg, const uint8_t *name, size_t len,
    const struct policy_list *l, bool allow)
{
	struct per_source *ps = arg;

	count_moved(ps, l, ps->other ? policy_name_list(ps->other, name) :
	    NULL);
}

static void
per_source_range(void *arg, int family, const uint8_t *lo,
    const uint8_t *hi, const struct policy_list *l, bool allow)
{
	struct per_source *ps = arg;

	count_moved(ps, l, ps->other ? policy_range_list(ps->other, family,
	    lo, hi) : NULL);
}

/* Fills b->added and b->removed; leaves them NULL when out of memory
 * (the report then has no per-source changes). */
static void
count_changes(struct build *b)
{
	struct per_source ps;
	size_t n = b->m->nsources ? b->m->nsources : 1;

	b->added = calloc(n, sizeof(*b->added));
	b->removed = calloc(n, sizeof(*b->removed));
	if (b->added == NULL || b->removed == NULL) {
		free(b->added);
		free(b->removed);
		b->added = b->removed = NULL;
		return;
	}
	ps = (struct per_source){ b, b->previous, b->added };
	policy_walk_names(b->policy, per_source_name, &ps);
	policy_walk_ranges(b->policy, per_source_range, &ps);
	if (b->previous == NULL)
		return;
	ps = (struct per_source){ b, b->policy, b->removed };
	policy_walk_names(b->previous, per_source_name, &ps);
	policy_walk_ranges(b->previous, per_source_range, &ps);
}

/* Writes one "KEY":[...],"KEY_count":N pair of the changes. */
static void
write_diff(FILE *f, const char *key, const struct policy *from,
    const struct policy *other, bool ranges)
{
	struct diff df = { other, f, 0 };

	fprintf(f, ",\"%s\":[", key);
	if (from != NULL && other == NULL)	/* a first build: all of it */
		df.count = ranges ? policy_ranges(from) : policy_entries(from);
	else if (from != NULL && ranges)
		policy_walk_ranges(from, diff_range, &df);
	else if (from != NULL)
		policy_walk_names(from, diff_name, &df);
	fprintf(f, "],\"%s_count\":%zu", key, df.count);
}

/* "changes": what this build adds and removes against the previous one
 * in the folder (names and ranges; at most REPORT_NAMES_MAX listed, and
 * none on a first build, where everything is new). */
static void
write_changes(FILE *f, const struct build *b)
{
	fputs("\"changes\":{\"previous_policy\":", f);
	if (b->previous != NULL)
		json_put_string(f, policy_id(b->previous));
	else
		fputs("null", f);
	write_diff(f, "added", b->policy, b->previous, false);
	write_diff(f, "removed", b->previous, b->policy, false);
	write_diff(f, "added_ranges", b->policy, b->previous, true);
	write_diff(f, "removed_ranges", b->previous, b->policy, true);
	fputc('}', f);
}

/* ---- --geoip: where the listed ranges are ---- */

struct geo_walk {
	struct build *b;
	FILE *f;			/* report.json, or NULL: warn only */
	size_t n;
};

static int
bit_at(const uint8_t *a, int i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

/* Prefix length of lo..hi, or -1 when it is not a prefix. */
static int
prefix_bits(int family, const uint8_t *lo, const uint8_t *hi)
{
	int nbits = family == AF_INET ? 32 : 128, i = 0, bits;

	while (i < nbits && bit_at(lo, i) == bit_at(hi, i))
		i++;
	for (bits = i; i < nbits; i++)
		if (bit_at(lo, i) != 0 || bit_at(hi, i) != 1)
			return -1;
	return bits;
}

static const struct source *
source_of(const struct build *b, const struct policy_list *l)
{
	size_t i;

	for (i = 0; i < b->m->nsources; i++)
		if (policy_list_at(b->policy, i) == l)
			return &b->m->sources[i];
	return NULL;
}

static void
warn_range(struct geo_walk *gw, const char *range, const struct source *src,
    const char *fmt, const char *arg)
{
	char why[256];

	snprintf(why, sizeof(why), fmt, arg);
	fprintf(stderr, "cordon: %s:%zu: [source %s] %s: %s\n",
	    src->manifest ? src->manifest : gw->b->manifest_path, src->line,
	    src->name, range, why);
	gw->b->geo_warnings++;
	if (gw->f != NULL) {
		fputs(gw->n ? "," : "", gw->f);
		json_put_string(gw->f, why);
		gw->n++;
	}
}

static void
geo_range(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    const struct policy_list *l, bool allow)
{
	struct geo_walk *gw = arg;
	struct build *b = gw->b;
	const struct source *src = source_of(b, l);
	struct geo_info first, last;
	char range[128], json[256], a[INET6_ADDRSTRLEN], z[INET6_ADDRSTRLEN];
	int bits = prefix_bits(family, lo, hi);
	size_t before;

	inet_ntop(family, lo, a, sizeof(a));
	inet_ntop(family, hi, z, sizeof(z));
	if (bits >= 0)
		snprintf(range, sizeof(range), "%s/%d", a, bits);
	else
		snprintf(range, sizeof(range), "%s-%s", a, z);
	geoip_lookup(b->geo, family, lo, &first);
	geoip_lookup(b->geo, family, hi, &last);
	geo_info_json(&first, json, sizeof(json));
	fprintf(gw->f, "%s{\"range\":\"%s\",\"list\":", gw->n ? "," : "",
	    range);
	json_put_string(gw->f, l->name);
	fprintf(gw->f, ",\"kind\":\"%s\",\"geo\":%s,\"warnings\":[",
	    allow ? "allow" : "block", json);
	before = gw->n;
	gw->n = 0;
	if (src != NULL && src->offshore && first.country[0] != '\0' &&
	    strcmp(first.country, b->m->home_country) == 0)
		warn_range(gw, range, src, "marked offshore but geolocates in "
		    "%s (home_country)", first.country);
	if (src != NULL && strcmp(first.country, last.country) != 0)
		warn_range(gw, range, src, "spans countries (first address %s)",
		    first.country[0] ? first.country : "unknown");
	if (src != NULL && !allow && bits >= 0 && (unsigned)bits <
	    (family == AF_INET ? b->wide4 : b->wide6)) {
		char limit[32];

		snprintf(limit, sizeof(limit), "/%u",
		    family == AF_INET ? b->wide4 : b->wide6);
		warn_range(gw, range, src, "wider than %s: almost always a "
		    "mistake", limit);
	}
	gw->n = before + 1;
	fputs("]}", gw->f);
}

static void
write_geo(FILE *f, struct build *b)
{
	struct geo_walk gw = { b, f, 0 };

	fputs("\"ranges\":[", f);
	policy_walk_ranges(b->policy, geo_range, &gw);
	fprintf(f, "],\"geo_warnings\":%zu,", b->geo_warnings);
}

/* ---- report.json ---- */

/* Bad lines are "FILE:LINE: reason" messages: split them back up. */
static void
write_bad_lines(FILE *f, const struct diag *d, const char *file)
{
	size_t i, flen = file ? strlen(file) : 0;

	fputc('[', f);
	for (i = 0; i < diag_count(d) && diag_get(d, i) != NULL; i++) {
		const char *msg = diag_get(d, i), *p = msg;
		unsigned long line = 0;

		if (file != NULL && strncmp(msg, file, flen) == 0 &&
		    msg[flen] == ':') {
			char *end;

			line = strtoul(msg + flen + 1, &end, 10);
			p = *end == ':' ? end + 1 : msg + flen + 1;
			p += strspn(p, " ");
		}
		fprintf(f, "%s{\"line\":%lu,\"reason\":", i ? "," : "", line);
		json_put_string(f, p);
		fputc('}', f);
	}
	fputc(']', f);
}

static void
write_source(FILE *f, const struct build *b, size_t i)
{
	const struct source *src = &b->m->sources[i];
	const struct source_stats *st = &b->stats[i];

	fputs(i ? ",{\"name\":" : "{\"name\":", f);
	json_put_string(f, src->name);
	fputs(",\"file\":", f);
	json_put_string(f, src->file ? src->file : src->url);
	fprintf(f, ",\"format\":\"%s\",\"kind\":\"%s\",\"category\":",
	    list_format_name(src->format), list_kind_name(src->kind));
	json_put_string(f, src->category);
	if (src->url != NULL) {
		const struct fetch_result *fr = &b->fetches[i];

		fprintf(f, ",\"fetch\":{\"status\":\"%s\",\"url\":",
		    fetch_status_name(fr->status));
		json_put_string(f, src->url);
		fprintf(f, ",\"http_code\":%ld,\"bytes\":%zu,\"error\":",
		    fr->http_code, fr->bytes);
		if (fr->error != NULL)
			json_put_string(f, fr->error);
		else
			fputs("null", f);
		fputc('}', f);
	}
	fprintf(f, ",\"status\":\"%s\",\"entries_read\":%zu,\"kept\":%zu,"
	    "\"duplicates\":%zu,\"bad_count\":%zu,\"bad_lines\":",
	    st->failed ? "failed" : "ok", st->read, st->kept, st->duplicates,
	    st->bad);
	write_bad_lines(f, b->ds[i], src->file);
	if (b->added != NULL)
		fprintf(f, ",\"changes\":{\"added\":%zu,\"removed\":%zu}",
		    b->added[i], b->removed[i]);
	fputc('}', f);
}

static void
write_report_body(FILE *f, struct build *b)
{
	char ts[32];
	time_t now = time(NULL);
	size_t i, read = 0, bad = 0, dups = 0;
	int k;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fputs("{\"policy\":", f);
	json_put_string(f, policy_id(b->policy));
	fprintf(f, ",\"generated\":\"%s\",\"manifest\":", ts);
	json_put_string(f, b->manifest_path);
	fputs(",\"sources\":[", f);
	count_changes(b);
	for (i = 0; i < b->m->nsources; i++) {
		write_source(f, b, i);
		read += b->stats[i].read;
		bad += b->stats[i].bad;
		dups += b->stats[i].duplicates;
	}
	fprintf(f, "],\"totals\":{\"sources\":%zu,\"entries_read\":%zu,"
	    "\"names\":%zu,\"ranges\":%zu,\"duplicates\":%zu,"
	    "\"bad_lines\":%zu},", b->m->nsources, read,
	    policy_entries(b->policy), policy_ranges(b->policy), dups, bad);
	fputs("\"exports\":{", f);
	for (i = 0, k = 0; i < EXPORT_NFORMATS; i++) {
		if (!(b->exports & (1U << i)))
			continue;
		fprintf(f, "%s\"%s\":{\"file\":\"%s\",\"entries\":%zu}",
		    k++ ? "," : "", export_name(i), export_filename(i),
		    b->export_counts[i]);
	}
	fputs("},", f);
	if (b->geo != NULL)
		write_geo(f, b);
	write_changes(f, b);
	fputs("}\n", f);
}

static int
write_report(struct build *b, struct diag *d)
{
	char *path = path_in(b->dir, "report.json"), *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = -1;

	if (f == NULL)
		cmd_oom("writing report.json");
	write_report_body(f, b);
	if (fclose(f) != 0)
		diag_add(d, path, 0, "out of memory");
	else
		rc = atomicfile_write(path, text, len, d);
	free(text);
	free(path);
	return rc;
}

/* ---- the build ---- */

static int
write_outputs(struct build *b, struct diag *d)
{
	char *path = path_in(b->dir, "policy.cpol");
	int rc = snapshot_write(b->policy, path, d);
	size_t i;

	free(path);
	for (i = 0; rc == 0 && i < EXPORT_NFORMATS; i++) {
		if (!(b->exports & (1U << i)))
			continue;
		path = path_in(b->dir, export_filename(i));
		rc = export_write(b->policy, i, path, d, &b->export_counts[i]);
		free(path);
	}
	if (rc == 0)
		rc = write_report(b, d);
	return rc;
}

static void
load_previous(struct build *b)
{
	char *path = path_in(b->dir, "policy.cpol");
	struct policy_answer pa = { 0 };
	struct diag *d = diag_new();

	if (access(path, F_OK) == 0)
		b->previous = snapshot_load(path, &pa, d);
	if (diag_count(d) > 0)
		fprintf(stderr, "cordon: %s (ignored: no changes reported)\n",
		    diag_get(d, 0));
	diag_free(d);
	free(path);
}

/* Fetches every url source into DIR/cache and points it at its copy;
 * a failed fetch with a last good copy goes on with that copy. */
static int
fetch_all(struct build *b)
{
	char *cache = path_in(b->dir, "cache");
	size_t i;
	int rc = 0;

	for (i = 0; i < b->m->nsources; i++) {
		struct source *src = &b->m->sources[i];
		struct fetch_result *fr = &b->fetches[i];

		if (src->url == NULL)
			continue;
		if (fetch_source(src, cache, FETCH_TIMEOUT_S, fr) == -1) {
			diag_add(b->ds[i], b->manifest_path, src->line,
			    "[source %s]: cannot fetch %s: %s", src->name,
			    src->url, fr->error ? fr->error : "out of memory");
			b->stats[i].failed = true;
			rc = -1;
			continue;
		}
		if (fr->status == FETCH_FAILED_CACHED)
			fprintf(stderr, "cordon: %s:%zu: [source %s]: cannot "
			    "fetch %s (%s); using the copy of %s",
			    b->manifest_path, src->line, src->name, src->url,
			    fr->error ? fr->error : "out of memory", ctime(
			    &fr->fetched_at));
		free(src->file);
		src->file = strdup(fr->path);
		if (src->file == NULL)
			cmd_oom("fetching the sources");
	}
	free(cache);
	return rc;
}

static int
build(struct build *b)
{
	struct policy_answer pa = { 0 };
	struct diag *d = diag_new();
	size_t i, n, bad = 0;
	char err[512];
	int rc = 1;

	if ((b->m = manifest_load(b->manifest_path, d)) == NULL)
		goto out;
	n = b->m->nsources;
	b->ds = calloc(n + 1, sizeof(*b->ds));
	b->stats = calloc(n + 1, sizeof(*b->stats));
	b->fetches = calloc(n + 1, sizeof(*b->fetches));
	if (b->ds == NULL || b->stats == NULL || b->fetches == NULL)
		cmd_oom("reading the manifest");
	for (i = 0; i < n; i++)
		b->ds[i] = diag_new();
	b->ds[n] = d;
	if (mkdir(b->dir, 0755) == -1 && errno != EEXIST) {
		diag_add(d, b->dir, 0, "cannot create: %s", strerror(errno));
		goto out;
	}
	load_previous(b);
	if (fetch_all(b) == -1) {
		for (i = 0; i < n; i++)
			diag_print(b->ds[i], stderr);
		goto out;
	}
	if (b->geoip && (b->geo = geoip_open(b->country_db ? b->country_db :
	    "", b->asn_db ? b->asn_db : "", err, sizeof(err))) == NULL) {
		diag_add(d, b->manifest_path, 0, "--geoip: %s", err);
		goto out;
	}
	b->policy = policy_build(b->m, &pa, b->ds, b->stats);
	for (i = 0; i < n; i++) {
		diag_print(b->ds[i], stderr);
		bad += diag_count(b->ds[i]);
	}
	if (b->policy == NULL || write_outputs(b, d) == -1)
		goto out;
	printf("%s/policy.cpol: %zu names, %zu ranges in %zu lists, "
	    "policy %s", b->dir, policy_entries(b->policy),
	    policy_ranges(b->policy), policy_nlists(b->policy),
	    policy_id(b->policy));
	if (bad > 0)
		printf(", %zu bad lines skipped", bad);
	if (b->geo_warnings > 0)
		printf(", %zu GeoIP warnings", b->geo_warnings);
	printf("\n");
	rc = b->strict && bad > 0 ? 1 : 0;
out:
	diag_print(d, stderr);
	for (i = 0; b->ds != NULL && i < b->m->nsources; i++)
		diag_free(b->ds[i]);
	diag_free(d);
	for (i = 0; b->fetches != NULL && i < b->m->nsources; i++)
		fetch_result_clear(&b->fetches[i]);
	free(b->fetches);
	free(b->ds);
	free(b->stats);
	policy_unref(b->policy);
	policy_unref(b->previous);
	free(b->added);
	free(b->removed);
	geoip_free(b->geo);
	manifest_free(b->m);
	return rc;
}

int
cmd_compile(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "export", required_argument, NULL, 'e' },
		{ "strict", no_argument, NULL, 's' },
		{ "geoip", no_argument, NULL, 'g' },
		{ "country-db", required_argument, NULL, 'C' },
		{ "asn-db", required_argument, NULL, 'A' },
		{ "wide4", required_argument, NULL, '4' },
		{ "wide6", required_argument, NULL, '6' },
		{ NULL, 0, NULL, 0 },
	};
	struct build b = { .wide4 = 16, .wide6 = 32 };
	const char *why;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:e:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			b.dir = optarg;
			break;
		case 'e':
			if (export_parse_list(optarg, &b.exports, &why) == -1) {
				fprintf(stderr, "cordon: --export %s: %s\n",
				    optarg, why);
				return 2;
			}
			break;
		case 's':
			b.strict = true;
			break;
		case 'g':
			b.geoip = true;
			break;
		case 'C':
			b.country_db = optarg;
			break;
		case 'A':
			b.asn_db = optarg;
			break;
		case '4':
		case '6':
			if (parse_width(optarg, ch == '4' ? 32 : 128,
			    ch == '4' ? &b.wide4 : &b.wide6) == -1) {
				fprintf(stderr, "cordon: --wide%c %s: not a prefix "
				    "length\n", ch, optarg);
				return 2;
			}
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || b.dir == NULL) {
		usage();
		return 2;
	}
	b.manifest_path = argv[optind];
	if (b.geoip != (b.country_db != NULL || b.asn_db != NULL)) {
		fprintf(stderr, "cordon: --geoip needs --country-db FILE and/or "
		    "--asn-db FILE (and they need --geoip)\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ch = build(&b);
	curl_global_cleanup();
	return ch;
}
