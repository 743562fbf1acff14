/*
 * cordon check CONFIG|MANIFEST: the same checks as `cordond -t`.
 */
#include <stdio.h>

#include "policy/check.h"
#include "tool/cmd.h"

int
cmd_check(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: cordon check CONFIG|MANIFEST\n");
		return 2;
	}
	return check_run(argv[1], stdout, stderr);
}
