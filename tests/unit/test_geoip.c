/*
 * test_geoip: every schema cordon reads (GeoLite2 Country, City and ASN,
 * ip-location-db, one file with both), IPv4, IPv6 and IPv4-mapped
 * addresses, unknown addresses, refused files, the geo_cache against
 * direct lookups, and the JSON form.  The databases are written at run
 * time by tests/fixtures/make-mmdb.pl; without Perl's MaxMind::DB::Writer
 * the test is skipped.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/geoip.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char dir[] = "/tmp/test_geoip.XXXXXX";

static const char *const fixtures[] = {
	"country.mmdb", "asn.mmdb", "iplocation.mmdb", "city.mmdb",
	"both.mmdb", "iplocation-v4.mmdb", "asn-long-org.mmdb",
	"garbage.mmdb", "empty.mmdb",
};

static const char *
fixture(const char *name)
{
	static char path[4][256];
	static int next;
	char *p = path[next++ % 4];

	if (name[0] == '\0')
		return "";
	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	return p;
}

static void
write_file(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(fixture(name), "wb");

	CHECK(f != NULL, "%s: %s", name, strerror(errno));
	if (f == NULL)
		return;
	CHECK(fwrite(data, 1, len, f) == len, "%s", name);
	fclose(f);
}

/* Runs make-mmdb.pl; returns false (with the reason printed) when the
 * tools it needs are missing. */
static bool
make_fixtures(void)
{
	const char *top = getenv("top_srcdir");
	char cmd[1024];
	int rc;

	if (top == NULL)
		top = ".";
	rc = system("perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null");
	if (rc != 0) {
		printf("SKIP: perl with MaxMind::DB::Writer::Tree not found "
		    "(Debian: apt install libmaxmind-db-writer-perl)\n");
		return false;
	}
	if (mkdtemp(dir) == NULL) {
		printf("SKIP: mkdtemp: %s\n", strerror(errno));
		return false;
	}
	snprintf(cmd, sizeof(cmd), "perl '%s/tests/fixtures/make-mmdb.pl' "
	    "'%s'", top, dir);
	rc = system(cmd);
	CHECK(rc == 0, "%s: exit %d", cmd, rc);
	write_file("garbage.mmdb", "this is not a MaxMind DB\n\x00\x01", 27);
	write_file("empty.mmdb", "", 0);
	return rc == 0;
}

static void
remove_fixtures(void)
{
	size_t i;

	for (i = 0; i < N(fixtures); i++)
		unlink(fixture(fixtures[i]));
	rmdir(dir);
}

/* Parses text into family and 16 bytes. */
static int
parse(const char *text, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return AF_INET6;
	return 0;
}

#define LONG_ORG "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale de " \
	"R\xc3\xa9seaux Num\xc3\xa9riques \xe2\x80\x94 Transit IPv6 "
#define V6_ORG "Example IPv6 Transit"
#define QUOTED_ORG "Example \"Quoted\" \\ Net"

struct lookup_case {
	const char *country_db, *asn_db;
	const char *addr;
	const char *country;
	uint32_t asn;
	const char *org;
};

