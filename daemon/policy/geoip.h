/*
 * geoip: address → country and autonomous system, from MaxMind DB files
 * read with libmaxminddb in MMAP mode (lookups touch memory, not the
 * disk).  Reads the MaxMind Country/City schema (country.iso_code), the
 * ip-location-db schema (country_code) and the GeoLite2-ASN schema
 * (autonomous_system_number, autonomous_system_organization).  A struct
 * geoip is immutable once open: many threads look up without locks.  A
 * reload opens the files anew and replaces the whole object.
 */
#ifndef CORDON_GEOIP_H
#define CORDON_GEOIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct geoip;
struct sockaddr;

#define GEO_ORG_MAX 64

/* What is known of one address; empty fields are unknown. */
struct geo_info {
	char country[3];		/* ISO 3166-1 alpha-2, "" unknown */
	uint32_t asn;			/* 0 unknown */
	char org[GEO_ORG_MAX];		/* "" unknown */
};

/*
 * Opens the databases (either path may be "" for none; both "" gives a
 * geoip that knows nothing).  A file that is missing, not an MMDB, or of
 * neither schema is an error: NULL with the reason in err.
 */
struct geoip *geoip_open(const char *country_db, const char *asn_db,
    char *err, size_t errlen);
void geoip_free(struct geoip *g);

/* true when a country or an ASN database is open. */
bool geoip_has_country(const struct geoip *g);
bool geoip_has_asn(const struct geoip *g);

/* Looks an address up (4 bytes AF_INET, 16 AF_INET6).  Fills out (all
 * empty when nothing is known) and returns true when anything is known. */
bool geoip_lookup(const struct geoip *g, int family, const uint8_t *addr,
    struct geo_info *out);

/*
 * A small cache of recent lookups, one per worker (not thread-safe): a
 * direct-mapped table of nslots addresses.  Lookups through it give the
 * same answers as geoip_lookup().
 */
struct geo_cache;
struct geo_cache *geo_cache_new(size_t nslots);
void geo_cache_free(struct geo_cache *c);
/* Forgets everything (call when the geoip object changes). */
void geo_cache_clear(struct geo_cache *c);
bool geo_cache_lookup(struct geo_cache *c, const struct geoip *g,
    int family, const uint8_t *addr, struct geo_info *out);
/* Hits and misses since creation. */
void geo_cache_stats(const struct geo_cache *c, uint64_t *hits,
    uint64_t *misses);

/* Writes {"country":"CN","asn":4134,"org":"..."} (only the known
 * members; {} when nothing is known).  Returns the length, or 0 when it
 * does not fit. */
size_t geo_info_json(const struct geo_info *gi, char *buf, size_t size);

#endif
