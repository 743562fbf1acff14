/*
 * parts: the tables of a policy, seen only by policy.c (the object),
 * policy_build.c, which builds them from sources, policy_id.c, which
 * digests them, and snapshot.c, which writes them to a file and makes a
 * policy of a mapped file.  Not a contract for anyone else: the
 * include check (tests/layers/check) keeps it private.
 */
#ifndef CORDON_PARTS_H
#define CORDON_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

/* strings/map are what the policy must free or unmap when it goes
 * (NULL/0 when nothing). */
struct policy_parts {
	struct domtree *names;		/* values: list index << 1 | allow */
	struct cidr *ranges;		/* frozen; the same values */
	struct policy_list *lists;
	size_t nlists;
	char **strings;
	size_t nstrings;
	void *map;
	size_t map_len;
	uint8_t digest[POLICY_DIGEST_LEN];	/* policy_parts_digest() */
	bool has_digest;		/* false: policy_from_parts() computes */
};

/*
 * SHA-256 of everything in parts that decides answers: every entry (name
 * or range, block or allow) with its list's name, and every list's kind,
 * category, reference and EDE code, in a canonical order (not the order
 * names were added).  Returns 0, or -1 when out of memory.
 */
int policy_parts_digest(const struct policy_parts *parts,
    uint8_t out[POLICY_DIGEST_LEN]);

/* Checks that every entry of parts names a list it has (a snapshot's
 * tables come from a file).  Returns 0, or -1 with *why set. */
int policy_parts_check(const struct policy_parts *parts, const char **why);

/* Takes ownership of everything in parts; NULL when out of memory (the
 * parts are freed either way). */
struct policy *policy_from_parts(struct policy_parts *parts,
    const struct policy_answer *pa);
/* Borrowed view of p's parts. */
void policy_get_parts(const struct policy *p, struct policy_parts *parts);

#endif