static const struct lookup_case lookup_cases[] = {
	/* GeoLite2 Country + ASN */
	{ "country.mmdb", "asn.mmdb", "192.0.2.1", "CN", 64500,
	    "Example Exchange Hosting" },
	{ "country.mmdb", "asn.mmdb", "192.0.2.255", "CN", 64500,
	    "Example Exchange Hosting" },
	{ "country.mmdb", "asn.mmdb", "198.51.100.7", "US", 64501,
	    QUOTED_ORG },
	/* registered_country only */
	{ "country.mmdb", "asn.mmdb", "203.0.113.200", "KY", 64502,
	    "Offshore Cloud" },
	{ "country.mmdb", "asn.mmdb", "2001:db8::1", "SC", 64503, V6_ORG },
	{ "country.mmdb", "asn.mmdb", "2001:db8:ffff:1::53", "SC", 64503,
	    V6_ORG },
	/* cut to GEO_ORG_MAX - 1 bytes, before a character that would
	 * straddle the end */
	{ "country.mmdb", "asn-long-org.mmdb", "2001:db8::1", "SC", 64503,
	    LONG_ORG },
	{ "country.mmdb", "asn-long-org.mmdb", "192.0.2.1", "CN", 0, "" },
	{ "country.mmdb", "asn.mmdb", "::ffff:192.0.2.77", "CN", 64500,
	    "Example Exchange Hosting" },
	{ "country.mmdb", "asn.mmdb", "::ffff:203.0.113.1", "KY", 64502,
	    "Offshore Cloud" },
	{ "country.mmdb", "asn.mmdb", "192.0.3.0", "", 0, "" },
	{ "country.mmdb", "asn.mmdb", "10.0.0.1", "", 0, "" },
	{ "country.mmdb", "asn.mmdb", "::ffff:10.0.0.1", "", 0, "" },
	{ "country.mmdb", "asn.mmdb", "2001:db9::1", "", 0, "" },
	{ "country.mmdb", "asn.mmdb", "::1", "", 0, "" },
	/* one database only */
	{ "country.mmdb", "", "198.51.100.1", "US", 0, "" },
	{ "", "asn.mmdb", "198.51.100.1", "", 64501, QUOTED_ORG },
	{ "", "", "198.51.100.1", "", 0, "" },
	/* ip-location-db */
	{ "iplocation.mmdb", "", "192.0.2.9", "CN", 0, "" },
	{ "iplocation.mmdb", "", "203.0.113.9", "KY", 0, "" },
	{ "iplocation.mmdb", "", "2001:db8::9", "SC", 0, "" },
	{ "iplocation.mmdb", "", "::ffff:198.51.100.9", "US", 0, "" },
	{ "iplocation.mmdb", "", "10.1.1.1", "", 0, "" },
	{ "iplocation.mmdb", "asn.mmdb", "203.0.113.9", "KY", 64502,
	    "Offshore Cloud" },
	/* an IPv4-only tree: IPv6 is unknown, mapped IPv4 is found */
	{ "iplocation-v4.mmdb", "", "203.0.113.9", "KY", 0, "" },
	{ "iplocation-v4.mmdb", "", "::ffff:192.0.2.1", "CN", 0, "" },
	{ "iplocation-v4.mmdb", "", "2001:db8::9", "", 0, "" },
	/* City: country inside a bigger record */
	{ "city.mmdb", "", "192.0.2.1", "CN", 0, "" },
	{ "city.mmdb", "", "203.0.113.1", "KY", 0, "" },
	{ "city.mmdb", "", "2001:db8::1", "SC", 0, "" },
	{ "city.mmdb", "asn.mmdb", "::ffff:198.51.100.1", "US", 64501,
	    QUOTED_ORG },
	/* country and ASN in one file: the ASN comes from it ... */
	{ "both.mmdb", "", "192.0.2.1", "CN", 64500,
	    "Example Exchange Hosting" },
	{ "both.mmdb", "", "2001:db8::1", "SC", 64503, V6_ORG },
	{ "both.mmdb", "", "172.16.0.1", "", 0, "" },
	/* ... unless an ASN database is named */
	{ "both.mmdb", "asn.mmdb", "203.0.113.1", "KY", 64502,
	    "Offshore Cloud" },
};

static struct geoip *
open_ok(const char *country_db, const char *asn_db)
{
	char err[512] = "";
	struct geoip *g = geoip_open(fixture(country_db), fixture(asn_db),
	    err, sizeof(err));

	CHECK(g != NULL, "open %s %s: %s", country_db, asn_db, err);
	return g;
}

