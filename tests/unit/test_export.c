/*
 * test_export: a policy loaded from a manifest written to a mkdtemp()
 * directory, exported in every format and compared byte for byte:
 * children of blocked names dropped, allow exceptions (and blocks under
 * them) kept, canonical order, headers and counts, ranges merged and
 * resolved.  Also format names, a failed write leaving nothing behind, a
 * bad RPZ origin, names too long for the origin, an empty policy, and
 * the whole address space blocked (/0, RPZ's IPv6 notation).
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "tool/export.h"
#include "policy/loader.h"
#include "policy/policy.h"
#include "unit.h"

#define SERIAL 2026010101

static char dir[] = "/tmp/test_export.XXXXXX";

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

/* The whole file, or NULL; free it. */
static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int c;

	if (f == NULL)
		return NULL;
	m = open_memstream(&buf, &len);
	while ((c = getc(f)) != EOF)
		putc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static struct policy *
load(const char *manifest)
{
	struct policy_answer pa;
	struct diag *d = diag_new();
	struct policy *p;
	char path[256];

	memset(&pa, 0, sizeof(pa));
	snprintf(path, sizeof(path), "%s/%s", dir, manifest);
	p = policy_load(path, &pa, d);
	CHECK(p != NULL && diag_count(d) == 0, "load %s: %s", manifest,
	    diag_count(d) ? diag_get(d, 0) : "no message");
	diag_free(d);
	return p;
}

static const char manifest[] =
    "[source block]\nfile = block.domains\nformat = domains\n"
    "category = exchange\nkind = block\n\n"
    "[source allow]\nfile = allow.domains\nformat = domains\n"
    "kind = allow\n\n"
    "[source ranges]\nfile = block.cidr\nformat = cidr\nkind = block\n\n"
    "[source allowranges]\nfile = allow.cidr\nformat = cidr\n"
    "kind = allow\n";

/* Out of order on purpose: the exports sort. */
static const char block_domains[] =
    "okx.com\nx.bad.safe.example.com\nwww.binance.com\nexample.com\n"
    "deep.www.okx.com\nbad.safe.example.com\nbinance.com\n";
static const char allow_domains[] =
    "y.safe.example.com\nother.net\nsafe.example.com\n";
static const char block_cidr[] =
    "203.0.113.7\n2001:db8::/32\n198.51.100.10/31\n"
    "198.51.100.0-198.51.100.9\n192.0.2.0/24\n";
static const char allow_cidr[] =
    "192.0.2.128/26\n2001:db8::/33\n10.0.0.0/8\n";

struct want {
	enum export_format f;
	size_t count;
	const char *text;	/* after the two header lines */
};

