/*
 * test_stream.c - streaming queues end to end: put_many and get_many,
 * asynchronous puts and their errors, and consumer prefetch, including what
 * happens to prefetched messages when a consumer dies or turns prefetch off.
 * The real ipcd in a temporary directory, real forked clients.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
	harness_start(&h, NULL);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* Message i: its number, then filler, (i % 300) + 4 bytes in all. */
static size_t make_msg(uint32_t i, char *buf)
{
	size_t len = i % 300 + 4;

	memcpy(buf, &i, 4);
	memset(buf + 4, (int)('a' + i % 26), len - 4);
	return len;
}

/* Check that a received message is message want, then free it. */
static int check_msg(struct iovec *v, uint32_t want)
{
	char buf[400];
	size_t len = make_msg(want, buf);
	int ok = v->iov_len == len && memcmp(v->iov_base, buf, len) == 0;

	free(v->iov_base);
	return ok;
}

/* Put messages [from, to) with put_many in batches of 1000. */
static void put_range(ipc_queue *q, uint32_t from, uint32_t to)
{
	static char bufs[1000][400];
	struct iovec v[1000];

	while (from < to) {
		size_t n = to - from < 1000 ? to - from : 1000;

		for (size_t i = 0; i < n; i++)
			v[i] = (struct iovec){ bufs[i], make_msg(from + (uint32_t)i, bufs[i]) };
		ck_assert_ipc(ipc_queue_put_many(q, v, n, IPC_FOREVER), (long)n);
		from += (uint32_t)n;
	}
}

/* Get messages [from, to) in order with get_many; returns the first mismatch or to. */
static uint32_t get_range(ipc_queue *q, uint32_t from, uint32_t to, size_t batch)
{
	struct iovec v[512];

	while (from < to) {
		int n = ipc_queue_get_many(q, v, batch, HARNESS_HANG_MS);

		if (n < 0)
			return from;
		for (int i = 0; i < n; i++)
			if (!check_msg(&v[i], from + (uint32_t)i)) {
				while (++i < n)
					free(v[i].iov_base);
				return from;
			}
		from += (uint32_t)n;
	}
	return to;
}

static const ipc_queue_attr by_socket = { .noring = 1 };

