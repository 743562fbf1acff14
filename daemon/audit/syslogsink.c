/*
 * syslogsink: one non-blocking datagram socket to the syslog daemon.
 */
#include "audit/syslogsink.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "base/clock.h"

/* A lost socket is looked for again at most this often. */
#define RECONNECT_MS 1000
/* A full socket is waited for at most this long in each second. */
#define WAIT_BUDGET_MS 100
/* <PRI>, the timestamp, the tag and pid around the message. */
#define HEAD_MAX 128

struct syslogsink {
	struct sockaddr_un addr;
	socklen_t addrlen;
	int fd;			/* -1: not connected */
	int facility;
	char tag[48];
	pid_t pid;
	uint64_t next_try_ms;	/* when to connect again */
	uint64_t window_ms;	/* when the current second began */
	uint64_t waited_ms;	/* waited in it */
	uint64_t sent, dropped;
	char buf[HEAD_MAX + AUDIT_LINE_MAX];
};

static void
disconnect(struct syslogsink *s)
{
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->next_try_ms = clock_mono_ms() + RECONNECT_MS;
}

/* Whether the socket is connected, after one try when it is due. */
static bool
connected(struct syslogsink *s)
{
	if (s->fd != -1)
		return true;
	if (clock_mono_ms() < s->next_try_ms)
		return false;
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1 || connect(s->fd, (struct sockaddr *)&s->addr,
	    s->addrlen) == -1) {
		disconnect(s);
		return false;
	}
	return true;
}

/*
 * Waits for room on the socket, within the budget: a syslog daemon reads
 * in bursts (Linux queues only net.unix.max_dgram_qlen datagrams, 10 by
 * default), so a batch of lines would mostly be dropped without it, and
 * one that has stopped reading costs the writer at most a tenth of its
 * time.  Returns whether there is room.
 */
static bool
wait_room(struct syslogsink *s)
{
	struct pollfd pfd = { s->fd, POLLOUT, 0 };
	uint64_t now = clock_mono_ms(), after;
	int rc;

	if (now - s->window_ms >= 1000) {
		s->window_ms = now;
		s->waited_ms = 0;
	}
	if (s->waited_ms >= WAIT_BUDGET_MS)
		return false;
	rc = poll(&pfd, 1, (int)(WAIT_BUDGET_MS - s->waited_ms));
	after = clock_mono_ms();
	s->waited_ms += after - now;
	return rc == 1 && (pfd.revents & POLLOUT);
}

struct syslogsink *
syslogsink_open(const struct syslogsink_conf *c)
{
	struct syslogsink *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fd = -1;
	s->addr.sun_family = AF_UNIX;
	/* config.c bounds the path to sun_path. */
	snprintf(s->addr.sun_path, sizeof(s->addr.sun_path), "%s", c->path);
	s->addrlen = (socklen_t)sizeof(s->addr);
	s->facility = c->facility;
	snprintf(s->tag, sizeof(s->tag), "%s", c->tag);
	s->pid = getpid();
	(void)connected(s);
	return s;
}

void
syslogsink_send(struct syslogsink *s, int severity, const char *msg,
    size_t len)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (len > AUDIT_LINE_MAX || !connected(s)) {
		s->dropped++;
		return;
	}
	localtime_r(&now, &tm);
	n = snprintf(s->buf, HEAD_MAX, "<%d>%s %2d %02d:%02d:%02d %s[%ld]: ",
	    s->facility | severity, months[tm.tm_mon], tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, s->tag, (long)s->pid);
	if (n < 0 || n >= HEAD_MAX) {
		s->dropped++;
		return;
	}
	memcpy(s->buf + n, msg, len);
	for (;;) {
		if (send(s->fd, s->buf, (size_t)n + len, MSG_DONTWAIT |
		    MSG_NOSIGNAL) >= 0) {
			s->sent++;
			return;
		}
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_room(s))
			continue;
		break;
	}
	s->dropped++;
	/* The syslog daemon went away (or restarted on a new socket):
	 * connect again later.  A full socket is kept. */
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS &&
	    errno != EMSGSIZE && errno != EINTR)
		disconnect(s);
}

void
syslogsink_counts(const struct syslogsink *s, uint64_t *sent,
    uint64_t *dropped)
{
	*sent = s->sent;
	*dropped = s->dropped;
}

void
syslogsink_close(struct syslogsink *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	free(s);
}
