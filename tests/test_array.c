/*
 * test_array.c - shared arrays end to end: the real ipcd in a temporary
 * directory, real forked processes sharing mappings, everything through
 * ipcclient.h (the daemon's own checks and limits: test_array_limits.c).
 *
 * Children report by exit status or on a pipe and always leave with
 * _exit().  Children that reuse the parent's ipc_client and ipc_array
 * exercise the library's fork safety: an inherited mapping, and brokered
 * calls over the child's own connection.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

/* In a child: check a call's result, or say what went wrong and leave. */
#define child_check(expr, want) do { \
	long r_ = (expr), w_ = (want); \
	if (r_ != w_) \
		child_fail("%s = %ld (%s), want %ld", #expr, r_, ipc_strerror((int)r_), w_); \
} while (0)

static void send_byte(int fd)
{
	if (write(fd, "x", 1) != 1)
		child_fail("write to pipe: %s", strerror(errno));
}

/* Key of a's stat map as a signed number; missing is -1, a failure -1000 - errno. */
static int64_t array_stat_key(ipc_array *a, const char *key)
{
	const msgpack_object *v;
	msgpack_unpacked u;
	void *mp;
	size_t len, off = 0;
	int64_t n = -1;
	int r = ipc_array_stat(a, &mp, &len);

	if (r < 0)
		return -1000 + r;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		v = proto_map_get(&u.data, key);
		if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			n = (int64_t)v->via.u64;
		else if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			n = v->via.i64;
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	return n;
}

/* Does some client's "open" or "held" list (ipc_server_clients) hold the string want? */
static int clients_mention(ipc_client *c, const char *want)
{
	msgpack_unpacked u;
	void *mp;
	size_t len, off = 0;
	int found = 0;

	ck_assert_ipc(ipc_server_clients(c, &mp, &len), 0);
	msgpack_unpacked_init(&u);
	ck_assert(msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS);
	ck_assert(u.data.type == MSGPACK_OBJECT_ARRAY);
	for (uint32_t i = 0; i < u.data.via.array.size; i++)
		for (int k = 0; k < 2; k++) {
			const msgpack_object *l = proto_map_get(&u.data.via.array.ptr[i],
							       k ? "held" : "open");

			for (uint32_t j = 0; l && l->type == MSGPACK_OBJECT_ARRAY &&
			     j < l->via.array.size; j++) {
				const msgpack_object *e = &l->via.array.ptr[j];

				found |= e->type == MSGPACK_OBJECT_STR &&
					 e->via.str.size == strlen(want) &&
					 memcmp(e->via.str.ptr, want, e->via.str.size) == 0;
			}
		}
	msgpack_unpacked_destroy(&u);
	free(mp);
	return found;
}

/* ---- the seed's examples ---------------------------------------------- */

START_TEST(test_child_squares_seen_through_mapping_and_read)
{
	static const int32_t want[10] = { 0, 1, 4, 9, 16, 25, 36, 49, 64, 81 };
	ipc_client *c;
	ipc_array *a;
	int32_t got[10];
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "result", IPC_CREATE, 'i', 10);
	ck_assert_uint_eq(ipc_array_length(a), 10);
	ck_assert_int_eq(ipc_array_typecode(a), 'i');
	ck_assert_ptr_nonnull(ipc_array_data(a));
	/* New arrays are zero-filled. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(((int32_t *)ipc_array_data(a))[i], 0);

	pid = fork_ok();
	if (pid == 0) {
		int32_t *result = ipc_array_data(a);

		for (int i = 0; i < 10; i++)
			result[i] = i * i;
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "squares child");
	ck_assert_mem_eq(ipc_array_data(a), want, sizeof want);
	memset(got, 0xff, sizeof got);
	ck_assert_ipc(ipc_array_read(a, 0, 10, got), 0);
	ck_assert_mem_eq(got, want, sizeof want);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_child_sets_double_value)
{
	ipc_client *c;
	ipc_array *v;
	double got = 0;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	v = array_open_ok(c, "val", IPC_CREATE, 'd', 1);
	ck_assert(*(double *)ipc_array_data(v) == 0.0);
	pid = fork_ok();
	if (pid == 0) {
		*(double *)ipc_array_data(v) = 5.35;
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "value child");
	ck_assert(*(double *)ipc_array_data(v) == 5.35);
	ck_assert_ipc(ipc_array_read(v, 0, 1, &got), 0);
	ck_assert_msg(got == 5.35, "read %.17g", got);
	ipc_array_close(v);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_child_brokered_calls_keep_inherited_mapping)
{
	ipc_client *c;
	ipc_array *a;
	int32_t vals[5] = { 25, 36, 49, 64, 81 };
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "mixed", IPC_CREATE, 'i', 10);
	pid = fork_ok();
	if (pid == 0) {
		int32_t *before = ipc_array_data(a);
		int32_t back[10];

		for (int i = 0; i < 5; i++)
			before[i] = i * i;
		/* The first brokered call re-opens on the child's own connection. */
		child_check(ipc_array_write(a, 5, 5, vals), 0);
		if (ipc_array_data(a) != before)
			child_fail("the re-open remapped the array");
		child_check(ipc_array_read(a, 0, 10, back), 0);
		for (int i = 0; i < 10; i++)
			if (back[i] != i * i || before[i] != i * i)
				child_fail("element %d: read %d, mapped %d", i, back[i], before[i]);
		ipc_array_close(a);
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "child");
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(((int32_t *)ipc_array_data(a))[i], i * i);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