START_TEST(test_put_many_get_many_keep_order)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "batch", IPC_CREATE, NULL);

	put_range(q, 0, 20000);
	ck_assert_ipc(ipc_queue_size(q), 20000);
	ck_assert_uint_eq(get_range(q, 0, 20000, 512), 20000);
	ck_assert_ipc(ipc_queue_size(q), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_put_many_stops_at_full_queue)
{
	ipc_queue_attr attr = { .maxsize = 5 };
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "small", IPC_CREATE, &attr);
	char bufs[8][400];
	struct iovec v[8];
	int64_t t0;

	for (uint32_t i = 0; i < 8; i++)
		v[i] = (struct iovec){ bufs[i], make_msg(i, bufs[i]) };
	ck_assert_ipc(ipc_queue_put_many(q, v, 8, 0), 5);
	ck_assert_ipc(ipc_queue_put_many(q, v + 5, 3, 0), -EAGAIN);
	t0 = harness_now_ms();
	ck_assert_ipc(ipc_queue_put_many(q, v + 5, 3, 200), -ETIMEDOUT);
	ck_assert_int_ge(harness_now_ms() - t0, 150);
	ck_assert_ipc(ipc_queue_size(q), 5);
	ck_assert_uint_eq(get_range(q, 0, 5, 8), 5);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_get_many_waits_for_the_first)
{
	ipc_client *c = connect_ok(h.sock);
	/* By the socket: the child waits until the get is parked in ipcd. */
	ipc_queue *q = open_ok(c, "late", IPC_CREATE, &by_socket);
	struct iovec v[16];
	pid_t pid = fork_ok();
	int n;

	if (pid == 0) {
		/* Put once the parent's get_many waits. */
		if (child_wait_parent_parked(h.sock) < 0)
			_exit(2);
		put_range(q, 0, 3);
		_exit(0);
	}
	n = ipc_queue_get_many(q, v, 16, HARNESS_HANG_MS);
	ck_assert_int_ge(n, 1);
	ck_assert_int_le(n, 3);
	for (int i = 0; i < n; i++)
		ck_assert(check_msg(&v[i], (uint32_t)i));
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "producer");
	ck_assert_uint_eq(get_range(q, (uint32_t)n, 3, 16), 3);
	ck_assert_ipc(ipc_queue_get_many(q, v, 16, 0), -EAGAIN);
	ck_assert_ipc(ipc_queue_get_many(q, v, 0, 0), -EINVAL);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_async_puts_arrive_in_order_after_flush)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "async", IPC_CREATE, NULL);
	char buf[400];

	for (uint32_t i = 0; i < 30000; i++)
		ck_assert_ipc(ipc_queue_put_async(q, buf, make_msg(i, buf)), 0);
	ck_assert_uint_gt(ipc_queue_pending(q), 0);
	ck_assert_ipc(ipc_queue_flush(q, 5000), 0);
	ck_assert_uint_eq(ipc_queue_pending(q), 0);
	ck_assert_ipc(ipc_queue_size(q), 30000);
	/* A plain put after asynchronous ones comes after them. */
	ck_assert_ipc(ipc_queue_put_async(q, buf, make_msg(30000, buf)), 0);
	ck_assert_ipc(ipc_queue_put(q, buf, make_msg(30001, buf), 0), 0);
	ck_assert_uint_eq(get_range(q, 0, 30002, 512), 30002);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_async_put_errors_are_reported)
{
	ipc_queue_attr attr = { .maxbytes = 100 };
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "strict", IPC_CREATE, &attr);
	char big[200], buf[400];

	memset(big, 'x', sizeof big);
	ck_assert_ipc(ipc_queue_put_async(q, buf, make_msg(0, buf)), 0);
	ck_assert_ipc(ipc_queue_put_async(q, big, sizeof big), 0);
	ck_assert_ipc(ipc_queue_put_async(q, buf, make_msg(1, buf)), 0);
	/* The first goes in; the one over maxbytes is refused and reported. */
	ck_assert_ipc(ipc_queue_flush(q, 1000), -EMSGSIZE);
	ck_assert_uint_eq(ipc_queue_pending(q), 1);
	ck_assert_ipc(ipc_queue_flush(q, 1000), 0);
	ck_assert_uint_eq(get_range(q, 0, 2, 8), 2);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_forked_child_does_not_send_parents_async_puts)
{
	ipc_client *c = connect_ok(h.sock);
	/* By the socket: through a ring, asynchronous puts are not held back. */
	ipc_queue *q = open_ok(c, "forked", IPC_CREATE, &by_socket);
	char buf[400];
	pid_t pid;

	for (uint32_t i = 0; i < 5; i++)
		ck_assert_ipc(ipc_queue_put_async(q, buf, make_msg(i, buf)), 0);
	pid = fork_ok();
	if (pid == 0) {
		if (ipc_queue_pending(q) != 0 || ipc_queue_put_async(q, buf, make_msg(100, buf)) ||
		    ipc_queue_flush(q, 2000))
			_exit(1);
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "child");
	ck_assert_ipc(ipc_queue_size(q), 1);
	ck_assert_ipc(ipc_queue_flush(q, 2000), 0);
	ck_assert_ipc(ipc_queue_size(q), 6);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_prefetched_messages_return_when_consumer_dies)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "pf", IPC_CREATE, NULL);
	int ready[2];
	char x;
	pid_t pid;

	put_range(q, 0, 100);
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork_ok();
	if (pid == 0) {
		struct iovec v;

		if (ipc_queue_set_prefetch(q, 50) < 0)
			_exit(1);
		for (uint32_t i = 0; i < 10; i++)
			if (ipc_queue_get(q, &v.iov_base, &v.iov_len, HARNESS_HANG_MS) < 0 || !check_msg(&v, i))
				_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &x, 1), 1);
	/* 10 taken, up to 50 more pushed ahead to the child and not taken. */
	ck_assert_int_le(ipc_queue_size(q), 90);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* Everything not taken is back, in order, and nothing twice. */
	for (int64_t end = harness_now_ms() + HARNESS_HANG_MS;
	     ipc_queue_size(q) != 90 && harness_now_ms() < end;)
		harness_sleep_ms(10);
	ck_assert_ipc(ipc_queue_size(q), 90);
	ck_assert_uint_eq(get_range(q, 10, 100, 7), 100);
	ck_assert_ipc(ipc_queue_size(q), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_prefetch_off_gives_messages_back)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "pfoff", IPC_CREATE, NULL);
	struct iovec v;

	put_range(q, 0, 100);
	ck_assert_ipc(ipc_queue_set_prefetch(q, 20), 0);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_ipc(ipc_queue_get(q, &v.iov_base, &v.iov_len, HARNESS_HANG_MS), 0);
		ck_assert(check_msg(&v, i));
	}
	ck_assert_ipc(ipc_queue_set_prefetch(q, 0), 0);
	ck_assert_ipc(ipc_queue_size(q), 97);
	ck_assert_uint_eq(get_range(q, 3, 100, 1), 100);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_prefetching_consumers_share_without_duplicates)
{
	enum { N = 20000, CONSUMERS = 3 };
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "share", IPC_CREATE, NULL);
	int results[2];
	pid_t pid[CONSUMERS];
	static unsigned char seen[N];
	uint32_t got = 0, id;

	ck_assert_int_eq(pipe(results), 0);
	for (int k = 0; k < CONSUMERS; k++) {
		pid[k] = fork_ok();
		if (pid[k] == 0) {
			struct iovec v[64];
			int n;

			if (ipc_queue_set_prefetch(q, 16) < 0)
				_exit(1);
			/* Until the queue is removed, once every message arrived. */
			while ((n = ipc_queue_get_many(q, v, 64, HARNESS_HANG_MS)) > 0)
				for (int i = 0; i < n; i++) {
					memcpy(&id, v[i].iov_base, 4);
					free(v[i].iov_base);
					if (write(results[1], &id, 4) != 4)
						_exit(2);
				}
			_exit(n == -EIDRM ? 0 : 3);
		}
	}
	close(results[1]);
	put_range(q, 0, N);
	/* N messages, then the end (the consumers see the queue removed): none more. */
	for (bool removed = false; read(results[0], &id, 4) == 4;) {
		ck_assert_uint_lt(id, N);
		ck_assert_msg(!seen[id], "message %u delivered twice", id);
		seen[id] = 1;
		if (++got == N && !removed) {
			ck_assert_ipc(ipc_queue_unlink(c, "share"), 0);
			removed = true;
		}
	}
	for (int k = 0; k < CONSUMERS; k++)
		harness_expect_child_ok(pid[k], HARNESS_HANG_MS, "consumer");
	ck_assert_uint_eq(got, N);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST


