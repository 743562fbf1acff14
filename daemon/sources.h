/*
 * sources: the sources manifest (blocklists/sources.ini) and the list
 * formats it names.  Turns text into normalised entries handed to a
 * callback; it knows nothing of how they are stored or matched.  Every
 * format reads through diag's line reader and dname's normaliser.
 */
#ifndef CORDON_SOURCES_H
#define CORDON_SOURCES_H

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
	FORMAT_RPZ,		/* RPZ zone file (QNAME triggers) */
	FORMAT_CIDR,		/* prefixes, addresses, A-B ranges */
};

/* One [source NAME] section.  Plain data; owned by its manifest. */
struct source {
	char *name;		/* section name after "source " */
	char *file;		/* path resolved against the manifest, or NULL */
	char *url;		/* url = ..., or NULL */
	enum list_format format;
	char *json_key;		/* for FORMAT_JSON */
	char *category;		/* "" when not given */
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

/*
 * Called once per valid name.  wire is the lower-case wire form
 * (borrowed, valid during the call).  kind is the source's kind, except
 * that an adblock "@@" rule is KIND_ALLOW.  line is the entry's line.
 * Return 0 to go on, -1 to stop the parse (source_parse() returns -1).
 */
typedef int (*source_name_cb)(void *arg, const struct source *src,
    const uint8_t *wire, size_t wirelen, enum list_kind kind, size_t line);

/*
 * Parses one source's file.  Each bad line is recorded in d as
 * FILE:LINE: reason and skipped.  Returns 0 when the file was read
 * (whatever its bad lines), -1 when it could not be read at all or the
 * callback stopped the parse.
 */
int source_parse(const struct source *src, struct diag *d,
    source_name_cb cb, void *arg);

#endif
