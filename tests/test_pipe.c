/*
 * test_pipe.c - pipes end to end: the real ipcd, real processes started
 * with ipc_process (so the process object is exercised too), everything
 * through ipcclient.h.  Ends claimed by first use, -EBUSY, -EBADF and
 * -EPIPE, a holder killed with SIGKILL, flow control, order under load,
 * anonymous pipes' lifetime, and what ipcctl shows.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* In a child: say what went wrong; the exit code says where. */
#define child_check(cond, code) do { \
	if (!(cond)) { \
		fprintf(stderr, "child %d: line %d: %s\n", (int)getpid(), __LINE__, #cond); \
		return (code); \
	} \
} while (0)

static int send_str(ipc_pipe *p, const char *s, int timeout_ms)
{
	return ipc_pipe_send(p, s, strlen(s), timeout_ms);
}

/* Receive one message and compare it with want: 0, the error, or -EBADMSG. */
static int recv_is(ipc_pipe *p, const char *want, int timeout_ms)
{
	void *data;
	size_t len;
	int r = ipc_pipe_recv(p, &data, &len, timeout_ms);

	if (r < 0)
		return r;
	r = len == strlen(want) && memcmp(data, want, len) == 0 ? 0 : -EBADMSG;
	if (r < 0)
		fprintf(stderr, "got '%.*s', want '%s'\n", (int)len, (char *)data, want);
	free(data);
	return r;
}

static void start_ok(ipc_process *p)
{
	ck_assert_ipc(ipc_process_start(p), 0);
}

static void join_ok(ipc_process *p, const char *what)
{
	ck_assert_ipc(ipc_process_join(p, HARNESS_HANG_MS), 0);
	ck_assert_msg(p->exitcode == 0, "%s exited with %d", what, p->exitcode);
}

/* The sender's half of a one-byte signal between processes (see wait_byte). */
static void sync_post(int fd)
{
	ck_assert_int_eq(write(fd, "!", 1), 1);
}

/* ------------------------------------------------------------------------ */
/* A pair across a fork */

static int send_three_and_close(void *arg)
{
	ipc_pipe *end1 = arg;

	child_check(send_str(end1, "one", 5000) == 0, 1);
	child_check(send_str(end1, "two", 5000) == 0, 2);
	child_check(send_str(end1, "three", 5000) == 0, 3);
	ipc_pipe_close(end1);
	return 0;
}

START_TEST(test_child_sends_on_end1_parent_reads_then_epipe)
{
	ipc_client *c;
	ipc_pipe *e0, *e1;
	ipc_process p = { .target = send_three_and_close };

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	ck_assert_ptr_nonnull(ipc_pipe_name(e0));
	ck_assert_int_eq(ipc_pipe_name(e0)[0], '@');
	ck_assert_str_eq(ipc_pipe_name(e0), ipc_pipe_name(e1));
	ck_assert_int_eq(ipc_pipe_end(e1), 1);
	p.arg = e1;
	start_ok(&p);
	ck_assert_ipc(recv_is(e0, "one", 5000), 0);
	ck_assert_ipc(recv_is(e0, "two", 5000), 0);
	ck_assert_ipc(recv_is(e0, "three", 5000), 0);
	/* End of file: the child closed its end. */
	ck_assert_ipc(recv_is(e0, "", 5000), -EPIPE);
	ck_assert_ipc(send_str(e0, "late", 1000), -EPIPE);
	join_ok(&p, "sender");
	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ck_assert_int_eq(status_key(c, "objects"), 0);
	ipc_disconnect(c);
}
END_TEST

static int claim_then_close(void *arg)
{
	ipc_pipe *end1 = arg;

	/* A recv that does not wait still claims the end. */
	child_check(recv_is(end1, "", IPC_NOWAIT) == -EAGAIN, 1);
	/* Close once the parent's recv is parked. */
	child_check(child_wait_parent_parked(h.sock) == 0, 2);
	ipc_pipe_close(end1);
	return 0;
}

