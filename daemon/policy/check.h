/*
 * check: what `cordond -t` and `cordon check` do, in one place: read a
 * config (and every list it names) or a manifest (and its sources),
 * print every problem as "cordon: FILE:LINE: reason" and a summary.
 */
#ifndef CORDON_CHECK_H
#define CORDON_CHECK_H

#include <stdio.h>

/*
 * Checks path (config or manifest), prints problems to err and a one-line
 * summary to out.  Returns 0 when nothing was wrong, 1 otherwise.
 */
int check_run(const char *path, FILE *out, FILE *err);

#endif
