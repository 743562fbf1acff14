/*
 * export: turns a policy into files for other tools.  A plan is made
 * first (names sorted and classified, ranges resolved), then each format
 * prints the plan its own way into memory, and the result goes to disk
 * through a temporary file and a rename.  It parses nothing and decides
 * no verdicts of its own: the matching rules are policy.h's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/atomicfile.h"
#include "base/diag.h"
#include "base/dname.h"
#include "tool/export.h"
#include "policy/policy.h"
#include "tool/rangeset.h"

#define DEFAULT_ORIGIN "rpz.cordon."
#define DEFAULT_TTL 60

/*
 * A listed name and what the exports make of it.  key is the name's
 * labels from the root down, each followed by \1: sorting keys sorts the
 * names in DNS canonical order (RFC 4034 6.1), a name's subtree follows
 * it without a gap, and a key that is a prefix of another is a listed
 * ancestor of it.  (Labels never hold \1 or \0: dname.h accepts only
 * letters, digits, '-' and '_'.)
 */
struct name {
	char *key;
	char *text;
	size_t wirelen;
	bool allow;
	bool is_top;		/* block, with no block entry above it
				 * closer than an allow entry */
	bool is_exception;	/* allow, with a block entry as its
				 * closest listed ancestor */
};

struct plan {
	struct name *names;
	size_t nnames;
	size_t cap;
	bool failed;		/* memory ran out while walking */
	struct rangeset all[2];	/* as listed: IPv4, IPv6 */
	struct rangeset blocked[2];	/* what the policy blocks */
	struct rangeset passthru[2];	/* blocked ranges an allow undoes */
};

struct ctx {
	const struct policy *p;
	struct plan *plan;
	const char *origin;	/* with its trailing dot */
	size_t origin_wirelen;
	uint32_t serial;
	uint32_t ttl;
};

struct format {
	const char *name;
	const char *filename;
	const char *comment;	/* starts a comment line */
	size_t (*body)(FILE *f, const struct ctx *cx);
};

static const int families[2] = { AF_INET, AF_INET6 };

/* ---- the plan ---- */

/* Key: "com\1example\1www\1" for www.example.com. */
static char *
name_key(const uint8_t *wire, size_t len)
{
	const uint8_t *labels[DNAME_MAXWIRE / 2];
	size_t n = 0, off = 0;
	char *key = malloc(len + 1), *k = key;

	if (key == NULL)
		return NULL;
	while (off < len && wire[off] != 0) {
		labels[n++] = &wire[off];
		off += 1 + wire[off];
	}
	while (n-- > 0) {
		memcpy(k, labels[n] + 1, labels[n][0]);
		k += labels[n][0];
		*k++ = '\1';
	}
	*k = '\0';
	return key;
}

static void
on_name(void *arg, const uint8_t *wire, size_t len,
    const struct policy_list *list, bool allow)
{
	struct plan *pl = arg;
	char text[DNAME_MAXTEXT];
	struct name *nm;

	if (pl->failed)
		return;
	if (pl->nnames == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 256;
		struct name *v = reallocarray(pl->names, cap, sizeof(*v));

		if (v == NULL) {
			pl->failed = true;
			return;
		}
		pl->names = v;
		pl->cap = cap;
	}
	nm = &pl->names[pl->nnames];
	memset(nm, 0, sizeof(*nm));
	dname_to_text(wire, text, sizeof(text));
	nm->key = name_key(wire, len);
	nm->text = strdup(text);
	nm->wirelen = len;
	nm->allow = allow;
	pl->nnames++;
	if (nm->key == NULL || nm->text == NULL)
		pl->failed = true;
}

static int
cmp_name(const void *a, const void *b)
{
	const struct name *x = a, *y = b;

	return strcmp(x->key, y->key);
}

static bool
is_ancestor(const struct name *a, const struct name *b)
{
	size_t n = strlen(a->key);

	return strncmp(a->key, b->key, n) == 0 && b->key[n] != '\0';
}

/*
 * Walks the sorted names keeping the chain of listed ancestors of the
 * current one on a stack: its top is the closest listed ancestor, and
 * that decides what a name adds to the exports.
 */
static int
classify(struct plan *pl)
{
	struct name **stack = malloc(pl->nnames * sizeof(*stack));
	size_t depth = 0;

	if (stack == NULL && pl->nnames > 0)
		return -1;
	for (size_t i = 0; i < pl->nnames; i++) {
		struct name *nm = &pl->names[i];
		const struct name *up;

		while (depth > 0 && !is_ancestor(stack[depth - 1], nm))
			depth--;
		up = depth > 0 ? stack[depth - 1] : NULL;
		if (nm->allow)
			nm->is_exception = up != NULL && !up->allow;
		else
			nm->is_top = up == NULL || up->allow;
		stack[depth++] = nm;
	}
	free(stack);
	return 0;
}

