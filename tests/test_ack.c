/*
 * test_ack.c - acknowledged delivery: on a queue created with attr.ack a
 * message got stays in flight with its consumer until task_done; when the
 * consumer goes (closed, killed, cut off) its in-flight messages return to
 * the head in order, marked redelivered; join waits as Python's
 * JoinableQueue.join does.  The last test is the stress test: 2 producers
 * and 4 consumers, consumers SIGKILLed at random and restarted, 200,000
 * messages, each acknowledged exactly once; run twice, the consumers
 * taking through the shared-memory ring (leases) and by the socket.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"
#include "codec.h"

/* AddressSanitizer makes every process several times slower: allow it longer. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 4
#else
#define SLOWDOWN 1
#endif

static struct harness h;
static const ipc_queue_attr ack_attr = { .ack = 1 };
static const ipc_queue_attr by_socket = { .noring = 1 };

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* Get one message and check its text and its redelivered flag. */
static void get_flagged(ipc_queue *q, const char *want, unsigned want_flags)
{
	void *data = NULL;
	size_t len = 0;
	unsigned flags = 99;

	ck_assert_ipc(ipc_queue_get_info(q, &data, &len, 1000, &flags), 0);
	ck_assert_msg(len == strlen(want) && memcmp(data, want, len) == 0,
		      "got '%.*s', want '%s'", (int)len, (char *)data, want);
	ck_assert_msg(flags == want_flags, "'%s' has flags %u, want %u", want, flags, want_flags);
	free(data);
}

START_TEST(test_task_done_acknowledges_oldest_get)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "acked", IPC_CREATE, &ack_attr), *plain;

	ck_assert_int_eq(stat_key(q, "ack"), 1);
	ck_assert_ipc(ipc_queue_task_done(q), -EINVAL);
	ck_assert_ipc(put_str(q, "a", 0), 0);
	ck_assert_ipc(put_str(q, "b", 0), 0);
	get_flagged(q, "a", 0);
	get_flagged(q, "b", 0);
	/* Got but not acknowledged: in flight, not in the queue. */
	ck_assert_int_eq(ipc_queue_size(q), 0);
	ck_assert_int_eq(stat_key(q, "unacked"), 2);
	ck_assert_int_eq(stat_key(q, "inflight"), 2);
	ck_assert_ipc(ipc_queue_task_done(q), 0);
	ck_assert_int_eq(stat_key(q, "unacked"), 1);
	ck_assert_ipc(ipc_queue_task_done(q), 0);
	ck_assert_ipc(ipc_queue_task_done(q), -EINVAL);
	ck_assert_int_eq(stat_key(q, "acked"), 2);
	ck_assert_int_eq(status_key(c, "memory"), 0);

	/* Without ack, nothing is ever in flight. */
	plain = open_ok(c, "plain", IPC_CREATE, NULL);
	ck_assert_ipc(put_str(plain, "x", 0), 0);
	get_expect(plain, "x", 0);
	ck_assert_ipc(ipc_queue_task_done(plain), -EINVAL);
	ipc_queue_close(plain);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A consumer in a child: get n messages, never acknowledge, then exit or wait. */
static pid_t consumer_gets(const char *name, int n, bool linger)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ipc_client *c;
		ipc_queue *q;

		if (ipc_connect(h.sock, &c) < 0 || ipc_queue_open(c, name, 0, NULL, &q) < 0)
			child_fail("connect or open");
		for (int i = 0; i < n; i++) {
			void *data;
			size_t len;

			if (ipc_queue_get(q, &data, &len, HARNESS_HANG_MS) < 0)
				child_fail("get %d", i);
			free(data);
		}
		while (linger)
			pause();
		_exit(0);
	}
	return pid;
}

