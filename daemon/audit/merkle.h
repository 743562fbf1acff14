/*
 * merkle: the Merkle tree of RFC 9162 2.1 (Certificate Transparency 2.0)
 * over the audit log's lines: leaf hash SHA-256(0x00 || line), node hash
 * SHA-256(0x01 || left || right), the tree of n leaves split at the
 * largest power of two below n.  An incremental tree for the writer
 * (O(log n) memory, one node hash per leaf on average), and inclusion
 * and consistency proofs with their verification for the tools, in the
 * form RFC 9162 2.1.3 and 2.1.4 give (Go's golang.org/x/mod/sumdb/tlog
 * computes the same).
 */
#ifndef CORDON_MERKLE_H
#define CORDON_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH 32
#define MERKLE_MAX_PROOF 64	/* hashes in any proof of a 2^63 tree */

typedef uint8_t merkle_hash[MERKLE_HASH];

void merkle_leaf_hash(const void *data, size_t len, merkle_hash out);
void merkle_node_hash(const merkle_hash left, const merkle_hash right,
    merkle_hash out);

/*
 * A hasher that keeps its OpenSSL context and fetched SHA-256: the
 * one-shot functions above set both up for every hash, which costs more
 * than hashing a line.  For the writer, hashing every line.
 */
struct merkle_hasher;

struct merkle_hasher *merkle_hasher_new(void);
void merkle_hasher_free(struct merkle_hasher *h);
void merkle_hasher_leaf(struct merkle_hasher *h, const void *data,
    size_t len, merkle_hash out);

/* The writer's tree: the roots of the perfect subtrees that make up the
 * leaves so far, one per set bit of size. */
struct merkle_tree {
	uint64_t size;
	merkle_hash stack[64];
	unsigned depth;
};

void merkle_init(struct merkle_tree *t);
void merkle_append(struct merkle_tree *t, const merkle_hash leaf);
/* The same with h's context for the node hashes. */
void merkle_append_h(struct merkle_tree *t, struct merkle_hasher *h,
    const merkle_hash leaf);
/* The tree hash of all leaves so far (SHA-256 of nothing for none). */
void merkle_root(const struct merkle_tree *t, merkle_hash out);

/* The tree hash of leaves[0..n). */
void merkle_root_of(const merkle_hash *leaves, uint64_t n, merkle_hash out);

/*
 * The inclusion proof of leaf index in the tree of leaves[0..n), into
 * proof (at most MERKLE_MAX_PROOF hashes); returns how many, or -1 when
 * index >= n.
 */
int merkle_inclusion_proof(const merkle_hash *leaves, uint64_t n,
    uint64_t index, merkle_hash *proof);

/* The consistency proof between the trees of leaves[0..m) and [0..n);
 * returns how many hashes, or -1 unless 0 < m <= n. */
int merkle_consistency_proof(const merkle_hash *leaves, uint64_t n,
    uint64_t m, merkle_hash *proof);

bool merkle_verify_inclusion(const merkle_hash leaf, uint64_t index,
    uint64_t size, const merkle_hash *proof, size_t nproof,
    const merkle_hash root);
bool merkle_verify_consistency(uint64_t m, uint64_t n,
    const merkle_hash root_m, const merkle_hash root_n,
    const merkle_hash *proof, size_t nproof);

#endif
