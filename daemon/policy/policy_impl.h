/*
 * policy_impl: what the files of the policy object share; seen only by
 * policy/.  policy.c is the object and its verdicts, policy_build.c
 * builds its parts from a manifest's sources, policy_id.c digests them
 * and names the policy.  The contract is policy.h (and, for snapshot.c,
 * policy/parts.h).
 */
#ifndef CORDON_POLICY_IMPL_H
#define CORDON_POLICY_IMPL_H

#include <stdint.h>

#include "policy/policy.h"

struct policy_parts;

/* An entry's value (in the domtree and the cidr) packs the index of
 * its list and its kind. */
#define VALUE(list, kind) ((uint32_t)(list) << 1 | ((kind) == KIND_ALLOW))
#define VALUE_LIST(v) ((v) >> 1)
#define VALUE_ALLOWS(v) (((v) & 1) != 0)

/* Frees what parts own (strings, lists, tables, the mapping) and zeroes
 * them. */
void policy_parts_clear(struct policy_parts *parts);

/* Writes the policy id (policy_id()) of the parts' digest and the answer
 * settings pa (countries and ASNs sorted) to id. */
void policy_make_id(const uint8_t parts_digest[POLICY_DIGEST_LEN],
    const struct policy_answer *pa, char id[POLICY_ID_LEN + 1]);

#endif
