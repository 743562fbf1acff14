/*
 * merkle: RFC 9162 2.1 with OpenSSL's SHA-256.  The proofs follow the
 * RFC's recursive definitions (PATH and SUBPROOF) over a leaf-hash
 * array, the verifiers its iterative algorithms (2.1.3.2, 2.1.4.2).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "audit/merkle.h"

void
merkle_leaf_hash(const void *data, size_t len, merkle_hash out)
{
	static const uint8_t zero = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &zero, 1) != 1 ||
	    EVP_DigestUpdate(c, data, len) != 1 ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		memset(out, 0, MERKLE_HASH);	/* never matches a root */
	EVP_MD_CTX_free(c);
}

void
merkle_node_hash(const merkle_hash left, const merkle_hash right,
    merkle_hash out)
{
	uint8_t buf[1 + 2 * MERKLE_HASH];

	buf[0] = 1;
	memcpy(buf + 1, left, MERKLE_HASH);
	memcpy(buf + 1 + MERKLE_HASH, right, MERKLE_HASH);
	SHA256(buf, sizeof(buf), out);
}

struct merkle_hasher {
	EVP_MD_CTX *ctx;
	EVP_MD *md;
};

struct merkle_hasher *
merkle_hasher_new(void)
{
	struct merkle_hasher *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (h->ctx == NULL || h->md == NULL) {
		merkle_hasher_free(h);
		return NULL;
	}
	return h;
}

void
merkle_hasher_free(struct merkle_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

static void
hash2(struct merkle_hasher *h, uint8_t prefix, const void *a, size_t alen,
    const void *b, size_t blen, merkle_hash out)
{
	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, &prefix, 1) != 1 ||
	    EVP_DigestUpdate(h->ctx, a, alen) != 1 ||
	    (blen > 0 && EVP_DigestUpdate(h->ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(h->ctx, out, NULL) != 1)
		memset(out, 0, MERKLE_HASH);	/* never matches a root */
}

void
merkle_hasher_leaf(struct merkle_hasher *h, const void *data, size_t len,
    merkle_hash out)
{
	hash2(h, 0, data, len, NULL, 0, out);
}

void
merkle_append_h(struct merkle_tree *t, struct merkle_hasher *hs,
    const merkle_hash leaf)
{
	merkle_hash h;
	uint64_t s;

	memcpy(h, leaf, MERKLE_HASH);
	for (s = t->size; s & 1; s >>= 1) {
		t->depth--;
		hash2(hs, 1, t->stack[t->depth], MERKLE_HASH, h, MERKLE_HASH,
		    h);
	}
	memcpy(t->stack[t->depth++], h, MERKLE_HASH);
	t->size++;
}

void
merkle_init(struct merkle_tree *t)
{
	memset(t, 0, sizeof(*t));
}

/* The stack holds the perfect subtrees left to right, largest first; a
 * new leaf merges with the top while their sizes are equal (the low set
 * bits of size). */
void
merkle_append(struct merkle_tree *t, const merkle_hash leaf)
{
	merkle_hash h;
	uint64_t s;

	memcpy(h, leaf, MERKLE_HASH);
	for (s = t->size; s & 1; s >>= 1)
		merkle_node_hash(t->stack[--t->depth], h, h);
	memcpy(t->stack[t->depth++], h, MERKLE_HASH);
	t->size++;
}

void
merkle_root(const struct merkle_tree *t, merkle_hash out)
{
	merkle_hash h;
	unsigned i;

	if (t->depth == 0) {
		SHA256((const uint8_t *)"", 0, out);
		return;
	}
	/* right to left: the smaller subtrees hang on the right */
	memcpy(h, t->stack[t->depth - 1], MERKLE_HASH);
	for (i = t->depth - 1; i > 0; i--)
		merkle_node_hash(t->stack[i - 1], h, h);
	memcpy(out, h, MERKLE_HASH);
}

/* The largest power of two smaller than n (n > 1). */
static uint64_t
split(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

/* The tree hash of leaves[0..n), n > 0, node hashes with hs (or the
 * one-shot function when there is none). */
static void
root_of(struct merkle_hasher *hs, const merkle_hash *leaves, uint64_t n,
    merkle_hash out)
{
	merkle_hash l, r;
	uint64_t k;

	if (n == 1) {
		memcpy(out, leaves[0], MERKLE_HASH);
		return;
	}
	k = split(n);
	root_of(hs, leaves, k, l);
	root_of(hs, leaves + k, n - k, r);
	if (hs != NULL)
		hash2(hs, 1, l, MERKLE_HASH, r, MERKLE_HASH, out);
	else
		merkle_node_hash(l, r, out);
}

void
merkle_root_of(const merkle_hash *leaves, uint64_t n, merkle_hash out)
{
	struct merkle_hasher *hs;

	if (n == 0) {
		SHA256((const uint8_t *)"", 0, out);
		return;
	}
	hs = merkle_hasher_new();
	root_of(hs, leaves, n, out);
	merkle_hasher_free(hs);
}

/* PATH(m, D[n]) of RFC 9162 2.1.3.1, hashes appended at proof[*np]. */
static void
path(struct merkle_hasher *hs, const merkle_hash *leaves, uint64_t n,
    uint64_t m, merkle_hash *proof, int *np)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = split(n);
	if (m < k) {
		path(hs, leaves, k, m, proof, np);
		root_of(hs, leaves + k, n - k, proof[(*np)++]);
	} else {
		path(hs, leaves + k, n - k, m - k, proof, np);
		root_of(hs, leaves, k, proof[(*np)++]);
	}
}

int
merkle_inclusion_proof(const merkle_hash *leaves, uint64_t n,
    uint64_t index, merkle_hash *proof)
{
	struct merkle_hasher *hs;
	int np = 0;

	if (index >= n)
		return -1;
	hs = merkle_hasher_new();
	path(hs, leaves, n, index, proof, &np);
	merkle_hasher_free(hs);
	return np;
}

/* SUBPROOF(m, D[n], b) of RFC 9162 2.1.4.1. */
static void
subproof(struct merkle_hasher *hs, const merkle_hash *leaves, uint64_t n,
    uint64_t m, bool b, merkle_hash *proof, int *np)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			root_of(hs, leaves, n, proof[(*np)++]);
		return;
	}
	k = split(n);
	if (m <= k) {
		subproof(hs, leaves, k, m, b, proof, np);
		root_of(hs, leaves + k, n - k, proof[(*np)++]);
	} else {
		subproof(hs, leaves + k, n - k, m - k, false, proof, np);
		root_of(hs, leaves, k, proof[(*np)++]);
	}
}

