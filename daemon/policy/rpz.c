/*
 * rpz: RPZ zone files (draft "DNS Response Policy Zones"), QNAME and
 * rpz-ip triggers.  ldns's master-file parser reads the records (fields,
 * parentheses, comments, $TTL, TTL and class, RDATA); this file decides
 * what each record means as policy and reports what it cannot honour.
 *
 * Owners name the trigger relative to the policy zone: "bad.example" in
 * zone rpz.local is "bad.example.rpz.local.", so the origin is stripped
 * wherever it appears; nothing is appended to a relative owner.  ldns
 * appends its origin to relative names and keeps no mark of having done
 * so, so it is given a marker instead of the zone's origin: a name that
 * ends in the marker was written relative.  The zone's origin ($ORIGIN,
 * or the first SOA's owner) is kept here, as text.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "base/diag.h"
#include "base/dname.h"
#include "policy/cidr.h"
#include "policy/sources_impl.h"

/* Text of a record kept for reports and for records ldns refuses. */
#define RECMAX 4096

/* Below glibc's mmap threshold (128 KB): such blocks come from the heap. */
#define HOLDSIZE (100 * 1024)

/* The marker origin: one label of one NUL byte, then the root. */
static const uint8_t marker_wire[] = { 1, 0, 0 };

struct rpz {
	struct parse *p;
	ldns_rdf *marker;
	ldns_rdf *prev;		/* ldns's last owner, for blank-owner lines */
	const char *rec;	/* the record as read (in the file's text) */
	size_t reclen;
	char origin[DNAME_MAXTEXT];	/* "" until known */
	void *hold;		/* see hold_heap() */
};

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
	return src_field_is(f, len, "IN") || src_field_is(f, len, "CH") ||
	    src_field_is(f, len, "HS") || src_field_is(f, len, "CS");
}

/*
 * The presentation form of a name ldns read, for the same checks and
 * messages as the text it came from: absolute with its trailing dot,
 * relative (ending in the marker) without, the marker alone as "@".
 * Bytes outside the printable ASCII, '.' and '\\' in a label are escaped;
 * UTF-8 stays as written, for dname's IDN conversion.
 */
static void
name_text(const ldns_rdf *rdf, char *buf, size_t size)
{
	const uint8_t *w = ldns_rdf_data(rdf);
	size_t n = ldns_rdf_size(rdf), at = 0, i, len;

	buf[0] = '\0';
	if (n == sizeof(marker_wire) &&
	    memcmp(w, marker_wire, sizeof(marker_wire)) == 0) {
		snprintf(buf, size, "@");
		return;
	}
	if (n == 1 && w[0] == 0) {
		snprintf(buf, size, ".");
		return;
	}
	while (n > 0 && w[0] != 0 && (size_t)w[0] < n) {
		len = w[0];
		if (n == sizeof(marker_wire) &&
		    memcmp(w, marker_wire, sizeof(marker_wire)) == 0) {
			if (at > 0)
				at--;	/* relative: no trailing dot */
			break;
		}
		for (i = 1; i <= len && at + 5 < size; i++) {
			if (w[i] == '.' || w[i] == '\\') {
				buf[at++] = '\\';
				buf[at++] = (char)w[i];
			} else if (w[i] < 0x21 || w[i] == 0x7f)
				at += (size_t)snprintf(buf + at, 5, "\\%03u",
				    w[i]);
			else
				buf[at++] = (char)w[i];
		}
		if (at + 2 < size)
			buf[at++] = '.';
		n -= len + 1;
		w += len + 1;
	}
	buf[at] = '\0';
}

/* Stores a name as the zone origin, normalised, or reports it. */
static void
set_origin(struct rpz *r, const char *text, size_t len)
{
	struct parse *p = r->p;
	uint8_t wire[DNAME_MAXWIRE];
	const char *why;
	char q[QUOTEBUF];

	if (dname_from_text(text, len, wire, &why) == 0) {
		diag_add(p->d, p->file, p->line, "$ORIGIN %s %s",
		    src_quote(q, text, len), why);
		return;
	}
	dname_to_text(wire, r->origin, sizeof(r->origin));
}

