/*
 * cordon explain [-a] NAME|IP... [-c CONFIG|MANIFEST]: which rule of
 * which list decides for a name or an address, and what the daemon would
 * do.  With -a, the answers the daemon makes for a blocked name (A and
 * AAAA): built by its own reply code (dns/reply.h), read back and
 * printed by ldns, so what is shown is what goes on the wire.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "policy/loader.h"
#include "tool/cmd.h"
#include "base/config.h"
#include "base/diag.h"
#include "base/dname.h"
#include "dns/reply.h"
#include "dns/wire.h"
#include "policy/geoip.h"
#include "policy/policy.h"

/* Lists without a config are judged and answered as a daemon with the
 * [policy] defaults would (config.c: nxdomain, ttl 60s, sinkholes 0.0.0.0
 * and ::, check_cname and check_answer_ips on). */
static struct policy *
load(const char *path, struct diag *d)
{
	struct policy_answer pa = { .action = ACTION_NXDOMAIN, .ttl = 60,
	    .check_cname = true, .check_answer_ips = true };
	struct policy *p = NULL;

	if (loader_is_lists(path))
		return policy_load(path, &pa, d);
	if (loader_load(path, d, NULL, &p) == -1)
		return NULL;
	return p;
}

/* A query for name and type as a client with EDNS would send it, in
 * wire form (malloc'd, *len set), or NULL. */
static uint8_t *
make_query(const char *name, ldns_rr_type type, size_t *len)
{
	ldns_pkt *pkt = NULL;
	uint8_t *wire = NULL;

	if (ldns_pkt_query_new_frm_str(&pkt, name, type, LDNS_RR_CLASS_IN,
	    LDNS_RD) != LDNS_STATUS_OK)
		return NULL;
	ldns_pkt_set_edns_udp_size(pkt, 1232);
	if (ldns_pkt2wire(&wire, pkt, len) != LDNS_STATUS_OK)
		wire = NULL;
	ldns_pkt_free(pkt);
	return wire;
}

/* The EDE of an answer ldns read: code and text, or nothing. */
static void
print_ede(ldns_pkt *pkt)
{
	ldns_edns_option_list *opts = ldns_pkt_edns_get_option_list(pkt);
	ldns_edns_option *o;
	const uint8_t *d;
	size_t i, n;

	for (i = 0; opts != NULL && i < ldns_edns_option_list_get_count(opts);
	    i++) {
		o = ldns_edns_option_list_get_option(opts, i);
		n = ldns_edns_get_size(o);
		d = ldns_edns_get_data(o);
		if (ldns_edns_get_code(o) != LDNS_EDNS_EDE || n < 2)
			continue;
		printf(", EDE %u \"%.*s\"", (unsigned)(d[0] << 8 | d[1]),
		    (int)(n - 2), (const char *)d + 2);
	}
}

static void
print_section(const ldns_rr_list *rrs)
{
	char *line;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		if ((line = ldns_rr2str(ldns_rr_list_rr(rrs, i))) == NULL)
			cmd_oom("printing a record");
		printf("\t%s", line);
		free(line);
	}
}

/* The daemon's answer to a query for text and type, blocked by v. */
static void
print_answer(const struct policy *p, const char *text, const char *tname,
    ldns_rr_type type, const struct verdict *v)
{
	const struct policy_answer *pa = policy_answer(p);
	struct block_answer ba = { pa->action, v->rule_off, pa->ttl,
	    pa->sinkhole_a, pa->sinkhole_aaaa, v->list->ede, NULL };
	char ede[EDE_TEXT_MAX + 1], *rcode;
	uint8_t out[512], *query;
	struct dnsquery q;
	struct reply_ctx ctx = { .q = &q, .edns_size = 1232 };
	ldns_pkt *pkt = NULL;
	size_t qlen, n = 0;

	if ((query = make_query(text, type, &qlen)) == NULL)
		cmd_oom("making a query");
	ctx.pkt = query;
	reply_block_text(ede, sizeof(ede), v->list->name, v->list->reference,
	    NULL, NULL);
	ba.ede_text = ede;
	if (wire_parse_query(query, qlen, &q) == WIRE_OK)
		n = reply_blocked(&ctx, &ba, out, sizeof(out));
	free(query);
	if (n == 0 || ldns_wire2pkt(&pkt, out, n) != LDNS_STATUS_OK) {
		printf("%s: %s answer: cannot be made\n", text, tname);
		return;
	}
	rcode = ldns_pkt_rcode2str(ldns_pkt_get_rcode(pkt));
	printf("%s: %s answer: %s", text, tname, rcode != NULL ? rcode :
	    "?");
	free(rcode);
	print_ede(pkt);
	printf("\n");
	print_section(ldns_pkt_answer(pkt));
	print_section(ldns_pkt_authority(pkt));
	ldns_pkt_free(pkt);
}

