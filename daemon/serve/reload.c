/*
 * reload: one loader thread at a time; a pipe wakes the main loop when it
 * is done.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "policy/loader.h"
#include "base/config.h"
#include "base/diag.h"
#include "serve/reload.h"
#include "policy/policy.h"

struct waiter {
	control_done done;
	void *ctx;
	struct waiter *next;
};

struct reload {
	struct event_base *base;
	char *config_path;
	reload_apply apply;
	void *arg;
	int pipe[2];
	struct event *ev;
	pthread_t thread;
	bool has_thread;
	bool is_running;
	/* the run in progress */
	char by[16];
	struct waiter *waiters;
	struct config *cfg;
	struct policy *policy;
	struct diag *diag;		/* one for every run, cleared after it:
					 * a reload needs no memory to start */
	/* the run asked for meanwhile */
	bool is_again;
	char by_next[16];
	struct waiter *waiters_next;
};

static void *
load_main(void *arg)
{
	struct reload *l = arg;

	if (loader_load(l->config_path, l->diag, &l->cfg, &l->policy) == -1) {
		l->cfg = NULL;
		l->policy = NULL;
	}
	(void)write(l->pipe[1], "x", 1);
	return NULL;
}

static void
start(struct reload *l)
{
	diag_clear(l->diag);
	l->is_running = true;
	l->has_thread = pthread_create(&l->thread, NULL, load_main, l) == 0;
	if (l->has_thread)
		(void)pthread_setname_np(l->thread, "cordond-load");
	if (!l->has_thread) {
		diag_add(l->diag, l->config_path, 0, "cannot start a loader "
		    "thread");
		(void)write(l->pipe[1], "x", 1);
	}
}

static void
answer(struct waiter *w, bool ok, const char *msg)
{
	while (w != NULL) {
		struct waiter *next = w->next;

		if (w->done != NULL)
			w->done(w->ctx, ok, msg);
		free(w);
		w = next;
	}
}

static void
on_loaded(evutil_socket_t fd, short what, void *arg)
{
	struct reload *l = arg;
	char b, msg[1024];
	bool ok;

	while (read(fd, &b, 1) == 1)
		;
	if (l->has_thread)
		pthread_join(l->thread, NULL);
	l->has_thread = false;
	l->is_running = false;
	ok = l->apply(l->arg, l->cfg, l->policy, l->diag, l->by, msg,
	    sizeof(msg));
	l->cfg = NULL;
	l->policy = NULL;
	diag_clear(l->diag);
	answer(l->waiters, ok, msg);
	l->waiters = NULL;
	if (l->is_again) {
		l->is_again = false;
		memcpy(l->by, l->by_next, sizeof(l->by));
		l->waiters = l->waiters_next;
		l->waiters_next = NULL;
		start(l);
	}
}

struct reload *
reload_new(struct event_base *base, const char *config_path,
    reload_apply apply, void *arg)
{
	struct reload *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->base = base;
	l->apply = apply;
	l->arg = arg;
	l->config_path = strdup(config_path);
	l->diag = diag_new();
	if (l->config_path == NULL || l->diag == NULL ||
	    pipe2(l->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		diag_free(l->diag);
		free(l->config_path);
		free(l);
		return NULL;
	}
	l->ev = event_new(base, l->pipe[0], EV_READ | EV_PERSIST, on_loaded, l);
	if (l->ev == NULL || event_add(l->ev, NULL) == -1) {
		reload_free(l);
		return NULL;
	}
	return l;
}

void
reload_request(struct reload *l, const char *by, control_done done,
    void *ctx)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		if (done != NULL)
			done(ctx, false, "out of memory while asking for a "
			    "reload");
		return;
	}
	w->done = done;
	w->ctx = ctx;
	if (l->is_running) {
		w->next = l->waiters_next;
		l->waiters_next = w;
		l->is_again = true;
		snprintf(l->by_next, sizeof(l->by_next), "%s", by);
		return;
	}
	w->next = l->waiters;
	l->waiters = w;
	snprintf(l->by, sizeof(l->by), "%s", by);
	start(l);
}

void
reload_free(struct reload *l)
{
	if (l == NULL)
		return;
	if (l->has_thread)
		pthread_join(l->thread, NULL);
	config_free(l->cfg);
	policy_unref(l->policy);
	diag_free(l->diag);
	answer(l->waiters, false, "stopping");
	answer(l->waiters_next, false, "stopping");
	if (l->ev != NULL)
		event_free(l->ev);
	close(l->pipe[0]);
	close(l->pipe[1]);
	free(l->config_path);
	free(l);
}
