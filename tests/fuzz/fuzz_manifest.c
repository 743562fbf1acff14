/*
 * fuzz_manifest: the sources manifest reader (sections, keys, values,
 * FILE:LINE reports).  The files a source may name exist.
 */
#include <stdio.h>

#include "base/diag.h"
#include "fuzz.h"
#include "policy/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct manifest *m;
	struct diag *d;
	char path[256];

	if (!ready) {
		fuzz_write("a.domains", "a.example\n", 10);
		ready = 1;
	}
	fuzz_write("m.ini", data, size);
	fuzz_path(path, sizeof(path), "m.ini");
	if ((d = diag_new()) == NULL)
		return 0;
	m = manifest_load(path, d);
	manifest_free(m);
	diag_free(d);
	return 0;
}