/* $TTL, $ORIGIN and what else starts with '$'. */
static void
rpz_directive(struct rpz *r, const char *line)
{
	struct parse *p = r->p;
	const char *s = line, *dir, *arg;
	size_t dlen, alen;
	char q[QUOTEBUF];

	dir = src_next_field(&s, &dlen);
	if (src_field_is(dir, dlen, "$TTL"))
		return;
	if (!src_field_is(dir, dlen, "$ORIGIN")) {
		diag_add(p->d, p->file, p->line, "unsupported directive %s",
		    src_quote(q, dir, dlen));
		return;
	}
	if ((arg = src_next_field(&s, &alen)) == NULL) {
		diag_add(p->d, p->file, p->line, "$ORIGIN without a name");
		return;
	}
	set_origin(r, arg, alen);
}

/* The generic report for a record ldns refused and no rule here
 * explains: the record, quoted, and ldns's reason. */
static void
not_a_record(struct rpz *r, const char *text, ldns_status failed)
{
	char q[QUOTEBUF];

	diag_add(r->p->d, r->p->file, r->p->line, "%s is not a record (%s)",
	    src_quote(q, text, strlen(text)), ldns_get_errorstr_by_id(failed));
}

/*
 * Hands a trigger's range on; for a record ldns refused (failed is not
 * LDNS_STATUS_OK), only reports why the range is bad, or why the record
 * is.
 */
static void
put_range(struct rpz *r, const char *text, const char *owner, size_t len,
    enum list_kind kind, ldns_status failed, const char *rec)
{
	uint8_t lo[16], hi[16];
	const char *why;
	char q[QUOTEBUF];
	int family;

	if (failed == LDNS_STATUS_OK) {
		src_emit_range(r->p, text, owner, len, kind);
		return;
	}
	if (cidr_parse_range(text, &family, lo, hi, &why) != 0)
		diag_add(r->p->d, r->p->file, r->p->line, "%s %s",
		    src_quote(q, owner, len), why);
	else
		not_a_record(r, rec, failed);
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
rpz_ip(struct rpz *r, const char *ip, size_t iplen, const char *owner,
    size_t len, enum list_kind kind, ldns_status failed, const char *rec)
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
		is_zz = !is_v4 && src_field_is(label[i], llen[i], "zz");
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
	put_range(r, text, owner, len, kind, failed, rec);
	return;
bad:
	diag_add(r->p->d, r->p->file, r->p->line, "%s is not an rpz-ip "
	    "trigger (use BITS and the address reversed: "
	    "24.0.2.0.192.rpz-ip)", src_quote(q, owner, len));
}

/*
 * The trigger an owner names, handed on.  For a record ldns refused
 * (failed is not LDNS_STATUS_OK, rec its text) nothing is handed on:
 * the report says what is wrong with the owner, or with the record.
 */
static void
rpz_owner(struct rpz *r, const char *owner, enum list_kind kind,
    ldns_status failed, const char *rec)
{
	static const char *const triggers[] = {
		"rpz-ip", "rpz-nsip", "rpz-nsdname", "rpz-client-ip",
	};
	struct parse *p = r->p;
	size_t len = strlen(owner), olen = strlen(r->origin), i;
	bool is_absolute = len > 0 && owner[len - 1] == '.';
	uint8_t wire[DNAME_MAXWIRE];
	const char *last, *why;
	size_t llen;
	char q[QUOTEBUF];

	if (strcmp(owner, "@") == 0)
		goto apex;
	if (is_absolute)
		len--;
	if (olen > 0 && len == olen && strncasecmp(owner, r->origin, len) == 0)
		goto apex;
	if (olen > 0 && len > olen && owner[len - olen - 1] == '.' &&
	    strncasecmp(owner + len - olen, r->origin, olen) == 0)
		len -= olen + 1;
	else if (olen > 0 && is_absolute) {
		diag_add(p->d, p->file, p->line, "%s is outside the zone %s",
		    src_quote(q, owner, len + 1), r->origin);
		return;
	}
	for (last = owner + len; last > owner && last[-1] != '.'; last--)
		continue;
	llen = (size_t)(owner + len - last);
	for (i = 0; i < sizeof(triggers) / sizeof(triggers[0]); i++) {
		if (!src_field_is(last, llen, triggers[i]))
			continue;
		if (i == 0 && p->on_range != NULL)
			rpz_ip(r, owner, last > owner ?
			    (size_t)(last - owner) - 1 : 0, owner, len, kind,
			    failed, rec);
		else
			diag_add(p->d, p->file, p->line, "%s triggers are not "
			    "supported yet: %s", triggers[i],
			    src_quote(q, owner, len));
		return;
	}
	if (len > 2 && owner[0] == '*' && owner[1] == '.') {
		owner += 2;
		len -= 2;
	}
	if (failed == LDNS_STATUS_OK)
		src_emit(p, owner, len, kind, p->line);
	else if (dname_from_text(owner, len, wire, &why) == 0)
		diag_add(p->d, p->file, p->line, "%s %s",
		    src_quote(q, owner, len), why);
	else
		not_a_record(r, rec, failed);
	return;
apex:
	diag_add(p->d, p->file, p->line, "%s is the zone apex, not a trigger",
	    src_quote(q, owner, strlen(owner)));
}

