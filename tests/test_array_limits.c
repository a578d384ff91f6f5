/*
 * test_array_limits.c - shared arrays' limits and the daemon's own checks:
 * sizes past the budgets, requests the library would refuse (sent as raw
 * frames, so the daemon's validation is what answers), and a client that
 * leaves the descriptors it is sent unread.  The real ipcd in a temporary
 * directory.
 */
#include <errno.h>
#include <stdint.h>
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

START_TEST(test_size_limits)
{
	const char *args[] = { "--max-array-bytes", "4K", "--max-shm", "10K", NULL };
	ipc_client *c;
	ipc_array *a = NULL, *b, *d;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_array_open(c, "big", IPC_CREATE, 'i', 1025, &a), -EFBIG);
	ck_assert_ipc(ipc_array_open(c, "huge", IPC_CREATE, 'd', SIZE_MAX / 4, &a), -EFBIG);
	ck_assert_ipc(ipc_array_open(c, "huge", IPC_CREATE, 'B', SIZE_MAX, &a), -EFBIG);
	a = array_open_ok(c, "a", IPC_CREATE, 'i', 1024);
	b = array_open_ok(c, "b", IPC_CREATE, 'q', 512);
	ck_assert_ipc(ipc_array_open(c, "c", IPC_CREATE, 'b', 4096, &d), -ENOSPC);
	d = array_open_ok(c, "c", IPC_CREATE, 'b', 2048);
	ipc_array_close(d);
	/* Removing and closing gives the budget back. */
	ck_assert_ipc(ipc_array_unlink(c, "a"), 0);
	ck_assert_ipc(ipc_array_open(c, "e", IPC_CREATE, 'b', 4096, &d), -ENOSPC);
	ipc_array_close(a);
	d = array_open_ok(c, "e", IPC_CREATE, 'b', 4096);
	ipc_array_close(d);
	ipc_array_close(b);
	ipc_disconnect(c);
}
END_TEST

/* raw_call; the reply must answer id, an error with a message.  *res: the result. */
static int raw_checked(int fd, msgpack_sbuffer *sb, uint32_t id, uint64_t *res)
{
	struct proto_reply rep;
	msgpack_unpacked u;
	char *body;
	int st;

	st = raw_call(fd, sb, &u, &rep, &body);
	ck_assert_uint_eq(rep.id, id);
	if (st < 0)
		ck_assert_msg(rep.msglen > 0, "error %d without a message", st);
	else if (res)
		*res = rep.res[0].via.u64;
	msgpack_unpacked_destroy(&u);
	free(body);
	return st;
}

/* A raw array.open of name with the typecode string tc; the status, the handle in *handle. */
static int raw_open(int fd, uint32_t id, const char *name, const char *tc, uint64_t length,
		    uint64_t *handle)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	raw_begin(&sb, &pk, IPC_OP_A_OPEN, id, 4);
	proto_pack_cstr(&pk, name);
	msgpack_pack_uint32(&pk, IPC_OPEN_CREATE | IPC_OPEN_NOMAP);
	proto_pack_cstr(&pk, tc);
	msgpack_pack_uint64(&pk, length);
	return raw_checked(fd, &sb, id, handle);
}

/* A raw request [op, id, handle, a, b] with b an unsigned or, if bin, bytes. */
static int raw_op(int fd, unsigned op, uint32_t id, uint64_t handle, uint64_t x,
		  const void *bin, size_t binlen, int64_t y)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	raw_begin(&sb, &pk, op, id, 3);
	msgpack_pack_uint64(&pk, handle);
	msgpack_pack_uint64(&pk, x);
	if (bin)
		msgpack_pack_bin_with_body(&pk, bin, binlen);
	else
		msgpack_pack_int64(&pk, y);
	return raw_checked(fd, &sb, id, NULL);
}

