/*
 * test_codec_request.c - the request decoder against the wire contract.
 *
 * Requests are built from each operation's argument spec in IPC_OPS
 * (request_gen.h), so a new operation is covered without touching this
 * file.  Malformed bodies must give the documented error: -EPROTO when the
 * stream cannot be trusted, -EOPNOTSUPP (id set) for an unknown operation,
 * -EINVAL (id set) for missing, extra or mistyped arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "codec.h"
#include "request_gen.h"

START_TEST(test_every_op_round_trips)
{
	size_t k;

	for (k = 0; k < NOPS; k++) {
		unsigned op = all_ops[k];
		char letters[PROTO_MAX_ARGS * 2];
		size_t nreq, nmax, n;

		ck_assert_ptr_nonnull(proto_op_name(op));
		spec_letters(op, letters, &nreq, &nmax);
		ck_assert_uint_le(nmax, PROTO_MAX_ARGS);
		/* Every count from the required ones to all of them is valid. */
		for (n = nreq; n <= nmax; n++) {
			msgpack_sbuffer sb;
			struct proto_req req;
			msgpack_unpacked u;
			char err[128];
			size_t i;
			int r;

			pack_request(&sb, op, 1000 + op, n, SIZE_MAX, V_NIL);
			msgpack_unpacked_init(&u);
			r = proto_decode_request(sb.data, sb.size, &u, &req, err, sizeof err);
			ck_assert_msg(r == 0, "%s with %zu args: %d (%s)", proto_op_name(op), n, r, err);
			ck_assert_uint_eq(req.op, op);
			ck_assert_uint_eq(req.id, 1000 + op);
			ck_assert_uint_eq(req.argc, n);
			for (i = 0; i < n; i++) {
				uint32_t blen;

				switch (letters[i]) {
				case 'u': case 'h':
					ck_assert_uint_eq(proto_u64(&req.argv[i]), 7);
					break;
				case 'i':
					ck_assert_int_eq(proto_i64(&req.argv[i]), -5);
					break;
				case 's':
					ck_assert_uint_eq(req.argv[i].via.str.size, 4);
					ck_assert_mem_eq(proto_bytes(&req.argv[i], &blen), "name", 4);
					break;
				case 'b':
					ck_assert_ptr_nonnull(proto_bytes(&req.argv[i], &blen));
					ck_assert_uint_eq(blen, 3);
					ck_assert_mem_eq(proto_bytes(&req.argv[i], &blen), "\0\1\2", 3);
					break;
				case 'm':
					ck_assert_uint_eq(proto_u64(proto_map_get(&req.argv[i], "maxsize")), 1);
					break;
				case 'n':
					ck_assert(req.argv[i].type == MSGPACK_OBJECT_FLOAT64);
					ck_assert(req.argv[i].via.f64 == 1.5);
					break;
				}
			}
			msgpack_unpacked_destroy(&u);
			msgpack_sbuffer_destroy(&sb);
		}
	}
}
END_TEST

START_TEST(test_op_table_is_consistent)
{
	unsigned op;
	size_t k, known = 0;

	/* The name and spec lookups agree with IPC_OPS and with each other. */
	for (op = 0; op <= IPC_OP_MAX + 1; op++) {
		int listed = 0;

		for (k = 0; k < NOPS; k++)
			listed |= all_ops[k] == op;
		if (listed) {
			known++;
			ck_assert_ptr_nonnull(proto_op_name(op));
			ck_assert_ptr_nonnull(proto_op_args(op));
		} else {
			ck_assert_msg(proto_op_name(op) == NULL, "op %u has a name", op);
			ck_assert_msg(proto_op_args(op) == NULL, "op %u has a spec", op);
		}
	}
	ck_assert_uint_eq(known, NOPS);
	ck_assert_ptr_null(proto_op_name(100000));
	ck_assert_str_eq(proto_kind_name(IPC_KIND_QUEUE), "queue");
	ck_assert_str_eq(proto_kind_name(12345), "?");
}
END_TEST

