/*
 * fuzz_lists: one list file in each format through the loader, as
 * `cordon compile` and the daemon read it (first byte: the format).
 * Bad lines are reported and skipped; nothing may crash or read past
 * the input (../shared/fuzz-findings 2).
 */
#include <stdio.h>
#include <string.h>

#include "base/diag.h"
#include "fuzz.h"
#include "policy/loader.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const formats[] = { "domains", "hosts", "adblock", "rpz",
	"cidr", "json:names", "json:x" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct policy_answer pa;
	char manifest[512], path[256];
	struct policy *p;
	struct diag *d;

	if (size < 1)
		return 0;
	snprintf(manifest, sizeof(manifest), "[source l]\nfile = l.txt\n"
	    "format = %s\nkind = %s\n", formats[data[0] % 7],
	    (data[0] & 0x80) ? "allow" : "block");
	fuzz_write("l.txt", data + 1, size - 1);
	fuzz_write("l.ini", manifest, strlen(manifest));
	fuzz_path(path, sizeof(path), "l.ini");
	if ((d = diag_new()) == NULL)
		return 0;
	p = policy_load(path, &pa, d);
	policy_unref(p);
	diag_free(d);
	return 0;
}
