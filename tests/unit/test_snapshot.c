/*
 * test_snapshot: a policy loaded from a manifest written to a mkdtemp()
 * directory, compiled with snapshot_write() and loaded back: the same
 * id, verdicts, counts, lists and walks.  Writes are atomic (no file
 * left by a failed write, an old file replaced whole).  Damaged files
 * (short, truncated, longer, a flipped byte, another version, byte order
 * or magic, a header that disagrees with the body) are refused with a
 * reason.  Empty policies round-trip, and a loaded snapshot survives its
 * file being truncated on disk.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/cidr.h"
#include "base/diag.h"
#include "base/dname.h"
#include "policy/loader.h"
#include "policy/parts.h"
#include "policy/policy.h"
#include "policy/snapshot.h"
#include "policy/sources.h"
#include <openssl/sha.h>

#include "unit.h"

static char dir[] = "/tmp/test_snapshot.XXXXXX";

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
write_bytes(const char *name, const void *buf, size_t len)
{
	const char *path = in_dir(name);
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

static void
write_file(const char *name, const char *text)
{
	write_bytes(name, text, strlen(text));
}

/* The whole file, or NULL; free it. */
static uint8_t *
read_bytes(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	*lenp = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)len + 1)) != NULL &&
	    fread(buf, 1, (size_t)len, f) == (size_t)len)
		*lenp = (size_t)len;
	else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Names in dir containing ".tmp.": a temporary file left behind. */
static size_t
count_temps(const char *in)
{
	DIR *dp = opendir(in);
	struct dirent *de;
	size_t n = 0;

	if (dp == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL)
		if (strstr(de->d_name, ".tmp.") != NULL) {
			fprintf(stderr, "temporary file left: %s/%s\n", in,
			    de->d_name);
			n++;
		}
	closedir(dp);
	return n;
}

static const struct policy_answer no_answer;

static struct policy *
load_manifest(const char *manifest, size_t nmsgs)
{
	struct diag *d = diag_new();
	struct policy *p = policy_load(in_dir(manifest), &no_answer, d);

	CHECK(p != NULL && diag_count(d) == nmsgs, "load %s: %zu messages, "
	    "want %zu: %s", manifest, diag_count(d), nmsgs,
	    diag_count(d) ? diag_get(d, 0) : "no message");
	diag_free(d);
	return p;
}

/* snapshot_load() of name, which must work. */
static struct policy *
load_snapshot(const char *name, const char *what)
{
	struct diag *d = diag_new();
	struct policy *p = snapshot_load(in_dir(name), &no_answer, d);

	CHECK(p != NULL && diag_count(d) == 0, "%s: snapshot_load %s: %s",
	    what, name, diag_count(d) ? diag_get(d, 0) : "no message");
	diag_free(d);
	return p;
}

static int
write_snapshot(const struct policy *p, const char *name)
{
	struct diag *d = diag_new();
	int rc = snapshot_write(p, in_dir(name), d);

	CHECK(rc == 0 && diag_count(d) == 0, "snapshot_write %s: rc %d: %s",
	    name, rc, diag_count(d) ? diag_get(d, 0) : "no message");
	diag_free(d);
	return rc;
}

/* Block and allow names in three lists, block and allow ranges (IPv4,
 * IPv6, IPv4-mapped) in two more. */
static const char manifest[] =
    "[source exchanges]\nfile = a.domains\nformat = domains\n"
    "category = exchange\nkind = block\n\n"
    "[source casinos]\nfile = b.hosts\nformat = hosts\n"
    "category = gambling\nkind = block\n\n"
    "[source exceptions]\nfile = allow.domains\nformat = domains\n"
    "category = exception\nkind = allow\n\n"
    "[source nets]\nfile = nets.cidr\nformat = cidr\n"
    "category = hosting\nkind = block\n\n"
    "[source office]\nfile = office.cidr\nformat = cidr\n"
    "kind = allow\n";

static void
write_main(void)
{
	write_file("m.ini", manifest);
	write_file("a.domains", "example.com\nbad.safe.example.com\n"
	    "both.example\nfirst.example\nxn--bcher-kva.example\n");
	write_file("b.hosts", "0.0.0.0 first.example casino.example\n"
	    "0.0.0.0 www.poker.example\n");
	write_file("allow.domains", "safe.example.com\nboth.example\n");
	write_file("nets.cidr", "10.0.0.0/8\n192.0.2.1\n"
	    "198.51.100.10-198.51.100.20\n2001:db8::/32\n"
	    "::ffff:203.0.113.0/120\n");
	write_file("office.cidr", "10.1.0.0/16\n2001:db8:1::/48\n");
}

struct lcase {
	const char *name, *category;
	enum list_kind kind;
};

static const struct lcase lcases[] = {
	{ "exchanges", "exchange", KIND_BLOCK },
	{ "casinos", "gambling", KIND_BLOCK },
	{ "exceptions", "exception", KIND_ALLOW },
	{ "nets", "hosting", KIND_BLOCK },
	{ "office", "", KIND_ALLOW },
};
#define NLISTS (sizeof(lcases) / sizeof(lcases[0]))

