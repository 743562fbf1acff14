/*
 * unit: the few macros every unit test uses.  A failed CHECK prints the
 * case and file:line and the test goes on; main returns unit_exit().
 * Exit codes follow Automake's harness: 0 pass, 1 fail, 77 skip.
 */
#ifndef CORDON_UNIT_H
#define CORDON_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond, ...) do {						\
	unit_checks++;							\
	if (!(cond)) {							\
		unit_failures++;					\
		fprintf(stderr, "%s:%d: CHECK(%s) failed: ",		\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

#define CHECK_STR(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	unit_checks++;							\
	if (g_ == NULL || strcmp(g_, w_) != 0) {			\
		unit_failures++;					\
		fprintf(stderr, "%s:%d: got \"%s\", want \"%s\": ",	\
		    __FILE__, __LINE__, g_ ? g_ : "(null)", w_);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

static inline int
unit_cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the lines of text in place (at most 256), so a walk in no
 * particular order can be compared with an expected text. */
static inline void
unit_sort_lines(char *text)
{
	char *lines[256], *copy = strdup(text), *s, *save = NULL;
	size_t n = 0, off = 0, i;

	if (copy == NULL)
		abort();
	for (s = strtok_r(copy, "\n", &save); s != NULL && n < 256;
	    s = strtok_r(NULL, "\n", &save))
		lines[n++] = s;
	qsort(lines, n, sizeof(lines[0]), unit_cmp_line);
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(text + off, "%s\n", lines[i]);
	free(copy);
}

/* Removes the named files of a test's temporary dir, then the dir. */
static inline void
unit_rm_dir(const char *dir, const char *const *names, size_t n)
{
	char path[512];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		remove(path);
	}
	remove(dir);
}

static inline int
unit_exit(void)
{
	printf("%d checks, %d failed\n", unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

#endif