static const struct want wants[] = {
	{ EXPORT_RPZ, 13,
	    "$TTL 60\n"
	    "$ORIGIN rpz.cordon.\n"
	    "@ SOA localhost. hostmaster.localhost. 2026010101 3600 600 "
	    "604800 60\n"
	    "@ NS localhost.\n"
	    "binance.com CNAME .\n*.binance.com CNAME .\n"
	    "example.com CNAME .\n*.example.com CNAME .\n"
	    "safe.example.com CNAME rpz-passthru.\n"
	    "*.safe.example.com CNAME rpz-passthru.\n"
	    "bad.safe.example.com CNAME .\n*.bad.safe.example.com CNAME .\n"
	    "okx.com CNAME .\n*.okx.com CNAME .\n"
	    "25.0.2.0.192.rpz-ip CNAME .\n"
	    "26.192.2.0.192.rpz-ip CNAME .\n"
	    "29.0.100.51.198.rpz-ip CNAME .\n"
	    "30.8.100.51.198.rpz-ip CNAME .\n"
	    "32.7.113.0.203.rpz-ip CNAME .\n"
	    "26.128.2.0.192.rpz-ip CNAME rpz-passthru.\n"
	    "33.zz.8000.db8.2001.rpz-ip CNAME .\n"
	    "33.zz.db8.2001.rpz-ip CNAME rpz-passthru.\n" },
	{ EXPORT_HOSTS, 7,
	    "0.0.0.0 binance.com\n0.0.0.0 www.binance.com\n"
	    "0.0.0.0 example.com\n0.0.0.0 bad.safe.example.com\n"
	    "0.0.0.0 x.bad.safe.example.com\n0.0.0.0 okx.com\n"
	    "0.0.0.0 deep.www.okx.com\n" },
	{ EXPORT_DNSMASQ, 5,
	    "address=/binance.com/\naddress=/example.com/\n"
	    "server=/safe.example.com/#\naddress=/bad.safe.example.com/\n"
	    "address=/okx.com/\n" },
	{ EXPORT_UNBOUND, 5,
	    "server:\n"
	    "\tlocal-zone: \"binance.com.\" always_nxdomain\n"
	    "\tlocal-zone: \"example.com.\" always_nxdomain\n"
	    "\tlocal-zone: \"safe.example.com.\" transparent\n"
	    "\tlocal-zone: \"bad.safe.example.com.\" always_nxdomain\n"
	    "\tlocal-zone: \"okx.com.\" always_nxdomain\n" },
	{ EXPORT_NFT, 5,
	    "table inet cordon {\n"
	    "\tset blocked_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n"
	    "\tset blocked_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}\n"
	    "}\n"
	    "flush set inet cordon blocked_v4\n"
	    "flush set inet cordon blocked_v6\n"
	    "add element inet cordon blocked_v4 {\n"
	    "\t192.0.2.0/25,\n\t192.0.2.192/26,\n"
	    "\t198.51.100.0-198.51.100.11,\n\t203.0.113.7/32,\n}\n"
	    "add element inet cordon blocked_v6 {\n"
	    "\t2001:db8:8000::/33,\n}\n" },
	{ EXPORT_IPSET, 6,
	    "create cordon_v4 hash:net family inet maxelem 1048576 -exist\n"
	    "create cordon_v4_new hash:net family inet maxelem 1048576 "
	    "-exist\n"
	    "flush cordon_v4_new\n"
	    "add cordon_v4_new 192.0.2.0/25\n"
	    "add cordon_v4_new 192.0.2.192/26\n"
	    "add cordon_v4_new 198.51.100.0/29\n"
	    "add cordon_v4_new 198.51.100.8/30\n"
	    "add cordon_v4_new 203.0.113.7/32\n"
	    "swap cordon_v4_new cordon_v4\ndestroy cordon_v4_new\n"
	    "create cordon_v6 hash:net family inet6 maxelem 1048576 -exist\n"
	    "create cordon_v6_new hash:net family inet6 maxelem 1048576 "
	    "-exist\n"
	    "flush cordon_v6_new\n"
	    "add cordon_v6_new 2001:db8:8000::/33\n"
	    "swap cordon_v6_new cordon_v6\ndestroy cordon_v6_new\n" },
	{ EXPORT_DOMAINS, 4,
	    "binance.com\nexample.com\nbad.safe.example.com\nokx.com\n" },
	{ EXPORT_CIDR, 6,
	    "192.0.2.0/25\n192.0.2.192/26\n198.51.100.0/29\n"
	    "198.51.100.8/30\n203.0.113.7/32\n2001:db8:8000::/33\n" },
};

static void
export_check(const struct policy *p, enum export_format f,
    const char *name, size_t want_count, const char *want_body)
{
	struct export_opts opts = { NULL, SERIAL };
	struct diag *d = diag_new();
	char path[256], *got, *want = NULL;
	const char *c = f == EXPORT_RPZ ? ";" : "#";
	size_t count = 12345;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK(export_write_opts(p, f, path, &opts, d, &count) == 0,
	    "export %s: %s", export_name(f),
	    diag_count(d) ? diag_get(d, 0) : "");
	CHECK(count == want_count, "%s: count %zu, want %zu",
	    export_name(f), count, want_count);
	if (asprintf(&want, "%s cordon export, format %s: %zu entries\n"
	    "%s policy %s; regenerate with cordon compile, do not edit\n%s",
	    c, export_name(f), want_count, c, policy_id(p), want_body) < 0)
		abort();
	got = read_file(path);
	CHECK_STR(got, want, "format %s", export_name(f));
	free(got);
	free(want);
	unlink(path);
	diag_free(d);
}

static void
test_formats(void)
{
	struct policy *p;

	write_file("m.ini", manifest);
	write_file("block.domains", block_domains);
	write_file("allow.domains", allow_domains);
	write_file("block.cidr", block_cidr);
	write_file("allow.cidr", allow_cidr);
	if ((p = load("m.ini")) == NULL)
		return;
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
		export_check(p, wants[i].f, export_filename(wants[i].f),
		    wants[i].count, wants[i].text);
	policy_unref(p);
}

