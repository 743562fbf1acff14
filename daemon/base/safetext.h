/*
 * safetext: text from a log an attacker may have written, made safe to
 * print.  A terminal must not see control characters (C0, DEL, C1: they
 * move the cursor, retitle windows, hide what follows), bidirectional
 * controls (U+061C, U+200E-F, U+202A-E, U+2066-9: they reorder what the
 * reader sees) or broken UTF-8; a spreadsheet must not take a CSV cell
 * for a formula.  Escapes are \xHH for single bytes and \u{HHHH} for
 * code points, so the original can be told from the output.
 */
#ifndef CORDON_SAFETEXT_H
#define CORDON_SAFETEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SAFETEXT_NOT_UTF8 UINT32_MAX

/* The character at s: returns its length in bytes and sets *cp, or
 * returns 1 with *cp = SAFETEXT_NOT_UTF8 for a byte that starts no valid
 * sequence (overlong forms, surrogates, past U+10FFFF, cut by a NUL). */
size_t safetext_next(const char *s, uint32_t *cp);

/* C0 and C1 controls, DEL and the bidirectional controls. */
bool safetext_is_unsafe(uint32_t cp);

/* Columns s takes once escaped (one per byte of ASCII, one per other
 * code point, the escape's length for escaped ones). */
size_t safetext_width(const char *s);

/* Writes s to f, escaped. */
void safetext_put(FILE *f, const char *s);

/*
 * Writes s to f as one RFC 4180 CSV cell, escaped: quoted when it holds
 * a comma, a quote or a line break (after escaping none remain but
 * commas and quotes), and prefixed with ' when it starts with = + - @,
 * a tab or a CR, which spreadsheets read as a formula (OWASP "CSV
 * injection").
 */
void safetext_put_csv(FILE *f, const char *s);

#endif
