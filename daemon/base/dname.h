/*
 * dname: domain names as cordon stores and compares them: lower-case DNS
 * wire format (length-prefixed labels ending in the root label).  Converts
 * list and config text to that form (IDN to punycode, limits checked) and
 * back to text for logs and reports.  Wire names from packets are parsed
 * by wire.h, not here.
 */
#ifndef CORDON_DNAME_H
#define CORDON_DNAME_H

#include <stddef.h>
#include <stdint.h>

#define DNAME_MAXWIRE 255	/* RFC 1035 2.3.4: octets in a wire name */
#define DNAME_MAXLABEL 63
/* Longest text dname_to_text() can produce, with escapes, plus NUL. */
#define DNAME_MAXTEXT (DNAME_MAXWIRE * 4 + 1)

/*
 * Normalises one name from a list or config: surrounding blanks and one
 * trailing dot are ignored, letters are lower-cased, a name with non-ASCII
 * UTF-8 is converted to its ASCII (punycode) form with libidn2.  Accepts
 * letters, digits, '-' and '_' in labels of 1..63 octets and names of at
 * most 253 characters; rejects IP address literals, empty labels, the
 * root alone, and anything else.  On success writes the wire form to wire
 * (DNAME_MAXWIRE bytes) and returns its length; on failure returns 0 and
 * points *why at a static reason such as "label longer than 63 octets".
 */
size_t dname_from_text(const char *text, size_t len, uint8_t *wire,
    const char **why);

/*
 * Writes the presentation form of a wire name (no trailing dot; the root
 * is "."), escaping '.', '\\', '"' and bytes outside 0x21..0x7e as \. or
 * \DDD so the text is safe inside JSON and logs.  Returns the length
 * written (NUL not counted), or 0 when size is too small (DNAME_MAXTEXT
 * always suffices).
 */
size_t dname_to_text(const uint8_t *wire, char *buf, size_t size);

/* Length of a valid wire name including the root label. */
size_t dname_len(const uint8_t *wire);

/* Number of labels, root not counted. */
unsigned dname_labels(const uint8_t *wire);

#endif
