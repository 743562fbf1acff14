/*
 * policy: the verdict for a name.  A policy is everything loaded from the
 * lists (entries, list names, categories, kinds) plus how blocked names
 * are answered, identified by a digest of the entries.  It is immutable
 * once loaded and reference counted: workers read it without locks, and
 * a reload replaces it as a whole.  It comes from a sources manifest
 * (built here) or from a compiled snapshot (snapshot.h, which sees the
 * policy's parts through the private policy/parts.h), and answers the
 * same either way; policy/loader.h chooses between them.
 */
#ifndef CORDON_POLICY_H
#define CORDON_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "policy/sources.h"

struct cidr;
struct diag;
struct domtree;
struct geo_info;
struct geoip;
struct policy;

/* One source a policy was built from.  Borrowed from the policy. */
struct policy_list {
	const char *name;
	const char *category;
	const char *reference;		/* "" when the source gave none */
	uint16_t ede;			/* RFC 8914 code of its answers */
	enum list_kind kind;
};

/* What the policy says about a name. */
struct verdict {
	bool blocked;
	const struct policy_list *list;	/* NULL when no entry matched */
	size_t rule_off;		/* offset of the entry in the name */
};

/*
 * struct policy_answer (base/config.h): how blocked names are answered
 * and which answers are inspected, [policy] in cordon.conf.  Taken from
 * the config at load, so a reload changes them with the lists; the
 * arrays are copied into the policy.
 */

/* What building from a manifest found in one source (report.json). */
struct source_stats {
	size_t read;		/* entries read (good lines) */
	size_t kept;		/* entries that are new to the policy */
	size_t duplicates;	/* entries already listed (here or before) */
	size_t bad;		/* lines reported and skipped */
	bool failed;		/* the source could not be read */
};

/*
 * Loads a sources manifest and every source it names.  Bad lines are
 * recorded in d and skipped; a manifest or source that cannot be read
 * fails the load (NULL).  Returns a policy holding one reference.
 * policy/loader.h's policy_load() also takes compiled snapshots.
 */
struct policy *policy_load_manifest(const char *path,
    const struct policy_answer *pa, struct diag *d);

/*
 * Builds a policy from a loaded manifest.  Messages about source i go to
 * ds[i]; stats (nsources entries, may be NULL) receive per-source counts.
 * Returns NULL when a source could not be read.
 */
struct policy *policy_build(const struct manifest *m,
    const struct policy_answer *pa, struct diag *const *ds,
    struct source_stats *stats);

/* Reference counting; safe from any thread.  unref(NULL) is a no-op. */
struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);

/* Looks name (lower-case wire form) up; returns v->blocked. */
bool policy_check_name(const struct policy *p, const uint8_t *name,
    struct verdict *v);

/* What the policy says about an address. */
struct addr_verdict {
	bool blocked;
	const struct policy_list *list;	/* NULL when no range matched */
	int family;			/* of the matched range */
	uint8_t lo[16], hi[16];		/* the matched range */
};

/* Looks an address up (4 bytes for AF_INET, 16 for AF_INET6; an
 * IPv4-mapped IPv6 address matches IPv4 ranges); returns v->blocked. */
bool policy_check_addr(const struct policy *p, int family,
    const uint8_t *addr, struct addr_verdict *v);

/*
 * How an address in an answer is judged, by the daemon (query.c) and by
 * `cordon explain` alike, so that the two cannot disagree:
 *
 * policy_answer_ranges(): with [policy] check_answer_ips, the most
 * specific range holding the address decides.  Returns true when one
 * does; v->blocked says which way (an allow range also vouches for the
 * address against GeoIP).  Returns false, with v->list NULL, when no
 * range holds it or check_answer_ips = no; then, when
 * policy_wants_geo(), policy_geo_blocks() decides.
 */
bool policy_answer_ranges(const struct policy *p, int family,
    const uint8_t *addr, struct addr_verdict *v);

/* true when answers are judged by where their addresses are: the policy
 * has GeoIP databases and block_countries or block_asns. */
bool policy_wants_geo(const struct policy *p);

/*
 * [policy] block_countries, then block_asns, for an address GeoIP
 * places at gi.  Returns the key that blocks it ("block_countries" or
 * "block_asns") and writes the rule ("country KY", "AS64500") to rule;
 * NULL when neither blocks it.
 */
