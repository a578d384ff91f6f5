/*
 * test_durable.c - durable queues across restarts: contents, order and
 * attributes after a clean stop and after SIGKILL under load (fsync
 * always: every put that returned 0 is there, in order), a torn or corrupt
 * log tail written by the test (reported with its offset, the good prefix
 * kept), in-flight messages of an ack queue counted as not acknowledged,
 * the rewrite of a log grown past its live data, and the state directory's
 * lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"
#include "qlog.h"
#include "record.h"

static struct harness h;
static char state[sizeof h.dir + 16];     /* the state directory */
static char errlog[sizeof h.dir + 16];    /* the daemon's stderr */
static const ipc_queue_attr durable = { .durable = 1 };

static void setup(void)
{
	harness_setup(&h);
	harness_path(&h, "state", state, sizeof state);
	harness_path(&h, "ipcd.err", errlog, sizeof errlog);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* Start ipcd on the test's state directory with fsync policy, stderr to errlog. */
static void start(const char *policy)
{
	const char *argv[] = { harness_ipcd_bin(), "-s", h.sock, "--state-dir", state,
			       "--fsync", policy, "--log-level", "info", NULL };
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0)
			dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	h.pid = pid;
	if (harness_wait_socket(h.sock, HARNESS_HANG_MS) < 0) {
		harness_kill(&h);
		ck_abort_msg("ipcd did not start on %s", state);
	}
}

/* Does the daemon's stderr contain s? */
static bool logged(const char *s)
{
	return harness_file_has(errlog, s);
}

/* The path of the one log file in the state directory. */
static void the_log(char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/q-1.log", state);
	ck_assert_msg(access(out, F_OK) == 0, "no log %s", out);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

START_TEST(test_durable_queue_survives_restart)
{
	ipc_queue_attr attr = { .durable = 1, .maxsize = 10, .mode = 0640 };
	ipc_client *c;
	ipc_queue *q;

	start("always");
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

	start("always");
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

	start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "kept", 0, NULL);
	get_expect(q, "after", 0);
	ck_assert_int_eq(ipc_queue_size(q), 0);
	/* A queue removed is gone for good, its log with it. */
	ck_assert_ipc(ipc_queue_unlink(c, "kept"), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
	start("always");
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_queue_open(c, "kept", 0, NULL, &q), -ENOENT);
	ck_assert_int_eq(status_key(c, "objects"), 0);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */

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
	start("always");
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

	start("always");
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
	setup();
	killed_under_load(&acked, true);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* Fill a queue with n messages "t0".."t<n-1>" and stop the daemon cleanly. */
static void fill_and_stop(int n)
{
	ipc_client *c;
	ipc_queue *q;

	start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "torn", IPC_CREATE, &durable);
	for (int i = 0; i < n; i++) {
		char s[16];

		snprintf(s, sizeof s, "t%d", i);
		ck_assert_ipc(put_str(q, s, 0), 0);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
}

/* After a restart the queue holds exactly "t0".."t<n-1>", but "t<skip>". */
static void expect_all_but(int n, int skip)
{
	ipc_client *c;
	ipc_queue *q;

	start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "torn", 0, NULL);
	ck_assert_int_eq(ipc_queue_size(q), skip >= 0 && skip < n ? n - 1 : n);
	for (int i = 0; i < n; i++) {
		char s[16];

		if (i == skip)
			continue;
		snprintf(s, sizeof s, "t%d", i);
		get_expect(q, s, 0);
	}
	/* And it takes new messages at its (cut) end. */
	ck_assert_ipc(put_str(q, "new", 0), 0);
	get_expect(q, "new", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}

/* After a restart the queue holds exactly "t0".."t<n-1>". */
static void expect_prefix(int n)
{
	expect_all_but(n, -1);
}

START_TEST(test_torn_tail_is_cut_and_reported)
{
	char path[sizeof state + 16], want[96];
	off_t size;
	int fd;

	fill_and_stop(10);
	the_log(path, sizeof path);
	size = file_size(path);
	/* A crash in the middle of writing the last record: 5 bytes of it are missing. */
	ck_assert_int_eq(truncate(path, size - 5), 0);
	/* t9's record is 13 + 8 + 2 bytes long: it began at size - 23. */
	snprintf(want, sizeof want, "torn or corrupt record at offset %lld", (long long)(size - 23));
	expect_prefix(9);
	ck_assert_msg(logged(want), "the daemon did not report '%s'", want);
	harness_stop(&h);
	/* The file was cut back to the good prefix, then grew by the nine gets'
	 * records, "new"'s put and its get. */
	ck_assert_int_eq(file_size(path), size - 23 + 9 * (13 + 8) + (13 + 8 + 3) + (13 + 8));

	/* Garbage after the last good record (the queue, empty now, refilled first). */
	fill_and_stop(10);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "\x13\x37garbage that is no record", 28), 28);
	close(fd);
	expect_prefix(10);
	harness_stop(&h);
}
END_TEST