START_TEST(test_consumer_exit_returns_messages_in_order)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "jobs", IPC_CREATE, &ack_attr);
	pid_t pid;

	for (const char *m = "abcd"; *m; m++) {
		char s[2] = { *m, 0 };

		ck_assert_ipc(put_str(q, s, 0), 0);
	}
	/* A consumer takes a, b, c and exits without task_done. */
	pid = consumer_gets("jobs", 3, false);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "consumer");
	wait_stat(q, "depth", 4, HARNESS_HANG_MS);
	ck_assert_int_eq(stat_key(q, "redelivered"), 3);
	ck_assert_int_eq(stat_key(q, "unacked"), 0);
	get_flagged(q, "a", IPC_MSG_REDELIVERED);
	get_flagged(q, "b", IPC_MSG_REDELIVERED);
	get_flagged(q, "c", IPC_MSG_REDELIVERED);
	get_flagged(q, "d", 0);
	for (int i = 0; i < 4; i++)
		ck_assert_ipc(ipc_queue_task_done(q), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_killed_consumer_messages_go_to_head)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "jobs", IPC_CREATE, &ack_attr);
	pid_t pid;

	ck_assert_ipc(put_str(q, "1", 0), 0);
	ck_assert_ipc(put_str(q, "2", 0), 0);
	ck_assert_ipc(put_str(q, "3", 0), 0);
	pid = consumer_gets("jobs", 2, true);
	wait_stat(q, "unacked", 2, HARNESS_HANG_MS);
	/* The consumer is killed while holding 1 and 2; meanwhile 4 arrives. */
	ck_assert_ipc(put_str(q, "4", 0), 0);
	kill(pid, SIGKILL);
	harness_wait_child(pid, HARNESS_HANG_MS);
	wait_stat(q, "depth", 4, HARNESS_HANG_MS);
	get_flagged(q, "1", IPC_MSG_REDELIVERED);
	get_flagged(q, "2", IPC_MSG_REDELIVERED);
	get_flagged(q, "3", 0);
	get_flagged(q, "4", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_close_of_handle_returns_its_messages)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "jobs", IPC_CREATE, &ack_attr), *q2;

	ck_assert_ipc(put_str(q, "x", 0), 0);
	ck_assert_ipc(put_str(q, "y", 0), 0);
	q2 = open_ok(c, "jobs", 0, NULL);
	get_flagged(q2, "x", 0);
	ck_assert_ipc(ipc_queue_task_done(q2), 0);
	get_flagged(q2, "y", 0);
	/* task_done is per handle: q got nothing. */
	ck_assert_ipc(ipc_queue_task_done(q), -EINVAL);
	ipc_queue_close(q2);
	wait_stat(q, "depth", 1, HARNESS_HANG_MS);
	get_flagged(q, "y", IPC_MSG_REDELIVERED);
	ck_assert_ipc(ipc_queue_task_done(q), 0);
	ck_assert_int_eq(stat_key(q, "acked"), 2);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_prefetch_and_get_many_on_ack_queue)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "pre", IPC_CREATE, &ack_attr), *q2;
	struct iovec v[4];
	char s[8];

	for (int i = 0; i < 8; i++) {
		snprintf(s, sizeof s, "m%d", i);
		ck_assert_ipc(put_str(q, s, 0), 0);
	}
	/* Pushed ahead by the socket (a handle with the ring takes from it instead). */
	q2 = open_ok(c, "pre", 0, &by_socket);
	ck_assert_ipc(ipc_queue_set_prefetch(q2, 4), 0);
	get_flagged(q2, "m0", 0);
	get_flagged(q2, "m1", 0);
	ck_assert_ipc(ipc_queue_task_done(q2), 0);
	/* m1 taken and not acknowledged; m2.. pushed ahead, not taken. */
	wait_stat(q, "unacked", 1, HARNESS_HANG_MS);
	ck_assert_ipc(ipc_queue_get_many(q, v, 4, HARNESS_HANG_MS), 2);
	ck_assert_msg(v[0].iov_len == 2 && memcmp(v[0].iov_base, "m6", 2) == 0, "get_many order");
	free(v[0].iov_base);
	free(v[1].iov_base);
	ck_assert_int_eq(stat_key(q, "unacked"), 3);
	/* The prefetching handle closes: m1 comes back marked, m2..m5 unmarked. */
	ipc_queue_close(q2);
	wait_stat(q, "depth", 5, HARNESS_HANG_MS);
	ck_assert_int_eq(stat_key(q, "redelivered"), 1);
	get_flagged(q, "m1", IPC_MSG_REDELIVERED);
	get_flagged(q, "m2", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* join, in a child: report its result and how long it took. */
static pid_t joiner(const char *name, int timeout_ms, int fd)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ipc_client *c;
		ipc_queue *q;
		int64_t t0 = harness_now_ms();
		int r[2];

		if (ipc_connect(h.sock, &c) < 0 || ipc_queue_open(c, name, 0, NULL, &q) < 0)
			child_fail("connect or open");
		r[0] = ipc_queue_join(q, timeout_ms);
		r[1] = (int)(harness_now_ms() - t0);
		if (write(fd, r, sizeof r) != sizeof r)
			child_fail("write");
		_exit(0);
	}
	return pid;
}

