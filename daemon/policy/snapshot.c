/*
 * snapshot: writing and mapping policy.cpol.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "base/atomicfile.h"
#include "policy/cidr.h"
#include "base/diag.h"
#include "policy/domtree.h"
#include "policy/parts.h"
#include "policy/policy.h"
#include "policy/snapshot.h"

#define MAGIC "CORDCPOL"
#define BYTE_ORDER_MARK 0x01020304U
#define MAX_SECTIONS 8

enum section_kind {
	SECTION_NONE,
	SECTION_LISTS,
	SECTION_NAMES,
	SECTION_RANGES,
};

struct section {
	uint32_t kind;
	uint32_t reserved;
	uint64_t off;
	uint64_t len;
};

struct header {
	char magic[8];
	uint32_t version;
	uint32_t byte_order;
	uint64_t file_size;
	uint8_t checksum[32];		/* SHA-256 of the file, this zeroed */
	uint8_t digest[32];		/* policy_parts_digest() of the tables */
	uint32_t nlists;
	uint32_t nsections;
	struct section sections[MAX_SECTIONS];
};

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

bool
snapshot_is_snapshot(const char *path)
{
	char magic[8];
	FILE *f = fopen(path, "rb");
	bool yes;

	if (f == NULL)
		return false;
	yes = fread(magic, 1, 8, f) == 8 && memcmp(magic, MAGIC, 8) == 0;
	fclose(f);
	return yes;
}

/* Per list: kind byte, EDE code byte, then name, category and
 * reference, each NUL-terminated. */
static size_t
lists_size(const struct policy_parts *pp)
{
	size_t i, n = 0;

	for (i = 0; i < pp->nlists; i++)
		n += 2 + strlen(pp->lists[i].name) + 1 +
		    strlen(pp->lists[i].category) + 1 +
		    strlen(pp->lists[i].reference) + 1;
	return n;
}

static uint8_t *
put_str(uint8_t *out, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(out, s, n);
	return out + n;
}

static void
lists_write(const struct policy_parts *pp, uint8_t *out)
{
	size_t i;

	for (i = 0; i < pp->nlists; i++) {
		*out++ = (uint8_t)pp->lists[i].kind;
		*out++ = (uint8_t)pp->lists[i].ede;
		out = put_str(out, pp->lists[i].name);
		out = put_str(out, pp->lists[i].category);
		out = put_str(out, pp->lists[i].reference);
	}
}

static uint8_t *
build_image(const struct policy *p, size_t *lenp)
{
	struct policy_parts pp;
	struct header h;
	size_t lists_len, names_len, ranges_len, off, total;
	uint8_t *img;

	policy_get_parts(p, &pp);
	lists_len = lists_size(&pp);
	names_len = domtree_blob_size(pp.names);
	ranges_len = cidr_blob_size(pp.ranges);
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, MAGIC, 8);
	h.version = SNAPSHOT_VERSION;
	h.byte_order = BYTE_ORDER_MARK;
	memcpy(h.digest, pp.digest, sizeof(h.digest));
	h.nlists = (uint32_t)pp.nlists;
	h.nsections = 3;
	off = align8(sizeof(h));
	h.sections[0] = (struct section){ SECTION_LISTS, 0, off, lists_len };
	off = align8(off + lists_len);
	h.sections[1] = (struct section){ SECTION_NAMES, 0, off, names_len };
	off = align8(off + names_len);
	h.sections[2] = (struct section){ SECTION_RANGES, 0, off, ranges_len };
	total = align8(off + ranges_len);
	h.file_size = total;
	if ((img = calloc(1, total)) == NULL)
		return NULL;
	lists_write(&pp, img + h.sections[0].off);
	domtree_blob_write(pp.names, img + h.sections[1].off);
	cidr_blob_write(pp.ranges, img + h.sections[2].off);
	/* The checksum covers the whole file, header included (with the
	 * checksum field zero), so not even the id can be altered. */
	memcpy(img, &h, sizeof(h));
	SHA256(img, total, h.checksum);
	memcpy(img, &h, sizeof(h));
	*lenp = total;
	return img;
}

int
snapshot_write(const struct policy *p, const char *path, struct diag *d)
{
	size_t len = 0;
	uint8_t *img = build_image(p, &len);
	int rc;

	if (img == NULL) {
		diag_add(d, path, 0, "out of memory");
		return -1;
	}
	rc = atomicfile_write(path, img, len, d);
	free(img);
	return rc;
}

static const char *
check_header(const struct header *h, size_t size)
{
	uint32_t i;

	if (memcmp(h->magic, MAGIC, 8) != 0)
		return "not a cordon snapshot";
	if (h->byte_order != BYTE_ORDER_MARK)
		return "written on a host of another byte order";
	if (h->version != SNAPSHOT_VERSION)
		return "snapshot version not supported (rebuild it with this "
		    "version of cordon compile)";
	if (h->file_size != size)
		return size < h->file_size ? "truncated" :
		    "longer than its header says";
	if (h->nsections > MAX_SECTIONS)
		return "corrupt header";
	for (i = 0; i < h->nsections; i++) {
		const struct section *s = &h->sections[i];

		if (s->off % 8 != 0 || s->off < sizeof(*h) || s->off > size ||
		    s->len > size - s->off)
			return "corrupt section table";
	}
	return NULL;
}

