/*
 * test_policy: a policy loaded from a manifest written to a mkdtemp()
 * directory.  Name verdicts (suffix match, the most specific of block
 * and allow, allow over block for one name, first list between two block
 * lists, the rule's offset), address verdicts (ranges, allow inside
 * block, IPv4-mapped IPv6) and their text, counts and lists, walks, the
 * id, policy_build()'s per-source messages and counts, the answer
 * settings copied, and the slot's references across a reload.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/cidr.h"
#include "base/diag.h"
#include "base/dname.h"
#include "policy/loader.h"
#include "policy/policy.h"
#include "policy/sources.h"
#include "unit.h"

static char dir[] = "/tmp/test_policy.XXXXXX";

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

/* The message without the fixture directory's prefix. */
static const char *
strip_dir(const char *msg)
{
	size_t n = strlen(dir);

	if (msg != NULL && strncmp(msg, dir, n) == 0 && msg[n] == '/')
		return msg + n + 1;
	return msg;
}

/* Loads manifest, which must report exactly msg (NULL: nothing). */
static struct policy *
load_pa(const char *manifest, const struct policy_answer *pa,
    const char *msg)
{
	struct diag *d = diag_new();
	struct policy *p = policy_load(in_dir(manifest), pa, d);

	CHECK(p != NULL, "load %s: %s", manifest,
	    diag_count(d) ? diag_get(d, 0) : "no message");
	if (msg == NULL)
		CHECK(diag_count(d) == 0, "load %s: \"%s\"", manifest,
		    diag_count(d) ? diag_get(d, 0) : "");
	else {
		CHECK(diag_count(d) == 1, "load %s: %zu messages, want 1",
		    manifest, diag_count(d));
		CHECK_STR(strip_dir(diag_get(d, 0)), msg, "load %s", manifest);
	}
	diag_free(d);
	return p;
}

static struct policy *
load(const char *manifest)
{
	struct policy_answer pa;

	memset(&pa, 0, sizeof(pa));
	return load_pa(manifest, &pa, NULL);
}

#define MAIN_MSG "a.domains:7: \"bad..line\" has an empty label"

/* The main fixture, with its one bad line. */
static struct policy *
load_main(void)
{
	struct policy_answer pa;

	memset(&pa, 0, sizeof(pa));
	return load_pa("m.ini", &pa, MAIN_MSG);
}

/* The main fixture: three block lists (one adblock with an "@@"
 * exception), an allow list, a block and an allow range list. */
static const char manifest[] =
    "[source a]\nfile = a.domains\nformat = domains\n"
    "category = exchange\nkind = block\n\n"
    "[source b]\nfile = b.domains\nformat = domains\n"
    "category = gambling\nkind = block\n\n"
    "[source allow]\nfile = allow.domains\nformat = domains\n"
    "category = exception\nkind = allow\n\n"
    "[source ads]\nfile = ads.txt\nformat = adblock\n"
    "category = ads\nkind = block\n\n"
    "[source ranges]\nfile = ranges.cidr\nformat = cidr\n"
    "category = hosting\nkind = block\n\n"
    "[source allowr]\nfile = allowr.cidr\nformat = cidr\n"
    "category = office\nkind = allow\n";

static const char a_domains[] =
    "example.com\n"
    "bad.safe.example.com\n"
    "both.example\n"
    "first.example\n"
    "dup.example\n"
    "DUP.example.\n"
    "bad..line\n";
static const char b_domains[] = "first.example\ncasino.example\n";
static const char allow_domains[] = "safe.example.com\nboth.example\n";
static const char ads_txt[] = "||ads.example^\n@@||ok.ads.example^\n";
static const char ranges_cidr[] =
    "10.0.0.0/8\n192.0.2.1\n198.51.100.10-198.51.100.20\n2001:db8::/32\n";
static const char allowr_cidr[] = "10.1.0.0/16\n2001:db8:1::/48\n";

static void
write_main(void)
{
	write_file("m.ini", manifest);
	write_file("a.domains", a_domains);
	write_file("b.domains", b_domains);
	write_file("allow.domains", allow_domains);
	write_file("ads.txt", ads_txt);
	write_file("ranges.cidr", ranges_cidr);
	write_file("allowr.cidr", allowr_cidr);
}

