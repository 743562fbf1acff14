/*
 * server_udp: a worker's UDP sockets.  Queries are read and answered in
 * batches (recvmmsg and sendmmsg); on a wildcard address each answer
 * leaves from the address its query was sent to.
 */
#include <errno.h>
#include <string.h>

#include "serve/server_impl.h"

bool
udp_is_wildcard(const struct netaddr *na)
{
	static const uint8_t zero[16];

	if (na->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&na->ss)->sin_addr.s_addr ==
		    INADDR_ANY;
	return memcmp(&((const struct sockaddr_in6 *)&na->ss)->sin6_addr,
	    zero, 16) == 0;
}

/* A socket bound to 0.0.0.0 or :: learns each query's local address, so
 * the answer leaves from the address the client asked (a client drops
 * answers from any other). */
int
udp_want_pktinfo(int fd, int family)
{
	int on = 1;

	if (family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
	    sizeof(on));
}

static void
get_pktinfo(struct msghdr *mh, struct client *c)
{
	struct cmsghdr *cm;

	c->has_local = false;
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			memcpy(c->local, &pi.ipi_addr, 4);
			c->ifindex = (unsigned)pi.ipi_ifindex;
			c->has_local = true;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			memcpy(c->local, &pi.ipi6_addr, 16);
			c->ifindex = pi.ipi6_ifindex;
			c->has_local = true;
		}
	}
}

/* Sets mh's control data to send from c's local address. */
static void
put_pktinfo(struct msghdr *mh, const struct client *c, void *ctl)
{
	struct cmsghdr *cm;

	if (!c->has_local) {
		mh->msg_control = NULL;
		mh->msg_controllen = 0;
		return;
	}
	memset(ctl, 0, CTL_SIZE);
	mh->msg_control = ctl;
	cm = ctl;
	if (c->addr.ss_family == AF_INET) {
		struct in_pktinfo pi = { 0 };

		memcpy(&pi.ipi_spec_dst, c->local, 4);
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		memcpy(&pi.ipi6_addr, c->local, 16);
		pi.ipi6_ifindex = c->ifindex;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
}

static void
send_batch(struct worker *w, int fd, unsigned n)
{
	unsigned sent = 0;

	while (sent < n) {
		int r = sendmmsg(fd, w->smsg + sent, n - sent, 0);

		if (r > 0) {
			sent += (unsigned)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* socket full: UDP may drop */
		sent++;			/* this one failed; go on */
	}
}

void
udp_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *u = arg;
	struct worker *w = u->w;
	unsigned round, i;
	int n;

	query_env_refresh(w->env);
	for (round = 0; round < ROUNDS; round++) {
		unsigned nsend = 0;

		for (i = 0; i < BATCH; i++) {
			w->riov[i].iov_base = w->rbuf + (size_t)i * RBUF;
			w->riov[i].iov_len = RBUF;
			memset(&w->rmsg[i].msg_hdr, 0, sizeof(struct msghdr));
			w->rmsg[i].msg_hdr.msg_name = &w->raddr[i];
			w->rmsg[i].msg_hdr.msg_namelen = sizeof(w->raddr[i]);
			w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
			w->rmsg[i].msg_hdr.msg_iovlen = 1;
			if (u->is_wildcard) {
				w->rmsg[i].msg_hdr.msg_control = &w->rctl[i];
				w->rmsg[i].msg_hdr.msg_controllen = CTL_SIZE;
			}
		}
		n = recvmmsg(fd, w->rmsg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < (unsigned)n; i++) {
			struct client c;
			uint8_t *out = w->sbuf + (size_t)nsend * SBUF;
			size_t len;

			memcpy(&c.addr, &w->raddr[i], sizeof(c.addr));
			c.addrlen = w->rmsg[i].msg_hdr.msg_namelen;
			c.is_tcp = false;
			c.fd = fd;
			c.conn = NULL;
			c.has_local = false;
			if (u->is_wildcard)
				get_pktinfo(&w->rmsg[i].msg_hdr, &c);
			len = query_handle(w->env, &c, w->riov[i].iov_base,
			    w->rmsg[i].msg_len, out, SBUF);
			if (len == 0)
				continue;
			w->siov[nsend].iov_base = out;
			w->siov[nsend].iov_len = len;
			memset(&w->smsg[nsend].msg_hdr, 0,
			    sizeof(struct msghdr));
			w->smsg[nsend].msg_hdr.msg_name = &w->raddr[i];
			w->smsg[nsend].msg_hdr.msg_namelen = c.addrlen;
			w->smsg[nsend].msg_hdr.msg_iov = &w->siov[nsend];
			w->smsg[nsend].msg_hdr.msg_iovlen = 1;
			put_pktinfo(&w->smsg[nsend].msg_hdr, &c, &w->sctl[nsend]);
			nsend++;
		}
		send_batch(w, fd, nsend);
		if (n < BATCH)
			return;
	}
}

void
udp_send(const struct client *cl, const uint8_t *msg, size_t len)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CTL_SIZE];
	} ctl;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { 0 };

	mh.msg_name = (void *)&cl->addr;
	mh.msg_namelen = cl->addrlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	put_pktinfo(&mh, cl, &ctl);
	(void)sendmsg(cl->fd, &mh, MSG_DONTWAIT);
}
