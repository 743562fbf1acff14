/*
 * hash: SipHash-1-3 (Aumasson and Bernstein), a keyed hash for tables
 * whose keys come from outside (client addresses, names clients choose):
 * without the key nobody can aim many keys at one slot.  Each table
 * draws its own key with hash_key_new().
 *
 * And one unkeyed hash, hash_fixed(), for the two places that need the
 * same value on every host and cannot use a key: the name table
 * (policy/domtree), whose slots a snapshot stores, and the canonical order
 * of a policy's id.  Their input is the admin's own lists, not what
 * clients send, and domtree hashes every suffix of every query's name on
 * the hot path, so a byte loop beats SipHash there.  Never use it for
 * keys that come from outside.
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

/* 64-bit FNV-1a of len bytes at p, its weak high bits spread by half of
 * MurmurHash3's finaliser; unkeyed, the same everywhere (see above). */
uint64_t hash_fixed(const void *p, size_t len);

#endif
