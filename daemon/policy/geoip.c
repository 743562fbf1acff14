/*
 * geoip: the libmaxminddb wrapper.  Opens a country and an ASN database,
 * decides at open which schema each one speaks, and turns an address into
 * a struct geo_info.  Also the per-worker geo_cache and the JSON form used
 * in audit lines.  Knows nothing of policy: what a country means is
 * policy.c's business.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maxminddb.h>

#include "base/json.h"
#include "policy/geoip.h"

/* What the records of one database carry, learnt at open. */
struct geodb {
	MMDB_s mmdb;
	bool is_open;
	bool has_iso;		/* country.iso_code, registered_country.iso_code */
	bool has_code;		/* country_code (ip-location-db) */
	bool has_asn;		/* autonomous_system_number */
};

struct geoip {
	struct geodb country;
	struct geodb asn;
	const struct geodb *country_from;	/* NULL: no country data */
	const struct geodb *asn_from;		/* &asn, &country or NULL */
};

/*
 * How much of the search tree the schema probe walks: enough to reach a
 * few dozen data records in any real database, little enough that opening
 * a database stays instant.
 */
#define PROBE_MAX_NODES 20000
#define PROBE_MAX_RECORDS 64

static bool
entry_has(MMDB_entry_s *entry, const char *const *path)
{
	MMDB_entry_data_s data;

	if (MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS)
		return false;
	return data.has_data;
}

static void
probe_record(struct geodb *d, MMDB_entry_s *entry)
{
	static const char *const iso[] = { "country", "iso_code", NULL };
	static const char *const reg[] = { "registered_country", "iso_code",
	    NULL };
	static const char *const code[] = { "country_code", NULL };
	static const char *const asn[] = { "autonomous_system_number", NULL };

	if (entry_has(entry, iso) || entry_has(entry, reg))
		d->has_iso = true;
	if (entry_has(entry, code))
		d->has_code = true;
	if (entry_has(entry, asn))
		d->has_asn = true;
}

/*
 * Learns the schema from the records themselves: walks the search tree
 * depth first and looks at the first data records it meets.  Lookups of
 * fixed addresses would miss in a database that covers other ranges (the
 * test fixtures hold only documentation ranges).  The metadata's
 * database_type adds what MaxMind names promise, for databases whose first
 * records happen to lack the fields (a City range with only a location).
 * Returns 0, or -1 when the tree is corrupt.
 */
static int
probe_schema(struct geodb *d)
{
	uint32_t stack[2 * 129];	/* depth <= 128, two children each */
	size_t top = 0, nodes = 0, records = 0;
	const char *type = d->mmdb.metadata.database_type;

	if (type != NULL) {
		if (strstr(type, "Country") || strstr(type, "City") ||
		    strstr(type, "Enterprise"))
			d->has_iso = true;
		if (strstr(type, "ASN"))
			d->has_asn = true;
	}
	stack[top++] = 0;
	while (top > 0 && nodes < PROBE_MAX_NODES &&
	    records < PROBE_MAX_RECORDS) {
		MMDB_search_node_s node;

		if (MMDB_read_node(&d->mmdb, stack[--top], &node) !=
		    MMDB_SUCCESS)
			return -1;
		nodes++;
		/* right first, so the left (lower) half is walked first */
		if (node.right_record_type == MMDB_RECORD_TYPE_SEARCH_NODE &&
		    top < sizeof(stack) / sizeof(stack[0]))
			stack[top++] = (uint32_t)node.right_record;
		else if (node.right_record_type == MMDB_RECORD_TYPE_DATA) {
			probe_record(d, &node.right_record_entry);
			records++;
		} else if (node.right_record_type == MMDB_RECORD_TYPE_INVALID)
			return -1;
		if (node.left_record_type == MMDB_RECORD_TYPE_SEARCH_NODE &&
		    top < sizeof(stack) / sizeof(stack[0]))
			stack[top++] = (uint32_t)node.left_record;
		else if (node.left_record_type == MMDB_RECORD_TYPE_DATA) {
			probe_record(d, &node.left_record_entry);
			records++;
		} else if (node.left_record_type == MMDB_RECORD_TYPE_INVALID)
			return -1;
	}
	return 0;
}

/* libmaxminddb reports an empty file or a directory as a failed read
 * ("Invalid argument"); say what is wrong instead. */