static void
check_info(const char *what, const struct lookup_case *c, bool known,
    const struct geo_info *gi)
{
	bool want_known = c->country[0] || c->asn || c->org[0];

	CHECK(known == want_known, "%s %s %s %s", what, c->country_db,
	    c->asn_db, c->addr);
	CHECK_STR(gi->country, c->country, "%s %s %s %s: country", what,
	    c->country_db, c->asn_db, c->addr);
	CHECK(gi->asn == c->asn, "%s %s %s %s: asn %u", what, c->country_db,
	    c->asn_db, c->addr, (unsigned)gi->asn);
	CHECK_STR(gi->org, c->org, "%s %s %s %s: org", what, c->country_db,
	    c->asn_db, c->addr);
}

static void
test_lookups(void)
{
	size_t i;

	for (i = 0; i < N(lookup_cases); i++) {
		const struct lookup_case *c = &lookup_cases[i];
		struct geoip *g = open_ok(c->country_db, c->asn_db);
		struct geo_info gi;
		uint8_t addr[16];
		int family = parse(c->addr, addr);

		if (g == NULL)
			continue;
		CHECK(family != 0, "%s", c->addr);
		memset(&gi, 0x55, sizeof(gi));
		check_info("lookup", c, geoip_lookup(g, family, addr, &gi),
		    &gi);
		CHECK(geoip_has_country(g) == (c->country_db[0] != '\0'),
		    "%s: has_country", c->country_db);
		CHECK(geoip_has_asn(g) == (c->asn_db[0] != '\0' ||
		    strcmp(c->country_db, "both.mmdb") == 0), "%s %s: has_asn",
		    c->country_db, c->asn_db);
		geoip_free(g);
	}
	geoip_free(NULL);
}

struct refuse_case {
	const char *country_db, *asn_db;
	const char *file;	/* must lead the message */
	const char *why;	/* must follow it */
};

static const struct refuse_case refuse_cases[] = {
	{ "missing.mmdb", "", "missing.mmdb",
	    "No such file or directory" },
	{ "", "missing.mmdb", "missing.mmdb", "No such file or directory" },
	{ "garbage.mmdb", "", "garbage.mmdb", "not a MaxMind DB file" },
	{ "", "garbage.mmdb", "garbage.mmdb", "not a MaxMind DB file" },
	{ "empty.mmdb", "", "empty.mmdb", "empty file" },
	{ "asn.mmdb", "", "asn.mmdb",
	    "neither a MaxMind country database nor ip-location-db" },
	{ "country.mmdb", "country.mmdb", "country.mmdb",
	    "not an ASN database" },
	{ "country.mmdb", "iplocation.mmdb", "iplocation.mmdb",
	    "not an ASN database" },
	{ "country.mmdb", "garbage.mmdb", "garbage.mmdb",
	    "not a MaxMind DB file" },
};

static void
test_refused(void)
{
	size_t i;

	for (i = 0; i < N(refuse_cases); i++) {
		const struct refuse_case *c = &refuse_cases[i];
		char err[512] = "";
		char want[512];
		struct geoip *g = geoip_open(fixture(c->country_db),
		    fixture(c->asn_db), err, sizeof(err));

		CHECK(g == NULL, "%s %s opened", c->country_db, c->asn_db);
		geoip_free(g);
		snprintf(want, sizeof(want), "%s: ", fixture(c->file));
		CHECK(strncmp(err, want, strlen(want)) == 0,
		    "%s %s: \"%s\" does not start with \"%s\"", c->country_db,
		    c->asn_db, err, want);
		CHECK(strstr(err, c->why) != NULL, "%s %s: \"%s\" lacks \"%s\"",
		    c->country_db, c->asn_db, err, c->why);
	}
	{
		/* a directory is not a database either */
		char err[512] = "";
		struct geoip *g = geoip_open(dir, "", err, sizeof(err));

		CHECK(g == NULL && strncmp(err, dir, strlen(dir)) == 0 &&
		    strstr(err, "is a directory") != NULL, "directory: %s", err);
		geoip_free(g);
	}
}

/* Every case through a cache of nslots, twice, compared with direct
 * lookups; returns the hits. */