struct ncase {
	const char *name;
	bool blocked;
	const char *list;	/* NULL: no entry matched */
	const char *rule;	/* the entry, from name + rule_off */
};

static const struct ncase ncases[] = {
	{ "example.com", true, "a", "example.com" },
	{ "www.example.com", true, "a", "example.com" },
	{ "a.b.c.example.com", true, "a", "example.com" },
	{ "com", false, NULL, NULL },
	{ "xexample.com", false, NULL, NULL },
	{ "example.com.evil", false, NULL, NULL },
	/* allow is more specific than block */
	{ "safe.example.com", false, "allow", "safe.example.com" },
	{ "x.safe.example.com", false, "allow", "safe.example.com" },
	/* block deeper than the allow */
	{ "bad.safe.example.com", true, "a", "bad.safe.example.com" },
	{ "x.bad.safe.example.com", true, "a", "bad.safe.example.com" },
	/* in a block list and in an allow list: allow */
	{ "both.example", false, "allow", "both.example" },
	{ "sub.both.example", false, "allow", "both.example" },
	/* in two block lists: the first */
	{ "first.example", true, "a", "first.example" },
	{ "casino.example", true, "b", "casino.example" },
	{ "dup.example", true, "a", "dup.example" },
	/* adblock "@@" exception in a block list */
	{ "ads.example", true, "ads", "ads.example" },
	{ "ok.ads.example", false, "ads", "ok.ads.example" },
	{ "x.ok.ads.example", false, "ads", "ok.ads.example" },
	{ "example", false, NULL, NULL },
	{ "bad..line", false, NULL, NULL },	/* not parsed: skipped */
};

static void
check_names(const struct policy *p, const char *what)
{
	for (size_t i = 0; i < sizeof(ncases) / sizeof(ncases[0]); i++) {
		const struct ncase *c = &ncases[i];
		uint8_t wire[DNAME_MAXWIRE];
		char rule[DNAME_MAXTEXT];
		struct verdict v;
		const char *why;
		size_t len;
		bool got;

		len = dname_from_text(c->name, strlen(c->name), wire, &why);
		if (len == 0) {
			/* a name the parser refuses cannot be listed */
			CHECK(c->list == NULL, "%s: %s: %s", what, c->name,
			    why);
			continue;
		}
		memset(&v, 0xa5, sizeof(v));
		got = policy_check_name(p, wire, &v);
		CHECK(got == c->blocked && v.blocked == c->blocked,
		    "%s: %s: blocked %d/%d, want %d", what, c->name, got,
		    v.blocked, c->blocked);
		if (c->list == NULL) {
			CHECK(v.list == NULL, "%s: %s: list %s, want none",
			    what, c->name, v.list ? v.list->name : "");
			continue;
		}
		CHECK(v.list != NULL, "%s: %s: no list, want %s", what,
		    c->name, c->list);
		if (v.list == NULL)
			continue;
		CHECK_STR(v.list->name, c->list, "%s: %s: list", what,
		    c->name);
		CHECK(v.rule_off < len, "%s: %s: rule_off %zu", what, c->name,
		    v.rule_off);
		if (v.rule_off >= len)
			continue;
		dname_to_text(wire + v.rule_off, rule, sizeof(rule));
		CHECK_STR(rule, c->rule, "%s: %s: rule at offset %zu", what,
		    c->name, v.rule_off);
	}
}

struct acase {
	int family;
	const char *addr;
	bool blocked;
	const char *list;	/* NULL: no range matched */
	const char *range;	/* policy_format_range() */
	int range_family;
};