START_TEST(test_parked_recv_gets_epipe_when_peer_closes)
{
	ipc_client *c;
	ipc_pipe *e0, *e1;
	ipc_process p = { .target = claim_then_close };
	int64_t t0;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	p.arg = e1;
	start_ok(&p);
	t0 = harness_now_ms();
	ck_assert_ipc(recv_is(e0, "", IPC_FOREVER), -EPIPE);
	ck_assert_int_lt(harness_now_ms() - t0, HARNESS_HANG_MS);
	join_ok(&p, "closer");
	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ipc_disconnect(c);
}
END_TEST

struct killed_args {
	ipc_pipe *end;
	int sync;                /* write end: "sent everything" */
};

static int send_five_then_hang(void *arg)
{
	struct killed_args *a = arg;
	char msg[16];

	for (int i = 0; i < 5; i++) {
		snprintf(msg, sizeof msg, "m%d", i);
		child_check(send_str(a->end, msg, 5000) == 0, 1);
	}
	child_check(write(a->sync, "!", 1) == 1, 2);
	sleep(30);
	return 3;
}

START_TEST(test_holder_killed_peer_drains_then_epipe)
{
	ipc_client *c;
	ipc_pipe *e0, *e1;
	struct killed_args a;
	ipc_process p = { .target = send_five_then_hang, .arg = &a };
	char msg[16];
	int fds[2];

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	a.end = e1;
	a.sync = fds[1];
	start_ok(&p);
	ck_assert_msg(wait_byte(fds[0], HARNESS_HANG_MS) == 0, "the child did not send its messages");
	ck_assert_int_eq(kill(p.pid, SIGKILL), 0);
	ck_assert_ipc(ipc_process_join(&p, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(p.exitcode, -SIGKILL);

	for (int i = 0; i < 5; i++) {
		snprintf(msg, sizeof msg, "m%d", i);
		ck_assert_ipc(recv_is(e0, msg, 5000), 0);
	}
	ck_assert_ipc(recv_is(e0, "", 5000), -EPIPE);
	ck_assert_ipc(send_str(e0, "anyone?", 1000), -EPIPE);
	close(fds[0]);
	close(fds[1]);
	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Who may use an end, and which way */

static int use_held_end(void *arg)
{
	ipc_pipe **ends = arg;

	/* End 0 belongs to the parent. */
	child_check(send_str(ends[0], "mine?", 1000) == -EBUSY, 1);
	child_check(recv_is(ends[0], "", 1000) == -EBUSY, 2);
	/* End 1 is free: the child takes it. */
	child_check(recv_is(ends[1], "from parent", 5000) == 0, 3);
	child_check(send_str(ends[1], "from child", 5000) == 0, 4);
	return 0;
}

START_TEST(test_end_held_by_another_process_is_ebusy)
{
	ipc_client *c, *other;
	ipc_pipe *ends[2], *np0, *np0_other, *np1_other;
	ipc_process p = { .target = use_held_end, .arg = ends };

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &ends[0], &ends[1]), 0);
	ck_assert_ipc(send_str(ends[0], "from parent", 1000), 0);
	start_ok(&p);
	join_ok(&p, "child");
	ck_assert_ipc(recv_is(ends[0], "from child", 5000), 0);
	/* The child's end closed when it exited. */
	ck_assert_ipc(recv_is(ends[0], "", 5000), -EPIPE);

	/* Another connection is another process, to the daemon. */
	other = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_open(c, "np", 0, IPC_CREATE, &np0), 0);
	ck_assert_ipc(ipc_pipe_open(other, "np", 0, 0, &np0_other), 0);
	ck_assert_ipc(ipc_pipe_open(other, "np", 1, 0, &np1_other), 0);
	ck_assert_ipc(send_str(np0, "x", 1000), 0);
	ck_assert_ipc(send_str(np0_other, "y", 1000), -EBUSY);
	ck_assert_ipc(recv_is(np1_other, "x", 1000), 0);
	ipc_pipe_close(np0_other);
	ipc_pipe_close(np1_other);
	ipc_disconnect(other);
	ipc_pipe_close(np0);
	ipc_pipe_close(ends[0]);
	ipc_pipe_close(ends[1]);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_oneway_wrong_way_is_ebadf)
{
	ipc_client *c;
	ipc_pipe *e0, *e1, *n0, *n1;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_pair(c, IPC_ONEWAY, &e0, &e1), 0);
	ck_assert_ipc(send_str(e0, "backwards", 1000), -EBADF);
	ck_assert_ipc(recv_is(e1, "", 1000), -EBADF);
	ck_assert_ipc(send_str(e1, "forwards", 1000), 0);
	ck_assert_ipc(recv_is(e0, "forwards", 1000), 0);

	/* A named one-way pipe: the flag counts when it is created. */
	ck_assert_ipc(ipc_pipe_open(c, "ow", 1, IPC_CREATE | IPC_ONEWAY, &n1), 0);
	ck_assert_ipc(ipc_pipe_open(c, "ow", 0, 0, &n0), 0);
	ck_assert_ipc(send_str(n0, "backwards", 1000), -EBADF);
	ck_assert_ipc(send_str(n1, "forwards", 1000), 0);
	ck_assert_ipc(recv_is(n1, "", 0), -EBADF);
	ck_assert_ipc(recv_is(n0, "forwards", 1000), 0);

	/* A duplex pipe goes both ways. */
	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	ck_assert_ipc(send_str(e0, "to 1", 1000), 0);
	ck_assert_ipc(send_str(e1, "to 0", 1000), 0);
	ck_assert_ipc(recv_is(e1, "to 1", 1000), 0);
	ck_assert_ipc(recv_is(e0, "to 0", 1000), 0);
	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ipc_pipe_close(n0);
	ipc_pipe_close(n1);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Flow and order */

