/*
 * test_cluster.c - cluster queues: a real three-node nats-server cluster
 * with JetStream on loopback (natsc.c) and two ipcds, A and B, with their
 * own sockets and state directories, standing for two hosts.  The same
 * client calls as on a local queue, across the two; the engine's failures
 * (a server killed, the whole cluster stopped) and the clients' (a consumer
 * or a whole ipcd killed).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"
#include "codec.h"
#include "natsc.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 4
#else
#define SLOWDOWN 1
#endif

static struct harness h;         /* A: h.sock */
static struct natsc nc;
static char sock_b[sizeof(((struct sockaddr_un *)0)->sun_path)];
static pid_t pid_b;

static const ipc_queue_attr r3 = { .replicas = 3 };
static const ipc_queue_attr r1 = { .replicas = 1 };

/* Start ipcd at sock with its state dir under dir, on the cluster, plus extra args. */
static pid_t start_ipcd(const char *sock, const char *dir, const char *const *extra)
{
	char state[400];
	const char *args[16] = { "--cluster", nc.urls, "--state-dir", state, "--cluster-ack-wait",
				 "2" };
	size_t n = 6;
	pid_t pid;

	snprintf(state, sizeof state, "%s/state", dir);
	while (extra && *extra)
		args[n++] = *extra++;
	args[n] = NULL;
	pid = harness_spawn(sock, args);
	ck_assert_int_eq(harness_wait_socket(sock, HARNESS_HANG_MS), 0);
	return pid;
}

/* The cluster map's key of ipcd's status (an integer), or -ENOENT. */
static long cluster_key(ipc_client *c, const char *key)
{
	msgpack_unpacked u;
	size_t len, off = 0;
	long n = -ENOENT;
	void *mp;

	if (ipc_server_status(c, &mp, &len) < 0)
		return -EIO;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *cl = proto_map_get(&u.data, "cluster"), *v;

		v = cl && cl->type == MSGPACK_OBJECT_MAP ? proto_map_get(cl, key) : NULL;
		if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			n = (long)v->via.u64;
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	return n;
}

/* Wait until ipcd at sock says it is (want 1) or is not (0) connected to the cluster. */
static void wait_connected(const char *sock, long want)
{
	ipc_client *c = connect_ok(sock);
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;

	while (cluster_key(c, "connected") != want && harness_now_ms() < end)
		harness_sleep_ms(20);
	ck_assert_msg(cluster_key(c, "connected") == want, "ipcd at %s: cluster connected is not %ld",
		      sock, want);
	ipc_disconnect(c);
}

/*
 * Until the cluster through ipcd at sock creates a stream of 3 replicas: on a
 * loaded machine JetStream answers its API well before its meta group has
 * placed every peer, and an open meeting that gives up after 10 s.
 */
static void wait_streams(const char *sock)
{
	ipc_client *c = connect_ok(sock);
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;
	ipc_queue *q = NULL;
	int rc;

	while ((rc = ipc_queue_open(c, "probe", IPC_CREATE, &r3, &q)) < 0 &&
	       (rc == -EHOSTUNREACH || rc == -ETIMEDOUT) && harness_now_ms() < end)
		harness_sleep_ms(100);
	ck_assert_msg(rc == 0, "the cluster made no stream of 3 replicas: %s", ipc_strerror(rc));
	ipc_queue_close(q);
	ck_assert_ipc(ipc_queue_unlink(c, "probe"), 0);
	ipc_disconnect(c);
}

/* A stat key of q that is a string, copied to buf ("" if missing). */
static void stat_str(ipc_queue *q, const char *key, char *buf, size_t len)
{
	msgpack_unpacked u;
	size_t mlen, off = 0;
	void *mp;

	buf[0] = '\0';
	ck_assert_ipc(ipc_queue_stat(q, &mp, &mlen), 0);
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, mp, mlen, &off) == MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *v = proto_map_get(&u.data, key);

		if (v && v->type == MSGPACK_OBJECT_STR)
			snprintf(buf, len, "%.*s", (int)v->via.str.size, v->via.str.ptr);
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
}