struct ncase {
	const char *name;
	bool blocked;
	const char *list;	/* NULL: no entry matched */
	size_t rule_off;
};

static const struct ncase ncases[] = {
	{ "example.com", true, "exchanges", 0 },
	{ "www.example.com", true, "exchanges", 4 },
	{ "com", false, NULL, 0 },
	{ "safe.example.com", false, "exceptions", 0 },
	{ "a.safe.example.com", false, "exceptions", 2 },
	{ "bad.safe.example.com", true, "exchanges", 0 },
	{ "x.bad.safe.example.com", true, "exchanges", 2 },
	{ "both.example", false, "exceptions", 0 },
	{ "first.example", true, "exchanges", 0 },
	{ "casino.example", true, "casinos", 0 },
	{ "www.poker.example", true, "casinos", 0 },
	{ "poker.example", false, NULL, 0 },
	{ "xn--bcher-kva.example", true, "exchanges", 0 },
	{ "m.xn--bcher-kva.example", true, "exchanges", 2 },
	{ "nothing.example", false, NULL, 0 },
};

struct acase {
	int family;
	const char *addr;
	bool blocked;
	const char *list;	/* NULL: no range matched */
	const char *range;
};

static const struct acase acases[] = {
	{ AF_INET, "10.9.9.9", true, "nets", "10.0.0.0/8" },
	{ AF_INET, "10.1.9.9", false, "office", "10.1.0.0/16" },
	{ AF_INET, "11.0.0.1", false, NULL, NULL },
	{ AF_INET, "192.0.2.1", true, "nets", "192.0.2.1" },
	{ AF_INET, "192.0.2.0", false, NULL, NULL },
	{ AF_INET, "198.51.100.12", true, "nets",
	    "198.51.100.10-198.51.100.20" },
	{ AF_INET, "203.0.113.77", true, "nets", "203.0.113.0/24" },
	{ AF_INET6, "::ffff:10.9.9.9", true, "nets", "10.0.0.0/8" },
	{ AF_INET6, "::ffff:10.1.0.0", false, "office", "10.1.0.0/16" },
	{ AF_INET6, "2001:db8:ffff::1", true, "nets", "2001:db8::/32" },
	{ AF_INET6, "2001:db8:1:2::3", false, "office", "2001:db8:1::/48" },
	{ AF_INET6, "2001:db80::", false, NULL, NULL },
	{ AF_INET6, "::1", false, NULL, NULL },
};

/* p's verdicts against the tables. */
static void
check_verdicts(const struct policy *p, const char *what)
{
	size_t i;

	for (i = 0; i < sizeof(ncases) / sizeof(ncases[0]); i++) {
		const struct ncase *c = &ncases[i];
		uint8_t wire[DNAME_MAXWIRE];
		struct verdict v;
		const char *why;

		if (dname_from_text(c->name, strlen(c->name), wire, &why) ==
		    0) {
			CHECK(false, "%s: bad case name %s: %s", what, c->name,
			    why);
			continue;
		}
		CHECK(policy_check_name(p, wire, &v) == c->blocked &&
		    v.blocked == c->blocked, "%s: %s: blocked %d, want %d",
		    what, c->name, v.blocked, c->blocked);
		if (c->list == NULL) {
			CHECK(v.list == NULL, "%s: %s: list %s, want none",
			    what, c->name, v.list ? v.list->name : "");
			continue;
		}
		CHECK(v.list != NULL && strcmp(v.list->name, c->list) == 0,
		    "%s: %s: list %s, want %s", what, c->name,
		    v.list ? v.list->name : "none", c->list);
		CHECK(v.rule_off == c->rule_off, "%s: %s: rule_off %zu, want "
		    "%zu", what, c->name, v.rule_off, c->rule_off);
	}
	for (i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		const struct acase *c = &acases[i];
		char text[CIDR_RANGESTRLEN];
		struct addr_verdict v;
		uint8_t addr[16];

		if (inet_pton(c->family, c->addr, addr) != 1) {
			CHECK(false, "%s: bad case address %s", what, c->addr);
			continue;
		}
		CHECK(policy_check_addr(p, c->family, addr, &v) == c->blocked &&
		    v.blocked == c->blocked, "%s: %s: blocked %d, want %d",
		    what, c->addr, v.blocked, c->blocked);
		if (c->list == NULL) {
			CHECK(v.list == NULL, "%s: %s: list %s, want none",
			    what, c->addr, v.list ? v.list->name : "");
			continue;
		}
		CHECK(v.list != NULL && strcmp(v.list->name, c->list) == 0,
		    "%s: %s: list %s, want %s", what, c->addr,
		    v.list ? v.list->name : "none", c->list);
		text[0] = '\0';
		policy_format_range(&v, text, sizeof(text));
		CHECK_STR(text, c->range, "%s: %s: range", what, c->addr);
	}
}

