/*
 * control: the Unix control socket and the HTTP endpoints.  The socket
 * is created without following a link at its path, mode 0660 from the
 * start (umask, not a chmod after bind), owned by [server] user; a peer
 * is served only when its credentials (SO_PEERCRED) say root, the
 * service user or the daemon's own user.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "serve/control.h"
#include "base/dname.h"
#include "base/log.h"
#include "base/netaddr.h"

#define CTL_LINE_MAX 512
#define CTL_IDLE_S 30

struct ctl_conn {
	struct control *c;
	struct ctl_conn *prev, *next;
	struct bufferevent *bev;	/* NULL once the client is gone */
	bool waiting;			/* a reload will answer it */
	bool replied;
};

struct control {
	struct event_base *base;
	struct control_ops ops;
	struct evhttp *http;
	struct evconnlistener *unix_listener;
	char *socket_path;
	uid_t user_uid;			/* [server] user's, or (uid_t)-1 */
	struct ctl_conn conns;		/* sentinel */
};

static void
conn_free(struct ctl_conn *cc)
{
	cc->prev->next = cc->next;
	cc->next->prev = cc->prev;
	if (cc->bev != NULL)
		bufferevent_free(cc->bev);
	free(cc);
}

/* Closes once the reply is out. */
static void
on_ctl_drained(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *cc = arg;

	if (cc->replied)
		conn_free(cc);
}

static void
reply(struct ctl_conn *cc, const char *fmt, const char *text)
{
	cc->replied = true;
	bufferevent_disable(cc->bev, EV_READ);
	evbuffer_add_printf(bufferevent_get_output(cc->bev), fmt, text);
}

static void
on_reload_done(void *ctx, bool ok, const char *message)
{
	struct ctl_conn *cc = ctx;

	cc->waiting = false;
	if (cc->bev == NULL) {
		conn_free(cc);		/* the client left meanwhile */
		return;
	}
	reply(cc, ok ? "ok %s\n" : "error: %s\n", message);
}

static void
do_flush(struct ctl_conn *cc, const char *arg)
{
	struct evbuffer *out = bufferevent_get_output(cc->bev);
	struct evbuffer *msg = evbuffer_new();
	int rc;

	if (msg == NULL)
		return;
	rc = cc->c->ops.flush(cc->c->ops.arg, *arg ? arg : NULL, msg);
	evbuffer_add_printf(out, rc == 0 ? "ok " : "error: ");
	evbuffer_add_buffer(out, msg);
	evbuffer_add(out, "\n", 1);
	cc->replied = true;
	bufferevent_disable(cc->bev, EV_READ);
	evbuffer_free(msg);
}

static void
run_command(struct ctl_conn *cc, char *line)
{
	char *arg = line + strcspn(line, " \t");

	if (*arg != '\0')
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	if (strcmp(line, "reload") == 0) {
		cc->waiting = true;
		bufferevent_disable(cc->bev, EV_READ);
		cc->c->ops.reload(cc->c->ops.arg, "control", on_reload_done,
		    cc);
	} else if (strcmp(line, "stats") == 0) {
		struct evbuffer *out = bufferevent_get_output(cc->bev);

		cc->replied = true;
		bufferevent_disable(cc->bev, EV_READ);
		evbuffer_add_printf(out, "ok\n");
		cc->c->ops.metrics(cc->c->ops.arg, out);
	} else if (strcmp(line, "flush") == 0)
		do_flush(cc, arg);
	else
		reply(cc, "error: unknown command \"%s\" (reload, stats, "
		    "flush [NAME])\n", line);
}

static void
on_ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;

	if (cc->replied || cc->waiting)
		return;
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_ANY);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CTL_LINE_MAX)
			reply(cc, "error: %s\n", "line too long");
		return;
	}
	run_command(cc, line);
	free(line);
}

static void
on_ctl_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn *cc = arg;

	if (cc->waiting) {
		/* The reload still answers to cc: free it then. */
		bufferevent_free(cc->bev);
		cc->bev = NULL;
		return;
	}
	conn_free(cc);
}

/* Root, the service user and whoever the daemon runs as may command it;
 * anyone else is told so and logged. */
static bool
peer_allowed(struct control *c, int fd, struct ctl_conn *cc)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[96];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		reply(cc, "error: %s\n", "cannot read the peer's credentials");
		return false;
	}
	if (cred.uid == 0 || cred.uid == geteuid() ||
	    (c->user_uid != (uid_t)-1 && cred.uid == c->user_uid))
		return true;
	log_warn("control socket: refused uid %ld (pid %ld)", (long)cred.uid,
	    (long)cred.pid);
	snprintf(msg, sizeof(msg), "permission denied for uid %ld (root or "
	    "the service user only)", (long)cred.uid);
	reply(cc, "error: %s\n", msg);
	return false;
}