START_TEST(test_join_waits_for_every_task_done)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "j", IPC_CREATE, &ack_attr);
	int fds[2], r[2];
	pid_t pid;

	ck_assert_ipc(ipc_queue_join(q, 0), 0);
	ck_assert_ipc(put_str(q, "1", 0), 0);
	ck_assert_ipc(put_str(q, "2", 0), 0);
	ck_assert_ipc(ipc_queue_join(q, IPC_NOWAIT), -EAGAIN);
	ck_assert_ipc(ipc_queue_join(q, 50), -ETIMEDOUT);
	ck_assert_int_eq(pipe(fds), 0);
	pid = joiner("j", 5000, fds[1]);
	wait_stat(q, "joiners", 1, HARNESS_HANG_MS);
	get_expect(q, "1", 0);
	get_expect(q, "2", 0);
	ck_assert_ipc(ipc_queue_task_done(q), 0);
	/*
	 * One message is still not acknowledged: the join still waits.  The
	 * stat is answered after the task_done sent before it on this connection.
	 */
	ck_assert_int_eq(stat_key(q, "joiners"), 1);
	ck_assert_int_eq(wait_byte(fds[0], 0), -1);
	ck_assert_ipc(ipc_queue_task_done(q), 0);
	ck_assert_int_eq(read(fds[0], r, sizeof r), (ssize_t)sizeof r);
	ck_assert_ipc(r[0], 0);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "joiner");
	ck_assert_ipc(ipc_queue_join(q, 0), 0);

	/* On a queue without acks, a get finishes a message. */
	ipc_queue_close(q);
	q = open_ok(c, "plain", IPC_CREATE, NULL);
	ck_assert_ipc(put_str(q, "p", 0), 0);
	ck_assert_ipc(ipc_queue_join(q, 0), -EAGAIN);
	get_expect(q, "p", 0);
	ck_assert_ipc(ipc_queue_join(q, 0), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_join_of_removed_queue_is_eidrm)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "gone", IPC_CREATE, &ack_attr);
	int fds[2], r[2];
	pid_t pid;

	ck_assert_ipc(put_str(q, "1", 0), 0);
	ck_assert_int_eq(pipe(fds), 0);
	pid = joiner("gone", -1, fds[1]);
	wait_stat(q, "joiners", 1, HARNESS_HANG_MS);
	ck_assert_ipc(ipc_queue_unlink(c, "gone"), 0);
	ck_assert_int_eq(read(fds[0], r, sizeof r), (ssize_t)sizeof r);
	ck_assert_ipc(r[0], -EIDRM);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "joiner");
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/*
 * A consumer that sends gets and never reads the replies is cut off at
 * --max-output; what it had got goes back to the queue.
 */
