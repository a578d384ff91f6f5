/*
 * test_ring_deaths.c - processes that die in the middle of a ring
 * operation: a producer between its claim and its publish, a consumer
 * between its take and its free, a producer between its reservation and its
 * claim, a sleeper; and producers SIGKILLed at random while they stream.
 * The queue never blocks, loses nothing that was acknowledged, and its
 * counts come back exact.
 *
 * The children that die mid-operation do by hand what libipcclient does
 * (proto/ipc_ring.h), through their own lane, and stop where the library
 * could be killed.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* In a child: the queue name opened on a connection of the child's own. */
static ipc_queue *child_open(const char *name)
{
	ipc_client *c = NULL;
	ipc_queue *q = NULL;

	if (ipc_connect(h.sock, &c) < 0 || ipc_queue_open(c, name, 0, NULL, &q) < 0)
		child_fail("open %s", name);
	return q;
}

/*
 * In a child: open the queue (its handle takes lane 1, after the parent's
 * lane 0) and return the ring with that lane begun on, as an operation of
 * the library begins.
 */
static struct ipc_ring_hdr *child_lane(const char *name, struct ipc_ring_lane **lane)
{
	ipc_queue *q = child_open(name);
	struct ipc_ring_hdr *hd = find_ring();

	if (!hd || stat_key(q, "ring_mapped") != 2 || !hd->lane[1].gen)
		child_fail("no ring mapped as lane 1");
	*lane = &hd->lane[1];
	__atomic_store_n(&(*lane)->ops, 1, __ATOMIC_SEQ_CST);
	return hd;
}

static void child_die(void)
{
	kill(getpid(), SIGKILL);
	_exit(3);
}

/* The child must have died by SIGKILL, not failed. */
static void expect_killed(pid_t pid)
{
	int st = harness_wait_child(pid, HARNESS_HANG_MS);

	ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		      "child did not die as planned (status %d)", st);
}

/* A producer killed after its claim and before its publish leaves a void, not a wall. */
START_TEST(test_producer_killed_mid_claim_leaves_a_void)
{
	ipc_queue_attr attr = { .maxsize = 4 };
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "q", IPC_CREATE, &attr);
	ck_assert_ipc(put_num(q, 1, 0), 0);
	pid = fork_ok();
	if (pid == 0) {
		struct ipc_ring_lane *l;
		struct ipc_ring_hdr *hd = child_lane("q", &l);
		struct ipc_ring_slot *s;
		uint64_t pos;

		if (ipc_ring_reserve(hd, hd->maxsize, hd->maxbytes, 1, 5) < 0 ||
		    ipc_ring_claim(hd, ring_base(hd), hd->slot_bytes, hd->slots, &pos, 64, l) < 0 ||
		    pos != 1)
			child_fail("claim");
		s = ipc_ring_slot(ring_base(hd), hd->slot_bytes, hd->slots, pos);
		s->len = 5;
		memcpy(s->data, "torn!", 5);
		child_die();
	}
	expect_killed(pid);
	/* Position 2: behind the dead claim. */
	ck_assert_ipc(put_num(q, 2, 0), 0);
	ck_assert_int_eq(get_num(q, HARNESS_HANG_MS), 1);
	ck_assert_int_eq(get_num(q, HARNESS_HANG_MS), 2);
	/* The dead producer's reservation is counted out, and the bound is exact again. */
	wait_stat(q, "depth", 0, HARNESS_HANG_MS);
	for (long i = 0; i < 4; i++)
		ck_assert_ipc(put_num(q, 10 + i, 0), 0);
	ck_assert_ipc(put_num(q, 99, 0), -EAGAIN);
	for (long i = 0; i < 4; i++)
		ck_assert_int_eq(get_num(q, 0), 10 + i);
	ck_assert_int_eq(stat_key(q, "ring_mapped"), 1);
	harness_check_daemon(&h);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A consumer killed after its take and before its free: the message comes back first. */
