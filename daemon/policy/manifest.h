/*
 * manifest: the sources manifest (blocklists/sources.ini).  Names each
 * list, where it comes from, its format and what its entries mean; it
 * reads no list itself (sources.h does).
 */
#ifndef CORDON_MANIFEST_H
#define CORDON_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct diag;

enum list_kind {
	KIND_BLOCK,
	KIND_ALLOW,
};

enum list_format {
	FORMAT_DOMAINS,		/* one name a line, '#' comments */
	FORMAT_HOSTS,		/* "ADDR name [name...]", '#' comments */
	FORMAT_ADBLOCK,		/* "||name^", "@@||name^" allows */
	FORMAT_JSON,		/* JSON object; array of names under a key */
	FORMAT_RPZ,		/* RPZ zone file (QNAME, rpz-ip triggers) */
	FORMAT_CIDR,		/* prefixes, addresses, A-B ranges;
				 * '#' and ';' comments */
};

/* One [source NAME] section.  Plain data; owned by its manifest. */
struct source {
	char *name;		/* section name after "source " */
	char *file;		/* path resolved against the manifest, or NULL */
	char *url;		/* url = ..., or NULL */
	enum list_format format;
	char *json_key;		/* for FORMAT_JSON */
	char *category;		/* "" when not given */
	char *reference;	/* the order or ticket it implements, or "" */
	uint16_t ede;		/* RFC 8914 code of its answers: 15-18 */
	enum list_kind kind;
	bool offshore;
	size_t line;		/* line of the section header */
	const char *manifest;	/* the manifest's path (borrowed from it),
				 * for messages about the section */
};

struct manifest {
	char *path;
	char *home_country;	/* "" when not given */
	struct source *sources;
	size_t nsources;
};

/*
 * Reads a manifest.  Unknown sections or keys, bad values, a source with
 * neither or both of file and url, duplicate source names: recorded in d
 * as FILE:LINE: reason.  Returns a new manifest (free with manifest_free())
 * or NULL when anything was wrong.
 */
struct manifest *manifest_load(const char *path, struct diag *d);
void manifest_free(struct manifest *m);

/* Text name of a format/kind, as written in manifests. */
const char *list_format_name(enum list_format f);
const char *list_kind_name(enum list_kind k);

#endif