static int
check_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory, not a MaxMind DB "
		    "file", path);
		return -1;
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		snprintf(err, errlen, "%s: empty file, not a MaxMind DB file",
		    path);
		return -1;
	}
	return 0;
}

static int
geodb_open(struct geodb *d, const char *path, char *err, size_t errlen)
{
	int rc;

	if (check_file(path, err, errlen) != 0)
		return -1;
	rc = MMDB_open(path, MMDB_MODE_MMAP, &d->mmdb);
	if (rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (rc != MMDB_SUCCESS) {
		snprintf(err, errlen, "%s: not a MaxMind DB file (%s)", path,
		    MMDB_strerror(rc));
		return -1;
	}
	d->is_open = true;
	if (probe_schema(d) != 0) {
		snprintf(err, errlen, "%s: not a MaxMind DB file (%s)", path,
		    MMDB_strerror(MMDB_CORRUPT_SEARCH_TREE_ERROR));
		return -1;
	}
	return 0;
}

static void
geodb_close(struct geodb *d)
{
	if (d->is_open)
		MMDB_close(&d->mmdb);
	d->is_open = false;
}

struct geoip *
geoip_open(const char *country_db, const char *asn_db, char *err,
    size_t errlen)
{
	struct geoip *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		snprintf(err, errlen, "geoip: out of memory while opening "
		    "the databases");
		return NULL;
	}
	if (country_db != NULL && country_db[0] != '\0') {
		if (geodb_open(&g->country, country_db, err, errlen) != 0)
			goto fail;
		if (!g->country.has_iso && !g->country.has_code) {
			snprintf(err, errlen, "%s: neither a MaxMind country "
			    "database nor ip-location-db", country_db);
			goto fail;
		}
		g->country_from = &g->country;
		if (g->country.has_asn)
			g->asn_from = &g->country;
	}
	if (asn_db != NULL && asn_db[0] != '\0') {
		if (geodb_open(&g->asn, asn_db, err, errlen) != 0)
			goto fail;
		if (!g->asn.has_asn) {
			snprintf(err, errlen, "%s: not an ASN database (no "
			    "autonomous_system_number, as in GeoLite2-ASN)",
			    asn_db);
			goto fail;
		}
		g->asn_from = &g->asn;
	}
	return g;
fail:
	geoip_free(g);
	return NULL;
}

void
geoip_free(struct geoip *g)
{
	if (g == NULL)
		return;
	geodb_close(&g->country);
	geodb_close(&g->asn);
	free(g);
}

bool
geoip_has_country(const struct geoip *g)
{
	return g != NULL && g->country_from != NULL;
}

bool
geoip_has_asn(const struct geoip *g)
{
	return g != NULL && g->asn_from != NULL;
}

/*
 * Normalises an address for lookup and cache key: IPv4-mapped IPv6
 * (::ffff:a.b.c.d) becomes IPv4, so it finds the IPv4 data of an IPv6
 * database and of an IPv4-only one alike.  key is zero-padded to 16
 * bytes.  Returns the family, or 0 for an unknown family.
 */
static int
normalise(int family, const uint8_t *addr, uint8_t key[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	memset(key, 0, 16);
	if (family == AF_INET) {
		memcpy(key, addr, 4);
		return AF_INET;
	}
	if (family != AF_INET6)
		return 0;
	if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
		memcpy(key, addr + 12, 4);
		return AF_INET;
	}
	memcpy(key, addr, 16);
	return AF_INET6;
}

static bool
find(const struct geodb *d, int family, const uint8_t key[16],
    MMDB_lookup_result_s *res)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	int mmdb_error;

	if (family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, key, 4);
		sa = (const struct sockaddr *)&sin;
	} else {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, key, 16);
		sa = (const struct sockaddr *)&sin6;
	}
	/* An IPv6 address in an IPv4-only database is an error here; for
	 * us it is an address the database knows nothing of. */
	*res = MMDB_lookup_sockaddr(&d->mmdb, sa, &mmdb_error);
	return mmdb_error == MMDB_SUCCESS && res->found_entry;
}

static bool
get_string(MMDB_entry_s *entry, MMDB_entry_data_s *data,
    const char *const *path)
{
	return MMDB_aget_value(entry, data, path) == MMDB_SUCCESS &&
	    data->has_data && data->type == MMDB_DATA_TYPE_UTF8_STRING;
}

