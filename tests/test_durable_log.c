/*
 * test_durable_log.c - a durable queue's log on disk: a torn or corrupt
 * tail or record written by the test (reported with its offset, the good
 * prefix kept, a damaged record costing only itself), a log of the first
 * format read and rewritten, the rewrite of a log grown past its live data,
 * and the records' checksum.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "durable_env.h"
#include "qlog.h"
#include "record.h"

/* The log's checksum is CRC-32C (Castagnoli): its check value, and chaining. */
START_TEST(test_crc32c_known_answer)
{
	ck_assert_uint_eq(record_crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(record_crc32c(record_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
	ck_assert_uint_eq(record_crc32c(0, "", 0), 0);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* Fill a queue with n messages "t0".."t<n-1>" and stop the daemon cleanly. */
static void fill_and_stop(int n)
{
	ipc_client *c;
	ipc_queue *q;

	durable_start("always");
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

	durable_start("always");
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
	durable_log_path(path, sizeof path);
	size = durable_file_size(path);
	/* A crash in the middle of writing the last record: 5 bytes of it are missing. */
	ck_assert_int_eq(truncate(path, size - 5), 0);
	/* t9's record is 13 + 8 + 2 bytes long: it began at size - 23. */
	snprintf(want, sizeof want, "torn or corrupt record at offset %lld", (long long)(size - 23));
	expect_prefix(9);
	ck_assert_msg(durable_logged(want), "the daemon did not report '%s'", want);
	harness_stop(&h);
	/* The file was cut back to the good prefix, then grew by the nine gets'
	 * records, "new"'s put and its get. */
	ck_assert_int_eq(durable_file_size(path), size - 23 + 9 * (13 + 8) + (13 + 8 + 3) + (13 + 8));

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
	durable_log_path(path, sizeof path);
	size = durable_file_size(path);
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
	ck_assert_msg(durable_logged(want), "the daemon did not report '%s'", want);
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

	durable_start("no");
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
	durable_log_path(path, sizeof path);
	size = durable_file_size(path);
	/* Each record: 13 bytes of head, the id, 5 bytes.  m0500's length field is at +8. */
	at = size - (1000 - 500) * (13 + 8 + 5);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, big, sizeof big, at + 8), 4);
	close(fd);

	durable_start("always");
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
	ck_assert_msg(durable_logged(want), "the daemon did not report '%s'", want);
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

	durable_start("always");
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
	durable_start("always");
	c = connect_ok(h.sock);
	q = open_ok(c, "old", 0, NULL);
	get_expect(q, "v3", 0);
	get_expect(q, "v4", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
}
END_TEST

START_TEST(test_log_is_rewritten_when_mostly_finished)
{
	static char msg[1024];
	char path[sizeof state + 16];
	ipc_client *c;
	ipc_queue *q;
	off_t before;

	durable_start("no");
	c = connect_ok(h.sock);
	q = open_ok(c, "big", IPC_CREATE, &durable);
	durable_log_path(path, sizeof path);
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
	before = durable_file_size(path);
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
	ck_assert_msg(durable_file_size(path) < 1 << 20, "log still %lld bytes",
		      (long long)durable_file_size(path));
	ck_assert(durable_logged("rewritten"));
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
		durable_start("no");
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

/* ------------------------------------------------------------------------ */

static Suite *durable_log_suite(void)
{
	Suite *s = suite_create("durable_log");
	TCase *tc;

	tc = harness_tcase(s, "torn", 30, durable_setup, durable_teardown);
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
	return harness_main(durable_log_suite());
}
