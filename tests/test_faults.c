/*
 * test_faults.c - the durable store when the disk fails: a full tmpfs, and
 * ENOSPC or EIO injected at each step (ipcd_faulty, whose storage calls
 * read their faults from a control file the test rewrites while it runs).
 * Each fault gives the client a clear error, loses no put answered 0 (the
 * daemon is restarted and every one is there, in order), leaves other
 * queues served, and ends when the fault does, without a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"

#define MAXMSG 20000

static struct harness h;
static char state[sizeof h.dir + 16];     /* the state directory */
static char errlog[sizeof h.dir + 16];    /* the daemon's stderr */
static char ctl[sizeof h.dir + 16];       /* the fault control file */
static char mnt[sizeof h.dir + 16];       /* a tmpfs, when one is mounted */
static bool mounted;
static const ipc_queue_attr durable = { .durable = 1 };

/* What became of put number i: answered 0, or an error after which it may be there. */
static bool acked[MAXMSG], maybe[MAXMSG];

static void setup(void)
{
	harness_setup(&h);
	harness_path(&h, "state", state, sizeof state);
	harness_path(&h, "ipcd.err", errlog, sizeof errlog);
	harness_path(&h, "faults", ctl, sizeof ctl);
	harness_path(&h, "mnt", mnt, sizeof mnt);
	mounted = false;
	memset(acked, 0, sizeof acked);
	memset(maybe, 0, sizeof maybe);
}

static void teardown(void)
{
	if (mounted)
		umount2(mnt, MNT_DETACH);
	harness_cleanup(&h);
}

/* Write the control file: one fault line, or "off". */
static void fault(const char *line)
{
	char tmp[sizeof ctl + 8];
	FILE *f;

	/* Renamed into place: the daemon never reads half a line. */
	snprintf(tmp, sizeof tmp, "%s.new", ctl);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", line);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, ctl), 0);
}

/* Start ipcd_faulty ($IPCD_FAULTY_BIN if set) on dir with fsync policy, stderr to errlog. */
static void start_in(const char *dir, const char *policy)
{
	const char *bin = getenv("IPCD_FAULTY_BIN");
	const char *argv[] = { bin && *bin ? bin : IPCD_FAULTY_BIN, "-s", h.sock, "--state-dir", dir,
			       "--fsync", policy, "--log-level", "info", NULL };
	char env[sizeof ctl + 16];
	const char *const envs[] = { env, NULL };

	snprintf(env, sizeof env, "IPCD_FAULTS=%s", ctl);
	h.pid = spawn_logged(argv, errlog, envs);
	if (harness_wait_socket(h.sock, 20000) < 0) {
		harness_kill(&h);
		ck_abort_msg("ipcd did not start on %s", dir);
	}
}

static void start(const char *policy)
{
	start_in(state, policy);
}

/* Does the daemon's stderr contain s? */
static bool logged(const char *s)
{
	return harness_file_has(errlog, s);
}

static void msg_name(int i, char *s, size_t len)
{
	snprintf(s, len, "p%05d", i);
}

/* Put number i synchronously; record what became of it.  Returns the status. */
static int put_num(ipc_queue *q, int i)
{
	char s[16];
	int rc;

	msg_name(i, s, sizeof s);
	rc = put_str(q, s, 0);
	if (rc == 0)
		acked[i] = true;
	else if (rc == -EIO)
		maybe[i] = true;
	return rc;
}

/* A message of len bytes that names put number i. */
static void big_msg(int i, char *buf, size_t len)
{
	memset(buf, 'x', len);
	snprintf(buf, len, "p%05d", i);
	buf[6] = 'x';
}

/*
 * Restart (faults off) and read queue name back: every put answered 0 is
 * there, in put order, and nothing else but puts that were answered -EIO.
 * Returns how many messages it held.
 */
