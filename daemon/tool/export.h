/*
 * export: writes a policy in the formats other tools load: an RPZ zone
 * (BIND, Unbound, Knot, PowerDNS), hosts, dnsmasq, unbound local-zones,
 * nftables sets, ipset, plain domains and plain CIDR.  Names covered by a
 * listed parent are left out, adjacent and overlapping ranges merged, and
 * allow entries subtracted where the format cannot express them.  Every
 * file is written atomically (temporary file + rename).
 */
#ifndef CORDON_EXPORT_H
#define CORDON_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct diag;
struct policy;

/*
 * What each format holds ("top" names: blocked names with no blocked
 * name above them closer than an allow entry; "exceptions": allow
 * entries whose closest listed ancestor is blocked; "blocked ranges":
 * the addresses the policy blocks, the most specific range deciding,
 * merged).  count is the number of entries below.
 *   rpz      zone $ORIGIN rpz.cordon. (SOA, NS): "name CNAME ." and
 *            "*.name CNAME ." per top name, the same with rpz-passthru.
 *            per exception, rpz-ip triggers for blocked ranges and
 *            passthru ones for ranges an allow range takes out of a
 *            block range; count: names + IP triggers.  Names too long
 *            to fit under the origin are left out (a comment says so).
 *   hosts    "0.0.0.0 name" for every blocked name (hosts files match
 *            exact names only); exceptions cannot be said.
 *   dnsmasq  "address=/name/" per top name, "server=/name/#" per
 *            exception.
 *   unbound  a server: clause of local-zone lines, always_nxdomain per
 *            top name and transparent per exception (for include:).
 *   nft      table inet cordon, interval sets blocked_v4, blocked_v6;
 *            reloadable (the sets are flushed first).
 *   ipset    ipset restore input: hash:net sets cordon_v4, cordon_v6,
 *            filled as *_new and swapped in, so it also reloads.
 *   domains  one top name a line: the format has no exceptions, so a
 *            name an allow entry takes out is blocked by its parent.
 *   cidr     one prefix a line, the blocked ranges.
 * Every file opens with comment lines naming the format, the count and
 * the policy id.  Names are in DNS canonical order, ranges by address.
 */
enum export_format {
	EXPORT_RPZ,
	EXPORT_HOSTS,
	EXPORT_DNSMASQ,
	EXPORT_UNBOUND,
	EXPORT_NFT,
	EXPORT_IPSET,
	EXPORT_DOMAINS,
	EXPORT_CIDR,
	EXPORT_NFORMATS,
};

/* "rpz", "hosts", ...; NULL past the end. */
const char *export_name(enum export_format f);
/* File name inside the output folder: "policy.rpz", "hosts", ... */
const char *export_filename(enum export_format f);

/*
 * Parses a comma-separated list of format names ("rpz,hosts", or "all")
 * into a bit mask (1 << format).  Returns 0, or -1 with *why set.
 */
int export_parse_list(const char *text, unsigned *mask, const char **why);

/*
 * Writes p in format f to path.  Returns 0, or -1 with the reason in d
 * (then no file at path was created or changed).  *count receives the
 * number of entries written (may be NULL).
 */
int export_write(const struct policy *p, enum export_format f,
    const char *path, struct diag *d, size_t *count);

/* What export_write() takes as defaults; zero fields mean the default. */
struct export_opts {
	const char *rpz_origin;	/* the RPZ zone's name: "rpz.cordon." */
	uint32_t rpz_serial;	/* its SOA serial: the current time */
};

/* export_write() with opts (NULL: every default).  A bad rpz_origin
 * fails the export with the reason in d. */
int export_write_opts(const struct policy *p, enum export_format f,
    const char *path, const struct export_opts *opts, struct diag *d,
    size_t *count);

#endif
