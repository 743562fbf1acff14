/*
 * cidr_impl.h: the frozen matcher's tables, shared by cidr.c (building
 * and lookups) and cidr_blob.c (the serialised form, which is these
 * arrays as they are in memory).  Private to policy/.
 */
#ifndef CORDON_CIDR_IMPL_H
#define CORDON_CIDR_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rangesweep.h"

#define CIDR_NONE RANGESWEEP_NONE	/* an interval no entry covers */
#define CIDR_V4 0
#define CIDR_V6 1

struct cidr_entry4 {
	uint32_t lo, hi, value;
};

/* An IPv6 address is a 128-bit key. */
struct cidr_entry6 {
	struct rangesweep_key lo, hi;
	uint32_t value;
};

struct cidr_pending;

struct cidr {
	struct cidr_pending *pend[2];	/* by CIDR_V4, CIDR_V6 */
	size_t npend[2], cappend[2];
	uint32_t seq;
	bool is_frozen;
	bool is_view;		/* frozen arrays borrowed from a blob */
	/* Frozen IPv4: entries by (lo, hi); intervals by start. */
	struct cidr_entry4 *e4;
	size_t n4;
	uint32_t *start4, *owner4;
	size_t nint4;
	/* Frozen IPv6, the same. */
	struct cidr_entry6 *e6;
	size_t n6;
	struct rangesweep_key *start6;
	uint32_t *owner6;
	size_t nint6;
};

#endif
