/*
 * cidr_blob: a frozen matcher's serialised form, for compiled snapshots:
 * a header of counts, then its six arrays as they are in memory, each
 * padded to 8 bytes.  cidr_view() reads one back in place, after checking
 * every index and the order of the intervals.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "policy/cidr_impl.h"

#define BLOB_MAGIC 0x52444943U	/* "CIDR" */

struct blob_head {
	uint32_t magic;
	uint32_t reserved;
	uint64_t n4, nint4, n6, nint6;
};

static size_t
pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Byte sizes of the six arrays, in blob order. */
static void
blob_parts(uint64_t n4, uint64_t nint4, uint64_t n6, uint64_t nint6,
    size_t sz[6])
{
	sz[0] = pad8(n4 * sizeof(struct cidr_entry4));
	sz[1] = pad8(nint4 * sizeof(uint32_t));
	sz[2] = pad8(nint4 * sizeof(uint32_t));
	sz[3] = pad8(n6 * sizeof(struct cidr_entry6));
	sz[4] = pad8(nint6 * sizeof(struct rangesweep_key));
	sz[5] = pad8(nint6 * sizeof(uint32_t));
}

size_t
cidr_blob_size(const struct cidr *c)
{
	size_t sz[6], n = sizeof(struct blob_head), i;

	blob_parts(c->n4, c->nint4, c->n6, c->nint6, sz);
	for (i = 0; i < 6; i++)
		n += sz[i];
	return n;
}

void
cidr_blob_write(const struct cidr *c, uint8_t *buf)
{
	struct blob_head h = { BLOB_MAGIC, 0, c->n4, c->nint4, c->n6,
	    c->nint6 };
	const void *src[6] = { c->e4, c->start4, c->owner4, c->e6, c->start6,
	    c->owner6 };
	size_t raw[6] = { c->n4 * sizeof(struct cidr_entry4),
	    c->nint4 * sizeof(uint32_t), c->nint4 * sizeof(uint32_t),
	    c->n6 * sizeof(struct cidr_entry6),
	    c->nint6 * sizeof(struct rangesweep_key),
	    c->nint6 * sizeof(uint32_t) };
	size_t sz[6], off = sizeof(h), i;

	memset(buf, 0, cidr_blob_size(c));
	memcpy(buf, &h, sizeof(h));
	blob_parts(c->n4, c->nint4, c->n6, c->nint6, sz);
	for (i = 0; i < 6; i++) {
		if (raw[i] > 0)
			memcpy(buf + off, src[i], raw[i]);
		off += sz[i];
	}
}

static bool
sound4(const struct cidr *c)
{
	size_t i;

	for (i = 0; i < c->n4; i++)
		if (c->e4[i].lo > c->e4[i].hi)
			return false;
	for (i = 0; i < c->nint4; i++) {
		if (c->owner4[i] != CIDR_NONE && c->owner4[i] >= c->n4)
			return false;
		if (i > 0 && c->start4[i] <= c->start4[i - 1])
			return false;
	}
	return true;
}

static bool
sound6(const struct cidr *c)
{
	size_t i;

	for (i = 0; i < c->n6; i++)
		if (rangesweep_key_cmp(&c->e6[i].lo, &c->e6[i].hi) > 0)
			return false;
	for (i = 0; i < c->nint6; i++) {
		if (c->owner6[i] != CIDR_NONE && c->owner6[i] >= c->n6)
			return false;
		if (i > 0 && rangesweep_key_cmp(&c->start6[i],
		    &c->start6[i - 1]) <= 0)
			return false;
	}
	return true;
}

struct cidr *
cidr_view(const uint8_t *blob, size_t len, const char **why)
{
	struct blob_head h;
	struct cidr *c;
	size_t sz[6], off = sizeof(h), total = sizeof(h), i;
	const uint8_t *part[6];

	*why = "range table truncated";
	if (len < sizeof(h))
		return NULL;
	memcpy(&h, blob, sizeof(h));
	if (h.magic != BLOB_MAGIC) {
		*why = "range table has a bad magic number";
		return NULL;
	}
	if (h.n4 > len || h.nint4 > len || h.n6 > len || h.nint6 > len)
		return NULL;
	blob_parts(h.n4, h.nint4, h.n6, h.nint6, sz);
	for (i = 0; i < 6; i++) {
		part[i] = blob + off;
		off += sz[i];
		total += sz[i];
	}
	if (total > len)
		return NULL;
	if (((uintptr_t)blob & 7) != 0) {
		*why = "range table is not aligned";
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		*why = "out of memory while loading the range table";
		return NULL;
	}
	c->is_frozen = c->is_view = true;
	c->e4 = (struct cidr_entry4 *)(uintptr_t)part[0];
	c->start4 = (uint32_t *)(uintptr_t)part[1];
	c->owner4 = (uint32_t *)(uintptr_t)part[2];
	c->e6 = (struct cidr_entry6 *)(uintptr_t)part[3];
	c->start6 = (struct rangesweep_key *)(uintptr_t)part[4];
	c->owner6 = (uint32_t *)(uintptr_t)part[5];
	c->n4 = h.n4;
	c->nint4 = h.nint4;
	c->n6 = h.n6;
	c->nint6 = h.nint6;
	if (!sound4(c) || !sound6(c)) {
		*why = "range table is corrupt";
		free(c);
		return NULL;
	}
	return c;
}
