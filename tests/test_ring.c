/*
 * test_ring.c - local queues through their shared-memory ring: the same
 * calls as by the socket, one order for ring and socket clients mixed,
 * exact bounds under several producers, deadlines, a sleeping consumer that
 * costs no CPU, purge/unlink/join while mapped, who gets the mapping, forked
 * children, and a ring scribbled on that fails its queue alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring_env.h"

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

START_TEST(test_ring_handle_maps_and_moves_messages)
{
	ipc_client *c = NULL;
	ipc_queue *q, *s;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "fast", IPC_CREATE, NULL);
	ck_assert_int_eq(stat_key(q, "ring_mapped"), 1);
	ck_assert_int_eq(stat_key(q, "ring_slots"), 1024);
	for (long i = 0; i < 100; i++)
		ck_assert_ipc(put_num(q, i, 0), 0);
	/* Through the ring: ipcd stored none of them itself. */
	ck_assert_int_eq(stat_key(q, "puts"), 100);
	ck_assert_int_eq(stat_key(q, "ring_puts"), 100);
	ck_assert_int_eq(stat_key(q, "depth"), 100);
	ck_assert_ipc(ipc_queue_size(q), 100);
	for (long i = 0; i < 100; i++)
		ck_assert_int_eq(get_num(q, 0), i);
	ck_assert_int_eq(stat_key(q, "ring_gets"), 100);
	ck_assert_int_eq(stat_key(q, "depth"), 0);
	ck_assert_int_eq(get_num(q, 0), -EAGAIN);

	/* A handle that asks for no ring goes by the socket. */
	s = open_ok(c, "fast", 0, &by_socket);
	ck_assert_int_eq(stat_key(q, "ring_mapped"), 1);
	ck_assert_ipc(put_num(s, 7, 0), 0);
	ck_assert_int_eq(stat_key(q, "puts"), 101);
	ck_assert_int_eq(stat_key(q, "ring_puts"), 100);
	ck_assert_int_eq(get_num(q, 0), 7);
	ipc_queue_close(s);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/*
 * Ring and socket producers, small and larger-than-a-slot messages, ring and
 * socket consumers: every consumer sees the one order of the puts.
 */
START_TEST(test_ring_and_socket_keep_one_order)
{
	static const char *const args[] = { "--ring-slots", "8", "--ring-slot-bytes", "64", NULL };
	char big[200];
	ipc_client *c;
	ipc_queue *r, *s;
	long next = 0;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	r = open_ok(c, "mixed", IPC_CREATE, NULL);
	s = open_ok(c, "mixed", 0, &by_socket);
	ck_assert_int_eq(stat_key(r, "ring_slots"), 8);
	for (long i = 0; i < 300; i++) {
		ipc_queue *p = (i / 3) % 2 ? r : s;

		if (i % 7 == 3) {
			/* Larger than a slot: ipcd keeps it, in its place. */
			memset(big, ' ', sizeof big);
			snprintf(big, sizeof big, "%ld", i);
			big[strlen(big)] = ' ';
			ck_assert_ipc(ipc_queue_put(p, big, sizeof big, 0), 0);
		} else {
			ck_assert_ipc(put_num(p, i, 0), 0);
		}
		/* Take some as we go, alternately by ring and socket. */
		if (i % 5 == 4) {
			ck_assert_int_eq(get_num(next % 2 ? s : r, 0) , next);
			next++;
		}
	}
	ck_assert_int_eq(stat_key(r, "depth"), 300 - next);
	while (next < 300) {
		struct iovec v[16];
		int n = ipc_queue_get_many(next % 3 ? r : s, v, 16, 0);

		ck_assert_int_gt(n, 0);
		for (int k = 0; k < n; k++) {
			ck_assert_int_eq(num_of(&v[k]), next);
			next++;
			free(v[k].iov_base);
		}
	}
	ck_assert_int_eq(get_num(r, 0), -EAGAIN);
	ck_assert_int_eq(get_num(s, 0), -EAGAIN);
	ck_assert_int_eq(stat_key(r, "depth"), 0);
	ipc_queue_close(s);
	ipc_queue_close(r);
	ipc_disconnect(c);
}
END_TEST

