/*
 * test_access.c - who may reach what, and how much anyone may take:
 * object permissions checked against a second user (the test setuid()s to
 * nobody when it runs as root), the socket file's mode and group, and the
 * daemon's limits (objects, name length, unread replies, the memory
 * budget) with the budgets shown by status.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"
#include "codec.h"

#define NOBODY 65534

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* ------------------------------------------------------------------------ */
/* Permissions */

/* Let other users reach the socket: search rights on its directories. */
static void open_dirs_to_others(void)
{
	char parent[sizeof h.dir];

	snprintf(parent, sizeof parent, "%s", h.dir);
	ck_assert_int_eq(chmod(h.dir, 0711), 0);
	ck_assert_int_eq(chmod(dirname(parent), 0711), 0);
}

/* In a child: become uid and gid, with no supplementary groups. */
static void become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		child_fail("cannot become uid %u gid %u: %s", (unsigned)uid, (unsigned)gid,
			   strerror(errno));
	if (getuid() != uid || geteuid() != uid)
		child_fail("still uid %u", (unsigned)geteuid());
}

static void expect(int got, int want, const char *what)
{
	if (got != want)
		child_fail("%s = %d (%s), want %d (%s)", what, got, ipc_strerror(got), want,
			   ipc_strerror(want));
}

/* Run fn in a child that has become uid:gid; fail the test unless it exits 0. */
static void as_user(uid_t uid, gid_t gid, void (*fn)(void), const char *what)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		become(uid, gid);
		fn();
		_exit(0);
	}
	harness_expect_child_ok(pid, HARNESS_HANG_MS, what);
}

static void nobody_is_refused(void)
{
	ipc_client *c;
	ipc_queue *q = NULL;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_queue_open(c, "guarded", 0, NULL, &q), -EACCES, "open of a 0600 queue");
	expect(ipc_queue_open(c, "guarded", IPC_CREATE, NULL, &q), -EACCES,
	       "open with IPC_CREATE of an existing 0600 queue");
	expect(ipc_chmod(c, "guarded", 0666), -EPERM, "chmod by another user");
	expect(ipc_chown(c, "guarded", NOBODY, NOBODY), -EPERM, "chown by another user");
	expect(ipc_queue_unlink(c, "guarded"), -EPERM, "unlink by another user");
	ipc_disconnect(c);
}

static void nobody_reads_and_writes(void)
{
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_queue_open(c, "guarded", 0, NULL, &q), 0, "open after chmod 0606");
	expect(ipc_queue_get(q, &data, &len, HARNESS_HANG_MS), 0, "get");
	if (len != 6 || memcmp(data, "secret", 6) != 0)
		child_fail("got '%.*s', want 'secret'", (int)len, (char *)data);
	free(data);
	expect(put_str(q, "answer", 1000), 0, "put");
	ipc_queue_close(q);
	ipc_disconnect(c);
}

static const ipc_queue_attr by_socket = { .noring = 1 };

START_TEST(test_second_uid_denied_until_chmod)
{
	ipc_client *c;
	ipc_queue *q;

	if (!running_as_root()) {
		fprintf(stderr, "test_second_uid_denied_until_chmod: skipped: it must run as root "
			"to setuid() to a second user\n");
		return;
	}
	harness_start(&h, NULL);
	open_dirs_to_others();
	c = connect_ok(h.sock);
	q = open_ok(c, "guarded", IPC_CREATE, NULL);
	ck_assert_int_eq(stat_key(q, "mode"), 0600);
	ck_assert_ipc(put_str(q, "secret", 1000), 0);

	as_user(NOBODY, NOBODY, nobody_is_refused, "nobody on a 0600 queue");
	ck_assert_int_eq(stat_key(q, "depth"), 1);

	ck_assert_ipc(ipc_chmod(c, "guarded", 0606), 0);
	ck_assert_int_eq(stat_key(q, "mode"), 0606);
	as_user(NOBODY, NOBODY, nobody_reads_and_writes, "nobody on a 0606 queue");
	get_expect(q, "answer", 1000);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* Others may read only: the handle says so until it is opened again. */
static void nobody_reads_only(void)
{
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_queue_open(c, "ro", 0, NULL, &q), 0, "open of a 0604 queue");
	expect(put_str(q, "no", 0), -EACCES, "put without write permission");
	expect(ipc_queue_purge(q), -EACCES, "purge without write permission");
	expect(ipc_queue_peek(q, &data, &len), 0, "peek");
	free(data);
	expect(ipc_queue_get(q, &data, &len, 0), 0, "get");
	free(data);
	ipc_queue_close(q);
	ipc_disconnect(c);
}

