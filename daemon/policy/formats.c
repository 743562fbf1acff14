/*
 * formats: the list formats read line by line (domains, hosts, adblock,
 * cidr) and JSON.  Each parses only its own line syntax and hands names
 * and ranges on through sources.c.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/diag.h"
#include "base/json.h"
#include "policy/sources_impl.h"

void
src_domains_line(struct parse *p, char *line)
{
	const char *s = line, *name;
	size_t len, extra;
	char q[QUOTEBUF];

	src_cut_comment(line, '#');
	if ((name = src_next_field(&s, &len)) == NULL)
		return;
	if (src_next_field(&s, &extra) != NULL) {
		line = src_trim(line);
		diag_add(p->d, p->file, p->line, "%s is more than one name",
		    src_quote(q, line, strlen(line)));
		return;
	}
	/* The suffix match is implicit; "*.x" says the same as "x". */
	if (len > 2 && name[0] == '*' && name[1] == '.') {
		name += 2;
		len -= 2;
	}
	src_emit(p, name, len, p->src->kind, p->line);
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
		if (src_field_is(f, len, hosts_boilerplate[i]))
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
void
src_hosts_line(struct parse *p, char *line)
{
	const char *s = line, *addr, *name;
	size_t alen, len;
	bool has_name = false;
	char q[QUOTEBUF];

	src_cut_comment(line, '#');
	if ((addr = src_next_field(&s, &alen)) == NULL)
		return;
	if (!is_address(addr, alen)) {
		diag_add(p->d, p->file, p->line, "%s is not an IP address",
		    src_quote(q, addr, alen));
		return;
	}
	while (!p->is_stopped && (name = src_next_field(&s, &len)) != NULL) {
		has_name = true;
		if (!is_boilerplate(name, len))
			src_emit(p, name, len, p->src->kind, p->line);
	}
	if (!has_name)
		diag_add(p->d, p->file, p->line, "%s has no names after it",
		    src_quote(q, addr, alen));
}

/* adblock: "||name^" blocks, "@@||name^" allows; nothing else is a
 * DNS-level rule cordon can honour. */
void
src_adblock_line(struct parse *p, char *line)
{
	enum list_kind kind = p->src->kind;
	const char *r, *caret, *bad;
	char q1[QUOTEBUF], q2[QUOTEBUF];

	line = src_trim(line);
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
		    src_quote(q1, caret + 1, strlen(caret + 1)),
		    src_quote(q2, line, strlen(line)));
		return;
	}
	if (caret[1] != '\0' && caret[1] != '$')
		goto unsupported;
	src_emit(p, r, (size_t)(strchr(r, '^') - r), kind, p->line);
	return;
unsupported:
	src_bad_line(p, "unsupported adblock rule", line, strlen(line));
}

/* cidr: "PREFIX", "ADDR" or "A-B"; '#' comments, and ';' ones as in
 * Spamhaus's DROP lists ("192.0.2.0/24 ; SBL123"). */
void
src_cidr_line(struct parse *p, char *line)
{
	char q[QUOTEBUF];

	src_cut_comment(line, '#');
	src_cut_comment(line, ';');
	line = src_trim(line);
	if (line[0] == '\0')
		return;
	/* Blanks may only surround the '-' of a range. */
	if (strchr(line, '-') == NULL && strpbrk(line, " \t") != NULL) {
		diag_add(p->d, p->file, p->line, "%s is more than one address "
		    "range", src_quote(q, line, strlen(line)));
		return;
	}
	src_emit_range(p, line, line, strlen(line), p->src->kind);
}

static int
on_json_string(void *arg, const char *s, size_t len, size_t line)
{
	struct parse *p = arg;

	src_emit(p, s, len, p->src->kind, line);
	return p->is_stopped ? -1 : 0;
}

static void
on_json_other(void *arg, size_t line, const char *found)
{
	struct parse *p = arg;

	diag_add(p->d, p->file, line, "expected a name (a string) in \"%s\", "
	    "found %s", p->src->json_key, found);
}

int
src_parse_json(struct parse *p)
{
	struct json_problem pb;
	size_t size;
	char *text;
	int rc;

	if ((text = src_slurp(p, &size)) == NULL)
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