static void
check_lists(const struct policy *p, const char *what)
{
	CHECK(policy_nlists(p) == NLISTS, "%s: %zu lists, want %zu", what,
	    policy_nlists(p), NLISTS);
	for (size_t i = 0; i < NLISTS; i++) {
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
	CHECK(policy_list_at(p, NLISTS) == NULL, "%s: list past the end",
	    what);
}

/* Walks as text; a list pointer that is not one of the policy's lists
 * is shown as "(stray)" without being read. */
struct walked {
	const struct policy *p;
	char text[4096];
	size_t len, count;
};

static const char *
list_name(const struct policy *p, const struct policy_list *l)
{
	for (size_t i = 0; i < policy_nlists(p); i++)
		if (policy_list_at(p, i) == l)
			return l->name;
	return "(stray)";
}

static void
on_name(void *arg, const uint8_t *name, size_t len,
    const struct policy_list *list, bool allow)
{
	struct walked *w = arg;
	char text[DNAME_MAXTEXT];

	dname_to_text(name, text, sizeof(text));
	w->len += (size_t)snprintf(w->text + w->len, sizeof(w->text) - w->len,
	    "%s %zu %s %s\n", text, len, allow ? "allow" : "block",
	    list_name(w->p, list));
	w->count++;
}

static void
on_range(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
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
	    list_name(w->p, list));
	w->count++;
}

static const char want_names[] =
    "bad.safe.example.com 22 block exchanges\n"
    "both.example 14 allow exceptions\n"
    "casino.example 16 block casinos\n"
    "example.com 13 block exchanges\n"
    "first.example 15 block exchanges\n"
    "safe.example.com 18 allow exceptions\n"
    "www.poker.example 19 block casinos\n"
    "xn--bcher-kva.example 23 block exchanges\n";

static const char want_ranges[] =
    "10.0.0.0/8 block nets\n"
    "10.1.0.0/16 allow office\n"
    "192.0.2.1 block nets\n"
    "198.51.100.10-198.51.100.20 block nets\n"
    "203.0.113.0/24 block nets\n"
    "2001:db8::/32 block nets\n"
    "2001:db8:1::/48 allow office\n";

static void
check_walks(const struct policy *p, const char *what)
{
	static struct walked w;

	memset(&w, 0, sizeof(w));
	w.p = p;
	policy_walk_names(p, on_name, &w);
	unit_sort_lines(w.text);
	CHECK_STR(w.text, want_names, "%s: walk names", what);
	memset(&w, 0, sizeof(w));
	w.p = p;
	policy_walk_ranges(p, on_range, &w);
	CHECK_STR(w.text, want_ranges, "%s: walk ranges", what);
}

/* Everything a loaded copy must share with the policy it came from. */
static void
check_same(const struct policy *p, const struct policy *q, const char *what)
{
	/* the id covers the answer settings too (policy.h) */
	if (policy_answer(q)->action == policy_answer(p)->action &&
	    policy_answer(q)->ttl == policy_answer(p)->ttl)
		CHECK_STR(policy_id(q), policy_id(p), "%s: id", what);
	else
		CHECK(strcmp(policy_id(q), policy_id(p)) != 0, "%s: the same "
		    "id under other answer settings", what);
	CHECK(strlen(policy_id(q)) == POLICY_ID_LEN, "%s: id \"%s\"", what,
	    policy_id(q));
	CHECK(policy_entries(q) == policy_entries(p), "%s: %zu entries, want "
	    "%zu", what, policy_entries(q), policy_entries(p));
	CHECK(policy_ranges(q) == policy_ranges(p), "%s: %zu ranges, want "
	    "%zu", what, policy_ranges(q), policy_ranges(p));
	CHECK(policy_nlists(q) == policy_nlists(p), "%s: %zu lists, want %zu",
	    what, policy_nlists(q), policy_nlists(p));
}

