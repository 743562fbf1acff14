/*
 * control: the daemon's operator interfaces on the main event loop: a
 * Unix socket for `cordon ctl` (one command line in, a reply whose first
 * line is "ok ..." or "error: ...", then the connection closes) and an
 * HTTP listener (libevent's evhttp) for GET /metrics and GET /healthz.
 * What the commands do is the daemon's: control calls its ops.
 */
#ifndef CORDON_CONTROL_H
#define CORDON_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

struct control;
struct event_base;
struct evbuffer;

/* Called with the outcome of a reload, on the main loop. */
typedef void (*control_done)(void *ctx, bool ok, const char *message);

struct control_ops {
	/* Starts a reload asked for by `by` ("control"); done is called
	 * exactly once when it ends. */
	void (*reload)(void *arg, const char *by, control_done done,
	    void *ctx);
	/* Appends the Prometheus exposition. */
	void (*metrics)(void *arg, struct evbuffer *out);
	/* Flushes the cache (name NULL: everything); returns 0, or -1 with
	 * a reason written to out. */
	int (*flush)(void *arg, const char *name, struct evbuffer *out);
	/* true when serving; otherwise writes why. */
	bool (*healthy)(void *arg, struct evbuffer *why);
	void *arg;
};

/*
 * Listens on http ("ADDR:PORT", "" for none) and on the Unix socket at
 * socket_path ("" for none; a stale socket file is replaced; mode 0660,
 * owned by user when not "").  Returns NULL with a reason in err.
 */
struct control *control_new(struct event_base *base, const char *http,
    const char *socket_path, const char *user,
    const struct control_ops *ops, char *err, size_t errlen);
void control_free(struct control *c);

#endif