START_TEST(test_truncated_body_is_eproto)
{
	size_t k, cut;

	for (k = 0; k < NOPS; k++) {
		msgpack_sbuffer sb;
		char letters[PROTO_MAX_ARGS * 2];
		size_t nreq, nmax;

		spec_letters(all_ops[k], letters, &nreq, &nmax);
		pack_request(&sb, all_ops[k], 77, nmax, SIZE_MAX, V_NIL);
		for (cut = 0; cut < sb.size; cut++) {
			struct decoded d = decode(sb.data, cut);

			ck_assert_msg(d.r == -EPROTO, "%s cut to %zu of %zu bytes: %d",
				      proto_op_name(all_ops[k]), cut, sb.size, d.r);
			ck_assert_uint_eq(d.id, 0);
		}
		msgpack_sbuffer_destroy(&sb);
	}
}
END_TEST

START_TEST(test_trailing_garbage_is_eproto)
{
	static const unsigned char tails[][3] = { { 0xc0 }, { 0x01 }, { 0x92, 0x01, 0x01 } };
	size_t t;

	for (t = 0; t < sizeof tails / sizeof tails[0]; t++) {
		msgpack_sbuffer sb;
		struct decoded d;

		pack_request(&sb, IPC_OP_PING, 9, 0, SIZE_MAX, V_NIL);
		msgpack_sbuffer_write(&sb, (const char *)tails[t], t == 2 ? 3 : 1);
		d = decode_sb(&sb);
		ck_assert_int_eq(d.r, -EPROTO);
		ck_assert_uint_eq(d.id, 0);
	}
}
END_TEST

START_TEST(test_not_a_request_array_is_eproto)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct decoded d;
	enum val v;

	/* Any single value that is not an array. */
	for (v = 0; v < V_COUNT; v++) {
		if (v == V_ARRAY)
			continue;
		raw_packer(&sb, &pk);
		pack_val(&pk, v);
		d = decode_sb(&sb);
		ck_assert_msg(d.r == -EPROTO, "%s: %d", val_names[v], d.r);
	}

	/* Empty array, and [op] without an id. */
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 0);
	ck_assert_int_eq(decode_sb(&sb).r, -EPROTO);
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint32(&pk, IPC_OP_PING);
	ck_assert_int_eq(decode_sb(&sb).r, -EPROTO);

	/* op or id of any other type than an unsigned integer. */
	for (v = 0; v < V_COUNT; v++) {
		if (v == V_UINT)
			continue;
		raw_packer(&sb, &pk);
		msgpack_pack_array(&pk, 2);
		pack_val(&pk, v);
		msgpack_pack_uint32(&pk, 3);
		d = decode_sb(&sb);
		ck_assert_msg(d.r == -EPROTO, "op of type %s: %d", val_names[v], d.r);

		raw_packer(&sb, &pk);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint32(&pk, IPC_OP_PING);
		pack_val(&pk, v);
		d = decode_sb(&sb);
		ck_assert_msg(d.r == -EPROTO, "id of type %s: %d", val_names[v], d.r);
		ck_assert_uint_eq(d.id, 0);
	}

	/* An empty body. */
	ck_assert_int_eq(decode("", 0).r, -EPROTO);
}
END_TEST

START_TEST(test_id_zero_or_too_large_is_eproto)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct decoded d;

	pack_request(&sb, IPC_OP_PING, 0, 0, SIZE_MAX, V_NIL);
	d = decode_sb(&sb);
	ck_assert_int_eq(d.r, -EPROTO);
	ck_assert_uint_eq(d.id, 0);

	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, IPC_OP_PING);
	msgpack_pack_uint64(&pk, (uint64_t)UINT32_MAX + 1);
	ck_assert_int_eq(decode_sb(&sb).r, -EPROTO);

	/* The largest id is fine. */
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, IPC_OP_PING);
	msgpack_pack_uint32(&pk, UINT32_MAX);
	d = decode_sb(&sb);
	ck_assert_int_eq(d.r, 0);
	ck_assert_uint_eq(d.id, UINT32_MAX);
}
END_TEST

