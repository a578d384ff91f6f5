/*
 * log.h - leveled logging to stderr: timestamped lines, or lines with a
 * syslog priority prefix when stderr is the journal.
 */
#ifndef IPCD_LOG_H
#define IPCD_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Messages above level are dropped.  Default: LOG_LVL_WARN (quiet). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *s);

/* The name log_level_parse accepts for level. */
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* A printable, bounded sample of untrusted bytes for a log line. */
const char *log_sample(const void *data, size_t len, char *buf, size_t buflen);

#endif