static const struct acase acases[] = {
	{ AF_INET, "10.2.3.4", true, "ranges", "10.0.0.0/8", AF_INET },
	{ AF_INET, "10.0.0.0", true, "ranges", "10.0.0.0/8", AF_INET },
	{ AF_INET, "10.255.255.255", true, "ranges", "10.0.0.0/8", AF_INET },
	{ AF_INET, "11.0.0.0", false, NULL, NULL, 0 },
	{ AF_INET, "9.255.255.255", false, NULL, NULL, 0 },
	/* allow inside block */
	{ AF_INET, "10.1.2.3", false, "allowr", "10.1.0.0/16", AF_INET },
	{ AF_INET, "10.2.0.0", true, "ranges", "10.0.0.0/8", AF_INET },
	{ AF_INET, "192.0.2.1", true, "ranges", "192.0.2.1", AF_INET },
	{ AF_INET, "192.0.2.2", false, NULL, NULL, 0 },
	{ AF_INET, "198.51.100.10", true, "ranges",
	    "198.51.100.10-198.51.100.20", AF_INET },
	{ AF_INET, "198.51.100.20", true, "ranges",
	    "198.51.100.10-198.51.100.20", AF_INET },
	{ AF_INET, "198.51.100.21", false, NULL, NULL, 0 },
	/* IPv4-mapped IPv6 matches IPv4 ranges */
	{ AF_INET6, "::ffff:10.2.3.4", true, "ranges", "10.0.0.0/8",
	    AF_INET },
	{ AF_INET6, "::ffff:10.1.0.1", false, "allowr", "10.1.0.0/16",
	    AF_INET },
	{ AF_INET6, "::ffff:192.0.2.2", false, NULL, NULL, 0 },
	{ AF_INET6, "::a02:304", false, NULL, NULL, 0 },   /* not mapped */
	{ AF_INET6, "2001:db8::1", true, "ranges", "2001:db8::/32",
	    AF_INET6 },
	{ AF_INET6, "2001:db8:1::5", false, "allowr", "2001:db8:1::/48",
	    AF_INET6 },
	{ AF_INET6, "2001:db8:2::", true, "ranges", "2001:db8::/32",
	    AF_INET6 },
	{ AF_INET6, "2001:db9::", false, NULL, NULL, 0 },
};

static void
check_addrs(const struct policy *p, const char *what)
{
	for (size_t i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		const struct acase *c = &acases[i];
		uint8_t addr[16];
		char text[CIDR_RANGESTRLEN];
		struct addr_verdict v;
		bool got;

		if (inet_pton(c->family, c->addr, addr) != 1) {
			CHECK(false, "%s: bad case address %s", what, c->addr);
			continue;
		}
		memset(&v, 0xa5, sizeof(v));
		got = policy_check_addr(p, c->family, addr, &v);
		CHECK(got == c->blocked && v.blocked == c->blocked,
		    "%s: %s: blocked %d/%d, want %d", what, c->addr, got,
		    v.blocked, c->blocked);
		if (c->list == NULL) {
			CHECK(v.list == NULL, "%s: %s: list %s, want none",
			    what, c->addr, v.list ? v.list->name : "");
			continue;
		}
		CHECK(v.list != NULL, "%s: %s: no list, want %s", what,
		    c->addr, c->list);
		if (v.list == NULL)
			continue;
		CHECK_STR(v.list->name, c->list, "%s: %s: list", what,
		    c->addr);
		CHECK(v.family == c->range_family, "%s: %s: family %d, want "
		    "%d", what, c->addr, v.family, c->range_family);
		CHECK(policy_format_range(&v, text, sizeof(text)) ==
		    strlen(c->range), "%s: %s: format length", what, c->addr);
		CHECK_STR(text, c->range, "%s: %s: range", what, c->addr);
	}
}

struct lcase {
	const char *name, *category;
	enum list_kind kind;
};

static const struct lcase lcases[] = {
	{ "a", "exchange", KIND_BLOCK },
	{ "b", "gambling", KIND_BLOCK },
	{ "allow", "exception", KIND_ALLOW },
	{ "ads", "ads", KIND_BLOCK },
	{ "ranges", "hosting", KIND_BLOCK },
	{ "allowr", "office", KIND_ALLOW },
};
#define NLCASES (sizeof(lcases) / sizeof(lcases[0]))

static void
check_lists(const struct policy *p, const char *what)
{
	CHECK(policy_nlists(p) == NLCASES, "%s: %zu lists, want %zu", what,
	    policy_nlists(p), NLCASES);
	for (size_t i = 0; i < NLCASES; i++) {
		const struct policy_list *l = policy_list_at(p, i);

		CHECK(l != NULL, "%s: list %zu missing", what, i);
		if (l == NULL)
			continue;
		CHECK_STR(l->name, lcases[i].name, "%s: list %zu", what, i);
		CHECK_STR(l->category, lcases[i].category, "%s: list %zu "
		    "category", what, i);
		CHECK(l->kind == lcases[i].kind, "%s: list %zu kind %d", what,
		    i, l->kind);
	}
	CHECK(policy_list_at(p, NLCASES) == NULL, "%s: list past the end",
	    what);
	CHECK(policy_list_at(p, (size_t)-1) == NULL, "%s: list -1", what);
}