static void
test_round_trip(void)
{
	struct policy *p, *q, *r;
	struct policy_answer pa;
	struct diag *d;

	write_main();
	if ((p = load_manifest("m.ini", 0)) == NULL)
		return;
	check_verdicts(p, "manifest");
	check_lists(p, "manifest");
	check_walks(p, "manifest");
	CHECK(policy_entries(p) == 8 && policy_ranges(p) == 7,
	    "manifest: %zu entries, %zu ranges", policy_entries(p),
	    policy_ranges(p));
	CHECK(!snapshot_is_snapshot(in_dir("m.ini")), "m.ini is a snapshot");
	CHECK(!snapshot_is_snapshot(in_dir("no.such")), "a missing file is "
	    "a snapshot");
	if (write_snapshot(p, "p.cpol") != 0) {
		policy_unref(p);
		return;
	}
	CHECK(snapshot_is_snapshot(in_dir("p.cpol")), "p.cpol is not a "
	    "snapshot");
	CHECK(count_temps(dir) == 0, "temporary files after a write");
	if ((q = load_snapshot("p.cpol", __func__)) != NULL) {
		check_same(p, q, "snapshot");
		check_verdicts(q, "snapshot");
		check_lists(q, "snapshot");
		check_walks(q, "snapshot");
		policy_unref(q);
	}

	/* policy_load() knows a snapshot by its magic, and takes the
	 * answer settings from its caller */
	memset(&pa, 0, sizeof(pa));
	pa.action = ACTION_NODATA;
	pa.ttl = 77;
	d = diag_new();
	r = policy_load(in_dir("p.cpol"), &pa, d);
	CHECK(r != NULL && diag_count(d) == 0, "policy_load p.cpol: %s",
	    diag_count(d) ? diag_get(d, 0) : "no message");
	if (r != NULL) {
		check_same(p, r, "policy_load snapshot");
		check_verdicts(r, "policy_load snapshot");
		CHECK(policy_answer(r)->action == ACTION_NODATA &&
		    policy_answer(r)->ttl == 77, "policy_load snapshot: "
		    "answer settings");
	}
	policy_unref(r);
	diag_free(d);

	/* a snapshot of a snapshot is the same policy */
	if ((q = load_snapshot("p.cpol", __func__)) != NULL) {
		if (write_snapshot(q, "q.cpol") == 0 &&
		    (r = load_snapshot("q.cpol", __func__)) != NULL) {
			check_same(p, r, "snapshot of a snapshot");
			check_verdicts(r, "snapshot of a snapshot");
			policy_unref(r);
		}
		policy_unref(q);
	}
	unlink(in_dir("q.cpol"));
	policy_unref(p);
}

/* Writes that fail leave nothing; a write over a file replaces it. */
static void
test_atomic_write(void)
{
	struct policy *p, *small;
	struct diag *d;
	struct policy *q;
	char sub[512];
	int rc;

	write_main();
	write_file("small.ini", "[source only]\nfile = only.domains\n"
	    "format = domains\n");
	write_file("only.domains", "only.example\n");
	p = load_manifest("m.ini", 0);
	small = load_manifest("small.ini", 0);
	if (p == NULL || small == NULL) {
		policy_unref(p);
		policy_unref(small);
		return;
	}

	/* into a folder that does not exist */
	d = diag_new();
	rc = snapshot_write(p, in_dir("missing/p.cpol"), d);
	CHECK(rc == -1, "write into a missing folder: rc %d", rc);
	CHECK(diag_count(d) == 1 && strstr(diag_get(d, 0),
	    "missing/p.cpol") != NULL && strstr(diag_get(d, 0),
	    "No such file or directory") != NULL,
	    "write into a missing folder: \"%s\"",
	    diag_count(d) ? diag_get(d, 0) : "no message");
	CHECK(count_temps(dir) == 0, "temporary file after a failed write");
	diag_free(d);

	/* over a folder: the rename fails, the temporary file goes */
	snprintf(sub, sizeof(sub), "%s", in_dir("isdir.cpol"));
	if (mkdir(sub, 0755) != 0) {
		perror(sub);
		exit(99);
	}
	d = diag_new();
	rc = snapshot_write(p, sub, d);
	CHECK(rc == -1, "write over a folder: rc %d", rc);
	CHECK(diag_count(d) == 1 && strncmp(diag_get(d, 0), sub,
	    strlen(sub)) == 0, "write over a folder: \"%s\"",
	    diag_count(d) ? diag_get(d, 0) : "no message");
	CHECK(count_temps(dir) == 0 && count_temps(sub) == 0,
	    "temporary file after a failed rename");
	rmdir(sub);
	diag_free(d);

	/* over an older snapshot */
	if (write_snapshot(small, "over.cpol") == 0 &&
	    write_snapshot(p, "over.cpol") == 0) {
		if ((q = load_snapshot("over.cpol", __func__)) != NULL) {
			CHECK_STR(policy_id(q), policy_id(p), "written over");
			check_verdicts(q, "written over");
			policy_unref(q);
		}
		CHECK(count_temps(dir) == 0, "temporary file after a "
		    "write over a file");
	}
	/* and back over a bigger one with a smaller policy: no tail of
	 * the old file may survive */
	if (write_snapshot(small, "over.cpol") == 0 &&
	    (q = load_snapshot("over.cpol", __func__)) != NULL) {
		CHECK_STR(policy_id(q), policy_id(small), "smaller written "
		    "over bigger");
		CHECK(policy_entries(q) == 1 && policy_ranges(q) == 0,
		    "smaller written over bigger: %zu entries",
		    policy_entries(q));
		policy_unref(q);
	}
	unlink(in_dir("over.cpol"));
	policy_unref(p);
	policy_unref(small);
}

/*
 * Damaged files.  Each case makes a copy of the good snapshot, changes
 * it, and expects the load to be refused with a message holding want.
 */