/* Others may write only. */
static void nobody_writes_only(void)
{
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_queue_open(c, "ro", 0, NULL, &q), 0, "open of a 0602 queue");
	expect(ipc_queue_get(q, &data, &len, 0), -EACCES, "get without read permission");
	expect(ipc_queue_peek(q, &data, &len), -EACCES, "peek without read permission");
	expect(ipc_queue_size(q), -EACCES, "size without read permission");
	expect(put_str(q, "in", 0), 0, "put");
	ipc_queue_close(q);
	ipc_disconnect(c);
}

/* nobody owns the queue now: it may change it and give it back. */
static void nobody_owns(void)
{
	ipc_client *c;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_chmod(c, "ro", 0600), 0, "chmod by the new owner");
	expect(ipc_chown(c, "ro", 0, (gid_t)-1), 0, "chown by the owner");
	expect(ipc_chmod(c, "ro", 0666), -EPERM, "chmod after giving it away");
	ipc_disconnect(c);
}

/* Group rights: member of the queue's group, then not. */
static void group_member_reads(void)
{
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_queue_open(c, "ro", 0, NULL, &q), 0, "open as a member of the group");
	expect(ipc_queue_get(q, &data, &len, 0), 0, "get as a member of the group");
	free(data);
	ipc_queue_close(q);
	ipc_disconnect(c);
}

static void group_outsider_refused(void)
{
	ipc_client *c;
	ipc_queue *q;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_queue_open(c, "ro", 0, NULL, &q), -EACCES, "open outside the group");
	ipc_disconnect(c);
}

START_TEST(test_read_write_owner_and_group_rights)
{
	ipc_client *c;
	ipc_queue *q;
	ipc_queue_attr attr = { .mode = 0604 };

	if (!running_as_root()) {
		fprintf(stderr, "test_read_write_owner_and_group_rights: skipped: it must run as "
			"root to setuid() to a second user\n");
		return;
	}
	harness_start(&h, NULL);
	open_dirs_to_others();
	c = connect_ok(h.sock);
	q = open_ok(c, "ro", IPC_CREATE, &attr);
	ck_assert_int_eq(stat_key(q, "mode"), 0604);
	ck_assert_ipc(put_str(q, "one", 0), 0);
	as_user(NOBODY, NOBODY, nobody_reads_only, "nobody on a 0604 queue");
	ck_assert_int_eq(stat_key(q, "depth"), 0);

	ck_assert_ipc(ipc_chmod(c, "ro", 0602), 0);
	as_user(NOBODY, NOBODY, nobody_writes_only, "nobody on a 0602 queue");
	get_expect(q, "in", 0);

	ck_assert_ipc(ipc_chmod(c, "ro", 0640), 0);
	ck_assert_ipc(ipc_chown(c, "ro", (uid_t)-1, 4242), 0);
	ck_assert_int_eq(stat_key(q, "uid"), 0);
	ck_assert_int_eq(stat_key(q, "gid"), 4242);
	ck_assert_ipc(put_str(q, "two", 0), 0);
	as_user(NOBODY, 4242, group_member_reads, "a member of the queue's group");
	as_user(NOBODY, NOBODY, group_outsider_refused, "a user outside the queue's group");

	ck_assert_ipc(ipc_chown(c, "ro", NOBODY, (gid_t)-1), 0);
	as_user(NOBODY, NOBODY, nobody_owns, "the new owner");
	ck_assert_int_eq(stat_key(q, "uid"), 0);
	ck_assert_int_eq(stat_key(q, "mode"), 0600);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A handle keeps the rights it was opened with, as a file descriptor does. */
static int go_pipe[2], ready_pipe[2];

static void nobody_keeps_handle_rights(void)
{
	ipc_client *c;
	ipc_queue *q, *q2;
	char b = 0;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_queue_open(c, "kept", 0, NULL, &q), 0, "open of a 0604 queue");
	expect(put_str(q, "x", 0), -EACCES, "put on a read-only handle");
	if (write(ready_pipe[1], &b, 1) != 1 || read(go_pipe[0], &b, 1) != 1)
		child_fail("pipe: %s", strerror(errno));
	/* Now 0606: the old handle still may not write; a new one may. */
	expect(put_str(q, "x", 0), -EACCES, "put on the handle opened before the chmod");
	expect(ipc_queue_open(c, "kept", 0, NULL, &q2), 0, "second open after chmod");
	expect(put_str(q2, "x", 0), 0, "put on the handle opened after the chmod");
	ipc_disconnect(c);
}

