/*
 * fuzz_config: cordon.conf through config_load() (inih, the option
 * table, every value parser).
 */
#include <stdio.h>

#include "base/config.h"
#include "base/diag.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char path[256], resolv[256];
	struct config *cfg;
	struct diag *d;

	if (!ready) {
		fuzz_write("resolv.conf", "nameserver 127.0.0.1\n", 21);
		ready = 1;
	}
	fuzz_write("c.conf", data, size);
	fuzz_path(path, sizeof(path), "c.conf");
	fuzz_path(resolv, sizeof(resolv), "resolv.conf");
	if ((d = diag_new()) == NULL)
		return 0;
	cfg = config_load(path, resolv, d);
	config_free(cfg);
	diag_free(d);
	return 0;
}