enum damage {
	CUT,		/* keep the first arg bytes */
	CUT_END,	/* drop the last arg bytes */
	APPEND,		/* add arg zero bytes */
	FLIP,		/* invert the byte at arg (< 0: from the end) */
	PATCH32,	/* the 32-bit word at arg becomes val */
	TEXT,		/* a text file instead */
	EMPTY,		/* an empty file */
};

struct dcase {
	const char *what;
	enum damage how;
	long arg;
	uint32_t val;
	bool is_snapshot;	/* snapshot_is_snapshot() afterwards */
	const char *want;
};

static const struct dcase dcases[] = {
	{ "shorter than the header", CUT, 16, 0, true, "truncated" },
	{ "magic only", CUT, 8, 0, true, "truncated" },
	{ "empty", EMPTY, 0, 0, false, "truncated" },
	{ "cut by 3 bytes", CUT_END, 3, 0, true, "truncated" },
	{ "cut by 1 byte", CUT_END, 1, 0, true, "truncated" },
	{ "cut by 64 bytes", CUT_END, 64, 0, true, "truncated" },
	{ "longer", APPEND, 8, 0, true, "longer" },
	{ "last byte flipped", FLIP, -1, 0, true, "checksum" },
	{ "middle byte flipped", FLIP, -2000000, 0, true, "checksum" },
	{ "body byte flipped", FLIP, -9, 0, true, "checksum" },
	{ "version 2", PATCH32, 8, SNAPSHOT_VERSION + 1, true, "version" },
	{ "version 0", PATCH32, 8, 0, true, "version" },
	{ "byte order", PATCH32, 12, 0x04030201U, true, "byte order" },
	{ "magic", FLIP, 0, 0, false, "not a cordon snapshot" },
	{ "magic, last byte", FLIP, 7, 0, false, "not a cordon snapshot" },
	{ "text", TEXT, 0, 0, false, "not a cordon snapshot" },
};

/* The good snapshot, changed as c says, written to name. */
static void
damage(const uint8_t *good, size_t len, const struct dcase *c,
    const char *name)
{
	uint8_t *buf = malloc(len + 64);
	size_t n = len, at;

	if (buf == NULL)
		abort();
	memcpy(buf, good, len);
	switch (c->how) {
	case CUT:
		n = (size_t)c->arg;
		break;
	case CUT_END:
		n = len - (size_t)c->arg;
		break;
	case APPEND:
		memset(buf + len, 0, (size_t)c->arg);
		n = len + (size_t)c->arg;
		break;
	case FLIP:
		/* -2000000: the middle of the file */
		at = c->arg == -2000000 ? len / 2 : c->arg < 0 ?
		    len - (size_t)-c->arg : (size_t)c->arg;
		buf[at] ^= 0xff;
		break;
	case PATCH32:
		memcpy(buf + c->arg, &c->val, 4);
		break;
	case TEXT:
		n = (size_t)snprintf((char *)buf, len, "%s", manifest);
		break;
	case EMPTY:
		n = 0;
		break;
	}
	write_bytes(name, buf, n);
	free(buf);
}

static void
test_refusals(void)
{
	struct policy *p, *q;
	uint8_t *good;
	size_t len;

	write_main();
	if ((p = load_manifest("m.ini", 0)) == NULL)
		return;
	if (write_snapshot(p, "good.cpol") != 0 ||
	    (good = read_bytes(in_dir("good.cpol"), &len)) == NULL) {
		policy_unref(p);
		return;
	}
	CHECK(len > 600 && len % 8 == 0, "snapshot of %zu bytes", len);
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];
		const char *path = in_dir("bad.cpol"), *msg;
		struct diag *d = diag_new();

		damage(good, len, c, "bad.cpol");
		CHECK(snapshot_is_snapshot(path) == c->is_snapshot,
		    "%s: snapshot_is_snapshot %d", c->what, !c->is_snapshot);
		q = snapshot_load(path, &no_answer, d);
		CHECK(q == NULL, "%s: loaded", c->what);
		policy_unref(q);
		CHECK(diag_count(d) == 1, "%s: %zu messages", c->what,
		    diag_count(d));
		msg = diag_count(d) ? diag_get(d, 0) : "";
		CHECK(strncmp(msg, path, strlen(path)) == 0 &&
		    strncmp(msg + strlen(path), ": ", 2) == 0 &&
		    strstr(msg + strlen(path), c->want) != NULL,
		    "%s: message \"%s\", want \"%s: ...%s...\"", c->what, msg,
		    path, c->want);
		diag_free(d);
	}
	/* the good one still loads (the cases did not damage it) */
	if ((q = load_snapshot("good.cpol", __func__)) != NULL) {
		check_same(p, q, "good after the refusals");
		policy_unref(q);
	}
	{
		struct diag *d = diag_new();

		q = snapshot_load(in_dir("no.such.cpol"), &no_answer, d);
		CHECK(q == NULL && diag_count(d) == 1 && strstr(diag_get(d, 0),
		    "No such file or directory") != NULL, "missing file: "
		    "\"%s\"", diag_count(d) ? diag_get(d, 0) : "no message");
		policy_unref(q);
		diag_free(d);
	}
	unlink(in_dir("bad.cpol"));
	free(good);
	policy_unref(p);
}