/* Producers racing for the last places: exactly maxsize, then maxbytes, got in. */
static void race_producers(const char *name, const ipc_queue_attr *attr, long want)
{
	enum { PRODUCERS = 4 };
	pid_t pids[PRODUCERS];
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, name, IPC_CREATE, attr);
	long got = 0;

	for (int p = 0; p < PRODUCERS; p++) {
		pids[p] = fork_ok();
		if (pids[p] == 0) {
			ipc_client *cc = connect_ok(h.sock);
			ipc_queue *qq = open_ok(cc, name, 0, NULL);
			int rc;

			/* Keep trying for a while after the first refusal: a late success
			 * would break the bound. */
			for (int i = 0, full = 0; full < 2000 && i < 100000; i++) {
				rc = ipc_queue_put(qq, "1234567", 7, 0);
				if (rc == -EAGAIN)
					full++;
				else if (rc < 0)
					child_fail("put: %s", ipc_strerror(rc));
			}
			_exit(0);
		}
	}
	for (int p = 0; p < PRODUCERS; p++)
		harness_expect_child_ok(pids[p], HARNESS_HANG_MS, "producer");
	ck_assert_int_eq(stat_key(q, "depth"), want);
	while (get_num(q, 0) == 1234567)
		got++;
	ck_assert_int_eq(got, want);
	ipc_queue_close(q);
	ipc_disconnect(c);
}

START_TEST(test_bounds_exact_under_many_producers)
{
	static const ipc_queue_attr size = { .maxsize = 100 };
	static const ipc_queue_attr bytes = { .maxbytes = 1000 };
	ipc_client *c;
	ipc_queue *q;

	harness_start(&h, NULL);
	race_producers("bysize", &size, 100);
	race_producers("bybytes", &bytes, 1000 / 7);
	c = connect_ok(h.sock);
	q = open_ok(c, "bybytes", 0, NULL);
	/* A message larger than maxbytes never fits: as by the socket. */
	ck_assert_ipc(ipc_queue_put(q, "x", 0, 0), 0);
	{
		char big[1001] = { 0 };

		ck_assert_ipc(ipc_queue_put(q, big, sizeof big, 0), -EMSGSIZE);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_ring_timeouts)
{
	ipc_queue_attr one = { .maxsize = 1 };
	ipc_client *c;
	ipc_queue *q;
	int64_t t0;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "clock", IPC_CREATE, &one);
	ck_assert_int_eq(get_num(q, IPC_NOWAIT), -EAGAIN);
	t0 = harness_now_ms();
	ck_assert_int_eq(get_num(q, 300), -ETIMEDOUT);
	ck_assert_int_ge(harness_now_ms() - t0, 290);
	ck_assert_ipc(put_num(q, 1, 0), 0);
	ck_assert_ipc(put_num(q, 2, IPC_NOWAIT), -EAGAIN);
	t0 = harness_now_ms();
	ck_assert_ipc(put_num(q, 2, 300), -ETIMEDOUT);
	ck_assert_int_ge(harness_now_ms() - t0, 290);
	ck_assert_int_eq(get_num(q, 0), 1);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* utime + stime of pid, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return -1;
	return (long)(ut + st);
}

/*
 * A consumer blocked on an empty ring sleeps on its futex: over a second
 * it uses (generously) under a tenth of a second of CPU; a put wakes it.
 */
