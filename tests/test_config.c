/*
 * test_config.c - unit tests of daemon/config.c: the settings table, the
 * configuration file's syntax and errors, and the order defaults, file,
 * command line.  The daemon's use of each setting is in test_service.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "config.h"
#include "qlog.h"
#include "harness.h"

static struct harness h;
static char err[512];

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* Write text to name in the test directory; the path goes to path. */
static void write_file(const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	harness_path(&h, name, path, len);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Load text as a configuration file; returns config_load's result. */
static int load_text(struct config *cfg, const char *text, char *path, size_t len)
{
	write_file("ipcd.conf", text, path, len);
	config_init(cfg);
	err[0] = '\0';
	return config_load(cfg, path, err, sizeof err);
}

/* Expect text to be refused with "path:line: " followed by reason. */
static void expect_refused(const char *text, int line, const char *reason)
{
	char path[256], want[512];
	struct config cfg;
	int r = load_text(&cfg, text, path, sizeof path);

	ck_assert_msg(r == -EINVAL, "accepted: %s", text);
	snprintf(want, sizeof want, "%s:%d: %s", path, line, reason);
	ck_assert_msg(strstr(err, want) == err, "error '%s', want it to start with '%s'", err, want);
	config_free(&cfg);
}

START_TEST(test_every_key_is_read_from_the_file)
{
	char path[256];
	struct config cfg;

	ck_assert_int_eq(load_text(&cfg,
		"# a comment\n"
		"\n"
		"   socket = /tmp/x y.sock  \n"
		"max-message=1K\n"
		"max-clients =\t7\n"
		"max-clients-per-user = 3\n"
		"idle-timeout = 600\n"
		"\tqueue-maxsize = 9\n"
		"queue-maxbytes = 2M\n"
		"max-memory = 3G\n"
		"max-output = 12345\n"
		"pipe-bytes = 5K\n"
		"max-array-bytes = 6M\n"
		"max-shm = 7G\n"
		"max-objects = 77\n"
		"ring-slots = 64\n"
		"ring-slot-bytes = 128\n"
		"socket-mode = 0660\n"
		"socket-group = 4242\n"
		"state-dir = /var/tmp/ipcd state\n"
		"fsync = everysec\n"
		"metrics = [::1]:9464\n"
		"cluster = nats://h1:4222,nats://h2:4222\n"
		"cluster-queues = jobs.*\n"
		"cluster-replicas = 5\n"
		"cluster-ack-wait = 7\n"
		"log-level = debug\r\n", path, sizeof path), 0);
	ck_assert_str_eq(cfg.socket, "/tmp/x y.sock");
	ck_assert_uint_eq(cfg.lim.max_message, 1024);
	ck_assert_uint_eq(cfg.lim.max_clients, 7);
	ck_assert_uint_eq(cfg.lim.max_clients_per_user, 3);
	ck_assert_uint_eq(cfg.lim.idle_timeout, 600);
	ck_assert_uint_eq(cfg.lim.queue_maxsize, 9);
	ck_assert_uint_eq(cfg.lim.queue_maxbytes, 2u << 20);
	ck_assert_uint_eq(cfg.lim.max_memory, (size_t)3 << 30);
	ck_assert_uint_eq(cfg.lim.max_output, 12345);
	ck_assert_uint_eq(cfg.lim.pipe_maxbytes, 5u << 10);
	ck_assert_uint_eq(cfg.lim.max_array_bytes, 6u << 20);
	ck_assert_uint_eq(cfg.lim.max_shm, (size_t)7 << 30);
	ck_assert_int_eq(cfg.log_level, LOG_LVL_DEBUG);
	ck_assert_uint_eq(cfg.lim.max_objects, 77);
	ck_assert_uint_eq(cfg.lim.ring_slots, 64);
	ck_assert_uint_eq(cfg.lim.ring_slot_bytes, 128);
	ck_assert_uint_eq(cfg.socket_mode, 0660);
	ck_assert_uint_eq(cfg.socket_group, 4242);
	ck_assert_str_eq(cfg.state_dir, "/var/tmp/ipcd state");
	ck_assert_int_eq(cfg.fsync, QLOG_FSYNC_EVERYSEC);
	ck_assert_str_eq(cfg.metrics, "[::1]:9464");
	ck_assert_str_eq(cfg.cluster, "nats://h1:4222,nats://h2:4222");
	ck_assert_str_eq(cfg.cluster_queues, "jobs.*");
	ck_assert_uint_eq(cfg.lim.cluster_replicas, 5);
	ck_assert_uint_eq(cfg.lim.cluster_ack_wait, 7);
	ck_assert_uint_eq(cfg.set, (1u << config_nkeys) - 1);
	config_free(&cfg);
}
END_TEST

START_TEST(test_bad_lines_name_file_and_line)
{
	expect_refused("max-clients = 3\nbogus = 1\n", 2, "unknown key 'bogus'");
	expect_refused("# fine\nmax-clients 3\n", 2, "expected 'key = value'");
	expect_refused("max-clients = 0\n", 1, "max-clients: '0' is not between 1 and 1000000");
	expect_refused("\n\n\nmax-message = 4X\n", 4, "max-message: '4X' is not a size");
	expect_refused("max-memory = -1\n", 1, "max-memory: '-1' is not a size");
	expect_refused("socket-mode = 1777\n", 1, "socket-mode: '1777' is not an octal mode up to 777");
	expect_refused("socket-mode = 9\n", 1, "socket-mode: '9' is not an octal mode up to 777");
	expect_refused("socket-group = no-such-group-anywhere\n", 1,
		       "socket-group: no group 'no-such-group-anywhere'");
	expect_refused("fsync = sometimes\n", 1, "fsync: 'sometimes' is not always, everysec or no");
	expect_refused("max-objects = 0\n", 1, "max-objects: '0' is not between 1 and");
	expect_refused("queue-maxsize = 99999999999999999999999\n", 1, "queue-maxsize:");
	expect_refused("log-level = loud\n", 1, "log-level: 'loud' is not error, warn");
	expect_refused("socket =\n", 1, "socket: empty path");
	expect_refused("metrics = 9464\n", 1, "metrics: '9464' is not ADDR:PORT");
	expect_refused("metrics = 127.0.0.1\n", 1, "metrics: '127.0.0.1' is not ADDR:PORT");
	expect_refused("metrics = ::1:9464\n", 1, "metrics: '::1:9464' is not ADDR:PORT");
	expect_refused("metrics = 127.0.0.1:65536\n", 1, "metrics: '65536' is not a port number");
	expect_refused("metrics = 127.0.0.1:http\n", 1, "metrics: 'http' is not a port number");
	expect_refused("metrics = example.org:80\n", 1,
		       "metrics: 'example.org' is not an IPv4 address, [IPv6] or localhost");
	expect_refused("max-clients = 3\nmax-clients = 4\n", 2,
		       "max-clients is already set on line 1");
	expect_refused("verbose = 1\n", 1, "unknown key 'verbose'");
	expect_refused("max-clients = 3 # a trailing comment is part of the value\n", 1,
		       "max-clients: '3 # a trailing");
}
END_TEST

START_TEST(test_missing_file)
{
	struct config_source src = { 0 };
	struct config cfg;
	char path[256];

	harness_path(&h, "absent.conf", path, sizeof path);
	config_init(&cfg);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof err), -ENOENT);
	ck_assert_msg(strstr(err, path) == err, "%s", err);

	/* A missing default file is fine; a missing -c file is not. */
	config_init(&src.cli);
	src.file = path;
	ck_assert_int_eq(config_build(&src, &cfg, err, sizeof err), 0);
	ck_assert_uint_eq(cfg.set, 0);
	config_free(&cfg);
	src.file_required = true;
	ck_assert_int_eq(config_build(&src, &cfg, err, sizeof err), -ENOENT);
}
END_TEST

