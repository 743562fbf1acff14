/*
 * sources: reads the sources manifest and each list format into
 * normalised names and address ranges handed to callbacks.  Every format
 * shares one line reader (diag), one name normaliser (dname) and one
 * address syntax (cidr) and parses only its own line syntax.  Storing,
 * deduplicating and matching entries is not done here.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/cidr.h"
#include "base/diag.h"
#include "base/dname.h"
#include "base/json.h"
#include "base/inifile.h"
#include "policy/sources.h"

#define QUOTEMAX 64		/* characters of bad text shown in messages */
#define QUOTEBUF (QUOTEMAX * 4 + 8)

/*
 * Writes text as a double-quoted, escaped string for a message, cut at
 * QUOTEMAX characters: list files come from outside and may hold any
 * byte, and a message must stay one readable line.
 */
static const char *
quote(char *buf, const char *s, size_t len)
{
	size_t at = 0, i;
	unsigned char c;

	buf[at++] = '"';
	for (i = 0; i < len && i < QUOTEMAX; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			at += (size_t)snprintf(buf + at, 5, "\\x%02x", c);
		else
			buf[at++] = (char)c;
	}
	if (i < len) {
		/* Do not cut a UTF-8 sequence in half. */
		while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80) {
			i--;
			at--;
		}
		memcpy(buf + at, "...", 3);
		at += 3;
	}
	buf[at++] = '"';
	buf[at] = '\0';
	return buf;
}

/* Manifest. */

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
	    quote(q, value, strlen(value)), why);
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
		    quote(q, name, strlen(name)));
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

/* Lists. */

struct parse {
	const struct source *src;
	struct diag *d;
	source_name_cb cb;
	source_range_cb on_range;	/* NULL: names only */
	void *arg;
	const char *file;
	size_t line;
	bool is_stopped;	/* the callback asked to stop */
	/* rpz */
	bool in_parens;		/* skipping a multi-line record */
	char origin[DNAME_MAXTEXT];	/* "" until known */
	char owner[DNAME_MAXTEXT];	/* last owner, for blank-owner lines */
};

typedef void (*line_fn)(struct parse *p, char *line);

/* Hands one name to the callback, or reports why it is not a name. */
static void
emit(struct parse *p, const char *text, size_t len, enum list_kind kind,
    size_t line)
{
	uint8_t wire[DNAME_MAXWIRE];
	const char *why;
	char q[QUOTEBUF];
	size_t n;

	if ((n = dname_from_text(text, len, wire, &why)) == 0) {
		diag_add(p->d, p->file, line, "%s %s", quote(q, text, len),
		    why);
		return;
	}
	if (p->cb(p->arg, p->src, wire, n, kind, line) != 0)
		p->is_stopped = true;
}

/* Hands one address range (text, NUL terminated) to the callback, or
 * reports why it is not one; msg is the text quoted in the report. */
static void
emit_range(struct parse *p, const char *text, const char *msg,
    size_t msglen, enum list_kind kind)
{
	uint8_t lo[16], hi[16];
	const char *why;
	char q[QUOTEBUF];
	int family;

	if (cidr_parse_range(text, &family, lo, hi, &why) != 0) {
		diag_add(p->d, p->file, p->line, "%s %s",
		    quote(q, msg, msglen), why);
		return;
	}
	if (p->on_range(p->arg, p->src, family, lo, hi, kind, p->line) != 0)
		p->is_stopped = true;
}