START_TEST(test_consumer_killed_mid_take_gives_the_message_back)
{
	static const char *const args[] = { "--ring-slots", "4", NULL };
	ipc_client *c;
	ipc_queue *q;
	long ring_puts;
	pid_t pid;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "q", IPC_CREATE, NULL);
	ck_assert_ipc(put_num(q, 1, 0), 0);
	ck_assert_ipc(put_num(q, 2, 0), 0);
	pid = fork_ok();
	if (pid == 0) {
		struct ipc_ring_lane *l;
		struct ipc_ring_hdr *hd = child_lane("q", &l);
		uint64_t pos;

		if (ipc_ring_take(hd, ring_base(hd), hd->slot_bytes, hd->slots, &pos, 64, l) < 0 ||
		    pos != 0)
			child_fail("take");
		child_die();
	}
	expect_killed(pid);
	/* Once ipcd has seen it go (as for a consumer by the socket). */
	wait_stat(q, "ring_mapped", 1, HARNESS_HANG_MS);
	ck_assert_int_eq(get_num(q, HARNESS_HANG_MS), 1);
	ck_assert_int_eq(get_num(q, HARNESS_HANG_MS), 2);
	/* Its slot was freed: three more laps of the 4 slots all go through the ring. */
	ring_puts = stat_key(q, "ring_puts");
	for (long i = 0; i < 12; i++) {
		ck_assert_ipc(put_num(q, 10 + i, 0), 0);
		ck_assert_int_eq(get_num(q, HARNESS_HANG_MS), 10 + i);
	}
	ck_assert_int_eq(stat_key(q, "ring_puts"), ring_puts + 12);
	ck_assert_int_eq(stat_key(q, "redelivered"), 0);
	wait_stat(q, "depth", 0, HARNESS_HANG_MS);
	harness_check_daemon(&h);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/*
 * Runs: a producer killed with 3 slots claimed at once, the first published;
 * a consumer killed with 3 taken at once, the first freed.  What was
 * published arrives, the rest of the producer's run is void, and the rest of
 * the consumer's comes back first, in order.
 */
START_TEST(test_killed_in_the_middle_of_runs)
{
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "q", IPC_CREATE, NULL);
	pid = fork_ok();
	if (pid == 0) {
		struct ipc_ring_lane *l;
		struct ipc_ring_hdr *hd = child_lane("q", &l);
		struct ipc_ring_slot *s;
		uint32_t n = 3;
		uint64_t pos;

		if (ipc_ring_reserve(hd, hd->maxsize, hd->maxbytes, 3, 3) < 0 ||
		    ipc_ring_claim_n(hd, ring_base(hd), hd->slot_bytes, hd->slots, &pos, &n, 64, l) < 0 ||
		    pos != 0 || n != 3)
			child_fail("claim");
		s = ipc_ring_slot(ring_base(hd), hd->slot_bytes, hd->slots, 0);
		s->len = 1;
		s->data[0] = '7';
		ipc_ring_commit(s, 0, hd->slots, NULL);
		child_die();
	}
	expect_killed(pid);
	ck_assert_ipc(put_num(q, 8, 0), 0);
	ck_assert_int_eq(get_num(q, HARNESS_HANG_MS), 7);
	ck_assert_int_eq(get_num(q, HARNESS_HANG_MS), 8);
	wait_stat(q, "depth", 0, HARNESS_HANG_MS);

	for (long i = 1; i <= 4; i++)
		ck_assert_ipc(put_num(q, i, 0), 0);
	pid = fork_ok();
	if (pid == 0) {
		struct ipc_ring_lane *l;
		struct ipc_ring_hdr *hd = child_lane("q", &l);
		uint32_t n = 3;
		uint64_t pos;

		if (ipc_ring_take_n(hd, ring_base(hd), hd->slot_bytes, hd->slots, &pos, &n, 64, l) < 0 ||
		    n != 3)
			child_fail("take");
		ipc_ring_free(ipc_ring_slot(ring_base(hd), hd->slot_bytes, hd->slots, pos), pos,
			      hd->slots, NULL);
		child_die();
	}
	expect_killed(pid);
	wait_stat(q, "ring_mapped", 1, HARNESS_HANG_MS);
	/* 1 was freed: the child had it.  2 and 3 come back before 4. */
	for (long i = 2; i <= 4; i++)
		ck_assert_int_eq(get_num(q, HARNESS_HANG_MS), i);
	wait_stat(q, "depth", 0, HARNESS_HANG_MS);
	harness_check_daemon(&h);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A producer killed between its reservation and its claim: the count is mended. */
