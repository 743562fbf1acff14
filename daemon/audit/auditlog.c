/*
 * auditlog: workers queue line bodies, each under the next seq; one
 * writer thread chains them (audit.h) and appends them to the file.
 * Workers only copy bytes under a mutex; every system call happens in
 * the writer (or at open and close), so a slow or full disk never
 * stalls a query.  Not here: the line format (audit.c) and reading logs
 * back (auditread.h).
 *
 * Every seq handed out ends up in the file, either on its own line or
 * inside the range of a gap line: refused bodies leave a gap marker in
 * the queue, lines whose write failed are rolled back into a pending
 * gap, and the state file's reserved mark covers whatever a killed
 * process still held in memory.
 *
 * This file: opening and closing the writer, and the queue workers
 * fill.  The writer thread is auditlog_write.c, the gap accounting
 * auditlog_gap.c, the state file and the recovery at start
 * auditlog_state.c (auditlog_impl.h).
 */
#include "audit/auditlog.h"
#include "base/clock.h"
#include "audit/auditlog_impl.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/syslogsink.h"
#include "audit/tlog.h"
#include "base/log.h"

/* ---- the queue (any thread) ---- */

/* Records refused seq in the fill buffer.  Called under lock. */
void
auditlog_drop_locked(struct auditlog *log, uint64_t seq, uint32_t why)
{
	struct qbuf *b = &log->bufs[log->fill];
	struct rec r;

	if (b->gap_off != NO_GAP) {
		memcpy(&r, b->data + b->gap_off, HDR);
		if (r.seq + r.nlost == seq) {
			r.nlost++;
			r.why |= why;
			memcpy(b->data + b->gap_off, &r, HDR);
			return;
		}
	}
	/* Every accepted body left HDR bytes free for this marker, and
	 * seqs are handed out under the lock, so a trailing marker always
	 * ends just before seq. */
	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.nlost = 1;
	r.why = why;
	r.ts_ms = clock_wall_ms();
	memcpy(b->data + b->used, &r, HDR);
	b->gap_off = b->used;
	b->used += HDR;
}

/* Stretches the trailing gap marker to end at seq `to`. */
void
auditlog_mark_lost_locked(struct auditlog *log, uint64_t to)
{
	struct qbuf *b = &log->bufs[log->fill];
	struct rec r;

	memcpy(&r, b->data + b->gap_off, HDR);
	r.nlost = to - r.seq + 1;
	memcpy(b->data + b->gap_off, &r, HDR);
}

/* Queues body under the next seq.  Called under lock; returns whether
 * the writer must be woken, *is_ok whether the body was taken. */
bool
auditlog_queue_locked(struct auditlog *log, const char *body, size_t len,
    bool *is_ok)
{
	struct qbuf *b = &log->bufs[log->fill];
	bool is_valid = len <= BODY_MAX && memchr(body, '\n', len) == NULL;
	bool must_wake;
	uint64_t seq = ++log->next_seq;
	struct rec r;

	*is_ok = false;
	if (is_valid && log->cap - b->used >= HDR + len + HDR) {
		memset(&r, 0, sizeof(r));
		r.seq = seq;
		r.len = (uint32_t)len;
		memcpy(b->data + b->used, &r, HDR);
		memcpy(b->data + b->used + HDR, body, len);
		b->used += HDR + len;
		b->gap_off = NO_GAP;
		*is_ok = true;
	} else {
		log->stats.dropped++;
		auditlog_drop_locked(log, seq, is_valid ? WHY_QUEUE :
		    WHY_INVALID);
	}
	if (seq > log->reserved)
		log->stats.overrun++;
	must_wake = log->is_writer_idle ||
	    (log->is_gathering && b->used >= log->cap / 4);
	if (seq + log->block / 2 > log->reserved && !log->want_reserve) {
		log->want_reserve = true;
		must_wake = true;
	}
	log->is_writer_idle = false;
	return must_wake;
}

int
auditlog_submit(struct auditlog *log, const char *body, size_t len)
{
	bool is_ok, must_wake;

	pthread_mutex_lock(&log->lock);
	must_wake = auditlog_queue_locked(log, body, len, &is_ok);
	pthread_mutex_unlock(&log->lock);
	if (must_wake)
		pthread_cond_signal(&log->wake);
	return is_ok ? 0 : -1;
}