/*
 * The header fields outside the checksum that say what the body means:
 * the policy id and the number of lists.  A file whose header disagrees
 * with its body is corrupt; it must be refused, or at least load as the
 * policy it holds (the right id, every entry's list one of the lists).
 * The fields are found by content (the id's text, the list count), so a
 * layout change skips rather than tests the wrong bytes.
 */
struct hcase {
	const char *what;
	bool id;		/* change the id, else the list count */
	uint32_t nlists;	/* the list count written */
};

static const struct hcase hcases[] = {
	{ "id changed", true, 0 },
	{ "list count 1", false, 1 },
	{ "list count 4", false, NLISTS - 1 },
	{ "list count 100", false, 100 },
	{ "list count 0", false, 0 },
};

/* Loads name and checks it is refused or holds the policy p. */
static void
check_header_case(const struct policy *p, const char *what,
    const char *name)
{
	struct diag *d = diag_new();
	struct policy *q = snapshot_load(in_dir(name), &no_answer, d);
	static struct walked w;

	if (q == NULL) {
		CHECK(diag_count(d) == 1, "%s: refused with %zu messages",
		    what, diag_count(d));
		diag_free(d);
		return;
	}
	CHECK_STR(policy_id(q), policy_id(p), "%s: loaded with another id",
	    what);
	CHECK(policy_nlists(q) == policy_nlists(p), "%s: loaded with %zu "
	    "lists, want %zu", what, policy_nlists(q), policy_nlists(p));
	memset(&w, 0, sizeof(w));
	w.p = q;
	policy_walk_names(q, on_name, &w);
	CHECK(strstr(w.text, "(stray)") == NULL, "%s: names point past "
	    "the lists:\n%s", what, w.text);
	memset(&w, 0, sizeof(w));
	w.p = q;
	policy_walk_ranges(q, on_range, &w);
	CHECK(strstr(w.text, "(stray)") == NULL, "%s: ranges point past "
	    "the lists:\n%s", what, w.text);
	policy_unref(q);
	diag_free(d);
}

static void
test_header_body(void)
{
	struct policy *p;
	uint8_t *good, *buf;
	size_t len, at, id_at = 0, n_at = 0;
	uint32_t nlists = (uint32_t)NLISTS;
	struct policy_parts parts;
	const uint8_t *id;

	write_main();
	if ((p = load_manifest("m.ini", 0)) == NULL)
		return;
	policy_get_parts(p, &parts);
	id = parts.digest;
	if (write_snapshot(p, "good.cpol") != 0 ||
	    (good = read_bytes(in_dir("good.cpol"), &len)) == NULL) {
		policy_unref(p);
		return;
	}
	for (at = 8; at + 32 < len && at < 512 && id_at == 0; at++)
		if (memcmp(good + at, id, 32) == 0)
			id_at = at;
	/* the list count: the first aligned word after the digest */
	for (at = (id_at + 32 + 3) & ~(size_t)3; id_at != 0 &&
	    at + 4 < len && at < 512 && n_at == 0; at += 4)
		if (memcmp(good + at, &nlists, 4) == 0)
			n_at = at;
	CHECK(id_at != 0 && n_at != 0, "header: id at %zu, list count at "
	    "%zu", id_at, n_at);
	if ((buf = malloc(len)) == NULL)
		abort();
	for (size_t i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		const struct hcase *c = &hcases[i];

		if ((c->id && id_at == 0) || (!c->id && n_at == 0))
			continue;
		memcpy(buf, good, len);
		if (c->id)
			buf[id_at] = buf[id_at] == '0' ? '1' : '0';
		else
			memcpy(buf + n_at, &c->nlists, 4);
		write_bytes("hdr.cpol", buf, len);
		check_header_case(p, c->what, "hdr.cpol");
	}
	unlink(in_dir("hdr.cpol"));
	free(buf);
	free(good);
	policy_unref(p);
}

/* Loaded tables live in memory: the file may go or change under them. */
static void
test_file_changes(void)
{
	struct policy *p, *q;
	FILE *f;

	write_main();
	if ((p = load_manifest("m.ini", 0)) == NULL)
		return;
	if (write_snapshot(p, "t.cpol") != 0 ||
	    (q = load_snapshot("t.cpol", __func__)) == NULL) {
		policy_unref(p);
		return;
	}
	if (truncate(in_dir("t.cpol"), 0) != 0) {
		perror("truncate");
		exit(99);
	}
	check_verdicts(q, "truncated on disk");
	check_walks(q, "truncated on disk");
	check_lists(q, "truncated on disk");
	CHECK_STR(policy_id(q), policy_id(p), "truncated on disk: id");
	/* rewritten in place (cp over it) */
	if ((f = fopen(in_dir("t.cpol"), "w")) == NULL)
		exit(99);
	for (int i = 0; i < 4096; i++)
		fputs("garbage\n", f);
	fclose(f);
	check_verdicts(q, "rewritten on disk");
	check_walks(q, "rewritten on disk");
	/* and gone */
	unlink(in_dir("t.cpol"));
	check_verdicts(q, "removed from disk");
	policy_unref(q);
	policy_unref(p);
}

