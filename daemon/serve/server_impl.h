/*
 * server_impl: what server.c (workers, threads, lifecycle),
 * server_udp.c and server_tcp.c share.  Private to those three: the
 * contract is server.h.
 */
#ifndef CORDON_SERVER_IMPL_H
#define CORDON_SERVER_IMPL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "base/dname.h"
#include "base/netaddr.h"
#include "serve/server.h"

#define BATCH		32		/* datagrams per recvmmsg */
#define ROUNDS		8		/* batches per readable event */
#define RBUF		4096		/* largest query we read over UDP */
#define SBUF		65535		/* largest answer */
#define CONN_PENDING	64		/* forwarded queries per connection */
#define CONN_OUTBUF	(256 * 1024)	/* unsent bytes before we pause */
#define UDP_RCVBUF	(4 * 1024 * 1024)

struct worker;

struct udp_sock {
	struct worker *w;
	int fd;
	struct event *ev;
	bool is_wildcard;	/* answers need the local address set */
};

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message. */
#define CTL_SIZE CMSG_SPACE(sizeof(struct in6_pktinfo))

struct tcpconn {
	struct worker *w;
	struct tcpconn *prev, *next;	/* the worker's connections */
	struct bufferevent *bev;	/* NULL once closed */
	struct client client;
	unsigned pending;		/* forwarded queries not answered */
	bool eof;			/* client finished sending */
};

struct worker {
	struct server *s;
	unsigned index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct udp_sock *udp;
	struct evconnlistener **tcp;
	size_t nsock;
	int wake[2];
	struct event *wake_ev;
	struct query_env *env;
	struct event *publish_ev;	/* once a second */
	_Atomic uint64_t beat_ms;	/* its last turn: the loop is alive */
	pthread_mutex_t pub_lock;	/* guards pub and the flush list */
	struct server_stats pub;
	uint8_t (*flushes)[DNAME_MAXWIRE + 1];	/* [0] = 0: everything,
						   1: the name after it */
	size_t nflushes;
	struct tcpconn conns;		/* sentinel */
	size_t nconns, max_conns;
	struct mmsghdr rmsg[BATCH], smsg[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	struct sockaddr_storage raddr[BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[CTL_SIZE];
	} rctl[BATCH], sctl[BATCH];
	uint8_t *rbuf, *sbuf, *tcpbuf;
};

struct server {
	const struct config *cfg;
	struct policy_slot *slot;
	struct dnstap *tap;		/* NULL: no [log] dnstap */
	struct worker *workers;
	unsigned nworkers;
};

/* ---- server_udp.c ---- */

/* Whether na is 0.0.0.0 or ::, where answers need the local address. */
bool udp_is_wildcard(const struct netaddr *na);
/* Asks fd (bound to a wildcard of family) for each query's local
 * address.  0, or -1. */
int udp_want_pktinfo(int fd, int family);
/* A struct udp_sock's socket is readable: reads, answers in batches. */
void udp_on_readable(evutil_socket_t fd, short what, void *arg);
/* Sends an answer made later to a UDP client. */
void udp_send(const struct client *cl, const uint8_t *msg, size_t len);

/* ---- server_tcp.c ---- */

/* The listener of worker arg accepted fd. */
void tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg);
/* Closes c (freed once no query of it is pending). */
void tcp_conn_close(struct tcpconn *c);
/* The query hooks for a TCP client (query.h's struct query_io). */
void tcp_send(const struct client *cl, const uint8_t *msg, size_t len);
void tcp_hold(const struct client *cl);
void tcp_done(const struct client *cl);
bool tcp_gone(const struct client *cl);

#endif