const char *policy_geo_blocks(const struct policy_answer *pa,
    const struct geo_info *gi, char *rule, size_t size);

/*
 * The GeoIP verdict on an answer's address that GeoIP places at gi, as
 * the daemon serves it and `cordon explain` tells it: when
 * policy_wants_geo() and block_countries or block_asns blocks gi,
 * returns the pseudo list such answers are counted and logged under
 * (policy_geo_list()), sets *key to the key that blocks and writes the
 * rule to rule (policy_geo_blocks()); else NULL.  Judge the ranges first
 * (policy_answer_ranges()).
 */
const struct policy_list *policy_geo_verdict(const struct policy *p,
    const struct geo_info *gi, const char **key, char *rule, size_t size);

/* The list "geoip", category "geo", EDE 15 (Blocked), kind block. */
const struct policy_list *policy_geo_list(void);

/* Writes the matched range as "PREFIX", "ADDR" or "LO-HI". */
size_t policy_format_range(const struct addr_verdict *v, char *buf,
    size_t size);

/* Number of address ranges. */
size_t policy_ranges(const struct policy *p);

/* true when name itself is listed (not merely under a listed name). */
bool policy_has_name(const struct policy *p, const uint8_t *name);
/* true when exactly the range lo..hi is listed. */
bool policy_has_range(const struct policy *p, int family,
    const uint8_t *lo, const uint8_t *hi);
/* The list of the entry for exactly name, or of exactly lo..hi; NULL
 * when it is not listed itself. */
const struct policy_list *policy_name_list(const struct policy *p,
    const uint8_t *name);
const struct policy_list *policy_range_list(const struct policy *p,
    int family, const uint8_t *lo, const uint8_t *hi);

/*
 * Gives the policy its GeoIP databases (takes ownership of g; NULL for
 * none).  Only while the policy is being built, before anyone else holds
 * a reference: afterwards a policy never changes.
 */
void policy_set_geoip(struct policy *p, struct geoip *g);
/* The GeoIP databases loaded with the policy, or NULL. */
const struct geoip *policy_geoip(const struct policy *p);

/* The policy id: hex SHA-256 (64 characters) of the parts' digest and
 * of the answer settings (action, TTL, sinkholes, checks, countries and
 * ASNs): two policies that answer alike have the same id. */
const char *policy_id(const struct policy *p);
const struct policy_answer *policy_answer(const struct policy *p);
size_t policy_entries(const struct policy *p);
size_t policy_nlists(const struct policy *p);
const struct policy_list *policy_list_at(const struct policy *p, size_t i);
/* Bytes the policy's tables take. */
size_t policy_memory(const struct policy *p);

/* Calls fn for every listed name (lower-case wire form), in no order;
 * allow tells an allow entry (an allow list's, or an adblock "@@"). */
void policy_walk_names(const struct policy *p,
    void (*fn)(void *arg, const uint8_t *name, size_t len,
    const struct policy_list *list, bool allow), void *arg);

/* Calls fn for every listed range (lo/hi: 4 or 16 bytes, inclusive),
 * IPv4 first, each family by first address. */
void policy_walk_ranges(const struct policy *p,
    void (*fn)(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    const struct policy_list *list, bool allow), void *arg);

/* The policy id: SHA-256 over what decides answers (policy_id()). */
#define POLICY_DIGEST_LEN 32
#define POLICY_ID_LEN 64

/*
 * A policy slot: where the daemon keeps the policy in force.  A reload
 * puts a new policy in; each worker notices the generation change and
 * takes a reference to the new one, dropping its old one when its
 * queries are done with it.  The lock is taken only on a change.
 */
struct policy_slot;

/* Takes ownership of p's reference (not on failure); NULL when out of
 * memory.  Free with policy_slot_free(). */
struct policy_slot *policy_slot_new(struct policy *p);
void policy_slot_free(struct policy_slot *s);
/* Replaces the policy (takes ownership of p's reference). */
void policy_slot_set(struct policy_slot *s, struct policy *p);
/* A new reference to the policy in force and its generation. */
struct policy *policy_slot_get(struct policy_slot *s, uint64_t *gen);
/* Cheap: the generation, to compare with the one a worker holds. */
uint64_t policy_slot_generation(struct policy_slot *s);

#endif
