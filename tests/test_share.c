/*
 * test_share.c - one local user's share: no client can starve, bloat or
 * lock out the others.  Each attack runs in forked processes on raw
 * connections while the normal client keeps working; the tests assert what
 * holds on a loaded machine (the victim is served within a generous bound,
 * the attacker is refused or held, the daemon's peak memory stays near its
 * budget).  Peak memory, not memory afterwards: what the C library keeps
 * of freed multi-megabyte buffers is its own affair.  The latency figures
 * are measured by bench/fairness_probe.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"

#define MIB_KIB 1024L
#define NOBODY 65534

/* Put and get n messages on the normal client within bound_ms. */
static void victim_round_trips(int n, int bound_ms, const char *during)
{
	int64_t t0 = harness_now_ms();

	for (int i = 0; i < n; i++) {
		ck_assert_ipc(put_str(normal_q, "victim", 0), 0);
		get_expect(normal_q, "victim", 5000);
	}
	ck_assert_msg(harness_now_ms() - t0 < bound_ms, "%d round trips during %s took %lld ms",
		      n, during, (long long)(harness_now_ms() - t0));
}

/* The daemon's peak memory rose by at most max_kib since hostile_start() (not under ASan). */
static void peak_within(long base_kib, long max_kib, const char *during)
{
	long hwm = hwm_kib(h.pid);

	if (UNDER_ASAN)
		return;
	ck_assert_msg(hwm > 0 && hwm - base_kib <= max_kib,
		      "during %s ipcd's peak memory rose by %ld KiB, more than %ld KiB", during,
		      hwm - base_kib, max_kib);
}

/*
 * Read one frame of fd within timeout_ms: 0 with *status set when it is an
 * error push, 1 when it is something else, or raw_recv_reply's error.
 */