/* ---- atomicity --------------------------------------------------------- */

#define ADDERS 4
#define ADDS 100000

START_TEST(test_four_processes_add_exactly)
{
	ipc_client *c;
	ipc_array *a;
	pid_t pids[ADDERS];
	int64_t t0, total = 0;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "counter", IPC_CREATE, 'q', 1);
	t0 = harness_now_ms();
	for (int i = 0; i < ADDERS; i++) {
		pids[i] = fork_ok();
		if (pids[i] == 0) {
			for (int n = 0; n < ADDS; n++)
				child_check(ipc_array_add_i64(a, 0, 1, NULL), 0);
			_exit(0);
		}
	}
	for (int i = 0; i < ADDERS; i++)
		harness_expect_child_ok(pids[i], 280000, "adder");
	fprintf(stderr, "%d x %d ipc_array_add_i64: %lld ms\n", ADDERS, ADDS,
		(long long)(harness_now_ms() - t0));
	ck_assert_ipc(ipc_array_read(a, 0, 1, &total), 0);
	ck_assert_int_eq(total, (int64_t)ADDERS * ADDS);
	ck_assert_int_eq(*(int64_t *)ipc_array_data(a), (int64_t)ADDERS * ADDS);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

#define LOCKERS 4
#define LOCKED_INCS 10000

START_TEST(test_four_processes_increment_under_lock)
{
	ipc_client *c;
	ipc_array *a;
	pid_t pids[LOCKERS];

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "shared", IPC_CREATE, 'i', 1);
	for (int i = 0; i < LOCKERS; i++) {
		pids[i] = fork_ok();
		if (pids[i] == 0) {
			int32_t *n = ipc_array_data(a);

			for (int k = 0; k < LOCKED_INCS; k++) {
				child_check(ipc_array_lock(a, IPC_FOREVER), 0);
				/* A read-modify-write that races without the lock. */
				int32_t v = *(volatile int32_t *)n;

				*(volatile int32_t *)n = v + 1;
				child_check(ipc_array_unlock(a), 0);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < LOCKERS; i++)
		harness_expect_child_ok(pids[i], 280000, "locker");
	ck_assert_int_eq(*(int32_t *)ipc_array_data(a), LOCKERS * LOCKED_INCS);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_add_wraps_at_each_width)
{
	static const struct { char tc; int64_t start, delta, old, after; } cases[] = {
		{ 'b', 127, 1, 127, -128 }, { 'B', 255, 1, 255, 0 },
		{ 'h', -32768, -1, -32768, 32767 }, { 'H', 0, -1, 0, 65535 },
		{ 'i', INT32_MAX, 1, INT32_MAX, INT32_MIN }, { 'I', 0, -2, 0, 4294967294 },
		{ 'l', INT64_MAX, 1, INT64_MAX, INT64_MIN }, { 'L', -1, 1, -1, 0 },
		{ 'q', -5, 3, -5, -2 }, { 'Q', 7, -7, 7, 0 },
	};
	ipc_client *c;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[16];
		ipc_array *a;
		int64_t old = 12345, now = 0;

		snprintf(name, sizeof name, "w%c", cases[i].tc);
		a = array_open_ok(c, name, IPC_CREATE, cases[i].tc, 3);
		ck_assert_ipc(ipc_array_add_i64(a, 2, cases[i].start, NULL), 0);
		ck_assert_ipc(ipc_array_add_i64(a, 2, cases[i].delta, &old), 0);
		ck_assert_msg(old == cases[i].old, "'%c': old %lld, want %lld", cases[i].tc,
			      (long long)old, (long long)cases[i].old);
		ck_assert_ipc(ipc_array_add_i64(a, 2, 0, &now), 0);
		ck_assert_msg(now == cases[i].after, "'%c': now %lld, want %lld", cases[i].tc,
			      (long long)now, (long long)cases[i].after);
		/* Neighbours untouched. */
		ck_assert_ipc(ipc_array_add_i64(a, 1, 0, &now), 0);
		ck_assert_int_eq(now, 0);
		ck_assert_ipc(ipc_array_add_i64(a, 3, 1, NULL), -ERANGE);
		ck_assert_ipc(ipc_array_add_f64(a, 0, 1.0, NULL), -EINVAL);
		ipc_array_close(a);
	}
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_add_f64_on_float_and_double)
{
	ipc_client *c;
	ipc_array *f, *d;
	double old = -1;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	f = array_open_ok(c, "f", IPC_CREATE, 'f', 2);
	d = array_open_ok(c, "d", IPC_CREATE, 'd', 2);
	ck_assert_ipc(ipc_array_add_f64(f, 1, 2.5, &old), 0);
	ck_assert(old == 0.0);
	ck_assert_ipc(ipc_array_add_f64(f, 1, 0.25, &old), 0);
	ck_assert(old == 2.5);
	ck_assert(((float *)ipc_array_data(f))[1] == 2.75f);
	ck_assert_ipc(ipc_array_add_f64(d, 0, 5.35, NULL), 0);
	ck_assert_ipc(ipc_array_add_f64(d, 0, -1.0, &old), 0);
	ck_assert(old == 5.35);
	ck_assert(((double *)ipc_array_data(d))[0] == 5.35 - 1.0);
	ck_assert_ipc(ipc_array_add_i64(d, 0, 1, NULL), -EINVAL);
	ck_assert_ipc(ipc_array_add_f64(d, 2, 1.0, NULL), -ERANGE);
	ipc_array_close(f);
	ipc_array_close(d);
	ipc_disconnect(c);
}
END_TEST