START_TEST(test_command_line_over_file_over_defaults)
{
	struct config_source src = { 0 };
	struct config cfg;
	char path[256];
	const struct { const char *key, *value; } cli[] = {
		{ "max-clients", "5" }, { "socket", "/cli.sock" },
	};

	write_file("ipcd.conf", "max-clients = 3\nmax-memory = 1M\nsocket = /file.sock\n"
		   "log-level = info\n", path, sizeof path);
	config_init(&src.cli);
	for (size_t i = 0; i < sizeof cli / sizeof cli[0]; i++)
		ck_assert_int_eq(config_set(&src.cli, config_find(cli[i].key), cli[i].value,
					    err, sizeof err), 0);
	src.file = path;
	src.file_required = true;
	src.verbose = 1;
	ck_assert_int_eq(config_build(&src, &cfg, err, sizeof err), 0);
	ck_assert_uint_eq(cfg.lim.max_clients, 5);              /* command line */
	ck_assert_str_eq(cfg.socket, "/cli.sock");              /* command line */
	ck_assert_uint_eq(cfg.lim.max_memory, 1u << 20);        /* file */
	ck_assert_uint_eq(cfg.lim.max_message, 4u << 20);       /* default */
	ck_assert_int_eq(cfg.log_level, LOG_LVL_DEBUG);         /* file's info, -v */
	ck_assert(config_is_set(&cfg, "max-memory"));
	ck_assert(!config_is_set(&cfg, "max-message"));
	config_free(&cfg);
	config_free(&src.cli);
}
END_TEST

START_TEST(test_default_socket_when_unset)
{
	struct config_source src = { 0 };
	struct config cfg;

	setenv("IPCD_SOCKET", "/from/env.sock", 1);
	config_init(&src.cli);
	ck_assert_int_eq(config_build(&src, &cfg, err, sizeof err), 0);
	ck_assert_str_eq(cfg.socket, "/from/env.sock");
	ck_assert(!config_is_set(&cfg, "socket"));
	config_free(&cfg);
}
END_TEST