static int recv_push(int fd, int timeout_ms, int *status)
{
	struct proto_reply rep;
	msgpack_unpacked u;
	char *body = NULL;
	int r = raw_recv_reply(fd, &u, &rep, &body, timeout_ms);

	if (r == 0) {
		r = 1;
		if (rep.id == IPC_PUSH_ID && rep.nres >= 1 &&
		    rep.res[0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
			*status = (int)rep.res[0].via.i64;
			r = 0;
		}
	}
	msgpack_unpacked_destroy(&u);
	free(body);
	return r;
}

/* In a child: connect and say hello; the fd, or child_fail. */
static int child_connect(const char *sock)
{
	int fd = raw_connect(sock);

	if (fd < 0 || raw_hello(fd, 1) != 0)
		child_fail("cannot connect to ipcd: %s", strerror(fd < 0 ? -fd : EPROTO));
	return fd;
}

/*
 * [ping, 5, [{} x n]]: 4 MB that msgpack-c would turn into 4 million
 * objects (96 MB and a quarter of a second of the loop) before the gate
 * sees that ping takes no argument.
 */
static void send_expensive_frame(int fd, uint32_t n)
{
	size_t len = 8 + (size_t)n;
	unsigned char *body = malloc(len);

	if (!body)
		child_fail("out of memory");
	body[0] = 0x93;
	body[1] = IPC_OP_PING;
	body[2] = 5;
	body[3] = 0xdd;
	body[4] = (unsigned char)(n >> 24);
	body[5] = (unsigned char)(n >> 16);
	body[6] = (unsigned char)(n >> 8);
	body[7] = (unsigned char)n;
	memset(body + 8, 0x80, n);
	raw_send_frame(fd, body, len);
	free(body);
}

static void expensive_attacker(void)
{
	for (int round = 0; round < 3; round++) {
		int fd = child_connect(h.sock), status = 0, r;

		send_expensive_frame(fd, 4000000);
		r = recv_push(fd, 30000, &status);
		if (r != 0 || status != -EPROTO)
			child_fail("4 million values: %d, status %d, want an error push of -EPROTO", r,
				   status);
		if (raw_wait_closed(fd, 10000) != 0)
			child_fail("4 million values: the connection stayed open");
		close(fd);
	}
	_exit(0);
}

START_TEST(test_expensive_frames_are_refused_before_decoding)
{
	long base;
	pid_t pid[2];

	hostile_start();
	base = hwm_kib(h.pid);
	for (int i = 0; i < 2; i++)
		if ((pid[i] = fork_ok()) == 0)
			expensive_attacker();
	victim_round_trips(200, 30000, "expensive frames");
	for (int i = 0; i < 2; i++)
		harness_expect_child_ok(pid[i], 60000, "an attacker sending expensive frames");
	/* Two frames of 4 MB buffered, nothing of 96 MB decoded. */
	peak_within(base, 48 * MIB_KIB, "expensive frames");
	hostile_served("expensive frames");
	hostile_stop();
}
END_TEST

/*
 * 40 connections each leave 3 MiB of a 4 MiB frame unfinished under a
 * 24 MiB budget: those past it get -ENOBUFS and are closed, and ipcd's
 * memory stays near the budget (it took 120 MiB and more before).
 */
START_TEST(test_half_sent_frames_count_in_the_budget)
{
	static const char *const args[] = { "--max-memory", "24M", NULL };
	enum { N = 40, SENT = 3 << 20 };
	int go[2], done[2];
	long base, refused, buffers;
	pid_t pid;
	int status;

	harness_start(&h, args);
	normal = connect_ok(h.sock);
	normal_q = open_ok(normal, "normal", IPC_CREATE, NULL);
	base = hwm_kib(h.pid);
	pipe_ok(go);
	pipe_ok(done);
	pid = fork_ok();
	if (pid == 0) {
		static int fds[N];
		unsigned char hdr[IPC_FRAME_HEADER];
		char *junk = calloc(1, SENT);
		int nobufs = 0, st = 0;

		if (!junk)
			child_fail("out of memory");
		ipc_frame_put_len(hdr, 4u << 20);
		for (int i = 0; i < N; i++) {
			fds[i] = child_connect(h.sock);
			raw_send(fds[i], hdr, sizeof hdr);
			raw_send(fds[i], junk, SENT);   /* fails once ipcd closed it */
		}
		for (int i = 0; i < N; i++)
			if (recv_push(fds[i], 200, &st) == 0 && st == -ENOBUFS)
				nobufs++;
		if (write(done[1], "x", 1) != 1 || wait_byte(go[0], 60000) < 0)
			child_fail("no word from the test");
		_exit(nobufs);
	}
	ck_assert_int_eq(wait_byte(done[0], 120000), 0);
	/* The connections that fit are still held: the budget counts them. */
	buffers = status_key(normal, "buffers");
	victim_round_trips(50, 30000, "half-sent frames");
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	status = harness_wait_child(pid, 30000);
	ck_assert_msg(status != -1 && WIFEXITED(status), "the attacker did not finish");
	refused = WEXITSTATUS(status);
	ck_assert_msg(refused >= 20, "only %ld of %d half-sent frames got -ENOBUFS", refused, N);
	peak_within(base, 48 * MIB_KIB, "half-sent frames");
	ck_assert_msg(buffers >= 0 && buffers <= (24L << 20) + (1L << 20),
		      "%ld bytes buffered under a budget of 24 MiB", buffers);
	wait_clients(normal, 1, 10000);
	/* Nothing buffered but the status request itself. */
	ck_assert_int_le(status_key(normal, "buffers"), 16);
	hostile_stop();
}
END_TEST

/* Open queue name on fd with the raw protocol; the handle. */
static uint64_t child_open(int fd, const char *name)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct proto_reply rep;
	msgpack_unpacked u;
	char *body = NULL;
	uint64_t handle = 0;

	raw_begin(&sb, &pk, IPC_OP_Q_OPEN, 2, 3);
	msgpack_pack_str_with_body(&pk, name, strlen(name));
	msgpack_pack_uint32(&pk, IPC_OPEN_CREATE);
	msgpack_pack_nil(&pk);
	if (raw_end(fd, &sb) < 0 || raw_recv_reply(fd, &u, &rep, &body, 10000) < 0)
		child_fail("cannot open %s", name);
	if (rep.status == 0 && rep.nres >= 1)
		handle = proto_u64(&rep.res[0]);
	msgpack_unpacked_destroy(&u);
	free(body);
	if (!handle)
		child_fail("open %s: status %d", name, rep.status);
	return handle;
}