START_TEST(test_unknown_op_is_eopnotsupp_with_id)
{
	static const uint64_t ops[] = { 0, 0x7f, 0x1f, IPC_OP_MAX, IPC_OP_MAX + 1, 100000,
					(uint64_t)UINT32_MAX + 5 };
	size_t i;

	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		struct decoded d;

		if (ops[i] <= IPC_OP_MAX && proto_op_name((unsigned)ops[i]))
			continue;
		raw_packer(&sb, &pk);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint64(&pk, ops[i]);
		msgpack_pack_uint32(&pk, 5);
		msgpack_pack_nil(&pk);
		d = decode_sb(&sb);
		ck_assert_msg(d.r == -EOPNOTSUPP, "op %llu: %d", (unsigned long long)ops[i], d.r);
		ck_assert_uint_eq(d.id, 5);
	}
}
END_TEST

START_TEST(test_missing_args_are_einval)
{
	size_t k, n;

	for (k = 0; k < NOPS; k++) {
		char letters[PROTO_MAX_ARGS * 2];
		size_t nreq, nmax;

		spec_letters(all_ops[k], letters, &nreq, &nmax);
		for (n = 0; n < nreq; n++) {
			msgpack_sbuffer sb;
			struct decoded d;

			pack_request(&sb, all_ops[k], 12, n, SIZE_MAX, V_NIL);
			d = decode_sb(&sb);
			ck_assert_msg(d.r == -EINVAL, "%s with %zu of %zu args: %d",
				      proto_op_name(all_ops[k]), n, nreq, d.r);
			ck_assert_uint_eq(d.id, 12);
		}
	}
}
END_TEST

START_TEST(test_too_many_args_are_einval)
{
	size_t k, extra;

	for (k = 0; k < NOPS; k++) {
		char letters[PROTO_MAX_ARGS * 2];
		size_t nreq, nmax;

		spec_letters(all_ops[k], letters, &nreq, &nmax);
		for (extra = 1; extra <= 3; extra++) {
			msgpack_sbuffer sb;
			struct decoded d;

			pack_request(&sb, all_ops[k], 13, nmax + extra, SIZE_MAX, V_NIL);
			d = decode_sb(&sb);
			ck_assert_msg(d.r == -EINVAL, "%s with %zu extra args: %d",
				      proto_op_name(all_ops[k]), extra, d.r);
			ck_assert_uint_eq(d.id, 13);
		}
	}
}
END_TEST

START_TEST(test_wrong_arg_types_are_einval)
{
	size_t k, pos;
	enum val v;

	/* Every value kind in every position: accepted exactly when it fits. */
	for (k = 0; k < NOPS; k++) {
		char letters[PROTO_MAX_ARGS * 2];
		size_t nreq, nmax;

		spec_letters(all_ops[k], letters, &nreq, &nmax);
		for (pos = 0; pos < nmax; pos++) {
			for (v = 0; v < V_COUNT; v++) {
				msgpack_sbuffer sb;
				struct decoded d;
				int want = val_fits(letters[pos], v) ? 0 : -EINVAL;

				pack_request(&sb, all_ops[k], 14, nmax, pos, v);
				d = decode_sb(&sb);
				ck_assert_msg(d.r == want, "%s arg %zu ('%c') as %s: %d, want %d",
					      proto_op_name(all_ops[k]), pos + 1, letters[pos],
					      val_names[v], d.r, want);
				ck_assert_uint_eq(d.id, 14);
			}
		}
	}
}
END_TEST

