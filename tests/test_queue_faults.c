/*
 * test_queue_faults.c - what a queue's clients and the daemon survive:
 * malformed or unknown frames (sent raw), a client killed mid-frame or while
 * parked, the daemon killed under a blocked client, and the daemon's life:
 * SIGTERM answers blocked clients, a second daemon on the same socket is
 * refused and a stale socket is replaced.  After each fault the daemon must
 * still serve everyone else.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"
#include "codec.h"

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* Tests of requests parked in ipcd: a queue with no ring, where gets and puts wait there. */
static const ipc_queue_attr by_socket = { .noring = 1 };

/* ------------------------------------------------------------------------ */
/* Malformed input and dying peers */

/* Expect an "error" push with a negative status, then the connection closed. */
static void expect_error_push_and_close(int fd, const char *what)
{
	struct proto_reply rep;
	msgpack_unpacked u;
	char *body;
	int r;

	r = raw_recv_reply(fd, &u, &rep, &body, 3000);
	ck_assert_msg(r == 0, "%s: no well-formed error push (%s)", what, strerror(-r));
	ck_assert_msg(rep.id == IPC_PUSH_ID, "%s: a reply to id %u, not a push", what, rep.id);
	ck_assert_msg(rep.eventlen == 5 && memcmp(rep.event, "error", 5) == 0,
		      "%s: push '%.*s', not 'error'", what, (int)rep.eventlen, rep.event);
	ck_assert_msg(rep.nres >= 2, "%s: error push without status and message", what);
	ck_assert_msg(rep.res[0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER,
		      "%s: error push status is not negative", what);
	ck_assert_msg(rep.res[1].type == MSGPACK_OBJECT_STR, "%s: no message", what);
	msgpack_unpacked_destroy(&u);
	free(body);
	ck_assert_msg(raw_wait_closed(fd, HARNESS_HANG_MS) == 0, "%s: connection left open", what);
}

START_TEST(test_killed_mid_frame_leaves_daemon_serving)
{
	unsigned char hdr[IPC_FRAME_HEADER];
	ipc_client *c;
	ipc_queue *q;
	int ready[2], fd;
	pid_t pid;

	harness_start(&h, NULL);
	/* A client that was there all along, before any of the damage. */
	c = connect_ok(h.sock);
	q = open_ok(c, "survivor", IPC_CREATE, NULL);
	ck_assert_ipc(put_str(q, "before", 0), 0);

	/* A frame announcing 1000 bytes, 10 sent, then the sender is killed. */
	pipe_ok(ready);
	pid = fork_ok();
	if (pid == 0) {
		int sfd = raw_connect(h.sock), r;

		close(ready[0]);
		if (sfd < 0)
			child_fail("connect: %s", strerror(-sfd));
		if ((r = raw_hello(sfd, 1)) != 0)
			child_fail("hello: %d", r);
		ipc_frame_put_len(hdr, 1000);
		if (raw_send(sfd, hdr, sizeof hdr) < 0 || raw_send(sfd, "\x94\x11\x02\x01\x00\xa4" "abc", 10) < 0)
			child_fail("send failed");
		write_all(ready[1], "R", 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	{
		char b;

		ck_assert_msg(read_within(ready[0], &b, 1, 5000) == 0, "raw child never got ready");
	}
	close(ready[0]);
	kill(pid, SIGKILL);
	ck_assert_int_eq(harness_wait_child(pid, HARNESS_HANG_MS) & 0x7f, SIGKILL);

	/* The same without a hello, closed instead of killed. */
	fd = raw_connect(h.sock);
	ck_assert_int_ge(fd, 0);
	ipc_frame_put_len(hdr, 1000);
	ck_assert_int_eq(raw_send(fd, hdr, sizeof hdr), 0);
	ck_assert_int_eq(raw_send(fd, "\x92\x02", 2), 0);
	close(fd);
	/* Only part of a header. */
	fd = raw_connect(h.sock);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(raw_send(fd, hdr, 2), 0);
	close(fd);

	daemon_still_running(&h);
	get_expect(q, "before", 1000);
	ck_assert_ipc(put_str(q, "after", 0), 0);
	get_expect(q, "after", 1000);
	daemon_serves(h.sock, "fresh");

	/* A length prefix beyond the limit: an error push, then the door. */
	fd = raw_connect_greeted(h.sock);
	ipc_frame_put_len(hdr, 0x7fffffffu);
	ck_assert_int_eq(raw_send(fd, hdr, sizeof hdr), 0);
	expect_error_push_and_close(fd, "oversized length");
	close(fd);

	/* The largest length the header can say, before any hello. */
	fd = raw_connect(h.sock);
	ck_assert_int_ge(fd, 0);
	ipc_frame_put_len(hdr, 0xffffffffu);
	ck_assert_int_eq(raw_send(fd, hdr, sizeof hdr), 0);
	expect_error_push_and_close(fd, "length 2^32-1");
	close(fd);

	daemon_still_running(&h);
	ck_assert_ipc(put_str(q, "still", 0), 0);
	get_expect(q, "still", 1000);
	daemon_serves(h.sock, "fresh2");
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_unknown_op_keeps_connection)
{
	struct proto_reply rep;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	char *body;
	int fd;

	harness_start(&h, NULL);
	fd = raw_connect_greeted(h.sock);

	raw_begin(&sb, &pk, 0x7f, 5, 0);
	raw_call(fd, &sb, &u, &rep, &body);
	ck_assert_uint_eq(rep.id, 5);
	ck_assert_int_eq(rep.status, -EOPNOTSUPP);
	ck_assert_msg(rep.msg != NULL && rep.msglen > 0, "error reply without a message");
	msgpack_unpacked_destroy(&u);
	free(body);

	/* Mistyped arguments are answered too, and the connection stays. */
	raw_begin(&sb, &pk, IPC_OP_Q_SIZE, 7, 1);
	msgpack_pack_str_with_body(&pk, "x", 1);
	raw_call(fd, &sb, &u, &rep, &body);
	ck_assert_uint_eq(rep.id, 7);
	ck_assert_int_eq(rep.status, -EINVAL);
	msgpack_unpacked_destroy(&u);
	free(body);

	/* A handle that was never opened. */
	raw_begin(&sb, &pk, IPC_OP_Q_SIZE, 8, 1);
	msgpack_pack_uint32(&pk, 12345);
	raw_call(fd, &sb, &u, &rep, &body);
	ck_assert_uint_eq(rep.id, 8);
	ck_assert_int_lt(rep.status, 0);
	msgpack_unpacked_destroy(&u);
	free(body);

	raw_begin(&sb, &pk, IPC_OP_PING, 6, 0);
	raw_call(fd, &sb, &u, &rep, &body);
	ck_assert_uint_eq(rep.id, 6);
	ck_assert_int_eq(rep.status, 0);
	msgpack_unpacked_destroy(&u);
	free(body);
	close(fd);
}
END_TEST

/* Send [op, id] (a request without arguments) and return the reply's status. */
static int raw_simple_request(int fd, unsigned op, uint32_t id)
{
	struct proto_reply rep;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	char *body;
	int status;

	raw_begin(&sb, &pk, op, id, 0);
	raw_call(fd, &sb, &u, &rep, &body);
	ck_assert_msg(rep.id == id, "reply to id %u, want %u", rep.id, id);
	status = rep.status;
	msgpack_unpacked_destroy(&u);
	free(body);
	return status;
}

START_TEST(test_request_before_hello_refused)
{
	int fd;

	harness_start(&h, NULL);
	fd = raw_connect(h.sock);
	ck_assert_int_ge(fd, 0);

	/* Refused with -EPROTO, and the connection stays for the hello. */
	ck_assert_int_eq(raw_simple_request(fd, IPC_OP_STATUS, 3), -EPROTO);
	ck_assert_int_eq(raw_simple_request(fd, IPC_OP_LIST, 4), -EPROTO);
	ck_assert_int_eq(raw_hello(fd, 5), 0);
	ck_assert_int_eq(raw_simple_request(fd, IPC_OP_STATUS, 6), 0);
	ck_assert_int_eq(raw_simple_request(fd, IPC_OP_PING, 7), 0);
	close(fd);
	daemon_still_running(&h);
}
END_TEST

START_TEST(test_garbage_frames_close_only_their_connection)
{
	static const struct {
		const char *what;
		const char *body;
		size_t len;
	} bad[] = {
		{ "a byte msgpack never uses", "\xc1", 1 },
		{ "a truncated array", "\x93\x02", 2 },
		{ "two values in one frame", "\x92\x02\x05\xc0", 4 },
		{ "a map, not an array", "\x81\x01\x02", 3 },
		{ "id 0", "\x92\x02\x00", 3 },
		{ "an empty body", "", 0 },
		/* Counts far beyond the body: nothing may be sized by them. */
		{ "an array claiming 2^32-1 entries", "\xdd\xff\xff\xff\xff", 5 },
		{ "a map claiming 2^32-1 pairs", "\xdf\xff\xff\xff\xff", 5 },
		{ "a string claiming 4 GiB", "\x92\x02\xdb\xff\xff\xff\xff", 7 },
	};
	ipc_client *c;
	ipc_queue *q;
	size_t i;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "bystander", IPC_CREATE, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int fd = raw_connect_greeted(h.sock);

		ck_assert_int_eq(raw_send_frame(fd, bad[i].body, bad[i].len), 0);
		expect_error_push_and_close(fd, bad[i].what);
		close(fd);
		daemon_still_running(&h);
		ck_assert_ipc(put_str(q, bad[i].what, 0), 0);
		get_expect(q, bad[i].what, 1000);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_daemon_killed_under_blocked_client)
{
	struct outcome o;
	ipc_client *c, *c2;
	ipc_queue *q;
	int64_t t0;
	pid_t pid;
	int fd;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "doomed", IPC_CREATE, &by_socket);
	pid = start_blocked_getter(h.sock, q, &fd);
	t0 = harness_now_ms();
	harness_kill(&h);
	ck_assert_msg(read_within(fd, &o, sizeof o, HARNESS_HANG_MS) == 0,
		      "client still blocked %d s after the daemon died", HARNESS_HANG_MS / 1000);
	ck_assert_msg(o.r < 0, "blocked get returned %d after the daemon died", o.r);
	ck_assert_msg(harness_now_ms() - t0 < HARNESS_HANG_MS, "the getter noticed only after %lld ms",
		      (long long)(harness_now_ms() - t0));
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "getter");
	close(fd);

	/* An idle client finds out at its next call, without waiting. */
	t0 = harness_now_ms();
	ck_assert_int_lt(ipc_queue_size(q), 0);
	ck_assert_int_lt(put_str(q, "nobody", IPC_FOREVER), 0);
	ck_assert_int_lt(harness_now_ms() - t0, HARNESS_HANG_MS);
	ipc_queue_close(q);
	ipc_disconnect(c);

	/* Nobody serves the stale socket now. */
	c2 = NULL;
	ck_assert_int_lt(ipc_connect(h.sock, &c2), 0);
	ck_assert_ptr_null(c2);
}
END_TEST

START_TEST(test_parked_getter_disconnect_keeps_message)
{
	ipc_client *c;
	ipc_queue *q;
	int round;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "keep", IPC_CREATE, &by_socket);

	/*
	 * Round 0 waits until the daemon has seen the getter go; round 1 puts
	 * at once, while the dead getter may still be parked.
	 */
	for (round = 0; round < 2; round++) {
		pid_t pid;
		int ready[2];
		char b;

		pipe_ok(ready);
		pid = fork_ok();
		if (pid == 0) {
			void *data;
			size_t len;

			close(ready[0]);
			/* The parent's client, so the child's connection opens here. */
			if (ipc_queue_size(q) < 0)
				child_fail("size failed");
			write_all(ready[1], "R", 1);
			ipc_queue_get(q, &data, &len, IPC_FOREVER);
			child_fail("the get returned");
		}
		close(ready[1]);
		ck_assert_msg(read_within(ready[0], &b, 1, 5000) == 0, "getter never got ready");
		close(ready[0]);
		wait_stat(q, "getters", 1, HARNESS_HANG_MS);
		wait_clients(c, 2, HARNESS_HANG_MS);
		kill(pid, SIGKILL);
		ck_assert_int_eq(harness_wait_child(pid, HARNESS_HANG_MS) & 0x7f, SIGKILL);
		if (round == 0) {
			wait_clients(c, 1, HARNESS_HANG_MS);
			wait_stat(q, "getters", 0, HARNESS_HANG_MS);
		}

		ck_assert_ipc(put_str(q, round ? "kept 1" : "kept 0", 0), 0);
		get_expect(q, round ? "kept 1" : "kept 0", 1000);
		ck_assert_ipc(ipc_queue_size(q), 0);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_empty_client_name_is_served)
{
	ipc_client *c;
	ipc_queue *q;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_client_set_name(c, ""), 0);
	ck_assert_ipc(ipc_queue_open(c, "", IPC_CREATE, NULL, &q), -EINVAL);
	ck_assert_ipc(ipc_queue_unlink(c, ""), -ENOENT);
	daemon_still_running(&h);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The daemon's life */

START_TEST(test_sigterm_answers_blocked_clients)
{
	struct outcome o;
	ipc_client *c;
	ipc_queue *q;
	int status, fd;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "waiting", IPC_CREATE, &by_socket);
	pid = start_blocked_getter(h.sock, q, &fd);
	ck_assert_int_eq(kill(h.pid, SIGTERM), 0);
	status = harness_wait_child(h.pid, HARNESS_HANG_MS);
	h.pid = 0;
	ck_assert_msg(status != -1, "ipcd still running 5 s after SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "ipcd ended with status 0x%x after SIGTERM", status);
	ck_assert_msg(access(h.sock, F_OK) < 0 && errno == ENOENT,
		      "socket file left behind after a clean shutdown");

	ck_assert_msg(read_within(fd, &o, sizeof o, 3000) == 0,
		      "blocked getter got no answer from the shutdown");
	ck_assert_ipc(o.r, -ESHUTDOWN);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "getter");
	close(fd);

	/* The idle client gets an error, not a hang, and lets go cleanly. */
	ck_assert_int_lt(ipc_queue_size(q), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_second_daemon_refused)
{
	ipc_client *c;
	ipc_queue *q;
	void *mp;
	size_t len;
	pid_t second;
	int status;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "first", IPC_CREATE, NULL);
	ck_assert_ipc(put_str(q, "kept", 0), 0);

	second = harness_spawn(h.sock, NULL);
	status = harness_wait_child(second, HARNESS_HANG_MS);
	ck_assert_msg(status != -1, "a second ipcd on the same socket kept running");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "a second ipcd ended with status 0x%x, want exit 1", status);

	/* The first one still serves its clients, and new ones. */
	daemon_still_running(&h);
	ck_assert_ipc(ipc_server_status(c, &mp, &len), 0);
	free(mp);
	get_expect(q, "kept", 1000);
	daemon_serves(h.sock, "second");
	ipc_queue_close(q);
	ipc_disconnect(c);

	/* A killed daemon leaves its socket file; the next one replaces it. */
	harness_kill(&h);
	ck_assert_msg(access(h.sock, F_OK) == 0, "no stale socket left to replace");
	harness_start(&h, NULL);
	daemon_serves(h.sock, "third");
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *queue_faults_suite(void)
{
	Suite *s = suite_create("queue_faults");
	TCase *tc;

	tc = harness_tcase(s, "robustness", 30, setup, teardown);
	tcase_add_test(tc, test_killed_mid_frame_leaves_daemon_serving);
	tcase_add_test(tc, test_unknown_op_keeps_connection);
	tcase_add_test(tc, test_request_before_hello_refused);
	tcase_add_test(tc, test_garbage_frames_close_only_their_connection);
	tcase_add_test(tc, test_daemon_killed_under_blocked_client);
	tcase_add_test(tc, test_parked_getter_disconnect_keeps_message);
	tcase_add_test(tc, test_empty_client_name_is_served);

	tc = harness_tcase(s, "lifecycle", 30, setup, teardown);
	tcase_add_test(tc, test_sigterm_answers_blocked_clients);
	tcase_add_test(tc, test_second_daemon_refused);
	return s;
}

int main(void)
{
	return harness_main(queue_faults_suite());
}
