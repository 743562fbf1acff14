/*
 * safetext: escaping for the auditor's terminal and spreadsheet.
 */
#include <string.h>

#include "base/safetext.h"

size_t
safetext_next(const char *str, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t c, min;
	size_t n, i;

	*cp = SAFETEXT_NOT_UTF8;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, c = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, c = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 1;
	for (i = 1; i < n; i++) {	/* a NUL stops this too */
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 1;
	*cp = c;
	return n;
}

bool
safetext_is_unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	    cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * The escape for the character at s in buf (NUL-terminated) and its
 * length in *len, or NULL when it is printed as it is.
 */
static const char *
escape(const unsigned char *s, size_t *len, char buf[16])
{
	uint32_t cp;

	*len = safetext_next((const char *)s, &cp);
	if (cp == SAFETEXT_NOT_UTF8) {
		snprintf(buf, 16, "\\x%02X", s[0]);
		return buf;
	}
	if (cp == '\\') {
		/* so an escape in the output always was one */
		return "\\\\";
	}
	if (!safetext_is_unsafe(cp))
		return NULL;
	if (cp < 0x80)
		snprintf(buf, 16, "\\x%02X", (unsigned)cp);
	else
		snprintf(buf, 16, "\\u{%04X}", (unsigned)cp);
	return buf;
}

size_t
safetext_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, len;
	char buf[16];
	const char *e;

	while (*p != '\0') {
		e = escape(p, &len, buf);
		w += e != NULL ? strlen(e) : 1;
		p += len;
	}
	return w;
}

void
safetext_put(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;
	char buf[16];
	const char *e;

	while (*p != '\0') {
		e = escape(p, &len, buf);
		if (e != NULL)
			fputs(e, f);
		else
			fwrite(p, 1, len, f);
		p += len;
	}
}

void
safetext_put_csv(FILE *f, const char *s)
{
	bool quote = strpbrk(s, ",\"") != NULL;
	const unsigned char *p = (const unsigned char *)s;
	size_t len;
	char buf[16];
	const char *e;

	if (quote)
		fputc('"', f);
	if (strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0')
		fputc('\'', f);
	while (*p != '\0') {
		e = escape(p, &len, buf);
		if (e != NULL)
			fputs(e, f);
		else if (*p == '"')
			fputs("\"\"", f);
		else
			fwrite(p, 1, len, f);
		p += len;
	}
	if (quote)
		fputc('"', f);
}