/* n frames of one op on handle h with no more arguments, in one write. */
static void send_many(int fd, unsigned op, uint64_t handle, int n, uint32_t first_id)
{
	msgpack_sbuffer all, sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&all);
	for (int i = 0; i < n; i++) {
		raw_begin(&sb, &pk, op, first_id + (uint32_t)i, 1);
		msgpack_pack_uint64(&pk, handle);
		hostile_frame_into(&all, &sb);
		msgpack_sbuffer_destroy(&sb);
	}
	raw_send(fd, all.data, all.size);
	msgpack_sbuffer_destroy(&all);
}

/*
 * Ten clients pipeline 64 peeks of a 1 MiB message each and read nothing:
 * each is held at about the high-water mark instead of being handed 16 MiB
 * (--max-output), and one that reads afterwards gets every reply.
 */
START_TEST(test_unread_peeks_are_held_not_produced)
{
	static const char *const args[] = { "--max-output", "16M", NULL };
	enum { N = 10, PEEKS = 64, BIG = 1 << 20 };
	char *big = calloc(1, BIG);
	int go[2], done[2];
	pid_t pid[N];
	long base, buffers, clients;

	ck_assert_ptr_nonnull(big);
	harness_start(&h, args);
	normal = connect_ok(h.sock);
	normal_q = open_ok(normal, "normal", IPC_CREATE, NULL);
	{
		ipc_queue *q = open_ok(normal, "big", IPC_CREATE, NULL);

		ck_assert_ipc(ipc_queue_put(q, big, BIG, 0), 0);
		ipc_queue_close(q);
	}
	free(big);
	base = hwm_kib(h.pid);
	pipe_ok(go);
	pipe_ok(done);
	for (int k = 0; k < N; k++) {
		pid[k] = fork_ok();
		if (pid[k] == 0) {
			int fd = child_connect(h.sock);
			uint64_t handle = child_open(fd, "big");

			send_many(fd, IPC_OP_Q_PEEK, handle, PEEKS, 100);
			if (write(done[1], "x", 1) != 1 || wait_byte(go[0], 60000) < 0)
				child_fail("no word from the test");
			/* The first reads everything: nothing it asked for was dropped. */
			for (int i = 0; k == 0 && i < PEEKS; i++) {
				struct proto_reply rep;
				msgpack_unpacked u;
				char *body = NULL;
				uint32_t len = 0;

				if (raw_recv_reply(fd, &u, &rep, &body, 30000) < 0 ||
				    rep.id != 100u + (uint32_t)i || rep.status != 0 || rep.nres < 1 ||
				    !proto_bytes(&rep.res[0], &len) || len != BIG)
					child_fail("peek %d: no whole reply", i);
				msgpack_unpacked_destroy(&u);
				free(body);
			}
			_exit(0);
		}
	}
	for (int k = 0; k < N; k++)
		ck_assert_int_eq(wait_byte(done[0], 60000), 0);
	victim_round_trips(100, 30000, "unread peeks");
	/* Each holds about the high-water mark and one reply, not 16 MiB. */
	buffers = status_key(normal, "buffers");
	clients = status_key(normal, "clients");
	for (int k = 0; k < N; k++)
		ck_assert_int_eq(write(go[1], "x", 1), 1);
	for (int k = 0; k < N; k++)
		harness_expect_child_ok(pid[k], 60000, "a client of unread peeks");
	peak_within(base, 64 * MIB_KIB, "unread peeks");
	/* Held, not cut off: what they asked for is still theirs. */
	ck_assert_int_eq(clients, N + 1);
	ck_assert_msg(buffers >= 0 && buffers <= N * (3L << 20),
		      "%ld bytes of replies held for %d clients that read nothing", buffers, N);
	wait_clients(normal, 1, 10000);
	/* Nothing buffered but the status request itself. */
	ck_assert_int_le(status_key(normal, "buffers"), 16);
	hostile_stop();
}
END_TEST