static void
bad_line(struct parse *p, const char *what, const char *text, size_t len)
{
	char q[QUOTEBUF];

	diag_add(p->d, p->file, p->line, "%s %s", what, quote(q, text, len));
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Returns the next blank-separated field of *s and its length, or NULL. */
static const char *
next_field(const char **s, size_t *len)
{
	const char *start = *s, *end;

	while (is_blank(*start))
		start++;
	if (*start == '\0') {
		*s = start;
		return NULL;
	}
	for (end = start; *end != '\0' && !is_blank(*end); end++)
		continue;
	*s = end;
	*len = (size_t)(end - start);
	return start;
}

static void
cut_comment(char *line, char mark)
{
	char *c = strchr(line, mark);

	if (c != NULL)
		*c = '\0';
}

static char *
trim(char *s)
{
	char *end;

	while (is_blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_blank(end[-1]))
		*--end = '\0';
	return s;
}

static bool
field_is(const char *f, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(f, word, len) == 0;
}

static int
parse_lines(struct parse *p, line_fn fn)
{
	struct linereader *lr;
	size_t len;
	char *line;
	int rc = 0;

	if ((lr = linereader_open(p->file, p->d)) == NULL)
		return -1;
	while (!p->is_stopped && (line = linereader_next(lr, &len)) != NULL) {
		p->line = linereader_lineno(lr);
		/* A NUL would silently cut the line short. */
		if (memchr(line, '\0', len) != NULL) {
			diag_add(p->d, p->file, p->line,
			    "line has a NUL byte");
			continue;
		}
		fn(p, line);
	}
	if (linereader_error(lr)) {
		if (errno == ENOMEM)
			diag_add(p->d, p->file, linereader_lineno(lr) + 1,
			    "out of memory while reading the list");
		else
			diag_add(p->d, p->file, linereader_lineno(lr) + 1,
			    "read error: %s", strerror(errno));
		rc = -1;
	}
	linereader_close(lr);
	return p->is_stopped ? -1 : rc;
}

/* domains: "name  # comment" */
static void
domains_line(struct parse *p, char *line)
{
	const char *s = line, *name;
	size_t len, extra;
	char q[QUOTEBUF];

	cut_comment(line, '#');
	if ((name = next_field(&s, &len)) == NULL)
		return;
	if (next_field(&s, &extra) != NULL) {
		line = trim(line);
		diag_add(p->d, p->file, p->line, "%s is more than one name",
		    quote(q, line, strlen(line)));
		return;
	}
	/* The suffix match is implicit; "*.x" says the same as "x". */
	if (len > 2 && name[0] == '*' && name[1] == '.') {
		name += 2;
		len -= 2;
	}
	emit(p, name, len, p->src->kind, p->line);
}

/* Names every hosts file carries for the machine itself. */
static const char *const hosts_boilerplate[] = {
	"localhost", "localhost.localdomain", "local", "broadcasthost",
	"ip6-localhost", "ip6-loopback", "ip6-localnet", "ip6-mcastprefix",
	"ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0",
};

static bool
is_boilerplate(const char *f, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(hosts_boilerplate) /
	    sizeof(hosts_boilerplate[0]); i++)
		if (field_is(f, len, hosts_boilerplate[i]))
			return true;
	return false;
}

static bool
is_address(const char *f, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	const char *zone;

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, f, len);
	buf[len] = '\0';
	/* Link-local entries such as "fe80::1%lo0" carry a zone. */
	if ((zone = memchr(buf, '%', len)) != NULL && memchr(buf, ':', len))
		buf[zone - buf] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 ||
	    inet_pton(AF_INET6, buf, addr) == 1;
}

/* hosts: "ADDR name [name ...]  # comment" */
static void
hosts_line(struct parse *p, char *line)
{
	const char *s = line, *addr, *name;
	size_t alen, len;
	bool has_name = false;
	char q[QUOTEBUF];

	cut_comment(line, '#');
	if ((addr = next_field(&s, &alen)) == NULL)
		return;
	if (!is_address(addr, alen)) {
		diag_add(p->d, p->file, p->line, "%s is not an IP address",
		    quote(q, addr, alen));
		return;
	}
	while (!p->is_stopped && (name = next_field(&s, &len)) != NULL) {
		has_name = true;
		if (!is_boilerplate(name, len))
			emit(p, name, len, p->src->kind, p->line);
	}
	if (!has_name)
		diag_add(p->d, p->file, p->line, "%s has no names after it",
		    quote(q, addr, alen));
}

/* adblock: "||name^" blocks, "@@||name^" allows; nothing else is a
 * DNS-level rule cordon can honour. */