void
auditlog_reopen(struct auditlog *log)
{
	pthread_mutex_lock(&log->lock);
	log->want_reopen = true;
	pthread_cond_signal(&log->wake);
	pthread_mutex_unlock(&log->lock);
}

void
auditlog_get_stats(struct auditlog *log, struct auditlog_stats *st)
{
	pthread_mutex_lock(&log->lock);
	*st = log->stats;
	pthread_mutex_unlock(&log->lock);
}

bool
auditlog_healthy(struct auditlog *log, uint64_t stall_ms, char *why,
    size_t whylen)
{
	struct auditlog_stats st;
	uint64_t now = clock_mono_ms();

	auditlog_get_stats(log, &st);
	if (st.last_errno != 0) {
		snprintf(why, whylen, "audit log %s: writing fails: %s",
		    log->path, strerror(st.last_errno));
		return false;
	}
	if (st.writing_since != 0 && now - st.writing_since > stall_ms) {
		snprintf(why, whylen, "audit log %s: a write has been blocked "
		    "for %llu s", log->path, (unsigned long long)
		    ((now - st.writing_since) / 1000));
		return false;
	}
	return true;
}

/* ---- opening ---- */

/*
 * The writer blocks every signal, so SIGUSR1, SIGHUP and SIGTERM reach
 * the daemon's own handlers instead of interrupting a write.
 */
static int
start_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(th, NULL, fn, arg);
	if (rc == 0)
		(void)pthread_setname_np(*th, "cordond-log");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void
free_log(struct auditlog *log)
{
	if (log->fd >= 0)
		close(log->fd);
	free(log->bufs[0].data);
	free(log->bufs[1].data);
	free(log->out);
	free(log->path);
	free(log->state_path);
	audit_hasher_free(log->hasher);
	tlog_close(log->tlog);
	syslogsink_close(log->syslog);
	free(log);
}

static int
init_sync(struct auditlog *log)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&log->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&log->wake, &attr);
	pthread_cond_init(&log->done, &attr);
	pthread_condattr_destroy(&attr);
	return 0;
}

static void
destroy_sync(struct auditlog *log)
{
	pthread_cond_destroy(&log->wake);
	pthread_cond_destroy(&log->done);
	pthread_mutex_destroy(&log->lock);
}

static struct auditlog *
alloc_log(const struct auditlog_conf *conf)
{
	struct auditlog *log;
	int i;

	if ((log = calloc(1, sizeof(*log))) == NULL)
		return NULL;
	log->fd = -1;
	log->sync = conf->sync;
	/* Each half holds at least the largest body plus a gap marker. */
	log->cap = conf->queue_bytes / 2;
	if (log->cap < 2 * HDR + BODY_MAX)
		log->cap = 2 * HDR + BODY_MAX;
	log->block = RESERVE_MIN;
	log->path = strdup(conf->path);
	if (conf->state_path != NULL)
		log->state_path = strdup(conf->state_path);
	else if (asprintf(&log->state_path, "%s.state", conf->path) < 0)
		log->state_path = NULL;
	log->hasher = audit_hasher_new();
	log->out = malloc(OUT_CAP);
	for (i = 0; i < 2; i++) {
		log->bufs[i].data = malloc(log->cap);
		log->bufs[i].gap_off = NO_GAP;
	}
	if (log->path == NULL || log->state_path == NULL ||
	    log->out == NULL || log->hasher == NULL ||
	    log->bufs[0].data == NULL || log->bufs[1].data == NULL) {
		free_log(log);
		return NULL;
	}
	return log;
}