/* Walk results as text, one line each: names sorted (no order is
 * promised), ranges in the promised order. */
struct walked {
	char text[4096];
	size_t len;
	size_t count;
};

static void
on_walk_name(void *arg, const uint8_t *name, size_t len,
    const struct policy_list *list, bool allow)
{
	struct walked *w = arg;
	char text[DNAME_MAXTEXT];

	CHECK(len == dname_len(name), "walk: len %zu", len);
	dname_to_text(name, text, sizeof(text));
	w->len += (size_t)snprintf(w->text + w->len, sizeof(w->text) - w->len,
	    "%s %s %s\n", text, allow ? "allow" : "block",
	    list ? list->name : "(null)");
	w->count++;
}

static void
on_walk_range(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    const struct policy_list *list, bool allow)
{
	struct walked *w = arg;
	struct cidr_match m = { .family = family };
	char text[CIDR_RANGESTRLEN];
	size_t n = family == AF_INET ? 4 : 16;

	memcpy(m.lo, lo, n);
	memcpy(m.hi, hi, n);
	cidr_format_range(&m, text, sizeof(text));
	w->len += (size_t)snprintf(w->text + w->len, sizeof(w->text) - w->len,
	    "%s %s %s\n", text, allow ? "allow" : "block",
	    list ? list->name : "(null)");
	w->count++;
}

static const char want_names[] =
    "ads.example block ads\n"
    "bad.safe.example.com block a\n"
    "both.example allow allow\n"
    "casino.example block b\n"
    "dup.example block a\n"
    "example.com block a\n"
    "first.example block a\n"
    "ok.ads.example allow ads\n"
    "safe.example.com allow allow\n";

static const char want_ranges[] =
    "10.0.0.0/8 block ranges\n"
    "10.1.0.0/16 allow allowr\n"
    "192.0.2.1 block ranges\n"
    "198.51.100.10-198.51.100.20 block ranges\n"
    "2001:db8::/32 block ranges\n"
    "2001:db8:1::/48 allow allowr\n";

static void
check_walks(const struct policy *p, const char *what)
{
	struct walked w;

	memset(&w, 0, sizeof(w));
	policy_walk_names(p, on_walk_name, &w);
	unit_sort_lines(w.text);
	CHECK_STR(w.text, want_names, "%s: walk names", what);
	CHECK(w.count == policy_entries(p), "%s: walked %zu names, %zu "
	    "entries", what, w.count, policy_entries(p));
	memset(&w, 0, sizeof(w));
	policy_walk_ranges(p, on_walk_range, &w);
	CHECK_STR(w.text, want_ranges, "%s: walk ranges", what);
	CHECK(w.count == policy_ranges(p), "%s: walked %zu ranges, %zu",
	    what, w.count, policy_ranges(p));
}

static void
test_verdicts(void)
{
	struct policy *p;

	write_main();
	if ((p = load_main()) == NULL)
		return;
	check_names(p, "m.ini");
	check_addrs(p, "m.ini");
	check_lists(p, "m.ini");
	check_walks(p, "m.ini");
	CHECK(policy_entries(p) == 9, "entries %zu, want 9",
	    policy_entries(p));
	CHECK(policy_ranges(p) == 6, "ranges %zu, want 6", policy_ranges(p));
	CHECK(policy_memory(p) > 0, "memory");
	CHECK(policy_geoip(p) == NULL, "no geoip");
	CHECK(policy_ref(p) == p, "ref");
	policy_unref(p);
	policy_unref(p);
	policy_unref(NULL);
}

