/*
 * policy_slot: where the daemon keeps the policy in force (policy.h).
 * One lock, taken only to swap or to take a reference; the generation
 * lets a worker see a change without it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "policy/policy.h"

struct policy_slot {
	pthread_mutex_t lock;
	struct policy *current;
	atomic_uint_fast64_t generation;
};

struct policy_slot *
policy_slot_new(struct policy *p)
{
	struct policy_slot *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->current = p;
	atomic_init(&s->generation, 1);
	return s;
}

void
policy_slot_free(struct policy_slot *s)
{
	if (s == NULL)
		return;
	policy_unref(s->current);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void
policy_slot_set(struct policy_slot *s, struct policy *p)
{
	struct policy *old;

	pthread_mutex_lock(&s->lock);
	old = s->current;
	s->current = p;
	atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
	pthread_mutex_unlock(&s->lock);
	policy_unref(old);
}

struct policy *
policy_slot_get(struct policy_slot *s, uint64_t *gen)
{
	struct policy *p;

	pthread_mutex_lock(&s->lock);
	p = policy_ref(s->current);
	*gen = atomic_load_explicit(&s->generation, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
	return p;
}

uint64_t
policy_slot_generation(struct policy_slot *s)
{
	return atomic_load_explicit(&s->generation, memory_order_acquire);
}