START_TEST(test_producer_killed_after_reserving_leaves_no_count)
{
	ipc_queue_attr attr = { .maxsize = 2, .maxbytes = 100 };
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "q", IPC_CREATE, &attr);
	pid = fork_ok();
	if (pid == 0) {
		struct ipc_ring_lane *l;
		struct ipc_ring_hdr *hd = child_lane("q", &l);

		if (ipc_ring_reserve(hd, hd->maxsize, hd->maxbytes, 1, 60) < 0)
			child_fail("reserve");
		child_die();
	}
	expect_killed(pid);
	wait_stat(q, "depth", 0, HARNESS_HANG_MS);
	wait_stat(q, "bytes", 0, HARNESS_HANG_MS);
	ck_assert_ipc(put_num(q, 1, 0), 0);
	ck_assert_ipc(put_num(q, 2, 0), 0);
	ck_assert_ipc(put_num(q, 3, 0), -EAGAIN);
	ck_assert_int_eq(get_num(q, 0), 1);
	ck_assert_int_eq(get_num(q, 0), 2);
	harness_check_daemon(&h);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A consumer killed asleep on the ring is counted out of its sleepers. */
START_TEST(test_sleeper_killed_is_counted_out)
{
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "q", IPC_CREATE, NULL);
	pid = fork_ok();
	if (pid == 0) {
		void *data;
		size_t len;

		ipc_queue_get(child_open("q"), &data, &len, 10 * HARNESS_HANG_MS);
		child_fail("woke");
	}
	wait_stat(q, "ring_getters", 1, HARNESS_HANG_MS);
	kill(pid, SIGKILL);
	expect_killed(pid);
	wait_stat(q, "ring_getters", 0, HARNESS_HANG_MS);
	wait_stat(q, "ring_mapped", 1, HARNESS_HANG_MS);
	ck_assert_ipc(put_num(q, 1, 0), 0);
	ck_assert_int_eq(get_num(q, 0), 1);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A closed handle's lane is free again; past the last lane, handles go by the socket. */
START_TEST(test_lanes_are_reused_and_run_out_gracefully)
{
	enum { N = IPC_RING_LANES + 2 };
	ipc_queue **qs = calloc(N, sizeof *qs);
	ipc_client *c;

	ck_assert_ptr_nonnull(qs);
	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++)
			qs[i] = open_ok(c, "q", IPC_CREATE, NULL);
		ck_assert_int_eq(stat_key(qs[0], "ring_mapped"), IPC_RING_LANES);
		/* The handles past the last lane work by the socket, in the one order. */
		ck_assert_ipc(put_num(qs[N - 1], 1, 0), 0);
		ck_assert_ipc(put_num(qs[0], 2, 0), 0);
		ck_assert_int_eq(get_num(qs[N - 2], 0), 1);
		ck_assert_int_eq(get_num(qs[5], 0), 2);
		for (int i = N - 1; i > 0; i--)
			ipc_queue_close(qs[i]);
		ck_assert_int_eq(stat_key(qs[0], "ring_mapped"), 1);
		ipc_queue_close(qs[0]);
	}
	ipc_disconnect(c);
	free(qs);
}
END_TEST

/*
 * Producers streaming through the ring, each SIGKILLed at a random moment,
 * one consumer: each producer's messages arrive in order, every put it saw
 * succeed arrives (and at most the one it was in), nothing else, and the
 * queue then still moves and counts exactly.
 */
