/*
 * test_ctl_json.c - ipcctl's msgpack <-> JSON conversion.
 *
 * JSON typed by a user must come back as the same compact text after a trip
 * through msgpack; bytes that are not one msgpack value must print as an
 * escaped string and never fail.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ctl_json.h"

/* The compact text ipcctl prints for a message of len bytes. */
static char *show_message(const void *data, size_t len, int *was_msgpack)
{
	json_t *v = ctl_json_from_message(data, len, was_msgpack);
	char *text;

	ck_assert_ptr_nonnull(v);
	text = ctl_json_dumps(v);
	ck_assert_ptr_nonnull(text);
	json_decref(v);
	return text;
}

/* JSON text -> msgpack -> the text ipcctl would print. */
static char *round_trip(const char *in)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	json_error_t err;
	json_t *v = json_loads(in, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	char *out;
	int was_msgpack = 0;

	ck_assert_msg(v != NULL, "%s: %s", in, err.text);
	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	ck_assert_int_eq(ctl_json_to_msgpack(v, &pk), 0);
	json_decref(v);
	out = show_message(buf.data, buf.size, &was_msgpack);
	ck_assert_int_eq(was_msgpack, 1);
	msgpack_sbuffer_destroy(&buf);
	return out;
}

static void assert_round_trip(const char *in, const char *want)
{
	char *out = round_trip(in);

	ck_assert_str_eq(out, want);
	free(out);
}

START_TEST(test_nested_values_round_trip)
{
	assert_round_trip("[42, null, \"hello\"]", "[42,null,\"hello\"]");
	assert_round_trip("{\"a\": [1, {\"b\": [true, false, null]}], \"c\": {}}",
			  "{\"a\":[1,{\"b\":[true,false,null]}],\"c\":{}}");
	assert_round_trip("[[[[[[[[[[\"deep\"]]]]]]]]]]", "[[[[[[[[[[\"deep\"]]]]]]]]]]");
	assert_round_trip("[]", "[]");
}
END_TEST

START_TEST(test_scalars_round_trip)
{
	assert_round_trip("0", "0");
	assert_round_trip("-7", "-7");
	assert_round_trip("9223372036854775807", "9223372036854775807");
	assert_round_trip("-9223372036854775808", "-9223372036854775808");
	assert_round_trip("true", "true");
	assert_round_trip("null", "null");
	assert_round_trip("\"\"", "\"\"");
	assert_round_trip("\"a\\u0000b\"", "\"a\\u0000b\"");
}
END_TEST

START_TEST(test_reals_print_in_fewest_digits)
{
	assert_round_trip("0.1", "0.1");
	assert_round_trip("[1.5, -2.25, 3.0]", "[1.5,-2.25,3.0]");
	assert_round_trip("0.30000000000000004", "0.30000000000000004");
	assert_round_trip("1e300", "1e300");
}
END_TEST

START_TEST(test_object_keeps_member_order)
{
	assert_round_trip("{\"z\": 1, \"a\": 2, \"m\": 3}", "{\"z\":1,\"a\":2,\"m\":3}");
}
END_TEST

START_TEST(test_output_is_ascii_with_escapes)
{
	assert_round_trip("\"h\\u00e9llo\\n\"", "\"h\\u00E9llo\\n\"");
	assert_round_trip("\"\\u65e5\"", "\"\\u65E5\"");
}
END_TEST

START_TEST(test_invalid_msgpack_falls_back_to_escaped_string)
{
	/* 0xc1 is never used by msgpack. */
	static const unsigned char never_used[] = { 0xc1, 'a' };
	/* An array of two announced, one given. */
	static const unsigned char truncated[] = { 0x92, 0x01 };
	int was_msgpack = 1;
	char *out;

	out = show_message(never_used, sizeof(never_used), &was_msgpack);
	ck_assert_int_eq(was_msgpack, 0);
	ck_assert_str_eq(out, "\"\\u00C1a\"");
	free(out);
	out = show_message(truncated, sizeof(truncated), &was_msgpack);
	ck_assert_int_eq(was_msgpack, 0);
	ck_assert_str_eq(out, "\"\\u0092\\u0001\"");
	free(out);
}
END_TEST

