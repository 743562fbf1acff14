/*
 * config_types: a value of cordon.conf by its type (config_impl.h):
 * parsing it into its field, with the reason a bad one is wrong,
 * comparing two configs' fields and freeing what a field owns.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/config.h"
#include "base/config_impl.h"
#include "base/netaddr.h"

#define FIELD(cfg, o, type) ((type *)((char *)(cfg) + (o)->at))
#define CFIELD(cfg, o, type) \
	((const type *)((const char *)(cfg) + (o)->at))

#define NOMEM "out of memory"

/* An enum is stored as an int (OPT_ENUM). */
_Static_assert(sizeof(enum action) == sizeof(int), "enum action is an int");

/* ---- numbers, durations, booleans, addresses, names ---- */

static int
set_str(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	char **p = FIELD(cfg, o, char *);

	free(*p);
	if ((*p = strdup(value)) == NULL) {
		*why = NOMEM;
		return -1;
	}
	return 0;
}

/* Reads a bounded unsigned number and stores it in the field's type. */
static int
set_uint(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (!isdigit((unsigned char)value[0]) || *end != '\0' || errno != 0) {
		*why = "not a number";
		return -1;
	}
	if (v < o->min || v > o->max) {
		*why = "out of range";
		return -1;
	}
	if (o->type == OPT_U16)
		*FIELD(cfg, o, uint16_t) = (uint16_t)v;
	else if (o->type == OPT_U32)
		*FIELD(cfg, o, uint32_t) = (uint32_t)v;
	else
		*FIELD(cfg, o, size_t) = v;
	return 0;
}

int
config_parse_duration(const char *text, uint32_t *ms)
{
	char *end;
	unsigned long long v, scale;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		scale = 1000;
	else if (strcmp(end, "m") == 0)
		scale = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		scale = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		scale = 86400 * 1000;
	else
		return -1;
	if (v > 86400ULL * 1000 / scale)
		return -1;
	*ms = (uint32_t)(v * scale);
	return 0;
}

/* min and max are in ms for OPT_S too. */
static int
set_duration(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	uint32_t ms;

	if (config_parse_duration(value, &ms) == -1) {
		*why = "not a duration (use ms, s, m, h, at most 1d)";
		return -1;
	}
	if (ms < o->min || ms > o->max) {
		*why = "duration out of range";
		return -1;
	}
	*FIELD(cfg, o, uint32_t) = o->type == OPT_S ? ms / 1000 : ms;
	return 0;
}

static int
set_bool(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*FIELD(cfg, o, bool) = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*FIELD(cfg, o, bool) = false;
			return 0;
		}
	}
	*why = "not a boolean (use yes or no)";
	return -1;
}

static int
set_ip(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	int af = o->type == OPT_IP4 ? AF_INET : AF_INET6;

	if (inet_pton(af, value, FIELD(cfg, o, uint8_t)) != 1) {
		*why = af == AF_INET ? "not an IPv4 address" :
		    "not an IPv6 address";
		return -1;
	}
	return 0;
}

static int
set_enum(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	size_t i;

	for (i = 0; i < o->names->n; i++) {
		if (strcasecmp(value, o->names->v[i].name) == 0) {
			memcpy(FIELD(cfg, o, char), &o->names->v[i].value,
			    sizeof(int));
			return 0;
		}
	}
	*why = o->names->why;
	return -1;
}

/* ---- lists: items separated by commas or blanks ---- */

/* Each item is parsed in place into its element of the array. */
typedef int (*item_parse)(const char *text, void *elem, const char **why);

static int
parse_addr(const char *text, void *elem, const char **why)
{
	return netaddr_parse(text, 53, elem, why);
}

static int
parse_prefix(const char *text, void *elem, const char **why)
{
	return netaddr_parse_prefix(text, elem, why);
}

static int
parse_country(const char *text, void *elem, const char **why)
{
	char *c = elem;

	if (strlen(text) != 2 || !isalpha((unsigned char)text[0]) ||
	    !isalpha((unsigned char)text[1])) {
		*why = "not a two-letter ISO 3166 country code";
		return -1;
	}
	c[0] = (char)toupper((unsigned char)text[0]);
	c[1] = (char)toupper((unsigned char)text[1]);
	c[2] = '\0';
	return 0;
}

static int
parse_asn(const char *text, void *elem, const char **why)
{
	unsigned long v;
	uint32_t asn;
	char *end;

	if (strncasecmp(text, "AS", 2) == 0)
		text += 2;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || *end != '\0' || errno != 0 ||
	    v == 0 || v > UINT32_MAX) {
		*why = "not an AS number (use 64500 or AS64500)";
		return -1;
	}
	asn = (uint32_t)v;
	memcpy(elem, &asn, sizeof(asn));
	return 0;
}

static bool
addr_equal(const void *a, const void *b)
{
	const struct netaddr *x = a, *y = b;

	return netaddr_equal((const struct sockaddr *)&x->ss,
	    (const struct sockaddr *)&y->ss);
}

static bool
prefix_equal(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;

	return x->family == y->family && x->bits == y->bits &&
	    memcmp(x->addr, y->addr, sizeof(x->addr)) == 0;
}

struct item_type {
	size_t size;
	item_parse parse;
	bool (*equal)(const void *, const void *);	/* NULL: bytes */
};