/* Wait for ipc_queue_size(q) to be want; returns the last size. */
static long wait_size(ipc_queue *q, long want)
{
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;
	long n;

	while ((n = ipc_queue_size(q)) != want && harness_now_ms() < end)
		harness_sleep_ms(10);
	return n;
}

START_TEST(test_consumer_that_stops_reading_is_cut_off)
{
	static char big[64 * 1024];
	const char *args[] = { "--max-output", "1M", NULL };
	ipc_client *c;
	ipc_queue *q;
	int ready[2];
	char x;
	pid_t pid;

	/* This test needs its own daemon with a small output limit. */
	harness_stop(&h);
	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "stalled", IPC_CREATE, NULL);
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork_ok();
	if (pid == 0) {
		/* Ask for everything to be pushed, then never read again. */
		if (ipc_queue_set_prefetch(q, 65536) < 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &x, 1), 1);
	for (int i = 0; i < 40; i++)
		ck_assert_ipc(ipc_queue_put(q, big, sizeof big, HARNESS_HANG_MS), 0);
	/* Over 1 MiB unread: cut off, and what it had in flight is back. */
	ck_assert_ipc(wait_size(q, 40), 40);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_put_many_counts_only_what_was_put)
{
	ipc_queue_attr attr = { .maxbytes = 1000 };
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "counted", IPC_CREATE, &attr);
	static char big[2000];
	struct iovec v[3] = { { "0123456789", 10 }, { big, sizeof big }, { "abcdefghij", 10 } };

	ck_assert_ipc(ipc_queue_put_many(q, v, 3, 0), 1);
	ck_assert_ipc(ipc_queue_size(q), 1);
	ck_assert_ipc(ipc_queue_put_many(q, v + 1, 2, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put_many(q, v + 2, 1, 0), 1);
	ck_assert_ipc(ipc_queue_size(q), 2);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_put_keeps_its_timeout_behind_async_puts)
{
	ipc_queue_attr attr = { .maxsize = 1 };
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "behind", IPC_CREATE, &attr);
	int64_t t0;

	ck_assert_ipc(ipc_queue_put(q, "x", 1, 0), 0);
	ck_assert_ipc(ipc_queue_put_async(q, "y", 1), 0);
	t0 = harness_now_ms();
	ck_assert_ipc(ipc_queue_put(q, "z", 1, 0), -EAGAIN);
	ck_assert_ipc(ipc_queue_put(q, "z", 1, 200), -ETIMEDOUT);
	ck_assert_int_lt(harness_now_ms() - t0, HARNESS_HANG_MS);
	ck_assert_uint_eq(ipc_queue_pending(q), 1);
	ck_assert_ipc(ipc_queue_purge(q), 1);
	ck_assert_ipc(ipc_queue_flush(q, 1000), 0);
	ck_assert_ipc(ipc_queue_size(q), 1);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* Wait until process pid sleeps (state S in /proc): 0, or -1 after HARNESS_HANG_MS. */