#define NMSG 1000

static int child_sends_then_receives(void *arg)
{
	ipc_pipe *end1 = arg;
	char msg[32];

	for (int i = 0; i < NMSG; i++) {
		snprintf(msg, sizeof msg, "from child %d", i);
		child_check(send_str(end1, msg, 10000) == 0, 1);
	}
	for (int i = 0; i < NMSG; i++) {
		snprintf(msg, sizeof msg, "from parent %d", i);
		child_check(recv_is(end1, msg, 10000) == 0, 2);
	}
	return 0;
}

START_TEST(test_thousand_messages_each_way_in_order)
{
	/* A small buffer: the sender waits for the reader many times over. */
	static const char *const args[] = { "--pipe-bytes", "1K", NULL };
	ipc_client *c;
	ipc_pipe *e0, *e1;
	ipc_process p = { .target = child_sends_then_receives };
	char msg[32];

	harness_start(&h, args);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	p.arg = e1;
	start_ok(&p);
	for (int i = 0; i < NMSG; i++) {
		snprintf(msg, sizeof msg, "from child %d", i);
		ck_assert_ipc(recv_is(e0, msg, 10000), 0);
	}
	for (int i = 0; i < NMSG; i++) {
		snprintf(msg, sizeof msg, "from parent %d", i);
		ck_assert_ipc(send_str(e0, msg, 10000), 0);
	}
	join_ok(&p, "child");
	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ipc_disconnect(c);
}
END_TEST

static int slow_reader(void *arg)
{
	ipc_pipe *end1 = arg;
	void *data;
	size_t len;

	/* Make room once the parent's send waits for it. */
	child_check(child_wait_parent_parked(h.sock) == 0, 3);
	child_check(ipc_pipe_recv(end1, &data, &len, HARNESS_HANG_MS) == 0, 1);
	child_check(len == 500, 2);
	free(data);
	return 0;
}