static bool
is_hex64(const char *id)
{
	if (id == NULL || strlen(id) != 64)
		return false;
	for (; *id != '\0'; id++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f')))
			return false;
	return true;
}

/*
 * Ids of manifests made of the sources below: each case lists the
 * sources in manifest order and says whether its id equals the base's.
 */
struct src {
	const char *name, *file, *format, *category, *kind;
};

static const struct src srcs[] = {
	{ "x", "x.domains", "domains", "exchange", "block" },
	{ "y", "y.domains", "domains", "gambling", "block" },
	{ "ok", "ok.domains", "domains", "exception", "allow" },
	{ "x", "x2.domains", "domains", "exchange", "block" },	 /* 3 */
	{ "x", "x3.domains", "domains", "exchange", "block" },	 /* 4 */
	{ "r", "r.cidr", "cidr", "hosting", "block" },		 /* 5 */
	{ "r", "r2.cidr", "cidr", "hosting", "block" },		 /* 6 */
	{ "x", "x.domains", "domains", "other", "block" },	 /* 7 */
	{ "ok", "ok.domains", "domains", "exception", "block" }, /* 8 */
	{ "rok", "rok.cidr", "cidr", "office", "allow" },	 /* 9 */
};

struct idcase {
	const char *what;
	int srcs[5];		/* indexes into srcs, -1 ends */
	bool same;		/* id equals the first case's */
};

static const struct idcase idcases[] = {
	{ "base", { 0, 1, 2, -1 }, true },
	{ "lists reordered", { 2, 1, 0, -1 }, true },
	{ "lists reordered again", { 1, 0, 2, -1 }, true },
	{ "same names, other file and order", { 3, 1, 2, -1 }, true },
	{ "one name changed", { 4, 1, 2, -1 }, false },
	{ "one list left out", { 0, 1, -1 }, false },
	{ "category changed", { 7, 1, 2, -1 }, false },
	{ "allow list made block", { 0, 1, 8, -1 }, false },
	{ "ranges added", { 0, 1, 2, 5, -1 }, false },
};

/* Cases compared with each other, not with the base. */
static const struct idcase rangecases[] = {
	{ "with ranges", { 0, 1, 2, 5, 9 }, true },
	{ "with ranges, lists reordered", { 9, 5, 2, 0, 1 }, true },
	{ "with ranges, range lists reordered", { 0, 1, 2, 9, 5 }, true },
	{ "with a range changed", { 0, 1, 2, 6, 9 }, false },
};

static void
write_id_files(void)
{
	write_file("x.domains", "one.example\ntwo.example\nthree.example\n");
	write_file("x2.domains", "three.example\n# same names\n"
	    "one.example\nTWO.example.\n");
	write_file("x3.domains", "one.example\ntwo.example\nthreee.example\n");
	write_file("y.domains", "casino.example\n");
	write_file("ok.domains", "fine.one.example\n");
	write_file("r.cidr", "192.0.2.0/24\n2001:db8::/32\n");
	write_file("r2.cidr", "192.0.2.0/25\n2001:db8::/32\n");
	write_file("rok.cidr", "192.0.2.128/25\n");
}

/* Writes id.ini with the case's sources and returns its policy id
 * (copied to buf), or "" when it did not load. */
static const char *
case_id(const int *idx, size_t n, char *buf, size_t size)
{
	char text[4096];
	size_t len = 0;
	struct policy *p;

	text[0] = '\0';
	for (size_t i = 0; i < n && idx[i] >= 0; i++) {
		const struct src *s = &srcs[idx[i]];

		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "[source %s]\nfile = %s\nformat = %s\ncategory = %s\n"
		    "kind = %s\n\n", s->name, s->file, s->format,
		    s->category, s->kind);
	}
	write_file("id.ini", text);
	buf[0] = '\0';
	if ((p = load("id.ini")) == NULL)
		return buf;
	CHECK(is_hex64(policy_id(p)), "id \"%s\" is not 64 hex digits",
	    policy_id(p));
	snprintf(buf, size, "%s", policy_id(p));
	policy_unref(p);
	return buf;
}

static void
run_id_cases(const struct idcase *cases, size_t n)
{
	char base[80], got[80];

	case_id(cases[0].srcs, 5, base, sizeof(base));
	for (size_t i = 1; i < n; i++) {
		case_id(cases[i].srcs, 5, got, sizeof(got));
		if (cases[i].same)
			CHECK(strcmp(got, base) == 0 && got[0] != '\0',
			    "id: %s: %s, want %s", cases[i].what, got, base);
		else
			CHECK(strcmp(got, base) != 0 && got[0] != '\0',
			    "id: %s: %s, want another than %s", cases[i].what,
			    got, base);
	}
}

