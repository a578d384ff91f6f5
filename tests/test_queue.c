/*
 * test_queue.c - queues carry every message intact, end to end: the real
 * ipcd in a temporary directory and real forked clients through
 * ipcclient.h.  Children that reuse the parent's ipc_client and handles
 * exercise the library's fork safety; then many producers and consumers at
 * once, every message taken exactly once and in order per producer.
 *
 * Children report on a pipe or by exit status and always leave with _exit(),
 * so stdio buffers and Check's state are never flushed twice.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	daemon_still_running(&h);
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
	return s;
}

int main(void)
{
	return harness_main(queue_suite());
}
