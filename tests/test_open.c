/*
 * test_open.c - queue, pipe and array opens pass one gate in the daemon and
 * behave alike: unknown flag bits are -EINVAL, the handle limit is -EMFILE,
 * a name of another kind gives one error, and an open that fails leaves no
 * object behind (the daemon's object count is unchanged).  Requests go as
 * raw frames, so none of the library's own checks stands in front of the
 * daemon's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients.h"
#include "codec.h"

#define NKINDS 3

static struct harness h;

static const struct kind {
	const char *name;
	unsigned op;
	unsigned flags;              /* the open's own flags beyond create and exclusive */
} kinds[NKINDS] = {
	{ "queue", IPC_OP_Q_OPEN, 0 },
	{ "pipe", IPC_OP_P_OPEN, IPC_OPEN_ONEWAY },
	{ "array", IPC_OP_A_OPEN, IPC_OPEN_NOMAP },
};

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/*
 * Start the body of an open of kind k in sb: name, flags, then what the kind
 * takes (a pipe's end 0; an array of 4 'i'; an attribute map with durable
 * 1 when durable).
 */
static void pack_open(const struct kind *k, msgpack_sbuffer *sb, msgpack_packer *pk, uint32_t id,
		      const char *name, uint64_t flags, bool durable)
{
	unsigned nargs = k->op == IPC_OP_A_OPEN ? 4 + durable : 3;

	raw_begin(sb, pk, k->op, id, nargs);
	proto_pack_cstr(pk, name);
	msgpack_pack_uint64(pk, flags);
	if (k->op == IPC_OP_P_OPEN) {
		msgpack_pack_uint32(pk, 0);
		return;
	}
	if (k->op == IPC_OP_A_OPEN) {
		proto_pack_cstr(pk, "i");
		msgpack_pack_uint32(pk, 4);
	}
	if (durable) {
		msgpack_pack_map(pk, 1);
		proto_pack_kv_u64(pk, IPC_ATTR_DURABLE, 1);
	} else if (k->op == IPC_OP_Q_OPEN) {
		/* Raw clients read no descriptors: no ring for them. */
		msgpack_pack_map(pk, 1);
		proto_pack_kv_u64(pk, IPC_ATTR_NORING, 1);
	}
}

/* A raw open of kind k on fd: its status, and the handle in *handle when 0. */
static int open_raw(int fd, const struct kind *k, uint32_t id, const char *name, uint64_t flags,
		    bool durable, uint64_t *handle)
{
	struct proto_reply rep;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	char *body = NULL;
	int status;

	pack_open(k, &sb, &pk, id, name, flags, durable);
	status = raw_call(fd, &sb, &u, &rep, &body);
	ck_assert_msg(rep.id == id, "%s.open '%s': reply to %u, not %u", k->name, name, rep.id, id);
	if (status == 0 && handle) {
		ck_assert_uint_ge(rep.nres, 2);
		*handle = proto_u64(&rep.res[0]);
	}
	msgpack_unpacked_destroy(&u);
	free(body);
	return status;
}

/* A raw request [op, id, u] on fd; its status. */
static int call_u(int fd, unsigned op, uint32_t id, uint64_t arg)
{
	struct proto_reply rep;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	char *body = NULL;
	int status;

	raw_begin(&sb, &pk, op, id, 1);
	msgpack_pack_uint64(&pk, arg);
	status = raw_call(fd, &sb, &u, &rep, &body);
	msgpack_unpacked_destroy(&u);
	free(body);
	return status;
}

/* unlink [name, any kind] on fd; its status. */
static int unlink_raw(int fd, uint32_t id, const char *name)
{
	struct proto_reply rep;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	char *body = NULL;
	int status;

	raw_begin(&sb, &pk, IPC_OP_UNLINK, id, 2);
	proto_pack_cstr(&pk, name);
	msgpack_pack_uint32(&pk, 0);
	status = raw_call(fd, &sb, &u, &rep, &body);
	msgpack_unpacked_destroy(&u);
	free(body);
	return status;
}

/* How many objects the daemon holds, asked on a connection of its own. */
static long objects(void)
{
	ipc_client *c = connect_ok(h.sock);
	long n = status_key(c, "objects");

	ipc_disconnect(c);
	return n;
}

/* One object of each kind, named after it, made on fd (ids 2 to 4). */
static void make_one_of_each(int fd)
{
	for (int i = 0; i < NKINDS; i++)
		ck_assert_int_eq(open_raw(fd, &kinds[i], 2 + (uint32_t)i, kinds[i].name,
					  IPC_OPEN_CREATE, false, NULL), 0);
}

/*
 * Open queue name on fd until fd has CONN_MAX_HANDLES (65536) handles: the
 * opens go in batches, pipelined, each reply checked.
 */
