/*
 * test_ctl_print.c - ipcctl's text output: tables and "key: value" lines
 * print whatever shape of map the daemon sends, '-' where a key is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <check.h>

#include "ctl_print.h"

/* Run print on the msgpack value packed by pack; return what it printed. */
static char *print_to_string(void (*pack)(msgpack_packer *pk),
			     void (*print)(FILE *out, const msgpack_object *o))
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	msgpack_unpacked u;
	size_t off = 0, len = 0;
	char *text = NULL;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	pack(&pk);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, buf.data, buf.size, &off), MSGPACK_UNPACK_SUCCESS);
	print(out, &u.data);
	fclose(out);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&buf);
	return text;
}

static void pack_key(msgpack_packer *pk, const char *key)
{
	msgpack_pack_str_with_body(pk, key, strlen(key));
}

static void pack_objects(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_map(pk, 6);
	pack_key(pk, "kind");
	pack_key(pk, "queue");
	pack_key(pk, "name");
	pack_key(pk, "jobs");
	pack_key(pk, "mode");
	msgpack_pack_unsigned_int(pk, 0640);
	pack_key(pk, "depth");
	msgpack_pack_unsigned_int(pk, 12);
	pack_key(pk, "bytes");
	msgpack_pack_unsigned_int(pk, 3400);
	pack_key(pk, "extra");               /* not a column: not shown */
	msgpack_pack_true(pk);
	msgpack_pack_map(pk, 2);              /* another kind, fewer keys */
	pack_key(pk, "kind");
	pack_key(pk, "pipe");
	pack_key(pk, "name");
	pack_key(pk, "a\x1b[2Jb");
	msgpack_pack_nil(pk);                 /* not even a map */
}

static void print_objects(FILE *out, const msgpack_object *o)
{
	static const struct ctl_column cols[] = {
		{ "KIND", "kind", CTL_COL_TEXT },
		{ "NAME", "name", CTL_COL_TEXT },
		{ "OWNER", NULL, CTL_COL_OWNER },
		{ "MODE", "mode", CTL_COL_MODE },
		{ "DEPTH", "depth", CTL_COL_NUMBER },
		{ "BYTES", "bytes", CTL_COL_NUMBER },
	};

	ctl_print_table(out, cols, sizeof(cols) / sizeof(cols[0]), o);
}

START_TEST(test_table_pads_columns_and_dashes_missing_keys)
{
	char *text = print_to_string(pack_objects, print_objects);

	ck_assert_str_eq(text,
		"KIND   NAME    OWNER  MODE  DEPTH  BYTES\n"
		"queue  jobs    -      0640     12   3400\n"
		"pipe   a?[2Jb  -      -         -      -\n"
		"-      -       -      -         -      -\n");
	free(text);
}
END_TEST

static void pack_status(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6);
	pack_key(pk, "version");
	pack_key(pk, "0.1.0");
	pack_key(pk, "uptime");
	msgpack_pack_unsigned_int(pk, 3725);
	pack_key(pk, "memory");
	msgpack_pack_unsigned_int(pk, 1536);
	pack_key(pk, "max_memory");
	msgpack_pack_unsigned_int(pk, 0);
	pack_key(pk, "mode");
	msgpack_pack_unsigned_int(pk, 0600);
	pack_key(pk, "future");
	msgpack_pack_array(pk, 2);
	msgpack_pack_int(pk, -1);
	pack_key(pk, "x");
}

START_TEST(test_map_lines_keep_exact_numbers)
{
	char *text = print_to_string(pack_status, ctl_print_map);

	ck_assert_str_eq(text,
		"version: 0.1.0\n"
		"uptime: 3725 (1h 2m 5s)\n"
		"memory: 1536 (1.5 KiB)\n"
		"max_memory: 0 (unlimited)\n"
		"mode: 0600\n"
		"future: [-1,\"x\"]\n");
	free(text);
}
END_TEST

static void pack_clients(msgpack_packer *pk)
{
	static const uint64_t ms[] = { 850, 3200, 192000 };

	msgpack_pack_array(pk, 3);
	for (int i = 0; i < 3; i++) {
		msgpack_pack_map(pk, 1);
		pack_key(pk, "age_ms");
		msgpack_pack_uint64(pk, ms[i]);
	}
}

static void print_ages(FILE *out, const msgpack_object *o)
{
	static const struct ctl_column cols[] = { { "AGE", "age_ms", CTL_COL_AGE_MS } };

	ctl_print_table(out, cols, 1, o);
}

START_TEST(test_durations_in_milliseconds_read_as_durations)
{
	char *text = print_to_string(pack_clients, print_ages);

	ck_assert_str_eq(text, "AGE\n850ms\n3.2s\n3m 12s\n");
	free(text);
}
END_TEST

static void pack_ctime(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_map(pk, 1);
	pack_key(pk, "ctime");
	msgpack_pack_uint64(pk, 86400 * 365);
	msgpack_pack_map(pk, 0);
}

static void print_ctime(FILE *out, const msgpack_object *o)
{
	static const struct ctl_column cols[] = { { "CREATED", "ctime", CTL_COL_TIME } };

	ctl_print_table(out, cols, 1, o);
}

START_TEST(test_creation_time_is_a_local_date)
{
	char *text;

	setenv("TZ", "UTC", 1);
	tzset();
	text = print_to_string(pack_ctime, print_ctime);
	ck_assert_str_eq(text, "CREATED\n1971-01-01 00:00:00\n-\n");
	free(text);
}
END_TEST

static Suite *ctl_print_suite(void)
{
	Suite *s = suite_create("ctl_print");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, test_table_pads_columns_and_dashes_missing_keys);
	tcase_add_test(tc, test_map_lines_keep_exact_numbers);
	tcase_add_test(tc, test_durations_in_milliseconds_read_as_durations);
	tcase_add_test(tc, test_creation_time_is_a_local_date);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_print_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
