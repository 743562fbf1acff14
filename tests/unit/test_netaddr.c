/*
 * test_netaddr: address and prefix parsing as written in cordon.conf,
 * prefix matching (IPv4-mapped IPv6 against IPv4 prefixes, /0) and the
 * way back to text.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/netaddr.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct parse_case {
	const char *in;
	int family;		/* 0: rejected */
	const char *addr;	/* netaddr_ntop() of the result */
	uint16_t port;
	const char *text;	/* netaddr_format() of the result */
};

static const struct parse_case parse_cases[] = {
	{ "127.0.0.1", AF_INET, "127.0.0.1", 53, "127.0.0.1:53" },
	{ "192.0.2.7:5353", AF_INET, "192.0.2.7", 5353, "192.0.2.7:5353" },
	{ "0.0.0.0:1", AF_INET, "0.0.0.0", 1, "0.0.0.0:1" },
	{ "10.0.0.1:65535", AF_INET, "10.0.0.1", 65535, "10.0.0.1:65535" },
	{ "[::1]:53", AF_INET6, "::1", 53, "[::1]:53" },
	{ "[2001:db8::1]:5300", AF_INET6, "2001:db8::1", 5300,
	    "[2001:db8::1]:5300" },
	{ "[::1]", AF_INET6, "::1", 53, "[::1]:53" },
	{ "::1", AF_INET6, "::1", 53, "[::1]:53" },
	{ "2001:db8::53", AF_INET6, "2001:db8::53", 53, "[2001:db8::53]:53" },
	{ "::", AF_INET6, "::", 53, "[::]:53" },
	{ "::ffff:192.0.2.1", AF_INET6, "::ffff:192.0.2.1", 53,
	    "[::ffff:192.0.2.1]:53" },
	{ "2001:DB8::A", AF_INET6, "2001:db8::a", 53, "[2001:db8::a]:53" },
	/* bad ports */
	{ "127.0.0.1:0", 0, NULL, 0, NULL },
	{ "127.0.0.1:65536", 0, NULL, 0, NULL },
	{ "127.0.0.1:99999999999999999999999", 0, NULL, 0, NULL },
	{ "127.0.0.1:abc", 0, NULL, 0, NULL },
	{ "127.0.0.1:", 0, NULL, 0, NULL },
	{ "127.0.0.1:-1", 0, NULL, 0, NULL },
	{ "127.0.0.1:+53", 0, NULL, 0, NULL },
	{ "127.0.0.1:53x", 0, NULL, 0, NULL },
	{ "127.0.0.1: 53", 0, NULL, 0, NULL },
	{ "[::1]:0", 0, NULL, 0, NULL },
	{ "[::1]:65536", 0, NULL, 0, NULL },
	{ "[::1]:abc", 0, NULL, 0, NULL },
	{ "[::1]:", 0, NULL, 0, NULL },
	/* garbage */
	{ "", 0, NULL, 0, NULL },
	{ ":53", 0, NULL, 0, NULL },
	{ "localhost", 0, NULL, 0, NULL },
	{ "localhost:53", 0, NULL, 0, NULL },
	{ "256.0.0.1", 0, NULL, 0, NULL },
	{ "1.2.3", 0, NULL, 0, NULL },
	{ "1.2.3.4.5", 0, NULL, 0, NULL },
	{ " 127.0.0.1", 0, NULL, 0, NULL },
	{ "127.0.0.1 ", 0, NULL, 0, NULL },
	{ "[::1", 0, NULL, 0, NULL },
	{ "[::1]x", 0, NULL, 0, NULL },
	{ "[::1]53", 0, NULL, 0, NULL },
	{ "[]:53", 0, NULL, 0, NULL },
	{ "[]", 0, NULL, 0, NULL },
	{ "::1::2", 0, NULL, 0, NULL },
	{ "2001:db8::g", 0, NULL, 0, NULL },
	{ "10.0.0.0/8", 0, NULL, 0, NULL },
	{ "1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19:20:21:22", 0,
	    NULL, 0, NULL },
};

