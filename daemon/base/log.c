/*
 * log: stderr or syslog.  The destination is process-wide by nature (one
 * stderr, one syslog connection); it is set once before threads start.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "base/log.h"

struct log_sink {
	unsigned to;
	enum log_level max_level;
};

/* Written only by log_setup() before any thread exists. */
static struct log_sink sink = { LOG_TO_STDERR, LOG_LEVEL_INFO };

void
log_setup(unsigned to, enum log_level max_level)
{
	sink.to = to;
	sink.max_level = max_level;
	if (to & LOG_TO_SYSLOG)
		openlog("cordond", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
	    LOG_DEBUG };
	static const char *const tag[] = { "error", "warning", "info",
	    "debug" };
	char msg[1024];
	va_list ap;

	if (level > sink.max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sink.to & LOG_TO_STDERR)
		fprintf(stderr, "cordond: %s: %s\n", tag[level], msg);
	if (sink.to & LOG_TO_SYSLOG)
		syslog(prio[level], "%s", msg);
}
