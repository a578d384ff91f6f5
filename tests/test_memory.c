/*
 * test_memory.c - the daemon gives memory back: after a deep queue is
 * drained its resident memory returns near where it was before, so RSS
 * follows the queues down.  The real ipcd in a temporary directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "clients.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MSG_LEN 1024            /* bytes per message */
#define BATCH 1000              /* messages per put_many / get_many */
#define RSS_SLACK_KIB 8192      /* what the daemon may keep after the drain */
#define RSS_WAIT_MS HARNESS_HANG_MS  /* how long it may take to give the rest back */

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

/*
 * Messages to queue: 5 times the load test's count per producer (250,000 in
 * a plain build, 256 MB of payload); a sanitized build, with a smaller
 * count, checks the accounting and the clean exit but not RSS (ASan keeps
 * freed memory in its quarantine).
 */
static long message_count(void)
{
	const char *s = getenv("IPCD_TEST_MESSAGES");
	long n = s ? atol(s) : 50000;

	return (n > 0 ? n : 50000) * 5;
}

static void put_all(ipc_queue *q, long n)
{
	static char bufs[BATCH][MSG_LEN];
	struct iovec v[BATCH];
	long done = 0;

	for (int i = 0; i < BATCH; i++) {
		memset(bufs[i], 'a' + i % 26, MSG_LEN);
		v[i].iov_base = bufs[i];
		v[i].iov_len = MSG_LEN;
	}
	while (done < n) {
		size_t k = n - done < BATCH ? (size_t)(n - done) : BATCH;

		ck_assert_ipc(ipc_queue_put_many(q, v, k, HARNESS_HANG_MS), (long)k);
		done += (long)k;
	}
}

static void get_all(ipc_queue *q, long n)
{
	struct iovec v[BATCH];
	long done = 0;

	while (done < n) {
		int k = ipc_queue_get_many(q, v, BATCH, HARNESS_HANG_MS);

		ck_assert_msg(k > 0, "get_many after %ld of %ld: %s", done, n, ipc_strerror(k));
		for (int i = 0; i < k; i++) {
			ck_assert_int_eq(v[i].iov_len, MSG_LEN);
			free(v[i].iov_base);
		}
		done += k;
	}
}

START_TEST(test_drained_queue_gives_memory_back)
{
	ipc_client *c = connect_ok(h.sock);
	ipc_queue *q = open_ok(c, "deep", IPC_CREATE, NULL);
	long n = message_count(), base, peak, rss = -1;
	int64_t deadline;
	int status;

	/* The baseline once a message has been through. */
	ck_assert_ipc(put_str(q, "warm", 0), 0);
	get_expect(q, "warm", 0);
	base = rss_kib(h.pid);
	ck_assert_int_gt(base, 0);

	put_all(q, n);
	ck_assert_int_eq(ipc_queue_size(q), n);
	peak = rss_kib(h.pid);
	if (!UNDER_ASAN)
		ck_assert_msg(peak - base >= n * MSG_LEN / 1024,
			      "%ld messages of %d bytes queued, VmRSS grew %ld KiB only",
			      n, MSG_LEN, peak - base);
	get_all(q, n);
	ck_assert_int_eq(ipc_queue_size(q), 0);
	ck_assert_int_eq(status_key(c, "memory"), 0);

	if (!UNDER_ASAN) {
		deadline = harness_now_ms() + RSS_WAIT_MS;
		do {
			rss = rss_kib(h.pid);
			if (rss >= 0 && rss <= base + RSS_SLACK_KIB)
				break;
			harness_sleep_ms(50);
		} while (harness_now_ms() < deadline);
		ck_assert_msg(rss >= 0 && rss <= base + RSS_SLACK_KIB,
			      "drained: ipcd's VmRSS is %ld KiB, %ld KiB before %ld messages, "
			      "%ld KiB with them", rss, base, n, peak);
		printf("VmRSS: %ld KiB before, %ld KiB with %ld messages of %d bytes, "
		       "%ld KiB drained\n", base, peak, n, MSG_LEN, rss);
	}

	/* The queue still works, and the daemon exits cleanly (under ASan: without leaks). */
	ck_assert_ipc(put_str(q, "after", 0), 0);
	get_expect(q, "after", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	status = harness_stop(&h);
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "ipcd did not exit cleanly (status 0x%x)", status);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memory");
	/* At load 30 on 2 CPUs: 55 s; 1,000,000 messages of 256 bytes took 283 s. */
	TCase *tc = harness_tcase(s, "memory", 300, setup, teardown);

	tcase_add_test(tc, test_drained_queue_gives_memory_back);
	return harness_main(s);
}