/* An empty policy still makes files the tools load. */
static void
test_empty(void)
{
	struct policy *p;

	write_file("empty.ini", "[source none]\nfile = none.domains\n"
	    "format = domains\nkind = block\n");
	write_file("none.domains", "# nothing\n");
	if ((p = load("empty.ini")) == NULL)
		return;
	export_check(p, EXPORT_DOMAINS, "e.txt", 0, "");
	export_check(p, EXPORT_NFT, "e.nft", 0,
	    "table inet cordon {\n"
	    "\tset blocked_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n"
	    "\tset blocked_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}\n"
	    "}\n"
	    "flush set inet cordon blocked_v4\n"
	    "flush set inet cordon blocked_v6\n");
	policy_unref(p);
}

#define L60 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* 4 labels of 60 and "com": 249 octets in wire form, too long to sit
 * under "*." and rpz.cordon.; listed in hosts, left out of the zone. */
static void
test_long_name(void)
{
	struct policy *p;

	write_file("long.ini", "[source long]\nfile = long.domains\n"
	    "format = domains\nkind = block\n");
	write_file("long.domains", L60 "." L60 "." L60 "." L60 ".com\n");
	if ((p = load("long.ini")) == NULL)
		return;
	export_check(p, EXPORT_RPZ, "long.rpz", 0,
	    "$TTL 60\n$ORIGIN rpz.cordon.\n"
	    "@ SOA localhost. hostmaster.localhost. 2026010101 3600 600 "
	    "604800 60\n@ NS localhost.\n"
	    "; 1 names left out: too long under rpz.cordon.\n");
	export_check(p, EXPORT_DOMAINS, "long.txt", 1,
	    L60 "." L60 "." L60 "." L60 ".com\n");
	policy_unref(p);
}

/* Exports of p in f hold every line of want (NULL-terminated). */
static void
export_has(const struct policy *p, enum export_format f,
    const char *const *want)
{
	struct export_opts opts = { NULL, SERIAL };
	struct diag *d = diag_new();
	char path[256], *got;

	snprintf(path, sizeof(path), "%s/whole", dir);
	CHECK(export_write_opts(p, f, path, &opts, d, NULL) == 0, "%s",
	    export_name(f));
	got = read_file(path);
	for (size_t i = 0; got != NULL && want[i] != NULL; i++)
		CHECK(strstr(got, want[i]) != NULL, "%s: no \"%s\"",
		    export_name(f), want[i]);
	free(got);
	unlink(path);
	diag_free(d);
}

/*
 * Everything blocked but two IPv6 addresses: a /0 goes to RPZ and ipset
 * as two /1s, whole to nft and cidr; IPv6 triggers with no run of zero
 * words, or a run of one, are written without "zz".
 */
static void
test_whole_space(void)
{
	static const char *const rpz[] = {
		"\n1.0.0.0.0.rpz-ip CNAME .\n",
		"\n1.0.0.0.128.rpz-ip CNAME .\n",
		"\n3.zz.rpz-ip CNAME .\n",
		"\n1.zz.8000.rpz-ip CNAME .\n",
		"\n128.6.5.4.3.2.1.db8.2001.rpz-ip CNAME rpz-passthru.\n",
		"\n128.1.1.1.1.1.0.db8.2001.rpz-ip CNAME rpz-passthru.\n",
		NULL,
	};
	static const char *const ipset[] = {
		"\nadd cordon_v4_new 0.0.0.0/1\n"
		    "add cordon_v4_new 128.0.0.0/1\n",
		"\nadd cordon_v6_new 8000::/1\n", NULL,
	};
	static const char *const cidr[] = {
		"\n0.0.0.0/0\n::/3\n", "\n8000::/1\n", NULL,
	};
	static const char *const nft[] = {
		"\t0.0.0.0/0,\n", "\t::-2001:db8:0:1:1:1:1:0,\n", NULL,
	};
	struct policy *p;

	write_file("whole.ini", "[source all]\nfile = all.cidr\n"
	    "format = cidr\nkind = block\n\n"
	    "[source some]\nfile = some.cidr\nformat = cidr\n"
	    "kind = allow\n");
	write_file("all.cidr", "0.0.0.0/0\n::/0\n");
	write_file("some.cidr",
	    "2001:db8:1:2:3:4:5:6\n2001:db8:0:1:1:1:1:1\n");
	if ((p = load("whole.ini")) == NULL)
		return;
	export_has(p, EXPORT_RPZ, rpz);
	export_has(p, EXPORT_IPSET, ipset);
	export_has(p, EXPORT_CIDR, cidr);
	export_has(p, EXPORT_NFT, nft);
	policy_unref(p);
}

