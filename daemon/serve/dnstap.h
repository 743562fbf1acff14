/*
 * dnstap: the DNS messages cordond receives, sends and forwards, to a
 * dnstap collector (https://dnstap.info) as an fstrm frame stream of
 * protobuf "dnstap.Dnstap" frames, written to a unix socket or a file.
 *
 * libfstrm's I/O thread does the writing, reconnects to a socket that
 * went away and outlives a collector that is slow.  A worker only
 * encodes a message and queues it on its own queue (single producer, no
 * lock); a full queue drops the message and counts it, so logging never
 * stalls a query.
 */
#ifndef CORDON_DNSTAP_H
#define CORDON_DNSTAP_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct dnstap;
struct dnstap_queue;

struct dnstap_conf {
	const char *spec;	/* "unix:PATH" or "file:PATH" */
	const char *identity;	/* the server's name; NULL: the host name */
	const char *version;	/* the server's version */
	unsigned nqueues;	/* one per worker thread */
};

/* The schema's Message.Type values cordond writes. */
enum dnstap_type {
	DNSTAP_CLIENT_QUERY = 5,
	DNSTAP_CLIENT_RESPONSE = 6,
	DNSTAP_FORWARDER_QUERY = 7,
	DNSTAP_FORWARDER_RESPONSE = 8,
};

/*
 * One message.  The query side is the one that asks: the client, or
 * cordond itself toward an upstream; the response side is the one that
 * answers.  Either address may be NULL.  A message without its query or
 * response bytes leaves them out (len 0).  A time with tv_sec 0 is
 * left out.
 */
struct dnstap_msg {
	enum dnstap_type type;
	bool is_tcp;
	const struct sockaddr *query_addr;
	const struct sockaddr *response_addr;
	const uint8_t *query;
	size_t query_len;
	const uint8_t *response;
	size_t response_len;
	struct timespec query_time;
	struct timespec response_time;
};

/*
 * Starts the I/O thread toward conf->spec (config_dnstap_why() says
 * what it may be).  A socket nobody listens on
 * yet is not an error: the thread connects when it can, and messages
 * queued meanwhile wait or are dropped.  A file is created (or emptied:
 * a frame stream cannot be appended to) at once, so a path that cannot
 * be written fails here.  Returns NULL with err set on failure.
 */
struct dnstap *dnstap_open(const struct dnstap_conf *conf, char *err,
    size_t errlen);

/* A queue for one worker thread: at most conf->nqueues calls in all;
 * NULL after that.  Valid until dnstap_close(). */
struct dnstap_queue *dnstap_queue(struct dnstap *dt);

/* Encodes and queues m.  Never blocks; returns whether it was queued
 * (false: the queue was full or memory ran out, and it was counted). */
bool dnstap_send(struct dnstap_queue *q, const struct dnstap_msg *m);

struct dnstap_stats {
	uint64_t sent;		/* messages queued for the I/O thread */
	uint64_t dropped;	/* messages a full queue or memory refused */
};

/* Sums the counters of every queue; any thread may call it. */
void dnstap_get_stats(const struct dnstap *dt, struct dnstap_stats *st);

/* Writes what is queued, stops the thread and frees dt (NULL is fine).
 * The workers must have stopped sending.  Waits at most 2 s: returns
 * false when a collector that does not read kept the thread from
 * finishing (it is left to the process's exit, with what it held). */
bool dnstap_close(struct dnstap *dt);

#endif
