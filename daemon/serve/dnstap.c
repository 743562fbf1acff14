/*
 * dnstap: messages encoded with protobuf-c (serve/dnstap.proto, compiled
 * by protoc-c at build time) and handed to libfstrm's I/O thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fstrm.h>

#include "base/config.h"
#include "serve/dnstap.h"
#include "serve/dnstap.pb-c.h"

#define CONTENT_TYPE "protobuf:dnstap.Dnstap"
#define QUEUE_SIZE 4096		/* frames per worker queue, a power of 2 */
#define CLOSE_WAIT_S 2		/* for the I/O thread to write what is left */

struct dnstap_queue {
	struct dnstap *dt;
	struct fstrm_iothr_queue *q;
	_Atomic uint64_t sent, dropped;
};

struct dnstap {
	struct fstrm_iothr *iothr;
	struct dnstap_queue *queues;
	unsigned nqueues;
	_Atomic unsigned used;
	char *identity, *version;
};

/* Creates or empties the file now, so a path that cannot be written is
 * reported at start rather than retried by the I/O thread for ever. */
static int
try_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0640);

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static struct fstrm_writer *
make_writer(const char *spec, char *err, size_t errlen)
{
	struct fstrm_writer_options *wopt;
	struct fstrm_unix_writer_options *uopt;
	struct fstrm_file_options *fopt;
	struct fstrm_writer *w = NULL;

	if ((wopt = fstrm_writer_options_init()) == NULL)
		goto oom;
	fstrm_writer_options_add_content_type(wopt, CONTENT_TYPE,
	    strlen(CONTENT_TYPE));
	if (strncmp(spec, "unix:", 5) == 0) {
		if ((uopt = fstrm_unix_writer_options_init()) != NULL) {
			fstrm_unix_writer_options_set_socket_path(uopt,
			    spec + 5);
			w = fstrm_unix_writer_init(uopt, wopt);
			fstrm_unix_writer_options_destroy(&uopt);
		}
	} else if (try_file(spec + 5, err, errlen) == 0) {
		if ((fopt = fstrm_file_options_init()) != NULL) {
			fstrm_file_options_set_file_path(fopt, spec + 5);
			w = fstrm_file_writer_init(fopt, wopt);
			fstrm_file_options_destroy(&fopt);
		}
	} else {
		fstrm_writer_options_destroy(&wopt);
		return NULL;
	}
	fstrm_writer_options_destroy(&wopt);
	if (w != NULL)
		return w;
oom:
	snprintf(err, errlen, "%s: cannot make an fstrm writer", spec);
	return NULL;
}

static char *
default_identity(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		return strdup("cordond");
	host[sizeof(host) - 1] = '\0';
	return strdup(host);
}