/* Takes an ISO 3166-1 alpha-2 code, upper-cased; anything else is
 * ignored, so the audit log never carries odd bytes in "country". */
static bool
set_country(struct geo_info *out, const MMDB_entry_data_s *data)
{
	char a, b;

	if (data->data_size != 2)
		return false;
	a = data->utf8_string[0] & ~0x20;
	b = data->utf8_string[1] & ~0x20;
	if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z')
		return false;
	out->country[0] = a;
	out->country[1] = b;
	out->country[2] = '\0';
	return true;
}

static void
lookup_country(const struct geodb *d, MMDB_entry_s *entry,
    struct geo_info *out)
{
	static const char *const iso[] = { "country", "iso_code", NULL };
	static const char *const reg[] = { "registered_country", "iso_code",
	    NULL };
	static const char *const code[] = { "country_code", NULL };
	MMDB_entry_data_s data;

	if (d->has_iso) {
		if (get_string(entry, &data, iso) && set_country(out, &data))
			return;
		if (get_string(entry, &data, reg) && set_country(out, &data))
			return;
	}
	if (d->has_code && get_string(entry, &data, code))
		set_country(out, &data);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/*
 * Copies the organisation, cut to fit at a character boundary.  Bytes
 * that are not UTF-8 become '?': the name goes into JSON audit lines,
 * which must stay valid whatever the database holds.
 */
static void
set_org(struct geo_info *out, const MMDB_entry_data_s *data)
{
	const unsigned char *s = (const unsigned char *)data->utf8_string;
	size_t n = data->data_size, i = 0, o = 0;

	while (i < n) {
		size_t len = utf8_len(s + i, n - i);

		if (s[i] == '\0')
			break;
		if (len == 0) {
			len = 1;
			if (o + 1 >= sizeof(out->org))
				break;
			out->org[o++] = '?';
		} else {
			if (o + len >= sizeof(out->org))
				break;
			memcpy(out->org + o, s + i, len);
			o += len;
		}
		i += len;
	}
	out->org[o] = '\0';
}

static void
lookup_asn(MMDB_entry_s *entry, struct geo_info *out)
{
	static const char *const num[] = { "autonomous_system_number", NULL };
	static const char *const org[] = { "autonomous_system_organization",
	    NULL };
	MMDB_entry_data_s data;
	uint64_t asn = 0;

	if (MMDB_aget_value(entry, &data, num) != MMDB_SUCCESS ||
	    !data.has_data)
		return;
	if (data.type == MMDB_DATA_TYPE_UINT32)
		asn = data.uint32;
	else if (data.type == MMDB_DATA_TYPE_UINT16)
		asn = data.uint16;
	else if (data.type == MMDB_DATA_TYPE_UINT64)
		asn = data.uint64;
	else if (data.type == MMDB_DATA_TYPE_INT32 && data.int32 > 0)
		asn = (uint64_t)data.int32;
	if (asn == 0 || asn > UINT32_MAX)
		return;
	out->asn = (uint32_t)asn;
	if (get_string(entry, &data, org))
		set_org(out, &data);
}

static bool
is_known(const struct geo_info *gi)
{
	return gi->country[0] != '\0' || gi->asn != 0 || gi->org[0] != '\0';
}

/* geoip_lookup() on an address already normalised. */
static bool
lookup_key(const struct geoip *g, int family, const uint8_t key[16],
    struct geo_info *out)
{
	MMDB_lookup_result_s res;

	memset(out, 0, sizeof(*out));
	if (g == NULL || family == 0)
		return false;
	if (g->country_from != NULL &&
	    find(g->country_from, family, key, &res)) {
		lookup_country(g->country_from, &res.entry, out);
		if (g->asn_from == g->country_from)
			lookup_asn(&res.entry, out);
	}
	if (g->asn_from == &g->asn && find(&g->asn, family, key, &res))
		lookup_asn(&res.entry, out);
	return is_known(out);
}

bool
geoip_lookup(const struct geoip *g, int family, const uint8_t *addr,
    struct geo_info *out)
{
	uint8_t key[16];