static void
on_range(void *arg, int family, const uint8_t *lo, const uint8_t *hi,
    const struct policy_list *list, bool allow)
{
	struct plan *pl = arg;
	struct rangeset *s = &pl->all[family == AF_INET6];

	if (!pl->failed && rangeset_add(s, lo, hi, allow) != 0)
		pl->failed = true;
}

/*
 * blocked: what the daemon blocks, the most specific range deciding.
 * passthru: addresses a block range lists but a more specific allow range
 * takes back, for formats that can say "do not block" (RPZ).  The two are
 * disjoint, so no tool's idea of "most specific" can mix them up.
 */
static int
resolve_ranges(struct plan *pl, size_t i)
{
	struct rangeset blocks;
	int rc = -1;

	rangeset_init(&blocks, families[i]);
	for (size_t k = 0; k < pl->all[i].n; k++) {
		const struct range *r = &pl->all[i].v[k];

		if (!r->allow && rangeset_add(&blocks, r->lo, r->hi, false))
			goto out;
	}
	rangeset_merge(&blocks);
	if (rangeset_resolve(&pl->all[i], &pl->blocked[i]) == 0 &&
	    rangeset_subtract(&blocks, &pl->blocked[i], &pl->passthru[i]) == 0)
		rc = 0;
out:
	rangeset_clear(&blocks);
	return rc;
}

static void
plan_clear(struct plan *pl)
{
	for (size_t i = 0; i < pl->nnames; i++) {
		free(pl->names[i].key);
		free(pl->names[i].text);
	}
	free(pl->names);
	for (size_t i = 0; i < 2; i++) {
		rangeset_clear(&pl->all[i]);
		rangeset_clear(&pl->blocked[i]);
		rangeset_clear(&pl->passthru[i]);
	}
}

static int
plan_make(const struct policy *p, struct plan *pl)
{
	memset(pl, 0, sizeof(*pl));
	for (size_t i = 0; i < 2; i++) {
		rangeset_init(&pl->all[i], families[i]);
		rangeset_init(&pl->blocked[i], families[i]);
		rangeset_init(&pl->passthru[i], families[i]);
	}
	policy_walk_names(p, on_name, pl);
	policy_walk_ranges(p, on_range, pl);
	if (pl->failed)
		return -1;
	if (pl->nnames > 0)
		qsort(pl->names, pl->nnames, sizeof(pl->names[0]), cmp_name);
	if (classify(pl) != 0)
		return -1;
	for (size_t i = 0; i < 2; i++)
		if (resolve_ranges(pl, i) != 0)
			return -1;
	return 0;
}

/* ---- rpz ---- */

/*
 * RPZ IP triggers (draft-vixie-dnsop-dns-rpz, "Response IP Address"):
 * the prefix length, then the address's parts lowest first: octets for
 * IPv4, 16-bit words in hex for IPv6 with "zz" standing for the longest
 * run of two or more zero words, as "::" does in RFC 5952.
 */
static void
rpz_ip_name(int family, const uint8_t *a, unsigned bits, char *buf,
    size_t size)
{
	int n = snprintf(buf, size, "%u", bits);
	size_t zstart = 8, zlen = 0, i, run;

	if (family == AF_INET) {
		snprintf(buf + n, size - n, ".%u.%u.%u.%u.rpz-ip",
		    a[3], a[2], a[1], a[0]);
		return;
	}
	for (i = 0; i < 8; i += run ? run : 1) {
		for (run = 0; i + run < 8 &&
		    a[2 * (i + run)] == 0 && a[2 * (i + run) + 1] == 0; run++)
			;
		if (run >= 2 && run > zlen) {
			zstart = i;
			zlen = run;
		}
	}
	for (i = 8; i-- > 0;) {
		if (i >= zstart && i < zstart + zlen) {
			if (i == zstart)
				n += snprintf(buf + n, size - n, ".zz");
			continue;
		}
		n += snprintf(buf + n, size - n, ".%x",
		    (unsigned)(a[2 * i] << 8 | a[2 * i + 1]));
	}
	snprintf(buf + n, size - n, ".rpz-ip");
}

/*
 * How each prefix of a set is printed: fmt takes one string, the prefix
 * as "ADDR/BITS" or, for RPZ, as the owner name of its IP trigger.
 */
struct prefix_out {
	FILE *f;
	int family;
	const char *fmt;
	bool is_rpz;
};

