/*
 * unit_config: what the config tests (test_config, test_config_values)
 * share: a config file in the test's directory, loaded with its
 * diagnostics.
 */
#ifndef CORDON_UNIT_CONFIG_H
#define CORDON_UNIT_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/diag.h"

static char conf_path[128];	/* set by the test to DIR/cordon.conf */

static inline void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

/* Loads text as the config; *d receives the diagnostics. */
static inline struct config *
load(const char *text, const char *resolv, struct diag **d)
{
	write_file(conf_path, text);
	*d = diag_new();
	return config_load(conf_path, resolv, *d);
}

static inline void
dump_diag(const struct diag *d)
{
	size_t i;

	for (i = 0; diag_get(d, i) != NULL; i++)
		fprintf(stderr, "    diag: %s\n", diag_get(d, i));
}

static inline bool
starts_with(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

#endif
