/*
 * sources: the list formats a manifest (manifest.h) names.  Turns text
 * into normalised entries handed to a callback: names for the domain
 * matcher, address ranges for the address matcher; it knows nothing of
 * how they are stored or matched.  Every format reads through diag's
 * line reader, dname's name normaliser and cidr's address syntax; RPZ
 * zone files through ldns's master-file parser.
 */
#ifndef CORDON_SOURCES_H
#define CORDON_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "policy/manifest.h"

struct diag;

/*
 * Called once per valid name.  wire is the lower-case wire form
 * (borrowed, valid during the call).  kind is the source's kind, except
 * that an adblock "@@" rule is KIND_ALLOW.  line is the entry's line.
 * Return 0 to go on, -1 to stop the parse (source_parse_all() returns
 * -1).
 */
typedef int (*source_name_cb)(void *arg, const struct source *src,
    const uint8_t *wire, size_t wirelen, enum list_kind kind, size_t line);

/*
 * Called once per valid address range: a cidr line, or an rpz-ip trigger
 * ("24.0.2.0.192.rpz-ip" is 192.0.2.0/24).  lo and hi are the first and
 * last address, network byte order, 4 bytes for AF_INET and 16 for
 * AF_INET6 (borrowed, valid during the call); an IPv4-mapped IPv6 range
 * is passed as written (cidr_add() stores it as IPv4).  kind and line as
 * for names.  Return 0 to go on, -1 to stop the parse.
 */
typedef int (*source_range_cb)(void *arg, const struct source *src,
    int family, const uint8_t *lo, const uint8_t *hi, enum list_kind kind,
    size_t line);

/*
 * Parses one source's file, handing names to on_name and address ranges
 * to on_range (both called with arg).  Each bad line is recorded in d as
 * FILE:LINE: reason and skipped.  Returns 0 when the file was read
 * (whatever its bad lines), -1 when it could not be read at all or a
 * callback stopped the parse.
 *
 * on_name must not be NULL.  With on_range NULL the parse is for a
 * caller that matches names only: a cidr source then fails as a whole
 * ("format cidr is not supported by this build yet") and each rpz-ip
 * trigger is reported as a bad line, so no list is dropped silently.
 */
int source_parse_all(const struct source *src, struct diag *d,
    source_name_cb on_name, source_range_cb on_range, void *arg);

#endif