/* Policies with nothing in them. */
static void
test_empty(void)
{
	static const struct {
		const char *what, *manifest;
		size_t nlists;
	} cases[] = {
		{ "empty list", "[source none]\nfile = none.domains\n"
		    "format = domains\n\n[source nets]\nfile = none.cidr\n"
		    "format = cidr\nkind = allow\n", 2 },
		{ "no sources", "[manifest]\nhome_country = CN\n", 0 },
	};
	uint8_t wire[DNAME_MAXWIRE], addr[4] = { 10, 0, 0, 1 };
	struct addr_verdict av;
	struct verdict v;
	const char *why;

	write_file("none.domains", "# nothing here\n");
	write_file("none.cidr", "");
	dname_from_text("example.com", 11, wire, &why);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p, *q;

		write_file("e.ini", cases[i].manifest);
		if ((p = load_manifest("e.ini", 0)) == NULL)
			continue;
		CHECK(policy_entries(p) == 0 && policy_ranges(p) == 0 &&
		    policy_nlists(p) == cases[i].nlists, "%s: manifest: %zu "
		    "entries %zu ranges %zu lists", cases[i].what,
		    policy_entries(p), policy_ranges(p), policy_nlists(p));
		if (write_snapshot(p, "e.cpol") == 0 &&
		    (q = load_snapshot("e.cpol", cases[i].what)) != NULL) {
			check_same(p, q, cases[i].what);
			CHECK(policy_entries(q) == 0 && policy_ranges(q) == 0,
			    "%s: snapshot not empty", cases[i].what);
			CHECK(!policy_check_name(q, wire, &v) && v.list == NULL,
			    "%s: a name matched", cases[i].what);
			CHECK(!policy_check_addr(q, AF_INET, addr, &av) &&
			    av.list == NULL, "%s: an address matched",
			    cases[i].what);
			for (size_t j = 0; j < cases[i].nlists; j++)
				CHECK(policy_list_at(q, j) != NULL &&
				    strcmp(policy_list_at(q, j)->name,
				    policy_list_at(p, j)->name) == 0,
				    "%s: list %zu", cases[i].what, j);
			policy_unref(q);
		}
		unlink(in_dir("e.cpol"));
		policy_unref(p);
	}
}

/*
 * The forgery of issue 9: a file with 6 names, its header digest taken
 * from a 4-name policy and its checksum recomputed, must not load under
 * the 4-name policy's id (or at all).  Offsets follow snapshot.c's
 * header: magic 8, version 4, byte order 4, size 8, checksum 32 at 24,
 * digest 32 at 56.
 */
static void
test_forged_digest(void)
{
	struct policy *four, *six, *q;
	struct policy_parts pf;
	uint8_t *img, zero[32] = { 0 };
	struct diag *d;
	size_t len;

	write_file("f4.domains", "a.example\nb.example\nc.example\n"
	    "d.example\n");
	write_file("f6.domains", "a.example\nb.example\nc.example\n"
	    "d.example\ne.example\nf.example\n");
	write_file("f4.ini", "[source x]\nfile = f4.domains\n"
	    "format = domains\n");
	write_file("f6.ini", "[source x]\nfile = f6.domains\n"
	    "format = domains\n");
	four = load_manifest("f4.ini", 0);
	six = load_manifest("f6.ini", 0);
	if (four == NULL || six == NULL || write_snapshot(six, "f6.cpol") != 0 ||
	    (img = read_bytes(in_dir("f6.cpol"), &len)) == NULL) {
		policy_unref(four);
		policy_unref(six);
		return;
	}
	policy_get_parts(four, &pf);
	memcpy(img + 56, pf.digest, 32);
	memcpy(img + 24, zero, 32);
	SHA256(img, len, img + 24);
	write_bytes("forged.cpol", img, len);
	d = diag_new();
	q = snapshot_load(in_dir("forged.cpol"), &no_answer, d);
	CHECK(q == NULL, "forged snapshot loaded with id %s (four: %s)",
	    q ? policy_id(q) : "", policy_id(four));
	CHECK(diag_count(d) == 1 && strstr(diag_get(d, 0), "do not match "
	    "the policy digest") != NULL, "forged: %s",
	    diag_count(d) ? diag_get(d, 0) : "no message");
	policy_unref(q);
	diag_free(d);
	free(img);
	policy_unref(four);
	policy_unref(six);
}