static void fill_handles(int fd, const char *name)
{
	enum { TOTAL = 65536, BATCH = 4096 };
	int done = 0;

	while (done < TOTAL) {
		int n = TOTAL - done < BATCH ? TOTAL - done : BATCH;
		msgpack_sbuffer all;
		msgpack_packer pk_all;

		raw_packer(&all, &pk_all);
		for (int i = 0; i < n; i++) {
			msgpack_sbuffer sb;
			msgpack_packer pk;
			unsigned char hdr[IPC_FRAME_HEADER];

			pack_open(&kinds[0], &sb, &pk, 1000 + (uint32_t)(done + i), name, 0, false);
			ipc_frame_put_len(hdr, (uint32_t)sb.size);
			msgpack_sbuffer_write(&all, (const char *)hdr, sizeof hdr);
			msgpack_sbuffer_write(&all, sb.data, sb.size);
			msgpack_sbuffer_destroy(&sb);
		}
		ck_assert_int_eq(raw_send(fd, all.data, all.size), 0);
		msgpack_sbuffer_destroy(&all);
		for (int i = 0; i < n; i++) {
			struct proto_reply rep;
			msgpack_unpacked u;
			char *body = NULL;
			int r = raw_recv_reply(fd, &u, &rep, &body, HARNESS_HANG_MS);

			ck_assert_msg(r == 0, "open %d of %d: no reply (%s)", done + i + 1, TOTAL,
				      strerror(-r));
			ck_assert_msg(rep.status == 0, "open %d of %d: status %d", done + i + 1,
				      TOTAL, rep.status);
			msgpack_unpacked_destroy(&u);
			free(body);
		}
		done += n;
	}
}

/* ------------------------------------------------------------------------ */

/*
 * Bits an open does not know are refused before anything happens, for every
 * kind: bits no open knows, and the bits of another kind's open.
 */
START_TEST(test_unknown_open_flags_are_einval_for_every_kind)
{
	static const uint64_t unknown[] = { 0x10, 0x100, 1ull << 40 };
	uint32_t id = 10;
	long before;
	int fd;

	harness_start(&h, NULL);
	fd = raw_connect_greeted(h.sock);
	make_one_of_each(fd);
	before = objects();
	for (int i = 0; i < NKINDS; i++) {
		const struct kind *k = &kinds[i];

		for (size_t j = 0; j < sizeof unknown / sizeof unknown[0]; j++)
			ck_assert_msg(open_raw(fd, k, id++, "fresh", IPC_OPEN_CREATE | unknown[j],
					       false, NULL) == -EINVAL,
				      "%s.open with flag 0x%llx", k->name,
				      (unsigned long long)unknown[j]);
		for (int o = 0; o < NKINDS; o++) {
			uint64_t hd;
			int st;

			if (!kinds[o].flags)
				continue;
			st = open_raw(fd, k, id++, "fresh", IPC_OPEN_CREATE | kinds[o].flags, false,
				      &hd);
			ck_assert_msg(st == (o == i ? 0 : -EINVAL), "%s.open with %s's flag 0x%x: %d",
				      k->name, kinds[o].name, kinds[o].flags, st);
			/* The kind's own flag is known: drop what it made. */
			if (st == 0) {
				ck_assert_int_eq(call_u(fd, IPC_OP_CLOSE, id++, hd), 0);
				ck_assert_int_eq(unlink_raw(fd, id++, "fresh"), 0);
			}
		}
		/* An existing object too: the flags are checked first. */
		ck_assert_msg(open_raw(fd, k, id++, k->name, 0x100, false, NULL) == -EINVAL,
			      "%s.open of an existing %s with flag 0x100", k->name, k->name);
		ck_assert_msg(objects() == before, "%s.open with unknown flags left an object",
			      k->name);
	}
	close(fd);
}
END_TEST

/*
 * At the limit of 65536 handles, an open of any kind is -EMFILE, whether
 * it would create the object or find it, and a create makes nothing.  One
 * handle closed, the open succeeds.  _i is the kind.
 */
