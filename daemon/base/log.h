/*
 * log: the operational log (not the audit log).  Messages go to stderr in
 * the foreground and to syslog otherwise.  The destination is chosen once
 * by main() before any thread starts and never changes afterwards.
 */
#ifndef CORDON_LOG_H
#define CORDON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

#define LOG_TO_STDERR	0x1
#define LOG_TO_SYSLOG	0x2

/* Call once, before threads start: where messages go (LOG_TO_STDERR,
 * LOG_TO_SYSLOG or both: a daemon starting in the background writes to
 * both, so its parent can show the start-up messages and syslog keeps
 * them all), and the most verbose level written. */
void log_setup(unsigned to, enum log_level max_level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
