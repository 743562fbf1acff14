/*
 * fuzz_auditline: what an auditor's tools read from a log someone else
 * wrote.  First byte: bit 0 set reads the rest as a file (plain or gzip,
 * through auditread_open/next, each line parsed); clear parses it as one
 * line with auditread_parse() from an exact-size copy.
 */
#include <stdlib.h>
#include <string.h>

#include "audit/auditgz.h"
#include "audit/auditread.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auditread_rec rec;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auditread_line ln;
	struct auditread *r;
	const char *why;
	char path[256], *copy;
	size_t lines = 0;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		if ((copy = malloc(size - 1 ? size - 1 : 1)) == NULL)
			return 0;
		memcpy(copy, data + 1, size - 1);
		(void)auditread_parse(copy, size - 1, &rec, &why);
		free(copy);
		return 0;
	}
	fuzz_write("log", data + 1, size - 1);
	fuzz_path(path, sizeof(path), "log");
	if ((r = auditread_open_any(path, &why)) == NULL)
		return 0;
	/* bounded: a small gzip may inflate to millions of lines */
	while (lines++ < 100000 && auditread_next(r, &ln, &why) == 1)
		if (!ln.is_long)
			(void)auditread_parse(ln.text, ln.len, &rec, &why);
	auditread_close(r);
	return 0;
}