static uint64_t
cache_pass(struct geo_cache *c, struct geoip *g, const char *const *addrs,
    size_t n, int rounds)
{
	uint64_t hits, misses, before;
	int r;
	size_t i;

	geo_cache_stats(c, &before, &misses);
	for (r = 0; r < rounds; r++)
		for (i = 0; i < n; i++) {
			struct geo_info want, got;
			uint8_t addr[16];
			int family = parse(addrs[i], addr);
			bool k1 = geoip_lookup(g, family, addr, &want);
			bool k2 = geo_cache_lookup(c, g, family, addr, &got);

			CHECK(k1 == k2, "cache %s round %d", addrs[i], r);
			CHECK(memcmp(&want, &got, sizeof(want)) == 0,
			    "cache %s round %d", addrs[i], r);
		}
	geo_cache_stats(c, &hits, &misses);
	return hits - before;
}

static void
test_cache(void)
{
	static const char *const addrs[] = {
		"192.0.2.1", "::ffff:192.0.2.2", "198.51.100.7",
		"203.0.113.200", "2001:db8::1", "2001:db8::2", "10.0.0.1",
		"2001:db9::1", "::ffff:203.0.113.1", "::1",
	};
	struct geoip *g = open_ok("country.mmdb", "asn.mmdb");
	struct geoip *g2 = open_ok("iplocation.mmdb", "");
	struct geo_cache *c = geo_cache_new(1024), *tiny = geo_cache_new(1);
	struct geo_info gi;
	uint8_t addr[16];
	uint64_t hits, misses;
	int family;

	if (g == NULL || g2 == NULL || c == NULL || tiny == NULL)
		goto out;
	geo_cache_stats(c, &hits, &misses);
	CHECK(hits == 0 && misses == 0, "new cache");

	/* the same address twice: the second is a hit, known or not */
	family = parse("192.0.2.1", addr);
	CHECK(geo_cache_lookup(c, g, family, addr, &gi), "first");
	CHECK(geo_cache_lookup(c, g, family, addr, &gi), "second");
	CHECK_STR(gi.country, "CN", "cached");
	family = parse("10.0.0.1", addr);
	CHECK(!geo_cache_lookup(c, g, family, addr, &gi), "negative");
	CHECK(!geo_cache_lookup(c, g, family, addr, &gi), "negative cached");
	CHECK(gi.country[0] == '\0' && gi.asn == 0 && gi.org[0] == '\0',
	    "negative cached is empty");
	geo_cache_stats(c, &hits, &misses);
	CHECK(hits == 2 && misses == 2, "hits %llu misses %llu",
	    (unsigned long long)hits, (unsigned long long)misses);
	/* IPv4-mapped shares the IPv4 entry */
	family = parse("::ffff:192.0.2.1", addr);
	CHECK(geo_cache_lookup(c, g, family, addr, &gi), "mapped");
	geo_cache_stats(c, &hits, &misses);
	CHECK(hits == 3 && misses == 2, "mapped hit: %llu",
	    (unsigned long long)hits);

	/* answers equal direct lookups; a big cache hits on round 2 */
	geo_cache_clear(c);
	hits = cache_pass(c, g, addrs, N(addrs), 2);
	CHECK(hits >= N(addrs) - 1, "round 2 hits %llu",
	    (unsigned long long)hits);
	/* one slot: addresses evict each other, answers stay right */
	hits = cache_pass(tiny, g, addrs, N(addrs), 2);
	CHECK(hits == 0, "tiny cache hits %llu", (unsigned long long)hits);

	/* another geoip: old answers are not served */
	family = parse("192.0.2.1", addr);
	geo_cache_clear(c);
	CHECK(geo_cache_lookup(c, g, family, addr, &gi) && gi.asn == 64500,
	    "asn from g");
	CHECK(geo_cache_lookup(c, g2, family, addr, &gi) && gi.asn == 0,
	    "no asn from g2");
	cache_pass(c, g2, addrs, N(addrs), 2);

	/* no cache: plain lookups */
	CHECK(geo_cache_lookup(NULL, g, family, addr, &gi) && gi.asn == 64500,
	    "NULL cache");
	geo_cache_stats(NULL, &hits, &misses);
	CHECK(hits == 0 && misses == 0, "NULL stats");
out:
	geo_cache_free(c);
	geo_cache_free(tiny);
	geo_cache_free(NULL);
	geoip_free(g);
	geoip_free(g2);
}