static void
test_parse(void)
{
	size_t i;

	for (i = 0; i < N(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct netaddr na;
		const char *why = NULL;
		char buf[INET6_ADDRSTRLEN + 8];
		int rc;

		rc = netaddr_parse(c->in, 53, &na, &why);
		if (c->family == 0) {
			CHECK(rc == -1, "parse \"%s\": accepted", c->in);
			CHECK(why != NULL && why[0] != '\0',
			    "parse \"%s\": no reason", c->in);
			continue;
		}
		CHECK(rc == 0, "parse \"%s\": rejected (%s)", c->in,
		    why ? why : "?");
		if (rc != 0)
			continue;
		CHECK(na.ss.ss_family == c->family, "parse \"%s\": family %d",
		    c->in, na.ss.ss_family);
		CHECK(na.len == (c->family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)),
		    "parse \"%s\": len %u", c->in, (unsigned)na.len);
		CHECK(netaddr_port((struct sockaddr *)&na.ss) == c->port,
		    "parse \"%s\": port %u", c->in,
		    netaddr_port((struct sockaddr *)&na.ss));
		CHECK(netaddr_ntop((struct sockaddr *)&na.ss, buf,
		    sizeof(buf)) == strlen(c->addr), "ntop \"%s\"", c->in);
		CHECK_STR(buf, c->addr, "ntop \"%s\"", c->in);
		CHECK(netaddr_format((struct sockaddr *)&na.ss, buf,
		    sizeof(buf)) == strlen(c->text), "format \"%s\"", c->in);
		CHECK_STR(buf, c->text, "format \"%s\"", c->in);
	}
}

/* The bad-port reason differs from the not-an-address one. */
static void
test_parse_why(void)
{
	struct netaddr na;
	const char *why = NULL;

	CHECK(netaddr_parse("127.0.0.1:0", 53, &na, &why) == -1, "port 0");
	CHECK(why != NULL && strstr(why, "port") != NULL, "why: %s",
	    why ? why : "(null)");
	why = NULL;
	CHECK(netaddr_parse("[::1]:65536", 53, &na, &why) == -1, "port 65536");
	CHECK(why != NULL && strstr(why, "port") != NULL, "why: %s",
	    why ? why : "(null)");
	/* default port is used when none is given */
	CHECK(netaddr_parse("192.0.2.1", 5300, &na, &why) == 0, "default");
	CHECK(netaddr_port((struct sockaddr *)&na.ss) == 5300, "default port");
	CHECK(netaddr_parse("[2001:db8::1]", 853, &na, &why) == 0, "default6");
	CHECK(netaddr_port((struct sockaddr *)&na.ss) == 853, "default port6");
}

/* format(parse(x)) == x, and parse(format(y)) equals y, for canonical
 * text. */
static void
test_roundtrip(void)
{
	static const char *const texts[] = {
		"127.0.0.1:53", "255.255.255.255:65535", "0.0.0.0:1",
		"[::1]:53", "[::]:5353", "[2001:db8:1:2:3:4:5:6]:853",
		"[fe80::1]:1", "[::ffff:10.1.2.3]:53",
	};
	size_t i;

	for (i = 0; i < N(texts); i++) {
		struct netaddr a, b;
		const char *why = NULL;
		char buf[INET6_ADDRSTRLEN + 8], small[8];

		CHECK(netaddr_parse(texts[i], 1, &a, &why) == 0, "rt %s",
		    texts[i]);
		CHECK(netaddr_format((struct sockaddr *)&a.ss, buf,
		    sizeof(buf)) == strlen(texts[i]), "rt format len %s",
		    texts[i]);
		CHECK_STR(buf, texts[i], "rt format");
		CHECK(netaddr_parse(buf, 1, &b, &why) == 0, "rt reparse %s",
		    buf);
		CHECK(netaddr_equal((struct sockaddr *)&a.ss,
		    (struct sockaddr *)&b.ss), "rt equal %s", texts[i]);
		CHECK(netaddr_format((struct sockaddr *)&a.ss, small,
		    sizeof(small)) == 0, "format into 8 bytes: %s", texts[i]);
		CHECK(netaddr_ntop((struct sockaddr *)&a.ss, small, 2) == 0,
		    "ntop into 2 bytes: %s", texts[i]);
	}
}

static void
test_equal(void)
{
	struct netaddr a, b;
	const char *why;

	netaddr_parse("127.0.0.1:53", 53, &a, &why);
	netaddr_parse("127.0.0.1:54", 53, &b, &why);
	CHECK(!netaddr_equal((struct sockaddr *)&a.ss,
	    (struct sockaddr *)&b.ss), "ports differ");
	netaddr_parse("127.0.0.2:53", 53, &b, &why);
	CHECK(!netaddr_equal((struct sockaddr *)&a.ss,
	    (struct sockaddr *)&b.ss), "addresses differ");
	netaddr_parse("[::ffff:127.0.0.1]:53", 53, &b, &why);
	CHECK(!netaddr_equal((struct sockaddr *)&a.ss,
	    (struct sockaddr *)&b.ss), "families differ");
	netaddr_parse("[::1]:53", 53, &a, &why);
	netaddr_parse("::1", 53, &b, &why);
	CHECK(netaddr_equal((struct sockaddr *)&a.ss,
	    (struct sockaddr *)&b.ss), "[::1]:53 == ::1");
}

