/*
 * test_queue_limits.c - the limits and errors of the queue contract: the
 * largest message, the memory budget and a queue's byte bound, a large
 * message after the store was emptied, open's errors, an unlinked queue,
 * and the most clients the daemon takes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients.h"
#include "codec.h"

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* ------------------------------------------------------------------------ */
/* Limits and errors of the contract */

START_TEST(test_put_over_max_message_is_emsgsize)
{
	static const char *const args[] = { "--max-message", "4096", NULL };
	size_t big_len = 1 << 20;
	char *big = malloc(big_len);
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', big_len);
	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "sized", IPC_CREATE, NULL);

	ck_assert_ipc(ipc_queue_put(q, big, 4097, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put(q, big, big_len, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_size(q), 0);
	/* The connection still works, and the limit itself is allowed. */
	big[0] = 'a';
	big[4095] = 'z';
	ck_assert_ipc(ipc_queue_put(q, big, 4096, 0), 0);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
	ck_assert_uint_eq(len, 4096);
	ck_assert_mem_eq(data, big, 4096);
	free(data);
	ck_assert_ipc(ipc_queue_put(q, big, 4097, IPC_FOREVER), -EMSGSIZE);
	ck_assert_ipc(put_str(q, "small", 0), 0);
	get_expect(q, "small", 0);

	free(big);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_memory_budget_gives_enobufs)
{
	static const char *const args[] = { "--max-message", "4096",
					    "--max-memory", "1048576", NULL };
	char msg[4000];
	ipc_client *c;
	ipc_queue *q;
	long n, r = 0;

	memset(msg, 'm', sizeof msg);
	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "hungry", IPC_CREATE, NULL);

	/* 1 MiB holds at most about 262 messages of 4000 bytes. */
	for (n = 0; n < 2000; n++) {
		r = ipc_queue_put(q, msg, sizeof msg, IPC_FOREVER);
		if (r < 0)
			break;
	}
	ck_assert_msg(r == -ENOBUFS, "put %ld of 4000 bytes under a 1 MiB budget: %ld (%s)",
		      n, r, ipc_strerror((int)r));
	ck_assert_msg(n >= 10, "budget ran out after only %ld messages", n);
	ck_assert_ipc(ipc_queue_size(q), n);

	/* Dropping the messages gives the budget back. */
	ck_assert_ipc(ipc_queue_purge(q), n);
	ck_assert_ipc(ipc_queue_size(q), 0);
	ck_assert_ipc(ipc_queue_put(q, msg, sizeof msg, 0), 0);
	ck_assert_ipc(ipc_queue_size(q), 1);

	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_admitted_parked_put_counts_memory_once)
{
	static const ipc_queue_attr one = { .maxsize = 1, .noring = 1 };
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "one", IPC_CREATE, &one);
	ck_assert_ipc(put_str(q, "0123456789", 0), 0);
	pid = fork_ok();
	if (pid == 0) {
		int r = put_str(q, "abcdefghij", 5000);

		if (r < 0)
			child_fail("parked put: %s", ipc_strerror(r));
		_exit(0);
	}
	wait_stat(q, "putters", 1, HARNESS_HANG_MS);
	ck_assert_ipc(status_key(c, "memory"), 20);
	/* The get admits the parked put: its 10 bytes now sit in the queue. */
	get_expect(q, "0123456789", 1000);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "parked putter");
	ck_assert_ipc(status_key(c, "memory"), 10);
	get_expect(q, "abcdefghij", 1000);
	ck_assert_ipc(status_key(c, "memory"), 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_queue_maxbytes_bounds_payload)
{
	ipc_queue_attr attr = { .maxbytes = 100, .noring = 1 };
	char msg[101];
	ipc_client *c;
	ipc_queue *q;

	memset(msg, 'b', sizeof msg);
	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "bytes", IPC_CREATE, &attr);

	ck_assert_ipc(ipc_queue_put(q, msg, 101, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put(q, msg, 101, IPC_FOREVER), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put(q, msg, 60, 0), 0);
	/* 60 + 60 > 100: full for this message, so it waits. */
	ck_assert_ipc(ipc_queue_put(q, msg, 60, IPC_NOWAIT), -EAGAIN);
	ck_assert_ipc(ipc_queue_put(q, msg, 40, 0), 0);
	ck_assert_ipc(ipc_queue_size(q), 2);

	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/*
 * A message larger than a storage chunk, put after the queue was emptied,
 * is the one got back (not a stale record of the emptied chunk), in a queue
 * and in a pipe.
 */
START_TEST(test_large_message_after_emptied_store)
{
	size_t big = 100000;
	char *msg = malloc(big);
	ipc_pipe *e0, *e1;
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;

	ck_assert_ptr_nonnull(msg);
	memset(msg, 'x', big);
	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "large", IPC_CREATE, NULL);
	ck_assert_ipc(ipc_queue_put(q, "small", 5, 0), 0);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
	free(data);
	ck_assert_ipc(ipc_queue_put(q, msg, big, 0), 0);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
	ck_assert_uint_eq(len, big);
	ck_assert_int_eq(memcmp(data, msg, big), 0);
	free(data);

	ck_assert_ipc(ipc_pipe_pair(c, 0, &e0, &e1), 0);
	ck_assert_ipc(ipc_pipe_send(e0, "small", 5, 0), 0);
	ck_assert_ipc(ipc_pipe_recv(e1, &data, &len, 0), 0);
	free(data);
	ck_assert_ipc(ipc_pipe_send(e0, msg, big, 0), 0);
	ck_assert_ipc(ipc_pipe_recv(e1, &data, &len, 0), 0);
	ck_assert_uint_eq(len, big);
	ck_assert_int_eq(memcmp(data, msg, big), 0);
	free(data);

	ipc_pipe_close(e0);
	ipc_pipe_close(e1);
	ipc_queue_close(q);
	ipc_disconnect(c);
	free(msg);
}
END_TEST

