/*
 * cordon audit SUBCOMMAND: what an auditor does with the audit log.
 * This file dispatches to one file a subcommand (cmd_audit_impl.h names
 * them) and holds what they share: the usage, the walk over every line
 * of the files given (auditread.h reads them, gzip'd or not) and the
 * period and filters of search and report.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "audit/auditgz.h"
#include "audit/auditread.h"
#include "base/netaddr.h"
#include "tool/cmd.h"
#include "tool/cmd_audit_impl.h"

static const char usage_text[] =
"usage: cordon audit verify LOG... [--allow-gaps] [--key VKEY|FILE\n"
"           [--checkpoints FILE]... [--partial]]\n"
"       cordon audit keygen [--origin NAME] -o FILE\n"
"       cordon audit checkpoint LOG... --key FILE [--origin NAME] -o FILE\n"
"       cordon audit prove LOG... --seq N [--checkpoints FILE]\n"
"       cordon audit prove --consistency OLD NEW LOG...\n"
"       cordon audit search LOG... [--since T] [--until T] [--client CIDR]\n"
"           [--domain NAME] [--list NAME] [--trigger T] [--country CC]\n"
"           [--format table|json|csv]\n"
"       cordon audit report LOG... [--since T] [--until T] [--html FILE]\n"
"LOG: rotated files oldest first; gzip'd files are read as they are.\n"
"T: RFC 3339 (2026-11-23T05:19:33Z) or a date (2026-11-23); a date given\n"
"to --until includes that whole day.\n";

int
cmd_audit_usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

int
cmd_audit_walk(char **files, int nfiles, cmd_audit_line_fn on_line,
    void *arg)
{
	struct auditread_line ln;
	struct auditread *r;
	const char *why;
	int i, rc;

	for (i = 0; i < nfiles; i++) {
		if ((r = auditread_open_any(files[i], &why)) == NULL) {
			fprintf(stderr, "cordon: %s: %s\n", files[i], why);
			return WALK_UNREADABLE;
		}
		while ((rc = auditread_next(r, &ln, &why)) == 1) {
			if (on_line(arg, files[i], &ln) == -1) {
				auditread_close(r);
				return WALK_STOPPED;
			}
		}
		if (rc == -1) {
			fprintf(stderr, "cordon: %s: %s\n", files[i], why);
			auditread_close(r);
			return WALK_UNREADABLE;
		}
		auditread_close(r);
	}
	return WALK_DONE;
}

#define MAX_BAD_SHOWN 10

int
cmd_audit_read_rec(const char *file, const struct auditread_line *ln,
    struct auditread_rec *rec, size_t *nbad)
{
	const char *why = "longer than any audit line";

	if (ln->is_torn)
		why = "truncated: the last line has no newline";
	else if (!ln->is_long &&
	    auditread_parse(ln->text, ln->len, rec, &why) == 0)
		return 0;
	if (*nbad < MAX_BAD_SHOWN)
		fprintf(stderr, "cordon: %s:%zu: not an audit line: %s\n",
		    file, ln->lineno, why);
	(*nbad)++;
	return -1;
}

/* After the first MAX_BAD_SHOWN, bad lines are only counted: a tiny
 * .gz of millions of empty lines must not print hundreds of MB. */
void
cmd_audit_report_bad(size_t nbad)
{
	if (nbad > MAX_BAD_SHOWN)
		fprintf(stderr, "cordon: %zu lines are not audit lines (the "
		    "first %d shown)\n", nbad, MAX_BAD_SHOWN);
}

/*
 * The period and the filters of search and report.
 */
static int
parse_period(const char *opt, const char *text, bool is_until, uint64_t *ms)
{
	bool is_date;

	if (auditread_parse_time(text, strlen(text), ms, &is_date) == -1) {
		fprintf(stderr, "cordon: %s \"%s\": not an RFC 3339 time "
		    "(2026-11-23T05:19:33Z) or a date (2026-11-23)\n", opt,
		    text);
		return -1;
	}
	if (is_until && is_date)
		*ms += 86400 * 1000 - 1;
	return 0;
}

static int
set_domain(struct filter *f, const char *name)
{
	size_t i, len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= sizeof(f->domain)) {
		fprintf(stderr, "cordon: --domain \"%s\": name too long\n",
		    name);
		return -1;
	}
	for (i = 0; i < len; i++)
		f->domain[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ?
		    name[i] | 0x20 : name[i]);
	f->domain[len] = '\0';
	f->domain_len = len;
	return 0;
}

/* The name itself or a name below it, ignoring ASCII case. */
static bool
is_in_domain(const struct filter *f, const char *qname)
{
	size_t len;

	if (f->domain_len == 0)
		return true;
	if (qname == NULL)
		return false;
	len = strlen(qname);
	if (len > 0 && qname[len - 1] == '.')
		len--;
	if (len < f->domain_len || strncasecmp(qname + len - f->domain_len,
	    f->domain, f->domain_len) != 0)
		return false;
	return len == f->domain_len || qname[len - f->domain_len - 1] == '.';
}

static bool
is_client_in(const struct filter *f, const char *client)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (client == NULL)
		return false;
	if (inet_pton(AF_INET, client, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, client, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		return false;
	return netaddr_in_prefix(&f->client, (struct sockaddr *)&ss);
}

static bool
is_same(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

bool
cmd_audit_matches(const struct filter *f, const struct auditread_rec *rec)
{
	if (rec->event != NULL || rec->ts_ms < f->since ||
	    rec->ts_ms > f->until)
		return false;
	if (!is_same(f->list, rec->list) || !is_same(f->trigger, rec->trigger))
		return false;
	if (f->country != NULL && !(rec->client_country != NULL &&
	    strcasecmp(f->country, rec->client_country) == 0) &&
	    !(rec->answer_country != NULL &&
	    strcasecmp(f->country, rec->answer_country) == 0))
		return false;
	if (f->has_client && !is_client_in(f, rec->client))
		return false;
	return is_in_domain(f, rec->qname);
}

int
cmd_audit_set_option(struct filter *f, int ch, const char *arg,
    enum format *fmt)
{
	const char *why;

	switch (ch) {
	case 's':
		return parse_period("--since", arg, false, &f->since);
	case 'u':
		return parse_period("--until", arg, true, &f->until);
	case 'c':
		if (netaddr_parse_prefix(arg, &f->client, &why) == -1) {
			fprintf(stderr, "cordon: --client \"%s\": %s\n", arg,
			    why);
			return -1;
		}
		f->has_client = true;
		return 0;
	case 'd':
		return set_domain(f, arg);
	case 'l':
		f->list = arg;
		return 0;
	case 't':
		f->trigger = arg;
		return 0;
	case 'C':
		f->country = arg;
		return 0;
	case 'f':
		if (strcmp(arg, "table") == 0)
			*fmt = FMT_TABLE;
		else if (strcmp(arg, "json") == 0)
			*fmt = FMT_JSON;
		else if (strcmp(arg, "csv") == 0)
			*fmt = FMT_CSV;
		else {
			fprintf(stderr, "cordon: --format \"%s\": use table, "
			    "json or csv\n", arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} subcommands[] = {
	{ "verify", cmd_audit_verify },
	{ "search", cmd_audit_search },
	{ "report", cmd_audit_report },
	{ "keygen", cmd_audit_keygen },
	{ "checkpoint", cmd_audit_checkpoint },
	{ "prove", cmd_audit_prove },
};

int
cmd_audit(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return cmd_audit_usage();
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cordon: audit: no subcommand \"%s\"\n", argv[1]);
	return cmd_audit_usage();
}