START_TEST(test_send_blocks_while_full)
{
	static const char *const args[] = { "--pipe-bytes", "100", NULL };
	static char big[500], small[60];
	ipc_client *c;
	ipc_pipe *e0, *e1;
	ipc_process p = { .target = slow_reader };
	int64_t t0;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	/* An empty direction takes one message of any size. */
	ck_assert_ipc(ipc_pipe_send(e0, big, sizeof big, IPC_NOWAIT), 0);
	ck_assert_ipc(ipc_pipe_send(e0, small, sizeof small, IPC_NOWAIT), -EAGAIN);
	t0 = harness_now_ms();
	ck_assert_ipc(ipc_pipe_send(e0, small, sizeof small, 200), -ETIMEDOUT);
	ck_assert_int_ge(harness_now_ms() - t0, 190);
	ck_assert_ipc(status_key(c, "memory"), sizeof big);

	p.arg = e1;
	start_ok(&p);
	/* It waits (the reader sees it parked) until the reader makes room. */
	ck_assert_ipc(ipc_pipe_send(e0, small, sizeof small, HARNESS_HANG_MS), 0);
	join_ok(&p, "reader");
	/* The reader's end closed with it: nobody will read the rest. */
	ck_assert_ipc(ipc_pipe_send(e0, small, sizeof small, 1000), -EPIPE);
	ck_assert_ipc(status_key(c, "memory"), 0);
	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Named pipes, anonymous pipes' lifetime */

static int unrelated_peer(void *arg)
{
	ipc_client *c = NULL;
	ipc_pipe *p;

	/* Its own client, as a process that was not forked from the other would. */
	child_check(ipc_connect(arg, &c) == 0, 1);
	child_check(ipc_pipe_open(c, "chan", 1, IPC_CREATE, &p) == 0, 2);
	child_check(send_str(p, "ping", 5000) == 0, 3);
	child_check(recv_is(p, "pong", 5000) == 0, 4);
	ipc_pipe_close(p);
	ipc_disconnect(c);
	return 0;
}

START_TEST(test_named_pipe_between_unrelated_clients)
{
	ipc_client *c;
	ipc_pipe *p;
	ipc_process peer = { .target = unrelated_peer, .arg = h.sock };

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_open(c, "chan", 0, IPC_CREATE, &p), 0);
	start_ok(&peer);
	ck_assert_ipc(recv_is(p, "ping", 5000), 0);
	ck_assert_ipc(send_str(p, "pong", 5000), 0);
	join_ok(&peer, "peer");
	ck_assert_ipc(recv_is(p, "", 5000), -EPIPE);
	ipc_pipe_close(p);
	/* A named pipe stays until it is unlinked. */
	ck_assert_int_eq(status_key(c, "objects"), 1);
	ck_assert_ipc(ipc_pipe_unlink(c, "chan"), 0);
	ck_assert_int_eq(status_key(c, "objects"), 0);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_open_errors_and_unlink)
{
	ipc_client *c;
	ipc_queue *q, *q2;
	ipc_pipe *p, *p2;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_open(c, "np", 0, 0, &p), -ENOENT);
	ck_assert_ipc(ipc_pipe_open(c, "np", 2, IPC_CREATE, &p), -EINVAL);
	ck_assert_ipc(ipc_pipe_open(c, "np", 0, 0x100, &p), -EINVAL);
	ck_assert_ipc(ipc_pipe_open(c, "has space", 0, IPC_CREATE, &p), -EINVAL);
	ck_assert_ipc(ipc_pipe_open(c, "np", 0, IPC_CREATE, &p), 0);
	ck_assert_ipc(ipc_pipe_open(c, "np", 1, IPC_CREATE | IPC_EXCLUSIVE, &p2), -EEXIST);
	ck_assert_ipc(ipc_pipe_pair(c, IPC_CREATE, &p2, &p2), -EINVAL);

	/* Names are unique across kinds; '@' names are the daemon's. */
	ck_assert_ipc(ipc_queue_open(c, "q", IPC_CREATE, NULL, &q), 0);
	ck_assert_ipc(ipc_pipe_open(c, "q", 0, IPC_CREATE, &p2), -EINVAL);
	ck_assert_ipc(ipc_queue_open(c, "np", IPC_CREATE, NULL, &q2), -EINVAL);
	ck_assert_ipc(ipc_pipe_unlink(c, "q"), -ENOENT);
	ck_assert_ipc(ipc_pipe_open(c, "@mine", 0, IPC_CREATE, &p2), -EINVAL);
	ck_assert_ipc(ipc_pipe_open(c, "@mine", 0, 0, &p2), -ENOENT);
	ck_assert_ipc(ipc_queue_open(c, "@mine", IPC_CREATE, NULL, &q2), -EINVAL);
	ipc_queue_close(q);
	ck_assert_ipc(ipc_queue_unlink(c, "q"), 0);

	/* Unlinked: the handle is stale, the name free. */
	ck_assert_ipc(recv_is(p, "", IPC_NOWAIT), -EAGAIN);
	ck_assert_ipc(ipc_pipe_unlink(c, "np"), 0);
	ck_assert_ipc(recv_is(p, "", IPC_NOWAIT), -EIDRM);
	ck_assert_ipc(ipc_pipe_unlink(c, "np"), -ENOENT);
	ipc_pipe_close(p);
	ck_assert_ipc(ipc_pipe_open(c, "np", 1, IPC_CREATE | IPC_EXCLUSIVE, &p), 0);
	ck_assert_ipc(send_str(p, "fresh", IPC_NOWAIT), 0);
	ipc_pipe_close(p);
	ipc_disconnect(c);
}
END_TEST

