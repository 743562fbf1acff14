/*
 * hash: SipHash-1-3 (Aumasson and Bernstein), a keyed hash for tables
 * whose keys come from outside (client addresses, names clients choose):
 * without the key nobody can aim many keys at one slot.  Each table
 * draws its own key with hash_key_new().
 */
#ifndef CORDON_HASH_H
#define CORDON_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash_key {
	uint64_t k0, k1;
};

/* A fresh random key (arc4random). */
void hash_key_new(struct hash_key *k);

/* SipHash-1-3 of len bytes at p under k. */
uint64_t hash_bytes(const struct hash_key *k, const void *p, size_t len);

#endif