START_TEST(test_corrupt_record_costs_only_itself)
{
	char path[sizeof state + 16], want[96];
	off_t size;
	char b;
	int fd;

	fill_and_stop(10);
	the_log(path, sizeof path);
	size = file_size(path);
	/* Flip a byte of t8's payload: its checksum no longer matches. */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, size - 23 - 1), 1);
	b ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &b, 1, size - 23 - 1), 1);
	close(fd);
	/* t9 after it is found again: only t8 is lost, and where is said. */
	expect_all_but(10, 8);
	snprintf(want, sizeof want, "damaged record at offset %lld", (long long)(size - 2 * 23));
	ck_assert_msg(logged(want), "the daemon did not report '%s'", want);
	harness_stop(&h);
}
END_TEST

/*
 * One length field overwritten in the middle of a 1,000-message log costs
 * that record only: the other 999 come back in order, and the log says
 * where the damage was.
 */
START_TEST(test_corrupt_length_mid_log_costs_one_record)
{
	char path[sizeof state + 16], want[96];
	const unsigned char big[4] = { 0xff, 0xff, 0x00, 0x10 };
	off_t size, at;
	ipc_client *c;
	ipc_queue *q;
	int fd;

	start("no");
	c = connect_ok(h.sock);
	q = open_ok(c, "torn", IPC_CREATE, &durable);
	for (int i = 0; i < 1000; i++) {
		char s[16];

		snprintf(s, sizeof s, "m%04d", i);
		ck_assert_ipc(put_str(q, s, 0), 0);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
	the_log(path, sizeof path);
	size = file_size(path);
	/* Each record: 13 bytes of head, the id, 5 bytes.  m0500's length field is at +8. */
	at = size - (1000 - 500) * (13 + 8 + 5);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, big, sizeof big, at + 8), 4);
	close(fd);

	start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "torn", 0, NULL);
	ck_assert_int_eq(ipc_queue_size(q), 999);
	for (int i = 0; i < 1000; i++) {
		char s[16];

		if (i == 500)
			continue;
		snprintf(s, sizeof s, "m%04d", i);
		get_expect(q, s, 0);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
	snprintf(want, sizeof want, "damaged record at offset %lld", (long long)at);
	ck_assert_msg(logged(want), "the daemon did not report '%s'", want);
	harness_stop(&h);
}
END_TEST

/* Append a version 1 record (crc, len, type, body) to fd. */
static void put_v1_record(int fd, unsigned type, const void *a, size_t alen, const void *b,
			  size_t blen)
{
	unsigned char head[9], body[256];
	uint32_t len = (uint32_t)(alen + blen);

	memcpy(body, a, alen);
	if (blen)
		memcpy(body + alen, b, blen);
	for (int i = 0; i < 4; i++)
		head[4 + i] = (unsigned char)(len >> (8 * i));
	head[8] = (unsigned char)type;
	{
		uint32_t crc = record_crc32c(record_crc32c(0, head + 4, 5), body, len);

		for (int i = 0; i < 4; i++)
			head[i] = (unsigned char)(crc >> (8 * i));
	}
	ck_assert_int_eq(write(fd, head, 9), 9);
	ck_assert_int_eq(write(fd, body, len), (ssize_t)len);
}