static int check_after_restart(const char *dir, const char *name, int nputs)
{
	ipc_client *c;
	ipc_queue *q;
	int last = -1, n = 0, next_acked = 0;

	fault("off");
	harness_stop(&h);
	start_in(dir, "always");
	c = connect_ok(h.sock);
	q = open_ok(c, name, 0, NULL);
	for (;;) {
		void *data;
		size_t len;
		int i, rc = ipc_queue_get(q, &data, &len, 0);

		if (rc == -EAGAIN)
			break;
		ck_assert_ipc(rc, 0);
		ck_assert_msg(len >= 6 && sscanf(data, "p%5d", &i) == 1, "a stranger in '%s'", name);
		free(data);
		ck_assert_msg(i > last, "put %d came back after put %d", i, last);
		ck_assert_msg(i < nputs && (acked[i] || maybe[i]),
			      "put %d is back although it was refused", i);
		for (; next_acked < i; next_acked++)
			ck_assert_msg(!acked[next_acked], "put %d was answered 0 and is lost",
				      next_acked);
		next_acked = i + 1;
		last = i;
		n++;
	}
	for (; next_acked < nputs; next_acked++)
		ck_assert_msg(!acked[next_acked], "put %d was answered 0 and is lost", next_acked);
	ipc_queue_close(q);
	ipc_disconnect(c);
	return n;
}

/* Poll until a put of number i to q returns 0 (the fault is over): bounded. */
static void put_until_ok(ipc_queue *q, int i)
{
	int64_t end = harness_now_ms() + 20000;
	int rc;

	while ((rc = put_num(q, i)) != 0 && harness_now_ms() < end)
		harness_sleep_ms(50);
	ck_assert_msg(rc == 0, "put %d still fails with %d after the fault ended", i, rc);
}

/* ------------------------------------------------------------------------ */
/* The probe: a real, small tmpfs */

/*
 * Mount a tmpfs of kib KiB on mnt; false where that is not allowed.  It is
 * mounted in a mount namespace of this test's own, which the daemon it
 * starts shares: the mount goes with them, even if the test fails.
 */
static bool mount_tmpfs(int kib)
{
	char opt[32];

	mkdir(mnt, 0700);
	snprintf(opt, sizeof opt, "size=%dk,mode=0700", kib);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, opt) < 0)
		return false;
	mounted = true;
	return true;
}

/* Fill mnt's free space but keep_kib KiB with a file. */
static void fill_but(int keep_kib)
{
	char path[sizeof mnt + 16], buf[4096] = { 0 };
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "%s/filler", mnt);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	while (write(fd, buf, sizeof buf) == (ssize_t)sizeof buf)
		;
	/* Give back keep_kib. */
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(ftruncate(fd, st.st_size > keep_kib * 1024 ?
				   st.st_size - keep_kib * 1024 : 0), 0);
	close(fd);
}

static void free_space(void)
{
	char path[sizeof mnt + 16];

	snprintf(path, sizeof path, "%s/filler", mnt);
	ck_assert_int_eq(unlink(path), 0);
}

/*
 * Durable puts of 1000 bytes, synchronous then batched asynchronous, until
 * the disk is full: the error is -ENOSPC, every put answered 0 is there
 * after a restart, and once space is back the queue takes puts again
 * without a restart.  With a real tmpfs where it can be mounted (as root),
 * else with ENOSPC injected when the log passes 1 MiB.
 */
