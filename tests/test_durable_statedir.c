/*
 * test_durable_statedir.c - the state directory and the socket's lock are
 * never reached through others' hands: a planted symbolic link is not
 * followed, a linked lock file or a socket directory others can write to is
 * refused, and so is a state directory with unsafe mode or owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "durable_env.h"

/* ------------------------------------------------------------------------ */
/* The state directory and the socket's lock: never through others' hands */

/* Run ipcd on sock with args, stderr to errlog; its wait status (it must exit). */
static int run_refused(const char *sock, const char *const *args)
{
	const char *argv[16] = { harness_ipcd_bin(), "-s", sock };
	size_t n = 3;
	pid_t pid;

	for (; args && *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = spawn_logged(argv, errlog, NULL);
	return harness_wait_child(pid, 20000);
}

/*
 * A symbolic link planted as the temporary of a log rewrite is not
 * followed: the file it points to stays as it was.
 */
START_TEST(test_planted_tmp_link_is_not_followed)
{
	static char msg[1024];
	char victim[sizeof h.dir + 16], tmp[sizeof state + 24], path[sizeof state + 16], buf[16];
	ipc_client *c;
	ipc_queue *q;
	int fd;

	harness_path(&h, "victim", victim, sizeof victim);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(write(fd, "precious", 8), 8);
	close(fd);
	durable_start("no");
	c = connect_ok(h.sock);
	q = open_ok(c, "big", IPC_CREATE, &durable);
	snprintf(tmp, sizeof tmp, "%s/q-1.log.tmp", state);
	snprintf(path, sizeof path, "%s/q-1.log", state);
	ck_assert_int_eq(symlink(victim, tmp), 0);
	/* 1.2 MiB put and got: the log is rewritten (through q-1.log.tmp). */
	memset(msg, 'x', sizeof msg);
	for (int i = 0; i < 1200; i++)
		ck_assert_ipc(ipc_queue_put(q, msg, sizeof msg, 0), 0);
	for (int i = 0; i < 1200; i++) {
		void *data;
		size_t len;

		ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
		free(data);
	}
	ck_assert_ipc(put_str(q, "after", 0), 0);
	ck_assert_msg(durable_file_size(path) < (1 << 20), "the log was not rewritten");
	fd = open(victim, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof buf), 8);
	close(fd);
	ck_assert_msg(memcmp(buf, "precious", 8) == 0, "the link's target was overwritten");
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
	/* And the queue is whole. */
	durable_start("no");
	c = connect_ok(h.sock);
	q = open_ok(c, "big", 0, NULL);
	get_expect(q, "after", 0);
	ipc_queue_close(q);
	ipc_disconnect(c);
	harness_stop(&h);
}
END_TEST

/*
 * The socket's lock file is never opened through a symbolic link (nothing
 * is created where it points), and a socket directory others can write to
 * without the sticky bit is refused.
 */
START_TEST(test_socket_lock_link_and_open_dir_are_refused)
{
	char lock[sizeof h.sock + 8], target[sizeof h.dir + 16], open_dir[sizeof h.dir + 16];
	char sock2[sizeof open_dir + 16];
	int status;

	snprintf(lock, sizeof lock, "%s.lock", h.sock);
	harness_path(&h, "nologin", target, sizeof target);
	ck_assert_int_eq(symlink(target, lock), 0);
	status = run_refused(h.sock, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		      "ipcd started on a linked lock file: status 0x%x", status);
	ck_assert_msg(access(target, F_OK) < 0, "the lock file's link was followed");
	ck_assert(durable_logged("it is a symbolic link"));

	harness_path(&h, "open", open_dir, sizeof open_dir);
	ck_assert_int_eq(mkdir(open_dir, 0700), 0);
	ck_assert_int_eq(chmod(open_dir, 0777), 0);
	snprintf(sock2, sizeof sock2, "%s/s.sock", open_dir);
	status = run_refused(sock2, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		      "ipcd started in a world-writable directory: status 0x%x", status);
	ck_assert(durable_logged("refusing the socket's directory"));
}
END_TEST

/*
 * A state directory others can write to, or that another user owns, is
 * refused at start with a message naming it and why.
 */
START_TEST(test_unsafe_state_dir_is_refused)
{
	const char *args[] = { "--state-dir", state, NULL };
	char want[sizeof state + 64];
	int status;

	ck_assert_int_eq(mkdir(state, 0700), 0);
	ck_assert_int_eq(chmod(state, 0777), 0);
	status = run_refused(h.sock, args);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		      "ipcd took a world-writable state directory: status 0x%x", status);
	snprintf(want, sizeof want, "refusing the state directory %s: others can write", state);
	ck_assert_msg(durable_logged(want), "no '%s'", want);
	ck_assert_int_eq(chmod(state, 0700), 0);
	if (running_as_root()) {
		ck_assert_int_eq(chown(state, 54321, 54321), 0);
		status = run_refused(h.sock, args);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
			      "ipcd took another user's state directory: status 0x%x", status);
		ck_assert(durable_logged("owned by another user"));
		ck_assert_int_eq(chown(state, 0, 0), 0);
	}
	/* Its own, private: taken. */
	durable_start("always");
	harness_stop(&h);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *durable_statedir_suite(void)
{
	Suite *s = suite_create("durable_statedir");
	TCase *tc;

	tc = harness_tcase(s, "statedir", 120, durable_setup, durable_teardown);
	tcase_add_test(tc, test_planted_tmp_link_is_not_followed);
	tcase_add_test(tc, test_socket_lock_link_and_open_dir_are_refused);
	tcase_add_test(tc, test_unsafe_state_dir_is_refused);
	return s;
}

int main(void)
{
	return harness_main(durable_statedir_suite());
}