static int parked_recv(void *arg)
{
	ipc_pipe *end1 = arg;

	child_check(recv_is(end1, "", IPC_FOREVER) == -EIDRM, 1);
	return 0;
}

START_TEST(test_unlink_answers_parked_recv)
{
	ipc_client *c;
	ipc_pipe *e1;
	ipc_process p = { .target = parked_recv };

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_open(c, "gone", 1, IPC_CREATE, &e1), 0);
	p.arg = e1;
	start_ok(&p);
	wait_waiting(c, p.pid, 1, HARNESS_HANG_MS);
	ck_assert_ipc(ipc_pipe_unlink(c, "gone"), 0);
	join_ok(&p, "parked reader");
	ipc_pipe_close(e1);
	ipc_disconnect(c);
}
END_TEST

/* Make two pairs, one with an end in use, and leave without closing them. */
static int pair_and_exit(void *sock)
{
	ipc_client *c = NULL;
	ipc_pipe *a0, *a1, *b0, *b1;

	child_check(ipc_connect(sock, &c) == 0, 1);
	child_check(ipc_pipe_pair(c, 0, &a0, &a1) == 0, 2);
	child_check(ipc_pipe_pair(c, 0, &b0, &b1) == 0, 3);
	child_check(send_str(b0, "unread", 1000) == 0, 4);
	return 0;
}

START_TEST(test_anonymous_pipe_goes_when_unusable)
{
	ipc_client *c;
	ipc_pipe *e0, *e1;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);

	/* Never used, both handles closed. */
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	ck_assert_int_eq(status_key(c, "objects"), 1);
	ipc_pipe_close(e0);
	ck_assert_int_eq(status_key(c, "objects"), 1);
	ipc_pipe_close(e1);
	ck_assert_int_eq(status_key(c, "objects"), 0);

	/* Both ends held here: it goes when the second is closed. */
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	ck_assert_ipc(send_str(e0, "a", 1000), 0);
	ck_assert_ipc(recv_is(e1, "a", 1000), 0);
	ipc_pipe_close(e0);
	ck_assert_int_eq(status_key(c, "objects"), 1);
	ck_assert_ipc(recv_is(e1, "", 1000), -EPIPE);
	ipc_pipe_close(e1);
	ck_assert_int_eq(status_key(c, "objects"), 0);

	/* Its maker exits without closing anything: nothing can use it any more. */
	{
		ipc_process p = { .target = pair_and_exit, .arg = h.sock };
		int64_t end = harness_now_ms() + HARNESS_HANG_MS;

		start_ok(&p);
		join_ok(&p, "maker");
		while (status_key(c, "objects") != 0 && harness_now_ms() < end)
			harness_sleep_ms(10);
		ck_assert_int_eq(status_key(c, "objects"), 0);
	}
	ipc_disconnect(c);
}
END_TEST

struct late_args {
	ipc_pipe *end1;
	int sync;                /* read end: the parent has closed its copy */
};

static int late_sender(void *arg)
{
	struct late_args *a = arg;

	child_check(wait_byte(a->sync, HARNESS_HANG_MS) == 0, 1);
	child_check(send_str(a->end1, "late but fine", 5000) == 0, 2);
	return 0;
}

/*
 * A long-running parent that makes a pair for each child it starts and
 * drops its copy of the child's end, as with os.pipe after a fork, before
 * the child uses it: the end stays for the child, and nothing of those pipes
 * stays with the parent's connection once the children have used them.
 */