static void
adblock_line(struct parse *p, char *line)
{
	enum list_kind kind = p->src->kind;
	const char *r, *caret, *bad;
	char q1[QUOTEBUF], q2[QUOTEBUF];

	line = trim(line);
	if (line[0] == '\0' || line[0] == '!' ||
	    strncasecmp(line, "[Adblock", 8) == 0 ||
	    (line[0] == '#' && (line[1] == ' ' || line[1] == '\0')))
		return;
	r = line;
	if (strncmp(r, "@@", 2) == 0) {
		kind = KIND_ALLOW;
		r += 2;
	}
	if (strncmp(r, "||", 2) != 0 || (caret = strchr(r + 2, '^')) == NULL)
		goto unsupported;
	r += 2;
	/* Paths, wildcards and ports match URLs, not names. */
	if ((bad = strpbrk(r, "/*|:?=&$")) != NULL && bad < caret)
		goto unsupported;
	if (caret[1] == '|')
		caret++;
	if (caret[1] == '$' && caret[2] != '\0') {
		diag_add(p->d, p->file, p->line,
		    "unsupported adblock options %s in %s",
		    quote(q1, caret + 1, strlen(caret + 1)),
		    quote(q2, line, strlen(line)));
		return;
	}
	if (caret[1] != '\0' && caret[1] != '$')
		goto unsupported;
	emit(p, r, (size_t)(strchr(r, '^') - r), kind, p->line);
	return;
unsupported:
	bad_line(p, "unsupported adblock rule", line, strlen(line));
}

/* cidr: "PREFIX", "ADDR" or "A-B"; '#' comments, and ';' ones as in
 * Spamhaus's DROP lists ("192.0.2.0/24 ; SBL123"). */
static void
cidr_line(struct parse *p, char *line)
{
	char q[QUOTEBUF];

	cut_comment(line, '#');
	cut_comment(line, ';');
	line = trim(line);
	if (line[0] == '\0')
		return;
	/* Blanks may only surround the '-' of a range. */
	if (strchr(line, '-') == NULL && strpbrk(line, " \t") != NULL) {
		diag_add(p->d, p->file, p->line, "%s is more than one address "
		    "range", quote(q, line, strlen(line)));
		return;
	}
	emit_range(p, line, line, strlen(line), p->src->kind);
}

/* rpz: RFC-draft "DNS Response Policy Zones", QNAME and rpz-ip
 * triggers. */

static bool
is_ttl(const char *f, size_t len)
{
	size_t i;

	/* "3600" or BIND's "1h30m". */
	if (len == 0 || !isdigit((unsigned char)f[0]))
		return false;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)f[i]) &&
		    strchr("smhdwSMHDW", f[i]) == NULL)
			return false;
	return true;
}

static bool
is_class(const char *f, size_t len)
{
	return field_is(f, len, "IN") || field_is(f, len, "CH") ||
	    field_is(f, len, "HS") || field_is(f, len, "CS");
}

/* Stores a name as the zone origin, normalised, or reports it. */
static void
set_origin(struct parse *p, const char *text, size_t len)
{
	uint8_t wire[DNAME_MAXWIRE];
	const char *why;
	char q[QUOTEBUF];

	if (dname_from_text(text, len, wire, &why) == 0) {
		diag_add(p->d, p->file, p->line, "$ORIGIN %s %s",
		    quote(q, text, len), why);
		return;
	}
	dname_to_text(wire, p->origin, sizeof(p->origin));
}

static void
rpz_directive(struct parse *p, const char *line)
{
	const char *s = line, *dir, *arg;
	size_t dlen, alen;
	char q[QUOTEBUF];

	dir = next_field(&s, &dlen);
	if (field_is(dir, dlen, "$TTL"))
		return;
	if (!field_is(dir, dlen, "$ORIGIN")) {
		diag_add(p->d, p->file, p->line, "unsupported directive %s",
		    quote(q, dir, dlen));
		return;
	}
	if ((arg = next_field(&s, &alen)) == NULL) {
		diag_add(p->d, p->file, p->line, "$ORIGIN without a name");
		return;
	}
	set_origin(p, arg, alen);
}

static bool
is_all(const char *s, size_t len, const char *set)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return false;
	return true;
}

/*
 * An rpz-ip trigger is the prefix length, then the address label by
 * label in reverse: "24.0.2.0.192" is 192.0.2.0/24, "48.zz.db8.2001" is
 * 2001:db8::/48, where "zz" stands for the "::".  ip is the owner without
 * ".rpz-ip"; owner and len are what a report quotes.
 */