START_TEST(test_full_disk_loses_no_acknowledged_put)
{
	char dir[sizeof mnt + 16], buf[1000];
	bool real = mount_tmpfs(2048);
	ipc_client *c;
	ipc_queue *q, *other;
	int i = 0, rc = 0, depth;

	snprintf(dir, sizeof dir, "%s/state", real ? mnt : h.dir);
	fault("off");
	start_in(dir, "always");
	if (real)
		fill_but(1024);
	c = connect_ok(h.sock);
	q = open_ok(c, "dq", IPC_CREATE, &durable);
	other = open_ok(c, "plain", IPC_CREATE, NULL);

	/* Batches of ten asynchronous puts until one meets the full disk. */
	for (; i < 5000 && rc == 0; i++) {
		if (!real && i == 500)
			fault("write ENOSPC q-1.log");
		big_msg(i, buf, sizeof buf);
		rc = ipc_queue_put_async(q, buf, sizeof buf);
		if (rc == 0 && i % 10 == 9)
			rc = ipc_queue_flush(q, 0);
		if (rc == 0 && i % 10 == 9)
			for (int k = i - 9; k <= i; k++)
				acked[k] = true;
	}
	ck_assert_msg(rc == -ENOSPC, "the batch that met the full disk returned %d", rc);
	/* Nothing of the failed batch was kept. */
	depth = (int)stat_key(q, "depth");
	ck_assert_int_eq(depth, (int)ipc_queue_pending(q) > 0 ? i - (int)ipc_queue_pending(q) : -1);
	/* Other queues are served meanwhile. */
	ck_assert_ipc(put_str(other, "still", 0), 0);
	get_expect(other, "still", 0);
	/* Space returns: the batch goes, no restart. */
	if (real)
		free_space();
	else
		fault("off");
	ck_assert_ipc(ipc_queue_flush(q, 5000), 0);
	for (int k = depth; k < i; k++)
		acked[k] = true;

	/* Synchronous puts until the disk is full again. */
	if (real)
		fill_but(64);
	for (rc = 0; i < 10000 && rc == 0; i++) {
		if (!real && i == depth + 600)
			fault("write ENOSPC q-1.log");
		big_msg(i, buf, sizeof buf);
		rc = ipc_queue_put(q, buf, sizeof buf, 0);
		if (rc == 0)
			acked[i] = true;
	}
	ck_assert_msg(rc == -ENOSPC, "the put that met the full disk returned %d", rc);
	ck_assert_int_eq(stat_key(q, "depth"), i - 1);
	if (real)
		free_space();
	else
		fault("off");
	big_msg(i, buf, sizeof buf);
	ck_assert_ipc(ipc_queue_put(q, buf, sizeof buf, 0), 0);
	acked[i++] = true;
	ipc_queue_close(q);
	ipc_queue_close(other);
	ipc_disconnect(c);
	/* Every put answered 0, and only those: the refused one left nothing. */
	ck_assert_int_eq(check_after_restart(dir, "dq", i), i - 1);
	harness_stop(&h);
}
END_TEST

/*
 * A durable queue created on a full disk: -ENOSPC to the client, the daemon
 * alive and serving others, and the create works once space returns.
 */