START_TEST(test_parent_keeps_nothing_of_ends_left_to_children)
{
	ipc_client *c;
	pid_t self = getpid();

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	for (int i = 0; i < 20; i++) {
		ipc_pipe *e0, *e1;
		struct late_args a;
		ipc_process p = { .target = late_sender, .arg = &a };
		int fds[2];

		ck_assert_int_eq(pipe(fds), 0);
		ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
		a.end1 = e1;
		a.sync = fds[0];
		start_ok(&p);
		ipc_pipe_close(e1);
		/* The handle went; until the child claims the end, the daemon keeps it. */
		ck_assert_int_eq(client_key(c, self, "handles"), 1);
		ck_assert_int_eq(client_key(c, self, "held"), 1);
		sync_post(fds[1]);
		ck_assert_ipc(recv_is(e0, "late but fine", 5000), 0);
		/* The child's claim released what the daemon kept for it. */
		ck_assert_int_eq(client_key(c, self, "held"), 1);
		join_ok(&p, "late sender");
		ck_assert_ipc(recv_is(e0, "", 5000), -EPIPE);
		ipc_pipe_close(e0);
		close(fds[0]);
		close(fds[1]);
	}
	ck_assert_int_eq(client_key(c, self, "handles"), 0);
	ck_assert_int_eq(client_key(c, self, "held"), 0);
	ck_assert_int_eq(status_key(c, "objects"), 0);
	ipc_disconnect(c);
}
END_TEST

/* A child that exits at once: only the fork matters. */
static int do_nothing(void *arg)
{
	(void)arg;
	return 0;
}

/*
 * Closing a never-used end after a fork keeps it once per connection and
 * end, and only for an anonymous pipe (a named one stays anyway).
 */
START_TEST(test_ends_kept_once_and_only_for_anonymous_pipes)
{
	ipc_client *c;
	ipc_pipe *e0, *e1, *again, *named;
	ipc_process p = { .target = do_nothing };
	pid_t self = getpid();

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	ck_assert_ipc(ipc_pipe_open(c, ipc_pipe_name(e1), 1, 0, &again), 0);
	ck_assert_ipc(ipc_pipe_open(c, "named", 1, IPC_CREATE, &named), 0);
	start_ok(&p);
	join_ok(&p, "child");
	ipc_pipe_close(e1);
	ipc_pipe_close(again);
	ipc_pipe_close(named);
	ck_assert_int_eq(client_key(c, self, "handles"), 1);
	ck_assert_int_eq(client_key(c, self, "held"), 1);
	/* Both anonymous ends are never used: two keeps, and the pipe stays. */
	ipc_pipe_close(e0);
	ck_assert_int_eq(client_key(c, self, "handles"), 0);
	ck_assert_int_eq(client_key(c, self, "held"), 2);
	ck_assert_int_eq(status_key(c, "objects"), 2);
	ipc_disconnect(c);
	/* With the connection, the keeps went, and the anonymous pipe with them. */
	c = connect_ok(h.sock);
	wait_clients(c, 1, HARNESS_HANG_MS);
	ck_assert_int_eq(status_key(c, "objects"), 1);
	ck_assert_ipc(ipc_pipe_unlink(c, "named"), 0);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* What ipcctl shows */

/* ipcctl's output for the command words w1 [w2] (w2 may be NULL). */
static char *ipcctl(const char *w1, const char *w2)
{
	const char *argv[] = { IPCCTL_BIN, "-s", h.sock, w1, w2, NULL };
	char *out;
	int status = harness_run(NULL, argv, &out, HARNESS_HANG_MS);

	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "ipcctl %s failed:\n%s", w1, out);
	return out;
}

