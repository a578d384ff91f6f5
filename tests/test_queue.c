/*
 * test_queue.c - queues end to end: the real ipcd in a temporary directory,
 * real forked clients, everything through ipcclient.h except the tests of
 * malformed input, which speak raw frames.
 *
 * Children report on a pipe or by exit status and always leave with _exit(),
 * so stdio buffers and Check's state are never flushed twice.  Children that
 * reuse the parent's ipc_client and handles exercise the library's fork
 * safety.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* A pipe whose ends the caller closes. */
static void pipe_ok(int fds[2])
{
	ck_assert_msg(pipe(fds) == 0, "pipe: %s", strerror(errno));
}

/* Read exactly len bytes from fd within timeout_ms: 0, or -1 on timeout or EOF. */
static int read_within(int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = end - harness_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			if (errno == EINTR && left > 0)
				continue;
			return -1;
		}
		n = read(fd, p, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			child_fail("write to pipe: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* What a blocked child reports: the call's result and how long it took. */
struct outcome {
	int r;
	int64_t ms;
};

static void daemon_still_running(void)
{
	ck_assert_msg(h.pid > 0, "no ipcd");
	harness_check_daemon(&h);
}

/* A fresh client can still create a queue, put and get: the daemon serves. */
static void daemon_serves(const char *qname)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, qname, IPC_CREATE, NULL);

	ck_assert_ipc(put_str(q, "still here", 1000), 0);
	get_expect(q, "still here", 1000);
	ipc_queue_close(q);
	ipc_disconnect(c);
}

/* ------------------------------------------------------------------------ */
/* Fork safety and data integrity */

/* Tests of requests parked in ipcd: a queue with no ring, where gets and puts wait there. */
static const ipc_queue_attr by_socket = { .noring = 1 };