/* Let nobody reach the socket: search rights on its directories. */
static void open_dirs_to_others(void)
{
	char parent[sizeof h.dir];

	snprintf(parent, sizeof parent, "%s", h.dir);
	ck_assert_int_eq(chmod(h.dir, 0711), 0);
	ck_assert_int_eq(chmod(dirname(parent), 0711), 0);
}

/*
 * In a child become nobody and open n connections: those admitted are kept,
 * the others must be refused with an -EUSERS push; tell the count on done,
 * hold them until a byte on go.
 */
static void nobody_floods(int n, int done, int go)
{
	static int fds[256];
	unsigned char admitted = 0;

	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		child_fail("cannot become nobody: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		int fd = raw_connect(h.sock), st = 0;
		struct proto_reply rep;
		msgpack_unpacked u;
		msgpack_sbuffer sb;
		msgpack_packer pk;
		char *body = NULL;

		if (fd < 0)
			child_fail("connect %d: %s", i, strerror(-fd));
		raw_begin(&sb, &pk, IPC_OP_HELLO, 1, 3);
		msgpack_pack_uint32(&pk, IPC_PROTO_VERSION);
		msgpack_pack_uint32(&pk, (uint32_t)getpid());
		msgpack_pack_str_with_body(&pk, "flood", 5);
		raw_end(fd, &sb);   /* may fail: a refused client is closed soon */
		if (raw_recv_reply(fd, &u, &rep, &body, 10000) < 0)
			child_fail("connection %d: no answer", i);
		if (rep.id == 1 && rep.status == 0) {
			fds[admitted++] = fd;
		} else {
			if (rep.id == IPC_PUSH_ID && rep.nres >= 1)
				st = (int)proto_i64(&rep.res[0]);
			if (st != -EUSERS)
				child_fail("connection %d: refused with %d, want -EUSERS", i, st);
			close(fd);
		}
		msgpack_unpacked_destroy(&u);
		free(body);
	}
	if (write(done, &admitted, 1) != 1 || wait_byte(go, 60000) < 0)
		child_fail("no word from the test");
	for (int i = 0; i < admitted; i++)
		close(fds[i]);
	_exit(0);
}

/* Start the flood of n as nobody; the count admitted. */
static int flood_as_nobody(int n, pid_t *pid, int go[2])
{
	int done[2];
	unsigned char admitted = 0;

	pipe_ok(go);
	pipe_ok(done);
	*pid = fork_ok();
	if (*pid == 0)
		nobody_floods(n, done[1], go[0]);
	ck_assert_int_eq(read(done[0], &admitted, 1), 1);
	close(done[0]);
	close(done[1]);
	return admitted;
}

/*
 * Start ipcd with args; nobody floods it with flood connections, of which
 * admitted get in; then others connections of root's get in beside them,
 * and the daemon counts want_clients, with max_clients_per_user at per_user.
 */
