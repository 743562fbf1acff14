/*
 * cidr_text: the address range syntax of lists and callers, parsed
 * (cidr_parse_range(), cidr_add_text()) and written back
 * (cidr_format_range()), on inet_pton() and inet_ntop().
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "policy/cidr.h"

/* Parses one address of len characters at s. */
static int
parse_addr(const char *s, size_t len, int *family, uint8_t out[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, buf, out) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out) == 1)
		*family = AF_INET6;
	else
		return -1;
	return 0;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int
parse_pair(const char *text, const char *dash, int *family, uint8_t lo[16],
    uint8_t hi[16], const char **why)
{
	const char *end = dash, *b = dash + 1;
	int fam2;

	while (end > text && is_blank(end[-1]))
		end--;
	while (is_blank(*b))
		b++;
	if (parse_addr(text, (size_t)(end - text), family, lo) != 0 ||
	    parse_addr(b, strlen(b), &fam2, hi) != 0)
		return -1;
	if (*family != fam2) {
		*why = "mixes IPv4 and IPv6";
		return -1;
	}
	if (memcmp(lo, hi, *family == AF_INET ? 4 : 16) > 0) {
		*why = "has its first address above its last";
		return -1;
	}
	return 0;
}

int
cidr_parse_range(const char *text, int *family, uint8_t lo[16],
    uint8_t hi[16], const char **why)
{
	const char *dash = strchr(text, '-'), *slash = strchr(text, '/');
	unsigned bits = 0, maxbits, i;
	const char *s;

	*why = "is not an IP address, prefix or A-B range";
	if (dash != NULL)
		return slash != NULL ? -1 :
		    parse_pair(text, dash, family, lo, hi, why);
	if (parse_addr(text, slash ? (size_t)(slash - text) : strlen(text),
	    family, lo) != 0)
		return -1;
	memcpy(hi, lo, 16);
	if (slash == NULL)
		return 0;
	maxbits = *family == AF_INET ? 32 : 128;
	for (s = slash + 1; *s >= '0' && *s <= '9' && s - slash <= 3; s++)
		bits = bits * 10 + (unsigned)(*s - '0');
	if (s == slash + 1 || *s != '\0' || bits > maxbits) {
		*why = *family == AF_INET ? "has a prefix length that is not "
		    "0-32" : "has a prefix length that is not 0-128";
		return -1;
	}
	for (i = bits; i < maxbits; i++) {
		if (lo[i / 8] & (0x80 >> (i % 8))) {
			*why = "has host bits set after the prefix length";
			return -1;
		}
		hi[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	}
	return 0;
}

int
cidr_add_text(struct cidr *c, const char *text, uint32_t value,
    uint32_t (*merge)(uint32_t old, uint32_t add), const char **why)
{
	uint8_t lo[16], hi[16];
	int family;

	if (cidr_parse_range(text, &family, lo, hi, why) != 0)
		return -1;
	if (cidr_add(c, family, lo, hi, value, merge) != 0) {
		*why = errno == ENOMEM ? "could not be added: out of memory" :
		    "could not be added: the matcher is frozen";
		return -1;
	}
	return 0;
}

/* The prefix length when lo..hi is one prefix, else -1. */
static int
prefix_bits(const uint8_t *lo, const uint8_t *hi, unsigned maxbits)
{
	unsigned i;
	int bits = -1, l, h;

	for (i = 0; i < maxbits; i++) {
		l = lo[i / 8] >> (7 - i % 8) & 1;
		h = hi[i / 8] >> (7 - i % 8) & 1;
		if (bits < 0 && l == h)
			continue;
		if (bits < 0)
			bits = (int)i;
		if (l != 0 || h != 1)
			return -1;
	}
	return bits < 0 ? (int)maxbits : bits;
}

size_t
cidr_format_range(const struct cidr_match *m, char *buf, size_t size)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
	unsigned maxbits = m->family == AF_INET ? 32 : 128;
	int bits, n;

	if ((m->family != AF_INET && m->family != AF_INET6) ||
	    inet_ntop(m->family, m->lo, lo, sizeof(lo)) == NULL ||
	    inet_ntop(m->family, m->hi, hi, sizeof(hi)) == NULL)
		return 0;
	bits = prefix_bits(m->lo, m->hi, maxbits);
	if (bits == (int)maxbits)
		n = snprintf(buf, size, "%s", lo);
	else if (bits >= 0)
		n = snprintf(buf, size, "%s/%d", lo, bits);
	else
		n = snprintf(buf, size, "%s-%s", lo, hi);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}
