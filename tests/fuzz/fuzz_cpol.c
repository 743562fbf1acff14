/*
 * fuzz_cpol: the .cpol loader.  First byte bit 0 set: the harness puts
 * the right SHA-256 in the header's checksum field (at 24, the file with
 * the field zeroed), as anyone who can write the file can, so the table
 * checks are reached (../shared/fuzz-findings 3).  A snapshot that loads
 * is then used as `cordon compile` uses a previous build.
 */
#include <string.h>

#include <openssl/sha.h>

#include "base/diag.h"
#include "base/dname.h"
#include "fuzz.h"
#include "policy/policy.h"
#include "policy/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_name(void *arg, const uint8_t *name, size_t len,
    const struct policy_list *l, bool allow)
{
	const struct policy *p = arg;
	char text[DNAME_MAXTEXT];

	(void)len;
	(void)allow;
	(void)l;
	dname_to_text(name, text, sizeof(text));
	(void)policy_has_name(p, name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct policy_answer pa;
	static uint8_t buf[1 << 20];
	uint8_t wire[DNAME_MAXWIRE];
	struct verdict v;
	struct policy *p;
	struct diag *d;
	const char *why;
	char path[256];

	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	memcpy(buf, data + 1, size - 1);
	if ((data[0] & 1) && size - 1 >= 56) {
		memset(buf + 24, 0, 32);
		SHA256(buf, size - 1, buf + 24);
	}
	fuzz_write("p.cpol", buf, size - 1);
	fuzz_path(path, sizeof(path), "p.cpol");
	if ((d = diag_new()) == NULL)
		return 0;
	p = snapshot_load(path, &pa, d);
	if (p != NULL) {
		policy_walk_names(p, on_name, p);
		if (dname_from_text("www.example.com", 15, wire, &why) > 0)
			(void)policy_check_name(p, wire, &v);
		policy_unref(p);
	}
	diag_free(d);
	return 0;
}