static void
on_ctl_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control *c = arg;
	struct timeval idle = { CTL_IDLE_S, 0 };
	struct ctl_conn *cc = calloc(1, sizeof(*cc));

	if (cc == NULL) {
		close(fd);
		return;
	}
	cc->c = c;
	cc->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cc->bev == NULL) {
		close(fd);
		free(cc);
		return;
	}
	cc->next = c->conns.next;
	cc->prev = &c->conns;
	c->conns.next->prev = cc;
	c->conns.next = cc;
	bufferevent_setcb(cc->bev, on_ctl_read, on_ctl_drained, on_ctl_event,
	    cc);
	bufferevent_set_timeouts(cc->bev, &idle, &idle);
	if (!peer_allowed(c, fd, cc))
		return;
	bufferevent_enable(cc->bev, EV_READ);
}

static int
open_unix(struct control *c, const char *path, const char *user, char *err,
    size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct passwd *pw = NULL;
	struct stat st;
	mode_t old;
	int fd = -1, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "[control] socket: path too long");
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (user[0] != '\0' && (pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "[control] socket %s: no user \"%s\"",
		    path, user);
		return -1;
	}
	c->user_uid = pw != NULL ? pw->pw_uid : (uid_t)-1;
	/* Only a socket left by an earlier run is removed: never a file
	 * someone put there, never what a link points to. */
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode) || !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "[control] socket %s: %s", path,
			    S_ISLNK(st.st_mode) ? "is a symbolic link (not "
			    "followed)" : "exists and is not a socket");
			return -1;
		}
		(void)unlink(path);
	} else if (errno != ENOENT)
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	/* rw for owner and group from the first moment: a chmod after
	 * bind would leave a window and follow a link planted meanwhile */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || listen(fd, 16) == -1)
		goto fail;
	if (pw != NULL && fchownat(AT_FDCWD, path, pw->pw_uid, pw->pw_gid,
	    AT_SYMLINK_NOFOLLOW) == -1)
		goto fail;
	c->unix_listener = evconnlistener_new(c->base, on_ctl_accept, c,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (c->unix_listener == NULL)
		goto fail;
	c->socket_path = strdup(path);
	return 0;
fail:
	snprintf(err, errlen, "[control] socket %s: %s", path,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static void
on_http(struct evhttp_request *req, void *arg)
{
	struct control *c = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (strcmp(uri, "/metrics") == 0) {
		evhttp_add_header(h, "Content-Type",
		    "text/plain; version=0.0.4; charset=utf-8");
		c->ops.metrics(c->ops.arg, out);
		evhttp_send_reply(req, HTTP_OK, "OK", NULL);
	} else if (strcmp(uri, "/healthz") == 0) {
		bool ok = c->ops.healthy(c->ops.arg, out);

		evhttp_add_header(h, "Content-Type", "text/plain");
		if (ok)
			evbuffer_add_printf(out, "ok\n");
		evhttp_send_reply(req, ok ? HTTP_OK : 503,
		    ok ? "OK" : "Service Unavailable", NULL);
	} else {
		evbuffer_add_printf(out, "not found: try /metrics or "
		    "/healthz\n");
		evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", NULL);
	}
}

static int
open_http(struct control *c, const char *text, char *err, size_t errlen)
{
	struct netaddr na;
	char host[64];
	const char *why;

	if (netaddr_parse(text, 9153, &na, &why) == -1) {
		snprintf(err, errlen, "[control] http: \"%s\": %s", text, why);
		return -1;
	}
	netaddr_ntop((struct sockaddr *)&na.ss, host, sizeof(host));
	c->http = evhttp_new(c->base);
	if (c->http == NULL)
		goto fail;
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(c->http, 10);
	evhttp_set_gencb(c->http, on_http, c);
	if (evhttp_bind_socket_with_handle(c->http, host,
	    netaddr_port((struct sockaddr *)&na.ss)) == NULL)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "[control] http %s: cannot listen: %s", text,
	    strerror(errno));
	return -1;
}

struct control *
control_new(struct event_base *base, const char *http,
    const char *socket_path, const char *user,
    const struct control_ops *ops, char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->base = base;
	c->ops = *ops;
	c->conns.next = c->conns.prev = &c->conns;
	if ((http[0] != '\0' && open_http(c, http, err, errlen) == -1) ||
	    (socket_path[0] != '\0' &&
	    open_unix(c, socket_path, user, err, errlen) == -1)) {
		control_free(c);
		return NULL;
	}
	return c;
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	while (c->conns.next != &c->conns)
		conn_free(c->conns.next);
	if (c->unix_listener != NULL)
		evconnlistener_free(c->unix_listener);
	if (c->socket_path != NULL) {
		(void)unlink(c->socket_path);
		free(c->socket_path);
	}
	if (c->http != NULL)
		evhttp_free(c->http);
	free(c);
}