static void setup(void)
{
	char dir[200];

	harness_setup(&h);
	natsc_start(&nc, h.dir);
	snprintf(dir, sizeof dir, "%s/a", h.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	{
		char state[400];
		/* A's queues wait 30 s for an ack, B's 2 s: a redelivery by NAK and
		 * one by the ack wait tell apart by time. */
		const char *args[] = { "--cluster", nc.urls, "--state-dir", state,
				       "--cluster-ack-wait", "30", "--cluster-queues", "x.*",
				       "--cluster-replicas", "1", NULL };

		snprintf(state, sizeof state, "%s/state", dir);
		harness_start(&h, args);
	}
	snprintf(dir, sizeof dir, "%s/b", h.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_lt(snprintf(sock_b, sizeof sock_b, "%s/ipcd.sock", dir), (int)sizeof sock_b);
	pid_b = start_ipcd(sock_b, dir, NULL);
	wait_connected(h.sock, 1);
	wait_connected(sock_b, 1);
	wait_streams(sock_b);
}

static void teardown(void)
{
	if (pid_b > 0) {
		kill(pid_b, SIGTERM);
		harness_wait_child(pid_b, HARNESS_HANG_MS);
		pid_b = 0;
	}
	harness_cleanup(&h);
	natsc_stop(&nc);
}

/* Until a call on q reaches the engine and learns its stream is gone (-EIDRM). */
static void wait_removed(ipc_queue *q)
{
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;
	int n;

	/* -ETIMEDOUT: the engine did not answer in time (a loaded machine): ask again. */
	while (((n = ipc_queue_size(q)) >= 0 || n == -ETIMEDOUT) && harness_now_ms() < end)
		harness_sleep_ms(20);
	ck_assert_ipc(n, -EIDRM);
}

START_TEST(test_put_on_a_get_on_b)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	ipc_queue *qa = open_ok(a, "jobs", IPC_CREATE | IPC_EXCLUSIVE, &r3), *qb;
	char where[32];
	void *data;
	size_t len;

	stat_str(qa, "where", where, sizeof where);
	ck_assert_str_eq(where, "cluster");
	ck_assert_int_eq(stat_key(qa, "replicas"), 3);
	/* B opens it by name alone; a second exclusive create is refused. */
	ck_assert_ipc(ipc_queue_open(b, "jobs", IPC_CREATE | IPC_EXCLUSIVE, &r3, &qb), -EEXIST);
	qb = open_ok(b, "jobs", 0, NULL);
	stat_str(qb, "where", where, sizeof where);
	ck_assert_str_eq(where, "cluster");
	ck_assert_int_eq(stat_key(qb, "replicas"), 3);
	/* A cluster queue's messages are the stream's: no shared-memory ring. */
	stat_str(qb, "path", where, sizeof where);
	ck_assert_str_eq(where, "socket");
	ck_assert_ipc(put_str(qa, "one", HARNESS_HANG_MS), 0);
	ck_assert_ipc(put_str(qa, "two", HARNESS_HANG_MS), 0);
	ck_assert_int_eq(ipc_queue_size(qb), 2);
	ck_assert_ipc(ipc_queue_peek(qb, &data, &len), 0);
	ck_assert_msg(len == 3 && memcmp(data, "one", 3) == 0, "peek saw '%.*s'", (int)len,
		      (char *)data);
	free(data);
	get_expect(qb, "one", HARNESS_HANG_MS);
	get_expect(qb, "two", HARNESS_HANG_MS);
	/* Empty: a get waits out its timeout; a put on the other side wakes one. */
	ck_assert_ipc(ipc_queue_get(qb, &data, &len, 200), -ETIMEDOUT);
	ck_assert_ipc(ipc_queue_get(qb, &data, &len, 0), -EAGAIN);
	ck_assert_ipc(put_str(qa, "three", HARNESS_HANG_MS), 0);
	get_expect(qb, "three", HARNESS_HANG_MS);
	ck_assert_int_eq(ipc_queue_size(qa), 0);
	/* Purge on B empties it for A too. */
	for (int i = 0; i < 5; i++)
		ck_assert_ipc(put_str(qa, "p", HARNESS_HANG_MS), 0);
	ck_assert_int_eq(ipc_queue_purge(qb), 5);
	/* The consumer's count follows the stream's purge a moment later (the
	 * consumer's leader may be another server): wait for it. */
	{
		int64_t end = harness_now_ms() + HARNESS_HANG_MS;
		int n;

		while ((n = ipc_queue_size(qa)) != 0 && harness_now_ms() < end)
			harness_sleep_ms(20);
		ck_assert_int_eq(n, 0);
	}
	/* Unlink on A removes the stream: B learns it at a call after that. */
	ck_assert_ipc(ipc_queue_unlink(a, "jobs"), 0);
	wait_removed(qb);
	ck_assert_ipc(put_str(qb, "late", HARNESS_HANG_MS), -EIDRM);
	ipc_queue_close(qa);
	ipc_queue_close(qb);
	ck_assert_ipc(ipc_queue_open(a, "jobs", 0, NULL, &qa), -ENOENT);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

/* B removes by name a queue only A ever opened: the stream goes, A learns it. */
START_TEST(test_unlink_on_a_host_that_never_opened_it)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	ipc_queue *qa = open_ok(a, "elsewhere", IPC_CREATE | IPC_EXCLUSIVE, &r1);

	ck_assert_ipc(put_str(qa, "x", HARNESS_HANG_MS), 0);
	ck_assert_ipc(ipc_queue_unlink(b, "elsewhere"), 0);
	wait_removed(qa);
	/* Neither here nor in the cluster. */
	ck_assert_ipc(ipc_queue_unlink(b, "elsewhere"), -ENOENT);
	ck_assert_ipc(ipc_queue_unlink(b, "nowhere"), -ENOENT);
	ipc_queue_close(qa);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

/* Puts waiting for the engine count in ipcd's memory budget, and leave it when answered. */
START_TEST(test_cluster_puts_count_in_the_memory_budget)
{
	ipc_client *a = connect_ok(h.sock);
	ipc_queue *qa = open_ok(a, "budget", IPC_CREATE | IPC_EXCLUSIVE, &r1);
	char big[8192];
	long before = status_key(a, "memory");

	memset(big, 'b', sizeof big);
	ck_assert_ipc(ipc_queue_put(qa, big, sizeof big, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(status_key(a, "memory"), before);
	ck_assert_ipc(ipc_config_set(a, "max-memory", "4096"), 0);
	ck_assert_ipc(ipc_queue_put(qa, big, sizeof big, HARNESS_HANG_MS), -ENOBUFS);
	ck_assert_ipc(ipc_config_set(a, "max-memory", "1G"), 0);
	ck_assert_ipc(ipc_queue_put(qa, big, sizeof big, HARNESS_HANG_MS), 0);
	ck_assert_int_eq(ipc_queue_size(qa), 2);
	ck_assert_ipc(ipc_queue_unlink(a, "budget"), 0);
	ipc_queue_close(qa);
	ipc_disconnect(a);
}
END_TEST

START_TEST(test_batches_across_hosts)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	ipc_queue *qa = open_ok(a, "batch", IPC_CREATE, &r3), *qb = open_ok(b, "batch", 0, NULL);
	struct iovec in[100], out[100];
	char bufs[100][16];
	int got = 0, n;

	for (int i = 0; i < 100; i++) {
		in[i].iov_base = bufs[i];
		in[i].iov_len = (size_t)snprintf(bufs[i], sizeof bufs[i], "m%d", i);
	}
	ck_assert_int_eq(ipc_queue_put_many(qa, in, 100, HARNESS_HANG_MS), 100);
	for (int i = 0; i < 50; i++)
		ck_assert_ipc(ipc_queue_put_async(qa, "async", 5), 0);
	ck_assert_ipc(ipc_queue_flush(qa, HARNESS_HANG_MS), 0);
	while (got < 100) {
		n = ipc_queue_get_many(qb, out, 100 - (size_t)got, HARNESS_HANG_MS);
		ck_assert_msg(n > 0, "get_many: %s", ipc_strerror(n));
		for (int i = 0; i < n; i++) {
			char want[16];

			snprintf(want, sizeof want, "m%d", got + i);
			ck_assert_msg(out[i].iov_len == strlen(want) &&
				      memcmp(out[i].iov_base, want, out[i].iov_len) == 0,
				      "message %d is '%.*s'", got + i, (int)out[i].iov_len,
				      (char *)out[i].iov_base);
			free(out[i].iov_base);
		}
		got += n;
	}
	ck_assert_int_eq(ipc_queue_size(qb), 50);
	ipc_queue_close(qa);
	ipc_queue_close(qb);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

START_TEST(test_maxsize_is_exact_and_puts_wait)
{
	ipc_client *a = connect_ok(h.sock), *b = connect_ok(sock_b);
	const ipc_queue_attr attr = { .maxsize = 3, .replicas = 3 };
	ipc_queue *qa = open_ok(a, "bounded", IPC_CREATE, &attr), *qb = open_ok(b, "bounded", 0, NULL);
	int64_t t0;

	ck_assert_int_eq(stat_key(qb, "maxsize"), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_ipc(put_str(qa, "x", HARNESS_HANG_MS), 0);
	ck_assert_ipc(put_str(qa, "full", 0), -EAGAIN);
	t0 = harness_now_ms();
	ck_assert_ipc(put_str(qb, "full", 300), -ETIMEDOUT);
	ck_assert_msg(harness_now_ms() - t0 >= 250, "the put did not wait for its timeout");
	ck_assert_int_eq(ipc_queue_size(qa), 3);
	/* A get on A frees room: B's waiting put goes in. */
	get_expect(qa, "x", HARNESS_HANG_MS);
	ck_assert_ipc(put_str(qb, "in", HARNESS_HANG_MS), 0);
	ck_assert_int_eq(ipc_queue_size(qa), 3);
	ipc_queue_close(qa);
	ipc_queue_close(qb);
	ipc_disconnect(a);
	ipc_disconnect(b);
}
END_TEST

START_TEST(test_cluster_queues_maps_names)
{
	ipc_client *a = connect_ok(h.sock);
	ipc_queue *mapped = open_ok(a, "x.orders", IPC_CREATE, NULL);
	ipc_queue *local = open_ok(a, "y.orders", IPC_CREATE, NULL);
	char where[32];

	stat_str(mapped, "where", where, sizeof where);
	ck_assert_str_eq(where, "cluster");
	ck_assert_int_eq(stat_key(mapped, "replicas"), 1);
	stat_str(local, "where", where, sizeof where);
	ck_assert_str_eq(where, "local");
	ck_assert_int_eq(stat_key(local, "replicas"), 0);
	/* Both opened with the same (no) attributes: only the local one has a ring. */
	stat_str(mapped, "path", where, sizeof where);
	ck_assert_str_eq(where, "socket");
	ck_assert_int_eq(stat_key(mapped, "ring_slots"), -ENOENT);
	stat_str(local, "path", where, sizeof where);
	ck_assert_str_eq(where, "ring");
	ipc_queue_close(mapped);
	ipc_queue_close(local);
	ipc_disconnect(a);
}
END_TEST


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
	wait_connected(h.sock, 0);
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
	wait_connected(h.sock, 1);
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

/* ipcctl's output for args on A's socket (from malloc), checked to exit 0. */
static char *ctl_out(const char *const *args)
{
	const char *argv[16] = { IPCCTL_BIN, "-s", h.sock };
	size_t n = 3;
	char *out = NULL;
	int status;

	while (*args)
		argv[n++] = *args++;
	argv[n] = NULL;
	status = harness_run(NULL, argv, &out, HARNESS_HANG_MS);
	ck_assert_msg(status == 0, "ipcctl %s: status 0x%x, output: %s", argv[3], status,
		      out ? out : "");
	return out;
}

START_TEST(test_ipcctl_shows_where_queues_live)
{
	const char *create[] = { "queue", "create", "viactl", "--replicas", "1", NULL };
	const char *local[] = { "queue", "create", "here", NULL };
	const char *ls[] = { "ls", NULL };
	const char *stat[] = { "--json", "queue", "stat", "viactl", NULL };
	const char *status[] = { "status", NULL };
	char *out;

	free(ctl_out(create));
	free(ctl_out(local));
	out = ctl_out(ls);
	ck_assert_msg(strstr(out, "WHERE") && strstr(out, "cluster R1") && strstr(out, "local"),
		      "ls: %s", out);
	free(out);
	out = ctl_out(stat);
	ck_assert_msg(strstr(out, "\"where\":\"cluster\"") && strstr(out, "\"replicas\":1"),
		      "stat --json: %s", out);
	free(out);
	out = ctl_out(status);
	ck_assert_msg(strstr(out, nc.urls) && strstr(out, "\"connected\":1"), "status: %s", out);
	free(out);
}
END_TEST

static void write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* SIGHUP connects to a cluster the file now names, and disconnects from it. */
START_TEST(test_reload_connects_and_disconnects)
{
	char conf[300], text[400];
	const char *args[] = { "-c", conf, NULL };
	ipc_client *c;
	ipc_queue *q;
	int64_t end;

	harness_setup(&h);
	natsc_start(&nc, h.dir);
	/* JetStream answers once its cluster has a leader: the open below needs it. */
	ck_assert_int_eq(natsc_wait_ready(&nc, HARNESS_HANG_MS), 0);
	snprintf(conf, sizeof conf, "%s/ipcd.conf", h.dir);
	write_conf(conf, "log-level = warn\n");
	harness_start(&h, args);
	c = connect_ok(h.sock);
	ck_assert_int_eq(cluster_key(c, "connected"), -ENOENT);
	ck_assert_ipc(ipc_queue_open(c, "later", IPC_CREATE, &r3, &q), -EOPNOTSUPP);
	snprintf(text, sizeof text, "cluster = %s\n", nc.urls);
	write_conf(conf, text);
	kill(h.pid, SIGHUP);
	wait_connected(h.sock, 1);
	q = open_ok(c, "later", IPC_CREATE, &r3);
	ck_assert_int_eq(stat_key(q, "replicas"), 3);
	ipc_queue_close(q);
	write_conf(conf, "cluster = off\n");
	kill(h.pid, SIGHUP);
	end = harness_now_ms() + HARNESS_HANG_MS;
	while (cluster_key(c, "connected") != -ENOENT && harness_now_ms() < end)
		harness_sleep_ms(20);
	ck_assert_int_eq(cluster_key(c, "connected"), -ENOENT);
	ck_assert_ipc(ipc_queue_open(c, "other", IPC_CREATE, &r3, &q), -EOPNOTSUPP);
	ipc_disconnect(c);
	harness_cleanup(&h);
	natsc_stop(&nc);
}
END_TEST

/* No cluster configured: replicas is refused, local queues are as before. */
START_TEST(test_replicas_without_cluster_is_eopnotsupp)
{
	ipc_client *c;
	ipc_queue *q;

	harness_setup(&h);
	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_queue_open(c, "r", IPC_CREATE, &r3, &q), -EOPNOTSUPP);
	q = open_ok(c, "r", IPC_CREATE, NULL);
	ck_assert_int_eq(stat_key(q, "replicas"), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_cleanup(&h);
}
END_TEST

static Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc;

	tc = harness_tcase(s, "basic", 120 * SLOWDOWN, setup, teardown);
	tcase_add_test(tc, test_put_on_a_get_on_b);
	tcase_add_test(tc, test_unlink_on_a_host_that_never_opened_it);
	tcase_add_test(tc, test_cluster_puts_count_in_the_memory_budget);
	tcase_add_test(tc, test_batches_across_hosts);
	tcase_add_test(tc, test_maxsize_is_exact_and_puts_wait);
	tcase_add_test(tc, test_cluster_queues_maps_names);
	tcase_add_test(tc, test_ipcctl_shows_where_queues_live);
	tc = harness_tcase(s, "ack", 120 * SLOWDOWN, setup, teardown);
	tcase_add_test(tc, test_killed_consumer_messages_back_at_once_in_order);
	tcase_add_test(tc, test_killed_ipcd_messages_back_after_ack_wait);
	tc = harness_tcase(s, "faults", 180 * SLOWDOWN, setup, teardown);
	tcase_add_test(tc, test_server_killed_while_streaming_loses_no_acknowledged_put);
	tcase_add_test(tc, test_cluster_down_and_back);
	tc = harness_tcase(s, "flood", 900 * SLOWDOWN, setup, teardown);
	tcase_add_test(tc, test_many_messages_exactly_once_fifo);
	tc = harness_tcase(s, "nocluster", 60 * SLOWDOWN, NULL, NULL);
	tcase_add_test(tc, test_replicas_without_cluster_is_eopnotsupp);
	tcase_add_test(tc, test_reload_connects_and_disconnects);
	return s;
}

int main(void)
{
	return harness_main(cluster_suite());
}
