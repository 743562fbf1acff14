/*
 * config_impl.h: what config.c (the table of options, the file) and
 * config_types.c (parsing, comparing and freeing a value by its type)
 * share.  Private to base/config*.c.
 */
#ifndef CORDON_CONFIG_IMPL_H
#define CORDON_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"

/* How a value is written and stored.  The field at the option's offset
 * has the type named in the comment. */
enum opt_type {
	OPT_STR,		/* char *: the text */
	OPT_PATH,		/* char *: relative to the config's directory */
	OPT_U16,		/* uint16_t, min..max */
	OPT_U32,		/* uint32_t, min..max */
	OPT_SIZE,		/* size_t, min..max */
	OPT_BOOL,		/* bool: yes/true/on/1, no/false/off/0 */
	OPT_MS,			/* uint32_t: a duration in ms, min..max ms */
	OPT_S,			/* uint32_t: a duration in s, min..max ms */
	OPT_IP4,		/* uint8_t[4] */
	OPT_IP6,		/* uint8_t[16] */
	OPT_ENUM,		/* int-sized: one of names */
	OPT_ADDRS,		/* struct netaddr *, port 53 unless given */
	OPT_PREFIXES,		/* struct prefix * */
	OPT_COUNTRIES,		/* char (*)[3]: upper-case ISO 3166 codes */
	OPT_ASNS,		/* uint32_t *: AS numbers */
};

/* Who applies a changed value: a reload, or only a restart. */
enum opt_apply {
	BY_RESTART,
	BY_RELOAD,
};

struct opt_name {
	const char *name;
	int value;
};

/* The names an OPT_ENUM takes, and what to say about any other. */
struct opt_names {
	const struct opt_name *v;
	size_t n;
	const char *why;
};

struct option;

/* A check beyond the type's: returns why the value parsed into cfg is
 * wrong, or NULL. */
typedef const char *(*opt_check)(const struct config *cfg,
    const struct option *o);

struct option {
	const char *section;
	const char *key;
	enum opt_type type;
	enum opt_apply apply;
	size_t at;			/* offset of the field */
	const char *def;		/* the default, as written */
	size_t n_at;			/* lists: offset of the length */
	unsigned long min, max;		/* numbers and durations */
	const struct opt_names *names;	/* OPT_ENUM */
	opt_check check;		/* NULL: none */
};

/* Parses value into o's field of cfg (a list is replaced, not added to).
 * Returns 0, or -1 with *why set ("not a number", ...). */
int config_opt_set(struct config *cfg, const struct option *o,
    const char *value, const char **why);

/* true when a and b hold the same value for o. */
bool config_opt_equal(const struct config *a, const struct config *b,
    const struct option *o);

/* The number of items in list option o of cfg. */
size_t config_opt_length(const struct config *cfg, const struct option *o);

/* Frees what o's field of cfg owns (a string, a list). */
void config_opt_free(struct config *cfg, const struct option *o);

#endif