/* SHA-256 of the file with the header's checksum field zeroed. */
static bool
checksum_ok(void *map, size_t len, const struct header *h, uint8_t *sum)
{
	struct header zeroed = *h;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok;

	memset(zeroed.checksum, 0, sizeof(zeroed.checksum));
	ok = ctx != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, &zeroed, sizeof(zeroed)) == 1 &&
	    EVP_DigestUpdate(ctx, (const uint8_t *)map + sizeof(zeroed),
	    len - sizeof(zeroed)) == 1 &&
	    EVP_DigestFinal_ex(ctx, sum, NULL) == 1 &&
	    memcmp(sum, h->checksum, SHA256_DIGEST_LENGTH) == 0;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static const struct section *
find_section(const struct header *h, uint32_t kind)
{
	uint32_t i;

	for (i = 0; i < h->nsections; i++)
		if (h->sections[i].kind == kind)
			return &h->sections[i];
	return NULL;
}

/* Points *s at the NUL-terminated string at p; returns what follows it,
 * or NULL when no NUL comes before end. */
static const uint8_t *
get_str(const uint8_t *p, const uint8_t *end, const char **s)
{
	const uint8_t *nul = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;

	if (nul == NULL)
		return NULL;
	*s = (const char *)p;
	return nul + 1;
}

/* Points each list's strings into the map, checking every bound. */
static const char *
read_lists(const uint8_t *base, const struct section *s, uint32_t n,
    struct policy_parts *pp)
{
	const uint8_t *p = base + s->off, *end = p + s->len;
	uint32_t i;

	if (n > 32767)
		return "corrupt list table";
	if ((pp->lists = calloc(n ? n : 1, sizeof(*pp->lists))) == NULL)
		return "out of memory while loading the list table";
	pp->nlists = n;
	for (i = 0; i < n; i++) {
		if (end - p < 2 || p[0] > KIND_ALLOW || p[1] < 15 || p[1] > 18)
			return "corrupt list table";
		pp->lists[i].kind = (enum list_kind)*p++;
		pp->lists[i].ede = *p++;
		if ((p = get_str(p, end, &pp->lists[i].name)) == NULL ||
		    (p = get_str(p, end, &pp->lists[i].category)) == NULL ||
		    (p = get_str(p, end, &pp->lists[i].reference)) == NULL)
			return "corrupt list table";
	}
	return NULL;
}

/*
 * Reads the file into anonymous memory rather than mapping it: a file
 * mapping dies with SIGBUS when someone truncates or rewrites the file in
 * place (cp over it), and a snapshot must survive an admin's mistake.
 * The tables are still used as they are read, without parsing.
 */
static const char *
map_file(const char *path, struct policy_parts *pp)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *map;
	size_t got = 0;

	if (fd == -1 || fstat(fd, &st) == -1) {
		if (fd != -1)
			close(fd);
		return strerror(errno);
	}
	if ((size_t)st.st_size < sizeof(struct header)) {
		close(fd);
		return "truncated";
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return strerror(errno);
	}
	/* Huge pages where the kernel has them: a million names fault in
	 * as a few dozen pages instead of nine thousand. */
	(void)madvise(map, (size_t)st.st_size, MADV_HUGEPAGE);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, map + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		munmap(map, (size_t)st.st_size);
		return "changed while it was read";
	}
	pp->map = map;
	pp->map_len = got;
	(void)mprotect(map, (size_t)st.st_size, PROT_READ);
	return NULL;
}

struct policy *
snapshot_load(const char *path, const struct policy_answer *pa,
    struct diag *d)
{
	struct policy_parts pp = { 0 };
	const struct section *lists, *names, *ranges;
	uint8_t sum[SHA256_DIGEST_LENGTH];
	struct header h;
	struct policy *p;
	const char *why;

	if ((why = map_file(path, &pp)) != NULL)
		goto fail;
	memcpy(&h, pp.map, sizeof(h));
	if ((why = check_header(&h, pp.map_len)) != NULL)
		goto fail;
	if (!checksum_ok(pp.map, pp.map_len, &h, sum)) {
		why = "corrupt: checksum mismatch";
		goto fail;
	}
	lists = find_section(&h, SECTION_LISTS);
	names = find_section(&h, SECTION_NAMES);
	ranges = find_section(&h, SECTION_RANGES);
	if (lists == NULL || names == NULL || ranges == NULL) {
		why = "a section is missing";
		goto fail;
	}
	if ((why = read_lists(pp.map, lists, h.nlists, &pp)) != NULL)
		goto fail;
	pp.names = domtree_view((const uint8_t *)pp.map + names->off,
	    names->len, &why);
	if (pp.names == NULL)
		goto fail;
	pp.ranges = cidr_view((const uint8_t *)pp.map + ranges->off,
	    ranges->len, &why);
	if (pp.ranges == NULL)
		goto fail;
	if (policy_parts_check(&pp, &why) == -1)
		goto fail;
	/* The id is computed from the tables, never taken from the header:
	 * a file whose checksum was recomputed over other tables must not
	 * pass for the policy it names. */
	if (policy_parts_digest(&pp, pp.digest) == -1) {
		why = "out of memory while checking the policy digest";
		goto fail;
	}
	if (memcmp(pp.digest, h.digest, sizeof(h.digest)) != 0) {
		why = "the tables do not match the policy digest in the "
		    "header (forged or corrupt)";
		goto fail;
	}
	pp.has_digest = true;
	if ((p = policy_from_parts(&pp, pa)) == NULL)
		diag_add(d, path, 0, "out of memory while loading the "
		    "snapshot");
	return p;
fail:
	diag_add(d, path, 0, "%s", why);
	free(pp.lists);
	domtree_free(pp.names);
	cidr_free(pp.ranges);
	if (pp.map != NULL)
		munmap(pp.map, pp.map_len);
	return NULL;
}