/* The line of text holding needle, copied into line (or fail). */
static void line_with(const char *text, const char *needle, char *line, size_t size)
{
	const char *at = strstr(text, needle), *start, *end;

	ck_assert_msg(at != NULL, "no '%s' in:\n%s", needle, text);
	for (start = at; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(at, '\n');
	if (!end)
		end = at + strlen(at);
	snprintf(line, size, "%.*s", (int)(end - start), start);
}

/* Does line end with the words of want (single spaces), however padded? */
static int ends_with_words(const char *line, const char *want)
{
	char squeezed[512];
	size_t n = 0, wl = strlen(want);

	for (const char *s = line; *s && n < sizeof squeezed - 1; s++)
		if (*s != ' ' || (n && squeezed[n - 1] != ' '))
			squeezed[n++] = *s;
	while (n && squeezed[n - 1] == ' ')
		n--;
	squeezed[n] = '\0';
	return n >= wl && strcmp(squeezed + n - wl, want) == 0 &&
	       (n == wl || squeezed[n - wl - 1] == ' ');
}

static int hold_end1(void *arg)
{
	struct late_args *a = arg;

	child_check(send_str(a->end1, "held", 5000) == 0, 1);
	child_check(wait_byte(a->sync, HARNESS_HANG_MS) == 0, 2);
	return 0;
}

START_TEST(test_ipcctl_shows_who_holds_each_end)
{
	ipc_client *c;
	ipc_pipe *e0, *e1, *n0;
	struct late_args a;
	ipc_process p = { .target = hold_end1, .arg = &a, .name = "holder" };
	char line[512], want[128], name[64];
	char *out;
	int fds[2];

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	snprintf(name, sizeof name, "%s", ipc_pipe_name(e0));
	ck_assert_ipc(ipc_pipe_open(c, "named", 0, IPC_CREATE, &n0), 0);
	a.end1 = e1;
	a.sync = fds[0];
	start_ok(&p);
	ck_assert_ipc(recv_is(e0, "held", 5000), 0);

	out = ipcctl("ls", NULL);
	line_with(out, name, line, sizeof line);
	snprintf(want, sizeof want, "pid %d pid %d", (int)getpid(), (int)p.pid);
	ck_assert_msg(strncmp(line, "pipe ", 5) == 0 && ends_with_words(line, want),
		      "ls: '%s', want it to end with '%s'", line, want);
	line_with(out, "named", line, sizeof line);
	ck_assert_msg(ends_with_words(line, "free free"), "ls: '%s'", line);
	free(out);

	out = ipcctl("clients", NULL);
	snprintf(want, sizeof want, "pipe %s end 1", name);
	line_with(out, want, line, sizeof line);
	snprintf(want, sizeof want, " %d ", (int)p.pid);
	ck_assert_msg(strstr(line, want) && strstr(line, "holder"), "clients: '%s'", line);
	snprintf(want, sizeof want, "pipe %s end 0", name);
	line_with(out, want, line, sizeof line);
	snprintf(want, sizeof want, " %d ", (int)getpid());
	ck_assert_msg(strstr(line, want), "clients: '%s'", line);
	free(out);

	sync_post(fds[1]);
	join_ok(&p, "holder");
	close(fds[0]);
	close(fds[1]);
	ipc_pipe_close(n0);
	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ipc_disconnect(c);
}
END_TEST

static Suite *pipe_suite(void)
{
	Suite *s = suite_create("pipe");
	TCase *tc;

	tc = harness_tcase(s, "ends", 60, setup, teardown);
	tcase_add_test(tc, test_child_sends_on_end1_parent_reads_then_epipe);
	tcase_add_test(tc, test_parked_recv_gets_epipe_when_peer_closes);
	tcase_add_test(tc, test_holder_killed_peer_drains_then_epipe);
	tcase_add_test(tc, test_end_held_by_another_process_is_ebusy);
	tcase_add_test(tc, test_oneway_wrong_way_is_ebadf);
	tcase_add_test(tc, test_parent_keeps_nothing_of_ends_left_to_children);
	tcase_add_test(tc, test_ends_kept_once_and_only_for_anonymous_pipes);

	tc = harness_tcase(s, "flow", 60, setup, teardown);
	tcase_add_test(tc, test_thousand_messages_each_way_in_order);
	tcase_add_test(tc, test_send_blocks_while_full);

	tc = harness_tcase(s, "lifetime", 60, setup, teardown);
	tcase_add_test(tc, test_named_pipe_between_unrelated_clients);
	tcase_add_test(tc, test_open_errors_and_unlink);
	tcase_add_test(tc, test_unlink_answers_parked_recv);
	tcase_add_test(tc, test_anonymous_pipe_goes_when_unusable);
	tcase_add_test(tc, test_ipcctl_shows_who_holds_each_end);
	return s;
}

int main(void)
{
	return harness_main(pipe_suite());
}