static void
on_prefix(void *arg, const uint8_t *addr, unsigned bits)
{
	struct prefix_out *po = arg;
	char a[INET6_ADDRSTRLEN], text[128];

	if (po->is_rpz)
		rpz_ip_name(po->family, addr, bits, text, sizeof(text));
	else {
		inet_ntop(po->family, addr, a, sizeof(a));
		snprintf(text, sizeof(text), "%s/%u", a, bits);
	}
	fprintf(po->f, po->fmt, text);
}

/* Prints every prefix of s, none shorter than min_bits (f NULL: counts
 * them only); returns how many. */
static size_t
print_prefixes(FILE *f, const struct rangeset *s, unsigned min_bits,
    bool is_rpz, const char *fmt)
{
	struct prefix_out po = { f, s->family, fmt, is_rpz };
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += rangeset_split(s->family, s->v[i].lo, s->v[i].hi,
		    min_bits, f ? on_prefix : NULL, &po);
	return n;
}

/*
 * "name CNAME ." answers NXDOMAIN and "rpz-passthru." lets the name
 * resolve; the wildcard carries the same to every name below.  Within a
 * zone the closest trigger wins, as in the policy.
 */
static size_t
rpz_body(FILE *f, const struct ctx *cx)
{
	const struct plan *pl = cx->plan;
	size_t n = 0, too_long = 0;

	fprintf(f, "$TTL %u\n$ORIGIN %s\n", (unsigned)cx->ttl, cx->origin);
	fprintf(f, "@ SOA localhost. hostmaster.localhost. "
	    "%u 3600 600 604800 %u\n", (unsigned)cx->serial,
	    (unsigned)cx->ttl);
	fprintf(f, "@ NS localhost.\n");
	for (size_t i = 0; i < pl->nnames; i++) {
		const struct name *nm = &pl->names[i];
		const char *target = nm->is_top ? "." : "rpz-passthru.";

		if (!nm->is_top && !nm->is_exception)
			continue;
		/* "*." + the name without its root + the origin */
		if (2 + nm->wirelen - 1 + cx->origin_wirelen > DNAME_MAXWIRE) {
			too_long++;
			continue;
		}
		fprintf(f, "%s CNAME %s\n*.%s CNAME %s\n", nm->text, target,
		    nm->text, target);
		n++;
	}
	/* RPZ engines take no /0 trigger: such a range goes as two /1s */
	for (size_t i = 0; i < 2; i++) {
		n += print_prefixes(f, &pl->blocked[i], 1, true,
		    "%s CNAME .\n");
		n += print_prefixes(f, &pl->passthru[i], 1, true,
		    "%s CNAME rpz-passthru.\n");
	}
	if (too_long > 0)
		fprintf(f, "; %zu names left out: too long under %s\n",
		    too_long, cx->origin);
	return n;
}

/* ---- name lists ---- */

/*
 * Hosts files match exact names only, so every listed blocked name goes
 * in, covered by a parent or not.  Allow entries cannot be said; a name
 * whose own entry is an allow is simply not listed.
 */
static size_t
hosts_body(FILE *f, const struct ctx *cx)
{
	size_t n = 0;

	for (size_t i = 0; i < cx->plan->nnames; i++) {
		const struct name *nm = &cx->plan->names[i];

		if (nm->allow)
			continue;
		fprintf(f, "0.0.0.0 %s\n", nm->text);
		n++;
	}
	return n;
}

/* Prints top block names with block_fmt and exceptions with allow_fmt
 * (NULL: left out); returns how many lines. */
static size_t
print_names(FILE *f, const struct plan *pl, const char *block_fmt,
    const char *allow_fmt)
{
	size_t n = 0;

	for (size_t i = 0; i < pl->nnames; i++) {
		const struct name *nm = &pl->names[i];

		if (nm->is_top)
			fprintf(f, block_fmt, nm->text);
		else if (nm->is_exception && allow_fmt != NULL)
			fprintf(f, allow_fmt, nm->text);
		else
			continue;
		n++;
	}
	return n;
}

/* dnsmasq: "address=/name/" answers NXDOMAIN for the name and below;
 * "server=/name/#" sends a name back to the usual servers.  The longest
 * matching domain wins. */
static size_t
dnsmasq_body(FILE *f, const struct ctx *cx)
{
	return print_names(f, cx->plan, "address=/%s/\n", "server=/%s/#\n");
}

/* Unbound: the most specific local-zone decides. */
static size_t
unbound_body(FILE *f, const struct ctx *cx)
{
	fprintf(f, "server:\n");
	return print_names(f, cx->plan,
	    "\tlocal-zone: \"%s.\" always_nxdomain\n",
	    "\tlocal-zone: \"%s.\" transparent\n");
}