struct prefix_case {
	const char *in;
	int family;		/* 0: rejected */
	unsigned bits;
	const char *why;	/* substring of the reason when rejected */
};

static const struct prefix_case prefix_cases[] = {
	{ "10.0.0.0/8", AF_INET, 8, NULL },
	{ "0.0.0.0/0", AF_INET, 0, NULL },
	{ "192.0.2.1/32", AF_INET, 32, NULL },
	{ "192.0.2.1", AF_INET, 32, NULL },
	{ "192.0.2.0/24", AF_INET, 24, NULL },
	{ "192.0.2.128/25", AF_INET, 25, NULL },
	{ "::/0", AF_INET6, 0, NULL },
	{ "::1/128", AF_INET6, 128, NULL },
	{ "::1", AF_INET6, 128, NULL },
	{ "2001:db8::/32", AF_INET6, 32, NULL },
	{ "2001:db8::/33", AF_INET6, 33, NULL },
	{ "::ffff:0:0/96", AF_INET6, 96, NULL },
	/* host bits set */
	{ "10.0.0.1/8", 0, 0, "host bits" },
	{ "1.0.0.0/0", 0, 0, "host bits" },
	{ "192.0.2.1/31", 0, 0, "host bits" },
	{ "192.0.2.129/25", 0, 0, "host bits" },
	{ "::1/127", 0, 0, "host bits" },
	{ "2001:db8:4000::/33", 0, 0, "host bits" },
	{ "2001:db8:8000::/33", AF_INET6, 33, NULL },
	{ "2001:db8::/0", 0, 0, "host bits" },
	/* bad lengths */
	{ "10.0.0.0/33", 0, 0, NULL },
	{ "::/129", 0, 0, NULL },
	{ "10.0.0.0/", 0, 0, NULL },
	{ "10.0.0.0/-1", 0, 0, NULL },
	{ "10.0.0.0/+8", 0, 0, NULL },
	{ "10.0.0.0/8x", 0, 0, NULL },
	{ "10.0.0.0/8/8", 0, 0, NULL },
	{ "10.0.0.0/ 8", 0, 0, NULL },
	{ "10.0.0.0/99999999999999999999999", 0, 0, NULL },
	{ "10.0.0.0/abc", 0, 0, NULL },
	/* garbage */
	{ "", 0, 0, NULL },
	{ "/8", 0, 0, NULL },
	{ "10.0.0/8", 0, 0, NULL },
	{ "example.com/8", 0, 0, NULL },
	{ "[::1]/128", 0, 0, NULL },
	{ "10.0.0.0:53/8", 0, 0, NULL },
};

static void
test_parse_prefix(void)
{
	size_t i;

	for (i = 0; i < N(prefix_cases); i++) {
		const struct prefix_case *c = &prefix_cases[i];
		struct prefix p;
		const char *why = NULL;
		int rc = netaddr_parse_prefix(c->in, &p, &why);

		if (c->family == 0) {
			CHECK(rc == -1, "prefix \"%s\": accepted (bits %u)",
			    c->in, p.bits);
			CHECK(why != NULL, "prefix \"%s\": no reason", c->in);
			if (c->why != NULL && why != NULL)
				CHECK(strstr(why, c->why) != NULL,
				    "prefix \"%s\": why \"%s\", want \"%s\"",
				    c->in, why, c->why);
			continue;
		}
		CHECK(rc == 0, "prefix \"%s\": rejected (%s)", c->in,
		    why ? why : "?");
		if (rc != 0)
			continue;
		CHECK(p.family == c->family, "prefix \"%s\": family %d", c->in,
		    p.family);
		CHECK(p.bits == c->bits, "prefix \"%s\": bits %u", c->in,
		    p.bits);
	}
}

static void
make_sa(const char *addr, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			abort();
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			abort();
	}
}

struct match_case {
	const char *prefix;
	const char *addr;
	bool want;
};

