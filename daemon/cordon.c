/*
 * cordon: the admin and auditor tool.  A table of git-style subcommands,
 * one file each (cmd_*.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/cmd.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *summary;
};

static const struct command commands[] = {
	{ "audit", cmd_audit, "cordon audit verify|search|report LOG...",
	    "verify, search and summarise audit logs" },
	{ "check", cmd_check, "cordon check CONFIG|MANIFEST",
	    "check a config or a manifest and every list it names" },
	{ "compile", cmd_compile,
	    "cordon compile MANIFEST -o DIR [--export FMT,...] [--strict]",
	    "build policy.cpol, report.json and exports from a manifest" },
	{ "ctl", cmd_ctl,
	    "cordon ctl [-s SOCKET | -c CONFIG] reload|stats|flush [NAME]",
	    "control a running cordond" },
	{ "explain", cmd_explain,
	    "cordon explain [-a] NAME|IP... [-c CONFIG|MANIFEST]",
	    "show which rule of which list decides for a name or address" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void
cmd_oom(const char *doing)
{
	fprintf(stderr, "cordon: out of memory while %s\n", doing);
	exit(1);
}

static const struct command *
find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int
help(FILE *f, const char *name)
{
	const struct command *c;
	size_t i;

	if (name != NULL) {
		if ((c = find(name)) == NULL) {
			fprintf(stderr, "cordon: no command \"%s\"\n", name);
			return 2;
		}
		fprintf(f, "usage: %s\n  %s\n", c->usage, c->summary);
		return 0;
	}
	fprintf(f, "usage: cordon COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f, "  %-9s %s\n", "help", "cordon help [COMMAND]");
	return 0;
}

int
main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		help(stderr, NULL);
		return 2;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)
		return help(stdout, argc > 2 ? argv[2] : NULL);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "version") == 0) {
		printf("cordon %s\n", PACKAGE_VERSION);
		return 0;
	}
	if ((c = find(argv[1])) == NULL) {
		fprintf(stderr, "cordon: no command \"%s\" (see cordon help)\n",
		    argv[1]);
		return 2;
	}
	return c->run(argc - 1, argv + 1);
}
