/*
 * netaddr: parsing and matching of addresses and prefixes from config.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/netaddr.h"

static int
set_addr(struct netaddr *na, const char *host, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&na->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&na->ss;

	memset(na, 0, sizeof(*na));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		na->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		na->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

static int
parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
netaddr_parse(const char *text, uint16_t default_port, struct netaddr *na,
    const char **why)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port_text = NULL;
	uint16_t port = default_port;
	size_t hlen;

	*why = "not an IP address (use ADDR, ADDR:PORT or [ADDR]:PORT)";
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL)
			return -1;
		hlen = (size_t)(close - text - 1);
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return -1;
		text++;
	} else if ((colon = strchr(text, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		hlen = (size_t)(colon - text);
		port_text = colon + 1;
	} else
		hlen = strlen(text);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (port_text != NULL && parse_port(port_text, &port) == -1) {
		*why = "bad port (use 1-65535)";
		return -1;
	}
	return set_addr(na, host, port);
}

int
netaddr_parse_prefix(const char *text, struct prefix *p, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned maxbits, i;

	*why = "not an address prefix (use ADDR/BITS)";
	memset(p, 0, sizeof(*p));
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, p->addr) == 1) {
		p->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, p->addr) == 1) {
		p->family = AF_INET6;
		maxbits = 128;
	} else
		return -1;
	p->bits = maxbits;
	if (slash != NULL) {
		char *end;
		unsigned long b;

		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		b = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || b > maxbits) {
			*why = "prefix length out of range";
			return -1;
		}
		p->bits = (unsigned)b;
	}
	for (i = p->bits; i < maxbits; i++) {
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			*why = "host bits set after the prefix length";
			return -1;
		}
	}
	return 0;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff };

bool
netaddr_in_prefix(const struct prefix *p, const struct sockaddr *sa)
{
	const uint8_t *a;
	unsigned full, rest;

	if (sa->sa_family == AF_INET && p->family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (p->family == AF_INET) {
			if (memcmp(a, v4mapped, sizeof(v4mapped)) != 0)
				return false;
			a += 12;
		}
	} else
		return false;
	full = p->bits / 8;
	rest = p->bits % 8;
	if (memcmp(a, p->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ p->addr[full]) & (uint8_t)(0xff00 >> rest)) == 0;
}

bool
netaddr_in_any(const struct prefix *p, size_t n, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (netaddr_in_prefix(&p[i], sa))
			return true;
	return false;
}

size_t
netaddr_ntop(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *a;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		return 0;
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)size) == NULL)
		return 0;
	return strlen(buf);
}

uint16_t
netaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

size_t
netaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	if (netaddr_ntop(sa, a, sizeof(a)) == 0)
		return 0;
	if (sa->sa_family == AF_INET6)
		n = snprintf(buf, size, "[%s]:%u", a, netaddr_port(sa));
	else
		n = snprintf(buf, size, "%s:%u", a, netaddr_port(sa));
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

bool
netaddr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}
