/*
 * cordon audit report LOG...: counts a period of the log into an
 * auditreport (auditreport.h) and prints it as text, and with --html
 * writes it as one HTML page too.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/auditread.h"
#include "audit/auditreport.h"
#include "tool/cmd.h"
#include "tool/cmd_audit_impl.h"

struct report {
	struct auditreport *r;
	struct auditread_rec *rec;
	size_t nbad;
};

static int
on_report_line(void *arg, const char *file, const struct auditread_line *ln)
{
	struct report *rp = arg;

	if (cmd_audit_read_rec(file, ln, rp->rec, &rp->nbad) == -1)
		return 0;
	if (auditreport_add(rp->r, rp->rec, file, ln->lineno) == -1)
		cmd_oom("building the report");
	return 0;
}

static int
write_html(const struct auditreport *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "cordon: %s: %s\n", path, strerror(errno));
		return -1;
	}
	auditreport_write_html(r, f);
	if (ferror(f) | (fclose(f) == EOF)) {
		fprintf(stderr, "cordon: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

int
cmd_audit_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "html", required_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct filter f = { .until = UINT64_MAX };
	struct report rp = { 0 };
	const char *html = NULL;
	enum format fmt = FMT_TABLE;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'h')
			html = optarg;
		else if (ch == '?' ||
		    cmd_audit_set_option(&f, ch, optarg, &fmt) == -1)
			return cmd_audit_usage();
	}
	if (optind >= argc)
		return cmd_audit_usage();
	rp.rec = malloc(sizeof(*rp.rec));
	rp.r = auditreport_new(f.since, f.until,
	    (const char *const *)argv + optind, (size_t)(argc - optind));
	if (rp.rec == NULL || rp.r == NULL) {
		fprintf(stderr, "cordon: out of memory\n");
		rc = WALK_STOPPED;
		goto done;
	}
	rc = cmd_audit_walk(argv + optind, argc - optind, on_report_line, &rp);
	if (rc != WALK_DONE)
		goto done;
	auditreport_print(rp.r, stdout);
	if (html != NULL && write_html(rp.r, html) == -1)
		rc = WALK_STOPPED;
done:
	auditreport_free(rp.r);
	free(rp.rec);
	cmd_audit_report_bad(rp.nbad);
	return rc == WALK_DONE && rp.nbad == 0 ? 0 : 1;
}