START_TEST(test_producers_killed_at_random_block_nothing)
{
	enum { PRODUCERS = 4, ROUNDS = 12, MAXSIZE = 64 };
	ipc_queue_attr attr = { .maxsize = MAXSIZE };
	struct { long acked, next; } *seen;
	ipc_client *c;
	ipc_queue *q;
	long got[ROUNDS * PRODUCERS];
	unsigned seed = (unsigned)getpid();

	harness_start(&h, NULL);
	seen = mmap(NULL, sizeof *seen * ROUNDS * PRODUCERS, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(seen, MAP_FAILED);
	c = connect_ok(h.sock);
	q = open_ok(c, "q", IPC_CREATE, &attr);
	for (int r = 0; r < ROUNDS; r++) {
		pid_t pids[PRODUCERS];

		for (int p = 0; p < PRODUCERS; p++) {
			int id = r * PRODUCERS + p;

			seen[id].acked = -1;
			got[id] = -1;
			pids[p] = fork_ok();
			if (pids[p] == 0) {
				ipc_queue *qq = child_open("q");

				for (long i = 0;; i++) {
					int rc = put_num(qq, (long)id * 1000000 + i, -1);

					if (rc < 0)
						child_fail("put: %s", ipc_strerror(rc));
					__atomic_store_n(&seen[id].acked, i, __ATOMIC_SEQ_CST);
				}
			}
		}
		/* Take while they put; kill each at a random moment. */
		for (int p = 0; p < PRODUCERS; p++) {
			int takes = (int)(rand_r(&seed) % 300);

			for (int k = 0; k < takes; k++) {
				long v = get_num(q, HARNESS_HANG_MS);
				int id = (int)(v / 1000000);

				ck_assert_msg(v >= 0 && id < ROUNDS * PRODUCERS, "got %ld", v);
				ck_assert_msg(v % 1000000 == got[id] + 1, "producer %d: %ld after %ld",
					      id, v % 1000000, got[id]);
				got[id] = v % 1000000;
			}
			kill(pids[p], SIGKILL);
			expect_killed(pids[p]);
		}
		/* Drain: every acknowledged put, and at most the one cut short.  The
		 * depth counts a dead producer's reservation until it is mended. */
		for (int empty = 0;;) {
			long v = get_num(q, 100);
			int id;

			if (v == -ETIMEDOUT || v == -EAGAIN) {
				if (stat_key(q, "depth") == 0)
					break;
				ck_assert_msg(++empty < HARNESS_HANG_MS / 100, "depth %ld, nothing to get",
					      stat_key(q, "depth"));
				continue;
			}
			ck_assert_msg(v >= 0, "drain: %ld", v);
			id = (int)(v / 1000000);
			ck_assert_msg(v % 1000000 == got[id] + 1, "producer %d: %ld after %ld", id,
				      v % 1000000, got[id]);
			got[id] = v % 1000000;
		}
		for (int p = 0; p < PRODUCERS; p++) {
			int id = r * PRODUCERS + p;
			long acked = __atomic_load_n(&seen[id].acked, __ATOMIC_SEQ_CST);

			ck_assert_msg(got[id] == acked || got[id] == acked + 1,
				      "producer %d: acknowledged up to %ld, got up to %ld", id, acked,
				      got[id]);
		}
	}
	/* The bound is exact again once the dead are mended. */
	wait_stat(q, "depth", 0, HARNESS_HANG_MS);
	for (long i = 0; i < MAXSIZE; i++)
		ck_assert_ipc(put_num(q, i, 0), 0);
	ck_assert_ipc(put_num(q, -1, 0), -EAGAIN);
	for (long i = 0; i < MAXSIZE; i++)
		ck_assert_int_eq(get_num(q, 0), i);
	wait_stat(q, "ring_mapped", 1, HARNESS_HANG_MS);
	harness_check_daemon(&h);
	munmap(seen, sizeof *seen * ROUNDS * PRODUCERS);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

static Suite *ring_deaths_suite(void)
{
	Suite *s = suite_create("ring_deaths");
	TCase *tc = harness_tcase(s, "ring_deaths", 120, setup, teardown);

	tcase_add_test(tc, test_producer_killed_mid_claim_leaves_a_void);
	tcase_add_test(tc, test_consumer_killed_mid_take_gives_the_message_back);
	tcase_add_test(tc, test_killed_in_the_middle_of_runs);
	tcase_add_test(tc, test_producer_killed_after_reserving_leaves_no_count);
	tcase_add_test(tc, test_sleeper_killed_is_counted_out);
	tcase_add_test(tc, test_lanes_are_reused_and_run_out_gracefully);
	tcase_add_test(tc, test_producers_killed_at_random_block_nothing);
	return s;
}

int main(void)
{
	return harness_main(ring_deaths_suite());
}