START_TEST(test_daemon_refuses_bad_requests_and_serves_on)
{
	const char *args[] = { "--max-message", "1K", NULL };
	uint64_t hd, hq;
	int fd;

	harness_start(&h, args);
	fd = raw_connect_greeted(h.sock);
	ck_assert_int_eq(raw_open(fd, 2, "a", "x", 4, NULL), -EINVAL);
	ck_assert_int_eq(raw_open(fd, 3, "a", "ii", 4, NULL), -EINVAL);
	ck_assert_int_eq(raw_open(fd, 4, "a", "", 4, NULL), -EINVAL);
	ck_assert_int_eq(raw_open(fd, 5, "a", "i", 0, NULL), -EINVAL);
	ck_assert_int_eq(raw_open(fd, 6, "a", "q", UINT64_MAX, NULL), -EFBIG);
	ck_assert_int_eq(raw_open(fd, 7, "a", "q", UINT64_MAX / 8 + 1, NULL), -EFBIG);
	ck_assert_int_eq(raw_open(fd, 8, "a", "i", 4, &hd), 0);
	/* read: handle, start, count */
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_READ, 10, hd, 4, NULL, 0, 1), -ERANGE);
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_READ, 11, hd, UINT64_MAX, NULL, 0, 2), -ERANGE);
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_READ, 12, hd, 3, NULL, 0, 1), 0);
	/* write: handle, start, data */
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_WRITE, 13, hd, 3, "12345678", 8, 0), -ERANGE);
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_WRITE, 14, hd, 0, "123", 3, 0), -EINVAL);
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_WRITE, 15, hd, 2, "12345678", 8, 0), 0);
	/* add: handle, index, delta */
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_ADD, 16, hd, 4, NULL, 0, 1), -ERANGE);
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_ADD, 17, hd, 0, NULL, 0, -1), 0);
	/* An array op on a queue's handle, and a read over the message limit. */
	ck_assert_int_eq(raw_open(fd, 18, "big", "d", 1000, &hq), 0);
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_READ, 19, hq, 0, NULL, 0, 1000), -EMSGSIZE);
	ck_assert_int_eq(raw_op(fd, IPC_OP_Q_PUT, 20, hd, 0, "m", 1, 0), -EBADF);
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_ADD, 21, hq, 0, NULL, 0, 1), -EINVAL);
	/* Still serving. */
	ck_assert_int_eq(raw_op(fd, IPC_OP_A_READ, 22, hd, 0, NULL, 0, 4), 0);
	close(fd);
}
END_TEST

/*
 * Each mapped open queues a descriptor to ride with its reply.  A client
 * that sends opens and reads nothing is cut off before those descriptors
 * run the daemon out of its own, and others are served on.
 */
START_TEST(test_client_leaving_descriptors_unread_is_cut_off)
{
	int fd, sent = 0, r = 0;
	ipc_client *c;
	ipc_array *a;

	harness_start(&h, NULL);
	fd = raw_connect_greeted(h.sock);
	ck_assert_int_eq(raw_open(fd, 2, "fds", "i", 4, NULL), 0);
	/* Four times the daemon's limit of 1024 descriptors waiting for one client. */
	while (r == 0 && sent < 4096) {
		msgpack_sbuffer sb;
		msgpack_packer pk;

		raw_begin(&sb, &pk, IPC_OP_A_OPEN, 3 + (uint32_t)sent, 4);
		proto_pack_cstr(&pk, "fds");
		msgpack_pack_uint32(&pk, 0);
		proto_pack_cstr(&pk, "i");
		msgpack_pack_uint64(&pk, 4);
		r = raw_end(fd, &sb);
		sent++;
	}
	ck_assert_int_eq(raw_wait_hangup(fd, HARNESS_HANG_MS), 0);
	close(fd);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_array_open(c, "fds", 0, 'i', 4, &a), 0);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

static Suite *array_limits_suite(void)
{
	Suite *s = suite_create("array_limits");
	TCase *tc = harness_tcase(s, "limits", 30, setup, teardown);

	tcase_add_test(tc, test_size_limits);
	tcase_add_test(tc, test_daemon_refuses_bad_requests_and_serves_on);
	tcase_add_test(tc, test_client_leaving_descriptors_unread_is_cut_off);
	return s;
}

int main(void)
{
	return harness_main(array_limits_suite());
}
