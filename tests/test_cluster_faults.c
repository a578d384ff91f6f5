/*
 * test_cluster_faults.c - what cluster queues survive (cluster_env.h: a
 * real three-node nats-server cluster and two ipcds, A and B): an ack
 * queue's consumer or a whole ipcd killed, a server of the cluster killed
 * while messages stream, the whole cluster stopped and started again; and a
 * flood of messages taken exactly once, in order.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_env.h"
#include "codec.h"

/* Get one message within timeout_ms, check its text and its redelivered flag. */
static void get_flagged(ipc_queue *q, const char *want, unsigned want_flags, int timeout_ms)
{
	void *data = NULL;
	size_t len = 0;
	unsigned flags = 99;

	ck_assert_ipc(ipc_queue_get_info(q, &data, &len, timeout_ms, &flags), 0);
	ck_assert_msg(len == strlen(want) && memcmp(data, want, len) == 0,
		      "got '%.*s', want '%s'", (int)len, (char *)data, want);
	ck_assert_msg(flags == want_flags, "'%s' has flags %u, want %u", want, flags, want_flags);
	free(data);
}

/* A child on B gets n of queue name (ack) and says so on fd, then waits to be killed. */
static pid_t child_gets(const char *name, int n, int fd)
{
	pid_t pid = fork_ok();

	if (pid == 0) {
		ipc_client *c;
		ipc_queue *q;

		if (ipc_connect(sock_b, &c) < 0 || ipc_queue_open(c, name, 0, NULL, &q) < 0)
			child_fail("cannot open %s on B", name);
		for (int i = 0; i < n; i++) {
			void *data;
			size_t len;

			if (ipc_queue_get(q, &data, &len, HARNESS_HANG_MS) < 0)
				child_fail("get %d of %s", i, name);
			free(data);
		}
		if (write(fd, "x", 1) != 1)
			child_fail("write");
		pause();
		_exit(0);
	}
	return pid;
}