static void nobody_floods_then_others_connect(const char *test, const char *const *args,
					      int flood, int admitted, int others,
					      long want_clients, long per_user)
{
	ipc_client *c[32];
	int go[2];
	pid_t pid;

	ck_assert_int_le(others, 32);
	if (!running_as_root()) {
		fprintf(stderr, "%s: skipped: it must run as root to setuid() to a second user\n",
			test);
		return;
	}
	harness_start(&h, args);
	open_dirs_to_others();
	ck_assert_int_eq(flood_as_nobody(flood, &pid, go), admitted);
	for (int i = 0; i < others; i++)
		c[i] = connect_ok(h.sock);
	ck_assert_int_eq(status_key(c[0], "clients"), want_clients);
	ck_assert_int_eq(status_key(c[0], "max_clients_per_user"), per_user);
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	harness_expect_child_ok(pid, 30000, "nobody's flood");
	for (int i = 0; i < others; i++)
		ipc_disconnect(c[i]);
}

START_TEST(test_one_user_cannot_take_every_connection)
{
	static const char *const args[] = { "--max-clients", "40", "--max-clients-per-user", "16",
					    NULL };

	/* Everyone else still gets in while nobody holds its 16. */
	nobody_floods_then_others_connect("test_one_user_cannot_take_every_connection", args,
					  30, 16, 20, 36, 16);
}
END_TEST

START_TEST(test_root_keeps_slots_when_others_fill_max_clients)
{
	static const char *const args[] = { "--max-clients", "20", NULL };

	/* Nobody gets all but the 4 slots kept for root. */
	nobody_floods_then_others_connect("test_root_keeps_slots_when_others_fill_max_clients",
					  args, 25, 16, 4, 20, 512);
}
END_TEST

START_TEST(test_idle_connection_is_closed)
{
	static const char *const args[] = { "--idle-timeout", "1", NULL };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int idle, holder, st = 0;

	harness_start(&h, args);
	idle = raw_connect_greeted(h.sock);
	holder = raw_connect_greeted(h.sock);
	ck_assert_msg(recv_push(holder, 0, &st) == -ETIMEDOUT, "the holder got a push");
	raw_begin(&sb, &pk, IPC_OP_Q_OPEN, 2, 3);
	msgpack_pack_str_with_body(&pk, "kept", 4);
	msgpack_pack_uint32(&pk, IPC_OPEN_CREATE);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(raw_end(holder, &sb), 0);
	hostile_expect_reply(holder, 2, 0, "open by the holder");
	/* The idle one is told why, then closed; the one holding a queue stays. */
	ck_assert_int_eq(recv_push(idle, 15000, &st), 0);
	ck_assert_int_eq(st, -ETIMEDOUT);
	ck_assert_int_eq(raw_wait_closed(idle, 5000), 0);
	raw_begin(&sb, &pk, IPC_OP_PING, 3, 0);
	ck_assert_int_eq(raw_end(holder, &sb), 0);
	hostile_expect_reply(holder, 3, 0, "ping by the holder after the idle one went");
	close(idle);
	close(holder);
}
END_TEST

/* Put len bytes on handle through fd and expect 0. */
static void raw_put(int fd, uint64_t handle, const void *data, size_t len, uint32_t id)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	raw_begin(&sb, &pk, IPC_OP_Q_PUT, id, 3);
	msgpack_pack_uint64(&pk, handle);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_bin_with_body(&pk, data, len);
	ck_assert_int_eq(raw_end(fd, &sb), 0);
	hostile_expect_reply(fd, id, 0, "a put");
}

/*
 * A paused client is still read, so one that writes all its requests before
 * reading does not block; but one that goes on sending requests while it
 * reads none of its replies is cut off once they pass a frame and a read.
 */