START_TEST(test_error_message_fits_small_buffer)
{
	msgpack_sbuffer sb;
	struct proto_req req;
	msgpack_unpacked u;
	char err[8];

	memset(err, 'x', sizeof err);
	pack_request(&sb, IPC_OP_Q_PUT, 3, 1, SIZE_MAX, V_NIL);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(proto_decode_request(sb.data, sb.size, &u, &req, err, sizeof err), -EINVAL);
	ck_assert_int_eq(err[sizeof err - 1], '\0');
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_huge_counts_are_eproto)
{
	/* Headers announcing far more than the body holds: 5 to 7 bytes each. */
	static const struct {
		const char *body;
		size_t len;
	} bad[] = {
		{ "\xdd\xff\xff\xff\xff", 5 },           /* array of 2^32-1 */
		{ "\xdf\xff\xff\xff\xff", 5 },           /* map of 2^32-1 pairs */
		{ "\xdb\xff\xff\xff\xff", 5 },           /* str of 4 GiB */
		{ "\xc6\xff\xff\xff\xff", 5 },           /* bin of 4 GiB */
		{ "\x92\x02\xdd\x00\xff\xff\xff", 7 },   /* [2, array of 2^24-1] */
		{ "\x93\x02\x01\xdf\x10\x00\x00\x00", 8 }, /* [2, 1, map of 2^28] */
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct decoded d = decode(bad[i].body, bad[i].len);

		ck_assert_msg(d.r == -EPROTO, "body %zu: %d", i, d.r);
	}
}
END_TEST

/* put_many of n one-byte messages: [0x17, 1, handle 1, timeout 0, [bin x n]]. */
static void pack_put_many(msgpack_sbuffer *sb, unsigned n)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, IPC_OP_Q_PUT_MANY);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_array(&pk, n);
	for (unsigned i = 0; i < n; i++)
		msgpack_pack_bin_with_body(&pk, "x", 1);
}

/* The largest real request decodes; one of more values than any has does not. */
START_TEST(test_value_count_is_bounded)
{
	msgpack_sbuffer sb;
	struct decoded d;

	pack_put_many(&sb, IPC_BATCH_MAX_MSGS);
	d = decode(sb.data, sb.size);
	ck_assert_int_eq(d.r, 0);
	msgpack_sbuffer_destroy(&sb);
	/* 6 values around the batch: one value past the bound is refused. */
	pack_put_many(&sb, PROTO_REQ_MAX_VALUES - 6);
	d = decode(sb.data, sb.size);
	ck_assert_int_eq(d.r, 0);   /* decoded; the daemon refuses the batch's size itself */
	msgpack_sbuffer_destroy(&sb);
	pack_put_many(&sb, PROTO_REQ_MAX_VALUES - 5);
	d = decode(sb.data, sb.size);
	ck_assert_int_eq(d.r, -EPROTO);
	msgpack_sbuffer_destroy(&sb);
	/* Replies are not bounded: a list of many objects is one. */
	ck_assert(proto_is_one_value("\x93\x80\x80\x80", 4));
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *codec_request_suite(void)
{
	Suite *s = suite_create("codec_request");
	TCase *tc = tcase_create("request");

	tcase_add_test(tc, test_every_op_round_trips);
	tcase_add_test(tc, test_op_table_is_consistent);
	tcase_add_test(tc, test_truncated_body_is_eproto);
	tcase_add_test(tc, test_trailing_garbage_is_eproto);
	tcase_add_test(tc, test_not_a_request_array_is_eproto);
	tcase_add_test(tc, test_id_zero_or_too_large_is_eproto);
	tcase_add_test(tc, test_unknown_op_is_eopnotsupp_with_id);
	tcase_add_test(tc, test_missing_args_are_einval);
	tcase_add_test(tc, test_too_many_args_are_einval);
	tcase_add_test(tc, test_wrong_arg_types_are_einval);
	tcase_add_test(tc, test_error_message_fits_small_buffer);
	tcase_add_test(tc, test_huge_counts_are_eproto);
	tcase_add_test(tc, test_value_count_is_bounded);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_main(codec_request_suite());
}
