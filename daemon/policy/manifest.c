/*
 * manifest: reads the sources manifest (blocklists/sources.ini): its
 * [manifest] section and one [source NAME] section per list, each key
 * checked by its own handler.  The lists themselves are read by
 * sources.c and the format readers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/diag.h"
#include "base/inifile.h"
#include "policy/manifest.h"
#include "policy/sources_impl.h"

enum section {
	SEC_NONE,		/* before the first section */
	SEC_MANIFEST,
	SEC_SOURCE,
	SEC_IGNORED,		/* already reported; its keys are skipped */
};

struct mload {
	struct manifest *m;
	struct diag *d;
	char *dir;		/* manifest's directory, NULL for the cwd */
	enum section sec;
	size_t manifest_line;	/* line of [manifest], 0 when not seen */
	unsigned seen;		/* keys given in this section, by mkeys[] */
	char label[256];	/* "[manifest]" or "[source NAME]" */
	bool has_failed;
};

struct mkey {
	enum section sec;
	const char *key;
	int (*set)(struct mload *ml, const char *key, const char *value,
	    size_t line);
};

static struct source *
cur_source(struct mload *ml)
{
	return &ml->m->sources[ml->m->nsources - 1];
}

static int
key_error(struct mload *ml, size_t line, const char *key,
    const char *value, const char *why)
{
	char q[QUOTEBUF];

	diag_add(ml->d, ml->m->path, line, "%s %s: %s %s", ml->label, key,
	    src_quote(q, value, strlen(value)), why);
	return -1;
}

/* Source names and categories: safe in JSON, metrics labels and logs. */
static bool
is_word(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

static int
set_string(char **field, const char *value)
{
	free(*field);
	return (*field = strdup(value)) == NULL ? -1 : 0;
}

static int
set_home_country(struct mload *ml, const char *key, const char *value,
    size_t line)
{
	char cc[3];

	if (strlen(value) != 2 || !isalpha((unsigned char)value[0]) ||
	    !isalpha((unsigned char)value[1]))
		return key_error(ml, line, key, value,
		    "is not a two-letter country code");
	cc[0] = (char)toupper((unsigned char)value[0]);
	cc[1] = (char)toupper((unsigned char)value[1]);
	cc[2] = '\0';
	return set_string(&ml->m->home_country, cc);
}

static int
set_file(struct mload *ml, const char *key, const char *value, size_t line)
{
	struct source *s = cur_source(ml);
	size_t n;

	if (value[0] == '\0')
		return key_error(ml, line, key, value, "is empty");
	if (value[0] == '/' || ml->dir == NULL)
		return set_string(&s->file, value);
	n = strlen(ml->dir) + 1 + strlen(value) + 1;
	if ((s->file = malloc(n)) == NULL)
		return -1;
	snprintf(s->file, n, "%s/%s", ml->dir, value);
	return 0;
}

static int
set_url(struct mload *ml, const char *key, const char *value, size_t line)
{
	if (strncmp(value, "https://", 8) != 0 &&
	    strncmp(value, "http://", 7) != 0)
		return key_error(ml, line, key, value,
		    "is not an http:// or https:// URL");
	return set_string(&cur_source(ml)->url, value);
}

static const char *const format_names[] = {
	[FORMAT_DOMAINS] = "domains",
	[FORMAT_HOSTS] = "hosts",
	[FORMAT_ADBLOCK] = "adblock",
	[FORMAT_JSON] = "json",
	[FORMAT_RPZ] = "rpz",
	[FORMAT_CIDR] = "cidr",
};

static int
set_format(struct mload *ml, const char *key, const char *value,
    size_t line)
{
	struct source *s = cur_source(ml);
	size_t i;

	if (strncmp(value, "json:", 5) == 0) {
		if (value[5] == '\0')
			return key_error(ml, line, key, value,
			    "needs a key (json:KEY)");
		s->format = FORMAT_JSON;
		return set_string(&s->json_key, value + 5);
	}
	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (i != FORMAT_JSON && strcmp(value, format_names[i]) == 0) {
			s->format = (enum list_format)i;
			return 0;
		}
	return key_error(ml, line, key, value, "is not a format (domains, "
	    "hosts, adblock, rpz, cidr or json:KEY)");
}

static int
set_category(struct mload *ml, const char *key, const char *value,
    size_t line)
{
	/* Categories go verbatim into audit lines, metrics and reports. */
	if (value[0] != '\0' && !is_word(value))
		return key_error(ml, line, key, value, "is not a category "
		    "(use letters, digits, '-', '_' and '.')");
	return set_string(&cur_source(ml)->category, value);
}

static int
set_kind(struct mload *ml, const char *key, const char *value, size_t line)
{
	if (strcmp(value, "block") == 0)
		cur_source(ml)->kind = KIND_BLOCK;
	else if (strcmp(value, "allow") == 0)
		cur_source(ml)->kind = KIND_ALLOW;
	else
		return key_error(ml, line, key, value,
		    "is not block or allow");
	return 0;
}

static int
set_offshore(struct mload *ml, const char *key, const char *value,
    size_t line)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			cur_source(ml)->offshore = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			cur_source(ml)->offshore = false;
			return 0;
		}
	}
	return key_error(ml, line, key, value, "is not yes or no");
}

