/*
 * safetext: what a hostile log line may hold never reaches the terminal
 * or a spreadsheet as it is.
 */
#include <stdlib.h>

#include "unit.h"
#include "base/safetext.h"

/* What fn writes for s, in a static buffer. */
static const char *
out(void (*fn)(FILE *, const char *), const char *s)
{
	static char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	if (f == NULL)
		abort();
	fn(f, s);
	buf[ftell(f)] = '\0';
	fclose(f);
	return buf;
}

static void
test_terminal(void)
{
	CHECK_STR(out(safetext_put, "www.example.com"), "www.example.com",
	    "plain text as it is");
	CHECK_STR(out(safetext_put, "b\xc3\xbc\x63her.de"), "b\xc3\xbc\x63her.de",
	    "UTF-8 letters as they are");
	CHECK_STR(out(safetext_put, "a\x1b]0;owned\x07z"),
	    "a\\x1B]0;owned\\x07z", "C0 controls (a terminal title escape)");
	CHECK_STR(out(safetext_put, "x\x7fy"), "x\\x7Fy", "DEL");
	CHECK_STR(out(safetext_put, "x\xc2\x9b" "2Jy"), "x\\u{009B}2Jy",
	    "C1 CSI");
	CHECK_STR(out(safetext_put, "evil\xe2\x80\xaegpj.exe"),
	    "evil\\u{202E}gpj.exe", "right-to-left override");
	CHECK_STR(out(safetext_put, "\xe2\x81\xa6x\xe2\x81\xa9"),
	    "\\u{2066}x\\u{2069}", "isolates");
	CHECK_STR(out(safetext_put, "\xd8\x9c"), "\\u{061C}",
	    "Arabic letter mark");
	CHECK_STR(out(safetext_put, "\xff\xc0\xaf"), "\\xFF\\xC0\\xAF",
	    "broken and overlong UTF-8 byte by byte");
	CHECK_STR(out(safetext_put, "\xed\xa0\x80"), "\\xED\\xA0\\x80",
	    "an encoded surrogate");
	CHECK_STR(out(safetext_put, "a\\x41"), "a\\\\x41",
	    "a backslash is escaped, so escapes can be told apart");
	CHECK(safetext_width("a\x1b" "b") == 6, "width counts the escape");
	CHECK(safetext_width("b\xc3\xbc") == 2, "one column per code point");
}

static void
test_csv(void)
{
	CHECK_STR(out(safetext_put_csv, "binance.com"), "binance.com",
	    "plain cell");
	CHECK_STR(out(safetext_put_csv, "=cmd|' /C calc'!A0"),
	    "'=cmd|' /C calc'!A0", "formula defused");
	CHECK_STR(out(safetext_put_csv, "+1"), "'+1", "plus");
	CHECK_STR(out(safetext_put_csv, "-1+2"), "'-1+2", "minus");
	CHECK_STR(out(safetext_put_csv, "@SUM(A1)"), "'@SUM(A1)", "at");
	CHECK_STR(out(safetext_put_csv, "\tx"), "'\\x09x", "tab");
	CHECK_STR(out(safetext_put_csv, "\rx"), "'\\x0Dx", "CR");
	CHECK_STR(out(safetext_put_csv, "a,b"), "\"a,b\"", "comma quoted");
	CHECK_STR(out(safetext_put_csv, "=a,\"b\""), "\"'=a,\"\"b\"\"\"",
	    "quote doubled inside quotes, prefix inside too");
	CHECK_STR(out(safetext_put_csv, "a\nb"), "a\\x0Ab",
	    "a line break cannot start a new row");
	CHECK_STR(out(safetext_put_csv, ""), "", "empty cell");
	CHECK_STR(out(safetext_put_csv, "x\xe2\x80\xae"), "x\\u{202E}",
	    "bidi in CSV too");
}

int
main(void)
{
	test_terminal();
	test_csv();
	return unit_exit();
}
