/*
 * cordon explain NAME|IP... [-c CONFIG|MANIFEST]: which rule of which
 * list decides for a name or an address, and what the daemon would do.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cmd.h"
#include "config.h"
#include "diag.h"
#include "dname.h"
#include "geoip.h"
#include "policy.h"

static struct policy *
load(const char *path, struct diag *d)
{
	struct policy_answer pa = { 0 };
	struct policy *p = NULL;

	if (check_is_manifest(path))
		return policy_load(path, &pa, d);
	if (check_load(path, d, NULL, &p) == -1)
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

/* A geo block, as the daemon would apply it to an answer address. */
static const char *
geo_block(const struct policy_answer *pa, const struct geo_info *gi,
    char *buf, size_t size)
{
	size_t i;

	for (i = 0; gi->country[0] != '\0' && i < pa->ncountries; i++)
		if (memcmp(pa->countries[i], gi->country, 2) == 0) {
			snprintf(buf, size, "country %s ([policy] "
			    "block_countries)", gi->country);
			return buf;
		}
	for (i = 0; gi->asn != 0 && i < pa->nasns; i++)
		if (pa->asns[i] == gi->asn) {
			snprintf(buf, size, "AS%u ([policy] block_asns)",
			    gi->asn);
			return buf;
		}
	return NULL;
}

/*
 * An address as it would be judged in an answer: the most specific
 * range decides; with no range, block_countries and block_asns do.
 * GeoIP facts follow when the policy has databases.
 */
static void
explain_addr(const struct policy *p, const char *text, int family,
    const uint8_t *addr)
{
	const struct policy_answer *pa = policy_answer(p);
	const char *action = action_name(pa->action), *geo = NULL;
	char range[128], why[96];
	struct addr_verdict v;
	struct geo_info gi = { "", 0, "" };

	policy_check_addr(p, family, addr, &v);
	if (policy_geoip(p) != NULL) {
		geoip_lookup(policy_geoip(p), family, addr, &gi);
		geo = geo_block(pa, &gi, why, sizeof(why));
	}
	if (v.list != NULL) {
		policy_format_range(&v, range, sizeof(range));
		printf("%s: %s by %s (list %s, category %s, kind %s, "
		    "action %s)\n", text, v.blocked ? "blocked" : "allowed",
		    range, v.list->name, v.list->category[0] ?
		    v.list->category : "-", list_kind_name(v.list->kind),
		    v.blocked ? action : "forward");
	} else if (geo != NULL)
		printf("%s: blocked by %s (list geoip, action %s)\n", text,
		    geo, action);
	else
		printf("%s: allowed (no list names a range holding it)\n",
		    text);
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
