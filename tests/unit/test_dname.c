/*
 * test_dname: name normalisation (case, dots, IDN, limits, IP literals)
 * and the way back to text with its escapes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/dname.h"
#include "unit.h"

struct namecase {
	const char *in;
	const char *want;	/* text of the result, or NULL: rejected */
	const char *why;	/* expected reason when rejected */
};

static const struct namecase namecases[] = {
	{ "example.com", "example.com", NULL },
	{ "Example.COM", "example.com", NULL },
	{ "example.com.", "example.com", NULL },
	{ "  example.com \t", "example.com", NULL },
	{ "a_b-c.example", "a_b-c.example", NULL },
	{ "com", "com", NULL },
	{ "123.example", "123.example", NULL },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example", NULL },
	{ "bücher.example", "xn--bcher-kva.example", NULL },
	{ "BÜCHER.example", "xn--bcher-kva.example", NULL },
	{ "faß.de", "xn--fa-hia.de", NULL },
	{ "例え.テスト", "xn--r8jz45g.xn--zckzah", NULL },
	{ "\xff.example", NULL, "is not a valid internationalised name" },
	{ "\xe2\x80\x8d.example", NULL, "has an empty label" },
	{ "example.com..", NULL, "has an empty label" },
	{ "", NULL, "is not a name" },
	{ "   ", NULL, "is not a name" },
	{ ".", NULL, "is not a name" },
	{ "..", NULL, "has an empty label" },
	{ ".example.com", NULL, "has an empty label" },
	{ "a..b", NULL, "has an empty label" },
	{ "exa mple.com", NULL,
	    "has a character other than letters, digits, '-' and '_'" },
	{ "*.example.com", NULL,
	    "has a character other than letters, digits, '-' and '_'" },
	{ "ex/ample.com", NULL,
	    "has a character other than letters, digits, '-' and '_'" },
	{ "192.0.2.1", NULL, "is an IP address, not a name" },
	{ "192.0.2.1.", NULL, "is an IP address, not a name" },
	{ "2001:db8::1", NULL, "is an IP address, not a name" },
	{ "::", NULL, "is an IP address, not a name" },
	/* ../shared/fuzz-findings/2: an address once IDNA has mapped it */
	{ "5.1.7.5\xef\xbb\xbf", NULL, "is an IP address, not a name" },
	{ "\xef\xbc\x91\xef\xbc\x99\xef\xbc\x92.\xef\xbc\x90.\xef\xbc\x92."
	    "\xef\xbc\x91", NULL, "is an IP address, not a name" },
	{ "192.0.2.\xc2\xad" "1", NULL, "is an IP address, not a name" },
	{ "192\xe3\x80\x82" "0.2.1", NULL, "is an IP address, not a name" },
};

/* 63 and 64 octet labels, 253 and 254 character names. */
static void
test_limits(void)
{
	char text[600];
	uint8_t wire[DNAME_MAXWIRE];
	const char *why = NULL;
	size_t n, i;

	memset(text, 'a', 63);
	strcpy(text + 63, ".example");
	n = dname_from_text(text, strlen(text), wire, &why);
	CHECK(n == 1 + 63 + 1 + 7 + 1, "63-octet label: %zu", n);

	memset(text, 'a', 64);
	strcpy(text + 64, ".example");
	n = dname_from_text(text, strlen(text), wire, &why);
	CHECK(n == 0, "64-octet label accepted");
	CHECK_STR(why, "has a label longer than 63 octets", "64 label");

	/* 63+1+63+1+63+1+61 = 253 characters, 255 octets of wire. */
	memset(text, 'b', 253);
	text[63] = text[127] = text[191] = '.';
	text[253] = '\0';
	n = dname_from_text(text, 253, wire, &why);
	CHECK(n == 255, "253 chars: %zu", n);
	CHECK(dname_len(wire) == 255, "dname_len %zu", dname_len(wire));
	CHECK(dname_labels(wire) == 4, "labels %u", dname_labels(wire));
	strcpy(text + 253, ".");
	n = dname_from_text(text, 254, wire, &why);
	CHECK(n == 255, "253 chars and a dot: %zu", n);

	memset(text, 'b', 254);
	text[63] = text[127] = text[191] = '.';
	text[254] = '\0';
	n = dname_from_text(text, 254, wire, &why);
	CHECK(n == 0, "254 chars accepted");
	CHECK_STR(why, "is longer than 253 characters", "254 chars");

	memset(text, 'c', sizeof(text) - 1);
	for (i = 50; i < sizeof(text) - 1; i += 50)
		text[i] = '.';
	text[sizeof(text) - 1] = '\0';
	n = dname_from_text(text, strlen(text), wire, &why);
	CHECK(n == 0, "very long accepted");
}

static void
test_from_text(void)
{
	uint8_t wire[DNAME_MAXWIRE];
	char text[DNAME_MAXTEXT];
	const char *why;
	size_t i, n;

	for (i = 0; i < sizeof(namecases) / sizeof(namecases[0]); i++) {
		const struct namecase *c = &namecases[i];

		why = NULL;
		n = dname_from_text(c->in, strlen(c->in), wire, &why);
		if (c->want == NULL) {
			CHECK(n == 0, "\"%s\": accepted", c->in);
			CHECK_STR(why, c->why, "\"%s\": reason", c->in);
			continue;
		}
		CHECK(n > 0, "\"%s\": rejected: %s", c->in, why ? why : "");
		if (n == 0)
			continue;
		CHECK(n == dname_len(wire), "\"%s\": length %zu", c->in, n);
		CHECK(dname_to_text(wire, text, sizeof(text)) ==
		    strlen(c->want), "\"%s\": text length", c->in);
		CHECK_STR(text, c->want, "\"%s\"", c->in);
	}
	/* Only len bytes are read: the rest of the buffer is not a name. */
	n = dname_from_text("example.com garbage", 11, wire, &why);
	CHECK(n == 13, "length-bounded: %zu", n);
	n = dname_from_text("a\0b", 3, wire, &why);
	CHECK(n == 0, "embedded NUL accepted");
}

static void
test_to_text(void)
{
	static const uint8_t root[] = { 0 };
	static const uint8_t odd[] = { 4, 'a', '.', '\\', '"', 3, 0x00, ' ',
	    0xff, 1, 'Z', 0 };
	char text[DNAME_MAXTEXT];

	CHECK(dname_to_text(root, text, sizeof(text)) == 1, "root length");
	CHECK_STR(text, ".", "root");
	CHECK(dname_len(root) == 1 && dname_labels(root) == 0, "root len");
	CHECK(dname_to_text(odd, text, sizeof(text)) > 0, "odd");
	CHECK_STR(text, "a\\.\\\\\\\".\\000\\032\\255.Z", "escapes");
	CHECK(dname_labels(odd) == 3, "odd labels");
	CHECK(dname_to_text(odd, text, 5) == 0, "too small");
	CHECK(dname_to_text(odd, text, 1) == 0, "size 1");
	CHECK(dname_to_text(odd, text, 23) == 22, "exact size");
	CHECK(dname_to_text(odd, text, 22) == 0, "one short");
}

int
main(void)
{
	test_from_text();
	test_limits();
	test_to_text();
	return unit_exit();
}