START_TEST(test_plain_text_is_shown_as_text)
{
	/* Several msgpack values in a row are not one value: shown as text. */
	char *out = show_message("hello world", 11, NULL);

	ck_assert_str_eq(out, "\"hello world\"");
	free(out);
}
END_TEST

START_TEST(test_empty_message_is_empty_string)
{
	int was_msgpack = 1;
	char *out = show_message("", 0, &was_msgpack);

	ck_assert_int_eq(was_msgpack, 0);
	ck_assert_str_eq(out, "\"\"");
	free(out);
}
END_TEST

START_TEST(test_bin_and_bad_utf8_become_strings)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	char *out;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin_with_body(&pk, "ok", 2);
	msgpack_pack_bin_with_body(&pk, "\xff\x00", 2);
	msgpack_pack_str_with_body(&pk, "\xc3(", 2);    /* broken UTF-8 */
	out = show_message(buf.data, buf.size, NULL);
	ck_assert_str_eq(out, "[\"ok\",\"\\u00FF\\u0000\",\"\\u00C3(\"]");
	free(out);
	msgpack_sbuffer_destroy(&buf);
}
END_TEST

START_TEST(test_non_string_keys_are_stringified)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	char *out;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "one", 3);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int(&pk, 2);
	msgpack_pack_int(&pk, 3);
	out = show_message(buf.data, buf.size, NULL);
	ck_assert_str_eq(out, "{\"1\":\"one\",\"null\":true,\"[2]\":3}");
	free(out);
	msgpack_sbuffer_destroy(&buf);
}
END_TEST

START_TEST(test_numbers_json_cannot_carry)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	char *out;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_double(&pk, NAN);
	msgpack_pack_double(&pk, -INFINITY);
	msgpack_pack_float(&pk, 0.1f);
	out = show_message(buf.data, buf.size, NULL);
	/* One precision serves every real in a value: 0.1 takes 17 digits here. */
	ck_assert_str_eq(out, "[1.8446744073709552e19,null,null,0.10000000000000001]");
	free(out);
	msgpack_sbuffer_clear(&buf);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_float(&pk, 0.1f);
	msgpack_pack_float(&pk, 3.25f);
	out = show_message(buf.data, buf.size, NULL);
	ck_assert_str_eq(out, "[0.1,3.25]");
	free(out);
	msgpack_sbuffer_destroy(&buf);
}
END_TEST

START_TEST(test_ext_becomes_object)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	char *out;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	msgpack_pack_ext_with_body(&pk, "ab", 2, 5);
	out = show_message(buf.data, buf.size, NULL);
	ck_assert_str_eq(out, "{\"ext\":5,\"data\":\"ab\"}");
	free(out);
	msgpack_sbuffer_destroy(&buf);
}
END_TEST

START_TEST(test_garbage_never_crashes)
{
	unsigned char bytes[64];

	srand(1);
	for (int n = 0; n < 20000; n++) {
		size_t len = (size_t)(rand() % (int)sizeof(bytes));
		json_t *v;

		for (size_t i = 0; i < len; i++)
			bytes[i] = (unsigned char)rand();
		v = ctl_json_from_message(bytes, len, NULL);
		ck_assert_ptr_nonnull(v);
		free(ctl_json_dumps(v));
		json_decref(v);
	}
}
END_TEST

START_TEST(test_deep_nesting_never_crashes)
{
	size_t depth = 100000;
	unsigned char *bytes = malloc(depth + 1);
	json_t *v;

	ck_assert_ptr_nonnull(bytes);
	memset(bytes, 0x91, depth);     /* an array of one, nested */
	bytes[depth] = 0xc0;
	v = ctl_json_from_message(bytes, depth + 1, NULL);
	ck_assert_ptr_nonnull(v);
	free(ctl_json_dumps(v));
	json_decref(v);
	free(bytes);
}
END_TEST