/* ---- the lock ---------------------------------------------------------- */

START_TEST(test_killed_holder_passes_lock_within_a_second)
{
	ipc_client *c;
	ipc_array *a;
	int ready[2], got[2];
	pid_t holder, waiter;
	int64_t t0;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "guarded", IPC_CREATE, 'i', 1);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(got), 0);
	holder = fork_ok();
	if (holder == 0) {
		child_check(ipc_array_lock(a, IPC_FOREVER), 0);
		send_byte(ready[1]);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(wait_byte(ready[0], HARNESS_HANG_MS), 0);
	waiter = fork_ok();
	if (waiter == 0) {
		/* Parked behind the holder: granted only when it is gone. */
		child_check(ipc_array_lock(a, 10000), 0);
		send_byte(got[1]);
		child_check(ipc_array_unlock(a), 0);
		_exit(0);
	}
	/* Give the waiter time to park, and check it is still waiting. */
	ck_assert_int_eq(wait_byte(got[0], 300), -1);
	ck_assert_int_eq(array_stat_key(a, "lock_pid"), holder);
	t0 = harness_now_ms();
	kill(holder, SIGKILL);
	ck_assert_msg(wait_byte(got[0], HARNESS_HANG_MS) == 0, "the waiter did not get the lock");
	fprintf(stderr, "lock passed %lld ms after SIGKILL\n", (long long)(harness_now_ms() - t0));
	harness_wait_child(holder, HARNESS_HANG_MS);
	harness_expect_child_ok(waiter, HARNESS_HANG_MS, "waiter");
	/* And it is free again for anyone. */
	ck_assert_ipc(ipc_array_lock(a, 1000), 0);
	ck_assert_ipc(ipc_array_unlock(a), 0);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_relock_unlock_and_timeouts)
{
	ipc_client *c, *other;
	ipc_array *a, *b;
	int64_t t0;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	other = connect_ok(h.sock);
	a = array_open_ok(c, "m", IPC_CREATE, 'b', 4);
	b = array_open_ok(other, "m", 0, 0, 0);
	ck_assert_uint_eq(ipc_array_length(b), 4);
	ck_assert_int_eq(ipc_array_typecode(b), 'b');
	ck_assert_ipc(ipc_array_unlock(a), -EPERM);
	ck_assert_ipc(ipc_array_lock(a, 0), 0);
	ck_assert_ipc(ipc_array_lock(a, 0), -EDEADLK);
	ck_assert_ipc(ipc_array_unlock(b), -EPERM);
	ck_assert_ipc(ipc_array_lock(b, IPC_NOWAIT), -EAGAIN);
	t0 = harness_now_ms();
	ck_assert_ipc(ipc_array_lock(b, 150), -ETIMEDOUT);
	ck_assert_int_ge(harness_now_ms() - t0, 140);
	ck_assert_ipc(ipc_array_unlock(a), 0);
	ck_assert_ipc(ipc_array_lock(b, 0), 0);
	ck_assert_ipc(ipc_array_unlock(b), 0);
	ck_assert_ipc(ipc_array_unlock(b), -EPERM);
	ipc_array_close(a);
	ipc_array_close(b);
	ipc_disconnect(c);
	ipc_disconnect(other);
}
END_TEST

