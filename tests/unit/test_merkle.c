/*
 * merkle: RFC 6962/9162 test vectors, the incremental tree against the
 * recursive definition, and every inclusion and consistency proof of
 * trees up to 40 leaves checked, tampered with and refused.
 */
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"
#include "audit/merkle.h"

static void
hex(const merkle_hash h, char out[65])
{
	for (int i = 0; i < MERKLE_HASH; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The leaves of the RFC 6962 reference tests and the roots of the first
 * 1..8 of them (checked with an independent Python implementation). */
static void
test_vectors(void)
{
	static const char *const leaves[8] = { "", "\x00", "\x10", "\x20\x21",
	    "\x30\x31", "\x40\x41\x42\x43",
	    "\x50\x51\x52\x53\x54\x55\x56\x57",
	    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f" };
	static const size_t lens[8] = { 0, 1, 1, 2, 2, 4, 8, 16 };
	static const char *const roots[8] = {
	    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328" };
	struct merkle_tree t;
	merkle_hash h, root;
	char text[65];

	merkle_init(&t);
	merkle_root(&t, root);
	hex(root, text);
	CHECK_STR(text, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
	    "95991b7852b855", "empty tree: SHA-256 of nothing");
	for (int i = 0; i < 8; i++) {
		merkle_leaf_hash(leaves[i], lens[i], h);
		merkle_append(&t, h);
		merkle_root(&t, root);
		hex(root, text);
		CHECK_STR(text, roots[i], "root of %d leaves", i + 1);
	}
}

#define N 40

static void
test_proofs(void)
{
	merkle_hash leaves[N], proof[MERKLE_MAX_PROOF], roots[N + 1], root;
	struct merkle_tree t;
	char line[32];
	int np;

	merkle_init(&t);
	merkle_root_of(leaves, 0, roots[0]);
	for (int i = 0; i < N; i++) {
		snprintf(line, sizeof(line), "{\"seq\":%d}", i + 1);
		merkle_leaf_hash(line, strlen(line), leaves[i]);
		merkle_append(&t, leaves[i]);
		merkle_root(&t, root);
		merkle_root_of(leaves, (uint64_t)i + 1, roots[i + 1]);
		CHECK(memcmp(root, roots[i + 1], MERKLE_HASH) == 0,
		    "incremental root of %d leaves", i + 1);
	}
	for (uint64_t n = 1; n <= N; n++) {
		for (uint64_t i = 0; i < n; i++) {
			np = merkle_inclusion_proof(leaves, n, i, proof);
			CHECK(np >= 0 && merkle_verify_inclusion(leaves[i], i,
			    n, proof, (size_t)np, roots[n]),
			    "inclusion of %llu in %llu", (unsigned long long)i,
			    (unsigned long long)n);
			CHECK(!merkle_verify_inclusion(leaves[(i + 1) % n], i,
			    n, proof, (size_t)np, roots[n]) || n == 1,
			    "another leaf passed at %llu in %llu",
			    (unsigned long long)i, (unsigned long long)n);
			if (np > 0) {
				proof[np - 1][0] ^= 1;
				CHECK(!merkle_verify_inclusion(leaves[i], i, n,
				    proof, (size_t)np, roots[n]),
				    "tampered inclusion proof passed");
			}
		}
		for (uint64_t m = 1; m <= n; m++) {
			np = merkle_consistency_proof(leaves, n, m, proof);
			CHECK(np >= 0 && merkle_verify_consistency(m, n,
			    roots[m], roots[n], proof, (size_t)np),
			    "consistency %llu..%llu", (unsigned long long)m,
			    (unsigned long long)n);
			if (m < n) {
				CHECK(!merkle_verify_consistency(m, n,
				    roots[m - 1 ? m - 1 : n], roots[n], proof,
				    (size_t)np), "a wrong old root passed "
				    "%llu..%llu", (unsigned long long)m,
				    (unsigned long long)n);
				proof[0][5] ^= 0x80;
				CHECK(!merkle_verify_consistency(m, n,
				    roots[m], roots[n], proof, (size_t)np),
				    "tampered consistency proof passed");
			}
		}
	}
	CHECK(merkle_inclusion_proof(leaves, 3, 3, proof) == -1,
	    "index past the tree");
	CHECK(merkle_consistency_proof(leaves, 3, 0, proof) == -1 &&
	    merkle_consistency_proof(leaves, 3, 4, proof) == -1,
	    "consistency with an empty or a larger tree");
}

/* The writer's hasher gives the one-shot functions' hashes. */
static void
test_hasher(void)
{
	struct merkle_hasher *hs = merkle_hasher_new();
	struct merkle_tree a, b;
	merkle_hash x, y, ra, rb;
	char line[32];

	CHECK(hs != NULL, "hasher");
	if (hs == NULL)
		return;
	merkle_init(&a);
	merkle_init(&b);
	for (int i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "line %d", i);
		merkle_leaf_hash(line, strlen(line), x);
		merkle_hasher_leaf(hs, line, strlen(line), y);
		CHECK(memcmp(x, y, MERKLE_HASH) == 0, "leaf %d", i);
		merkle_append(&a, x);
		merkle_append_h(&b, hs, y);
		merkle_root(&a, ra);
		merkle_root(&b, rb);
		CHECK(memcmp(ra, rb, MERKLE_HASH) == 0, "root of %d", i + 1);
	}
	merkle_hasher_free(hs);
}

int
main(void)
{
	test_vectors();
	test_hasher();
	test_proofs();
	return unit_exit();
}