/* A log of the first format is read, and rewritten in the current one. */
START_TEST(test_version1_log_is_read_and_rewritten)
{
	char path[sizeof state + 16];
	unsigned char hdr[16] = "IPCDQLOG\1", id[8] = { 0 };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	ipc_client *c;
	ipc_queue *q;
	int fd;

	ck_assert_int_eq(mkdir(state, 0700), 0);
	snprintf(path, sizeof path, "%s/q-1.log", state);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, hdr, sizeof hdr), 16);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "name", 4);
	msgpack_pack_str_with_body(&pk, "old", 3);
	msgpack_pack_str_with_body(&pk, "mode", 4);
	msgpack_pack_uint32(&pk, 0600);
	put_v1_record(fd, 1, sb.data, sb.size, NULL, 0);
	msgpack_sbuffer_destroy(&sb);
	for (int i = 1; i <= 3; i++) {
		char m[4];

		id[0] = (unsigned char)i;
		snprintf(m, sizeof m, "v%d", i);
		put_v1_record(fd, 2, id, 8, m, 2);
	}
	id[0] = 1;
	put_v1_record(fd, 4, id, 8, NULL, 0);       /* v1 was finished */
	close(fd);

	start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "old", 0, NULL);
	ck_assert_int_eq(ipc_queue_size(q), 2);
	get_expect(q, "v2", 0);
	ck_assert_ipc(put_str(q, "v4", 0), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
	/* Rewritten in format 2. */
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, hdr, sizeof hdr), 16);
	close(fd);
	ck_assert_int_eq(hdr[8], 2);
	start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "old", 0, NULL);
	get_expect(q, "v3", 0);
	get_expect(q, "v4", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
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

	start("always");
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
	start("always");
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

START_TEST(test_log_is_rewritten_when_mostly_finished)
{
	static char msg[1024];
	char path[sizeof state + 16];
	ipc_client *c;
	ipc_queue *q;
	off_t before;

	start("no");
	c = connect_ok(h.sock);
	q = open_ok(c, "big", IPC_CREATE, &durable);
	the_log(path, sizeof path);
	/* 3 MiB put, then all but the last two got: the log grows far past its live data. */
	for (int i = 0; i < 3072; i += 128) {
		static char batch[128][1024];
		struct iovec v[128];

		for (int j = 0; j < 128; j++) {
			snprintf(batch[j], sizeof batch[j], "%d", i + j);
			v[j] = (struct iovec){ batch[j], sizeof batch[j] };
		}
		ck_assert_ipc(ipc_queue_put_many(q, v, 128, 0), 128);
	}
	before = file_size(path);
	ck_assert_int_gt(before, 3 << 20);
	for (int left = 3070; left > 0;) {
		struct iovec v[128];
		int n = ipc_queue_get_many(q, v, left < 128 ? (size_t)left : 128, 0);

		ck_assert_int_gt(n, 0);
		for (int j = 0; j < n; j++)
			free(v[j].iov_base);
		left -= n;
	}
	ck_assert_int_eq(status_key(c, "objects"), 1);
	/* Rewritten while it was past 1 MiB and twice its live data; below that it may grow. */
	ck_assert_msg(file_size(path) < 1 << 20, "log still %lld bytes",
		      (long long)file_size(path));
	ck_assert(logged("rewritten"));
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_kill(&h);

	/* A rewrite that a crash interrupted leaves a temporary file: ignored, removed. */
	{
		char tmp[sizeof path + 8];
		int fd;

		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		fd = open(tmp, O_WRONLY | O_CREAT, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, "IPCDQLOG", 8), 8);
		close(fd);
		start("no");
		/* Answered once the logs are read back (the socket accepts before). */
		c = connect_ok(h.sock);
		ck_assert_int_eq(status_key(c, "objects"), 1);
		ck_assert_int_ne(access(tmp, F_OK), 0);
	}
	q = open_ok(c, "big", 0, NULL);
	ck_assert_int_eq(ipc_queue_size(q), 2);
	snprintf(msg, sizeof msg, "%d", 3070);
	{
		void *data;
		size_t len;

		ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
		ck_assert_msg(len == sizeof msg && strcmp(data, "3070") == 0, "order after rewrite");
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
		start(policies[i]);
		c = connect_ok(h.sock);
		q = open_ok(c, name, IPC_CREATE, &durable);
		/* The record is written before the put is answered: killed at once, it stays. */
		ck_assert_ipc(put_str(q, "written", 0), 0);
		harness_kill(&h);
		ipc_queue_close(q);
		ipc_disconnect(c);
		start(policies[i]);
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

	start("always");
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

	start("everysec");
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
/* The state directory and the socket's lock: never through others' hands */

/* Run ipcd on sock with args, stderr to errlog; its wait status (it must exit). */
static int run_refused(const char *sock, const char *const *args)
{
	const char *argv[16] = { harness_ipcd_bin(), "-s", sock };
	size_t n = 3;
	pid_t pid;

	for (; args && *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0)
			dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return harness_wait_child(pid, 20000);
}

/*
 * A symbolic link planted as the temporary of a log rewrite is not
 * followed: the file it points to stays as it was.
 */
START_TEST(test_planted_tmp_link_is_not_followed)
{
	static char msg[1024];
	char victim[sizeof h.dir + 16], tmp[sizeof state + 24], path[sizeof state + 16], buf[16];
	ipc_client *c;
	ipc_queue *q;
	int fd;

	harness_path(&h, "victim", victim, sizeof victim);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(write(fd, "precious", 8), 8);
	close(fd);
	start("no");
	c = connect_ok(h.sock);
	q = open_ok(c, "big", IPC_CREATE, &durable);
	snprintf(tmp, sizeof tmp, "%s/q-1.log.tmp", state);
	snprintf(path, sizeof path, "%s/q-1.log", state);
	ck_assert_int_eq(symlink(victim, tmp), 0);
	/* 1.2 MiB put and got: the log is rewritten (through q-1.log.tmp). */
	memset(msg, 'x', sizeof msg);
	for (int i = 0; i < 1200; i++)
		ck_assert_ipc(ipc_queue_put(q, msg, sizeof msg, 0), 0);
	for (int i = 0; i < 1200; i++) {
		void *data;
		size_t len;

		ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
		free(data);
	}
	ck_assert_ipc(put_str(q, "after", 0), 0);
	ck_assert_msg(file_size(path) < (1 << 20), "the log was not rewritten");
	fd = open(victim, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof buf), 8);
	close(fd);
	ck_assert_msg(memcmp(buf, "precious", 8) == 0, "the link's target was overwritten");
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
	/* And the queue is whole. */
	start("no");
	c = connect_ok(h.sock);
	q = open_ok(c, "big", 0, NULL);
	get_expect(q, "after", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
}
END_TEST

/*
 * The socket's lock file is never opened through a symbolic link (nothing
 * is created where it points), and a socket directory others can write to
 * without the sticky bit is refused.
 */
START_TEST(test_socket_lock_link_and_open_dir_are_refused)
{
	char lock[sizeof h.sock + 8], target[sizeof h.dir + 16], open_dir[sizeof h.dir + 16];
	char sock2[sizeof open_dir + 16];
	int status;

	snprintf(lock, sizeof lock, "%s.lock", h.sock);
	harness_path(&h, "nologin", target, sizeof target);
	ck_assert_int_eq(symlink(target, lock), 0);
	status = run_refused(h.sock, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		      "ipcd started on a linked lock file: status 0x%x", status);
	ck_assert_msg(access(target, F_OK) < 0, "the lock file's link was followed");
	ck_assert(logged("it is a symbolic link"));

	harness_path(&h, "open", open_dir, sizeof open_dir);
	ck_assert_int_eq(mkdir(open_dir, 0700), 0);
	ck_assert_int_eq(chmod(open_dir, 0777), 0);
	snprintf(sock2, sizeof sock2, "%s/s.sock", open_dir);
	status = run_refused(sock2, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		      "ipcd started in a world-writable directory: status 0x%x", status);
	ck_assert(logged("refusing the socket's directory"));
}
END_TEST

/*
 * A state directory others can write to, or that another user owns, is
 * refused at start with a message naming it and why.
 */
START_TEST(test_unsafe_state_dir_is_refused)
{
	const char *args[] = { "--state-dir", state, NULL };
	char want[sizeof state + 64];
	int status;

	ck_assert_int_eq(mkdir(state, 0700), 0);
	ck_assert_int_eq(chmod(state, 0777), 0);
	status = run_refused(h.sock, args);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		      "ipcd took a world-writable state directory: status 0x%x", status);
	snprintf(want, sizeof want, "refusing the state directory %s: others can write", state);
	ck_assert_msg(logged(want), "no '%s'", want);
	ck_assert_int_eq(chmod(state, 0700), 0);
	if (running_as_root()) {
		ck_assert_int_eq(chown(state, 54321, 54321), 0);
		status = run_refused(h.sock, args);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
			      "ipcd took another user's state directory: status 0x%x", status);
		ck_assert(logged("owned by another user"));
		ck_assert_int_eq(chown(state, 0, 0), 0);
	}
	/* Its own, private: taken. */
	start("always");
	harness_stop(&h);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Durable arrays */

/* Open the durable array "da" ('q' x 8), creating it; its mapping. */
static int64_t *open_array(ipc_client *c, ipc_array **a, int flags)
{
	ck_assert_ipc(ipc_array_open(c, "da", flags, 'q', 8, a), 0);
	ck_assert_ptr_nonnull(ipc_array_data(*a));
	return ipc_array_data(*a);
}

/*
 * Wait until the save file path of "da" holds value at index i: the file
 * ends with the array's 8 elements, and is replaced whole by a rename.
 */
static void wait_saved_element(const char *path, int i, int64_t value)
{
	int64_t end = harness_now_ms() + HARNESS_HANG_MS, got = 0;

	for (;;) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		ssize_t n = -1;

		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= 64)
			n = pread(fd, &got, sizeof got, st.st_size - 64 + i * (off_t)sizeof got);
		if (fd >= 0)
			close(fd);
		if (n == (ssize_t)sizeof got && got == value)
			return;
		ck_assert_msg(harness_now_ms() < end, "%s holds %lld at index %d, not %lld",
			      path, (long long)got, i, (long long)value);
		harness_sleep_ms(20);
	}
}