START_TEST(test_brokered_write_waits_for_lock)
{
	ipc_client *c;
	ipc_array *a;
	int done[2];
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "w", IPC_CREATE, 'h', 2);
	ck_assert_ipc(ipc_array_lock(a, 0), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = fork_ok();
	if (pid == 0) {
		int16_t v[2] = { 7, 8 };
		int64_t old;

		child_check(ipc_array_write(a, 0, 2, v), 0);
		child_check(ipc_array_add_i64(a, 1, 1, &old), 0);
		if (old != 8)
			child_fail("add saw %lld, want 8", (long long)old);
		send_byte(done[1]);
		_exit(0);
	}
	/* The holder's own brokered calls go through; the child's wait. */
	ck_assert_ipc(ipc_array_add_i64(a, 0, 0, NULL), 0);
	for (int64_t end = harness_now_ms() + HARNESS_HANG_MS; array_stat_key(a, "waiting") != 1 && harness_now_ms() < end;)
		harness_sleep_ms(10);
	ck_assert_int_eq(array_stat_key(a, "waiting"), 1);
	ck_assert_int_eq(wait_byte(done[0], 200), -1);
	ck_assert_int_eq(((int16_t *)ipc_array_data(a))[0], 0);
	ck_assert_ipc(ipc_array_unlock(a), 0);
	ck_assert_int_eq(wait_byte(done[0], HARNESS_HANG_MS), 0);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "writer");
	ck_assert_int_eq(((int16_t *)ipc_array_data(a))[0], 7);
	ck_assert_int_eq(((int16_t *)ipc_array_data(a))[1], 9);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_closing_the_array_releases_its_lock)
{
	ipc_client *c, *other;
	ipc_array *a, *b;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	other = connect_ok(h.sock);
	a = array_open_ok(c, "k", IPC_CREATE, 'i', 1);
	b = array_open_ok(other, "k", 0, 'i', 1);
	ck_assert_ipc(ipc_array_lock(a, 0), 0);
	ipc_array_close(a);
	ck_assert_ipc(ipc_array_lock(b, 1000), 0);
	ck_assert_int_eq(array_stat_key(b, "lock_pid"), getpid());
	ck_assert_ipc(ipc_array_unlock(b), 0);
	ck_assert_int_eq(array_stat_key(b, "lock_pid"), -1);
	ipc_array_close(b);
	ipc_disconnect(c);
	ipc_disconnect(other);
}
END_TEST

/* ---- life cycle -------------------------------------------------------- */

