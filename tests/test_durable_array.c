/*
 * test_durable_array.c - durable shared arrays: their contents survive a
 * clean stop and a SIGKILL, and a damaged save file is set aside with a
 * warning while ipcd starts without that array.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable_env.h"

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

	durable_start("always");
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

	durable_start("always");
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

	durable_start("always");
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

	durable_start("always");
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

	durable_start("always");
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
	ck_assert_int_eq(pread(fd, &b, 1, durable_file_size(path) - 1), 1);
	b ^= 1;
	ck_assert_int_eq(pwrite(fd, &b, 1, durable_file_size(path) - 1), 1);
	close(fd);
	durable_start("always");
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_array_open(c, "da", 0, 0, 0, &a), -ENOENT);
	ck_assert_int_eq(access(bad, F_OK), 0);
	ck_assert(durable_logged("its checksum does not match"));
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *durable_array_suite(void)
{
	Suite *s = suite_create("durable_array");
	TCase *tc;

	tc = harness_tcase(s, "arrays", 30, durable_setup, durable_teardown);
	tcase_add_test(tc, test_durable_array_keeps_its_contents);
	tcase_add_test(tc, test_corrupt_array_file_is_set_aside);
	return s;
}

int main(void)
{
	return harness_main(durable_array_suite());
}
