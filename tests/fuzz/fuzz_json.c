/*
 * fuzz_json: the JSON reader of json:KEY lists, in memory (first byte:
 * which key).  Every string handed out must be NUL-terminated at its
 * length.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_string(void *arg, const char *s, size_t len, size_t line)
{
	(void)arg;
	(void)line;
	if (s[len] != '\0')
		abort();
	return 0;
}

static void
on_other(void *arg, size_t line, const char *found)
{
	(void)arg;
	(void)line;
	(void)found;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "names", "domains", "", "a" };
	struct json_problem pb;
	char *text;

	if (size < 1)
		return 0;
	/* an exact-size copy, so reading past it is caught */
	if ((text = malloc(size - 1 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	(void)json_key_strings(text, size - 1, keys[data[0] & 3], on_string,
	    on_other, NULL, &pb);
	free(text);
	return 0;
}