static const struct item_type *
item_type(enum opt_type t)
{
	static const struct item_type addrs = { sizeof(struct netaddr),
	    parse_addr, addr_equal };
	static const struct item_type prefixes = { sizeof(struct prefix),
	    parse_prefix, prefix_equal };
	static const struct item_type countries = { 3, parse_country, NULL };
	static const struct item_type asns = { sizeof(uint32_t), parse_asn,
	    NULL };

	switch (t) {
	case OPT_ADDRS:
		return &addrs;
	case OPT_PREFIXES:
		return &prefixes;
	case OPT_COUNTRIES:
		return &countries;
	case OPT_ASNS:
		return &asns;
	default:
		return NULL;
	}
}

/* A list field: the array pointer at o->at, its length at o->n_at.  The
 * arrays have their own pointer types, so both go through memcpy. */
struct list {
	void *v;
	size_t n;
};

static struct list
list_get(const struct config *cfg, const struct option *o)
{
	struct list l;

	memcpy(&l.v, (const char *)cfg + o->at, sizeof(l.v));
	memcpy(&l.n, (const char *)cfg + o->n_at, sizeof(l.n));
	return l;
}

static void
list_put(struct config *cfg, const struct option *o, const struct list *l)
{
	memcpy((char *)cfg + o->at, &l->v, sizeof(l->v));
	memcpy((char *)cfg + o->n_at, &l->n, sizeof(l->n));
}

size_t
config_opt_length(const struct config *cfg, const struct option *o)
{
	return list_get(cfg, o).n;
}

/* Appends one item; the list so far stays in cfg whatever happens. */
static int
add_item(struct config *cfg, const struct option *o, const char *text,
    const char **why)
{
	const struct item_type *it = item_type(o->type);
	struct list l = list_get(cfg, o);
	char *v = realloc(l.v, (l.n + 1) * it->size);
	int rc;

	if (v == NULL) {
		*why = NOMEM;
		return -1;
	}
	l.v = v;
	if ((rc = it->parse(text, v + l.n * it->size, why)) == 0)
		l.n++;
	list_put(cfg, o, &l);
	return rc;
}

static int
set_list(struct config *cfg, const struct option *o, const char *value,
    const char **why)
{
	struct list l = list_get(cfg, o);
	char *copy, *save = NULL, *tok;
	int rc = 0;

	free(l.v);
	l.v = NULL;
	l.n = 0;
	list_put(cfg, o, &l);
	if ((copy = strdup(value)) == NULL) {
		*why = NOMEM;
		return -1;
	}
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ", \t", &save))
		rc = add_item(cfg, o, tok, why);
	free(copy);
	return rc;
}

static bool
list_equal(const struct config *a, const struct config *b,
    const struct option *o)
{
	const struct item_type *it = item_type(o->type);
	struct list x = list_get(a, o), y = list_get(b, o);
	size_t i;

	if (x.n != y.n)
		return false;
	if (it->equal == NULL)
		return x.n == 0 || memcmp(x.v, y.v, x.n * it->size) == 0;
	for (i = 0; i < x.n; i++)
		if (!it->equal((char *)x.v + i * it->size,
		    (char *)y.v + i * it->size))
			return false;
	return true;
}

/* ---- by type ---- */

/* The bytes of a fixed-size field, compared as they are. */
static size_t
scalar_size(enum opt_type t)
{
	switch (t) {
	case OPT_U16:
		return sizeof(uint16_t);
	case OPT_U32:
	case OPT_MS:
	case OPT_S:
		return sizeof(uint32_t);
	case OPT_SIZE:
		return sizeof(size_t);
	case OPT_BOOL:
		return sizeof(bool);
	case OPT_IP4:
		return 4;
	case OPT_IP6:
		return 16;
	case OPT_ENUM:
		return sizeof(int);
	default:
		return 0;
	}
}

static bool
is_string(enum opt_type t)
{
	return t == OPT_STR || t == OPT_PATH;
}

int
config_opt_set(struct config *cfg, const struct option *o,
    const char *value, const char **why)
{
	int rc;

	switch (o->type) {
	case OPT_STR:
	case OPT_PATH:
		rc = set_str(cfg, o, value, why);
		break;
	case OPT_U16:
	case OPT_U32:
	case OPT_SIZE:
		rc = set_uint(cfg, o, value, why);
		break;
	case OPT_BOOL:
		rc = set_bool(cfg, o, value, why);
		break;
	case OPT_MS:
	case OPT_S:
		rc = set_duration(cfg, o, value, why);
		break;
	case OPT_IP4:
	case OPT_IP6:
		rc = set_ip(cfg, o, value, why);
		break;
	case OPT_ENUM:
		rc = set_enum(cfg, o, value, why);
		break;
	default:
		rc = set_list(cfg, o, value, why);
		break;
	}
	if (rc == 0 && o->check != NULL && (*why = o->check(cfg, o)) != NULL)
		rc = -1;
	return rc;
}

bool
config_opt_equal(const struct config *a, const struct config *b,
    const struct option *o)
{
	if (is_string(o->type))
		return strcmp(*CFIELD(a, o, char *), *CFIELD(b, o, char *)) == 0;
	if (item_type(o->type) != NULL)
		return list_equal(a, b, o);
	return memcmp(CFIELD(a, o, char), CFIELD(b, o, char),
	    scalar_size(o->type)) == 0;
}

void
config_opt_free(struct config *cfg, const struct option *o)
{
	struct list l;

	if (is_string(o->type)) {
		free(*FIELD(cfg, o, char *));
		*FIELD(cfg, o, char *) = NULL;
	} else if (item_type(o->type) != NULL) {
		l = list_get(cfg, o);
		free(l.v);
		l.v = NULL;
		l.n = 0;
		list_put(cfg, o, &l);
	}
}
