/*
 * durable_env.h - the world the durable-state tests share: the test's
 * harness, its state directory and the daemon's stderr file, and ipcd
 * started on that directory with an fsync policy.
 *
 * Check runs each test in its own process (fork mode), so these globals are
 * that one test's, set by durable_setup before it and released by
 * durable_teardown after it.
 */
#ifndef IPCD_TEST_DURABLE_ENV_H
#define IPCD_TEST_DURABLE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "clients.h"

#define DURABLE_PATH_MAX (sizeof(((struct harness *)0)->dir) + 16)

extern struct harness h;
extern char state[DURABLE_PATH_MAX];     /* the state directory: h.dir/state */
extern char errlog[DURABLE_PATH_MAX];    /* the daemon's stderr: h.dir/ipcd.err */
extern const ipc_queue_attr durable;     /* a durable queue's attributes, nothing else set */

/* The test case's setup and teardown: h, state and errlog made, then removed. */
void durable_setup(void);
void durable_teardown(void);

/*
 * Start ipcd on the test's state directory with fsync policy ("always",
 * "everysec", "no"), stderr appended to errlog; fail the test if it does not
 * serve within HARNESS_HANG_MS.
 */
void durable_start(const char *policy);

/* Does the daemon's stderr contain s? */
bool durable_logged(const char *s);

/* The path of the one log file in the state directory; fail the test if there is none. */
void durable_log_path(char *out, size_t outlen);

/* The size of path in bytes, or -1. */
off_t durable_file_size(const char *path);

#endif