int
merkle_consistency_proof(const merkle_hash *leaves, uint64_t n, uint64_t m,
    merkle_hash *proof)
{
	struct merkle_hasher *hs;
	int np = 0;

	if (m == 0 || m > n)
		return -1;
	hs = merkle_hasher_new();
	subproof(hs, leaves, n, m, true, proof, &np);
	merkle_hasher_free(hs);
	return np;
}

bool
merkle_verify_inclusion(const merkle_hash leaf, uint64_t index,
    uint64_t size, const merkle_hash *proof, size_t nproof,
    const merkle_hash root)
{
	uint64_t fn = index, sn = size - 1;
	merkle_hash r;
	size_t i;

	if (index >= size)
		return false;
	memcpy(r, leaf, MERKLE_HASH);
	for (i = 0; i < nproof; i++) {
		if (sn == 0)
			return false;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, r);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			merkle_node_hash(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, MERKLE_HASH) == 0;
}

bool
merkle_verify_consistency(uint64_t m, uint64_t n, const merkle_hash root_m,
    const merkle_hash root_n, const merkle_hash *proof, size_t nproof)
{
	uint64_t fn, sn;
	merkle_hash fr, sr;
	size_t i = 0;

	if (m == 0 || m > n)
		return false;
	if (m == n)
		return nproof == 0 && memcmp(root_m, root_n, MERKLE_HASH) == 0;
	if (nproof == 0)
		return false;
	/* RFC 9162 2.1.4.2: a first tree that is a perfect subtree is not
	 * in the proof: it is root_m itself */
	if ((m & (m - 1)) == 0) {
		memcpy(fr, root_m, MERKLE_HASH);
		memcpy(sr, root_m, MERKLE_HASH);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH);
		memcpy(sr, proof[0], MERKLE_HASH);
		i = 1;
	}
	fn = m - 1;
	sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < nproof; i++) {
		if (sn == 0)
			return false;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], fr, fr);
			merkle_node_hash(proof[i], sr, sr);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			merkle_node_hash(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(fr, root_m, MERKLE_HASH) == 0 &&
	    memcmp(sr, root_n, MERKLE_HASH) == 0;
}
