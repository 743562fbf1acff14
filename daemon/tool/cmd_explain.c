/*
 * cordon explain NAME|IP... [-c CONFIG|MANIFEST]: which rule of which
 * list decides for a name or an address, and what the daemon would do.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "policy/loader.h"
#include "tool/cmd.h"
#include "base/config.h"
#include "base/diag.h"
#include "base/dname.h"
#include "policy/geoip.h"
#include "policy/policy.h"

/* Lists without a config are judged as a daemon with the [policy]
 * defaults would judge them (config.c: check_cname and check_answer_ips
 * are on). */
static struct policy *
load(const char *path, struct diag *d)
{
	struct policy_answer pa = { .check_cname = true,
	    .check_answer_ips = true };
	struct policy *p = NULL;

	if (loader_is_lists(path))
		return policy_load(path, &pa, d);
	if (loader_load(path, d, NULL, &p) == -1)
		return NULL;
	return p;
}

static void
explain(const struct policy *p, const char *text, const uint8_t *wire)
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

int
cmd_explain(int argc, char **argv)
{
	const char *path = SYSCONFDIR "/cordon/cordon.conf", *why;
	uint8_t wire[DNAME_MAXWIRE];
	struct diag *d;
	struct policy *p;
	int ch, i, rc = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c') {
			fprintf(stderr, "usage: cordon explain NAME... "
			    "[-c CONFIG|MANIFEST]\n");
			return 2;
		}
		path = optarg;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: cordon explain NAME... "
		    "[-c CONFIG|MANIFEST]\n");
		return 2;
	}
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
		explain(p, argv[i], wire);
	}
	policy_unref(p);
	return rc;
}