static void
rpz_ip(struct parse *p, const char *ip, size_t iplen, const char *owner,
    size_t len, enum list_kind kind)
{
	const char *label[9];
	size_t llen[9], n = 0, at = 0, i, start = 0;
	char text[128], q[QUOTEBUF];
	bool is_v4, is_zz;

	for (i = 0; i <= iplen && iplen > 0; i++) {
		if (i < iplen && ip[i] != '.')
			continue;
		if (n == 9)
			goto bad;
		label[n] = ip + start;
		llen[n++] = i - start;
		start = i + 1;
	}
	if (n < 2 || llen[0] == 0 || llen[0] > 3 ||
	    !is_all(label[0], llen[0], "0123456789"))
		goto bad;
	is_v4 = n == 5;
	for (i = 1; i < n && is_v4; i++)
		is_v4 = llen[i] > 0 && llen[i] <= 3 &&
		    is_all(label[i], llen[i], "0123456789");
	for (i = n - 1; i >= 1; i--) {
		/* "zz" is the "::": an empty word with one more ':' when it
		 * starts or ends the address. */
		is_zz = !is_v4 && field_is(label[i], llen[i], "zz");
		if (is_zz && i == n - 1)
			text[at++] = ':';
		if (!is_zz) {
			if (llen[i] == 0 || llen[i] > 4 || !is_all(label[i],
			    llen[i], "0123456789abcdefABCDEF"))
				goto bad;
			memcpy(text + at, label[i], llen[i]);
			at += llen[i];
		}
		if (is_zz && i == 1)
			text[at++] = ':';
		if (i > 1)
			text[at++] = is_v4 ? '.' : ':';
	}
	snprintf(text + at, sizeof(text) - at, "/%.*s", (int)llen[0],
	    label[0]);
	emit_range(p, text, owner, len, kind);
	return;
bad:
	diag_add(p->d, p->file, p->line, "%s is not an rpz-ip trigger (use "
	    "BITS and the address reversed: 24.0.2.0.192.rpz-ip)",
	    quote(q, owner, len));
}

/*
 * Owners name the trigger relative to the policy zone: "bad.example" in
 * zone rpz.local is "bad.example.rpz.local.", so the origin is stripped
 * wherever it appears; nothing is appended to a relative owner.
 */
static void
rpz_owner(struct parse *p, const char *owner, enum list_kind kind)
{
	static const char *const triggers[] = {
		"rpz-ip", "rpz-nsip", "rpz-nsdname", "rpz-client-ip",
	};
	size_t len = strlen(owner), olen = strlen(p->origin), i;
	bool is_absolute = len > 0 && owner[len - 1] == '.';
	const char *last;
	size_t llen;
	char q[QUOTEBUF];

	if (strcmp(owner, "@") == 0)
		goto apex;
	if (is_absolute)
		len--;
	if (olen > 0 && len == olen && strncasecmp(owner, p->origin, len) == 0)
		goto apex;
	if (olen > 0 && len > olen && owner[len - olen - 1] == '.' &&
	    strncasecmp(owner + len - olen, p->origin, olen) == 0)
		len -= olen + 1;
	else if (olen > 0 && is_absolute) {
		diag_add(p->d, p->file, p->line, "%s is outside the zone %s",
		    quote(q, owner, len + 1), p->origin);
		return;
	}
	for (last = owner + len; last > owner && last[-1] != '.'; last--)
		continue;
	llen = (size_t)(owner + len - last);
	for (i = 0; i < sizeof(triggers) / sizeof(triggers[0]); i++) {
		if (!field_is(last, llen, triggers[i]))
			continue;
		if (i == 0 && p->on_range != NULL)
			rpz_ip(p, owner, last > owner ?
			    (size_t)(last - owner) - 1 : 0, owner, len, kind);
		else
			diag_add(p->d, p->file, p->line, "%s triggers are not "
			    "supported yet: %s", triggers[i],
			    quote(q, owner, len));
		return;
	}
	if (len > 2 && owner[0] == '*' && owner[1] == '.') {
		owner += 2;
		len -= 2;
	}
	emit(p, owner, len, kind, p->line);
	return;
apex:
	diag_add(p->d, p->file, p->line, "%s is the zone apex, not a trigger",
	    quote(q, owner, strlen(owner)));
}

