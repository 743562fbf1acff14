/*
 * inifile: feeds inih from diag's line reader so every handler call knows
 * its line, whatever INI_HANDLER_LINENO the library was built with.  What
 * a key means is the caller's business; this file only reports syntax.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "base/diag.h"
#include "base/inifile.h"

struct inifile {
	struct linereader *lr;
	struct diag *d;
	inifile_section_handler on_section;
	inifile_handler handler;
	void *arg;
	bool has_failed;
};

/*
 * inih calls back only for keys; spotting the header here is what lets
 * the caller see a section that has no keys, and the header's line.
 */
static void
check_section(struct inifile *f, char *line)
{
	char *p, *end;
	char saved;

	if (line[0] != '[')
		return;
	/* inih ends the name at ']' or at a ';' comment after a blank. */
	for (p = line + 1; *p != '\0' && *p != ']'; p++)
		if (*p == ';' && isspace((unsigned char)p[-1]))
			return;
	if (*p != ']')
		return;
	end = p;
	saved = *end;
	*end = '\0';
	if (f->on_section(f->arg, line + 1, linereader_lineno(f->lr)) != 0)
		f->has_failed = true;
	*end = saved;
}

/*
 * inih reads a longer line in several pieces and counts each as a line,
 * which would shift every later line number: such a line is reported and
 * handed over empty instead.
 */
static char *
read_line(char *str, int num, void *stream)
{
	struct inifile *f = stream;
	size_t len, max = (size_t)num - 1;
	char *line;

	if ((line = linereader_next(f->lr, &len)) == NULL)
		return NULL;
	if (len > max) {
		diag_add(f->d, linereader_name(f->lr),
		    linereader_lineno(f->lr),
		    "line too long (more than %zu characters)", max);
		f->has_failed = true;
		str[0] = '\0';
		return str;
	}
	memcpy(str, line, len);
	str[len] = '\0';
	if (f->on_section != NULL)
		check_section(f, str);
	return str;
}

static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct inifile *f = user;

	if (f->handler(f->arg, section, key, value,
	    linereader_lineno(f->lr)) != 0)
		f->has_failed = true;
	/* Nonzero tells inih all is well, so that its return value only
	 * ever means a syntax error. */
	return 1;
}

int
inifile_parse_sections(const char *path, inifile_section_handler on_section,
    inifile_handler handler, void *arg, struct diag *d)
{
	struct inifile f = {
		.d = d,
		.on_section = on_section,
		.handler = handler,
		.arg = arg,
	};
	int rc;

	if ((f.lr = linereader_open(path, d)) == NULL)
		return -1;
	rc = ini_parse_stream(read_line, &f, on_key, &f);
	if (linereader_error(f.lr)) {
		diag_add(d, path, linereader_lineno(f.lr) + 1, "read error");
		f.has_failed = true;
	}
	linereader_close(f.lr);
	if (rc > 0) {
		diag_add(d, path, (size_t)rc,
		    "expected [section] or key = value");
		f.has_failed = true;
	} else if (rc < 0) {
		diag_add(d, path, 0, "out of memory");
		f.has_failed = true;
	}
	return f.has_failed ? -1 : 0;
}
