/*
 * cmd_audit_impl: what the files of `cordon audit` share; seen only by
 * tool/cmd_audit*.c.  cmd_audit.c dispatches to one file a subcommand
 * (cmd_audit_verify.c, cmd_audit_search.c, cmd_audit_report.c, and
 * cmd_audit_tlog.c for keygen, checkpoint and prove) and holds what
 * they have in common: the usage, the walk over every line of the files
 * given, and the period and filters of search and report.
 */
#ifndef CORDON_CMD_AUDIT_IMPL_H
#define CORDON_CMD_AUDIT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/netaddr.h"

struct auditread_line;
struct auditread_rec;

/* Prints the usage of `cordon audit` to stderr; returns 2. */
int cmd_audit_usage(void);

/*
 * Reading every line of every file.  cmd_audit_walk() calls on_line for
 * each line in order and stops when it returns -1; an unreadable file
 * is reported there ("cordon: FILE: why"), as the caller knows nothing
 * more about it.  Returns a WALK_* value.
 */
typedef int (*cmd_audit_line_fn)(void *arg, const char *file,
    const struct auditread_line *ln);

enum { WALK_DONE, WALK_STOPPED, WALK_UNREADABLE };

int cmd_audit_walk(char **files, int nfiles, cmd_audit_line_fn on_line,
    void *arg);

/*
 * Parses a line for search and report; a line that is not an audit line
 * is reported (the first few of them) and counted in *nbad.  Returns 0,
 * or -1 for such a line.
 */
int cmd_audit_read_rec(const char *file, const struct auditread_line *ln,
    struct auditread_rec *rec, size_t *nbad);

/* After the first few, bad lines are only counted: says how many. */
void cmd_audit_report_bad(size_t nbad);

/*
 * search and report share the period and the filters.
 */
enum format { FMT_TABLE, FMT_JSON, FMT_CSV };

struct filter {
	uint64_t since, until;		/* inclusive, ms */
	bool has_client;
	struct prefix client;
	char domain[256];		/* lower case, no final dot */
	size_t domain_len;
	const char *list, *trigger, *country;
};

/*
 * One option of search or report (getopt_long's ch and optarg: 's'
 * since, 'u' until, 'c' client, 'd' domain, 'l' list, 't' trigger, 'C'
 * country, 'f' format); returns 0, or -1 after a message.
 */
int cmd_audit_set_option(struct filter *f, int ch, const char *arg,
    enum format *fmt);

/* Whether a blocked attempt falls in the period and passes the filters;
 * event lines never do. */
bool cmd_audit_matches(const struct filter *f,
    const struct auditread_rec *rec);

/* The subcommands: argv[0] is the subcommand's name; each returns the
 * exit code (cmd.h). */
int cmd_audit_verify(int argc, char **argv);
int cmd_audit_search(int argc, char **argv);
int cmd_audit_report(int argc, char **argv);
int cmd_audit_keygen(int argc, char **argv);
int cmd_audit_checkpoint(int argc, char **argv);
int cmd_audit_prove(int argc, char **argv);

/*
 * The checkpoint part of verify (cmd_audit_tlog.c): checks the log
 * files against the verifier key (text or a file holding it) and every
 * checkpoint in cpfiles: each signature, that the log holds at least
 * each checkpoint's size, that the tree of its first lines has the
 * checkpoint's root, and (unless partial) that it starts at seq 1.
 * Prints what is wrong; returns 0 or 1.
 */
int cmd_audit_tlog_verify(char **files, int nfiles, const char *key,
    char **cpfiles, int ncpfiles, bool partial);

#endif