START_TEST(test_msgpack_list_from_child)
{
	ipc_client *c;
	ipc_queue *q;
	msgpack_unpacked u;
	msgpack_object *a;
	void *data;
	size_t len, off = 0;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "list", IPC_CREATE, NULL);
	ck_assert_ipc(ipc_queue_size(q), 0);

	pid = fork_ok();
	if (pid == 0) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		int r;

		/* The parent's client and handle, used from the child. */
		raw_packer(&sb, &pk);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_int(&pk, 42);
		msgpack_pack_nil(&pk);
		msgpack_pack_str_with_body(&pk, "hello", 5);
		r = ipc_queue_put(q, sb.data, sb.size, 5000);
		if (r < 0)
			child_fail("put: %s", ipc_strerror(r));
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "producer");

	/* The parent's connection is intact after the child used the client. */
	ck_assert_ipc(ipc_queue_size(q), 1);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, HARNESS_HANG_MS), 0);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, data, len, &off), MSGPACK_UNPACK_SUCCESS);
	ck_assert_uint_eq(off, len);
	ck_assert_int_eq(u.data.type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(u.data.via.array.size, 3);
	a = u.data.via.array.ptr;
	ck_assert_int_eq(a[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(a[0].via.u64, 42);
	ck_assert_int_eq(a[1].type, MSGPACK_OBJECT_NIL);
	ck_assert_int_eq(a[2].type, MSGPACK_OBJECT_STR);
	ck_assert_uint_eq(a[2].via.str.size, 5);
	ck_assert_mem_eq(a[2].via.str.ptr, "hello", 5);
	msgpack_unpacked_destroy(&u);
	free(data);
	ck_assert_ipc(ipc_queue_size(q), 0);

	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/*
 * A child made without fork() runs no pthread_atfork handler: it must still
 * get its own connection (the library checks with getpid()), never write on
 * its parent's.
 */
START_TEST(test_raw_clone_child_gets_its_own_connection)
{
	ipc_client *c;
	ipc_queue *q;
	int go[2], done[2];
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	/* By the socket: through a ring, a put needs no connection of its own. */
	q = open_ok(c, "cloned", IPC_CREATE, &by_socket);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int r = put_str(q, "from the clone", 5000);

		if (r < 0)
			child_fail("put: %s", ipc_strerror(r));
		if (write(done[1], "!", 1) != 1 || wait_byte(go[0], HARNESS_HANG_MS) < 0)
			child_fail("no word from the parent");
		_exit(0);
	}
	ck_assert_int_eq(wait_byte(done[0], HARNESS_HANG_MS), 0);
	/* The clone is a client of its own, with the queue open. */
	ck_assert_int_eq(client_key(c, pid, "handles"), 1);
	ck_assert_int_eq(write(go[1], "!", 1), 1);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "clone");
	get_expect(q, "from the clone", 1000);
	ck_assert_ipc(ipc_queue_size(q), 0);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(done[i]);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_squares_drained_in_order)
{
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;
	pid_t pid;
	int i;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "squares", IPC_CREATE, NULL);

	pid = fork_ok();
	if (pid == 0) {
		for (i = 0; i < 10; i++) {
			msgpack_sbuffer sb;
			msgpack_packer pk;
			int r;

			raw_packer(&sb, &pk);
			msgpack_pack_int(&pk, i * i);
			r = ipc_queue_put(q, sb.data, sb.size, 5000);
			msgpack_sbuffer_destroy(&sb);
			if (r < 0)
				child_fail("put %d: %s", i, ipc_strerror(r));
		}
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "producer");

	ck_assert_ipc(ipc_queue_size(q), 10);
	for (i = 0; i < 10; i++) {
		msgpack_unpacked u;
		size_t off = 0;

		/* peek shows the oldest message without taking it. */
		ck_assert_ipc(ipc_queue_peek(q, &data, &len), 0);
		free(data);
		ck_assert_ipc(ipc_queue_size(q), 10 - i);
		ck_assert_ipc(ipc_queue_get(q, &data, &len, HARNESS_HANG_MS), 0);
		msgpack_unpacked_init(&u);
		ck_assert_int_eq(msgpack_unpack_next(&u, data, len, &off), MSGPACK_UNPACK_SUCCESS);
		ck_assert_uint_eq(off, len);
		ck_assert_int_eq(u.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
		ck_assert_uint_eq(u.data.via.u64, (uint64_t)(i * i));
		msgpack_unpacked_destroy(&u);
		free(data);
		ck_assert_ipc(ipc_queue_size(q), 9 - i);
	}
	ck_assert_ipc(ipc_queue_get(q, &data, &len, IPC_NOWAIT), -EAGAIN);

	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Many processes at once */

#define PRODUCERS 4
#define CONSUMERS 4
#define END_MARK UINT32_MAX      /* producer id of the message that stops a consumer */

/* What every message of the load test carries. */
struct tag {
	uint32_t producer;
	uint32_t seq;
};

/* Messages per producer: 50,000, or $IPCD_TEST_MESSAGES for a quicker run. */
static uint32_t per_producer(void)
{
	const char *s = getenv("IPCD_TEST_MESSAGES");
	long n = s ? strtol(s, NULL, 10) : 0;

	return n > 0 ? (uint32_t)n : 50000;
}

static void producer(ipc_queue *q, uint32_t id, uint32_t n)
{
	struct tag t = { id, 0 };
	int r;

	for (t.seq = 0; t.seq < n; t.seq++) {
		r = ipc_queue_put(q, &t, sizeof t, 10000);
		if (r < 0)
			child_fail("producer %u put %u: %s", id, t.seq, ipc_strerror(r));
	}
	_exit(0);
}

/* Take messages until an end mark, then write what was taken to path. */
static void consumer(const char *sock, const char *path, uint32_t cap)
{
	struct tag *got = malloc((size_t)cap * sizeof *got);
	ipc_client *c;
	ipc_queue *q;
	uint32_t n = 0;
	FILE *f;
	int r;

	if (!got)
		child_fail("out of memory");
	/* Consumers bring their own connection; producers reuse the parent's. */
	if ((r = ipc_connect(sock, &c)) < 0)
		child_fail("connect: %s", ipc_strerror(r));
	if ((r = ipc_queue_open(c, "load", 0, NULL, &q)) < 0)
		child_fail("open: %s", ipc_strerror(r));
	for (;;) {
		void *data;
		size_t len;

		r = ipc_queue_get(q, &data, &len, 20000);
		if (r < 0)
			child_fail("get after %u messages: %s", n, ipc_strerror(r));
		if (len != sizeof *got)
			child_fail("message of %zu bytes", len);
		if (n == cap)
			child_fail("more than %u messages", cap);
		memcpy(&got[n], data, sizeof *got);
		free(data);
		if (got[n].producer == END_MARK)
			break;
		n++;
	}
	f = fopen(path, "wb");
	if (!f || fwrite(got, sizeof *got, n, f) != n || fclose(f) != 0)
		child_fail("cannot write %s", path);
	_exit(0);
}

START_TEST(test_many_producers_consumers)
{
	uint32_t per = per_producer(), total = per * PRODUCERS, received = 0;
	pid_t cons[CONSUMERS], prod[PRODUCERS];
	unsigned char *seen;
	ipc_client *c;
	ipc_queue *q;
	int64_t t0;
	int i;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "load", IPC_CREATE | IPC_EXCLUSIVE, NULL);
	t0 = harness_now_ms();

	for (i = 0; i < CONSUMERS; i++) {
		char path[PATH_MAX], name[32];

		snprintf(name, sizeof name, "consumer.%d", i);
		harness_path(&h, name, path, sizeof path);
		cons[i] = fork_ok();
		if (cons[i] == 0)
			consumer(h.sock, path, total + 1);
	}
	for (i = 0; i < PRODUCERS; i++) {
		prod[i] = fork_ok();
		if (prod[i] == 0)
			producer(q, (uint32_t)i, per);
	}
	for (i = 0; i < PRODUCERS; i++)
		harness_expect_child_ok(prod[i], 240000, "producer");
	/* Every message is in before the marks, so FIFO puts the marks last. */
	for (i = 0; i < CONSUMERS; i++) {
		struct tag end = { END_MARK, (uint32_t)i };

		ck_assert_ipc(ipc_queue_put(q, &end, sizeof end, HARNESS_HANG_MS), 0);
	}
	for (i = 0; i < CONSUMERS; i++)
		harness_expect_child_ok(cons[i], HARNESS_HANG_MS, "consumer");
	fprintf(stderr, "%u messages through %d producers and %d consumers in %lld ms\n",
		total, PRODUCERS, CONSUMERS, (long long)(harness_now_ms() - t0));
	daemon_still_running();
	ck_assert_ipc(ipc_queue_size(q), 0);

	seen = calloc(total, 1);
	ck_assert_ptr_nonnull(seen);
	for (i = 0; i < CONSUMERS; i++) {
		char path[PATH_MAX], name[32];
		int64_t last[PRODUCERS];
		struct tag t;
		FILE *f;
		int p;

		for (p = 0; p < PRODUCERS; p++)
			last[p] = -1;
		snprintf(name, sizeof name, "consumer.%d", i);
		harness_path(&h, name, path, sizeof path);
		f = fopen(path, "rb");
		ck_assert_msg(f != NULL, "consumer %d left no record", i);
		while (fread(&t, sizeof t, 1, f) == 1) {
			ck_assert_msg(t.producer < PRODUCERS && t.seq < per,
				      "consumer %d got a message never sent: %u/%u", i,
				      t.producer, t.seq);
			ck_assert_msg(!seen[t.producer * per + t.seq],
				      "message %u/%u delivered twice", t.producer, t.seq);
			ck_assert_msg((int64_t)t.seq > last[t.producer],
				      "consumer %d got %u/%u after %u/%lld", i, t.producer,
				      t.seq, t.producer, (long long)last[t.producer]);
			seen[t.producer * per + t.seq] = 1;
			last[t.producer] = t.seq;
			received++;
		}
		fclose(f);
	}
	for (i = 0; (uint32_t)i < total; i++)
		ck_assert_msg(seen[i], "message %u/%u lost", i / per, i % per);
	ck_assert_uint_eq(received, total);
	free(seen);

	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Waiting: timeouts, full queues, the order of waiters */

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

	daemon_still_running();
	get_expect(q, "before", 1000);
	ck_assert_ipc(put_str(q, "after", 0), 0);
	get_expect(q, "after", 1000);
	daemon_serves("fresh");

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

	daemon_still_running();
	ck_assert_ipc(put_str(q, "still", 0), 0);
	get_expect(q, "still", 1000);
	daemon_serves("fresh2");
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
	daemon_still_running();
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
		daemon_still_running();
		ck_assert_ipc(put_str(q, bad[i].what, 0), 0);
		get_expect(q, bad[i].what, 1000);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* In a child: connect, open qname, say ready on fd, then block in a get and report. */
static void blocked_getter(const char *qname, int fd)
{
	struct outcome o;
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;
	int64_t t0;
	int r;

	if ((r = ipc_connect(h.sock, &c)) < 0)
		child_fail("connect: %s", ipc_strerror(r));
	if ((r = ipc_queue_open(c, qname, IPC_CREATE, NULL, &q)) < 0)
		child_fail("open: %s", ipc_strerror(r));
	write_all(fd, "R", 1);
	t0 = harness_now_ms();
	o.r = ipc_queue_get(q, &data, &len, IPC_FOREVER);
	o.ms = harness_now_ms() - t0;
	if (o.r == 0)
		free(data);
	write_all(fd, &o, sizeof o);
	_exit(0);
}

/*
 * Start a blocked_getter child on the queue watch is a handle of; returns its
 * pid and the read end of its pipe once its get is parked.
 */
static pid_t start_blocked_getter(ipc_queue *watch, int *rfd)
{
	int p[2];
	pid_t pid;
	char b;

	pipe_ok(p);
	pid = fork_ok();
	if (pid == 0) {
		close(p[0]);
		blocked_getter(ipc_queue_name(watch), p[1]);
	}
	close(p[1]);
	ck_assert_msg(read_within(p[0], &b, 1, 5000) == 0, "getter never got ready");
	wait_stat(watch, "getters", 1, HARNESS_HANG_MS);
	*rfd = p[0];
	return pid;
}

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
	pid = start_blocked_getter(q, &fd);
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
	pid = start_blocked_getter(q, &fd);
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
	daemon_still_running();
	ck_assert_ipc(ipc_server_status(c, &mp, &len), 0);
	free(mp);
	get_expect(q, "kept", 1000);
	daemon_serves("second");
	ipc_queue_close(q);
	ipc_disconnect(c);

	/* A killed daemon leaves its socket file; the next one replaces it. */
	harness_kill(&h);
	ck_assert_msg(access(h.sock, F_OK) == 0, "no stale socket left to replace");
	harness_start(&h, NULL);
	daemon_serves("third");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Limits and errors of the contract */

START_TEST(test_put_over_max_message_is_emsgsize)
{
	static const char *const args[] = { "--max-message", "4096", NULL };
	size_t big_len = 1 << 20;
	char *big = malloc(big_len);
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', big_len);
	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "sized", IPC_CREATE, NULL);

	ck_assert_ipc(ipc_queue_put(q, big, 4097, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put(q, big, big_len, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_size(q), 0);
	/* The connection still works, and the limit itself is allowed. */
	big[0] = 'a';
	big[4095] = 'z';
	ck_assert_ipc(ipc_queue_put(q, big, 4096, 0), 0);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
	ck_assert_uint_eq(len, 4096);
	ck_assert_mem_eq(data, big, 4096);
	free(data);
	ck_assert_ipc(ipc_queue_put(q, big, 4097, IPC_FOREVER), -EMSGSIZE);
	ck_assert_ipc(put_str(q, "small", 0), 0);
	get_expect(q, "small", 0);

	free(big);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_memory_budget_gives_enobufs)
{
	static const char *const args[] = { "--max-message", "4096",
					    "--max-memory", "1048576", NULL };
	char msg[4000];
	ipc_client *c;
	ipc_queue *q;
	long n, r = 0;

	memset(msg, 'm', sizeof msg);
	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "hungry", IPC_CREATE, NULL);

	/* 1 MiB holds at most about 262 messages of 4000 bytes. */
	for (n = 0; n < 2000; n++) {
		r = ipc_queue_put(q, msg, sizeof msg, IPC_FOREVER);
		if (r < 0)
			break;
	}
	ck_assert_msg(r == -ENOBUFS, "put %ld of 4000 bytes under a 1 MiB budget: %ld (%s)",
		      n, r, ipc_strerror((int)r));
	ck_assert_msg(n >= 10, "budget ran out after only %ld messages", n);
	ck_assert_ipc(ipc_queue_size(q), n);

	/* Dropping the messages gives the budget back. */
	ck_assert_ipc(ipc_queue_purge(q), n);
	ck_assert_ipc(ipc_queue_size(q), 0);
	ck_assert_ipc(ipc_queue_put(q, msg, sizeof msg, 0), 0);
	ck_assert_ipc(ipc_queue_size(q), 1);

	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_admitted_parked_put_counts_memory_once)
{
	static const ipc_queue_attr one = { .maxsize = 1, .noring = 1 };
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "one", IPC_CREATE, &one);
	ck_assert_ipc(put_str(q, "0123456789", 0), 0);
	pid = fork_ok();
	if (pid == 0) {
		int r = put_str(q, "abcdefghij", 5000);

		if (r < 0)
			child_fail("parked put: %s", ipc_strerror(r));
		_exit(0);
	}
	wait_stat(q, "putters", 1, HARNESS_HANG_MS);
	ck_assert_ipc(status_key(c, "memory"), 20);
	/* The get admits the parked put: its 10 bytes now sit in the queue. */
	get_expect(q, "0123456789", 1000);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "parked putter");
	ck_assert_ipc(status_key(c, "memory"), 10);
	get_expect(q, "abcdefghij", 1000);
	ck_assert_ipc(status_key(c, "memory"), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_queue_maxbytes_bounds_payload)
{
	ipc_queue_attr attr = { .maxbytes = 100, .noring = 1 };
	char msg[101];
	ipc_client *c;
	ipc_queue *q;

	memset(msg, 'b', sizeof msg);
	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "bytes", IPC_CREATE, &attr);

	ck_assert_ipc(ipc_queue_put(q, msg, 101, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put(q, msg, 101, IPC_FOREVER), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put(q, msg, 60, 0), 0);
	/* 60 + 60 > 100: full for this message, so it waits. */
	ck_assert_ipc(ipc_queue_put(q, msg, 60, IPC_NOWAIT), -EAGAIN);
	ck_assert_ipc(ipc_queue_put(q, msg, 40, 0), 0);
	ck_assert_ipc(ipc_queue_size(q), 2);

	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/*
 * A message larger than a storage chunk, put after the queue was emptied,
 * is the one got back (not a stale record of the emptied chunk), in a queue
 * and in a pipe.
 */
START_TEST(test_large_message_after_emptied_store)
{
	size_t big = 100000;
	char *msg = malloc(big);
	ipc_pipe *e0, *e1;
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;

	ck_assert_ptr_nonnull(msg);
	memset(msg, 'x', big);
	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "large", IPC_CREATE, NULL);
	ck_assert_ipc(ipc_queue_put(q, "small", 5, 0), 0);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
	free(data);
	ck_assert_ipc(ipc_queue_put(q, msg, big, 0), 0);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
	ck_assert_uint_eq(len, big);
	ck_assert_int_eq(memcmp(data, msg, big), 0);
	free(data);

	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	ck_assert_ipc(ipc_pipe_send(e0, "small", 5, 0), 0);
	ck_assert_ipc(ipc_pipe_recv(e1, &data, &len, 0), 0);
	free(data);
	ck_assert_ipc(ipc_pipe_send(e0, msg, big, 0), 0);
	ck_assert_ipc(ipc_pipe_recv(e1, &data, &len, 0), 0);
	ck_assert_uint_eq(len, big);
	ck_assert_int_eq(memcmp(data, msg, big), 0);
	free(data);

	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ipc_queue_close(q);
	ipc_disconnect(c);
	free(msg);
}
END_TEST

START_TEST(test_open_errors)
{
	ipc_queue_attr reserved = { .ack = 1 };
	char name[300];
	ipc_client *c;
	ipc_queue *q, *q2;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);

	q = NULL;
	ck_assert_ipc(ipc_queue_open(c, "missing", 0, NULL, &q), -ENOENT);
	ck_assert_ptr_null(q);
	ck_assert_msg(ipc_last_error(c) != NULL, "ipc_last_error returned NULL");

	q = open_ok(c, "exists", IPC_CREATE | IPC_EXCLUSIVE, NULL);
	q2 = NULL;
	ck_assert_ipc(ipc_queue_open(c, "exists", IPC_CREATE | IPC_EXCLUSIVE, NULL, &q2), -EEXIST);
	ck_assert_ptr_null(q2);
	q2 = open_ok(c, "exists", IPC_CREATE, NULL);
	ck_assert_str_eq(ipc_queue_name(q2), "exists");
	/* Two handles, one queue. */
	ck_assert_ipc(put_str(q, "shared", 0), 0);
	ck_assert_ipc(ipc_queue_size(q2), 1);
	ipc_queue_close(q2);
	ipc_queue_close(q);

	memset(name, 'n', sizeof name);
	name[256] = '\0';
	ck_assert_ipc(ipc_queue_open(c, name, IPC_CREATE, NULL, &q), -ENAMETOOLONG);
	name[255] = '\0';
	q = open_ok(c, name, IPC_CREATE, NULL);
	ck_assert_str_eq(ipc_queue_name(q), name);
	ipc_queue_close(q);

	ck_assert_ipc(ipc_queue_open(c, "", IPC_CREATE, NULL, &q), -EINVAL);
	/* Attributes once reserved are provided now: ack makes an ack queue. */
	q = open_ok(c, "reserved", IPC_CREATE, &reserved);
	ipc_queue_close(q);
	q = open_ok(c, "reserved", 0, NULL);
	ipc_queue_close(q);

	/* The connection is fine after all these refusals. */
	q = open_ok(c, "exists", 0, NULL);
	get_expect(q, "shared", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_unlinked_queue_is_eidrm)
{
	ipc_client *c;
	ipc_queue *q, *q2;
	void *data;
	size_t len;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "doomed", IPC_CREATE, NULL);
	ck_assert_ipc(put_str(q, "dropped", 0), 0);

	ck_assert_ipc(ipc_queue_unlink(c, "doomed"), 0);
	ck_assert_ipc(ipc_queue_unlink(c, "doomed"), -ENOENT);
	ck_assert_ipc(put_str(q, "late", 0), -EIDRM);
	ck_assert_int_lt(ipc_queue_get(q, &data, &len, 0), 0);
	ck_assert_int_lt(ipc_queue_size(q), 0);
	ipc_queue_close(q);

	/* The name is free again, and the new queue starts empty. */
	q2 = open_ok(c, "doomed", IPC_CREATE | IPC_EXCLUSIVE, NULL);
	ck_assert_ipc(ipc_queue_size(q2), 0);
	ipc_queue_close(q2);
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
	pid = start_blocked_getter(q, &fd);
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

/* Connect, retrying up to 2 s while the daemon may still count a closed probe. */
START_TEST(test_max_clients)
{
	static const char *const args[] = { "--max-clients", "4", NULL };
	ipc_client *c[5];
	void *mp;
	size_t len;
	int i;

	harness_start(&h, args);
	for (i = 0; i < 4; i++)
		ck_assert_ipc(connect_retry(h.sock, &c[i]), 0);
	c[4] = NULL;
	ck_assert_ipc(ipc_connect(h.sock, &c[4]), -EUSERS);
	ck_assert_ptr_null(c[4]);

	/* The four admitted clients are unaffected. */
	for (i = 0; i < 4; i++) {
		ck_assert_ipc(ipc_server_status(c[i], &mp, &len), 0);
		free(mp);
	}
	ipc_disconnect(c[0]);
	ck_assert_ipc(connect_retry(h.sock, &c[0]), 0);
	ck_assert_ipc(ipc_server_status(c[0], &mp, &len), 0);
	free(mp);
	for (i = 0; i < 4; i++)
		ipc_disconnect(c[i]);
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

START_TEST(test_empty_client_name_is_served)
{
	ipc_client *c;
	ipc_queue *q;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_client_set_name(c, ""), 0);
	ck_assert_ipc(ipc_queue_open(c, "", IPC_CREATE, NULL, &q), -EINVAL);
	ck_assert_ipc(ipc_queue_unlink(c, ""), -ENOENT);
	daemon_still_running();
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc;

	tc = harness_tcase(s, "fork", 30, setup, teardown);
	tcase_add_test(tc, test_msgpack_list_from_child);
	tcase_add_test(tc, test_squares_drained_in_order);
	tcase_add_test(tc, test_raw_clone_child_gets_its_own_connection);

	tc = harness_tcase(s, "load", 300, setup, teardown);
	tcase_add_test(tc, test_many_producers_consumers);

	tc = harness_tcase(s, "blocking", 30, setup, teardown);
	tcase_add_test(tc, test_get_timeout_on_empty);
	tcase_add_test(tc, test_put_blocks_when_full);
	tcase_add_test(tc, test_getters_served_in_order);
	tcase_add_test(tc, test_unlink_wakes_blocked_getter);
	tcase_add_test(tc, test_parked_put_moves_up_when_the_one_ahead_leaves);

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

	tc = harness_tcase(s, "limits", 30, setup, teardown);
	tcase_add_test(tc, test_put_over_max_message_is_emsgsize);
	tcase_add_test(tc, test_memory_budget_gives_enobufs);
	tcase_add_test(tc, test_admitted_parked_put_counts_memory_once);
	tcase_add_test(tc, test_queue_maxbytes_bounds_payload);
	tcase_add_test(tc, test_large_message_after_emptied_store);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_unlinked_queue_is_eidrm);
	tcase_add_test(tc, test_max_clients);
	return s;
}

int main(void)
{
	return harness_main(queue_suite());
}