START_TEST(test_durable_create_on_full_disk)
{
	char dir[sizeof mnt + 16];
	bool real = mount_tmpfs(1024);
	ipc_client *c, *c2;
	ipc_queue *q, *other;

	snprintf(dir, sizeof dir, "%s/state", real ? mnt : h.dir);
	fault(real ? "off" : "write ENOSPC q-1.log");
	start_in(dir, "always");
	if (real)
		fill_but(0);
	c = connect_ok(h.sock);
	c2 = connect_ok(h.sock);
	other = open_ok(c2, "plain", IPC_CREATE, NULL);
	ck_assert_ipc(ipc_queue_open(c, "dq", IPC_CREATE, &durable, &q), -ENOSPC);
	ck_assert_ipc(ipc_queue_open(c, "dq", IPC_CREATE, &durable, &q), -ENOSPC);
	harness_check_daemon(&h);
	ck_assert_ipc(put_str(other, "served", 0), 0);
	get_expect(other, "served", 0);
	if (real)
		free_space();
	else
		fault("off");
	q = open_ok(c, "dq", IPC_CREATE, &durable);
	ck_assert_int_eq(put_num(q, 0), 0);
	ipc_queue_close(q);
	ipc_queue_close(other);
	ipc_disconnect(c);
	ipc_disconnect(c2);
	ck_assert_int_eq(check_after_restart(dir, "dq", 1), 1);
	harness_stop(&h);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Injected faults */

/*
 * A failing write of a put (ENOSPC, then EIO) under each policy: the put is
 * refused with that errno and leaves nothing; other queues, durable ones
 * included, are served; puts work again when the fault ends.
 */
START_TEST(test_put_write_fault)
{
	static const char *const policies[] = { "always", "everysec", "no" };
	static const char *const faults[] = { "write ENOSPC q-1.log", "write EIO q-1.log" };

	for (int p = 0; p < 3; p++) {
		ipc_client *c;
		ipc_queue *q, *other;
		int i = 0;

		if (p) {
			harness_cleanup(&h);
			setup();
		}
		fault("off");
		start(policies[p]);
		c = connect_ok(h.sock);
		q = open_ok(c, "dq", IPC_CREATE, &durable);
		other = open_ok(c, "other", IPC_CREATE, &durable);
		for (int f = 0; f < 2; f++) {
			struct iovec v[3] = { { "a", 1 }, { "b", 1 }, { "c", 1 } };

			for (int k = 0; k < 20; k++, i++)
				ck_assert_int_eq(put_num(q, i), 0);
			fault(faults[f]);
			ck_assert_int_eq(put_num(q, i++), f ? -EIO : -ENOSPC);
			ck_assert_int_eq(ipc_queue_put_many(q, v, 3, 0), f ? -EIO : -ENOSPC);
			ck_assert_int_eq(put_num(q, i++), f ? -EIO : -ENOSPC);
			maybe[i - 1] = maybe[i - 2] = false;
			/* The other durable queue has its own log. */
			ck_assert_ipc(put_str(other, "o", 0), 0);
			get_expect(other, "o", 0);
			fault("off");
			put_until_ok(q, i++);
		}
		ipc_queue_close(q);
		ipc_queue_close(other);
		ipc_disconnect(c);
		ck_assert_int_eq(check_after_restart(state, "dq", i), 41 + 1);
		harness_stop(&h);
	}
}
END_TEST

/*
 * fsync fails under always.  If the log can be rewritten from memory the
 * put is answered 0 (and is there after a restart); if the rewrite fails
 * too, -EIO, and the queue refuses puts with -EIO until a rewrite works,
 * which it does within seconds of the fault ending.
 */
START_TEST(test_fsync_fault_under_always)
{
	ipc_client *c;
	ipc_queue *q, *other;
	int i = 0, rc;

	fault("off");
	start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "dq", IPC_CREATE, &durable);
	other = open_ok(c, "other", IPC_CREATE, &durable);
	for (; i < 10; i++)
		ck_assert_int_eq(put_num(q, i), 0);

	/* Only the log's own fsync fails: the rewrite saves the put. */
	fault("fsync EIO q-1.log$");
	ck_assert_int_eq(put_num(q, i++), 0);
	ck_assert(logged("rewriting it from memory"));

	/* The rewrite's fsync fails too: -EIO, and puts are refused until repaired. */
	fault("fsync EIO q-1.log");
	ck_assert_int_eq(put_num(q, i++), -EIO);
	rc = put_num(q, i++);
	ck_assert_int_eq(rc, -EIO);
	ck_assert_ipc(put_str(other, "o", 0), 0);
	get_expect(other, "o", 0);
	fault("off");
	put_until_ok(q, i++);
	for (int k = 0; k < 5; k++, i++)
		ck_assert_int_eq(put_num(q, i), 0);
	ipc_queue_close(q);
	ipc_queue_close(other);
	ipc_disconnect(c);
	check_after_restart(state, "dq", i);
	harness_stop(&h);
}
END_TEST

/* Fill q with n messages of 4 KiB and get them all: the log is due for a rewrite. */
static void churn(ipc_queue *q, int n)
{
	char buf[4096];

	memset(buf, 'c', sizeof buf);
	for (int k = 0; k < n; k++)
		ck_assert_ipc(ipc_queue_put(q, buf, sizeof buf, 0), 0);
	for (int k = 0; k < n; k++) {
		void *data;
		size_t len;

		ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
		free(data);
	}
}

