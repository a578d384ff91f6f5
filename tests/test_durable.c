/*
 * test_durable.c - durable queues across restarts: contents, order and
 * attributes after a clean stop and after SIGKILL under load (fsync
 * always: every put that returned 0 is there, in order), in-flight messages
 * of an ack queue counted as not acknowledged, every fsync policy across a
 * crash, and one ipcd per state directory.  The test's world (state
 * directory, daemon's stderr) is durable_env.h's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "durable_env.h"

START_TEST(test_durable_queue_survives_restart)
{
	ipc_queue_attr attr = { .durable = 1, .maxsize = 10, .mode = 0640 };
	ipc_client *c;
	ipc_queue *q;

	durable_start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "kept", IPC_CREATE, &attr);
	ck_assert_int_eq(stat_key(q, "durable"), 1);
	for (int i = 0; i < 5; i++) {
		char s[8];

		snprintf(s, sizeof s, "m%d", i);
		ck_assert_ipc(put_str(q, s, 0), 0);
	}
	get_expect(q, "m0", 0);
	ipc_queue_close(q);
	ck_assert_ipc(ipc_chmod(c, "kept", 0604), 0);
	ipc_disconnect(c);
	harness_stop(&h);

	durable_start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "kept", 0, NULL);
	ck_assert_int_eq(stat_key(q, "depth"), 4);
	ck_assert_int_eq(stat_key(q, "maxsize"), 10);
	ck_assert_int_eq(stat_key(q, "mode"), 0604);
	ck_assert_int_eq(stat_key(q, "durable"), 1);
	for (int i = 1; i < 5; i++) {
		char s[8];

		snprintf(s, sizeof s, "m%d", i);
		get_expect(q, s, 0);
	}
	ck_assert_ipc(put_str(q, "after", 0), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_kill(&h);

	durable_start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "kept", 0, NULL);
	get_expect(q, "after", 0);
	ck_assert_int_eq(ipc_queue_size(q), 0);
	/* A queue removed is gone for good, its log with it. */
	ck_assert_ipc(ipc_queue_unlink(c, "kept"), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
	durable_start("always");
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_queue_open(c, "kept", 0, NULL, &q), -ENOENT);
	ck_assert_int_eq(status_key(c, "objects"), 0);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_ack_queue_inflight_returns_after_restart)
{
	const ipc_queue_attr attr = { .durable = 1, .ack = 1 };
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;
	unsigned flags;

	durable_start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "acks", IPC_CREATE, &attr);
	for (int i = 0; i < 4; i++) {
		char s[4];

		snprintf(s, sizeof s, "a%d", i);
		ck_assert_ipc(put_str(q, s, 0), 0);
	}
	get_expect(q, "a0", 0);
	ck_assert_ipc(ipc_queue_task_done(q), 0);
	get_expect(q, "a1", 0);
	get_expect(q, "a2", 0);
	ck_assert_ipc(status_key(c, "pid"), h.pid);
	harness_kill(&h);
	ipc_queue_close(q);
	ipc_disconnect(c);

	/* a1 and a2 were in flight: not acknowledged, so back, marked, in put order. */
	durable_start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "acks", 0, NULL);
	ck_assert_int_eq(stat_key(q, "ack"), 1);
	ck_assert_int_eq(ipc_queue_size(q), 3);
	for (int i = 1; i < 4; i++) {
		ck_assert_ipc(ipc_queue_get_info(q, &data, &len, 0, &flags), 0);
		ck_assert_msg(len == 2 && ((char *)data)[1] == '0' + i, "message %d", i);
		ck_assert_uint_eq(flags, i < 3 ? IPC_MSG_REDELIVERED : 0);
		free(data);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* everysec and no write a put's record before its answer: ipcd's death loses no put answered. */
START_TEST(test_everysec_and_no_survive_daemon_crash)
{
	static const char *const policies[] = { "everysec", "no" };

	for (int i = 0; i < 2; i++) {
		ipc_client *c;
		ipc_queue *q;
		char name[16];

		snprintf(name, sizeof name, "p-%s", policies[i]);
		durable_start(policies[i]);
		c = connect_ok(h.sock);
		q = open_ok(c, name, IPC_CREATE, &durable);
		/* The record is written before the put is answered: killed at once, it stays. */
		ck_assert_ipc(put_str(q, "written", 0), 0);
		harness_kill(&h);
		ipc_queue_close(q);
		ipc_disconnect(c);
		durable_start(policies[i]);
		c = connect_ok(h.sock);
		q = open_ok(c, name, 0, NULL);
		get_expect(q, "written", 0);
		ipc_queue_close(q);
		ipc_disconnect(c);
		harness_stop(&h);
	}
}
END_TEST

START_TEST(test_state_dir_used_by_one_ipcd)
{
	char sock2[sizeof h.dir + 16];
	const char *args[] = { "--state-dir", state, NULL };
	int status;
	pid_t pid;

	durable_start("always");
	harness_path(&h, "other.sock", sock2, sizeof sock2);
	pid = harness_spawn(sock2, args);
	status = harness_wait_child(pid, HARNESS_HANG_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "a second ipcd on the same state directory: status 0x%x", status);
}
END_TEST

START_TEST(test_status_shows_state_dir_and_policy)
{
	ipc_client *c;
	void *mp;
	size_t len;

	durable_start("everysec");
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_server_status(c, &mp, &len), 0);
	ck_assert_msg(memmem(mp, len, state, strlen(state)) != NULL, "status lacks the state dir");
	ck_assert_msg(memmem(mp, len, "everysec", 8) != NULL, "status lacks the fsync policy");
	free(mp);
	/* The directory is private. */
	{
		struct stat st;

		ck_assert_int_eq(stat(state, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0700);
	}
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Killed under load */

#define LOAD_PRODUCERS 3

/* What the producers report: the last sequence number whose put returned 0. */
struct acks {
	long last[LOAD_PRODUCERS];
};

static void load_producer(struct acks *a, int p)
{
	ipc_client *c;
	ipc_queue *q;

	if (ipc_connect(h.sock, &c) < 0 || ipc_queue_open(c, "load", 0, NULL, &q) < 0)
		child_fail("producer %d: connect or open", p);
	for (uint32_t seq = 0;; seq++) {
		uint32_t m[2] = { (uint32_t)p, seq };

		if (ipc_queue_put(q, m, sizeof m, HARNESS_HANG_MS) < 0)
			_exit(0);   /* the daemon died under us: expected */
		__atomic_store_n(&a->last[p], (long)seq, __ATOMIC_SEQ_CST);
	}
}

/* What a consumer in the test took before the crash, in get order. */
struct taken {
	uint32_t p[200], seq[200];
	int n;                       /* gets */
	int done;                    /* the first done of them are finished for good */
};

/*
 * Read back what the restarted daemon has, per producer: the messages the
 * consumer got and did not finish (in order, marked redelivered on an ack
 * queue), then every later sequence number in order, at least up to the last
 * put that returned 0.  Nothing finished comes back; nothing acknowledged is
 * missing.
 */
static void expect_everything_acknowledged(ipc_queue *q, const struct acks *a,
					   const struct taken *t, bool ack_queue)
{
	long next[LOAD_PRODUCERS], maxgot[LOAD_PRODUCERS];
	int pending[LOAD_PRODUCERS][200], npending[LOAD_PRODUCERS] = { 0 }, ipending[LOAD_PRODUCERS] = { 0 };
	long n = ipc_queue_size(q);

	for (int p = 0; p < LOAD_PRODUCERS; p++)
		maxgot[p] = -1;
	for (int i = 0; i < t->n; i++) {
		if (t->seq[i] > maxgot[t->p[i]])
			maxgot[t->p[i]] = t->seq[i];
		if (i >= t->done)
			pending[t->p[i]][npending[t->p[i]]++] = (int)t->seq[i];
	}
	for (int p = 0; p < LOAD_PRODUCERS; p++)
		next[p] = maxgot[p] + 1;
	ck_assert_int_ge(n, 0);
	for (long i = 0; i < n; i++) {
		uint32_t m[2];
		void *data;
		size_t len;
		unsigned flags;

		ck_assert_ipc(ipc_queue_get_info(q, &data, &len, 0, &flags), 0);
		ck_assert_uint_eq(len, sizeof m);
		memcpy(m, data, sizeof m);
		free(data);
		ck_assert_uint_lt(m[0], LOAD_PRODUCERS);
		if (ipending[m[0]] < npending[m[0]]) {
			/* First the ones got and not finished. */
			ck_assert_msg((int)m[1] == pending[m[0]][ipending[m[0]]], "producer %u: message "
				      "%u, want the unfinished %d", m[0], m[1], pending[m[0]][ipending[m[0]]]);
			ck_assert_uint_eq(flags, IPC_MSG_REDELIVERED);
			ipending[m[0]]++;
		} else {
			ck_assert_msg(m[1] == next[m[0]], "producer %u: message %u where %ld was due: "
				      "out of order, lost or finished before", m[0], m[1], next[m[0]]);
			next[m[0]]++;
		}
		if (ack_queue)
			ck_assert_ipc(ipc_queue_task_done(q), 0);
	}
	for (int p = 0; p < LOAD_PRODUCERS; p++) {
		ck_assert_msg(ipending[p] == npending[p], "producer %d: %d of %d unfinished messages "
			      "came back", p, ipending[p], npending[p]);
		ck_assert_msg(next[p] > a->last[p], "producer %d: put %ld returned 0 but only %ld "
			      "messages survived", p, a->last[p], next[p]);
	}
}

/*
 * Producers put as fast as they can while the test takes 200 messages (and
 * on an ack queue acknowledges half of them), then ipcd is SIGKILLed and
 * restarted.
 */
static void killed_under_load(const ipc_queue_attr *attr, bool consume)
{
	struct acks *a = mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
	struct taken t = { .n = 0 };
	pid_t pids[LOAD_PRODUCERS];
	ipc_client *c;
	ipc_queue *q;

	ck_assert_ptr_ne(a, MAP_FAILED);
	for (int p = 0; p < LOAD_PRODUCERS; p++)
		a->last[p] = -1;
	durable_start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "load", IPC_CREATE, attr);
	for (int p = 0; p < LOAD_PRODUCERS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0)
			load_producer(a, p);
	}
	for (int i = 0; consume && i < 200; i++) {
		uint32_t m[2];
		void *data;
		size_t len;

		ck_assert_ipc(ipc_queue_get(q, &data, &len, HARNESS_HANG_MS), 0);
		memcpy(m, data, sizeof m);
		free(data);
		t.p[t.n] = m[0];
		t.seq[t.n++] = m[1];
		/* task_done finishes the oldest got: after 200 gets, the first 100. */
		if (!attr->ack)
			t.done = t.n;
		else if (i % 2 && ipc_queue_task_done(q) == 0)
			t.done++;
	}
	/*
	 * Gets and task_dones are written at the end of the loop turn that did
	 * them, after their answer: one more round trip makes sure that turn is
	 * over, so they are in the log (a crash in between would bring those
	 * messages back: delivery is at least once).
	 */
	ck_assert_int_eq(status_key(c, "pid"), h.pid);
	/* Under load long enough for every producer to have 100 puts answered. */
	for (int64_t end = harness_now_ms() + HARNESS_HANG_MS; harness_now_ms() < end;) {
		int p = 0;

		while (p < LOAD_PRODUCERS && __atomic_load_n(&a->last[p], __ATOMIC_SEQ_CST) > 100)
			p++;
		if (p == LOAD_PRODUCERS)
			break;
		harness_sleep_ms(20);
	}
	harness_kill(&h);
	for (int p = 0; p < LOAD_PRODUCERS; p++)
		harness_expect_child_ok(pids[p], HARNESS_HANG_MS, "producer");
	ipc_queue_close(q);
	ipc_disconnect(c);
	for (int p = 0; p < LOAD_PRODUCERS; p++)
		ck_assert_msg(a->last[p] > 100, "producer %d put only %ld messages", p, a->last[p] + 1);

	durable_start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "load", 0, NULL);
	expect_everything_acknowledged(q, a, &t, attr->ack);
	fprintf(stderr, "%s: acknowledged puts %ld/%ld/%ld, all recovered in order\n",
		attr->ack ? "ack queue" : consume ? "queue with a consumer" : "queue",
		a->last[0] + 1, a->last[1] + 1, a->last[2] + 1);
	ipc_queue_close(q);
	ipc_disconnect(c);
	munmap(a, sizeof *a);
}

