/*
 * syslogsink: copies of audit lines for the local syslog daemon
 * (rsyslog, syslog-ng, journald), which ships them to the collectors an
 * operator already runs ([log] syslog, PRODUCT.md "Logging to
 * collectors").  One connected AF_UNIX datagram socket, as syslog(3)
 * uses, but its waits are bounded: a full socket is waited for at most
 * 100 ms in any second, after which a message the socket cannot take (a
 * syslog daemon that is far behind or gone) is dropped and counted, so
 * the audit writer never stalls on a collector; the socket is connected
 * again, at most once a second, after the daemon restarts.  The file
 * stays the record; seq and prev in each copy show a collector what it
 * missed.
 *
 * A message is what the local socket expects, as syslog(3) writes it
 * (RFC 3164 without a hostname; the syslog daemon adds it):
 *   <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG
 * One owner (the audit writer thread); not thread-safe.
 */
#ifndef CORDON_SYSLOGSINK_H
#define CORDON_SYSLOGSINK_H

#include <stddef.h>
#include <stdint.h>

struct syslogsink_conf {
	const char *path;	/* the socket, usually /dev/log */
	int facility;		/* LOG_DAEMON, LOG_LOCAL0, ... */
	const char *tag;	/* the program name in each message */
};

struct syslogsink;

/* Returns a sink, or NULL when out of memory.  A socket that is not
 * there yet is not an error: messages are dropped until it is. */
struct syslogsink *syslogsink_open(const struct syslogsink_conf *c);

/* Sends one message (no newline) with severity LOG_INFO, LOG_NOTICE,
 * ...; waits only within the budget above. */
void syslogsink_send(struct syslogsink *s, int severity, const char *msg,
    size_t len);

/* Messages the socket took, and those dropped since open. */
void syslogsink_counts(const struct syslogsink *s, uint64_t *sent,
    uint64_t *dropped);

void syslogsink_close(struct syslogsink *s);

#endif