static off_t log_size(void)
{
	char path[sizeof state + 16];
	struct stat st;

	snprintf(path, sizeof path, "%s/q-1.log", state);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/*
 * The rewrite of a log grown past its live data fails at each of its steps
 * (open, write, fsync, rename of q-1.log.tmp): the old log goes on, whole,
 * puts are answered 0 and kept, no temporary is left; once the fault ends
 * the rewrite happens.
 */
START_TEST(test_rewrite_faults)
{
	static const char *const faults[] = { "open EIO log.tmp", "write ENOSPC log.tmp",
					      "fsync EIO log.tmp", "rename EIO log.tmp" };
	char tmp[sizeof state + 24];
	ipc_client *c;
	ipc_queue *q, *cq;
	int i = 0;

	snprintf(tmp, sizeof tmp, "%s/q-1.log.tmp", state);
	fault("off");
	start("always");
	c = connect_ok(h.sock);
	/* cq's log, q-1.log, is the one rewritten; dq's puts are kept meanwhile. */
	cq = open_ok(c, "cq", IPC_CREATE, &durable);
	q = open_ok(c, "dq", IPC_CREATE, &durable);
	for (int f = 0; f < 4; f++) {
		int64_t end;

		fault(faults[f]);
		churn(cq, 300);
		ck_assert_msg(log_size() > (1 << 20), "%s: the log was rewritten (%lld bytes)",
			      faults[f], (long long)log_size());
		for (int k = 0; k < 3; k++, i++)
			ck_assert_int_eq(put_num(q, i), 0);
		ck_assert_msg(access(tmp, F_OK) < 0, "%s: a temporary was left", faults[f]);
		ck_assert(logged("cannot rewrite its log q-1.log"));
		fault("off");
		/* The next turn that writes to it rewrites it. */
		end = harness_now_ms() + 20000;
		while (log_size() > (1 << 20) && harness_now_ms() < end) {
			ck_assert_ipc(put_str(cq, "again", 0), 0);
			get_expect(cq, "again", 0);
			harness_sleep_ms(20);
		}
		ck_assert_msg(log_size() < (1 << 20), "%s: not rewritten after the fault", faults[f]);
	}
	ipc_queue_close(q);
	ipc_queue_close(cq);
	ipc_disconnect(c);
	ck_assert_int_eq(check_after_restart(state, "dq", i), i);
	c = connect_ok(h.sock);
	cq = open_ok(c, "cq", 0, NULL);
	ck_assert_int_eq(stat_key(cq, "depth"), 0);
	ipc_queue_close(cq);
	ipc_disconnect(c);
	harness_stop(&h);
}
END_TEST

/*
 * A durable array's first save fails: -ENOSPC to the creator, no file left,
 * the daemon serves on; the create works when the fault ends.  A later save
 * that fails is retried every second until it works.
 */
START_TEST(test_array_save_faults)
{
	char path[sizeof state + 16];
	ipc_client *c;
	ipc_array *a;
	int32_t v = 42, got = 0;
	int64_t end;

	snprintf(path, sizeof path, "%s/a-1.arr", state);
	fault("write ENOSPC a-1.arr");
	start("always");
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_array_open(c, "arr", IPC_CREATE | IPC_DURABLE | IPC_NOMAP, 'i', 4, &a),
		      -ENOSPC);
	fault("off");
	ck_assert_ipc(ipc_array_open(c, "arr", IPC_CREATE | IPC_DURABLE | IPC_NOMAP, 'i', 4, &a),
		      0);
	fault("rename EIO a-1.arr");
	ck_assert_ipc(ipc_array_write(a, 2, 1, &v), 0);
	ck_assert(logged("cannot save it to"));
	fault("off");
	/* Saved within a second or two: seen in the file. */
	end = harness_now_ms() + 20000;
	for (;;) {
		int fd = open(path, O_RDONLY);
		struct stat st;

		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= 16 &&
		    pread(fd, &got, sizeof got, st.st_size - 8) == (ssize_t)sizeof got && got == v) {
			close(fd);
			break;
		}
		if (fd >= 0)
			close(fd);
		ck_assert_msg(harness_now_ms() < end, "the array was not saved after the fault");
		harness_sleep_ms(50);
	}
	ipc_array_close(a);
	ipc_disconnect(c);
	harness_kill(&h);
	start("always");
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_array_open(c, "arr", IPC_NOMAP, 'i', 0, &a), 0);
	ck_assert_ipc(ipc_array_read(a, 2, 1, &got), 0);
	ck_assert_int_eq(got, 42);
	ipc_array_close(a);
	ipc_disconnect(c);
	harness_stop(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = harness_tcase(s, "disk", 300, setup, teardown);

	tcase_add_test(tc, test_full_disk_loses_no_acknowledged_put);
	tcase_add_test(tc, test_durable_create_on_full_disk);
	tc = harness_tcase(s, "injected", 300, setup, teardown);
	tcase_add_test(tc, test_put_write_fault);
	tcase_add_test(tc, test_fsync_fault_under_always);
	tcase_add_test(tc, test_rewrite_faults);
	tcase_add_test(tc, test_array_save_faults);
	return harness_main(s);
}