/* The top names only: the format has no way to say "except". */
static size_t
domains_body(FILE *f, const struct ctx *cx)
{
	return print_names(f, cx->plan, "%s\n", NULL);
}

/* ---- range lists ---- */

static size_t
cidr_body(FILE *f, const struct ctx *cx)
{
	return print_prefixes(f, &cx->plan->blocked[0], 0, false, "%s\n") +
	    print_prefixes(f, &cx->plan->blocked[1], 0, false, "%s\n");
}

/* Interval sets hold ranges as they are: "lo-hi" or a prefix. */
static size_t
nft_elements(FILE *f, const char *set, const struct rangeset *s)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
	unsigned bits;

	if (s->n == 0)
		return 0;
	fprintf(f, "add element inet cordon %s {\n", set);
	for (size_t i = 0; i < s->n; i++) {
		const struct range *r = &s->v[i];

		inet_ntop(s->family, r->lo, lo, sizeof(lo));
		if (rangeset_is_prefix(s->family, r->lo, r->hi, &bits))
			fprintf(f, "\t%s/%u,\n", lo, bits);
		else {
			inet_ntop(s->family, r->hi, hi, sizeof(hi));
			fprintf(f, "\t%s-%s,\n", lo, hi);
		}
	}
	fprintf(f, "}\n");
	return s->n;
}

/*
 * Declaring the table and sets, then flushing the sets, makes the file
 * load both the first time and over an earlier load, in one transaction,
 * and leaves any chains of the operator's in table inet cordon alone.
 */
static size_t
nft_body(FILE *f, const struct ctx *cx)
{
	fprintf(f, "table inet cordon {\n"
	    "\tset blocked_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n"
	    "\tset blocked_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}\n"
	    "}\n"
	    "flush set inet cordon blocked_v4\n"
	    "flush set inet cordon blocked_v6\n");
	return nft_elements(f, "blocked_v4", &cx->plan->blocked[0]) +
	    nft_elements(f, "blocked_v6", &cx->plan->blocked[1]);
}

/*
 * The prefixes go into a new set that then swaps places with the live
 * one, so a reload never leaves the set empty or half full, and rules
 * that name the set keep working.  -exist and flush make the file load
 * over an earlier load.  maxelem stays the same across builds unless a
 * build outgrows it, as a set of that name is only reused with the same
 * parameters.  hash:net holds prefixes of length 1 and more.
 */
#define IPSET_MAXELEM 1048576

static size_t
ipset_set(FILE *f, const char *set, const struct rangeset *s)
{
	const char *family = s->family == AF_INET ? "inet" : "inet6";
	size_t n = print_prefixes(NULL, s, 1, false, NULL), maxelem;
	char fmt[64];

	maxelem = n > IPSET_MAXELEM ? n : IPSET_MAXELEM;
	fprintf(f, "create %s hash:net family %s maxelem %zu -exist\n"
	    "create %s_new hash:net family %s maxelem %zu -exist\n"
	    "flush %s_new\n", set, family, maxelem, set, family, maxelem, set);
	snprintf(fmt, sizeof(fmt), "add %s_new %%s\n", set);
	n = print_prefixes(f, s, 1, false, fmt);
	fprintf(f, "swap %s_new %s\ndestroy %s_new\n", set, set, set);
	return n;
}

static size_t
ipset_body(FILE *f, const struct ctx *cx)
{
	return ipset_set(f, "cordon_v4", &cx->plan->blocked[0]) +
	    ipset_set(f, "cordon_v6", &cx->plan->blocked[1]);
}

static const struct format formats[EXPORT_NFORMATS] = {
	[EXPORT_RPZ] = { "rpz", "policy.rpz", ";", rpz_body },
	[EXPORT_HOSTS] = { "hosts", "hosts", "#", hosts_body },
	[EXPORT_DNSMASQ] = { "dnsmasq", "dnsmasq.conf", "#", dnsmasq_body },
	[EXPORT_UNBOUND] = { "unbound", "unbound.conf", "#", unbound_body },
	[EXPORT_NFT] = { "nft", "cordon.nft", "#", nft_body },
	[EXPORT_IPSET] = { "ipset", "ipset.restore", "#", ipset_body },
	[EXPORT_DOMAINS] = { "domains", "domains.txt", "#", domains_body },
	[EXPORT_CIDR] = { "cidr", "cidr.txt", "#", cidr_body },
};

/* ---- public ---- */