struct dnstap *
dnstap_open(const struct dnstap_conf *conf, char *err, size_t errlen)
{
	struct fstrm_iothr_options *iopt = NULL;
	struct fstrm_writer *w;
	struct dnstap *dt;
	const char *why;

	if ((why = config_dnstap_why(conf->spec)) != NULL) {
		snprintf(err, errlen, "%s: %s", conf->spec, why);
		return NULL;
	}
	if ((dt = calloc(1, sizeof(*dt))) == NULL ||
	    (dt->queues = calloc(conf->nqueues, sizeof(*dt->queues))) ==
	    NULL || (dt->identity = conf->identity != NULL ?
	    strdup(conf->identity) : default_identity()) == NULL ||
	    (dt->version = strdup(conf->version)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	dt->nqueues = conf->nqueues;
	if ((w = make_writer(conf->spec, err, errlen)) == NULL)
		goto fail;
	if ((iopt = fstrm_iothr_options_init()) == NULL) {
		fstrm_writer_destroy(&w);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	fstrm_iothr_options_set_num_input_queues(iopt, conf->nqueues);
	fstrm_iothr_options_set_input_queue_size(iopt, QUEUE_SIZE);
	fstrm_iothr_options_set_queue_model(iopt,
	    FSTRM_IOTHR_QUEUE_MODEL_SPSC);
	fstrm_iothr_options_set_reopen_interval(iopt, 1);
	/* On failure fstrm_iothr_init() has destroyed the writer. */
	dt->iothr = fstrm_iothr_init(iopt, &w);
	fstrm_iothr_options_destroy(&iopt);
	if (dt->iothr == NULL) {
		snprintf(err, errlen, "%s: cannot start the dnstap thread",
		    conf->spec);
		goto fail;
	}
	return dt;
fail:
	dnstap_close(dt);
	return NULL;
}

struct dnstap_queue *
dnstap_queue(struct dnstap *dt)
{
	unsigned i = atomic_fetch_add(&dt->used, 1);
	struct dnstap_queue *q;

	if (i >= dt->nqueues)
		return NULL;
	q = &dt->queues[i];
	q->dt = dt;
	if ((q->q = fstrm_iothr_get_input_queue(dt->iothr)) == NULL)
		return NULL;
	return q;
}

/* The address and port of sa into the message's bytes; returns the
 * family (0 when sa is NULL or neither IPv4 nor IPv6). */
static int
put_addr(const struct sockaddr *sa, ProtobufCBinaryData *addr,
    protobuf_c_boolean *has_addr, uint32_t *port, protobuf_c_boolean *has_port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		addr->data = (uint8_t *)&sin->sin_addr;
		addr->len = 4;
		*port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		addr->data = (uint8_t *)&sin6->sin6_addr;
		addr->len = 16;
		*port = ntohs(sin6->sin6_port);
	} else
		return 0;
	*has_addr = *has_port = 1;
	return sa->sa_family;
}

static void
put_time(const struct timespec *ts, uint64_t *sec, protobuf_c_boolean *has_sec,
    uint32_t *nsec, protobuf_c_boolean *has_nsec)
{
	if (ts->tv_sec == 0)
		return;
	*sec = (uint64_t)ts->tv_sec;
	*nsec = (uint32_t)ts->tv_nsec;
	*has_sec = *has_nsec = 1;
}

static void
fill(Dnstap__Message *pm, const struct dnstap_msg *m)
{
	int fam, fam2;

	pm->type = (Dnstap__Message__Type)m->type;
	fam = put_addr(m->query_addr, &pm->query_address,
	    &pm->has_query_address, &pm->query_port, &pm->has_query_port);
	fam2 = put_addr(m->response_addr, &pm->response_address,
	    &pm->has_response_address, &pm->response_port,
	    &pm->has_response_port);
	if (fam == 0)
		fam = fam2;
	if (fam != 0) {
		pm->has_socket_family = 1;
		pm->socket_family = fam == AF_INET ?
		    DNSTAP__SOCKET_FAMILY__INET : DNSTAP__SOCKET_FAMILY__INET6;
	}
	pm->has_socket_protocol = 1;
	pm->socket_protocol = m->is_tcp ? DNSTAP__SOCKET_PROTOCOL__TCP :
	    DNSTAP__SOCKET_PROTOCOL__UDP;
	if (m->query_len > 0) {
		pm->has_query_message = 1;
		pm->query_message.data = (uint8_t *)m->query;
		pm->query_message.len = m->query_len;
	}
	if (m->response_len > 0) {
		pm->has_response_message = 1;
		pm->response_message.data = (uint8_t *)m->response;
		pm->response_message.len = m->response_len;
	}
	put_time(&m->query_time, &pm->query_time_sec, &pm->has_query_time_sec,
	    &pm->query_time_nsec, &pm->has_query_time_nsec);
	put_time(&m->response_time, &pm->response_time_sec,
	    &pm->has_response_time_sec, &pm->response_time_nsec,
	    &pm->has_response_time_nsec);
}

bool
dnstap_send(struct dnstap_queue *q, const struct dnstap_msg *m)
{
	Dnstap__Dnstap frame = DNSTAP__DNSTAP__INIT;
	Dnstap__Message pm = DNSTAP__MESSAGE__INIT;
	uint8_t *buf;
	size_t len;

	frame.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
	frame.has_identity = frame.has_version = 1;
	frame.identity.data = (uint8_t *)q->dt->identity;
	frame.identity.len = strlen(q->dt->identity);
	frame.version.data = (uint8_t *)q->dt->version;
	frame.version.len = strlen(q->dt->version);
	frame.message = &pm;
	fill(&pm, m);
	len = dnstap__dnstap__get_packed_size(&frame);
	if ((buf = malloc(len)) == NULL)
		goto dropped;
	dnstap__dnstap__pack(&frame, buf);
	if (fstrm_iothr_submit(q->dt->iothr, q->q, buf, len,
	    fstrm_free_wrapper, NULL) != fstrm_res_success) {
		free(buf);
		goto dropped;
	}
	atomic_fetch_add_explicit(&q->sent, 1, memory_order_relaxed);
	return true;
dropped:
	atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
	return false;
}

void
dnstap_get_stats(const struct dnstap *dt, struct dnstap_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < dt->nqueues; i++) {
		st->sent += atomic_load_explicit(&dt->queues[i].sent,
		    memory_order_relaxed);
		st->dropped += atomic_load_explicit(&dt->queues[i].dropped,
		    memory_order_relaxed);
	}
}

/* fstrm_iothr_destroy() on a thread of its own: a collector that stops
 * reading blocks the I/O thread's write, and the join with it, for ever. */
struct closer {
	struct fstrm_iothr *iothr;
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool is_done, is_abandoned;
};

static void *
run_close(void *arg)
{
	struct closer *cl = arg;
	bool is_abandoned;

	fstrm_iothr_destroy(&cl->iothr);
	pthread_mutex_lock(&cl->lock);
	cl->is_done = true;
	is_abandoned = cl->is_abandoned;
	pthread_cond_signal(&cl->done_cv);
	pthread_mutex_unlock(&cl->lock);
	if (is_abandoned) {
		pthread_mutex_destroy(&cl->lock);
		pthread_cond_destroy(&cl->done_cv);
		free(cl);
	}
	return NULL;
}

/* Stops the I/O thread, waiting CLOSE_WAIT_S for it to write what is
 * queued; returns false when it is left behind, blocked on a collector
 * (the process is on its way out; what it holds is lost). */
static bool
close_iothr(struct fstrm_iothr *iothr)
{
	struct closer *cl = calloc(1, sizeof(*cl));
	struct timespec until;
	pthread_t t;
	bool is_done;

	if (cl == NULL) {
		fstrm_iothr_destroy(&iothr);
		return true;
	}
	cl->iothr = iothr;
	pthread_mutex_init(&cl->lock, NULL);
	pthread_cond_init(&cl->done_cv, NULL);
	if (pthread_create(&t, NULL, run_close, cl) != 0) {
		fstrm_iothr_destroy(&cl->iothr);
		cl->is_done = true;
	} else
		pthread_detach(t);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CLOSE_WAIT_S;
	pthread_mutex_lock(&cl->lock);
	while (!cl->is_done && pthread_cond_timedwait(&cl->done_cv,
	    &cl->lock, &until) == 0)
		;
	is_done = cl->is_done;
	cl->is_abandoned = !is_done;
	pthread_mutex_unlock(&cl->lock);
	if (is_done) {
		pthread_mutex_destroy(&cl->lock);
		pthread_cond_destroy(&cl->done_cv);
		free(cl);
	}
	return is_done;
}

bool
dnstap_close(struct dnstap *dt)
{
	bool is_clean = true;

	if (dt == NULL)
		return true;
	if (dt->iothr != NULL)
		is_clean = close_iothr(dt->iothr);
	free(dt->queues);
	free(dt->identity);
	free(dt->version);
	free(dt);
	return is_clean;
}
