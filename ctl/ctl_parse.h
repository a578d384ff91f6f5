/*
 * ctl_parse.h - strict parsing of ipcctl's numeric arguments.
 *
 * Every parser takes the whole string or nothing: no sign where none is
 * meant, no trailing bytes, no silent wrap-around.  Each returns 0, or
 * -EINVAL for a malformed value and -ERANGE for one out of range, leaving
 * *out untouched on failure.
 */
#ifndef CTL_PARSE_H
#define CTL_PARSE_H

#include <stdint.h>

/* A decimal count from 0 to UINT64_MAX. */
int ctl_parse_u64(const char *s, uint64_t *out);

/*
 * A size in bytes: a decimal count optionally followed by one of K, M, G
 * (binary multiples: 1K is 1024 bytes), in either case, with an optional
 * trailing "B" or "iB" ("4K", "4KiB", "4kb").
 */
int ctl_parse_size(const char *s, uint64_t *out);

/* Permission bits in octal ("600", "0640"), at most 07777. */
int ctl_parse_mode(const char *s, unsigned *out);

/* A timeout in milliseconds: 0 to INT_MAX, or -1 for no limit. */
int ctl_parse_timeout(const char *s, int *out);

/*
 * An interval in seconds, with up to three decimals ("1", "0.5", "2.25"),
 * from 0.1 to 86400 seconds; *out in milliseconds.
 */
int ctl_parse_seconds(const char *s, int *out);

#endif