START_TEST(test_open_at_handle_limit_is_emfile_and_leaves_nothing)
{
	const struct kind *k = &kinds[_i];
	int fd, other;
	long before;

	harness_start(&h, NULL);
	other = raw_connect_greeted(h.sock);
	make_one_of_each(other);
	fd = raw_connect_greeted(h.sock);
	fill_handles(fd, "queue");
	before = objects();
	ck_assert_msg(open_raw(fd, k, 2, "fresh", IPC_OPEN_CREATE, false, NULL) == -EMFILE,
		      "%s.open creating at the handle limit", k->name);
	ck_assert_msg(objects() == before, "%s.open at the handle limit left an object", k->name);
	ck_assert_msg(open_raw(fd, k, 3, k->name, 0, false, NULL) == -EMFILE,
		      "%s.open of an existing %s at the handle limit", k->name, k->name);
	if (k->op == IPC_OP_P_OPEN) {
		ck_assert_int_eq(call_u(fd, IPC_OP_P_PAIR, 4, 0), -EMFILE);
		ck_assert_msg(objects() == before, "pipe.pair at the handle limit left a pipe");
	}
	/* The connection is served on, and a freed slot is used again. */
	ck_assert_int_eq(call_u(fd, IPC_OP_CLOSE, 5, 65536), 0);
	ck_assert_msg(open_raw(fd, k, 6, "fresh", IPC_OPEN_CREATE, false, NULL) == 0,
		      "%s.open after a handle was closed", k->name);
	ck_assert_int_eq(objects(), before + 1);
	close(fd);
	close(other);
}
END_TEST

/*
 * Names are unique across kinds: opening one under another kind's name is
 * -EINVAL, with or without create and exclusive, from every kind.
 */
START_TEST(test_open_of_another_kinds_name_is_einval_for_every_kind)
{
	static const uint64_t flags[] = { 0, IPC_OPEN_CREATE, IPC_OPEN_CREATE | IPC_OPEN_EXCLUSIVE };
	uint32_t id = 10;
	long before;
	int fd;

	harness_start(&h, NULL);
	fd = raw_connect_greeted(h.sock);
	make_one_of_each(fd);
	before = objects();
	for (int i = 0; i < NKINDS; i++) {
		for (int o = 0; o < NKINDS; o++) {
			if (o == i)
				continue;
			for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
				int st = open_raw(fd, &kinds[i], id++, kinds[o].name, flags[f], false,
						  NULL);

				ck_assert_msg(st == -EINVAL, "%s.open of %s '%s' with flags 0x%llx: %d",
					      kinds[i].name, kinds[o].name, kinds[o].name,
					      (unsigned long long)flags[f], st);
			}
		}
	}
	ck_assert_int_eq(objects(), before);
	close(fd);
}
END_TEST

/*
 * A durable create fails after the object was made when the state
 * directory cannot be made: the open is refused and the object removed
 * again, for queues and arrays, and the name is free.
 */
START_TEST(test_failed_durable_create_leaves_no_object)
{
	char file[sizeof h.dir + 16], state[sizeof h.dir + 32];
	const struct kind *durable_kinds[] = { &kinds[0], &kinds[2] };
	uint32_t id = 10;
	long before;
	int fd;

	harness_path(&h, "file", file, sizeof file);
	snprintf(state, sizeof state, "%s/state", file);
	/*
	 * The default state directory, missing at the start, is made when the
	 * first durable object needs it: by then its parent is a regular file.
	 */
	ck_assert_int_eq(setenv("STATE_DIRECTORY", state, 1), 0);
	harness_start(&h, NULL);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = raw_connect_greeted(h.sock);
	before = objects();
	for (size_t i = 0; i < sizeof durable_kinds / sizeof durable_kinds[0]; i++) {
		const struct kind *k = durable_kinds[i];
		uint64_t hd;
		int st = open_raw(fd, k, id++, "kept", IPC_OPEN_CREATE, true, NULL);

		ck_assert_msg(st == -ENOTDIR, "durable %s.open under a file: %d", k->name, st);
		ck_assert_msg(objects() == before, "a failed durable %s.open left an object",
			      k->name);
		ck_assert_msg(open_raw(fd, k, id++, "kept", 0, false, NULL) == -ENOENT,
			      "a failed durable %s.open left its name", k->name);
		ck_assert_int_eq(open_raw(fd, k, id++, "kept", IPC_OPEN_CREATE | IPC_OPEN_EXCLUSIVE,
					  false, &hd), 0);
		ck_assert_int_eq(call_u(fd, IPC_OP_CLOSE, id++, hd), 0);
		ck_assert_int_eq(unlink_raw(fd, id++, "kept"), 0);
	}
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *open_suite(void)
{
	Suite *s = suite_create("open");
	TCase *tc;

	tc = harness_tcase(s, "gate", 60, setup, teardown);
	tcase_add_test(tc, test_unknown_open_flags_are_einval_for_every_kind);
	tcase_add_test(tc, test_open_of_another_kinds_name_is_einval_for_every_kind);
	tcase_add_test(tc, test_failed_durable_create_leaves_no_object);
	/* 65,536 pipelined opens each: allow for a sanitizer on a loaded machine. */
	tc = harness_tcase(s, "limit", 300, setup, teardown);
	tcase_add_loop_test(tc, test_open_at_handle_limit_is_emfile_and_leaves_nothing, 0, NKINDS);
	return s;
}

int main(void)
{
	return harness_main(open_suite());
}
