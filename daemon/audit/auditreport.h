/*
 * auditreport: the summary `cordon audit report` prints for a period of
 * the audit log: blocked attempts per day, the top names and clients,
 * counts by list, trigger and country, the policies in force and when
 * they changed, and gaps.  Records in (auditread.h), text or a
 * self-contained HTML page out.  It reads no files and checks no chain.
 */
#ifndef CORDON_AUDITREPORT_H
#define CORDON_AUDITREPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct auditreport;
struct auditread_rec;

/*
 * Returns a new, empty report for [since, until] (ms since the epoch,
 * both inclusive; 0 and UINT64_MAX for no bound), or NULL when out of
 * memory.  files names the logs for the heading; borrowed, and must
 * outlive the report.  Free with auditreport_free().
 */
struct auditreport *auditreport_new(uint64_t since, uint64_t until,
    const char *const *files, size_t nfiles);

/*
 * Counts one record, given in log order.  Lines outside the period are
 * only used to tell which policy was in force when it began.  file is
 * borrowed like files above.  Returns 0, or -1 when out of memory.
 */
int auditreport_add(struct auditreport *r, const struct auditread_rec *rec,
    const char *file, size_t line);

/* Writes the report as text.  Control bytes in names print as '?'. */
void auditreport_print(const struct auditreport *r, FILE *out);

/* Writes the report as one HTML page: inline CSS and inline SVG charts,
 * no scripts and nothing loaded from elsewhere.  Every string from the
 * log is escaped. */
void auditreport_write_html(const struct auditreport *r, FILE *out);

/* NULL is a no-op. */
void auditreport_free(struct auditreport *r);

#endif