static void
test_id(void)
{
	write_id_files();
	run_id_cases(idcases, sizeof(idcases) / sizeof(idcases[0]));
	run_id_cases(rangecases, sizeof(rangecases) / sizeof(rangecases[0]));
}

/* policy_build(): per-source messages and counts. */
struct scase {
	const char *list;
	struct source_stats want;
	const char *msg;	/* the one message expected, or NULL */
};

static const struct scase scases[] = {
	{ "a", { 6, 5, 1, 1, false }, MAIN_MSG },
	{ "b", { 2, 1, 1, 0, false }, NULL },
	{ "allow", { 2, 1, 1, 0, false }, NULL },
	{ "ads", { 2, 2, 0, 0, false }, NULL },
	{ "ranges", { 4, 4, 0, 0, false }, NULL },
	{ "allowr", { 2, 2, 0, 0, false }, NULL },
};
#define NSCASES (sizeof(scases) / sizeof(scases[0]))

static struct policy *
build(const char *name, struct diag **ds, struct source_stats *st,
    size_t n)
{
	struct policy_answer pa;
	struct diag *d = diag_new();
	struct manifest *m = manifest_load(in_dir(name), d);
	struct policy *p;

	memset(&pa, 0, sizeof(pa));
	CHECK(m != NULL && m->nsources == n, "manifest %s: %s", name,
	    diag_count(d) ? diag_get(d, 0) : "wrong number of sources");
	diag_free(d);
	if (m == NULL || m->nsources != n) {
		manifest_free(m);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		ds[i] = diag_new();
	p = policy_build(m, &pa, ds, st);
	manifest_free(m);
	return p;
}

static void
check_stats(const char *what, const struct source_stats *got,
    const struct source_stats *want)
{
	CHECK(got->read == want->read && got->kept == want->kept &&
	    got->duplicates == want->duplicates && got->bad == want->bad &&
	    got->failed == want->failed,
	    "%s: read %zu kept %zu duplicates %zu bad %zu failed %d, want "
	    "%zu %zu %zu %zu %d", what, got->read, got->kept, got->duplicates,
	    got->bad, got->failed, want->read, want->kept, want->duplicates,
	    want->bad, want->failed);
}

static void
test_build(void)
{
	struct diag *ds[NSCASES];
	struct source_stats st[NSCASES];
	struct policy *p;

	write_main();
	memset(st, 0xa5, sizeof(st));
	p = build("m.ini", ds, st, NSCASES);
	CHECK(p != NULL, "build m.ini");
	for (size_t i = 0; i < NSCASES && p != NULL; i++) {
		const struct scase *c = &scases[i];

		check_stats(c->list, &st[i], &c->want);
		CHECK(diag_count(ds[i]) == (c->msg ? 1U : 0U), "%s: %zu "
		    "messages", c->list, diag_count(ds[i]));
		if (c->msg != NULL && diag_count(ds[i]) > 0)
			CHECK_STR(strip_dir(diag_get(ds[i], 0)), c->msg,
			    "%s: message", c->list);
	}
	if (p != NULL)
		check_names(p, "built");
	policy_unref(p);
	for (size_t i = 0; i < NSCASES; i++)
		diag_free(ds[i]);

	/* Stats may be NULL. */
	{
		struct diag *d2[NSCASES];

		p = build("m.ini", d2, NULL, NSCASES);
		CHECK(p != NULL && policy_entries(p) == 9, "build without "
		    "stats");
		policy_unref(p);
		for (size_t i = 0; i < NSCASES; i++)
			diag_free(d2[i]);
	}
}

/* A range listed twice, in one list and in two: the second time is a
 * duplicate, as for names. */
static void
test_build_range_duplicates(void)
{
	static const struct source_stats want[2] = {
		{ 3, 2, 1, 0, false },
		{ 2, 1, 1, 0, false },
	};
	struct diag *ds[2];
	struct source_stats st[2];
	struct policy *p;

	write_file("rd.ini", "[source r1]\nfile = r1.cidr\nformat = cidr\n\n"
	    "[source r2]\nfile = r2.cidr\nformat = cidr\n");
	write_file("r1.cidr", "192.0.2.0/24\n10.0.0.0/8\n192.0.2.0/24\n");
	write_file("r2.cidr", "10.0.0.0/8\n198.51.100.0/24\n");
	memset(st, 0, sizeof(st));
	p = build("rd.ini", ds, st, 2);
	CHECK(p != NULL && policy_ranges(p) == 3, "rd.ini: %zu ranges, want "
	    "3", p ? policy_ranges(p) : 0);
	check_stats("range duplicates r1", &st[0], &want[0]);
	check_stats("range duplicates r2", &st[1], &want[1]);
	policy_unref(p);
	diag_free(ds[0]);
	diag_free(ds[1]);
}

/* A source that cannot be read fails the build and the load. */
static void
test_build_failed(void)
{
	struct diag *ds[3];
	struct source_stats st[3];
	struct policy_answer zero;
	struct policy *p;
	struct diag *d;

	memset(&zero, 0, sizeof(zero));

	write_file("f.ini",
	    "[source one]\nfile = one.domains\nformat = domains\n\n"
	    "[source gone]\nfile = gone.domains\nformat = domains\n\n"
	    "[source three]\nfile = three.domains\nformat = domains\n");
	write_file("one.domains", "one.example\n");
	write_file("three.domains", "three.example\n");
	memset(st, 0, sizeof(st));
	p = build("f.ini", ds, st, 3);
	CHECK(p == NULL, "f.ini: built with a missing source");
	policy_unref(p);
	CHECK(!st[0].failed && st[0].read == 1, "f.ini: source one: failed "
	    "%d read %zu", st[0].failed, st[0].read);
	CHECK(st[1].failed, "f.ini: source gone not failed");
	CHECK(diag_count(ds[0]) == 0, "f.ini: one: %zu messages",
	    diag_count(ds[0]));
	CHECK(diag_count(ds[1]) >= 1 && strstr(diag_get(ds[1], 0),
	    "gone.domains") != NULL && strstr(diag_get(ds[1], 0),
	    "No such file") != NULL, "f.ini: gone: \"%s\"",
	    diag_count(ds[1]) ? diag_get(ds[1], 0) : "no message");
	for (size_t i = 0; i < 3; i++)
		diag_free(ds[i]);

	d = diag_new();
	p = policy_load(in_dir("f.ini"), &zero, d);
	CHECK(p == NULL, "policy_load f.ini: loaded with a missing source");
	policy_unref(p);
	CHECK(diag_count(d) >= 1 && strstr(diag_get(d, 0), "gone.domains")
	    != NULL, "policy_load f.ini: \"%s\"",
	    diag_count(d) ? diag_get(d, 0) : "no message");
	diag_free(d);

	d = diag_new();
	p = policy_load(in_dir("nothing.ini"), &zero, d);
	CHECK(p == NULL && diag_count(d) >= 1, "policy_load of a missing "
	    "manifest");
	policy_unref(p);
	diag_free(d);
}

/* The answer settings, arrays included, belong to the policy. */
static void
test_answer(void)
{
	struct policy_answer pa;
	const struct policy_answer *got;
	char (*countries)[3] = calloc(2, sizeof(*countries));
	uint32_t *asns = calloc(3, sizeof(*asns));
	struct policy *p;

	if (countries == NULL || asns == NULL)
		abort();
	memcpy(countries[0], "CN", 3);
	memcpy(countries[1], "RU", 3);
	asns[0] = 4134;
	asns[1] = 13335;
	asns[2] = 4294967295U;
	memset(&pa, 0, sizeof(pa));
	pa.action = ACTION_SINKHOLE;
	pa.ttl = 321;
	memcpy(pa.sinkhole_a, "\x7f\x00\x00\x02", 4);
	pa.sinkhole_aaaa[15] = 9;
	pa.check_cname = true;
	pa.check_answer_ips = false;
	pa.countries = (const char (*)[3])countries;
	pa.ncountries = 2;
	pa.asns = asns;
	pa.nasns = 3;
	write_main();
	p = load_pa("m.ini", &pa, MAIN_MSG);
	/* the caller's copies go; the policy's must stay */
	memset(countries, 'X', 2 * sizeof(*countries));
	memset(asns, 0, 3 * sizeof(*asns));
	free(countries);
	free(asns);
	memset(&pa, 0, sizeof(pa));
	if (p == NULL)
		return;
	got = policy_answer(p);
	CHECK(got->action == ACTION_SINKHOLE && got->ttl == 321,
	    "answer: action %d ttl %u", got->action, got->ttl);
	CHECK(memcmp(got->sinkhole_a, "\x7f\x00\x00\x02", 4) == 0 &&
	    got->sinkhole_aaaa[15] == 9, "answer: sinkhole addresses");
	CHECK(got->check_cname && !got->check_answer_ips, "answer: checks");
	CHECK(got->ncountries == 2 && got->countries != NULL &&
	    strcmp(got->countries[0], "CN") == 0 &&
	    strcmp(got->countries[1], "RU") == 0, "answer: countries");
	CHECK(got->nasns == 3 && got->asns != NULL && got->asns[0] == 4134 &&
	    got->asns[1] == 13335 && got->asns[2] == 4294967295U,
	    "answer: asns");
	policy_unref(p);
}

/* A reload through the slot: the generation moves, a reference taken
 * before stays usable, and the last unref frees (ASan sees both). */
static void
test_slot(void)
{
	struct policy *p1, *p2, *p3, *held, *now;
	struct policy_slot *s;
	char id1[80], id2[80];
	uint64_t g0, g1, g2, g;
	uint8_t wire[DNAME_MAXWIRE];
	struct verdict v;
	const char *why;

	write_main();
	write_file("small.ini", "[source only]\nfile = only.domains\n"
	    "format = domains\n");
	write_file("only.domains", "only.example\n");
	p1 = load_main();
	p2 = load("small.ini");
	p3 = load("small.ini");
	if (p1 == NULL || p2 == NULL || p3 == NULL) {
		policy_unref(p1);
		policy_unref(p2);
		policy_unref(p3);
		return;
	}
	snprintf(id1, sizeof(id1), "%s", policy_id(p1));
	snprintf(id2, sizeof(id2), "%s", policy_id(p2));
	CHECK(strcmp(id1, id2) != 0, "slot: fixtures have one id");
	dname_from_text("www.example.com", 15, wire, &why);

	s = policy_slot_new(p1);
	g0 = policy_slot_generation(s);
	held = policy_slot_get(s, &g);
	CHECK(held == p1 && g == g0, "slot: get %p gen %llu, want %p %llu",
	    (void *)held, (unsigned long long)g, (void *)p1,
	    (unsigned long long)g0);
	CHECK(policy_slot_generation(s) == g0, "slot: get moved the "
	    "generation");

	policy_slot_set(s, p2);
	g1 = policy_slot_generation(s);
	CHECK(g1 != g0, "slot: generation %llu unchanged by set",
	    (unsigned long long)g1);
	/* the old policy, still held, answers as before */
	CHECK(policy_check_name(held, wire, &v) && v.list != NULL &&
	    strcmp(v.list->name, "a") == 0, "slot: held policy's verdict");
	CHECK_STR(policy_id(held), id1, "slot: held policy's id");
	now = policy_slot_get(s, &g);
	CHECK(now == p2 && g == g1, "slot: after set, get %p gen %llu, want "
	    "%p %llu", (void *)now, (unsigned long long)g, (void *)p2,
	    (unsigned long long)g1);
	CHECK(!policy_check_name(now, wire, &v) && v.list == NULL,
	    "slot: new policy's verdict");
	CHECK_STR(policy_id(now), id2, "slot: new policy's id");
	policy_unref(held);	/* the last reference to p1: freed */
	policy_unref(now);

	/* a set nobody holds a reference across frees the old at once */
	policy_slot_set(s, p3);
	g2 = policy_slot_generation(s);
	CHECK(g2 != g1 && g2 != g0, "slot: generation %llu after a second "
	    "set", (unsigned long long)g2);
	now = policy_slot_get(s, &g);
	CHECK(now == p3 && g == g2, "slot: second set, get %p",
	    (void *)now);
	policy_unref(now);
	policy_slot_free(s);	/* drops p3 */
	policy_slot_free(NULL);
}

static void
cleanup(void)
{
	DIR *dp = opendir(dir);
	struct dirent *de;

	if (dp != NULL) {
		while ((de = readdir(dp)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				unlink(in_dir(de->d_name));
		closedir(dp);
	}
	if (rmdir(dir) != 0)
		CHECK(false, "%s left behind", dir);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	test_verdicts();
	test_id();
	test_build();
	test_build_range_duplicates();
	test_build_failed();
	test_answer();
	test_slot();
	cleanup();
	return unit_exit();
}