struct json_case {
	struct geo_info gi;
	const char *want;
};

static const struct json_case json_cases[] = {
	{ { "", 0, "" }, "{}" },
	{ { "CN", 0, "" }, "{\"country\":\"CN\"}" },
	{ { "", 4134, "" }, "{\"asn\":4134}" },
	{ { "", 0, "Org" }, "{\"org\":\"Org\"}" },
	{ { "CN", 4134, "" }, "{\"country\":\"CN\",\"asn\":4134}" },
	{ { "", 4294967295u, "x" },
	    "{\"asn\":4294967295,\"org\":\"x\"}" },
	{ { "CN", 4134, "Chinanet" },
	    "{\"country\":\"CN\",\"asn\":4134,\"org\":\"Chinanet\"}" },
	{ { "US", 64501, "a\"b\\c/d\n\t\x01\x1f\x7f" },
	    "{\"country\":\"US\",\"asn\":64501,"
	    "\"org\":\"a\\\"b\\\\c/d\\u000a\\u0009\\u0001\\u001f\x7f\"}" },
	{ { "SC", 1, "\xc3\xa9\xe2\x80\x94" },
	    "{\"country\":\"SC\",\"asn\":1,\"org\":\"\xc3\xa9\xe2\x80\x94\"}" },
};

static void
test_json(void)
{
	size_t i;
	char buf[512];

	for (i = 0; i < N(json_cases); i++) {
		const struct json_case *c = &json_cases[i];
		size_t want = strlen(c->want), n;

		n = geo_info_json(&c->gi, buf, sizeof(buf));
		CHECK(n == want, "json case %zu: length %zu", i, n);
		CHECK_STR(buf, c->want, "json case %zu", i);
		/* exactly big enough, then one byte short */
		n = geo_info_json(&c->gi, buf, want + 1);
		CHECK(n == want && strcmp(buf, c->want) == 0,
		    "json case %zu: exact fit", i);
		CHECK(geo_info_json(&c->gi, buf, want) == 0,
		    "json case %zu: one short", i);
	}
	CHECK(geo_info_json(&json_cases[0].gi, buf, 0) == 0, "size 0");
}

/* Lookup answers straight into JSON, as an audit line would carry them. */
static void
test_json_from_db(void)
{
	struct geoip *g = open_ok("country.mmdb", "asn.mmdb");
	struct geoip *glong = open_ok("", "asn-long-org.mmdb");
	struct geo_info gi;
	uint8_t addr[16];
	char buf[256];
	int family;

	if (g == NULL || glong == NULL)
		goto out;
	family = parse("198.51.100.7", addr);
	geoip_lookup(g, family, addr, &gi);
	geo_info_json(&gi, buf, sizeof(buf));
	CHECK_STR(buf, "{\"country\":\"US\",\"asn\":64501,"
	    "\"org\":\"Example \\\"Quoted\\\" \\\\ Net\"}", "db json");
	family = parse("2001:db8::1", addr);
	geoip_lookup(glong, family, addr, &gi);
	geo_info_json(&gi, buf, sizeof(buf));
	CHECK_STR(buf, "{\"asn\":64503,\"org\":\"" LONG_ORG "\"}",
	    "db json long org");
out:
	geoip_free(g);
	geoip_free(glong);
}

int
main(void)
{
	test_json();
	if (!make_fixtures()) {
		remove_fixtures();
		return unit_failures ? 1 : 77;
	}
	test_lookups();
	test_refused();
	test_cache();
	test_json_from_db();
	remove_fixtures();
	return unit_exit();
}