START_TEST(test_durable_array_keeps_its_contents)
{
	ipc_client *c;
	ipc_array *a, *plain;
	int64_t *v, old, w = 5;
	char path[sizeof state + 16];

	start("always");
	c = connect_ok(h.sock);
	v = open_array(c, &a, IPC_CREATE | IPC_DURABLE);
	ck_assert_ipc(ipc_array_open(c, "gone", IPC_CREATE, 'b', 1, &plain), 0);
	for (int i = 0; i < 8; i++)
		v[i] = (int64_t)i * i;
	ck_assert_ipc(ipc_chmod(c, "da", 0640), 0);
	ipc_array_close(plain);
	ipc_array_close(a);
	ipc_disconnect(c);
	/* A clean stop saves it as it is, mapped writes included. */
	harness_stop(&h);
	snprintf(path, sizeof path, "%s/a-1.arr", state);
	ck_assert_int_eq(access(path, F_OK), 0);

	start("always");
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_array_open(c, "gone", 0, 0, 0, &plain), -ENOENT);
	v = open_array(c, &a, 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(v[i], (int64_t)i * i);
	{
		void *mp;
		size_t len;

		ck_assert_ipc(ipc_array_stat(a, &mp, &len), 0);
		ck_assert_msg(memmem(mp, len, "\xa4mode\xcd\x01\xa0", 8) != NULL, "mode 0640 kept");
		free(mp);
	}
	/* Brokered changes are saved at the end of their turn (always): a crash keeps them. */
	ck_assert_ipc(ipc_array_add_i64(a, 1, 100, &old), 0);
	ck_assert_int_eq(old, 1);
	ck_assert_ipc(ipc_array_write(a, 7, 1, &w), 0);
	ck_assert_int_eq(status_key(c, "pid"), h.pid);
	harness_kill(&h);
	ipc_array_close(a);
	ipc_disconnect(c);

	start("always");
	c = connect_ok(h.sock);
	v = open_array(c, &a, 0);
	ck_assert_int_eq(v[1], 101);
	ck_assert_int_eq(v[7], 5);
	/* Mapped writes are saved within a second while someone maps it writable. */
	v[3] = -3;
	wait_saved_element(path, 3, -3);
	harness_kill(&h);
	ipc_array_close(a);
	ipc_disconnect(c);

	start("always");
	c = connect_ok(h.sock);
	v = open_array(c, &a, 0);
	ck_assert_int_eq(v[3], -3);
	/* Removed, it is gone for good. */
	ck_assert_ipc(ipc_array_unlink(c, "da"), 0);
	ck_assert_int_ne(access(path, F_OK), 0);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_corrupt_array_file_is_set_aside)
{
	char path[sizeof state + 16], bad[sizeof state + 16];
	ipc_client *c;
	ipc_array *a;
	int64_t *v;
	char b;
	int fd;

	start("always");
	c = connect_ok(h.sock);
	v = open_array(c, &a, IPC_CREATE | IPC_DURABLE);
	v[0] = 1;
	ipc_array_close(a);
	ipc_disconnect(c);
	harness_stop(&h);
	snprintf(path, sizeof path, "%s/a-1.arr", state);
	snprintf(bad, sizeof bad, "%s/a-1.arr.bad", state);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, file_size(path) - 1), 1);
	b ^= 1;
	ck_assert_int_eq(pwrite(fd, &b, 1, file_size(path) - 1), 1);
	close(fd);
	start("always");
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_array_open(c, "da", 0, 0, 0, &a), -ENOENT);
	ck_assert_int_eq(access(bad, F_OK), 0);
	ck_assert(logged("its checksum does not match"));
	ipc_disconnect(c);
}
END_TEST