static void
explain(const struct policy *p, const char *text, const uint8_t *wire,
    bool has_answers)
{
	char rule[DNAME_MAXTEXT];
	struct verdict v;

	policy_check_name(p, wire, &v);
	if (v.list == NULL) {
		printf("%s: allowed (no list names it)\n", text);
		return;
	}
	dname_to_text(wire + v.rule_off, rule, sizeof(rule));
	printf("%s: %s by %s (list %s, category %s, kind %s, action %s)\n",
	    text, v.blocked ? "blocked" : "allowed", rule, v.list->name,
	    v.list->category[0] ? v.list->category : "-",
	    list_kind_name(v.list->kind),
	    v.blocked ? action_name(policy_answer(p)->action) : "forward");
	if (has_answers && v.blocked) {
		print_answer(p, text, "A", LDNS_RR_TYPE_A, &v);
		print_answer(p, text, "AAAA", LDNS_RR_TYPE_AAAA, &v);
	}
}

/* The kind, range and list of a range the daemon does not consult. */
static void
unchecked_range(const struct policy *p, int family, const uint8_t *addr,
    struct addr_verdict *v, char *range, size_t size)
{
	policy_check_addr(p, family, addr, v);
	if (v->list != NULL)
		policy_format_range(v, range, size);
}

/*
 * An address as the daemon judges it in an answer (policy.h,
 * policy_answer_ranges()): with check_answer_ips the most specific range
 * decides; with no range, or check_answer_ips = no, block_countries and
 * block_asns do.  A range the daemon does not look at is named, so the
 * admin sees why it does not block.  GeoIP facts follow when the policy
 * has databases.
 */
static void
explain_addr(const struct policy *p, const char *text, int family,
    const uint8_t *addr)
{
	const struct policy_answer *pa = policy_answer(p);
	const struct policy_list *geo;
	const char *action = action_name(pa->action), *key = NULL;
	char range[128], rule[96];
	struct addr_verdict v, seen;
	struct geo_info gi = { "", 0, "" };

	if (policy_geoip(p) != NULL)
		geoip_lookup(policy_geoip(p), family, addr, &gi);
	if (policy_answer_ranges(p, family, addr, &v)) {
		policy_format_range(&v, range, sizeof(range));
		printf("%s: %s by %s (list %s, category %s, kind %s, "
		    "action %s)\n", text, v.blocked ? "blocked" : "allowed",
		    range, v.list->name, v.list->category[0] ?
		    v.list->category : "-", list_kind_name(v.list->kind),
		    v.blocked ? action : "forward");
		goto geo;
	}
	geo = policy_geo_verdict(p, &gi, &key, rule, sizeof(rule));
	unchecked_range(p, family, addr, &seen, range, sizeof(range));
	if (geo != NULL) {
		printf("%s: blocked by %s ([policy] %s) (list %s, action %s)",
		    text, rule, key, geo->name, action);
		if (seen.list != NULL)
			printf("; %s range %s of list %s not consulted: "
			    "[policy] check_answer_ips = no",
			    seen.blocked ? "blocked" : "allow", range,
			    seen.list->name);
		printf("\n");
	} else if (seen.list != NULL && seen.blocked)
		printf("%s: allowed (in blocked range %s of list %s, but "
		    "[policy] check_answer_ips = no: answers with it are not "
		    "blocked)\n", text, range, seen.list->name);
	else if (seen.list != NULL)
		printf("%s: allowed (in allow range %s of list %s; [policy] "
		    "check_answer_ips = no)\n", text, range, seen.list->name);
	else
		printf("%s: allowed (no list names a range holding it)\n",
		    text);
geo:
	if (policy_geoip(p) == NULL)
		return;
	printf("%s: geoip: country %s", text, gi.country[0] ? gi.country :
	    "unknown");
	if (gi.asn != 0)
		printf(", AS%u%s%s%s", gi.asn, gi.org[0] ? " (" : "", gi.org,
		    gi.org[0] ? ")" : "");
	printf("\n");
}

static int
usage(void)
{
	fprintf(stderr, "usage: cordon explain [-a] NAME|IP... "
	    "[-c CONFIG|MANIFEST]\n");
	return 2;
}

int
cmd_explain(int argc, char **argv)
{
	const char *path = SYSCONFDIR "/cordon/cordon.conf", *why;
	uint8_t wire[DNAME_MAXWIRE];
	struct diag *d;
	struct policy *p;
	bool has_answers = false;
	int ch, i, rc = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "ac:")) != -1) {
		if (ch == 'a')
			has_answers = true;
		else if (ch == 'c')
			path = optarg;
		else
			return usage();
	}
	if (optind >= argc)
		return usage();
	d = diag_new();
	p = load(path, d);
	diag_print(d, stderr);
	diag_free(d);
	if (p == NULL)
		return 1;
	for (i = optind; i < argc; i++) {
		uint8_t addr[16];

		if (inet_pton(AF_INET, argv[i], addr) == 1) {
			explain_addr(p, argv[i], AF_INET, addr);
			continue;
		}
		if (inet_pton(AF_INET6, argv[i], addr) == 1) {
			explain_addr(p, argv[i], AF_INET6, addr);
			continue;
		}
		if (dname_from_text(argv[i], strlen(argv[i]), wire, &why) == 0) {
			fprintf(stderr, "cordon: %s: %s\n", argv[i], why);
			rc = 1;
			continue;
		}
		explain(p, argv[i], wire, has_answers);
	}
	policy_unref(p);
	return rc;
}
