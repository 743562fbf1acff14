/*
 * fuzz: what the libFuzzer harnesses of tests/fuzz/ share.  Each harness
 * is one file with LLVMFuzzerTestOneInput(); these helpers give it a
 * scratch directory (in /dev/shm when there is one: inputs go through
 * files, as the daemon reads them), a small policy and a worker's query
 * environment on a fake forwarder, and a check that a message cordond
 * sends is well formed.
 */
#ifndef CORDON_FUZZ_H
#define CORDON_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/forward.h"
#include "serve/query.h"

/* A directory of this process's, created on first use. */
const char *fuzz_dir(void);
/* fuzz_dir()/name, in a static buffer per call site's copy. */
void fuzz_path(char *buf, size_t size, const char *name);
/* Writes len bytes to fuzz_dir()/name; aborts on failure. */
void fuzz_write(const char *name, const void *data, size_t len);

/*
 * A worker's query environment for harnesses of the query path: lists
 * with blocked and allowed names and ranges (answers checked for CNAME
 * and addresses), the fake forwarder below, and io hooks that check and
 * count everything sent.  Built once.
 */
struct query_env *fuzz_query_env(void);

/* Aborts unless msg is a well-framed DNS message with QR set (names,
 * records, sections: fuzz_common.c says what is checked). */
void fuzz_check_answer(const uint8_t *msg, size_t len);

/* The fake forwarder: forward_query() keeps the waiter; this answers
 * every kept waiter with msg (NULL: why) and forgets them. */
void fake_forward_answer_all(const uint8_t *msg, size_t len,
    enum forward_error why);
/* How many waiters are kept now. */
size_t fake_forward_pending(void);
/* The question of the last forward_query() (qname is lower-case wire). */
const uint8_t *fake_forward_last_qname(size_t *len, uint16_t *qtype);

#endif
