/*
 * dname: one normaliser for every name cordon reads from text, so that a
 * list, the config and `cordon explain` agree on what a name is.  It does
 * not parse names from packets (wire.c) and does not match them.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "base/dname.h"

#define MAXNAMETEXT 253		/* RFC 1035 2.3.4 less the trailing dot */
/* UTF-8 takes up to 4 octets a character; longer input cannot become a
 * name of MAXNAMETEXT characters. */
#define MAXINPUT (MAXNAMETEXT * 4)
#define BADCHAR "has a character other than letters, digits, '-' and '_'"

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_';
}

static bool
is_ip_literal(const char *s)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, s, addr) == 1 ||
	    inet_pton(AF_INET6, s, addr) == 1;
}

static bool
has_non_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/*
 * UTS #46 non-transitional processing is what browsers use today (so
 * "faß.example" stays "xn--fa-hia.example"); the transitional retry keeps
 * names that only the older rules accept.
 */
static char *
to_punycode(const char *s, const char **why)
{
	char *out = NULL;

	if (idn2_to_ascii_8z(s, &out, IDN2_NONTRANSITIONAL) == IDN2_OK)
		return out;
	out = NULL;
	if (idn2_to_ascii_8z(s, &out, IDN2_TRANSITIONAL) == IDN2_OK)
		return out;
	*why = "is not a valid internationalised name";
	return NULL;
}

/* Checks ASCII text (no trailing dot) and writes its lower-case wire form. */
static size_t
ascii_to_wire(const char *s, size_t len, uint8_t *wire, const char **why)
{
	size_t i, start = 0, out = 0;
	unsigned char c;

	if (len > MAXNAMETEXT) {
		*why = "is longer than 253 characters";
		return 0;
	}
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			c = (unsigned char)s[i];
			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			if (!is_name_char(c)) {
				*why = BADCHAR;
				return 0;
			}
			wire[out + 1 + (i - start)] = c;
			continue;
		}
		if (i == start) {
			*why = "has an empty label";
			return 0;
		}
		if (i - start > DNAME_MAXLABEL) {
			*why = "has a label longer than 63 octets";
			return 0;
		}
		wire[out] = (uint8_t)(i - start);
		out += 1 + (i - start);
		start = i + 1;
	}
	wire[out++] = 0;
	return out;
}

size_t
dname_from_text(const char *text, size_t len, uint8_t *wire,
    const char **why)
{
	char buf[MAXINPUT + 1];
	char *ascii = NULL;
	size_t n;

	while (len > 0 && is_blank(text[0])) {
		text++;
		len--;
	}
	while (len > 0 && is_blank(text[len - 1]))
		len--;
	if (len > 0 && text[len - 1] == '.')
		len--;
	if (len == 0) {
		*why = "is not a name";
		return 0;
	}
	if (len > MAXINPUT) {
		*why = "is longer than 253 characters";
		return 0;
	}
	if (memchr(text, '\0', len) != NULL) {
		*why = BADCHAR;
		return 0;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (is_ip_literal(buf)) {
		*why = "is an IP address, not a name";
		return 0;
	}
	if (has_non_ascii(buf, len)) {
		if ((ascii = to_punycode(buf, why)) == NULL)
			return 0;
		/* after the mapping too: fullwidth digits, U+FEFF or a soft
		 * hyphen must not turn an address into a name */
		n = strlen(ascii);
		if (n > 0 && ascii[n - 1] == '.')
			ascii[--n] = '\0';
		if (is_ip_literal(ascii)) {
			idn2_free(ascii);
			*why = "is an IP address, not a name";
			return 0;
		}
		n = ascii_to_wire(ascii, strlen(ascii), wire, why);
		idn2_free(ascii);
		return n;
	}
	return ascii_to_wire(buf, len, wire, why);
}

static size_t
put_char(char *buf, size_t size, size_t at, uint8_t c)
{
	bool is_plain = c >= 0x21 && c <= 0x7e && c != '.' && c != '\\' &&
	    c != '"';
	bool is_special = c == '.' || c == '\\' || c == '"';
	size_t need = is_plain ? 1 : is_special ? 2 : 4;

	if (at + need >= size)
		return 0;
	if (is_plain)
		buf[at] = (char)c;
	else if (is_special) {
		buf[at] = '\\';
		buf[at + 1] = (char)c;
	} else
		snprintf(buf + at, 5, "\\%03u", c);
	return need;
}

size_t
dname_to_text(const uint8_t *wire, char *buf, size_t size)
{
	size_t at = 0, pos = 0, i, n;
	uint8_t lab;

	if (size < 2)
		return 0;
	if (wire[0] == 0) {
		memcpy(buf, ".", 2);
		return 1;
	}
	while ((lab = wire[pos]) != 0 && pos + 1 + lab < DNAME_MAXWIRE) {
		if (pos > 0) {
			if (at + 1 >= size)
				return 0;
			buf[at++] = '.';
		}
		for (i = 0; i < lab; i++) {
			n = put_char(buf, size, at, wire[pos + 1 + i]);
			if (n == 0)
				return 0;
			at += n;
		}
		pos += 1 + lab;
	}
	buf[at] = '\0';
	return at;
}

size_t
dname_len(const uint8_t *wire)
{
	size_t pos = 0;

	while (wire[pos] != 0)
		pos += 1 + wire[pos];
	return pos + 1;
}

unsigned
dname_labels(const uint8_t *wire)
{
	size_t pos = 0;
	unsigned n = 0;

	while (wire[pos] != 0) {
		pos += 1 + wire[pos];
		n++;
	}
	return n;
}
