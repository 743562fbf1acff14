/*
 * auditreport_impl: what the files of auditreport share; seen only by
 * audit/auditreport*.c.  auditreport.c counts a period into string
 * tallies, auditreport_rank.c ranks them into the sections both outputs
 * show and words the heading's totals, auditreport_text.c and
 * auditreport_html.c render them.
 */
#ifndef CORDON_AUDITREPORT_IMPL_H
#define CORDON_AUDITREPORT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"

#define TS_LEN 32

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct entry {
	const char *key;	/* NULL: the slot is free */
	uint64_t count;
	uint64_t hash;
	uint32_t len;
};

struct tally {
	struct hash_key key;	/* the log is untrusted input: keyed */
	struct entry *slots;
	size_t nslots, nused;	/* nslots is a power of two */
};

struct change {
	char ts[TS_LEN];
	const char *policy, *previous, *by;
	int64_t entries, lists;
};

struct gap {
	char ts[TS_LEN];
	uint64_t lost;
	const char *file;
	size_t line;
};

enum {
	T_DAYS, T_NAMES, T_CLIENTS, T_LISTS, T_TRIGGERS, T_ACTIONS,
	T_CLIENT_CC, T_ANSWER_CC, T_POLICIES, NTALLIES
};

struct auditreport {
	uint64_t since, until;
	const char *const *files;
	size_t nfiles;
	struct chunk *arena;
	struct tally tally[NTALLIES];
	uint64_t nblocked, nevents, first_seq, last_seq, lost;
	char first_ts[TS_LEN], last_ts[TS_LEN];
	const char *start_policy;	/* in force when the period began */
	struct change *changes;
	size_t nchanges, capchanges;
	struct gap *gaps;
	size_t ngaps, capgaps;
};

/* One section: a tally ranked for display. */
struct ranking {
	const char *title;
	const struct entry **rows;
	size_t n;
	uint64_t rest;		/* counted under keys not shown */
	bool is_timeline;	/* days, in date order */
};

#define NSECTIONS 8	/* sections shown, at most: auditreport_rank.c */

/* Ranks tally t: its top limit keys by count (0: every key, by key when
 * is_by_key).  Returns 0, or -1 when out of memory; free rk->rows. */
int auditreport_rank(const struct tally *t, size_t limit, bool is_by_key,
    struct ranking *rk);

/* Ranks every section; returns how many, or -1 when out of memory. */
int auditreport_rank_all(const struct auditreport *r,
    struct ranking rk[NSECTIONS]);

/* Frees the rows of the n rankings (n -1: none). */
void auditreport_free_ranks(struct ranking *rk, int n);

/* The summary lines of the heading, worded once for text and HTML. */
struct totals {
	char blocked[128], events[128];
};

void auditreport_format_totals(const struct auditreport *r,
    struct totals *t);

static inline double
percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static inline const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

#endif
