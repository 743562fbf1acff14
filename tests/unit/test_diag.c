/*
 * test_diag: the message collector (format, cap, print) and the line
 * reader (end-of-line styles, BOM, long lines, files and memory).
 */
#include <stdlib.h>
#include <unistd.h>

#include "base/diag.h"
#include "unit.h"

static void
test_messages(void)
{
	struct diag *d = diag_new();
	char *out = NULL;
	size_t outlen = 0, i;
	FILE *fp;

	CHECK(d != NULL, "diag_new");
	diag_add(d, "a.conf", 14, "bad %s", "thing");
	diag_add(d, "b.list", 0, "%s", "No such file or directory");
	CHECK(diag_count(d) == 2, "count %zu", diag_count(d));
	CHECK_STR(diag_get(d, 0), "a.conf:14: bad thing", "with line");
	CHECK_STR(diag_get(d, 1), "b.list: No such file or directory",
	    "line 0");
	CHECK(diag_get(d, 2) == NULL, "past end");

	fp = open_memstream(&out, &outlen);
	diag_print(d, fp);
	fclose(fp);
	CHECK_STR(out, "cordon: a.conf:14: bad thing\n"
	    "cordon: b.list: No such file or directory\n", "print");
	free(out);

	diag_clear(d);
	CHECK(diag_count(d) == 0, "cleared");
	CHECK(diag_get(d, 0) == NULL, "cleared get");

	for (i = 0; i < DIAG_KEEP + 5; i++)
		diag_add(d, "f", i + 1, "m%zu", i);
	CHECK(diag_count(d) == DIAG_KEEP + 5, "count over cap");
	CHECK_STR(diag_get(d, DIAG_KEEP - 1), "f:1000: m999", "last kept");
	CHECK(diag_get(d, DIAG_KEEP) == NULL, "not stored");
	out = NULL;
	fp = open_memstream(&out, &outlen);
	diag_print(d, fp);
	fclose(fp);
	CHECK(strstr(out, "cordon: f:1000: m999\ncordon: 5 more\n") != NULL &&
	    strcmp(out + outlen - 15, "cordon: 5 more\n") == 0,
	    "summary line");
	free(out);
	diag_free(d);
	diag_free(NULL);
}

struct readcase {
	const char *name;
	const char *in;
	size_t inlen;
	const char *want[6];	/* lines, NULL-terminated */
};

#define S(s) s, sizeof(s) - 1

static const struct readcase readcases[] = {
	{ "empty", S(""), { NULL } },
	{ "one, no newline", S("abc"), { "abc", NULL } },
	{ "one newline", S("abc\n"), { "abc", NULL } },
	{ "blank lines", S("\n\n"), { "", "", NULL } },
	{ "crlf", S("a\r\nb\r\n"), { "a", "b", NULL } },
	{ "mixed eol", S("a\r\nb\nc"), { "a", "b", "c", NULL } },
	{ "lone cr kept", S("a\rb\n"), { "a\rb", NULL } },
	{ "bom", S("\xef\xbb\xbfx\ny\n"), { "x", "y", NULL } },
	{ "bom only on line 1", S("x\n\xef\xbb\xbfy\n"),
	    { "x", "\xef\xbb\xbfy", NULL } },
	{ "crlf no final", S("a\r\nb\r"), { "a", "b", NULL } },
};

static void
check_reader(const struct readcase *c, struct linereader *r)
{
	size_t i, len;
	char *line;

	for (i = 0; c->want[i] != NULL; i++) {
		line = linereader_next(r, &len);
		CHECK(line != NULL, "%s: line %zu missing", c->name, i + 1);
		if (line == NULL)
			return;
		CHECK_STR(line, c->want[i], "%s: line %zu", c->name, i + 1);
		CHECK(len == strlen(c->want[i]), "%s: len %zu", c->name, len);
		CHECK(linereader_lineno(r) == i + 1, "%s: lineno %zu", c->name,
		    linereader_lineno(r));
	}
	CHECK(linereader_next(r, &len) == NULL, "%s: extra line", c->name);
	CHECK(!linereader_error(r), "%s: error", c->name);
}

static void
test_reader(const char *dir)
{
	char path[512];
	struct linereader *r;
	struct diag *d = diag_new();
	size_t i;
	FILE *fp;

	for (i = 0; i < sizeof(readcases) / sizeof(readcases[0]); i++) {
		const struct readcase *c = &readcases[i];

		r = linereader_mem("mem", c->in, c->inlen);
		CHECK_STR(linereader_name(r), "mem", "%s: name", c->name);
		check_reader(c, r);
		linereader_close(r);

		snprintf(path, sizeof(path), "%s/case%zu", dir, i);
		fp = fopen(path, "w");
		fwrite(c->in, 1, c->inlen, fp);
		fclose(fp);
		r = linereader_open(path, d);
		CHECK(r != NULL, "%s: open", c->name);
		if (r != NULL)
			check_reader(c, r);
		linereader_close(r);
		unlink(path);
	}
	CHECK(diag_count(d) == 0, "no messages");

	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK(linereader_open(path, d) == NULL, "missing file");
	CHECK(diag_count(d) == 1, "missing reported");
	CHECK(strstr(diag_get(d, 0), ": No such file or directory") != NULL &&
	    strncmp(diag_get(d, 0), path, strlen(path)) == 0,
	    "got %s", diag_get(d, 0));
	linereader_close(NULL);
	diag_free(d);
}

static void
test_long_line(void)
{
	size_t n = 100000, len;
	char *buf = malloc(n + 3), *line;
	struct linereader *r;

	memset(buf, 'x', n);
	memcpy(buf + n, "\ny", 3);
	r = linereader_mem("long", buf, n + 2);
	line = linereader_next(r, &len);
	CHECK(line != NULL && len == n && line[n] == '\0', "long line");
	line = linereader_next(r, &len);
	CHECK(line != NULL && strcmp(line, "y") == 0, "after long line");
	CHECK(linereader_lineno(r) == 2, "lineno");
	linereader_close(r);
	free(buf);
}

int
main(void)
{
	char dir[] = "/tmp/test_diag.XXXXXX";

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	test_messages();
	test_reader(dir);
	test_long_line();
	rmdir(dir);
	return unit_exit();
}
