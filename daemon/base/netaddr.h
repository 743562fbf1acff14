/*
 * netaddr: socket addresses and prefixes as written in cordon.conf
 * ("127.0.0.1:53", "[::1]:53", "10.0.0.0/8") and the client ACL built
 * from them.  Text in, sockaddrs out; opens nothing.
 */
#ifndef CORDON_NETADDR_H
#define CORDON_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct netaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct prefix {
	int family;		/* AF_INET or AF_INET6 */
	unsigned bits;
	uint8_t addr[16];	/* network byte order, host bits zero */
};

/*
 * Parses "ADDR", "ADDR:PORT" (IPv4) or "[ADDR]:PORT" / bare IPv6.  A
 * missing port is default_port.  Returns 0, or -1 with *why set.
 */
int netaddr_parse(const char *text, uint16_t default_port,
    struct netaddr *na, const char **why);

/* Parses "ADDR/BITS" or "ADDR" (a host prefix).  Host bits that are set
 * are an error.  Returns 0, or -1 with *why set. */
int netaddr_parse_prefix(const char *text, struct prefix *p,
    const char **why);

/* true when sa lies in p.  An IPv4-mapped IPv6 address matches IPv4
 * prefixes. */
bool netaddr_in_prefix(const struct prefix *p, const struct sockaddr *sa);

/* true when sa lies in any of the n prefixes. */
bool netaddr_in_any(const struct prefix *p, size_t n,
    const struct sockaddr *sa);

/* Writes the address (no port) as text; returns its length, or 0 when it
 * does not fit. INET6_ADDRSTRLEN always fits. */
size_t netaddr_ntop(const struct sockaddr *sa, char *buf, size_t size);

/* "ADDR:PORT" or "[ADDR]:PORT". */
size_t netaddr_format(const struct sockaddr *sa, char *buf, size_t size);

uint16_t netaddr_port(const struct sockaddr *sa);

/* true when a and b are the same address and port. */
bool netaddr_equal(const struct sockaddr *a, const struct sockaddr *b);

#endif