START_TEST(test_killed_consumer_messages_back_at_once_in_order)
{
	const ipc_queue_attr attr = { .ack = 1, .replicas = 3 };
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	ipc_queue *qa = open_ok(a, "acked", IPC_CREATE, &attr), *qb = open_ok(b, "acked", 0, NULL);
	int fds[2];
	pid_t child;
	int64_t t0;

	ck_assert_int_eq(stat_key(qb, "ack"), 1);
	for (int i = 0; i < 5; i++) {
		char m[8];

		snprintf(m, sizeof m, "m%d", i);
		ck_assert_ipc(put_str(qa, m, HARNESS_HANG_MS), 0);
	}
	ck_assert_int_eq(pipe(fds), 0);
	child = child_gets("acked", 3, fds[1]);
	ck_assert_int_eq(wait_byte(fds[0], HARNESS_HANG_MS), 0);
	t0 = harness_now_ms();
	kill(child, SIGKILL);
	harness_wait_child(child, HARNESS_HANG_MS);
	/* Once B has seen the consumer go (a get it served before would take the
	 * next message, m3, as on one host), */
	wait_stat(qb, "consumers", 0, HARNESS_HANG_MS);
	/* its ipcd NAKs them: back at once (the ack wait is 30 s), first, in order, marked. */
	get_flagged(qb, "m0", IPC_MSGFLAG_REDELIVERED, HARNESS_HANG_MS);
	get_flagged(qb, "m1", IPC_MSGFLAG_REDELIVERED, HARNESS_HANG_MS);
	get_flagged(qb, "m2", IPC_MSGFLAG_REDELIVERED, HARNESS_HANG_MS);
	ck_assert_msg(harness_now_ms() - t0 < 25000, "redelivered after %lld ms: not by the NAK",
		      (long long)(harness_now_ms() - t0));
	get_flagged(qb, "m3", 0, HARNESS_HANG_MS);
	get_flagged(qb, "m4", 0, HARNESS_HANG_MS);
	/* join waits for the five task_dones. */
	ck_assert_ipc(ipc_queue_join(qa, 0), -EAGAIN);
	for (int i = 0; i < 5; i++)
		ck_assert_ipc(ipc_queue_task_done(qb), 0);
	ck_assert_ipc(ipc_queue_task_done(qb), -EINVAL);
	ck_assert_ipc(ipc_queue_join(qa, HARNESS_HANG_MS), 0);
	close(fds[0]);
	close(fds[1]);
	ipc_queue_close(qa);
	ipc_queue_close(qb);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

START_TEST(test_killed_ipcd_messages_back_after_ack_wait)
{
	const ipc_queue_attr attr = { .ack = 1, .replicas = 3 };
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	/* Made on B: its ack wait is 2 s. */
	ipc_queue *qb = open_ok(b, "hostdies", IPC_CREATE, &attr), *qa;
	int fds[2];
	pid_t child;

	qa = open_ok(a, "hostdies", 0, NULL);
	ck_assert_ipc(put_str(qa, "h0", HARNESS_HANG_MS), 0);
	ck_assert_ipc(put_str(qa, "h1", HARNESS_HANG_MS), 0);
	ck_assert_int_eq(pipe(fds), 0);
	child = child_gets("hostdies", 2, fds[1]);
	ck_assert_int_eq(wait_byte(fds[0], HARNESS_HANG_MS), 0);
	ipc_queue_close(qb);
	ipc_disconnect(b);
	/* The whole host goes: no NAK, the engine waits out the ack wait. */
	kill(pid_b, SIGKILL);
	harness_wait_child(pid_b, HARNESS_HANG_MS);
	pid_b = 0;
	kill(child, SIGKILL);
	harness_wait_child(child, HARNESS_HANG_MS);
	get_flagged(qa, "h0", IPC_MSGFLAG_REDELIVERED, HARNESS_HANG_MS);
	get_flagged(qa, "h1", IPC_MSGFLAG_REDELIVERED, HARNESS_HANG_MS);
	ck_assert_ipc(ipc_queue_task_done(qa), 0);
	ck_assert_ipc(ipc_queue_task_done(qa), 0);
	ck_assert_ipc(ipc_queue_join(qa, HARNESS_HANG_MS), 0);
	close(fds[0]);
	close(fds[1]);
	ipc_queue_close(qa);
	ipc_disconnect(a);
}
END_TEST

START_TEST(test_server_killed_while_streaming_loses_no_acknowledged_put)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	ipc_queue *qa = open_ok(a, "survive", IPC_CREATE, &r3), *qb = open_ok(b, "survive", 0, NULL);
	enum { N = 600 };
	static char acked[N], seen[N];
	int nacked = 0, nseen = 0;

	for (int i = 0; i < N; i++) {
		char m[16];

		if (i == N / 3)
			natsc_kill(&nc, 0, SIGKILL);
		snprintf(m, sizeof m, "%d", i);
		/* A put that fails during the failover is not acknowledged: not counted. */
		if (put_str(qa, m, 2000) == 0) {
			acked[i] = 1;
			nacked++;
		}
	}
	ck_assert_msg(nacked > N / 2, "only %d of %d puts acknowledged", nacked, N);
	/* Until every acknowledged one came, or the bound: the consumer's leader may move too. */
	for (int64_t end = harness_now_ms() + HARNESS_HANG_MS; nseen < nacked &&
	     harness_now_ms() < end;) {
		void *data;
		size_t len;
		char num[16];
		int id, r = ipc_queue_get(qb, &data, &len, 1000);

		if (r == -ETIMEDOUT)
			continue;
		ck_assert_ipc(r, 0);
		snprintf(num, sizeof num, "%.*s", (int)len, (char *)data);
		id = atoi(num);
		ck_assert_msg(id >= 0 && id < N, "unknown message '%s'", num);
		nseen += acked[id] && !seen[id];
		seen[id] = 1;
		free(data);
	}
	for (int i = 0; i < N; i++)
		ck_assert_msg(!acked[i] || seen[i], "acknowledged put %d was lost", i);
	ipc_queue_close(qa);
	ipc_queue_close(qb);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

START_TEST(test_cluster_down_and_back)
{
	ipc_client *a = connect_ok(h.sock);
	ipc_queue *cq = open_ok(a, "outage", IPC_CREATE, &r3), *lq = open_ok(a, "here", IPC_CREATE, NULL);
	void *data;
	size_t len;
	int64_t t0;
	int r;

	ck_assert_ipc(put_str(cq, "before", HARNESS_HANG_MS), 0);
	natsc_stop(&nc);
	cluster_wait_connected(h.sock, 0);
	/* Clear errors within the calls' timeouts; local queues are unaffected. */
	ck_assert_ipc(put_str(cq, "x", 0), -EHOSTUNREACH);
	t0 = harness_now_ms();
	r = put_str(cq, "x", 500);
	ck_assert_msg(r == -EHOSTUNREACH || r == -ETIMEDOUT, "put: %s", ipc_strerror(r));
	ck_assert_msg(harness_now_ms() - t0 < 20000, "the put took %lld ms",
		      (long long)(harness_now_ms() - t0));
	ck_assert_ipc(ipc_queue_size(cq), -EHOSTUNREACH);
	r = ipc_queue_get(cq, &data, &len, 300);
	ck_assert_ipc(r, -ETIMEDOUT);
	ck_assert_ipc(put_str(lq, "local", 0), 0);
	get_expect(lq, "local", HARNESS_HANG_MS);
	ck_assert_int_eq(cluster_key(a, "connected"), 0);
	/* The cluster comes back on its ports and stores: ipcd reconnects by itself. */
	for (int i = 0; i < NATSC_SERVERS; i++)
		natsc_start_one(&nc, i);
	ck_assert_int_eq(natsc_wait_ready(&nc, HARNESS_HANG_MS), 0);
	cluster_wait_connected(h.sock, 1);
	ck_assert_msg(cluster_key(a, "reconnects") >= 1, "no reconnect counted");
	ck_assert_ipc(put_str(cq, "after", HARNESS_HANG_MS), 0);
	get_expect(cq, "before", HARNESS_HANG_MS);
	get_expect(cq, "after", HARNESS_HANG_MS);
	ipc_queue_close(cq);
	ipc_queue_close(lq);
	ipc_disconnect(a);
}
END_TEST

/* A consumer on B (prefetch or not): gets until stop reads end of file; each id to out. */
static void flood_consumer(int prefetch, int out, int stop)
{
	ipc_client *c;
	ipc_queue *q;
	long last = -1;
	struct iovec v[256];

	if (ipc_connect(sock_b, &c) < 0 || ipc_queue_open(c, "flood", 0, NULL, &q) < 0)
		child_fail("open on B");
	if (prefetch && ipc_queue_set_prefetch(q, prefetch) < 0)
		child_fail("prefetch");
	for (;;) {
		int got = ipc_queue_get_many(q, v, 256, 200);
		struct pollfd p = { .fd = stop, .events = POLLIN };

		if (got == -ETIMEDOUT && poll(&p, 1, 0) == 1)
			break;  /* the parent has seen every message */
		if (got == -ETIMEDOUT)
			continue;
		if (got < 0)
			child_fail("get_many: %s", ipc_strerror(got));
		for (int i = 0; i < got; i++) {
			long id = atol(v[i].iov_base);

			if (id <= last)
				child_fail("%ld after %ld: not FIFO", id, last);
			last = id;
			if (write(out, &id, sizeof id) != sizeof id)
				child_fail("write");
			free(v[i].iov_base);
		}
	}
	_exit(0);
}

/* Read the ids the consumers sent on fds into seen until want are seen
 * (want < 0: until both pipes end), failing on an unknown or a second one. */
static long flood_collect(int fds[2][2], char *seen, long n, long count, long want)
{
	struct pollfd p[2] = { { .fd = fds[0][0], .events = POLLIN },
			       { .fd = fds[1][0], .events = POLLIN } };

	while (want < 0 ? p[0].fd >= 0 || p[1].fd >= 0 : count < want) {
		ck_assert_int_ge(poll(p, 2, -1), 0);
		for (int k = 0; k < 2; k++) {
			long ids[512];
			ssize_t got;

			if (!p[k].revents)
				continue;
			got = read(p[k].fd, ids, sizeof ids);
			if (got <= 0) {
				p[k].fd = -1;
				continue;
			}
			for (ssize_t i = 0; i < got / (ssize_t)sizeof ids[0]; i++) {
				ck_assert_msg(ids[i] >= 0 && ids[i] < n, "unknown message %ld", ids[i]);
				ck_assert_msg(!seen[ids[i]], "message %ld got twice", ids[i]);
				seen[ids[i]] = 1;
				count++;
			}
		}
	}
	return count;
}

/*
 * A producer on A; two consumers on B, one with prefetch: each message once,
 * FIFO.  The consumers stop when told (every message was seen), not after a
 * quiet while, which a loaded machine can make at any point.
 */
START_TEST(test_many_messages_exactly_once_fifo)
{
	long n = getenv("IPCD_TEST_MESSAGES") && atol(getenv("IPCD_TEST_MESSAGES")) > 0 ?
		 atol(getenv("IPCD_TEST_MESSAGES")) : 100000;
	ipc_client *a = connect_ok(h.sock);
	ipc_queue *qa = open_ok(a, "flood", IPC_CREATE, &r3);
	char *seen = calloc((size_t)n, 1);
	int fds[2][2], stop[2];
	pid_t kids[2];
	long count;

	ck_assert_ptr_nonnull(seen);
	ck_assert_int_eq(pipe(stop), 0);
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(pipe(fds[k]), 0);
		kids[k] = fork_ok();
		if (kids[k] == 0) {
			close(stop[1]);
			close(fds[k][0]);
			flood_consumer(k == 1 ? 128 : 0, fds[k][1], stop[0]);
		}
		close(fds[k][1]);
	}
	close(stop[0]);
	for (long i = 0; i < n; i++) {
		char m[24];

		snprintf(m, sizeof m, "%ld", i);
		ck_assert_ipc(ipc_queue_put_async(qa, m, strlen(m) + 1), 0);
	}
	ck_assert_ipc(ipc_queue_flush(qa, HARNESS_HANG_MS), 0);
	count = flood_collect(fds, seen, n, 0, n);
	/* Every message seen: the consumers stop; one more would be a second copy. */
	close(stop[1]);
	count = flood_collect(fds, seen, n, count, -1);
	ck_assert_int_eq(count, n);
	for (int k = 0; k < 2; k++) {
		harness_expect_child_ok(kids[k], HARNESS_HANG_MS * SLOWDOWN, "consumer");
		close(fds[k][0]);
	}
	free(seen);
	ipc_queue_close(qa);
	ipc_disconnect(a);
}
END_TEST

static Suite *cluster_faults_suite(void)
{
	Suite *s = suite_create("cluster_faults");
	TCase *tc;

	tc = harness_tcase(s, "ack", 240 * SLOWDOWN, cluster_setup, cluster_teardown);
	tcase_add_test(tc, test_killed_consumer_messages_back_at_once_in_order);
	tcase_add_test(tc, test_killed_ipcd_messages_back_after_ack_wait);
	tc = harness_tcase(s, "faults", 300 * SLOWDOWN, cluster_setup, cluster_teardown);
	tcase_add_test(tc, test_server_killed_while_streaming_loses_no_acknowledged_put);
	tcase_add_test(tc, test_cluster_down_and_back);
	tc = harness_tcase(s, "flood", 900 * SLOWDOWN, cluster_setup, cluster_teardown);
	tcase_add_test(tc, test_many_messages_exactly_once_fifo);
	return s;
}

int main(void)
{
	return harness_main(cluster_faults_suite());
}