static const struct match_case match_cases[] = {
	{ "10.0.0.0/8", "10.0.0.0", true },
	{ "10.0.0.0/8", "10.255.255.255", true },
	{ "10.0.0.0/8", "11.0.0.0", false },
	{ "10.0.0.0/8", "9.255.255.255", false },
	{ "192.0.2.128/25", "192.0.2.128", true },
	{ "192.0.2.128/25", "192.0.2.255", true },
	{ "192.0.2.128/25", "192.0.2.127", false },
	{ "192.0.2.1/32", "192.0.2.1", true },
	{ "192.0.2.1/32", "192.0.2.0", false },
	{ "192.0.2.1", "192.0.2.1", true },
	{ "0.0.0.0/0", "0.0.0.0", true },
	{ "0.0.0.0/0", "255.255.255.255", true },
	{ "0.0.0.0/0", "203.0.113.9", true },
	/* IPv4-mapped IPv6 addresses match IPv4 prefixes */
	{ "10.0.0.0/8", "::ffff:10.1.2.3", true },
	{ "10.0.0.0/8", "::ffff:11.1.2.3", false },
	{ "127.0.0.0/8", "::ffff:127.0.0.1", true },
	{ "192.0.2.1/32", "::ffff:192.0.2.1", true },
	{ "0.0.0.0/0", "::ffff:1.2.3.4", true },
	/* ... but plain IPv6 addresses do not */
	{ "0.0.0.0/0", "::1", false },
	{ "0.0.0.0/0", "2001:db8::1", false },
	{ "10.0.0.0/8", "::10.1.2.3", false },	/* v4-compatible, not mapped */
	{ "10.0.0.0/8", "::fffe:10.1.2.3", false },
	{ "10.0.0.0/8", "1::ffff:10.1.2.3", false },
	/* IPv6 prefixes */
	{ "::/0", "::", true },
	{ "::/0", "2001:db8::1", true },
	{ "::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
	{ "::1/128", "::1", true },
	{ "::1/128", "::2", false },
	{ "::1/128", "::ffff:127.0.0.1", false },
	{ "2001:db8::/32", "2001:db8:ffff::1", true },
	{ "2001:db8::/32", "2001:db9::1", false },
	{ "2001:db8::/33", "2001:db8:7fff::1", true },
	{ "2001:db8::/33", "2001:db8:8000::1", false },
	{ "2001:db8::/127", "2001:db8::1", true },
	{ "2001:db8::/127", "2001:db8::2", false },
	/* an IPv4 address never lies in an IPv6 prefix other than by
	 * mapping, and an IPv6 prefix does not match an IPv4 socket */
	{ "::1/128", "127.0.0.1", false },
	{ "2001:db8::/32", "32.1.13.184", false },
};

static void
test_in_prefix(void)
{
	size_t i;
	struct prefix all[3];
	struct sockaddr_storage ss;
	const char *why;

	for (i = 0; i < N(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		struct prefix p;

		if (netaddr_parse_prefix(c->prefix, &p, &why) != 0) {
			CHECK(0, "match case %zu: bad prefix %s", i, c->prefix);
			continue;
		}
		make_sa(c->addr, &ss);
		CHECK(netaddr_in_prefix(&p, (struct sockaddr *)&ss) == c->want,
		    "%s in %s: want %s", c->addr, c->prefix,
		    c->want ? "true" : "false");
	}

	/* netaddr_in_any */
	CHECK(netaddr_parse_prefix("127.0.0.0/8", &all[0], &why) == 0, "a0");
	CHECK(netaddr_parse_prefix("::1/128", &all[1], &why) == 0, "a1");
	CHECK(netaddr_parse_prefix("192.0.2.0/24", &all[2], &why) == 0, "a2");
	make_sa("192.0.2.200", &ss);
	CHECK(netaddr_in_any(all, 3, (struct sockaddr *)&ss), "any 3");
	CHECK(!netaddr_in_any(all, 2, (struct sockaddr *)&ss), "any 2");
	CHECK(!netaddr_in_any(all, 0, (struct sockaddr *)&ss), "any 0");
	make_sa("::1", &ss);
	CHECK(netaddr_in_any(all, 3, (struct sockaddr *)&ss), "any ::1");
	make_sa("::ffff:127.9.9.9", &ss);
	CHECK(netaddr_in_any(all, 3, (struct sockaddr *)&ss), "any mapped");
	make_sa("::2", &ss);
	CHECK(!netaddr_in_any(all, 3, (struct sockaddr *)&ss), "any ::2");
}

int
main(void)
{
	test_parse();
	test_parse_why();
	test_roundtrip();
	test_equal();
	test_parse_prefix();
	test_in_prefix();
	return unit_exit();
}