/*
 * The policy is the CNAME target: "." (NXDOMAIN), "*." (NODATA) and
 * "rpz-drop." all keep the name from resolving, "rpz-passthru." exempts
 * it.  Rewrites to other names are local data, which cordon does not do.
 */
static int
rpz_action(struct rpz *r, const char *f, size_t len, enum list_kind *kind)
{
	struct parse *p = r->p;
	char q[QUOTEBUF];

	if (f == NULL) {
		diag_add(p->d, p->file, p->line, "CNAME without a target");
		return -1;
	}
	if (src_field_is(f, len, ".") || src_field_is(f, len, "*.") ||
	    src_field_is(f, len, "rpz-drop.")) {
		*kind = p->src->kind;
		return 0;
	}
	if (src_field_is(f, len, "rpz-passthru.")) {
		*kind = KIND_ALLOW;
		return 0;
	}
	diag_add(p->d, p->file, p->line, "unsupported RPZ action CNAME %s",
	    src_quote(q, f, len));
	return -1;
}

/* The SOA names the zone when no $ORIGIN did. */
static void
rpz_soa(struct rpz *r, const char *owner)
{
	size_t len = strlen(owner);

	if (r->origin[0] == '\0' && len > 1 && owner[len - 1] == '.')
		set_origin(r, owner, len);
}

/* One record ldns read. */
static void
rpz_rr(struct rpz *r, const ldns_rr *rr)
{
	struct parse *p = r->p;
	char owner[DNAME_MAXTEXT], target[DNAME_MAXTEXT], *type, q[QUOTEBUF];
	enum list_kind kind;

	name_text(ldns_rr_owner(rr), owner, sizeof(owner));
	switch (ldns_rr_get_type(rr)) {
	case LDNS_RR_TYPE_SOA:
		rpz_soa(r, owner);
		return;
	case LDNS_RR_TYPE_NS:
		return;
	case LDNS_RR_TYPE_CNAME:
		if (ldns_rr_rd_count(rr) != 1)
			break;
		name_text(ldns_rr_rdf(rr, 0), target, sizeof(target));
		if (rpz_action(r, target, strlen(target), &kind) == 0)
			rpz_owner(r, owner, kind, LDNS_STATUS_OK, NULL);
		return;
	default:
		break;
	}
	if ((type = ldns_rr_type2str(ldns_rr_get_type(rr))) == NULL) {
		diag_add(p->d, p->file, p->line, "out of memory while "
		    "reading the list");
		return;
	}
	diag_add(p->d, p->file, p->line, "unsupported RPZ record %s for %s "
	    "(only CNAME policies)", src_quote(q, type, strlen(type)), owner);
	free(type);
}

/*
 * A record ldns refused, text its fields: says why in the words of the
 * rules above where one applies.  A class before the TTL ("IN 60"), which
 * zone files allow and ldns does not read, is read here in the other
 * order.
 */