static size_t
count_files(void)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while (dp != NULL && (e = readdir(dp)) != NULL)
		n += e->d_name[0] != '.';
	if (dp != NULL)
		closedir(dp);
	return n;
}

/* A failed write reports why and leaves no file, temporary or not. */
static void
test_failures(void)
{
	struct export_opts bad = { "bad..origin", 0 };
	struct diag *d = diag_new();
	struct policy *p = load("empty.ini");
	char path[256];
	size_t before = count_files();

	if (p == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/no/such/dir/hosts", dir);
	CHECK(export_write(p, EXPORT_HOSTS, path, d, NULL) == -1, "no dir");
	CHECK(diag_count(d) == 1 && strstr(diag_get(d, 0), "cannot write"),
	    "%s", diag_count(d) ? diag_get(d, 0) : "no message");
	/* a folder in the way: the rename fails after the data is written */
	snprintf(path, sizeof(path), "%s/blocker", dir);
	mkdir(path, 0755);
	before++;
	diag_clear(d);
	CHECK(export_write(p, EXPORT_DOMAINS, path, d, NULL) == -1,
	    "rename over a folder");
	CHECK(diag_count(d) == 1, "one message");
	CHECK(count_files() == before, "temporary file left behind");
	rmdir(path);
	diag_clear(d);
	snprintf(path, sizeof(path), "%s/bad.rpz", dir);
	CHECK(export_write_opts(p, EXPORT_RPZ, path, &bad, d, NULL) == -1,
	    "bad origin");
	CHECK(diag_count(d) == 1 && strstr(diag_get(d, 0), "bad..origin"),
	    "%s", diag_count(d) ? diag_get(d, 0) : "no message");
	CHECK(access(path, F_OK) != 0, "file written for a bad origin");
	CHECK(export_write(p, EXPORT_NFORMATS, path, d, NULL) == -1,
	    "format out of range");
out:
	policy_unref(p);
	diag_free(d);
}

struct list_case {
	const char *text;
	int rc;
	unsigned mask;
};

static const struct list_case list_cases[] = {
	{ "rpz", 0, 1U << EXPORT_RPZ },
	{ "rpz,hosts", 0, 1U << EXPORT_RPZ | 1U << EXPORT_HOSTS },
	{ " nft , ipset ", 0, 1U << EXPORT_NFT | 1U << EXPORT_IPSET },
	{ "all", 0, (1U << EXPORT_NFORMATS) - 1 },
	{ "cidr,all", 0, (1U << EXPORT_NFORMATS) - 1 },
	{ "domains,domains", 0, 1U << EXPORT_DOMAINS },
	{ "", -1, 0 },
	{ "rpz,", -1, 0 },
	{ "rpz,,hosts", -1, 0 },
	{ "rpz hosts", -1, 0 },
	{ "bind", -1, 0 },
	{ "RPZ", -1, 0 },
	{ "rpzz", -1, 0 },
};

static void
test_names(void)
{
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]);
	    i++) {
		const struct list_case *c = &list_cases[i];
		const char *why = NULL;
		unsigned mask = 0;
		int rc = export_parse_list(c->text, &mask, &why);

		CHECK(rc == c->rc, "\"%s\": rc %d", c->text, rc);
		if (rc == 0)
			CHECK(mask == c->mask, "\"%s\": mask %#x", c->text,
			    mask);
		else
			CHECK(why != NULL, "\"%s\": no reason", c->text);
	}
	CHECK_STR(export_name(EXPORT_RPZ), "rpz", "name");
	CHECK_STR(export_name(EXPORT_CIDR), "cidr", "name");
	CHECK(export_name(EXPORT_NFORMATS) == NULL, "past the end");
	CHECK(export_filename(EXPORT_NFORMATS) == NULL, "past the end");
	for (unsigned f = 0; f < EXPORT_NFORMATS; f++)
		CHECK(export_filename(f) != NULL &&
		    strchr(export_filename(f), '/') == NULL, "filename %u", f);
}

static void
cleanup(void)
{
	static const char *const files[] = {
		"m.ini", "block.domains", "allow.domains", "block.cidr",
		"allow.cidr", "empty.ini", "none.domains", "long.ini",
		"long.domains", "whole.ini", "all.cidr", "some.cidr",
	};
	char path[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	if (rmdir(dir) != 0)
		CHECK(false, "%s left files behind", dir);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	test_names();
	test_formats();
	test_empty();
	test_long_name();
	test_whole_space();
	test_failures();
	cleanup();
	return unit_exit();
}