START_TEST(test_unlink_while_mapped)
{
	ipc_client *c;
	ipc_array *a, *fresh;
	int32_t *p, v;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "gone", IPC_CREATE, 'i', 1000);
	p = ipc_array_data(a);
	for (int i = 0; i < 1000; i++)
		p[i] = 3 * i;
	ck_assert_ipc(ipc_array_unlink(c, "gone"), 0);
	ck_assert_ipc(ipc_array_unlink(c, "gone"), -ENOENT);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(p[i], 3 * i);
	p[999] = 1;
	ck_assert_int_eq(p[999], 1);
	ck_assert_ipc(ipc_array_open(c, "gone", 0, 'i', 1000, &fresh), -ENOENT);
	/* Brokered access ends with the name. */
	ck_assert_ipc(ipc_array_read(a, 0, 1, &v), -EIDRM);
	fresh = array_open_ok(c, "gone", IPC_CREATE, 'i', 1000);
	ck_assert_int_eq(((int32_t *)ipc_array_data(fresh))[5], 0);
	ck_assert_int_eq(p[5], 15);
	ipc_array_close(fresh);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_child_of_unlinked_array_gets_eidrm)
{
	ipc_client *c;
	ipc_array *a, *fresh;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "x", IPC_CREATE, 'B', 8);
	((uint8_t *)ipc_array_data(a))[0] = 42;
	ck_assert_ipc(ipc_array_unlink(c, "x"), 0);
	fresh = array_open_ok(c, "x", IPC_CREATE, 'B', 8);
	pid = fork_ok();
	if (pid == 0) {
		uint8_t v;

		/* The name now means another array: the child must not be fooled. */
		if (((uint8_t *)ipc_array_data(a))[0] != 42)
			child_fail("the inherited mapping lost its data");
		child_check(ipc_array_read(a, 0, 1, &v), -EIDRM);
		child_check(ipc_array_read(fresh, 0, 1, &v), 0);
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "child");
	ipc_array_close(fresh);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_open_checks_typecode_and_length)
{
	ipc_client *c;
	ipc_array *a, *b = NULL;
	ipc_queue *q;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "arr", IPC_CREATE, 'd', 3);
	ck_assert_ipc(ipc_array_open(c, "arr", 0, 'f', 3, &b), -EINVAL);
	ck_assert_ipc(ipc_array_open(c, "arr", 0, 'd', 4, &b), -EINVAL);
	ck_assert_ipc(ipc_array_open(c, "arr", IPC_CREATE, 'd', 4, &b), -EINVAL);
	ck_assert_ipc(ipc_array_open(c, "arr", IPC_CREATE | IPC_EXCLUSIVE, 'd', 3, &b), -EEXIST);
	ck_assert_ptr_null(b);
	b = array_open_ok(c, "arr", 0, 0, 0);
	ck_assert_int_eq(ipc_array_typecode(b), 'd');
	ck_assert_uint_eq(ipc_array_length(b), 3);
	((double *)ipc_array_data(a))[2] = 0.5;
	ck_assert(((double *)ipc_array_data(b))[2] == 0.5);
	ipc_array_close(b);
	b = array_open_ok(c, "arr", IPC_NOMAP, 'd', 0);
	ck_assert_ptr_null(ipc_array_data(b));
	ipc_array_close(b);
	ck_assert_ipc(ipc_array_open(c, "nope", 0, 'i', 1, &b), -ENOENT);
	ck_assert_ipc(ipc_array_open(c, "new", IPC_CREATE, 0, 5, &b), -EINVAL);
	ck_assert_ipc(ipc_array_open(c, "new", IPC_CREATE, 'i', 0, &b), -EINVAL);
	ck_assert_ipc(ipc_array_open(c, "new", IPC_CREATE, 'x', 5, &b), -EINVAL);
	ck_assert_ipc(ipc_queue_open(c, "arr", 0, NULL, &q), -EINVAL);
	ck_assert_ipc(ipc_queue_open(c, "jobs", IPC_CREATE, NULL, &q), 0);
	ck_assert_ipc(ipc_array_open(c, "jobs", IPC_CREATE, 'i', 1, &b), -EINVAL);
	ck_assert_ipc(ipc_array_unlink(c, "jobs"), -ENOENT);
	ipc_queue_close(q);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_stat_counts_mapping_processes)
{
	ipc_client *c, *admin;
	ipc_array *a, *again, *nomap;
	int go[2], ready[2];
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	admin = connect_ok(h.sock);
	a = array_open_ok(c, "seen", IPC_CREATE, 'L', 16);
	ck_assert_int_eq(array_stat_key(a, "mapped"), 1);
	/* A second mapping handle in the same process is the same process. */
	again = array_open_ok(c, "seen", 0, 'L', 16);
	nomap = array_open_ok(admin, "seen", IPC_NOMAP, 0, 0);
	ck_assert_int_eq(array_stat_key(nomap, "mapped"), 1);
	/* ipcctl clients says who has it open, and mapped, and who holds the lock. */
	ck_assert(clients_mention(admin, "array seen (mapped)"));
	ck_assert(clients_mention(admin, "array seen"));
	ck_assert(!clients_mention(admin, "lock of array seen"));
	ck_assert_ipc(ipc_array_lock(again, 0), 0);
	ck_assert(clients_mention(admin, "lock of array seen"));
	ck_assert_ipc(ipc_array_unlock(again), 0);
	ck_assert_int_eq(array_stat_key(nomap, "bytes"), 128);
	ck_assert_int_eq(array_stat_key(nomap, "length"), 16);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork_ok();
	if (pid == 0) {
		/* Its first brokered call re-opens: the inherited mapping counts. */
		child_check(ipc_array_add_i64(a, 0, 1, NULL), 0);
		send_byte(ready[1]);
		wait_byte(go[0], HARNESS_HANG_MS);
		_exit(0);
	}
	ck_assert_int_eq(wait_byte(ready[0], HARNESS_HANG_MS), 0);
	ck_assert_int_eq(array_stat_key(nomap, "mapped"), 2);
	send_byte(go[1]);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "child");
	for (int64_t end = harness_now_ms() + HARNESS_HANG_MS; array_stat_key(nomap, "mapped") != 1 && harness_now_ms() < end;)
		harness_sleep_ms(10);
	ck_assert_int_eq(array_stat_key(nomap, "mapped"), 1);
	ipc_array_close(a);
	ck_assert_int_eq(array_stat_key(nomap, "mapped"), 1);
	ipc_array_close(again);
	ck_assert_int_eq(array_stat_key(nomap, "mapped"), 0);
	ipc_array_close(nomap);
	ipc_disconnect(c);
	ipc_disconnect(admin);
}
END_TEST