START_TEST(test_every_msgpack_format_is_one_value)
{
	static const size_t ext_sizes[] = { 1, 2, 4, 8, 16, 3, 300 };
	static const size_t str_sizes[] = { 5, 40, 300, 70000 };
	char *big = calloc(70000, 1);
	msgpack_sbuffer buf;
	msgpack_packer pk;
	msgpack_unpacked u;
	size_t nitems = 0;

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 70000);
	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 70);
	/* Integers of every width, floats, ext, str and bin of every length field. */
	for (int i = 0; i < 4; i++, nitems += 2) {
		static const int shifts[] = { 0, 8, 24, 48 };   /* 8, 16, 32, 64 bits */

		msgpack_pack_uint64(&pk, 200ull << shifts[i]);
		msgpack_pack_int64(&pk, -(200ll << shifts[i]));
	}
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, 2.5);
	nitems += 2;
	for (size_t i = 0; i < sizeof(ext_sizes) / sizeof(ext_sizes[0]); i++, nitems++)
		msgpack_pack_ext_with_body(&pk, big, ext_sizes[i], 1);
	for (size_t i = 0; i < sizeof(str_sizes) / sizeof(str_sizes[0]); i++, nitems += 2) {
		msgpack_pack_str_with_body(&pk, big, str_sizes[i]);
		msgpack_pack_bin_with_body(&pk, big, str_sizes[i]);
	}
	msgpack_pack_array(&pk, 20);            /* array16 */
	for (int i = 0; i < 20; i++)
		msgpack_pack_int(&pk, i);
	msgpack_pack_map(&pk, 20);              /* map16 */
	for (int i = 0; i < 20; i++) {
		msgpack_pack_int(&pk, i);
		msgpack_pack_nil(&pk);
	}
	nitems += 2;
	while (nitems++ < 70)
		msgpack_pack_true(&pk);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(ctl_json_unpack(buf.data, buf.size, &u), 0);
	ck_assert_int_eq(u.data.via.array.size, 70);
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	ck_assert_int_lt(ctl_json_unpack(buf.data, buf.size - 1, &u), 0);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&buf);
	free(big);
}
END_TEST

START_TEST(test_huge_counts_are_refused_not_allocated)
{
	static const unsigned char array32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 };
	static const unsigned char map32[] = { 0x81, 0xc0, 0xdf, 0x7f, 0xff, 0xff, 0xff };
	static const unsigned char str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
	int was_msgpack = 1;
	char *out;

	out = show_message(array32, sizeof(array32), &was_msgpack);
	ck_assert_int_eq(was_msgpack, 0);
	free(out);
	out = show_message(map32, sizeof(map32), &was_msgpack);
	ck_assert_int_eq(was_msgpack, 0);
	free(out);
	out = show_message(str32, sizeof(str32), &was_msgpack);
	ck_assert_int_eq(was_msgpack, 0);
	ck_assert_str_eq(out, "\"\\u00DB\\u00FF\\u00FF\\u00FF\\u00FFa\"");
	free(out);
}
END_TEST

static Suite *ctl_json_suite(void)
{
	Suite *s = suite_create("ctl_json");
	TCase *tc = tcase_create("convert");

	tcase_add_test(tc, test_nested_values_round_trip);
	tcase_add_test(tc, test_scalars_round_trip);
	tcase_add_test(tc, test_reals_print_in_fewest_digits);
	tcase_add_test(tc, test_object_keeps_member_order);
	tcase_add_test(tc, test_output_is_ascii_with_escapes);
	tcase_add_test(tc, test_invalid_msgpack_falls_back_to_escaped_string);
	tcase_add_test(tc, test_plain_text_is_shown_as_text);
	tcase_add_test(tc, test_empty_message_is_empty_string);
	tcase_add_test(tc, test_bin_and_bad_utf8_become_strings);
	tcase_add_test(tc, test_non_string_keys_are_stringified);
	tcase_add_test(tc, test_numbers_json_cannot_carry);
	tcase_add_test(tc, test_ext_becomes_object);
	tcase_add_test(tc, test_every_msgpack_format_is_one_value);
	tcase_add_test(tc, test_huge_counts_are_refused_not_allocated);
	tcase_add_test(tc, test_garbage_never_crashes);
	tcase_add_test(tc, test_deep_nesting_never_crashes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
