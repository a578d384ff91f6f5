/*
 * clients.h - what the integration tests share on top of harness.h: calls
 * through libipcclient that must succeed, reading keys of the daemon's
 * introspection maps, forking and a child's way to fail, pipes between
 * processes (a one-byte signal, a report read within a bound), a child
 * parked in a get, whether the daemon still serves, and its memory use.
 *
 * Helpers named *_ok fail the test (a Check assertion) when the call does
 * not succeed; in a forked child use the plain library calls and child_fail.
 */
#ifndef IPCD_TEST_CLIENTS_H
#define IPCD_TEST_CLIENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "ipcclient.h"

/* Assert that an ipc_* call returned want, naming both errors on failure. */
#define ck_assert_ipc(expr, want) do { \
	long r_ = (expr), w_ = (want); \
	ck_assert_msg(r_ == w_, "%s = %ld (%s), want %ld (%s)", #expr, \
		      r_, ipc_strerror((int)r_), w_, ipc_strerror((int)w_)); \
} while (0)

/* In a forked child: say what went wrong on stderr and _exit(1). */
__attribute__((format(printf, 1, 2), noreturn))
void child_fail(const char *fmt, ...);

/* fork(), failing the test if it cannot: the child's pid, or 0 in the child. */
pid_t fork_ok(void);

ipc_client *connect_ok(const char *sock);

/*
 * ipc_connect(sock, c), tried again for up to HARNESS_HANG_MS while it fails (as while
 * the daemon counts out a client that just left): its last result.
 */
int connect_retry(const char *sock, ipc_client **c);

ipc_queue *open_ok(ipc_client *c, const char *name, int flags, const ipc_queue_attr *attr);

/* ipc_array_open that must succeed: the array. */
ipc_array *array_open_ok(ipc_client *c, const char *name, int flags, char tc, size_t length);

/* Get one message within timeout_ms and check it equals the string want. */
void get_expect(ipc_queue *q, const char *want, int timeout_ms);

int put_str(ipc_queue *q, const char *s, int timeout_ms);

/*
 * An unsigned key of the daemon's status map, of q's stat map, or a
 * negative errno (-ENOENT when the key is missing).
 */
long status_key(ipc_client *c, const char *key);
long stat_key(ipc_queue *q, const char *key);

/*
 * key of the first connection of process pid in the daemon's clients list:
 * a number, or for a list ("open", "held") its length; -ENOENT if none.
 */
long client_key(ipc_client *c, pid_t pid, const char *key);

/* Wait up to timeout_ms until stat key of q equals want; fail the test if not. */
void wait_stat(ipc_queue *q, const char *key, long want, int timeout_ms);

/* Wait up to timeout_ms until key of the daemon's status is want; fail the test if not. */
void wait_status(ipc_client *c, const char *key, long want, int timeout_ms);

/* Wait up to timeout_ms until the daemon counts want clients; fail the test if not. */
void wait_clients(ipc_client *c, long want, int timeout_ms);

/*
 * Wait up to timeout_ms until process pid's connection has want requests
 * parked in the daemon (a get, put, recv or join waiting); fail the test if
 * not.  How a test knows another process waits before it acts.
 */
void wait_waiting(ipc_client *c, pid_t pid, long want, int timeout_ms);

/* The same without assertions, for a child: the last count seen. */
long poll_waiting(ipc_client *c, pid_t pid, long want, int timeout_ms);

/*
 * In a forked child: wait until the parent has one request parked in the
 * daemon on sock, through a connection of its own.  0, or -1 if it never had.
 */
int child_wait_parent_parked(const char *sock);

/* Wait up to timeout_ms for one byte on fd and read it: 0, or -1. */
int wait_byte(int fd, int timeout_ms);

/* A pipe whose ends the caller closes. */
void pipe_ok(int fds[2]);

/* Read exactly len bytes from fd within timeout_ms: 0, or -1 on timeout or EOF. */
int read_within(int fd, void *buf, size_t len, int timeout_ms);

/* Write all of buf to fd; in a forked child (child_fail when it cannot). */
void write_all(int fd, const void *buf, size_t len);

/* What a blocked child reports: the call's result and how long it took. */
struct outcome {
	int r;
	int64_t ms;
};

/*
 * Fork a child that connects to sock, opens the queue watch is a handle of,
 * blocks in a get and writes its struct outcome to a pipe; return its pid
 * and the pipe's read end (*rfd, the caller closes it) once the get is
 * parked (watch's stat "getters" is 1).
 */
pid_t start_blocked_getter(const char *sock, ipc_queue *watch, int *rfd);

/*
 * Fork and exec argv[0] with argv, its stderr appended to errpath (created
 * 0600) and each "NAME=value" of envs (NULL: none) set in the child; the
 * child's pid.  How a test starts a daemon whose messages it reads.
 */
pid_t spawn_logged(const char *const *argv, const char *errpath, const char *const *envs);

/* Assert that h's daemon still runs. */
void daemon_still_running(struct harness *h);

/* A fresh client of sock can still create queue qname, put and get: the daemon serves. */
void daemon_serves(const char *sock, const char *qname);

/* Resident memory of process pid in KiB (VmRSS), or -1. */
long rss_kib(pid_t pid);

/* The most resident memory process pid has had, in KiB (VmHWM), or -1. */
long hwm_kib(pid_t pid);

/* The test runs as root (it may setuid to another user). */
int running_as_root(void);

#endif