START_TEST(test_large_brokered_transfer_in_chunks)
{
	const char *args[] = { "--max-message", "64K", NULL };
	const size_t n = 100000;
	ipc_client *c;
	ipc_array *a;
	int64_t *in = malloc(n * sizeof *in), *out = calloc(n, sizeof *out);

	ck_assert(in && out);
	harness_start(&h, args);
	c = connect_ok(h.sock);
	a = array_open_ok(c, "big", IPC_CREATE, 'q', n);
	for (size_t i = 0; i < n; i++)
		in[i] = (int64_t)i * 7 - 3;
	ck_assert_ipc(ipc_array_write(a, 0, n, in), 0);
	ck_assert_mem_eq(ipc_array_data(a), in, n * sizeof *in);
	ck_assert_ipc(ipc_array_read(a, 0, n, out), 0);
	ck_assert_mem_eq(out, in, n * sizeof *in);
	ck_assert_ipc(ipc_array_read(a, n - 1, 1, out), 0);
	ck_assert_int_eq(out[0], in[n - 1]);
	ck_assert_ipc(ipc_array_read(a, n, 0, out), 0);
	ck_assert_ipc(ipc_array_read(a, n, 1, out), -ERANGE);
	ck_assert_ipc(ipc_array_write(a, n - 1, 2, in), -ERANGE);
	ck_assert_ipc(ipc_array_read(a, SIZE_MAX, 2, out), -ERANGE);
	ipc_array_close(a);
	ipc_disconnect(c);
	free(in);
	free(out);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *array_suite(void)
{
	Suite *s = suite_create("array");
	TCase *tc;

	tc = harness_tcase(s, "example", 30, setup, teardown);
	tcase_add_test(tc, test_child_squares_seen_through_mapping_and_read);
	tcase_add_test(tc, test_child_sets_double_value);
	tcase_add_test(tc, test_child_brokered_calls_keep_inherited_mapping);

	/*
	 * The two 4-process tests are 400,000 and 80,000 round trips, a case each,
	 * with room for a loaded machine under AddressSanitizer (tests/CMakeLists.txt).
	 */
	tc = harness_tcase(s, "add", 290, setup, teardown);
	tcase_add_test(tc, test_four_processes_add_exactly);

	tc = harness_tcase(s, "atomic", 290, setup, teardown);
	tcase_add_test(tc, test_four_processes_increment_under_lock);
	tcase_add_test(tc, test_add_wraps_at_each_width);
	tcase_add_test(tc, test_add_f64_on_float_and_double);

	tc = harness_tcase(s, "lock", 30, setup, teardown);
	tcase_add_test(tc, test_killed_holder_passes_lock_within_a_second);
	tcase_add_test(tc, test_relock_unlock_and_timeouts);
	tcase_add_test(tc, test_brokered_write_waits_for_lock);
	tcase_add_test(tc, test_closing_the_array_releases_its_lock);

	tc = harness_tcase(s, "lifecycle", 30, setup, teardown);
	tcase_add_test(tc, test_unlink_while_mapped);
	tcase_add_test(tc, test_child_of_unlinked_array_gets_eidrm);
	tcase_add_test(tc, test_open_checks_typecode_and_length);
	tcase_add_test(tc, test_stat_counts_mapping_processes);
	tcase_add_test(tc, test_large_brokered_transfer_in_chunks);

	return s;
}

int main(void)
{
	return harness_main(array_suite());
}