static void
rpz_refused(struct rpz *r, char *text, ldns_status failed)
{
	struct parse *p = r->p;
	const char *s = text, *owner, *f[3], *type, *target;
	size_t olen, flen[3], tlen, len;
	char name[DNAME_MAXTEXT], q[QUOTEBUF], *swapped, *at;
	enum list_kind kind;
	ldns_rr *rr = NULL;
	int i, n;

	if (!src_is_blank(text[0])) {
		owner = src_next_field(&s, &olen);
		if (olen >= sizeof(name)) {
			diag_add(p->d, p->file, p->line, "%s is too long",
			    src_quote(q, owner, olen));
			return;
		}
		memcpy(name, owner, olen);
		name[olen] = '\0';
	} else if (r->prev == NULL) {
		diag_add(p->d, p->file, p->line, "record without an owner");
		return;
	} else
		name_text(r->prev, name, sizeof(name));
	for (n = 0; n < 3 && (f[n] = src_next_field(&s, &flen[n])) != NULL;
	    n++)
		continue;
	if (n == 3 && is_class(f[0], flen[0]) && is_ttl(f[1], flen[1]) &&
	    (swapped = strdup(text)) != NULL) {
		/* In place: "OWNER 60 IN TYPE ..." for "OWNER IN 60". */
		at = swapped + (f[0] - text);
		memset(at, ' ', (size_t)(f[1] + flen[1] - f[0]));
		memcpy(at, f[1], flen[1]);
		memcpy(at + flen[1] + 1, f[0], flen[0]);
		if (ldns_rr_new_frm_str(&rr, swapped, 0, r->marker,
		    &r->prev) == LDNS_STATUS_OK) {
			free(swapped);
			rpz_rr(r, rr);
			ldns_rr_free(rr);
			return;
		}
		free(swapped);
	}
	s = text;
	if (!src_is_blank(text[0]))
		src_next_field(&s, &olen);
	type = src_next_field(&s, &tlen);
	for (i = 0; i < 2 && type != NULL &&
	    (is_ttl(type, tlen) || is_class(type, tlen)); i++)
		type = src_next_field(&s, &tlen);
	if (type == NULL) {
		diag_add(p->d, p->file, p->line, "%s has no record type",
		    src_quote(q, name, strlen(name)));
		return;
	}
	if (src_field_is(type, tlen, "SOA")) {
		rpz_soa(r, name);
		return;
	}
	if (src_field_is(type, tlen, "NS"))
		return;
	if (!src_field_is(type, tlen, "CNAME")) {
		diag_add(p->d, p->file, p->line, "unsupported RPZ record %s "
		    "for %s (only CNAME policies)", src_quote(q, type, tlen),
		    name);
		return;
	}
	target = src_next_field(&s, &len);
	if (rpz_action(r, target, len, &kind) == 0)
		rpz_owner(r, name, kind, failed, text);
}

/*
 * The text of the record ldns just read, for the rules that need it:
 * comments cut, lines and parentheses made blanks, at most size - 1
 * bytes.
 */
static char *
record_text(const struct rpz *r, char *buf, size_t size)
{
	size_t i, at = 0;
	bool in_comment = false, in_quotes = false;
	char c;

	for (i = 0; i < r->reclen && at + 1 < size; i++) {
		c = r->rec[i];
		if (c == '\n') {
			in_comment = false;
			c = ' ';
		} else if (in_comment)
			continue;
		else if (c == '"')
			in_quotes = !in_quotes;
		else if (c == ';' && !in_quotes) {
			in_comment = true;
			continue;
		} else if ((c == '(' || c == ')') && !in_quotes)
			c = ' ';
		buf[at++] = c;
	}
	while (at > 0 && src_is_blank(buf[at - 1]))
		at--;
	buf[at] = '\0';
	return buf;
}

/*
 * Skips what ldns read before the record (lines that are empty or only
 * a comment) and returns the record's first line; before is the last
 * line ldns had counted when it began.
 */
static size_t
record_start(struct rpz *r, size_t before)
{
	size_t line = before + 1;

	while (r->reclen > 0) {
		if (r->rec[0] == '\n')
			line++;
		else if (r->rec[0] == ';') {
			while (r->reclen > 1 && r->rec[1] != '\n') {
				r->rec++;
				r->reclen--;
			}
		} else if (r->rec[0] != '\f' && r->rec[0] != '\v')
			break;
		r->rec++;
		r->reclen--;
	}
	return line;
}

/* ldns cannot see a NUL byte (it drops it): each line with one is
 * reported and read as an empty line. */
static void
blank_nul_lines(struct parse *p, char *text, size_t size)
{
	char *at = text, *end = text + size, *nul, *eol;
	size_t line = 1;

	while ((nul = memchr(at, '\0', (size_t)(end - at))) != NULL) {
		for (; (eol = memchr(at, '\n', (size_t)(end - at))) != NULL &&
		    eol < nul; at = eol + 1)
			line++;
		if (eol == NULL)
			eol = end;
		diag_add(p->d, p->file, line, "line has a NUL byte");
		memset(at, ' ', (size_t)(eol - at));
		at = eol;
	}
}

/* Whether the record opens a '(' it does not close: ldns then reads the
 * rest of the file into it. */
static bool
is_unclosed(const struct rpz *r)
{
	bool in_comment = false, in_quotes = false;
	size_t i;
	int depth = 0;

	for (i = 0; i < r->reclen; i++) {
		if (r->rec[i] == '\n')
			in_comment = false;
		else if (in_comment || (i > 0 && r->rec[i - 1] == '\\'))
			continue;
		else if (r->rec[i] == '"')
			in_quotes = !in_quotes;
		else if (in_quotes)
			continue;
		else if (r->rec[i] == ';')
			in_comment = true;
		else if (r->rec[i] == '(')
			depth++;
		else if (r->rec[i] == ')')
			depth--;
	}
	return depth > 0;
}

