/*
 * log.c - leveled logging to stderr, one line per message.  The level is
 * process-wide: the daemon has one log.
 *
 * When stderr is connected to the journal (systemd sets $JOURNAL_STREAM to
 * the device and inode of that stream), each line starts with its syslog
 * priority as "<N>" and carries no timestamp, since the journal adds its own;
 * otherwise lines carry a timestamp and the level's name.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level log_level = LOG_LVL_WARN;
static int log_to_journal = -1;      /* -1: not decided yet */

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_priorities[] = { 3, 4, 6, 7 };   /* LOG_ERR ... LOG_DEBUG */

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

/* Is stderr the stream $JOURNAL_STREAM names? */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (!env || sscanf(env, "%llu:%llu%n", &dev, &ino, &end) != 2 || env[end])
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > log_level)
		return;
	if (log_to_journal < 0)
		log_to_journal = stderr_is_journal();
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (log_to_journal) {
		fprintf(stderr, "<%d>%s\n", level_priorities[level], line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld ipcd[%s]: %s\n", stamp, ts.tv_nsec / 1000000L,
		level_names[level], line);
}

const char *log_sample(const void *data, size_t len, char *buf, size_t buflen)
{
	const unsigned char *p = data;
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < buflen; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			buf[o++] = (char)p[i];
		else
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", p[i]);
	}
	buf[o < buflen ? o : buflen - 1] = '\0';
	return buf;
}
