/*
 * harness.h - what the integration tests share: a temporary directory per
 * test, the real ipcd started and stopped in it, child processes waited for
 * with a bound, and a raw socket for frames libipcclient would never send.
 *
 * Every helper that waits does so with a bound, so a hang fails the test
 * instead of blocking the suite.  Failures inside the helpers are Check
 * assertion failures naming what went wrong.
 */
#ifndef IPCD_TEST_HARNESS_H
#define IPCD_TEST_HARNESS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>
#include <check.h>
#include <msgpack.h>

struct proto_reply;

/*
 * The bound of a wait that ends as soon as the state it waits for is there:
 * a child's exit, the daemon's start, a stat reaching a value.  It only
 * matters when something hangs, so it is generous: on a machine loaded to
 * 16 on 2 CPUs, under a sanitizer, starting ipcd has taken over 5 s.
 */
#define HARNESS_HANG_MS 60000

/* The least per-test timeout harness_tcase sets: twice HARNESS_HANG_MS. */
#define HARNESS_TCASE_MIN_S 120

/* One test's world: its directory and the daemon serving in it. */
struct harness {
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];  /* dir/ipcd.sock */
	pid_t pid;          /* the running ipcd, or 0 */
};

/*
 * Run suite s with every test's directory under one fresh root, removed at
 * the end (kept when IPCD_TEST_KEEP is set).  Check's fork mode kills a
 * failed test's process group, daemons included; removing the root cleans up
 * what their teardown could not.  Returns the exit status for main().
 */
int harness_main(Suite *s);

/*
 * Add to s a test case name whose tests each run between setup and
 * teardown in their own process and fail after timeout seconds (at least
 * HARNESS_TCASE_MIN_S; Check multiplies it by $CK_TIMEOUT_MULTIPLIER).
 */
TCase *harness_tcase(Suite *s, const char *name, int timeout,
		     void (*setup)(void), void (*teardown)(void));

/* Make h's directory; h->pid is 0.  h is the test's one harness until cleanup. */
void harness_setup(struct harness *h);

/* Stop the daemon if it still runs and remove the directory. */
void harness_cleanup(struct harness *h);

/* The ipcd executable: $IPCD_BIN, else the one built with the tests. */
const char *harness_ipcd_bin(void);

/*
 * Start ipcd on h->sock with the extra arguments args (NULL-terminated, or
 * NULL), and wait until it accepts connections.  Fails the test if it exits
 * or does not accept within HARNESS_HANG_MS.
 */
void harness_start(struct harness *h, const char *const *args);

/* Fork and exec ipcd on sock with args; do not wait.  Returns its pid. */
pid_t harness_spawn(const char *sock, const char *const *args);

/* Wait until something accepts on sock; 0, or -ETIMEDOUT after timeout_ms. */
int harness_wait_socket(const char *sock, int timeout_ms);

/*
 * SIGTERM the daemon and wait up to HARNESS_HANG_MS for it; if it is still there,
 * SIGKILL it.  Returns its wait status, or -1 if it had to be killed.
 */
int harness_stop(struct harness *h);

/* Fail the test, saying how, if the daemon has exited or been killed. */
void harness_check_daemon(struct harness *h);

/* SIGKILL the daemon and reap it, as a crash would. */
void harness_kill(struct harness *h);

/*
 * Wait up to timeout_ms for child pid.  Returns its wait status, or -1 if
 * it was still running (it is then SIGKILLed and reaped).
 */
int harness_wait_child(pid_t pid, int timeout_ms);

/*
 * Like harness_wait_child, but fail the test unless pid exits with 0.  When
 * the test's daemon died meanwhile, say that first: it explains the child.
 */
void harness_expect_child_ok(pid_t pid, int timeout_ms, const char *what);

/*
 * Run the program argv[0] (a path) with argv, $IPCD_SOCKET set to sock
 * (when not NULL), and collect what it writes on stdout: *out is from
 * malloc and NUL-terminated.  Waits up to timeout_ms for it to finish.
 * Returns its wait status, or -1 if it had to be killed.
 */
int harness_run(const char *sock, const char *const *argv, char **out, int timeout_ms);

/* Monotonic milliseconds. */
int64_t harness_now_ms(void);

/* Sleep ms milliseconds. */
void harness_sleep_ms(int ms);

/* Does the file at path (its first MiB: a daemon's log) contain s? */
bool harness_file_has(const char *path, const char *s);

/* A path inside the test's directory. */
void harness_path(const struct harness *h, const char *name, char *out, size_t outlen);

/*
 * Raw-socket helpers.  They return 0 (or an fd) on success and a negative
 * errno on failure; they never fail the test themselves, so a test can
 * assert on the daemon's exact behaviour.
 */
int raw_connect(const char *sock);

/* Send len bytes exactly as given. */
int raw_send(int fd, const void *buf, size_t len);

/* Send one frame: the 4-byte length of body, then body. */
int raw_send_frame(int fd, const void *body, size_t len);

/*
 * Read one frame within timeout_ms.  *body is from malloc (free it).
 * -ETIMEDOUT: nothing complete arrived; -ECONNRESET: the daemon closed the
 * connection (cleanly or not) before a whole frame.
 */
int raw_recv_frame(int fd, char **body, size_t *len, int timeout_ms);

/*
 * The descriptor the daemon passed with the last frame read by these
 * helpers that carried one (the caller's to close), or -1.
 */
int raw_take_fd(void);

/*
 * Wait up to timeout_ms for the daemon to close fd, discarding what it
 * sends.  0 when it closed, -ETIMEDOUT when it did not.
 */
int raw_wait_closed(int fd, int timeout_ms);

/*
 * Wait up to timeout_ms for the daemon to close fd, reading nothing: for a
 * client that must be cut off for not reading (reading would drain what
 * the daemon holds for it).  0 when it closed, -ETIMEDOUT when it did not,
 * -EBADF if fd is not open.
 */
int raw_wait_hangup(int fd, int timeout_ms);

/*
 * Start the body of a request [op, id, args...] in sb, announcing nargs
 * arguments for the caller to pack on pk next; finish with raw_end.
 */
void raw_begin(msgpack_sbuffer *sb, msgpack_packer *pk, unsigned op, uint32_t id,
	       unsigned nargs);

/* Send sb as one frame and destroy it; what raw_send_frame returned. */
int raw_end(int fd, msgpack_sbuffer *sb);

/*
 * Read one frame within timeout_ms and decode it as a reply or push into
 * *rep, which borrows from *u and *body.  *u is initialised here: destroy it
 * and free *body afterwards, whatever the result.  0, raw_recv_frame's
 * error, or -EPROTO when the frame is not a well-formed reply.
 */
int raw_recv_reply(int fd, msgpack_unpacked *u, struct proto_reply *rep, char **body,
		   int timeout_ms);

/*
 * Unlike the helpers above, the next two fail the test when they do not
 * succeed.  raw_call: raw_end(fd, sb), then raw_recv_reply within 5 s; the
 * reply's status.  raw_connect_greeted: raw_connect to sock and raw_hello
 * with id 1; the fd.
 */
int raw_call(int fd, msgpack_sbuffer *sb, msgpack_unpacked *u, struct proto_reply *rep,
	     char **body);
int raw_connect_greeted(const char *sock);

/* Send HELLO [1, id, version, pid, name] and return the reply's status. */
int raw_hello(int fd, uint32_t id);

/* A packer writing into sb, both freshly initialised; free with msgpack_sbuffer_destroy. */
void raw_packer(msgpack_sbuffer *sb, msgpack_packer *pk);

#endif