START_TEST(test_handle_keeps_rights_of_its_open)
{
	ipc_client *c;
	ipc_queue *q;
	ipc_queue_attr attr = { .mode = 0604 };
	pid_t pid;
	char b = 0;

	if (!running_as_root()) {
		fprintf(stderr, "test_handle_keeps_rights_of_its_open: skipped: it must run as "
			"root to setuid() to a second user\n");
		return;
	}
	harness_start(&h, NULL);
	open_dirs_to_others();
	c = connect_ok(h.sock);
	q = open_ok(c, "kept", IPC_CREATE, &attr);
	ck_assert_int_eq(pipe(go_pipe), 0);
	ck_assert_int_eq(pipe(ready_pipe), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ready_pipe[0]);
		close(go_pipe[1]);
		become(NOBODY, NOBODY);
		nobody_keeps_handle_rights();
		_exit(0);
	}
	/* Only the child holds the write end: its death reads as end of file. */
	close(ready_pipe[1]);
	close(go_pipe[0]);
	ck_assert_msg(read(ready_pipe[0], &b, 1) == 1, "the child died before its first put");
	ck_assert_ipc(ipc_chmod(c, "kept", 0606), 0);
	ck_assert_int_eq(write(go_pipe[1], &b, 1), 1);
	harness_expect_child_ok(pid, HARNESS_HANG_MS, "nobody with a handle opened before a chmod");
	ck_assert_int_eq(stat_key(q, "depth"), 1);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* Pipes: the same gate, send is a write and recv a read. */
static void nobody_refused_a_pipe(void)
{
	ipc_client *c;
	ipc_pipe *p = NULL;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_pipe_open(c, "pp", 1, 0, &p), -EACCES, "open of a 0600 pipe");
	ipc_disconnect(c);
}

static void nobody_sends_on_a_pipe(void)
{
	ipc_client *c;
	ipc_pipe *p = NULL;
	void *data;
	size_t len;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_pipe_open(c, "pp", 1, 0, &p), 0, "open of a 0602 pipe");
	expect(ipc_pipe_recv(p, &data, &len, 0), -EACCES, "recv without read permission");
	expect(ipc_pipe_send(p, "hi", 2, 1000), 0, "send");
	ipc_pipe_close(p);
	ipc_disconnect(c);
}

START_TEST(test_pipe_permissions)
{
	ipc_client *c;
	ipc_pipe *p;
	void *data;
	size_t len;

	if (!running_as_root()) {
		fprintf(stderr, "test_pipe_permissions: skipped: it must run as root to setuid() "
			"to a second user\n");
		return;
	}
	harness_start(&h, NULL);
	open_dirs_to_others();
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_open(c, "pp", 0, IPC_CREATE, &p), 0);
	as_user(NOBODY, NOBODY, nobody_refused_a_pipe, "nobody on a 0600 pipe");
	ck_assert_ipc(ipc_chmod(c, "pp", 0602), 0);
	as_user(NOBODY, NOBODY, nobody_sends_on_a_pipe, "nobody on a 0602 pipe");
	ck_assert_ipc(ipc_pipe_recv(p, &data, &len, HARNESS_HANG_MS), 0);
	ck_assert_msg(len == 2 && memcmp(data, "hi", 2) == 0, "pipe message");
	free(data);
	ipc_pipe_close(p);
	ipc_disconnect(c);
}
END_TEST