const char *
export_name(enum export_format f)
{
	return (unsigned)f < EXPORT_NFORMATS ? formats[f].name : NULL;
}

const char *
export_filename(enum export_format f)
{
	return (unsigned)f < EXPORT_NFORMATS ? formats[f].filename : NULL;
}

static int
parse_one(const char *word, size_t len, unsigned *mask)
{
	if (len == 3 && strncmp(word, "all", 3) == 0) {
		*mask |= (1U << EXPORT_NFORMATS) - 1;
		return 0;
	}
	for (unsigned i = 0; i < EXPORT_NFORMATS; i++)
		if (strlen(formats[i].name) == len &&
		    strncmp(formats[i].name, word, len) == 0) {
			*mask |= 1U << i;
			return 0;
		}
	return -1;
}

int
export_parse_list(const char *text, unsigned *mask, const char **why)
{
	const char *p = text;

	*mask = 0;
	for (;;) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, ", \t");
		if (len == 0 || parse_one(p, len, mask) != 0) {
			*why = len == 0 ? "empty export format" :
			    "unknown export format (use rpz, hosts, dnsmasq, "
			    "unbound, nft, ipset, domains, cidr or all)";
			return -1;
		}
		p += len;
		p += strspn(p, " \t");
		if (*p == '\0')
			return 0;
		if (*p++ != ',') {
			*why = "export formats are separated by commas";
			return -1;
		}
	}
}

/* Header comment, then the body printed in memory, so the header can
 * give the count. */
static char *
render(const struct ctx *cx, enum export_format f, size_t *len,
    size_t *count)
{
	const struct format *fm = &formats[f];
	char *body = NULL, *out = NULL;
	size_t bodylen = 0;
	FILE *m = open_memstream(&body, &bodylen);
	int n;

	if (m == NULL)
		return NULL;
	*count = fm->body(m, cx);
	if (fclose(m) != 0) {
		free(body);
		return NULL;
	}
	n = asprintf(&out, "%s cordon export, format %s: %zu entries\n"
	    "%s policy %s; regenerate with cordon compile, do not edit\n%s",
	    fm->comment, fm->name, *count, fm->comment, policy_id(cx->p),
	    body);
	free(body);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}

/* Writes buf to path through a temporary file in the same folder, so a
 * reader sees the old file or the new one, never part of one. */

/* Fills the rpz settings of cx from opts; reports a bad origin. */
static int
ctx_init(struct ctx *cx, const struct policy *p,
    const struct export_opts *opts, char *origin, size_t size,
    struct diag *d, const char *path)
{
	const char *text = opts && opts->rpz_origin ? opts->rpz_origin :
	    DEFAULT_ORIGIN;
	uint8_t wire[DNAME_MAXWIRE];
	const char *why = NULL;
	size_t len = dname_from_text(text, strlen(text), wire, &why);
	const struct policy_answer *pa = policy_answer(p);

	if (len == 0) {
		diag_add(d, path, 0, "rpz origin \"%s\": %s", text, why);
		return -1;
	}
	dname_to_text(wire, origin, size - 1);
	strcat(origin, ".");
	cx->p = p;
	cx->origin = origin;
	cx->origin_wirelen = len;
	cx->serial = opts && opts->rpz_serial ? opts->rpz_serial :
	    (uint32_t)time(NULL);
	cx->ttl = pa != NULL && pa->ttl > 0 ? pa->ttl : DEFAULT_TTL;
	return 0;
}

int
export_write_opts(const struct policy *p, enum export_format f,
    const char *path, const struct export_opts *opts, struct diag *d,
    size_t *count)
{
	char origin[DNAME_MAXTEXT + 1], *buf = NULL;
	struct plan pl;
	struct ctx cx;
	size_t len = 0, n = 0;
	int rc = -1;

	if ((unsigned)f >= EXPORT_NFORMATS) {
		diag_add(d, path, 0, "unknown export format %d", (int)f);
		return -1;
	}
	if (ctx_init(&cx, p, opts, origin, sizeof(origin), d, path) != 0)
		return -1;
	cx.plan = &pl;
	if (plan_make(p, &pl) == 0)
		buf = render(&cx, f, &len, &n);
	if (buf == NULL)
		diag_add(d, path, 0, "cannot export %s: out of memory",
		    formats[f].name);
	else if (atomicfile_write(path, buf, len, d) == 0)
		rc = 0;
	free(buf);
	plan_clear(&pl);
	if (rc == 0 && count != NULL)
		*count = n;
	return rc;
}

int
export_write(const struct policy *p, enum export_format f,
    const char *path, struct diag *d, size_t *count)
{
	return export_write_opts(p, f, path, NULL, d, count);
}