START_TEST(test_cut_off_consumer_messages_redelivered)
{
	static const char *const args[] = { "--max-output", "64K", NULL };
	static char big[16384];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	ipc_client *c;
	ipc_queue *q;
	int fd, r = 0;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "big", IPC_CREATE, &ack_attr);
	for (int i = 0; i < 200; i++)
		ck_assert_ipc(ipc_queue_put(q, big, sizeof big, 0), 0);
	fd = raw_connect_greeted(h.sock);
	raw_begin(&sb, &pk, IPC_OP_Q_OPEN, 2, 3);
	msgpack_pack_str_with_body(&pk, "big", 3);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(raw_end(fd, &sb), 0);
	for (uint32_t i = 0; i < 200 && r == 0; i++) {
		raw_begin(&sb, &pk, IPC_OP_Q_GET, 3 + i, 2);
		msgpack_pack_uint32(&pk, 1);
		msgpack_pack_int(&pk, 0);
		r = raw_end(fd, &sb);
	}
	ck_assert_int_eq(raw_wait_hangup(fd, HARNESS_HANG_MS), 0);
	close(fd);
	wait_clients(c, 1, HARNESS_HANG_MS);
	/* Every message it got is back, marked. */
	wait_stat(q, "depth", 200, HARNESS_HANG_MS);
	ck_assert_int_eq(stat_key(q, "unacked"), 0);
	ck_assert_int_gt(stat_key(q, "redelivered"), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The stress test */

#define PRODUCERS 2
#define CONSUMERS 4
#define PER_PRODUCER 100000
#define TOTAL (PRODUCERS * PER_PRODUCER)

/* Shared with the children (MAP_SHARED). */
struct board {
	unsigned char acked[TOTAL];       /* task_done returned 0 for it */
	unsigned char ambiguous[TOTAL];   /* killed inside its task_done */
	struct {
		uint32_t id;              /* message being acknowledged */
		int in_task_done;
	} slot[CONSUMERS];
	uint64_t got, redelivered_seen;
	int stop;
};

static struct board *board;
/* The consumers of the stress: through the ring (leases) or by the socket (loop _i). */
static const ipc_queue_attr *consumer_attr;

static void producer(int p)
{
	ipc_client *c;
	ipc_queue *q;

	if (ipc_connect(h.sock, &c) < 0 || ipc_queue_open(c, "work", 0, NULL, &q) < 0)
		child_fail("producer %d: connect or open", p);
	for (uint32_t i = 0; i < PER_PRODUCER; i++) {
		uint32_t id = (uint32_t)p * PER_PRODUCER + i;
		int r = ipc_queue_put_async(q, &id, sizeof id);

		if (r < 0)
			child_fail("producer %d: put %u: %s", p, i, ipc_strerror(r));
	}
	if (ipc_queue_flush(q, 30000) < 0)
		child_fail("producer %d: flush", p);
	_exit(0);
}

/*
 * Take a few messages (1 to 8) before acknowledging them, so that a kill
 * often finds some in flight.  The slot says which message a task_done is
 * being sent for: killed there, it may or may not have reached ipcd.
 */
static void consumer(int k)
{
	unsigned seed = (unsigned)getpid();
	ipc_client *c;
	ipc_queue *q;

	if (ipc_connect(h.sock, &c) < 0 || ipc_queue_open(c, "work", 0, consumer_attr, &q) < 0)
		child_fail("consumer %d: connect or open", k);
	if (ipc_queue_set_prefetch(q, 32) < 0)
		child_fail("consumer %d: prefetch", k);
	while (!__atomic_load_n(&board->stop, __ATOMIC_SEQ_CST)) {
		uint32_t ids[8];
		int n = 0, want = 1 + (int)(rand_r(&seed) % 8);

		while (n < want) {
			void *data;
			size_t len;
			unsigned flags;
			int r = ipc_queue_get_info(q, &data, &len, 100, &flags);

			if (r == -ETIMEDOUT || r == -EAGAIN)
				break;
			if (r < 0)
				child_fail("consumer %d: get: %s", k, ipc_strerror(r));
			if (len != sizeof ids[0])
				child_fail("consumer %d: message of %zu bytes", k, len);
			memcpy(&ids[n], data, sizeof ids[0]);
			free(data);
			if (ids[n] >= TOTAL)
				child_fail("consumer %d: unknown message %u", k, ids[n]);
			__atomic_fetch_add(&board->got, 1, __ATOMIC_SEQ_CST);
			if (flags & IPC_MSG_REDELIVERED)
				__atomic_fetch_add(&board->redelivered_seen, 1, __ATOMIC_SEQ_CST);
			n++;
		}
		/* task_done acknowledges the oldest got: the batch in order. */
		for (int i = 0; i < n; i++) {
			int r;

			board->slot[k].id = ids[i];
			__atomic_store_n(&board->slot[k].in_task_done, 1, __ATOMIC_SEQ_CST);
			r = ipc_queue_task_done(q);
			if (r < 0)
				child_fail("consumer %d: task_done: %s", k, ipc_strerror(r));
			__atomic_fetch_add(&board->acked[ids[i]], 1, __ATOMIC_SEQ_CST);
			__atomic_store_n(&board->slot[k].in_task_done, 0, __ATOMIC_SEQ_CST);
		}
	}
	_exit(0);
}

static pid_t spawn(void (*fn)(int), int arg)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		fn(arg);
	return pid;
}