/*
 * The policy is the CNAME target: "." (NXDOMAIN), "*." (NODATA) and
 * "rpz-drop." all keep the name from resolving, "rpz-passthru." exempts
 * it.  Rewrites to other names are local data, which cordon does not do.
 */
static int
rpz_action(struct parse *p, const char *f, size_t len, enum list_kind *kind)
{
	char q[QUOTEBUF];

	if (f == NULL) {
		diag_add(p->d, p->file, p->line, "CNAME without a target");
		return -1;
	}
	if (field_is(f, len, ".") || field_is(f, len, "*.") ||
	    field_is(f, len, "rpz-drop.")) {
		*kind = p->src->kind;
		return 0;
	}
	if (field_is(f, len, "rpz-passthru.")) {
		*kind = KIND_ALLOW;
		return 0;
	}
	diag_add(p->d, p->file, p->line, "unsupported RPZ action CNAME %s",
	    quote(q, f, len));
	return -1;
}

static void
rpz_record(struct parse *p, const char *owner, const char *s)
{
	const char *type, *f;
	size_t tlen, len;
	enum list_kind kind;
	char q[QUOTEBUF];
	int i;

	type = next_field(&s, &tlen);
	for (i = 0; i < 2 && type != NULL &&
	    (is_ttl(type, tlen) || is_class(type, tlen)); i++)
		type = next_field(&s, &tlen);
	if (type == NULL) {
		diag_add(p->d, p->file, p->line, "%s has no record type",
		    quote(q, owner, strlen(owner)));
		return;
	}
	/* Only the SOA is expected to span lines; skip to its ')'. */
	if (strchr(s, '(') != NULL && strchr(s, ')') == NULL)
		p->in_parens = true;
	if (field_is(type, tlen, "SOA")) {
		len = strlen(owner);
		if (p->origin[0] == '\0' && len > 1 && owner[len - 1] == '.')
			set_origin(p, owner, len);
		return;
	}
	if (field_is(type, tlen, "NS"))
		return;
	if (p->in_parens) {
		diag_add(p->d, p->file, p->line, "multi-line %.*s records are "
		    "not supported", (int)tlen, type);
		return;
	}
	if (!field_is(type, tlen, "CNAME")) {
		diag_add(p->d, p->file, p->line, "unsupported RPZ record %s "
		    "for %s (only CNAME policies)", quote(q, type, tlen),
		    owner);
		return;
	}
	f = next_field(&s, &len);
	if (rpz_action(p, f, len, &kind) == 0)
		rpz_owner(p, owner, kind);
}

static void
rpz_line(struct parse *p, char *line)
{
	const char *s = line, *owner;
	size_t len;
	char q[QUOTEBUF];

	cut_comment(line, ';');
	if (p->in_parens) {
		if (strchr(line, ')') != NULL)
			p->in_parens = false;
		return;
	}
	if (line[0] == '$') {
		rpz_directive(p, line);
		return;
	}
	/* A line that starts with a blank continues the last owner. */
	if (!is_blank(line[0])) {
		if ((owner = next_field(&s, &len)) == NULL)
			return;
		if (len >= sizeof(p->owner)) {
			diag_add(p->d, p->file, p->line, "%s is too long",
			    quote(q, owner, len));
			p->owner[0] = '\0';
			return;
		}
		memcpy(p->owner, owner, len);
		p->owner[len] = '\0';
	} else if (next_field(&s, &len) == NULL)
		return;
	else if (p->owner[0] == '\0') {
		diag_add(p->d, p->file, p->line, "record without an owner");
		return;
	} else
		s = line;
	rpz_record(p, p->owner, s);
}