/* The log's checksum is CRC-32C (Castagnoli): its check value, and chaining. */
START_TEST(test_crc32c_known_answer)
{
	ck_assert_uint_eq(record_crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(record_crc32c(record_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
	ck_assert_uint_eq(record_crc32c(0, "", 0), 0);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *durable_suite(void)
{
	Suite *s = suite_create("durable");
	TCase *tc;

	tc = harness_tcase(s, "restart", 30, setup, teardown);
	tcase_add_test(tc, test_durable_queue_survives_restart);
	tcase_add_test(tc, test_ack_queue_inflight_returns_after_restart);
	tcase_add_test(tc, test_everysec_and_no_survive_daemon_crash);
	tcase_add_test(tc, test_state_dir_used_by_one_ipcd);
	tcase_add_test(tc, test_status_shows_state_dir_and_policy);
	tc = harness_tcase(s, "arrays", 30, setup, teardown);
	tcase_add_test(tc, test_durable_array_keeps_its_contents);
	tcase_add_test(tc, test_corrupt_array_file_is_set_aside);
	tc = harness_tcase(s, "crash", 60, setup, teardown);
	tcase_add_test(tc, test_sigkill_under_load_loses_no_acknowledged_put);
	tcase_add_test(tc, test_sigkill_under_load_with_consumer);
	tc = harness_tcase(s, "statedir", 120, setup, teardown);
	tcase_add_test(tc, test_planted_tmp_link_is_not_followed);
	tcase_add_test(tc, test_socket_lock_link_and_open_dir_are_refused);
	tcase_add_test(tc, test_unsafe_state_dir_is_refused);
	tc = harness_tcase(s, "torn", 30, setup, teardown);
	tcase_add_test(tc, test_crc32c_known_answer);
	tcase_add_test(tc, test_torn_tail_is_cut_and_reported);
	tcase_add_test(tc, test_corrupt_record_costs_only_itself);
	tcase_add_test(tc, test_version1_log_is_read_and_rewritten);
	tcase_add_test(tc, test_corrupt_length_mid_log_costs_one_record);
	tcase_add_test(tc, test_log_is_rewritten_when_mostly_finished);
	return s;
}

int main(void)
{
	return harness_main(durable_suite());
}