static int wait_sleeping(pid_t pid)
{
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;
	char path[64], buf[512], *p;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	do {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = 0;
		/* "pid (comm) S ...": the state follows the last ')'. */
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return 0;
		harness_sleep_ms(5);
	} while (harness_now_ms() < end);
	return -1;
}

START_TEST(test_prefetching_get_sees_its_queue_removed)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "doomed", IPC_CREATE, NULL);
	void *data;
	size_t len;
	int sync[2];
	pid_t pid;

	ck_assert_ipc(ipc_queue_set_prefetch(q, 10), 0);
	ck_assert_int_eq(pipe(sync), 0);
	pid = fork_ok();
	if (pid == 0) {
		ipc_client *other;

		/*
		 * Remove the queue once the parent's get waits: it waits in the
		 * library for pushed messages, not parked in the daemon, so
		 * watch it go to sleep after it said it was about to get.
		 */
		if (wait_byte(sync[0], HARNESS_HANG_MS) < 0 || wait_sleeping(getppid()) < 0)
			_exit(2);
		if (ipc_connect(h.sock, &other) < 0 || ipc_queue_unlink(other, "doomed") < 0)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(write(sync[1], "!", 1), 1);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, HARNESS_HANG_MS), -EIDRM);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "unlinker");
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/*
 * A prefetching handle of a plain local queue shares one page of taken
 * counts with the daemon, counted in its shared memory until the handle
 * goes; a durable queue's handle credits each take instead (no page).
 */