START_TEST(test_paused_client_that_keeps_sending_is_cut_off)
{
	static char big[1 << 20];
	static const unsigned char ping[] = { 0, 0, 0, 3, 0x92, IPC_OP_PING, 9 };
	enum { CHUNK = 1 << 20 };
	unsigned char *pings = malloc(CHUNK);
	uint64_t handle;
	int fd;

	ck_assert_ptr_nonnull(pings);
	for (size_t i = 0; i + sizeof ping <= CHUNK; i += sizeof ping)
		memcpy(pings + i, ping, sizeof ping);
	hostile_start();
	fd = raw_connect_greeted(h.sock);
	handle = child_open(fd, "big");
	raw_put(fd, handle, big, sizeof big, 3);
	send_many(fd, IPC_OP_Q_PEEK, handle, 4, 100);
	/* 16 MiB of pings, reading nothing: the sends fail once it is cut off. */
	for (int i = 0; i < 16 && raw_send(fd, pings, CHUNK - CHUNK % sizeof ping) == 0; i++)
		;
	free(pings);
	ck_assert_int_eq(raw_wait_hangup(fd, 15000), 0);
	close(fd);
	ck_assert_ipc(ipc_queue_unlink(normal, "big"), 0);
	hostile_served("a paused client that kept sending");
	hostile_stop();
}
END_TEST

/*
 * A malformed frame after requests whose replies fill the socket: the
 * client reads every reply, then the error push, then the end.
 */
/*
 * Start ipcd; on a raw connection put a 64 KiB message in queue "wide", ask
 * for peeks of it (ids 100 on) and send a malformed frame after them, reading
 * nothing.  Returns the connection.
 */
static int peeks_then_garbage(int peeks)
{
	static char data[64 << 10];
	uint64_t handle;
	int fd;

	hostile_start();
	fd = raw_connect_greeted(h.sock);
	handle = child_open(fd, "wide");
	raw_put(fd, handle, data, sizeof data, 3);
	send_many(fd, IPC_OP_Q_PEEK, handle, peeks, 100);
	ck_assert_int_eq(raw_send(fd, "\0\0\0\1\xc1", 5), 0);
	return fd;
}

START_TEST(test_error_push_is_sent_before_the_close)
{
	enum { PEEKS = 40 };
	/* 2.5 MiB of replies, then garbage. */
	int fd = peeks_then_garbage(PEEKS);

	for (int i = 0; i < PEEKS; i++)
		hostile_expect_reply(fd, 100 + (uint32_t)i, 0, "a peek before the malformed frame");
	hostile_expect_close(fd, -EPROTO, "the malformed frame after the peeks");
	close(fd);
	ck_assert_ipc(ipc_queue_unlink(normal, "wide"), 0);
	hostile_served("an error push behind 2.5 MiB of replies");
	hostile_stop();
}
END_TEST

/* A client that reads none of it is closed anyway, after a short grace. */
START_TEST(test_unread_error_push_closes_after_grace)
{
	int fd = peeks_then_garbage(10);

	/* It stops counting as a client at once, and is closed within the grace. */
	wait_clients(normal, 1, 5000);
	ck_assert_int_eq(raw_wait_hangup(fd, 15000), 0);
	close(fd);
	ck_assert_ipc(ipc_queue_unlink(normal, "wide"), 0);
	hostile_served("an error push never read");
	hostile_stop();
}
END_TEST

static Suite *share_suite(void)
{
	Suite *s = suite_create("share");
	TCase *tc;

	tc = harness_tcase(s, "share", 180, hostile_setup, hostile_teardown);
	tcase_add_test(tc, test_expensive_frames_are_refused_before_decoding);
	tcase_add_test(tc, test_half_sent_frames_count_in_the_budget);
	tcase_add_test(tc, test_unread_peeks_are_held_not_produced);
	tcase_add_test(tc, test_one_user_cannot_take_every_connection);
	tcase_add_test(tc, test_root_keeps_slots_when_others_fill_max_clients);
	tcase_add_test(tc, test_idle_connection_is_closed);
	tcase_add_test(tc, test_error_push_is_sent_before_the_close);
	tcase_add_test(tc, test_unread_error_push_closes_after_grace);
	tcase_add_test(tc, test_paused_client_that_keeps_sending_is_cut_off);
	return s;
}

int main(void)
{
	return harness_main(share_suite());
}
