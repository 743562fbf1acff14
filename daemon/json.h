/*
 * json: writing JSON text to a stdio stream, for report.json and other
 * machine-readable output of the `cordon` tool (the audit log's lines are
 * formatted by audit.c, on the hot path, without stdio).
 */
#ifndef CORDON_JSON_H
#define CORDON_JSON_H

#include <stdio.h>

/* Writes s as a JSON string: quotes, backslashes and control characters
 * escaped, bytes of 0x80 and above copied (UTF-8 passes through). */
void json_put_string(FILE *f, const char *s);

#endif