/*
 * ../shared/fuzz-findings/3: a name table entry that is not a well-formed
 * wire name (a label running past the entry), with the checksum
 * recomputed, must be refused when the snapshot loads, before anything
 * walks it.  Layout: the section table at 96 (after magic, version,
 * byte order, size, checksum, digest, list and section counts), 24
 * bytes a section {kind, reserved, off, len}; the names section (kind 2)
 * starts with {magic, nslots, count, arena_len}, then the slots (8
 * bytes each), then the arena of [length][wire name] entries.
 */
static void
test_malformed_name_entry(void)
{
	struct policy *p, *q;
	uint8_t *img, zero[32] = { 0 };
	uint32_t kind, nslots, i;
	uint64_t off = 0;
	struct diag *d;
	size_t len;

	write_file("n.domains", "alpha.example\nbeta.example\n");
	write_file("n.ini", "[source x]\nfile = n.domains\nformat = domains\n");
	if ((p = load_manifest("n.ini", 0)) == NULL)
		return;
	if (write_snapshot(p, "n.cpol") != 0 ||
	    (img = read_bytes(in_dir("n.cpol"), &len)) == NULL) {
		policy_unref(p);
		return;
	}
	for (i = 0; i < 8; i++) {
		memcpy(&kind, img + 96 + 24 * i, 4);
		if (kind == 2)
			memcpy(&off, img + 96 + 24 * i + 8, 8);
	}
	CHECK(off != 0 && off + 16 < len, "names section found");
	if (off != 0 && off + 16 < len) {
		memcpy(&nslots, img + off + 4, 4);
		/* the first entry's first label length, past the entry */
		img[off + 16 + (size_t)nslots * 8 + 1] = 60;
		memcpy(img + 24, zero, 32);
		SHA256(img, len, img + 24);
		write_bytes("bad-name.cpol", img, len);
		d = diag_new();
		q = snapshot_load(in_dir("bad-name.cpol"), &no_answer, d);
		CHECK(q == NULL, "a malformed name entry loaded");
		CHECK(diag_count(d) == 1 && strstr(diag_get(d, 0),
		    "name table is corrupt") != NULL, "bad name: %s",
		    diag_count(d) ? diag_get(d, 0) : "no message");
		policy_unref(q);
		diag_free(d);
	}
	free(img);
	policy_unref(p);
}

/* Everything that decides answers is in the id: the action, the answer
 * checks, a list's category, reference and EDE code. */
static void
test_id_covers_answers(void)
{
	struct policy_answer pa = no_answer;
	struct policy *a, *b;
	struct diag *d = diag_new();
	char base[POLICY_ID_LEN + 1];

	write_file("r.domains", "a.example\n");
	write_file("r.ini", "[source x]\nfile = r.domains\nformat = domains\n");
	if ((a = load_manifest("r.ini", 0)) == NULL) {
		diag_free(d);
		return;
	}
	snprintf(base, sizeof(base), "%s", policy_id(a));
	pa.action = ACTION_REFUSED;
	b = policy_load(in_dir("r.ini"), &pa, d);
	CHECK(b != NULL && strcmp(policy_id(b), base) != 0, "action in id");
	policy_unref(b);
	pa = no_answer;
	pa.check_cname = true;
	b = policy_load(in_dir("r.ini"), &pa, d);
	CHECK(b != NULL && strcmp(policy_id(b), base) != 0, "checks in id");
	policy_unref(b);
	write_file("r.ini", "[source x]\nfile = r.domains\nformat = domains\n"
	    "reference = ORDER-1\n");
	b = load_manifest("r.ini", 0);
	CHECK(b != NULL && strcmp(policy_id(b), base) != 0, "reference in id");
	CHECK(b != NULL && strcmp(policy_list_at(b, 0)->reference,
	    "ORDER-1") == 0, "reference kept");
	policy_unref(b);
	write_file("r.ini", "[source x]\nfile = r.domains\nformat = domains\n"
	    "ede = censored\n");
	b = load_manifest("r.ini", 0);
	CHECK(b != NULL && strcmp(policy_id(b), base) != 0, "ede in id");
	CHECK(b != NULL && policy_list_at(b, 0)->ede == 16, "ede kept");
	if (b != NULL && write_snapshot(b, "r.cpol") == 0) {
		struct policy *c = load_snapshot("r.cpol", "ede round trip");

		CHECK(c != NULL && policy_list_at(c, 0)->ede == 16 &&
		    strcmp(policy_id(c), policy_id(b)) == 0,
		    "ede and id survive a snapshot");
		policy_unref(c);
	}
	policy_unref(b);
	policy_unref(a);
	diag_free(d);
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
	test_round_trip();
	test_atomic_write();
	test_refusals();
	test_header_body();
	test_file_changes();
	test_empty();
	test_forged_digest();
	test_malformed_name_entry();
	test_id_covers_answers();
	cleanup();
	return unit_exit();
}
