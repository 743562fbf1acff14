/*
 * fake_forward: forward.h without a network, for the harnesses of the
 * query path.  forward_query() keeps its waiter until the harness
 * answers it with fake_forward_answer_all().  One forwarder per process;
 * state lives in the struct forwarder (the harness owns the only one).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dns/wire.h"

#define MAX_WAITERS 64

struct waiter {
	forward_done cb;
	void *arg;
};

struct forwarder {
	struct waiter w[MAX_WAITERS];
	size_t n;
	struct forward_stats stats;
	uint8_t qname[DNAME_MAXWIRE];
	size_t qname_len;
	uint16_t qtype;
};

const unsigned FORWARD_LATENCY_MS[FORWARD_NBUCKETS] = {
	1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 0
};

/* The harness's only forwarder, for the answer helpers: made when
 * fuzz_query_env() builds the env. */
static struct forwarder **
slot(void)
{
	static struct forwarder *f;

	return &f;
}

static struct forwarder *
the(void)
{
	(void)fuzz_query_env();
	return *slot();
}

const char *
forward_error_text(enum forward_error why)
{
	return why == FORWARD_OK ? "answered" : "fake upstream failure";
}

struct forwarder *
forward_new(const struct forward_io *io, const struct netaddr *servers,
    size_t nservers, uint32_t timeout_ms)
{
	(void)io;
	(void)servers;
	(void)nservers;
	(void)timeout_ms;
	return *slot() = calloc(1, sizeof(struct forwarder));
}

void
forward_free(struct forwarder *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++)
		f->w[i].cb(f->w[i].arg, NULL, 0, FORWARD_SHUTDOWN);
	if (*slot() == f)
		*slot() = NULL;
	free(f);
}

int
forward_query(struct forwarder *f, const uint8_t *qname, size_t qname_len,
    uint16_t qtype, uint16_t qclass, bool do_bit, bool cd, forward_done cb,
    void *arg)
{
	(void)qclass;
	(void)do_bit;
	(void)cd;
	if (f->n == MAX_WAITERS)
		return -1;
	f->w[f->n].cb = cb;
	f->w[f->n].arg = arg;
	f->n++;
	f->stats.sent++;
	memcpy(f->qname, qname, qname_len);
	f->qname_len = qname_len;
	f->qtype = qtype;
	return 0;
}

size_t
forward_inflight(const struct forwarder *f)
{
	return f->n;
}

void
forward_get_stats(const struct forwarder *f, struct forward_stats *st)
{
	*st = f->stats;
}

bool
forward_get_upstream_stats(const struct forwarder *f, size_t i,
    struct upstream_stats *st)
{
	(void)f;
	(void)i;
	memset(st, 0, sizeof(*st));
	return false;
}

void
fake_forward_answer_all(const uint8_t *msg, size_t len,
    enum forward_error why)
{
	struct forwarder *f = the();
	struct waiter w[MAX_WAITERS];
	size_t i, n = f->n;

	/* a callback may forward again: answer a copy of the list */
	memcpy(w, f->w, n * sizeof(w[0]));
	f->n = 0;
	for (i = 0; i < n; i++)
		w[i].cb(w[i].arg, msg, len, msg != NULL ? FORWARD_OK : why);
}

size_t
fake_forward_pending(void)
{
	return the()->n;
}

const uint8_t *
fake_forward_last_qname(size_t *len, uint16_t *qtype)
{
	struct forwarder *f = the();

	*len = f->qname_len;
	*qtype = f->qtype;
	return f->qname;
}