/* Producers only: every put that returned 0 is there, in order. */
START_TEST(test_sigkill_under_load_loses_no_acknowledged_put)
{
	killed_under_load(&durable, false);
}
END_TEST

/* The same with gets and acknowledgements mixed in: the log has every kind of record. */
START_TEST(test_sigkill_under_load_with_consumer)
{
	const ipc_queue_attr acked = { .durable = 1, .ack = 1 };

	killed_under_load(&durable, true);
	harness_cleanup(&h);
	durable_setup();
	killed_under_load(&acked, true);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *durable_suite(void)
{
	Suite *s = suite_create("durable");
	TCase *tc;

	tc = harness_tcase(s, "restart", 30, durable_setup, durable_teardown);
	tcase_add_test(tc, test_durable_queue_survives_restart);
	tcase_add_test(tc, test_ack_queue_inflight_returns_after_restart);
	tcase_add_test(tc, test_everysec_and_no_survive_daemon_crash);
	tcase_add_test(tc, test_state_dir_used_by_one_ipcd);
	tcase_add_test(tc, test_status_shows_state_dir_and_policy);
	tc = harness_tcase(s, "crash", 60, durable_setup, durable_teardown);
	tcase_add_test(tc, test_sigkill_under_load_loses_no_acknowledged_put);
	tcase_add_test(tc, test_sigkill_under_load_with_consumer);
	return s;
}

int main(void)
{
	return harness_main(durable_suite());
}