struct auditlog *
auditlog_open(const struct auditlog_conf *conf, char *err, size_t errlen)
{
	struct auditlog *log;
	struct found f;
	struct state st;
	int has_state, rc;

	if ((log = alloc_log(conf)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", conf->path);
		return NULL;
	}
	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	has_state = auditlog_state_read(log->state_path, &st);
	if (auditlog_open_file(log, &f, err, errlen) != 0) {
		free_log(log);
		return NULL;
	}
	if (conf->tlog != NULL) {
		char note[512];

		log->tlog = tlog_open(conf->tlog, conf->path, err, errlen, note,
		    sizeof(note));
		if (log->tlog == NULL) {
			free_log(log);
			return NULL;
		}
		if (note[0] != '\0')
			log_warn("%s", note);
	}
	if (conf->syslog != NULL &&
	    (log->syslog = syslogsink_open(conf->syslog)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", conf->path);
		free_log(log);
		return NULL;
	}
	init_sync(log);
	log->reserved = UINT64_MAX;	/* set below, once it is known */
	auditlog_queue_start(log, &f, &st, has_state);
	/* The mark covers the start lines and a block beyond them. */
	log->reserved = log->reserved_disk = log->next_seq + log->block;
	log->last_reserve_ms = clock_mono_ms();
	if (auditlog_write_head(log, log->reserved, "running") != 0) {
		snprintf(err, errlen, "%s: cannot write the state file: %s",
		    log->state_path, strerror(errno));
		goto fail;
	}
	rc = start_thread(&log->thread, auditlog_writer_main, log);
	if (rc != 0) {
		snprintf(err, errlen, "%s: writer thread: %s", conf->path,
		    strerror(rc));
		goto fail;
	}
	return log;
fail:
	destroy_sync(log);
	free_log(log);
	return NULL;
}

/* ---- closing ---- */

/* The state a stalled stop leaves, written by a thread of its own so
 * that a stalled disk under the state file cannot hold up the stop. */
struct last_state {
	char *path;
	struct state st;
	pthread_mutex_t lock;
	pthread_cond_t done;
	bool is_done;
};

static void *
last_state_main(void *arg)
{
	struct last_state *ls = arg;

	(void)auditlog_state_write(ls->path, &ls->st);
	pthread_mutex_lock(&ls->lock);
	ls->is_done = true;
	pthread_cond_signal(&ls->done);
	pthread_mutex_unlock(&ls->lock);
	return NULL;
}

/* Records head .. handed as not written; leaks ls if it never ends. */
static void
write_stalled(struct auditlog *log, uint64_t seq, const char *hash,
    uint64_t handed)
{
	struct last_state *ls = calloc(1, sizeof(*ls));
	struct timespec deadline;
	pthread_condattr_t attr;
	pthread_t th;
	bool is_done;

	if (ls == NULL || (ls->path = strdup(log->state_path)) == NULL) {
		free(ls);
		return;
	}
	ls->st.seq = seq;
	memcpy(ls->st.hash, hash, sizeof(ls->st.hash));
	ls->st.reserved = handed;
	snprintf(ls->st.run, sizeof(ls->st.run), "stalled");
	pthread_mutex_init(&ls->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ls->done, &attr);
	pthread_condattr_destroy(&attr);
	if (start_thread(&th, last_state_main, ls) != 0) {
		(void)auditlog_state_write(ls->path, &ls->st);
		return;
	}
	pthread_detach(th);
	clock_deadline_ms(&deadline, STATE_WAIT_MS);
	pthread_mutex_lock(&ls->lock);
	while (!ls->is_done && pthread_cond_timedwait(&ls->done, &ls->lock,
	    &deadline) != ETIMEDOUT)
		;
	is_done = ls->is_done;
	pthread_mutex_unlock(&ls->lock);
	if (is_done) {
		pthread_cond_destroy(&ls->done);
		pthread_mutex_destroy(&ls->lock);
		free(ls->path);
		free(ls);
	}
}

void
auditlog_stop(struct auditlog *log)
{
	if (log == NULL)
		return;
	pthread_mutex_lock(&log->lock);
	if (!log->is_closing) {
		log->is_closing = true;
		clock_deadline_ms(&log->close_by, CLOSE_WAIT_MS);
		pthread_cond_signal(&log->wake);
	}
	pthread_mutex_unlock(&log->lock);
}

void
auditlog_close(struct auditlog *log)
{
	char hash[AUDIT_HEXLEN + 1];
	struct timespec deadline;
	uint64_t seq, handed;
	bool is_done;

	if (log == NULL)
		return;
	auditlog_stop(log);
	pthread_mutex_lock(&log->lock);
	deadline = log->close_by;
	while (!log->is_done && pthread_cond_timedwait(&log->done,
	    &log->lock, &deadline) != ETIMEDOUT)
		;
	is_done = log->is_done;
	if (!is_done)
		log->is_abandoned = true;
	seq = log->stats.seq;
	handed = log->next_seq;
	memcpy(hash, log->head_hash, sizeof(hash));
	pthread_mutex_unlock(&log->lock);
	if (!is_done) {
		/* The writer is stuck in the kernel: leave it (and the memory
		 * it uses) to the process's exit, and say what is missing. */
		write_stalled(log, seq, hash, handed);
		return;
	}
	pthread_join(log->thread, NULL);
	destroy_sync(log);
	free_log(log);
}