/* Arrays: read maps read-only, write without read gets no mapping. */
static void nobody_refused_an_array(void)
{
	ipc_client *c;
	ipc_array *a = NULL;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_array_open(c, "arr", 0, 0, 0, &a), -EACCES, "open of a 0600 array");
	ipc_disconnect(c);
}

static void nobody_reads_an_array(void)
{
	ipc_client *c;
	ipc_array *a;
	int32_t v[4], one = 1;
	pid_t pid;
	int status;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_array_open(c, "arr", 0, 0, 0, &a), 0, "open of a 0604 array");
	if (!ipc_array_data(a) || ((int32_t *)ipc_array_data(a))[2] != 42)
		child_fail("no read-only mapping showing 42");
	expect(ipc_array_read(a, 0, 4, v), 0, "brokered read");
	expect(ipc_array_write(a, 0, 1, &one), -EACCES, "brokered write without write permission");
	/* The mapping itself refuses writes. */
	pid = fork();
	if (pid == 0) {
		((volatile int32_t *)ipc_array_data(a))[0] = 1;
		_exit(0);
	}
	/* SIGSEGV, or under a sanitizer its report and abort: anything but success. */
	if (pid < 0 || waitpid(pid, &status, 0) != pid ||
	    (WIFEXITED(status) && WEXITSTATUS(status) == 0))
		child_fail("a write to the read-only mapping did not fault");
	ipc_array_close(a);
	ipc_disconnect(c);
}

static void nobody_writes_an_array(void)
{
	ipc_client *c;
	ipc_array *a;
	int32_t v = 7;

	expect(ipc_connect(h.sock, &c), 0, "connect");
	expect(ipc_array_open(c, "arr", 0, 0, 0, &a), 0, "open of a 0602 array");
	if (ipc_array_data(a))
		child_fail("a mapping for a handle that may not read");
	expect(ipc_array_read(a, 0, 1, &v), -EACCES, "brokered read without read permission");
	expect(ipc_array_write(a, 3, 1, &v), 0, "brokered write");
	ipc_array_close(a);
	ipc_disconnect(c);
}

START_TEST(test_array_permissions)
{
	ipc_client *c;
	ipc_array *a;
	int32_t *data;

	if (!running_as_root()) {
		fprintf(stderr, "test_array_permissions: skipped: it must run as root to setuid() "
			"to a second user\n");
		return;
	}
	harness_start(&h, NULL);
	open_dirs_to_others();
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_array_open(c, "arr", IPC_CREATE, 'i', 4, &a), 0);
	data = ipc_array_data(a);
	ck_assert_ptr_nonnull(data);
	data[2] = 42;
	as_user(NOBODY, NOBODY, nobody_refused_an_array, "nobody on a 0600 array");
	ck_assert_ipc(ipc_chmod(c, "arr", 0604), 0);
	as_user(NOBODY, NOBODY, nobody_reads_an_array, "nobody on a 0604 array");
	ck_assert_int_eq(data[0], 0);
	ck_assert_ipc(ipc_chmod(c, "arr", 0602), 0);
	as_user(NOBODY, NOBODY, nobody_writes_an_array, "nobody on a 0602 array");
	ck_assert_int_eq(data[3], 7);
	ipc_array_close(a);
	ipc_disconnect(c);
}
END_TEST

/* The creator's handle has every right, whatever mode it gave the queue. */
START_TEST(test_creator_handle_has_all_rights)
{
	ipc_client *c;
	ipc_queue *q;
	ipc_queue_attr attr = { .mode = 0200 };

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "wo", IPC_CREATE, &attr);
	ck_assert_ipc(put_str(q, "m", 0), 0);
	get_expect(q, "m", 0);
	ck_assert_ipc(ipc_chmod(c, "wo", 01000), -EINVAL);
	ck_assert_ipc(ipc_chmod(c, "nothing", 0600), -ENOENT);
	ck_assert_ipc(ipc_chown(c, "nothing", 1, 1), -ENOENT);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