	return lookup_key(g, normalise(family, addr, key), key, out);
}

struct geo_slot {
	uint8_t family;		/* 0: empty */
	uint8_t addr[16];
	struct geo_info info;	/* also kept when nothing is known */
};

struct geo_cache {
	struct geo_slot *slots;
	size_t mask;		/* nslots - 1, nslots a power of two */
	const struct geoip *owner;	/* the geoip the answers came from */
	uint64_t hits, misses;
};

struct geo_cache *
geo_cache_new(size_t nslots)
{
	struct geo_cache *c;
	size_t n = 1;

	while (n < nslots && n < ((size_t)1 << 24))
		n <<= 1;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->slots = calloc(n, sizeof(*c->slots));
	if (c->slots == NULL) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	return c;
}

void
geo_cache_free(struct geo_cache *c)
{
	if (c == NULL)
		return;
	free(c->slots);
	free(c);
}

void
geo_cache_clear(struct geo_cache *c)
{
	if (c == NULL)
		return;
	memset(c->slots, 0, (c->mask + 1) * sizeof(*c->slots));
	c->owner = NULL;
}

/*
 * Every bit of the address moves every bit of the slot number (MurmurHash3's
 * finaliser after a fold): answers of one hoster differ only in the last
 * bytes of an IPv4 address or of an IPv6 interface id.
 */
static size_t
slot_of(const struct geo_cache *c, int family, const uint8_t key[16])
{
	uint64_t a, b, h;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	h = a * 0x9e3779b97f4a7c15ULL + b + (uint64_t)family;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h & c->mask;
}

bool
geo_cache_lookup(struct geo_cache *c, const struct geoip *g, int family,
    const uint8_t *addr, struct geo_info *out)
{
	uint8_t key[16];
	struct geo_slot *s;
	bool known;

	family = normalise(family, addr, key);
	if (c == NULL || family == 0 || g == NULL)
		return lookup_key(g, family, key, out);
	/* A safety net for a caller that swapped the geoip and forgot
	 * geo_cache_clear(): answers from the old databases go. */
	if (c->owner != g) {
		geo_cache_clear(c);
		c->owner = g;
	}
	s = &c->slots[slot_of(c, family, key)];
	if (s->family == family && memcmp(s->addr, key, 16) == 0) {
		c->hits++;
		*out = s->info;
		return is_known(out);
	}
	c->misses++;
	known = lookup_key(g, family, key, out);
	s->family = (uint8_t)family;
	memcpy(s->addr, key, 16);
	s->info = *out;
	return known;
}

void
geo_cache_stats(const struct geo_cache *c, uint64_t *hits,
    uint64_t *misses)
{
	*hits = c != NULL ? c->hits : 0;
	*misses = c != NULL ? c->misses : 0;
}

/* Appends s as the body of a JSON string; false when it does not fit. */
static bool
put_escaped(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = json_escape(buf + *len, size - *len, s, strlen(s));

	if (n >= size - *len)
		return false;
	*len += n;
	return true;
}

static bool
put_raw(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= size)
		return false;
	memcpy(buf + *len, s, n);
	*len += n;
	return true;
}

size_t
geo_info_json(const struct geo_info *gi, char *buf, size_t size)
{
	size_t len = 0;
	const char *sep = "";
	char num[16];

	if (size == 0 || !put_raw(buf, size, &len, "{"))
		goto fail;
	if (gi->country[0] != '\0') {
		if (!put_raw(buf, size, &len, "\"country\":\"") ||
		    !put_escaped(buf, size, &len, gi->country) ||
		    !put_raw(buf, size, &len, "\""))
			goto fail;
		sep = ",";
	}
	if (gi->asn != 0) {
		snprintf(num, sizeof(num), "%u", (unsigned)gi->asn);
		if (!put_raw(buf, size, &len, sep) ||
		    !put_raw(buf, size, &len, "\"asn\":") ||
		    !put_raw(buf, size, &len, num))
			goto fail;
		sep = ",";
	}
	if (gi->org[0] != '\0') {
		if (!put_raw(buf, size, &len, sep) ||
		    !put_raw(buf, size, &len, "\"org\":\"") ||
		    !put_escaped(buf, size, &len, gi->org) ||
		    !put_raw(buf, size, &len, "\""))
			goto fail;
	}
	if (!put_raw(buf, size, &len, "}"))
		goto fail;
	buf[len] = '\0';
	return len;
fail:
	if (size > 0)
		buf[0] = '\0';
	return 0;
}