START_TEST(test_format_round_trips)
{
	struct config cfg, back;
	char text[64];

	config_init(&cfg);
	config_init(&back);
	cfg.lim.max_memory = 3u << 20;
	cfg.lim.max_output = 1000;
	cfg.lim.queue_maxsize = 2048;
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		if (k->type == CONFIG_PATH)
			continue;
		config_format(&cfg, k, text, sizeof text);
		ck_assert_msg(config_set(&back, k, text, err, sizeof err) == 0, "%s = %s: %s",
			      k->name, text, err);
	}
	config_format(&cfg, config_find("max-memory"), text, sizeof text);
	ck_assert_str_eq(text, "3M");
	config_format(&cfg, config_find("queue-maxsize"), text, sizeof text);
	ck_assert_str_eq(text, "2048");
	ck_assert_mem_eq(&back.lim, &cfg.lim, sizeof cfg.lim);
	ck_assert_int_eq(back.log_level, cfg.log_level);
	ck_assert_uint_eq(back.socket_mode, cfg.socket_mode);
	ck_assert_uint_eq(back.socket_group, cfg.socket_group);
	ck_assert_int_eq(back.fsync, cfg.fsync);
	ck_assert_ptr_null(back.metrics);
	ck_assert_int_eq(config_set(&back, config_find("metrics"), "localhost:0", err, sizeof err), 0);
	config_format(&back, config_find("metrics"), text, sizeof text);
	ck_assert_str_eq(text, "localhost:0");
	ck_assert_int_eq(config_set(&back, config_find("metrics"), "off", err, sizeof err), 0);
	ck_assert_ptr_null(back.metrics);
	config_free(&back);
}
END_TEST

START_TEST(test_apply_live_takes_limits_not_socket)
{
	struct config cur, next;
	char sock[] = "/old.sock";

	config_init(&cur);
	config_init(&next);
	cur.socket = sock;                     /* borrowed, as the server does */
	ck_assert_int_eq(config_set(&next, config_find("socket"), "/new.sock", err, sizeof err), 0);
	ck_assert_int_eq(config_set(&next, config_find("max-clients"), "2", err, sizeof err), 0);
	ck_assert_int_eq(config_set(&next, config_find("log-level"), "error", err, sizeof err), 0);
	ck_assert_int_eq(config_apply_live(&cur, &next), 2);
	ck_assert_uint_eq(cur.lim.max_clients, 2);
	ck_assert_int_eq(cur.log_level, LOG_LVL_ERROR);
	ck_assert_ptr_eq(cur.socket, sock);
	ck_assert_int_eq(config_apply_live(&cur, &next), 0);
	config_free(&next);
}
END_TEST

/* The installed example lists every setting at its default: uncommented, it changes nothing. */
START_TEST(test_example_file_lists_every_key_at_its_default)
{
	FILE *in = fopen(IPCD_EXAMPLE_CONF, "r"), *out;
	struct config cfg, defaults;
	char line[512], path[256];

	ck_assert_msg(in != NULL, "%s: %s", IPCD_EXAMPLE_CONF, strerror(errno));
	harness_path(&h, "uncommented.conf", path, sizeof path);
	out = fopen(path, "w");
	ck_assert_ptr_nonnull(out);
	while (fgets(line, sizeof line, in)) {
		/* "#key = value" is a setting; "# text" is prose. */
		if (line[0] == '#' && line[1] != ' ' && line[1] != '\n' && strchr(line, '='))
			fputs(line + 1, out);
	}
	fclose(in);
	fclose(out);
	config_init(&cfg);
	config_init(&defaults);
	ck_assert_msg(config_load(&cfg, path, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(cfg.set == (1u << config_nkeys) - 1, "the example lacks a setting (mask %x)",
		      cfg.set);
	ck_assert_mem_eq(&cfg.lim, &defaults.lim, sizeof cfg.lim);
	ck_assert_int_eq(cfg.log_level, defaults.log_level);
	ck_assert_uint_eq(cfg.socket_mode, defaults.socket_mode);
	ck_assert_uint_eq(cfg.socket_group, defaults.socket_group);
	ck_assert_int_eq(cfg.fsync, defaults.fsync);
	config_free(&cfg);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = harness_tcase(s, "parse", 30, setup, teardown);

	tcase_add_test(tc, test_every_key_is_read_from_the_file);
	tcase_add_test(tc, test_bad_lines_name_file_and_line);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_command_line_over_file_over_defaults);
	tcase_add_test(tc, test_default_socket_when_unset);
	tcase_add_test(tc, test_format_round_trips);
	tcase_add_test(tc, test_apply_live_takes_limits_not_socket);
	tcase_add_test(tc, test_example_file_lists_every_key_at_its_default);
	return s;
}

int main(void)
{
	return harness_main(config_suite());
}
