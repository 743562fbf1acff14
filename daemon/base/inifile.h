/*
 * inifile: the INI reader shared by cordon.conf and sources manifests.
 * Wraps inih's ini_parse_stream() with a reader that counts lines, so the
 * handler always gets the line number whatever inih was built with.
 */
#ifndef CORDON_INIFILE_H
#define CORDON_INIFILE_H

#include <stddef.h>

struct diag;

/*
 * Called for each "key = value" in section.  Return 0 to go on, -1 when
 * the handler has recorded an error (parsing continues, so every error is
 * reported, but inifile_parse_sections() then returns -1).
 */
typedef int (*inifile_handler)(void *arg, const char *section,
    const char *key, const char *value, size_t line);

/*
 * Called for each "[section]" header before the keys under it, so that
 * sections without keys, and the header's own line, are seen too.  Same
 * return convention as inifile_handler.
 */
typedef int (*inifile_section_handler)(void *arg, const char *section,
    size_t line);

/*
 * Parses path, calling on_section for each section header and handler
 * for each key.  Syntax errors ("FILE:LINE: expected [section] or
 * key = value", over-long lines) and an unreadable file are recorded in
 * d.  Returns 0 when the file was read without errors, -1 otherwise.
 */
int inifile_parse_sections(const char *path,
    inifile_section_handler on_section, inifile_handler handler, void *arg,
    struct diag *d);

#endif