START_TEST(test_killed_consumers_lose_nothing)
{
	pid_t producers[PRODUCERS], consumers[CONSUMERS];
	unsigned seed = 4242;
	long acked = 0, kills = 0, ambiguous = 0, redelivered;
	int64_t end;
	ipc_client *c;
	ipc_queue *q;

	consumer_attr = _i ? &by_socket : NULL;
	board = mmap(NULL, sizeof *board, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(board, MAP_FAILED);
	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "work", IPC_CREATE, &ack_attr);
	for (int k = 0; k < CONSUMERS; k++)
		consumers[k] = spawn(consumer, k);
	for (int p = 0; p < PRODUCERS; p++)
		producers[p] = spawn(producer, p);

	/* Kill a consumer at random every 10 to 40 ms until 90% are acknowledged. */
	end = harness_now_ms() + 60000 * SLOWDOWN;
	while ((acked = stat_key(q, "acked")) < TOTAL && harness_now_ms() < end) {
		ck_assert_int_ge(acked, 0);
		harness_sleep_ms(10 + (int)(rand_r(&seed) % 30));
		if (acked < TOTAL * 9 / 10) {
			int k = (int)(rand_r(&seed) % CONSUMERS);

			kill(consumers[k], SIGKILL);
			ck_assert_int_ne(harness_wait_child(consumers[k], HARNESS_HANG_MS), -1);
			if (board->slot[k].in_task_done) {
				board->ambiguous[board->slot[k].id] = 1;
				board->slot[k].in_task_done = 0;
			}
			consumers[k] = spawn(consumer, k);
			kills++;
		}
	}
	for (int p = 0; p < PRODUCERS; p++)
		harness_expect_child_ok(producers[p], HARNESS_HANG_MS, "producer");
	board->stop = 1;
	for (int k = 0; k < CONSUMERS; k++)
		harness_expect_child_ok(consumers[k], HARNESS_HANG_MS, "consumer");

	/* The daemon acknowledged exactly TOTAL task_dones... */
	ck_assert_msg(acked == TOTAL, "%ld of %d messages acknowledged", acked, TOTAL);
	ck_assert_int_eq(stat_key(q, "depth"), 0);
	ck_assert_int_eq(stat_key(q, "unacked"), 0);
	ck_assert_int_eq(stat_key(q, "inflight"), 0);
	ck_assert_ipc(ipc_queue_join(q, 0), 0);
	/* ...and each message had one: seen acknowledged, or killed mid task_done
	 * and never delivered again.  TOTAL messages, at least one each, TOTAL in
	 * all: exactly one each. */
	for (uint32_t id = 0; id < TOTAL; id++) {
		ck_assert_msg(board->acked[id] <= 1, "message %u acknowledged %u times", id,
			      board->acked[id]);
		ck_assert_msg(board->acked[id] || board->ambiguous[id], "message %u lost", id);
		ambiguous += board->ambiguous[id] && !board->acked[id];
	}
	redelivered = stat_key(q, "redelivered");
	fprintf(stderr, "test_killed_consumers_lose_nothing (%s): %d messages, %ld consumers killed, "
		"%ld redelivered (%llu seen flagged), %llu gets, %ld acknowledged as the consumer "
		"died\n", _i ? "socket" : "ring", TOTAL, kills, redelivered,
		(unsigned long long)board->redelivered_seen,
		(unsigned long long)board->got, ambiguous);
	ck_assert_int_gt(kills, 10);
	ck_assert_int_gt(redelivered, 0);
	ck_assert_int_le((long)board->redelivered_seen, redelivered);
	/* The consumers took through the ring, or never. */
	if (_i)
		ck_assert_int_eq(stat_key(q, "ring_gets"), 0);
	else
		ck_assert_int_gt(stat_key(q, "ring_gets"), TOTAL / 2);
	ipc_queue_close(q);
	ipc_disconnect(c);
	munmap(board, sizeof *board);
}
END_TEST

/* ------------------------------------------------------------------------ */

static void setup_daemon(void)
{
	harness_setup(&h);
	harness_start(&h, NULL);
}

static Suite *ack_suite(void)
{
	Suite *s = suite_create("ack");
	TCase *tc;

	tc = harness_tcase(s, "ack", 30, setup_daemon, teardown);
	tcase_add_test(tc, test_task_done_acknowledges_oldest_get);
	tcase_add_test(tc, test_consumer_exit_returns_messages_in_order);
	tcase_add_test(tc, test_killed_consumer_messages_go_to_head);
	tcase_add_test(tc, test_close_of_handle_returns_its_messages);
	tcase_add_test(tc, test_prefetch_and_get_many_on_ack_queue);
	tcase_add_test(tc, test_join_waits_for_every_task_done);
	tcase_add_test(tc, test_join_of_removed_queue_is_eidrm);
	tc = harness_tcase(s, "cutoff", 30, setup, teardown);
	tcase_add_test(tc, test_cut_off_consumer_messages_redelivered);
	tc = harness_tcase(s, "stress", 90 * SLOWDOWN, setup, teardown);
	tcase_add_loop_test(tc, test_killed_consumers_lose_nothing, 0, 2);
	return s;
}

int main(void)
{
	return harness_main(ack_suite());
}