START_TEST(test_taken_pages_are_counted_and_freed)
{
	const ipc_queue_attr dur = { .durable = 1 };
	long page = sysconf(_SC_PAGESIZE);
	ipc_client *c = connect_ok(h.sock);
	/* Pages are the socket path's: a handle with the queue's ring prefetches through it. */
	ipc_queue *q1 = open_ok(c, "paged", IPC_CREATE, &by_socket);
	ipc_queue *q2 = open_ok(c, "paged", 0, &by_socket);
	ipc_queue *qr = open_ok(c, "ringed", IPC_CREATE, NULL), *qd;
	char state[400];
	const char *args[] = { "--state-dir", state, NULL };
	struct iovec v;
	long ring;

	/* The ring counts in shm; pages come on top of it. */
	ring = stat_key(qr, "ring_bytes");
	ck_assert_int_gt(ring, 0);
	ck_assert_int_eq(status_key(c, "shm"), ring);
	ck_assert_ipc(ipc_queue_set_prefetch(qr, 16), 0);
	ck_assert_int_eq(stat_key(qr, "ring_mapped"), 1);
	ck_assert_int_eq(status_key(c, "shm"), ring);
	ipc_queue_close(qr);
	ck_assert_ipc(ipc_queue_set_prefetch(q1, 16), 0);
	ck_assert_int_eq(status_key(c, "shm"), ring + page);
	/* Off and on again: the same page. */
	ck_assert_ipc(ipc_queue_set_prefetch(q1, 0), 0);
	ck_assert_ipc(ipc_queue_set_prefetch(q1, 16), 0);
	ck_assert_int_eq(status_key(c, "shm"), ring + page);
	ck_assert_ipc(ipc_queue_set_prefetch(q2, 16), 0);
	ck_assert_int_eq(status_key(c, "shm"), ring + 2 * page);
	/* Taken through the page: stat's in-flight count follows without a credit. */
	put_range(q1, 0, 10);
	ck_assert_ipc(ipc_queue_get(q1, &v.iov_base, &v.iov_len, HARNESS_HANG_MS), 0);
	ck_assert(check_msg(&v, 0));
	ck_assert_int_eq(stat_key(q1, "inflight") + stat_key(q1, "depth"), 9);
	ipc_queue_close(q1);
	ipc_queue_close(q2);
	wait_status(c, "shm", ring, HARNESS_HANG_MS);
	ck_assert_ipc(ipc_queue_unlink(c, "ringed"), 0);
	ck_assert_int_eq(status_key(c, "shm"), 0);
	ipc_disconnect(c);

	harness_path(&h, "state", state, sizeof state);
	ck_assert_int_eq(mkdir(state, 0700), 0);
	ck_assert_int_eq(harness_stop(&h), 0);
	harness_start(&h, args);
	c = connect_ok(h.sock);
	qd = open_ok(c, "kept", IPC_CREATE, &dur);
	ck_assert_ipc(ipc_queue_set_prefetch(qd, 16), 0);
	ck_assert_int_eq(status_key(c, "shm"), 0);
	put_range(qd, 0, 3);
	ck_assert_uint_eq(get_range(qd, 0, 3, 1), 3);
	ipc_queue_close(qd);
	ipc_disconnect(c);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = harness_tcase(s, "stream", 60, setup, teardown);

	tcase_add_test(tc, test_put_many_get_many_keep_order);
	tcase_add_test(tc, test_put_many_stops_at_full_queue);
	tcase_add_test(tc, test_get_many_waits_for_the_first);
	tcase_add_test(tc, test_async_puts_arrive_in_order_after_flush);
	tcase_add_test(tc, test_async_put_errors_are_reported);
	tcase_add_test(tc, test_forked_child_does_not_send_parents_async_puts);
	tcase_add_test(tc, test_prefetched_messages_return_when_consumer_dies);
	tcase_add_test(tc, test_prefetch_off_gives_messages_back);
	tcase_add_test(tc, test_prefetching_consumers_share_without_duplicates);
	tcase_add_test(tc, test_consumer_that_stops_reading_is_cut_off);
	tcase_add_test(tc, test_put_many_counts_only_what_was_put);
	tcase_add_test(tc, test_put_keeps_its_timeout_behind_async_puts);
	tcase_add_test(tc, test_prefetching_get_sees_its_queue_removed);
	tcase_add_test(tc, test_taken_pages_are_counted_and_freed);
	return s;
}

int main(void)
{
	return harness_main(stream_suite());
}
