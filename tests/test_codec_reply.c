/*
 * test_codec_reply.c - the reply decoder against the wire contract: an ok
 * reply, an error with its status and message, a push with its event, and
 * malformed replies refused with -EPROTO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "codec.h"

/* What a reply decode produced, copied out. */
struct rdecoded {
	int r;
	struct proto_reply rep;
	char msg[64];
	char event[64];
	int64_t res0;
};

static struct rdecoded decode_reply_sb(msgpack_sbuffer *sb)
{
	struct rdecoded d;
	msgpack_unpacked u;

	memset(&d, 0, sizeof d);
	msgpack_unpacked_init(&u);
	d.r = proto_decode_reply(sb->data, sb->size, &u, &d.rep);
	if (d.r == 0) {
		if (d.rep.msg) {
			ck_assert_uint_lt(d.rep.msglen, sizeof d.msg);
			memcpy(d.msg, d.rep.msg, d.rep.msglen);
		}
		if (d.rep.event) {
			ck_assert_uint_lt(d.rep.eventlen, sizeof d.event);
			memcpy(d.event, d.rep.event, d.rep.eventlen);
		}
		if (d.rep.nres > 0 && (d.rep.res[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
				       d.rep.res[0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER))
			d.res0 = proto_i64(&d.rep.res[0]);
	}
	d.rep.res = NULL;
	d.rep.msg = d.rep.event = NULL;
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(sb);
	return d;
}

START_TEST(test_ok_reply_decodes)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct rdecoded d;

	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 42);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, 17);
	msgpack_pack_str_with_body(&pk, "x", 1);
	d = decode_reply_sb(&sb);
	ck_assert_int_eq(d.r, 0);
	ck_assert_uint_eq(d.rep.id, 42);
	ck_assert_int_eq(d.rep.status, 0);
	ck_assert_uint_eq(d.rep.nres, 2);
	ck_assert_int_eq(d.res0, 17);
	ck_assert_uint_eq(d.rep.msglen, 0);

	/* No results at all. */
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, 0);
	d = decode_reply_sb(&sb);
	ck_assert_int_eq(d.r, 0);
	ck_assert_uint_eq(d.rep.nres, 0);
}
END_TEST

START_TEST(test_error_reply_carries_status_and_message)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct rdecoded d;

	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, 9);
	msgpack_pack_int32(&pk, -ENOENT);
	msgpack_pack_str_with_body(&pk, "no such queue", 13);
	d = decode_reply_sb(&sb);
	ck_assert_int_eq(d.r, 0);
	ck_assert_uint_eq(d.rep.id, 9);
	ck_assert_int_eq(d.rep.status, -ENOENT);
	ck_assert_uint_eq(d.rep.msglen, 13);
	ck_assert_str_eq(d.msg, "no such queue");

	/* The largest errno. */
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, 9);
	msgpack_pack_int32(&pk, -4095);
	msgpack_pack_str_with_body(&pk, "m", 1);
	d = decode_reply_sb(&sb);
	ck_assert_int_eq(d.r, 0);
	ck_assert_int_eq(d.rep.status, -4095);
}
END_TEST

START_TEST(test_push_decodes_with_event)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct rdecoded d;

	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, IPC_PUSH_ID);
	msgpack_pack_str_with_body(&pk, "error", 5);
	msgpack_pack_int32(&pk, -EPROTO);
	msgpack_pack_str_with_body(&pk, "bad frame", 9);
	d = decode_reply_sb(&sb);
	ck_assert_int_eq(d.r, 0);
	ck_assert_uint_eq(d.rep.id, IPC_PUSH_ID);
	ck_assert_int_eq(d.rep.status, 0);
	ck_assert_str_eq(d.event, "error");
	ck_assert_uint_eq(d.rep.nres, 2);
	ck_assert_int_eq(d.res0, -EPROTO);
}
END_TEST

START_TEST(test_malformed_reply_is_eproto)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	/* Not an array; too short. */
	raw_packer(&sb, &pk);
	msgpack_pack_uint32(&pk, 1);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint32(&pk, 1);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);

	/* id negative, or too large, or a string. */
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int32(&pk, -1);
	msgpack_pack_uint32(&pk, 0);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, (uint64_t)UINT32_MAX + 1);
	msgpack_pack_uint32(&pk, 0);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "1", 1);
	msgpack_pack_uint32(&pk, 0);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);

	/* Status positive, beyond the errno range, or not an integer. */
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, 3);
	msgpack_pack_uint32(&pk, 5);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, 3);
	msgpack_pack_int32(&pk, -5000);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, 3);
	msgpack_pack_str_with_body(&pk, "ok", 2);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);

	/* A push whose event is not a string. */
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, IPC_PUSH_ID);
	msgpack_pack_uint32(&pk, 0);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);

	/* Trailing bytes after a good reply, and a truncated one. */
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, 3);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);
	raw_packer(&sb, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, 3);
	msgpack_pack_uint32(&pk, 0);
	ck_assert_int_eq(decode_reply_sb(&sb).r, -EPROTO);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *codec_reply_suite(void)
{
	Suite *s = suite_create("codec_reply");
	TCase *tc = tcase_create("reply");

	tcase_add_test(tc, test_ok_reply_decodes);
	tcase_add_test(tc, test_error_reply_carries_status_and_message);
	tcase_add_test(tc, test_push_decodes_with_event);
	tcase_add_test(tc, test_malformed_reply_is_eproto);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_main(codec_reply_suite());
}