/* Reads the whole file, lines joined by '\n' so JSON lines stay lines. */
static char *
slurp(struct parse *p, size_t *size)
{
	struct linereader *lr;
	char *buf = NULL, *nbuf, *line;
	size_t len, used = 0, cap = 0;

	if ((lr = linereader_open(p->file, p->d)) == NULL)
		return NULL;
	while ((line = linereader_next(lr, &len)) != NULL) {
		if (used + len + 2 > cap) {
			cap = (used + len + 2) * 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				diag_add(p->d, p->file, 0, "out of memory "
				    "while reading the list");
				goto fail;
			}
			buf = nbuf;
		}
		memcpy(buf + used, line, len);
		used += len;
		buf[used++] = '\n';
	}
	if (linereader_error(lr)) {
		if (errno == ENOMEM)
			diag_add(p->d, p->file, 0, "out of memory while "
			    "reading the list");
		else
			diag_add(p->d, p->file, 0, "read error: %s",
			    strerror(errno));
		goto fail;
	}
	linereader_close(lr);
	*size = used;
	if (buf == NULL && (buf = strdup("")) == NULL)
		diag_add(p->d, p->file, 0, "out of memory while reading the "
		    "list");
	return buf;
fail:
	linereader_close(lr);
	free(buf);
	return NULL;
}

static int
on_json_string(void *arg, const char *s, size_t len, size_t line)
{
	struct parse *p = arg;

	emit(p, s, len, p->src->kind, line);
	return p->is_stopped ? -1 : 0;
}

static void
on_json_other(void *arg, size_t line, const char *found)
{
	struct parse *p = arg;

	diag_add(p->d, p->file, line, "expected a name (a string) in \"%s\", "
	    "found %s", p->src->json_key, found);
}

static int
parse_json(struct parse *p)
{
	struct json_problem pb;
	size_t size;
	char *text;
	int rc;

	if ((text = slurp(p, &size)) == NULL)
		return -1;
	rc = json_key_strings(text, size, p->src->json_key, on_json_string,
	    on_json_other, p, &pb);
	free(text);
	switch (rc == 0 ? JSON_OK : pb.kind) {
	case JSON_SYNTAX:
		if (pb.what != NULL && strcmp(pb.what, "out of memory") == 0) {
			diag_add(p->d, p->file, pb.line, "out of memory while "
			    "reading the list");
			break;
		}
		diag_add(p->d, p->file, 0, "not JSON: %s at line %zu",
		    pb.what ? pb.what : "syntax error", pb.line);
		break;
	case JSON_NO_KEY:
		diag_add(p->d, p->file, 0, "no \"%s\" in the top-level object",
		    p->src->json_key);
		break;
	case JSON_NOT_ARRAY:
		diag_add(p->d, p->file, pb.line, "\"%s\" is not an array of "
		    "names", p->src->json_key);
		break;
	default:
		break;
	}
	return rc;
}

int
source_parse(const struct source *src, struct diag *d, source_name_cb cb,
    void *arg)
{
	return source_parse_all(src, d, cb, NULL, arg);
}

int
source_parse_all(const struct source *src, struct diag *d,
    source_name_cb on_name, source_range_cb on_range, void *arg)
{
	struct parse p = {
		.src = src, .d = d, .cb = on_name, .on_range = on_range,
		.arg = arg, .file = src->file,
	};

	/* A url source has a file only once `cordon compile` fetched it:
	 * the daemon never fetches (no network I/O while loading). */
	if (src->file == NULL) {
		if (src->manifest != NULL)
			diag_add(d, src->manifest, src->line, "[source %s]: "
			    "url sources are fetched by `cordon compile`: "
			    "load the policy.cpol it builds", src->name);
		else
			diag_add(d, src->url ? src->url : src->name, 0, "url "
			    "sources are fetched by `cordon compile`: load the "
			    "policy.cpol it builds");
		return -1;
	}
	switch (src->format) {
	case FORMAT_DOMAINS:
		return parse_lines(&p, domains_line);
	case FORMAT_HOSTS:
		return parse_lines(&p, hosts_line);
	case FORMAT_ADBLOCK:
		return parse_lines(&p, adblock_line);
	case FORMAT_RPZ:
		return parse_lines(&p, rpz_line);
	case FORMAT_JSON:
		return parse_json(&p);
	case FORMAT_CIDR:
		if (on_range != NULL)
			return parse_lines(&p, cidr_line);
		diag_add(d, src->file, 0, "format cidr is not supported by "
		    "this build yet");
		return -1;
	}
	return -1;
}