START_TEST(test_waiting_consumer_uses_no_cpu)
{
	ipc_client *c;
	ipc_queue *q;
	long before, after;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "idle", IPC_CREATE, NULL);
	pid = fork_ok();
	if (pid == 0) {
		long v = get_num(q, IPC_FOREVER);

		_exit(v == 42 ? 0 : 1);
	}
	wait_stat(q, "ring_getters", 1, HARNESS_HANG_MS);
	before = cpu_ticks(pid);
	harness_sleep_ms(1000);
	after = cpu_ticks(pid);
	ck_assert_int_ge(before, 0);
	ck_assert_msg(after - before <= sysconf(_SC_CLK_TCK) / 10,
		      "a sleeping consumer used %ld ticks in a second", after - before);
	ck_assert_ipc(put_num(q, 42, 0), 0);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "consumer");
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A get parked in ipcd is served by a ring put, and a ring sleeper by a socket put. */
START_TEST(test_ring_and_parked_requests_wake_each_other)
{
	ipc_client *c;
	ipc_queue *r, *s;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	r = open_ok(c, "wake", IPC_CREATE, NULL);
	s = open_ok(c, "wake", 0, &by_socket);
	pid = fork_ok();
	if (pid == 0) {
		ipc_client *cc = connect_ok(h.sock);
		ipc_queue *qq = open_ok(cc, "wake", 0, &by_socket);

		_exit(get_num(qq, HARNESS_HANG_MS) == 5 ? 0 : 1);
	}
	wait_stat(r, "getters", 1, HARNESS_HANG_MS);
	ck_assert_ipc(put_num(r, 5, 0), 0);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "socket consumer");

	pid = fork_ok();
	if (pid == 0)
		_exit(get_num(r, HARNESS_HANG_MS) == 6 ? 0 : 1);
	wait_stat(r, "ring_getters", 1, HARNESS_HANG_MS);
	ck_assert_ipc(put_num(s, 6, 0), 0);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "ring consumer");

	/* A ring producer asleep on a full queue: a socket get makes room. */
	ipc_queue_close(s);
	ipc_queue_close(r);
	{
		ipc_queue_attr one = { .maxsize = 1 };

		r = open_ok(c, "full", IPC_CREATE, &one);
		s = open_ok(c, "full", 0, &by_socket);
	}
	ck_assert_ipc(put_num(r, 1, 0), 0);
	pid = fork_ok();
	if (pid == 0)
		_exit(put_num(r, 2, HARNESS_HANG_MS) == 0 ? 0 : 1);
	wait_stat(r, "ring_putters", 1, HARNESS_HANG_MS);
	ck_assert_int_eq(get_num(s, 0), 1);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "ring producer");
	ck_assert_int_eq(get_num(s, HARNESS_HANG_MS), 2);
	ipc_queue_close(s);
	ipc_queue_close(r);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_purge_join_unlink_while_mapped)
{
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "admin", IPC_CREATE, NULL);
	for (long i = 0; i < 10; i++)
		ck_assert_ipc(put_num(q, i, 0), 0);
	ck_assert_ipc(ipc_queue_purge(q), 10);
	ck_assert_int_eq(stat_key(q, "depth"), 0);
	ck_assert_int_eq(get_num(q, 0), -EAGAIN);
	ck_assert_ipc(ipc_queue_join(q, 0), 0);

	/* join waits for a ring consumer to take what is there. */
	ck_assert_ipc(put_num(q, 1, 0), 0);
	ck_assert_ipc(ipc_queue_join(q, 0), -EAGAIN);
	pid = fork_ok();
	if (pid == 0) {
		ipc_client *cc = connect_ok(h.sock);
		ipc_queue *qq = open_ok(cc, "admin", 0, NULL);

		if (child_wait_parent_parked(h.sock) < 0)
			_exit(2);
		_exit(get_num(qq, HARNESS_HANG_MS) == 1 ? 0 : 1);
	}
	ck_assert_ipc(ipc_queue_join(q, HARNESS_HANG_MS), 0);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "consumer");

	/* A consumer asleep on the ring hears of the removal. */
	pid = fork_ok();
	if (pid == 0)
		_exit(get_num(q, HARNESS_HANG_MS) < 0 ? 0 : 1);
	wait_stat(q, "ring_getters", 1, HARNESS_HANG_MS);
	ck_assert_ipc(ipc_queue_unlink(c, "admin"), 0);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "sleeping consumer");
	ck_assert_ipc(put_num(q, 2, 0), -EIDRM);
	ck_assert_int_lt(get_num(q, 0), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* Only who may both put and get is given the ring. */
START_TEST(test_mapping_needs_put_and_get_rights)
{
	ipc_queue_attr attr = { .mode = 0602 };
	struct passwd *pw = getpwnam("nobody");
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;

	if (!running_as_root() || !pw)
		return;
	harness_start(&h, NULL);
	{
		char parent[sizeof h.dir];

		snprintf(parent, sizeof parent, "%s", h.dir);
		ck_assert_int_eq(chmod(h.dir, 0711), 0);
		ck_assert_int_eq(chmod(dirname(parent), 0711), 0);
	}
	c = connect_ok(h.sock);
	q = open_ok(c, "putonly", IPC_CREATE, &attr);
	attr.mode = 0606;
	ipc_queue_close(open_ok(c, "both", IPC_CREATE, &attr));
	pid = fork_ok();
	if (pid == 0) {
		ipc_client *cc;
		ipc_queue *a, *b;

		if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			child_fail("setuid");
		cc = connect_ok(h.sock);
		a = open_ok(cc, "putonly", 0, NULL);
		b = open_ok(cc, "both", 0, NULL);
		if (put_num(a, 3, 0) < 0 || put_num(b, 4, 0) < 0)
			child_fail("put");
		if (stat_key(a, "ring_mapped") != 1 || stat_key(b, "ring_mapped") != 1)
			child_fail("mapped %ld %ld", stat_key(a, "ring_mapped"),
				   stat_key(b, "ring_mapped"));
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "other user");
	ck_assert_int_eq(get_num(q, 0), 3);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A forked child keeps using the handle (on its own connection and mapping). */
START_TEST(test_forked_children_keep_working)
{
	enum { CHILDREN = 3, EACH = 2000 };
	long last[CHILDREN];
	ipc_client *c;
	ipc_queue *q;
	pid_t pids[CHILDREN];

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "family", IPC_CREATE, NULL);
	ck_assert_ipc(put_num(q, -1, 0), 0);
	for (int k = 0; k < CHILDREN; k++) {
		pids[k] = fork_ok();
		if (pids[k] == 0) {
			for (long i = 0; i < EACH; i++) {
				int rc = k == 1 ? ipc_queue_put_async(q, "", 0) : 0;

				if (rc == 0)
					rc = put_num(q, k * 1000000 + i, HARNESS_HANG_MS);
				if (rc < 0)
					child_fail("put: %s", ipc_strerror(rc));
			}
			ipc_queue_flush(q, HARNESS_HANG_MS);
			_exit(0);
		}
	}
	ck_assert_int_eq(get_num(q, 0), -1);
	for (int k = 0; k < CHILDREN; k++) {
		harness_expect_child_ok(pids[k], HARNESS_HANG_MS, "producer");
		last[k] = -1;
	}
	/* Each producer's messages in its order. */
	for (long n = 0; n < CHILDREN * EACH + EACH; n++) {
		void *data;
		size_t len;
		long v;

		ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
		if (len == 0) {
			free(data);
			continue;
		}
		{
			struct iovec m = { data, len };

			v = num_of(&m);
		}
		free(data);
		ck_assert_int_gt(v % 1000000, last[v / 1000000]);
		last[v / 1000000] = v % 1000000;
	}
	for (int k = 0; k < CHILDREN; k++)
		ck_assert_int_eq(last[k], EACH - 1);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* Batches, prefetch and asynchronous puts go through the ring too. */
START_TEST(test_batches_prefetch_and_async_through_ring)
{
	struct iovec in[100], out[64];
	char bufs[100][8];
	ipc_client *c;
	ipc_queue *q;
	long next = 0;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "batch", IPC_CREATE, NULL);
	for (int i = 0; i < 100; i++) {
		in[i].iov_base = bufs[i];
		in[i].iov_len = (size_t)snprintf(bufs[i], sizeof bufs[i], "%d", i);
	}
	ck_assert_int_eq(ipc_queue_put_many(q, in, 100, 0), 100);
	/* Asynchronous puts are staged in this process and put in runs: the
	 * first full run (64) is in the ring, the rest pending until the flush. */
	for (int i = 100; i < 200; i++)
		ck_assert_ipc(ipc_queue_put_async(q, bufs[i - 100], 1), 0);
	ck_assert_int_eq(stat_key(q, "ring_puts"), 164);
	ck_assert_uint_eq(ipc_queue_pending(q), 36);
	ck_assert_ipc(ipc_queue_flush(q, 0), 0);
	ck_assert_uint_eq(ipc_queue_pending(q), 0);
	ck_assert_int_eq(stat_key(q, "ring_puts"), 200);
	ck_assert_ipc(ipc_queue_set_prefetch(q, 16), 0);
	while (next < 100) {
		int n = ipc_queue_get_many(q, out, 100 - next < 64 ? (size_t)(100 - next) : 64, 0);

		ck_assert_int_gt(n, 0);
		for (int k = 0; k < n; k++, next++) {
			ck_assert_int_eq(num_of(&out[k]), next);
			free(out[k].iov_base);
		}
	}
	ck_assert_int_eq(stat_key(q, "depth"), 100);
	ck_assert_ipc(ipc_queue_set_prefetch(q, 0), 0);
	ck_assert_int_eq(stat_key(q, "ring_gets"), 100);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/*
 * A full ring of a queue with room, and no consumer taking: a put waits a
 * spin for room, then ipcd holds the message (a put never waits on a
 * stopped consumer); the order stays one.
 */
START_TEST(test_full_ring_spills_to_ipcd)
{
	static const char *const args[] = { "--ring-slots", "4", NULL };
	ipc_client *c;
	ipc_queue *q;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "q", IPC_CREATE, NULL);
	for (long i = 0; i < 12; i++)
		ck_assert_ipc(put_num(q, i, 0), 0);
	/* Each asynchronous put goes before the put that follows it. */
	for (long i = 12; i < 24; i++) {
		ck_assert_ipc(ipc_queue_put_async(q, "x", 1), 0);
		ck_assert_ipc(put_num(q, i, 0), 0);
	}
	ck_assert_ipc(ipc_queue_flush(q, 0), 0);
	ck_assert_int_eq(stat_key(q, "depth"), 36);
	ck_assert_int_le(stat_key(q, "ring_puts"), 8);
	for (long i = 0; i < 12; i++)
		ck_assert_int_eq(get_num(q, 0), i);
	for (long i = 12; i < 24; i++) {
		void *data;
		size_t len;

		ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
		ck_assert(len == 1 && *(char *)data == 'x');
		free(data);
		ck_assert_int_eq(get_num(q, 0), i);
	}
	ck_assert_int_eq(stat_key(q, "depth"), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_rings_turned_off)
{
	static const char *const args[] = { "--ring-slots", "0", NULL };
	ipc_client *c;
	ipc_queue *q;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "plain", IPC_CREATE, NULL);
	ck_assert_int_eq(stat_key(q, "ring_slots"), -ENOENT);
	ck_assert_ipc(put_num(q, 1, 0), 0);
	ck_assert_int_eq(stat_key(q, "puts"), 1);
	ck_assert_int_eq(get_num(q, 0), 1);
	ipc_queue_close(q);
	ipc_queue_close(open_ok(c, "plain2", IPC_CREATE, &by_socket));
	ipc_disconnect(c);
}
END_TEST

/* Rings count in --max-shm: past it, new queues go by the socket; a removed one gives its room back. */
START_TEST(test_rings_count_in_max_shm)
{
	enum { RING = IPC_RING_HDR_BYTES + 16 * 64 };
	char budget[32];
	const char *args[] = { "--ring-slots", "16", "--ring-slot-bytes", "64", "--max-shm",
			       budget, NULL };
	ipc_client *c;
	ipc_queue *a, *b, *d;

	snprintf(budget, sizeof budget, "%d", RING + RING / 2);
	harness_start(&h, args);
	c = connect_ok(h.sock);
	a = open_ok(c, "a", IPC_CREATE, NULL);
	ck_assert_int_eq(stat_key(a, "ring_bytes"), RING);
	ck_assert_int_eq(status_key(c, "shm"), RING);
	b = open_ok(c, "b", IPC_CREATE, NULL);
	ck_assert_int_eq(stat_key(b, "ring_bytes"), -ENOENT);
	ck_assert_ipc(put_num(b, 1, 0), 0);
	ck_assert_int_eq(get_num(b, 0), 1);
	ipc_queue_close(a);
	ck_assert_ipc(ipc_queue_unlink(c, "a"), 0);
	ck_assert_int_eq(status_key(c, "shm"), 0);
	d = open_ok(c, "d", IPC_CREATE, NULL);
	ck_assert_int_eq(stat_key(d, "ring_bytes"), RING);
	ipc_queue_close(d);
	ipc_queue_close(b);
	ipc_disconnect(c);
}
END_TEST

/* A ring written with nonsense fails its queue; ipcd and other queues go on. */
START_TEST(test_scribbled_ring_fails_its_queue_alone)
{
	ipc_client *c;
	ipc_queue *q, *s, *other;
	struct ipc_ring_hdr *hdr;
	struct ipc_ring_slot *slot;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "victim", IPC_CREATE, NULL);
	s = open_ok(c, "victim", 0, &by_socket);
	other = open_ok(c, "bystander", IPC_CREATE, &by_socket);
	hdr = find_ring();
	ck_assert_ptr_nonnull(hdr);
	ck_assert_uint_eq(hdr->magic, IPC_RING_MAGIC);
	ck_assert_ipc(put_num(q, 1, 0), 0);
	/* The published slot now claims a length past its end. */
	slot = ipc_ring_slot((unsigned char *)hdr + hdr->hdr_bytes, hdr->slot_bytes, hdr->slots,
			     hdr->head);
	slot->len = 0xfffffff0u;
	hdr->count = ~0ull;
	ck_assert_int_eq(get_num(s, 0), -EIO);
	ck_assert_int_eq(stat_key(s, "ring_broken"), 1);
	ck_assert_ipc(put_num(s, 2, 0), -EIO);
	ck_assert_ipc(put_num(other, 3, 0), 0);
	ck_assert_int_eq(get_num(other, 0), 3);
	harness_check_daemon(&h);
	ipc_queue_close(other);
	ipc_queue_close(s);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = harness_tcase(s, "ring", 60, setup, teardown);

	tcase_add_test(tc, test_ring_handle_maps_and_moves_messages);
	tcase_add_test(tc, test_ring_and_socket_keep_one_order);
	tcase_add_test(tc, test_bounds_exact_under_many_producers);
	tcase_add_test(tc, test_ring_timeouts);
	tcase_add_test(tc, test_waiting_consumer_uses_no_cpu);
	tcase_add_test(tc, test_ring_and_parked_requests_wake_each_other);
	tcase_add_test(tc, test_purge_join_unlink_while_mapped);
	tcase_add_test(tc, test_mapping_needs_put_and_get_rights);
	tcase_add_test(tc, test_forked_children_keep_working);
	tcase_add_test(tc, test_batches_prefetch_and_async_through_ring);
	tcase_add_test(tc, test_full_ring_spills_to_ipcd);
	tcase_add_test(tc, test_rings_turned_off);
	tcase_add_test(tc, test_rings_count_in_max_shm);
	tcase_add_test(tc, test_scribbled_ring_fails_its_queue_alone);
	return s;
}

int main(void)
{
	return harness_main(ring_suite());
}
