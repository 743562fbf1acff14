/*
 * loader: where a policy comes from (loader.h).
 */
#include <stdio.h>
#include <string.h>

#include "policy/loader.h"
#include "base/config.h"
#include "base/diag.h"
#include "policy/geoip.h"
#include "policy/policy.h"
#include "policy/snapshot.h"

bool
loader_is_lists(const char *path)
{
	if (snapshot_is_snapshot(path))
		return true;
	FILE *f = fopen(path, "r");
	char line[256];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		const char *p = line + strspn(line, " \t");

		found = strncmp(p, "[manifest]", 10) == 0 ||
		    strncmp(p, "[source ", 8) == 0;
	}
	fclose(f);
	return found;
}

static int
attach_geoip(const struct config *cfg, struct policy *p, struct diag *d)
{
	bool wants_country = cfg->answer.ncountries > 0;
	bool wants_asn = cfg->answer.nasns > 0;
	struct geoip *g;
	char err[512];

	if (cfg->country_db[0] == '\0' && cfg->asn_db[0] == '\0') {
		if (wants_country)
			diag_add(d, cfg->path, config_line(cfg, "policy",
			    "block_countries"), "[policy] block_countries needs "
			    "[geoip] country_db");
		if (wants_asn)
			diag_add(d, cfg->path, config_line(cfg, "policy",
			    "block_asns"), "[policy] block_asns needs [geoip] "
			    "asn_db");
		return wants_country || wants_asn ? -1 : 0;
	}
	if ((g = geoip_open(cfg->country_db, cfg->asn_db, err,
	    sizeof(err))) == NULL) {
		/* geoip names the file; point at the key that named it. */
		bool is_asn = cfg->asn_db[0] != '\0' &&
		    strncmp(err, cfg->asn_db, strlen(cfg->asn_db)) == 0;

		diag_add(d, cfg->path, config_line(cfg, "geoip",
		    is_asn ? "asn_db" : "country_db"), "[geoip] %s", err);
		return -1;
	}
	if (wants_country && !geoip_has_country(g)) {
		diag_add(d, cfg->path, config_line(cfg, "policy",
		    "block_countries"), "[policy] block_countries needs "
		    "[geoip] country_db");
		geoip_free(g);
		return -1;
	}
	if (wants_asn && !geoip_has_asn(g)) {
		diag_add(d, cfg->path, config_line(cfg, "policy", "block_asns"),
		    "[policy] block_asns needs an AS database ([geoip] asn_db)");
		geoip_free(g);
		return -1;
	}
	policy_set_geoip(p, g);
	return 0;
}

int
loader_load(const char *config_path, struct diag *d, struct config **cfgp,
    struct policy **policyp)
{
	struct config *cfg;
	struct policy *p;

	cfg = config_load(config_path, "/etc/resolv.conf", d);
	if (cfg == NULL)
		return -1;
	p = policy_load(cfg->lists, &cfg->answer, d);
	if (p == NULL || attach_geoip(cfg, p, d) == -1) {
		policy_unref(p);
		config_free(cfg);
		return -1;
	}
	if (cfgp != NULL)
		*cfgp = cfg;
	else
		config_free(cfg);
	if (policyp != NULL)
		*policyp = p;
	else
		policy_unref(p);
	return 0;
}

struct policy *
policy_load(const char *path, const struct policy_answer *pa,
    struct diag *d)
{
	if (snapshot_is_snapshot(path))
		return snapshot_load(path, pa, d);
	return policy_load_manifest(path, pa, d);
}
