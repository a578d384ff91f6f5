/*
 * test_ctl_parse.c - ipcctl's numbers: whole strings or nothing, no wrap.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <check.h>

#include "ctl_parse.h"

START_TEST(test_u64_takes_plain_decimals_only)
{
	uint64_t v = 7;

	ck_assert_int_eq(ctl_parse_u64("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(ctl_parse_u64("18446744073709551615", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(ctl_parse_u64("18446744073709551616", &v), -ERANGE);
	v = 7;
	ck_assert_int_eq(ctl_parse_u64("", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_u64("-1", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_u64("+1", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_u64(" 1", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_u64("1 ", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_u64("12x", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_u64("0x10", &v), -EINVAL);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_size_takes_binary_suffixes)
{
	uint64_t v;

	ck_assert_int_eq(ctl_parse_size("512", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(ctl_parse_size("4K", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(ctl_parse_size("4k", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(ctl_parse_size("2KiB", &v), 0);
	ck_assert_uint_eq(v, 2048);
	ck_assert_int_eq(ctl_parse_size("3MB", &v), 0);
	ck_assert_uint_eq(v, 3u << 20);
	ck_assert_int_eq(ctl_parse_size("1G", &v), 0);
	ck_assert_uint_eq(v, 1u << 30);
	ck_assert_int_eq(ctl_parse_size("10B", &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(ctl_parse_size("17179869184G", &v), -ERANGE);
	ck_assert_int_eq(ctl_parse_size("4T", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_size("4KK", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_size("K", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_size("-4K", &v), -EINVAL);
	ck_assert_int_eq(ctl_parse_size("4iB", &v), -EINVAL);
}
END_TEST

START_TEST(test_mode_is_octal_up_to_07777)
{
	unsigned m;

	ck_assert_int_eq(ctl_parse_mode("600", &m), 0);
	ck_assert_uint_eq(m, 0600);
	ck_assert_int_eq(ctl_parse_mode("0640", &m), 0);
	ck_assert_uint_eq(m, 0640);
	ck_assert_int_eq(ctl_parse_mode("7777", &m), 0);
	ck_assert_uint_eq(m, 07777);
	ck_assert_int_eq(ctl_parse_mode("10000", &m), -ERANGE);
	ck_assert_int_eq(ctl_parse_mode("8", &m), -EINVAL);
	ck_assert_int_eq(ctl_parse_mode("0x1ff", &m), -EINVAL);
	ck_assert_int_eq(ctl_parse_mode("rw", &m), -EINVAL);
}
END_TEST

START_TEST(test_timeout_is_milliseconds_or_minus_one)
{
	int t;

	ck_assert_int_eq(ctl_parse_timeout("0", &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(ctl_parse_timeout("1500", &t), 0);
	ck_assert_int_eq(t, 1500);
	ck_assert_int_eq(ctl_parse_timeout("-1", &t), 0);
	ck_assert_int_eq(t, -1);
	ck_assert_int_eq(ctl_parse_timeout("2147483647", &t), 0);
	ck_assert_int_eq(t, INT_MAX);
	ck_assert_int_eq(ctl_parse_timeout("2147483648", &t), -ERANGE);
	ck_assert_int_eq(ctl_parse_timeout("-2", &t), -EINVAL);
	ck_assert_int_eq(ctl_parse_timeout("-10", &t), -EINVAL);
	ck_assert_int_eq(ctl_parse_timeout("1s", &t), -EINVAL);
}
END_TEST

START_TEST(test_seconds_take_up_to_three_decimals)
{
	int ms = 7;

	ck_assert_int_eq(ctl_parse_seconds("1", &ms), 0);
	ck_assert_int_eq(ms, 1000);
	ck_assert_int_eq(ctl_parse_seconds("0.5", &ms), 0);
	ck_assert_int_eq(ms, 500);
	ck_assert_int_eq(ctl_parse_seconds("2.25", &ms), 0);
	ck_assert_int_eq(ms, 2250);
	ck_assert_int_eq(ctl_parse_seconds("0.125", &ms), 0);
	ck_assert_int_eq(ms, 125);
	ck_assert_int_eq(ctl_parse_seconds("86400", &ms), 0);
	ck_assert_int_eq(ms, 86400000);
	ck_assert_int_eq(ctl_parse_seconds("0.05", &ms), -ERANGE);
	ck_assert_int_eq(ctl_parse_seconds("0", &ms), -ERANGE);
	ck_assert_int_eq(ctl_parse_seconds("86400.001", &ms), -ERANGE);
	ck_assert_int_eq(ctl_parse_seconds("99999999999999999999999", &ms), -ERANGE);
	ck_assert_int_eq(ctl_parse_seconds("0.1250", &ms), -EINVAL);
	ck_assert_int_eq(ctl_parse_seconds("1.", &ms), -EINVAL);
	ck_assert_int_eq(ctl_parse_seconds(".5", &ms), -EINVAL);
	ck_assert_int_eq(ctl_parse_seconds("-1", &ms), -EINVAL);
	ck_assert_int_eq(ctl_parse_seconds("1s", &ms), -EINVAL);
	ck_assert_int_eq(ms, 86400000);
}
END_TEST

static Suite *ctl_parse_suite(void)
{
	Suite *s = suite_create("ctl_parse");
	TCase *tc = tcase_create("numbers");

	tcase_add_test(tc, test_u64_takes_plain_decimals_only);
	tcase_add_test(tc, test_size_takes_binary_suffixes);
	tcase_add_test(tc, test_mode_is_octal_up_to_07777);
	tcase_add_test(tc, test_timeout_is_milliseconds_or_minus_one);
	tcase_add_test(tc, test_seconds_take_up_to_three_decimals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
