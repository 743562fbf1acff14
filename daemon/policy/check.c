/*
 * check: the shared code path of `cordond -t` and `cordon check`.
 */
#include <stdio.h>

#include "base/diag.h"
#include "policy/check.h"
#include "policy/loader.h"
#include "policy/policy.h"

int
check_run(const char *path, FILE *out, FILE *err)
{
	struct diag *d = diag_new();
	struct policy *p = NULL;
	int rc;

	if (loader_is_lists(path)) {
		struct policy_answer pa = { 0 };

		p = policy_load(path, &pa, d);
		rc = p == NULL ? -1 : 0;
	} else
		rc = loader_load(path, d, NULL, &p);
	diag_print(d, err);
	if (rc == 0 && diag_count(d) == 0)
		fprintf(out, "%s: ok (%zu names, %zu ranges in %zu lists, "
		    "policy %s)\n", path, policy_entries(p), policy_ranges(p),
		    policy_nlists(p), policy_id(p));
	else
		fprintf(err, "cordon: %s: %zu problem%s found\n", path,
		    diag_count(d), diag_count(d) == 1 ? "" : "s");
	rc = rc == 0 && diag_count(d) == 0 ? 0 : 1;
	policy_unref(p);
	diag_free(d);
	return rc;
}