/* One read of ldns: a record, a directive, nothing, or a refusal. */
static void
rpz_step(struct rpz *r, ldns_status s, const ldns_rr *rr)
{
	char *text;

	if (s == LDNS_STATUS_SYNTAX_EMPTY || r->reclen == 0)
		return;
	if (memchr(r->rec, '(', r->reclen) != NULL && is_unclosed(r)) {
		diag_add(r->p->d, r->p->file, r->p->line, "record opens a "
		    "'(' it does not close (the rest of the file is skipped)");
		return;
	}
	if (src_is_blank(r->rec[0]) && r->prev == NULL) {
		/* ldns would take the origin. */
		diag_add(r->p->d, r->p->file, r->p->line, "record without an "
		    "owner");
		return;
	}
	/* A type ldns does not know it reads as TYPE0: reported from the
	 * text, as written. */
	if (s == LDNS_STATUS_OK && r->rec[0] != '$' &&
	    ldns_rr_get_type(rr) != 0) {
		rpz_rr(r, rr);
		return;
	}
	if ((text = malloc(RECMAX)) == NULL) {
		diag_add(r->p->d, r->p->file, r->p->line, "out of memory "
		    "while reading the list");
		return;
	}
	record_text(r, text, RECMAX);
	if (text[0] == '$')
		rpz_directive(r, text);
	else if (text[0] != '\0')
		rpz_refused(r, text, s == LDNS_STATUS_OK ? LDNS_STATUS_ERR :
		    s);
	free(text);
}

/*
 * ldns takes some 200 KB of scratch for every record it reads and frees
 * it again.  glibc's malloc gives the top of the heap back to the kernel
 * whenever more than 128 KB of it are free, so scratch at the top costs
 * two brk() calls a record, most of the reading time.  A block held
 * above room for the scratch keeps that room in the heap.  Returns the
 * block, to free after the parse; NULL only makes the parse slower.
 */
static void *
hold_heap(void)
{
	void *room[4], *hold;
	size_t i;

	for (i = 0; i < sizeof(room) / sizeof(room[0]); i++)
		room[i] = malloc(HOLDSIZE);
	hold = malloc(HOLDSIZE);
	for (i = 0; i < sizeof(room) / sizeof(room[0]); i++)
		free(room[i]);
	return hold;
}

int
src_parse_rpz(struct parse *p)
{
	struct rpz r = { .p = p };
	ldns_rdf *origin = NULL;
	ldns_rr *rr;
	ldns_status s;
	uint32_t ttl = 0;
	size_t size;
	long at, end;
	char *text;
	FILE *fp = NULL;
	int line = 0, rc = 0;

	if ((text = src_slurp(p, &size)) == NULL)
		return -1;
	if (size == 0) {
		free(text);
		return 0;
	}
	blank_nul_lines(p, text, size);
	if ((r.marker = ldns_dname_new_frm_data(sizeof(marker_wire),
	    marker_wire)) == NULL || (origin = ldns_rdf_clone(r.marker)) ==
	    NULL || (fp = fmemopen(text, size, "r")) == NULL) {
		diag_add(p->d, p->file, 0, "out of memory while reading the "
		    "list");
		rc = -1;
		goto done;
	}
	r.hold = hold_heap();
	while (!p->is_stopped && !feof(fp)) {
		rr = NULL;
		at = ftell(fp);
		p->line = (size_t)line;
		s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &r.prev,
		    &line);
		end = ftell(fp);
		r.rec = text + at;
		r.reclen = (size_t)(end - at);
		p->line = record_start(&r, p->line);
		rpz_step(&r, s, rr);
		ldns_rr_free(rr);
		/* $ORIGIN replaced the marker: the origin is kept above. */
		if (s == LDNS_STATUS_SYNTAX_ORIGIN || origin == NULL) {
			ldns_rdf_deep_free(origin);
			if ((origin = ldns_rdf_clone(r.marker)) == NULL) {
				diag_add(p->d, p->file, p->line, "out of "
				    "memory while reading the list");
				rc = -1;
				break;
			}
		}
	}
done:
	if (fp != NULL)
		fclose(fp);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(r.prev);
	ldns_rdf_deep_free(r.marker);
	free(text);
	free(r.hold);
	return p->is_stopped ? -1 : rc;
}