/* Free text, but it goes into EDE texts, audit lines and reports: no
 * controls, no quotes or backslashes to escape, a bounded length. */
#define MAX_REFERENCE 128

static int
set_reference(struct mload *ml, const char *key, const char *value,
    size_t line)
{
	const unsigned char *p;

	if (strlen(value) > MAX_REFERENCE)
		return key_error(ml, line, key, value, "is longer than 128 "
		    "characters");
	for (p = (const unsigned char *)value; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
			return key_error(ml, line, key, value, "holds a "
			    "control character, a quote or a backslash");
	return set_string(&cur_source(ml)->reference, value);
}

/* RFC 8914 codes a list may answer with. */
static const struct {
	const char *name;
	uint16_t code;
} ede_names[] = {
	{ "blocked", 15 }, { "censored", 16 }, { "filtered", 17 },
	{ "prohibited", 18 },
};

static int
set_ede(struct mload *ml, const char *key, const char *value, size_t line)
{
	size_t i;

	for (i = 0; i < sizeof(ede_names) / sizeof(ede_names[0]); i++)
		if (strcmp(value, ede_names[i].name) == 0) {
			cur_source(ml)->ede = ede_names[i].code;
			return 0;
		}
	return key_error(ml, line, key, value, "is not blocked, censored, "
	    "filtered or prohibited");
}

/* Every key a manifest may hold; a new key is one line here. */
static const struct mkey mkeys[] = {
	{ SEC_MANIFEST, "home_country", set_home_country },
	{ SEC_SOURCE, "file", set_file },
	{ SEC_SOURCE, "url", set_url },
	{ SEC_SOURCE, "format", set_format },
	{ SEC_SOURCE, "category", set_category },
	{ SEC_SOURCE, "kind", set_kind },
	{ SEC_SOURCE, "offshore", set_offshore },
	{ SEC_SOURCE, "reference", set_reference },
	{ SEC_SOURCE, "ede", set_ede },
};
#define NMKEYS (sizeof(mkeys) / sizeof(mkeys[0]))

static size_t
mkey_index(const char *key)
{
	size_t i;

	for (i = 0; i < NMKEYS; i++)
		if (strcmp(mkeys[i].key, key) == 0)
			return i;
	return NMKEYS;
}

/* The checks that span the keys of one [source] section. */
static void
finish_section(struct mload *ml)
{
	struct source *s;
	const char *p = ml->m->path;

	if (ml->sec != SEC_SOURCE)
		return;
	s = cur_source(ml);
	if (!(ml->seen & (1u << mkey_index("format")))) {
		diag_add(ml->d, p, s->line, "%s has no format", ml->label);
		ml->has_failed = true;
	}
	if (s->file == NULL && s->url == NULL) {
		diag_add(ml->d, p, s->line, "%s needs file or url", ml->label);
		ml->has_failed = true;
	} else if (s->file != NULL && s->url != NULL) {
		diag_add(ml->d, p, s->line, "%s has both file and url; give "
		    "one", ml->label);
		ml->has_failed = true;
	}
}


static int
add_source(struct mload *ml, const char *name, size_t line)
{
	struct manifest *m = ml->m;
	struct source *s;
	size_t i;

	for (i = 0; i < m->nsources; i++)
		if (strcmp(m->sources[i].name, name) == 0) {
			diag_add(ml->d, m->path, line, "duplicate source "
			    "\"%s\" (first at line %zu)", name,
			    m->sources[i].line);
			return -1;
		}
	s = realloc(m->sources, (m->nsources + 1) * sizeof(*s));
	if (s == NULL)
		return -1;
	m->sources = s;
	s = &m->sources[m->nsources];
	memset(s, 0, sizeof(*s));
	s->kind = KIND_BLOCK;
	s->ede = 15;
	s->line = line;
	s->manifest = m->path;
	if ((s->name = strdup(name)) == NULL ||
	    (s->category = strdup("")) == NULL ||
	    (s->reference = strdup("")) == NULL) {
		free(s->name);
		free(s->category);
		free(s->reference);
		return -1;
	}
	m->nsources++;
	return 0;
}

static int
on_manifest_section(void *arg, const char *section, size_t line)
{
	struct mload *ml = arg;
	struct manifest *m = ml->m;
	char q[QUOTEBUF];
	const char *name;
	size_t before;

	finish_section(ml);
	ml->seen = 0;
	ml->sec = SEC_IGNORED;
	if (strcmp(section, "manifest") == 0) {
		if (ml->manifest_line > 0) {
			diag_add(ml->d, m->path, line, "duplicate [manifest] "
			    "section (first at line %zu)", ml->manifest_line);
			return -1;
		}
		ml->manifest_line = line;
		ml->sec = SEC_MANIFEST;
		snprintf(ml->label, sizeof(ml->label), "[manifest]");
		return 0;
	}
	if (strncmp(section, "source ", 7) != 0) {
		diag_add(ml->d, m->path, line, "unknown section [%s] (use "
		    "[manifest] or [source NAME])", section);
		return -1;
	}
	for (name = section + 7; *name == ' '; name++)
		continue;
	if (!is_word(name)) {
		diag_add(ml->d, m->path, line, "%s is not a source name (use "
		    "letters, digits, '-', '_' and '.')",
		    src_quote(q, name, strlen(name)));
		return -1;
	}
	before = diag_count(ml->d);
	if (add_source(ml, name, line) != 0) {
		/* Silent: it could not allocate. */
		if (diag_count(ml->d) == before)
			diag_add(ml->d, m->path, line, "[source %.200s]: out "
			    "of memory while reading the manifest", name);
		return -1;
	}
	ml->sec = SEC_SOURCE;
	snprintf(ml->label, sizeof(ml->label), "[source %.200s]", name);
	return 0;
}

static int
on_manifest_key(void *arg, const char *section, const char *key,
    const char *value, size_t line)
{
	struct mload *ml = arg;
	const char *path = ml->m->path;
	size_t i = mkey_index(key), before;

	(void)section;		/* on_manifest_section() tracks it */
	if (ml->sec == SEC_IGNORED)
		return 0;
	if (ml->sec == SEC_NONE) {
		diag_add(ml->d, path, line, "%s is outside any section", key);
		return -1;
	}
	if (i == NMKEYS || mkeys[i].sec != ml->sec) {
		diag_add(ml->d, path, line, "%s unknown key %s", ml->label,
		    key);
		return -1;
	}
	if (ml->seen & (1u << i)) {
		diag_add(ml->d, path, line, "%s %s: given twice", ml->label,
		    key);
		return -1;
	}
	ml->seen |= 1u << i;
	before = diag_count(ml->d);
	if (mkeys[i].set(ml, key, value, line) == 0)
		return 0;
	/* A setter reports a bad value itself; failing silently, it could
	 * not allocate. */
	if (diag_count(ml->d) == before)
		diag_add(ml->d, path, line, "%s %s: out of memory while "
		    "reading the manifest", ml->label, key);
	return -1;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return NULL;
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

struct manifest *
manifest_load(const char *path, struct diag *d)
{
	struct mload ml = { .d = d };
	int rc;

	if ((ml.m = calloc(1, sizeof(*ml.m))) == NULL ||
	    (ml.m->path = strdup(path)) == NULL ||
	    (ml.m->home_country = strdup("")) == NULL ||
	    (strchr(path, '/') != NULL && (ml.dir = dir_of(path)) == NULL)) {
		diag_add(d, path, 0, "out of memory while reading the "
		    "manifest");
		manifest_free(ml.m);
		return NULL;
	}
	rc = inifile_parse_sections(path, on_manifest_section,
	    on_manifest_key, &ml, d);
	finish_section(&ml);
	free(ml.dir);
	if (rc != 0 || ml.has_failed) {
		manifest_free(ml.m);
		return NULL;
	}
	return ml.m;
}

void
manifest_free(struct manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nsources; i++) {
		free(m->sources[i].name);
		free(m->sources[i].file);
		free(m->sources[i].url);
		free(m->sources[i].json_key);
		free(m->sources[i].category);
		free(m->sources[i].reference);
	}
	free(m->sources);
	free(m->path);
	free(m->home_country);
	free(m);
}

const char *
list_format_name(enum list_format f)
{
	if ((size_t)f < sizeof(format_names) / sizeof(format_names[0]))
		return format_names[f];
	return "unknown";
}

const char *
list_kind_name(enum list_kind k)
{
	return k == KIND_ALLOW ? "allow" : "block";
}