static void nobody_cannot_connect(void)
{
	ipc_client *c = NULL;

	expect(ipc_connect(h.sock, &c), -EACCES, "connect to a socket of another group");
}

static void nobody_connects(void)
{
	ipc_client *c = NULL;

	expect(ipc_connect(h.sock, &c), 0, "connect as a member of the socket's group");
	ipc_disconnect(c);
}

START_TEST(test_socket_mode_and_group)
{
	char group[16];
	const char *args[] = { "--socket-mode", "0660", "--socket-group", group, NULL };
	struct stat st;
	gid_t gid = running_as_root() ? NOBODY : getgid();

	snprintf(group, sizeof group, "%u", (unsigned)gid);
	harness_start(&h, args);
	ck_assert_int_eq(stat(h.sock, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == 0660, "socket mode %o", st.st_mode & 07777);
	ck_assert_uint_eq(st.st_gid, gid);
	if (!running_as_root()) {
		fprintf(stderr, "test_socket_mode_and_group: connecting as another user skipped: "
			"it must run as root\n");
		return;
	}
	open_dirs_to_others();
	as_user(NOBODY, NOBODY, nobody_connects, "a member of the socket's group");
	as_user(NOBODY, 4242, nobody_cannot_connect, "a user outside the socket's group");
}
END_TEST

START_TEST(test_bad_socket_options_refused)
{
	static const char *const bad_mode[] = { "--socket-mode", "999", NULL };
	static const char *const bad_group[] = { "--socket-group", "no-such-group-here", NULL };
	pid_t pid;
	int status;

	pid = harness_spawn(h.sock, bad_mode);
	status = harness_wait_child(pid, HARNESS_HANG_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status 0x%x", status);
	pid = harness_spawn(h.sock, bad_group);
	status = harness_wait_child(pid, HARNESS_HANG_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status 0x%x", status);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Limits */

START_TEST(test_max_objects_is_enospc)
{
	static const char *const args[] = { "--max-objects", "3", NULL };
	ipc_client *c;
	ipc_queue *q[3], *extra = NULL;
	char name[16];

	harness_start(&h, args);
	c = connect_ok(h.sock);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "q%d", i);
		q[i] = open_ok(c, name, IPC_CREATE, NULL);
	}
	ck_assert_ipc(ipc_queue_open(c, "one-too-many", IPC_CREATE, NULL, &extra), -ENOSPC);
	ck_assert_msg(strstr(ipc_last_error(c), "maximum of 3 objects") != NULL,
		      "message: %s", ipc_last_error(c));
	/* Existing objects still open; removing one makes room. */
	ipc_queue_close(q[0]);
	q[0] = open_ok(c, "q0", 0, NULL);
	ck_assert_int_eq(status_key(c, "objects"), 3);
	ck_assert_int_eq(status_key(c, "max_objects"), 3);
	ck_assert_ipc(ipc_queue_unlink(c, "q1"), 0);
	extra = open_ok(c, "one-too-many", IPC_CREATE, NULL);
	ipc_queue_close(extra);
	for (int i = 0; i < 3; i++)
		ipc_queue_close(q[i]);
	ipc_disconnect(c);
}
END_TEST

/* Send an open of a name of n bytes on a raw connection; the reply's status. */
static int raw_open_name(int fd, uint32_t id, size_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	struct proto_reply rep;
	char *name = malloc(n), *body;
	int r;

	memset(name, 'n', n);
	raw_begin(&sb, &pk, IPC_OP_Q_OPEN, id, 3);
	msgpack_pack_str_with_body(&pk, name, n);
	msgpack_pack_uint32(&pk, IPC_OPEN_CREATE);
	msgpack_pack_nil(&pk);
	free(name);
	r = raw_call(fd, &sb, &u, &rep, &body);
	ck_assert_uint_eq(rep.id, id);
	msgpack_unpacked_destroy(&u);
	free(body);
	return r;
}

START_TEST(test_name_length_limit)
{
	int fd;

	harness_start(&h, NULL);
	fd = raw_connect_greeted(h.sock);
	ck_assert_int_eq(raw_open_name(fd, 2, IPC_NAME_MAX), 0);
	ck_assert_int_eq(raw_open_name(fd, 3, IPC_NAME_MAX + 1), -ENAMETOOLONG);
	ck_assert_int_eq(raw_open_name(fd, 4, 0), -EINVAL);
	close(fd);
}
END_TEST

/*
 * A client that sends requests and never reads the replies is cut off
 * once they pass --max-output; everyone else goes on being served.
 */
START_TEST(test_unread_replies_cut_off)
{
	static const char *const args[] = { "--max-output", "64K", NULL };
	static char big[16384];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	ipc_client *c;
	ipc_queue *q;
	int fd, r = 0, sent;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	q = open_ok(c, "big", IPC_CREATE, NULL);
	ck_assert_ipc(ipc_queue_put(q, big, sizeof big, 0), 0);

	fd = raw_connect_greeted(h.sock);
	raw_begin(&sb, &pk, IPC_OP_Q_OPEN, 2, 3);
	msgpack_pack_str_with_body(&pk, "big", 3);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(raw_end(fd, &sb), 0);
	/* Peeks of 16 KiB each, never read: 4000 of them are 64 MiB of replies. */
	for (sent = 0; sent < 4000 && r == 0; sent++) {
		raw_begin(&sb, &pk, IPC_OP_Q_PEEK, 3 + (uint32_t)sent, 1);
		msgpack_pack_uint32(&pk, 1);
		r = raw_end(fd, &sb);
	}
	/* It was cut off: its socket ends, unread. */
	ck_assert_int_eq(raw_wait_hangup(fd, HARNESS_HANG_MS), 0);
	close(fd);
	wait_clients(c, 1, HARNESS_HANG_MS);
	ck_assert_int_eq(status_key(c, "max_output"), 64 * 1024);
	ck_assert_int_eq(stat_key(q, "depth"), 1);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

START_TEST(test_status_shows_budgets_and_use)
{
	static const char *const args[] = { "--max-memory", "1M", "--max-clients", "7",
					    "--max-objects", "9", NULL };
	ipc_client *c, *c2;
	ipc_queue *q;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	c2 = connect_ok(h.sock);
	/* By the socket: a ring's messages are in its shared memory, not ipcd's. */
	q = open_ok(c, "m", IPC_CREATE, &by_socket);
	ck_assert_ipc(ipc_queue_put(q, "0123456789", 10, 0), 0);
	ck_assert_int_eq(status_key(c, "memory"), 10);
	ck_assert_int_eq(status_key(c, "max_memory"), 1024 * 1024);
	ck_assert_int_eq(status_key(c, "clients"), 2);
	ck_assert_int_eq(status_key(c, "max_clients"), 7);
	ck_assert_int_eq(status_key(c, "objects"), 1);
	ck_assert_int_eq(status_key(c, "max_objects"), 9);
	ipc_queue_close(q);
	ipc_disconnect(c2);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc;

	tc = harness_tcase(s, "permissions", 30, setup, teardown);
	tcase_add_test(tc, test_second_uid_denied_until_chmod);
	tcase_add_test(tc, test_read_write_owner_and_group_rights);
	tcase_add_test(tc, test_handle_keeps_rights_of_its_open);
	tcase_add_test(tc, test_creator_handle_has_all_rights);
	tcase_add_test(tc, test_pipe_permissions);
	tcase_add_test(tc, test_array_permissions);
	tcase_add_test(tc, test_socket_mode_and_group);
	tcase_add_test(tc, test_bad_socket_options_refused);

	tc = harness_tcase(s, "limits", 30, setup, teardown);
	tcase_add_test(tc, test_max_objects_is_enospc);
	tcase_add_test(tc, test_name_length_limit);
	tcase_add_test(tc, test_unread_replies_cut_off);
	tcase_add_test(tc, test_status_shows_budgets_and_use);
	return s;
}

int main(void)
{
	return harness_main(access_suite());
}