START_TEST(test_open_errors)
{
	ipc_queue_attr reserved = { .ack = 1 };
	char name[300];
	ipc_client *c;
	ipc_queue *q, *q2;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);

	q = NULL;
	ck_assert_ipc(ipc_queue_open(c, "missing", 0, NULL, &q), -ENOENT);
	ck_assert_ptr_null(q);
	ck_assert_msg(ipc_last_error(c) != NULL, "ipc_last_error returned NULL");

	q = open_ok(c, "exists", IPC_CREATE | IPC_EXCLUSIVE, NULL);
	q2 = NULL;
	ck_assert_ipc(ipc_queue_open(c, "exists", IPC_CREATE | IPC_EXCLUSIVE, NULL, &q2), -EEXIST);
	ck_assert_ptr_null(q2);
	q2 = open_ok(c, "exists", IPC_CREATE, NULL);
	ck_assert_str_eq(ipc_queue_name(q2), "exists");
	/* Two handles, one queue. */
	ck_assert_ipc(put_str(q, "shared", 0), 0);
	ck_assert_ipc(ipc_queue_size(q2), 1);
	ipc_queue_close(q2);
	ipc_queue_close(q);

	memset(name, 'n', sizeof name);
	name[256] = '\0';
	ck_assert_ipc(ipc_queue_open(c, name, IPC_CREATE, NULL, &q), -ENAMETOOLONG);
	name[255] = '\0';
	q = open_ok(c, name, IPC_CREATE, NULL);
	ck_assert_str_eq(ipc_queue_name(q), name);
	ipc_queue_close(q);

	ck_assert_ipc(ipc_queue_open(c, "", IPC_CREATE, NULL, &q), -EINVAL);
	/* Attributes once reserved are provided now: ack makes an ack queue. */
	q = open_ok(c, "reserved", IPC_CREATE, &reserved);
	ipc_queue_close(q);
	q = open_ok(c, "reserved", 0, NULL);
	ipc_queue_close(q);

	/* The connection is fine after all these refusals. */
	q = open_ok(c, "exists", 0, NULL);
	get_expect(q, "shared", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_unlinked_queue_is_eidrm)
{
	ipc_client *c;
	ipc_queue *q, *q2;
	void *data;
	size_t len;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "doomed", IPC_CREATE, NULL);
	ck_assert_ipc(put_str(q, "dropped", 0), 0);

	ck_assert_ipc(ipc_queue_unlink(c, "doomed"), 0);
	ck_assert_ipc(ipc_queue_unlink(c, "doomed"), -ENOENT);
	ck_assert_ipc(put_str(q, "late", 0), -EIDRM);
	ck_assert_int_lt(ipc_queue_get(q, &data, &len, 0), 0);
	ck_assert_int_lt(ipc_queue_size(q), 0);
	ipc_queue_close(q);

	/* The name is free again, and the new queue starts empty. */
	q2 = open_ok(c, "doomed", IPC_CREATE | IPC_EXCLUSIVE, NULL);
	ck_assert_ipc(ipc_queue_size(q2), 0);
	ipc_queue_close(q2);
	ipc_disconnect(c);
}
END_TEST

/* Connect, retrying up to 2 s while the daemon may still count a closed probe. */
START_TEST(test_max_clients)
{
	static const char *const args[] = { "--max-clients", "4", NULL };
	ipc_client *c[5];
	void *mp;
	size_t len;
	int i;

	harness_start(&h, args);
	for (i = 0; i < 4; i++)
		ck_assert_ipc(connect_retry(h.sock, &c[i]), 0);
	c[4] = NULL;
	ck_assert_ipc(ipc_connect(h.sock, &c[4]), -EUSERS);
	ck_assert_ptr_null(c[4]);

	/* The four admitted clients are unaffected. */
	for (i = 0; i < 4; i++) {
		ck_assert_ipc(ipc_server_status(c[i], &mp, &len), 0);
		free(mp);
	}
	ipc_disconnect(c[0]);
	ck_assert_ipc(connect_retry(h.sock, &c[0]), 0);
	ck_assert_ipc(ipc_server_status(c[0], &mp, &len), 0);
	free(mp);
	for (i = 0; i < 4; i++)
		ipc_disconnect(c[i]);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *queue_limits_suite(void)
{
	Suite *s = suite_create("queue_limits");
	TCase *tc;

	tc = harness_tcase(s, "limits", 30, setup, teardown);
	tcase_add_test(tc, test_put_over_max_message_is_emsgsize);
	tcase_add_test(tc, test_memory_budget_gives_enobufs);
	tcase_add_test(tc, test_admitted_parked_put_counts_memory_once);
	tcase_add_test(tc, test_queue_maxbytes_bounds_payload);
	tcase_add_test(tc, test_large_message_after_emptied_store);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_unlinked_queue_is_eidrm);
	tcase_add_test(tc, test_max_clients);
	return s;
}

int main(void)
{
	return harness_main(queue_limits_suite());
}
