/*
 * test_queue_blocking.c - waiting on a queue: a get's timeout on an empty
 * queue, a put parked on a full one, waiters served in the order they came,
 * a parked get woken by the queue's removal and a parked put moving up when
 * the one ahead of it leaves.  The real ipcd, forked clients that report on
 * a pipe and leave with _exit().
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

/* ------------------------------------------------------------------------ */
/* Waiting: timeouts, full queues, the order of waiters */

/* Tests of requests parked in ipcd: a queue with no ring, where gets and puts wait there. */
static const ipc_queue_attr by_socket = { .noring = 1 };

START_TEST(test_get_timeout_on_empty)
{
	ipc_client *c;
	ipc_queue *q;
	void *data = NULL;
	size_t len = 0;
	int64_t t0, ms;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "empty", IPC_CREATE, NULL);

	t0 = harness_now_ms();
	ck_assert_ipc(ipc_queue_get(q, &data, &len, 200), -ETIMEDOUT);
	ms = harness_now_ms() - t0;
	ck_assert_msg(ms >= 180 && ms < HARNESS_HANG_MS, "200 ms get timed out after %lld ms",
		      (long long)ms);

	t0 = harness_now_ms();
	ck_assert_ipc(ipc_queue_get(q, &data, &len, IPC_NOWAIT), -EAGAIN);
	ms = harness_now_ms() - t0;
	ck_assert_msg(ms < HARNESS_HANG_MS, "a get that must not wait took %lld ms", (long long)ms);
	ck_assert_ipc(ipc_queue_peek(q, &data, &len), -EAGAIN);

	/* The timed-out get left nothing behind that would eat the next put. */
	ck_assert_ipc(put_str(q, "after", 0), 0);
	ck_assert_ipc(ipc_queue_size(q), 1);
	get_expect(q, "after", 0);

	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_put_blocks_when_full)
{
	ipc_queue_attr attr = { .maxsize = 1, .noring = 1 };
	ipc_client *c;
	ipc_queue *q;
	int64_t t0, ms;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "full", IPC_CREATE, &attr);

	ck_assert_ipc(put_str(q, "first", 0), 0);
	ck_assert_ipc(put_str(q, "second", IPC_NOWAIT), -EAGAIN);
	t0 = harness_now_ms();
	ck_assert_ipc(put_str(q, "second", 200), -ETIMEDOUT);
	ms = harness_now_ms() - t0;
	ck_assert_msg(ms >= 180 && ms < HARNESS_HANG_MS, "200 ms put timed out after %lld ms",
		      (long long)ms);
	ck_assert_ipc(ipc_queue_size(q), 1);

	t0 = harness_now_ms();
	pid = fork_ok();
	if (pid == 0) {
		void *data;
		size_t len;
		int r;

		/* Take one once the parent's put waits for room. */
		if (child_wait_parent_parked(h.sock) < 0)
			child_fail("the parent's put never waited");
		r = ipc_queue_get(q, &data, &len, HARNESS_HANG_MS);
		if (r < 0)
			child_fail("get: %s", ipc_strerror(r));
		if (len != 5 || memcmp(data, "first", 5) != 0)
			child_fail("got '%.*s', want 'first'", (int)len, (char *)data);
		_exit(0);
	}
	ck_assert_ipc(put_str(q, "second", IPC_FOREVER), 0);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "getter");

	ck_assert_ipc(ipc_queue_size(q), 1);
	get_expect(q, "second", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_getters_served_in_order)
{
	int ready[3][2];
	ipc_client *c;
	ipc_queue *q;
	pid_t pid[3];
	int i;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "order", IPC_CREATE, &by_socket);

	for (i = 0; i < 3; i++) {
		pipe_ok(ready[i]);
		pid[i] = fork_ok();
		if (pid[i] == 0) {
			void *data;
			size_t len;
			long n;
			int r;

			close(ready[i][0]);
			/* Open the child's connection first, so the get goes out at once. */
			n = ipc_queue_size(q);
			if (n != 0)
				child_fail("size: %ld", n);
			write_all(ready[i][1], "R", 1);
			r = ipc_queue_get(q, &data, &len, 20000);
			if (r < 0)
				child_fail("get: %s", ipc_strerror(r));
			write_all(ready[i][1], &len, sizeof len);
			write_all(ready[i][1], data, len);
			_exit(0);
		}
		close(ready[i][1]);
		{
			char b;

			ck_assert_msg(read_within(ready[i][0], &b, 1, 5000) == 0,
				      "getter %d never got ready", i);
		}
		/* Its get is parked before the next getter starts. */
		wait_stat(q, "getters", i + 1, HARNESS_HANG_MS);
	}
	ck_assert_ipc(ipc_queue_size(q), 0);

	ck_assert_ipc(put_str(q, "m0", 0), 0);
	ck_assert_ipc(put_str(q, "m1", 0), 0);
	ck_assert_ipc(put_str(q, "m2", 0), 0);
	for (i = 0; i < 3; i++) {
		char buf[16] = "", want[3] = { 'm', (char)('0' + i), '\0' };
		size_t len = 0;

		ck_assert_msg(read_within(ready[i][0], &len, sizeof len, 5000) == 0,
			      "getter %d got nothing", i);
		ck_assert_uint_le(len, sizeof buf - 1);
		ck_assert_int_eq(read_within(ready[i][0], buf, len, 1000), 0);
		ck_assert_msg(strcmp(buf, want) == 0, "getter %d (parked %s) got '%s'", i,
			      i == 0 ? "first" : i == 1 ? "second" : "third", buf);
		harness_expect_child_ok(pid[i], HARNESS_HANG_MS, "getter");
		close(ready[i][0]);
	}
	ck_assert_ipc(ipc_queue_size(q), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_unlink_wakes_blocked_getter)
{
	struct outcome o;
	ipc_client *c;
	ipc_queue *q;
	int fd;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "vanishing", IPC_CREATE, &by_socket);
	pid = start_blocked_getter(h.sock, q, &fd);
	ck_assert_ipc(ipc_queue_unlink(c, "vanishing"), 0);
	ck_assert_msg(read_within(fd, &o, sizeof o, 3000) == 0,
		      "a getter parked on an unlinked queue stayed blocked");
	ck_assert_ipc(o.r, -EIDRM);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "getter");
	close(fd);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_parked_put_moves_up_when_the_one_ahead_leaves)
{
	ipc_queue_attr attr = { .maxbytes = 100, .noring = 1 };
	char sixty[60] = { 0 }, eighty[80] = { 0 };
	ipc_client *c;
	ipc_queue *q;
	pid_t pid, behind;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "line", IPC_CREATE, &attr);
	ck_assert_ipc(ipc_queue_put(q, sixty, sizeof sixty, 0), 0);
	pid = fork_ok();
	if (pid == 0) {
		/* Parks first; 80 bytes never fit.  It leaves when killed. */
		ipc_queue_put(q, eighty, sizeof eighty, IPC_FOREVER);
		_exit(1);
	}
	wait_stat(q, "putters", 1, HARNESS_HANG_MS);
	behind = fork_ok();
	if (behind == 0) {
		if (ipc_queue_put(q, "0123456789", 10, HARNESS_HANG_MS) < 0)
			_exit(1);
		_exit(0);
	}
	/* Parked behind it: 10 bytes fit, but must not overtake. */
	wait_stat(q, "putters", 2, HARNESS_HANG_MS);
	ck_assert_ipc(ipc_queue_size(q), 1);
	/* The one ahead leaves: the one behind goes in. */
	kill(pid, SIGKILL);
	ck_assert_int_eq(harness_wait_child(pid, HARNESS_HANG_MS) & 0x7f, SIGKILL);
	harness_expect_child_ok(behind, HARNESS_HANG_MS, "the put behind");
	ck_assert_ipc(ipc_queue_size(q), 2);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *queue_blocking_suite(void)
{
	Suite *s = suite_create("queue_blocking");
	TCase *tc;

	tc = harness_tcase(s, "blocking", 30, setup, teardown);
	tcase_add_test(tc, test_get_timeout_on_empty);
	tcase_add_test(tc, test_put_blocks_when_full);
	tcase_add_test(tc, test_getters_served_in_order);
	tcase_add_test(tc, test_unlink_wakes_blocked_getter);
	tcase_add_test(tc, test_parked_put_moves_up_when_the_one_ahead_leaves);
	return s;
}

int main(void)
{
	return harness_main(queue_blocking_suite());
}
