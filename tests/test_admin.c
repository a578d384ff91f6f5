/*
 * test_admin.c - what operators and newcomers use beyond the objects:
 * objects that go with their creator (IPC_AUTOREMOVE), ending a client
 * (client.kill), the settings in force and changing a live one (config,
 * config.set), the live trace (monitor) and its bound, per-client age,
 * idle time and traffic, the message encoding helpers against ipcctl, the
 * default sockets the library tries, and the words of a few errors.
 *
 * Each test runs the real ipcd; a second user is played by a forked child
 * that setuid()s when the test runs as root.
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

#define OTHER_UID 65534   /* nobody: the second user of the permission checks */

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* The map of the client list entry of process pid, decoded into u (or fail). */
static const msgpack_object *client_entry(ipc_client *c, pid_t pid, msgpack_unpacked *u,
					  void **mp)
{
	size_t len, off = 0;

	ck_assert_ipc(ipc_server_clients(c, mp, &len), 0);
	msgpack_unpacked_init(u);
	ck_assert(msgpack_unpack_next(u, *mp, len, &off) == MSGPACK_UNPACK_SUCCESS);
	for (uint32_t i = 0; i < u->data.via.array.size; i++) {
		const msgpack_object *m = &u->data.via.array.ptr[i];
		const msgpack_object *p = proto_map_get(m, "pid");

		if (p && p->type == MSGPACK_OBJECT_POSITIVE_INTEGER && p->via.u64 == (uint64_t)pid)
			return m;
	}
	ck_abort_msg("no client of pid %d", (int)pid);
	return NULL;
}

/* Wait up to timeout_ms until the object name is gone (an open says -ENOENT). */
static void wait_gone(ipc_client *c, const char *name, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	ipc_queue *q;
	int r;

	while ((r = ipc_queue_open(c, name, 0, NULL, &q)) != -ENOENT) {
		if (r == 0)
			ipc_queue_close(q);
		ck_assert_msg(harness_now_ms() < end, "'%s' is still there after %d ms (open: %s)",
			      name, timeout_ms, ipc_strerror(r));
		harness_sleep_ms(10);
	}
}

/* Let the second user reach the test's socket: its directory and the one above. */
static void open_dirs_to_others(void)
{
	char parent[sizeof h.dir];

	snprintf(parent, sizeof parent, "%s", h.dir);
	ck_assert_int_eq(chmod(h.dir, 0711), 0);
	ck_assert_int_eq(chmod(dirname(parent), 0711), 0);
}

/* Become the second user (in a forked child); false when the test is not root. */
static int become_other(void)
{
	return setgroups(0, NULL) == 0 && setgid(OTHER_UID) == 0 && setuid(OTHER_UID) == 0;
}

/* ------------------------------------------------------------------------ */
/* Objects that go with their creator */

/* The monitor traces requests: these queues' puts and gets go by the socket. */
static const ipc_queue_attr by_socket = { .noring = 1 };

START_TEST(test_autoremoved_objects_go_when_their_creator_is_killed)
{
	ipc_client *c;
	ipc_queue *q, *kept;
	int sync[2];
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	/* Made before the child runs, so that the child's open of it creates nothing. */
	kept = open_ok(c, "shared", IPC_CREATE, NULL);
	ck_assert_int_eq(pipe(sync), 0);
	pid = fork_ok();
	if (pid == 0) {
		ipc_client *cc;
		ipc_queue *cq, *other;
		ipc_array *ca;
		ipc_pipe *cp;

		if (ipc_connect(h.sock, &cc) < 0 ||
		    ipc_queue_open(cc, "mine", IPC_CREATE | IPC_AUTOREMOVE, NULL, &cq) < 0 ||
		    ipc_array_open(cc, "mine.a", IPC_CREATE | IPC_AUTOREMOVE | IPC_NOMAP, 'i', 4,
				   &ca) < 0 ||
		    ipc_pipe_open(cc, "mine.p", 0, IPC_CREATE | IPC_AUTOREMOVE, &cp) < 0 ||
		    /* Not created by this open: not this process's to remove. */
		    ipc_queue_open(cc, "shared", IPC_CREATE | IPC_AUTOREMOVE, NULL, &other) < 0 ||
		    ipc_queue_put(cq, "x", 1, 0) < 0)
			child_fail("autoremove setup: %s", ipc_last_error(cc));
		if (write(sync[1], "r", 1) != 1)
			child_fail("write");
		pause();
		_exit(0);
	}
	ck_assert_int_eq(wait_byte(sync[0], 10000), 0);
	q = open_ok(c, "mine", 0, NULL);
	ck_assert_int_eq(status_key(c, "objects"), 4);
	ck_assert_int_eq(client_key(c, pid, "held"), 3);

	/* Killed: nothing it made to go with it stays, whatever is open on it. */
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_ne(harness_wait_child(pid, 10000), -1);
	wait_gone(c, "mine", 10000);
	ck_assert_int_eq(status_key(c, "objects"), 1);
	ck_assert_ipc(ipc_queue_put(q, "y", 1, 0), -EIDRM);
	ck_assert_ipc(ipc_queue_put(kept, "y", 1, 0), 0);
	ipc_queue_close(q);
	ipc_queue_close(kept);
	ipc_disconnect(c);
	close(sync[0]);
	close(sync[1]);
}
END_TEST

START_TEST(test_autoremove_spares_a_new_object_of_the_same_name)
{
	ipc_client *a = NULL, *b;
	ipc_queue *qa, *qb;

	harness_start(&h, NULL);
	ck_assert_ipc(ipc_connect(h.sock, &a), 0);
	b = connect_ok(h.sock);
	qa = open_ok(a, "name", IPC_CREATE | IPC_AUTOREMOVE, NULL);
	ck_assert_ipc(ipc_queue_unlink(b, "name"), 0);
	qb = open_ok(b, "name", IPC_CREATE, NULL);
	ipc_queue_close(qa);
	ipc_disconnect(a);
	wait_clients(b, 1, 5000);
	ck_assert_ipc(ipc_queue_put(qb, "z", 1, 0), 0);
	ck_assert_int_eq(status_key(b, "objects"), 1);
	ipc_queue_close(qb);
	ipc_disconnect(b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Ending a client */

START_TEST(test_client_kill_gives_back_what_it_held)
{
	ipc_queue_attr attr = { .ack = 1 };
	ipc_client *c;
	ipc_queue *q;
	int up[2], down[2];   /* child to parent, parent to child */
	long id;
	pid_t pid;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	q = open_ok(c, "work", IPC_CREATE, &attr);
	ck_assert_int_eq(put_str(q, "job", 0), 0);
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	pid = fork_ok();
	if (pid == 0) {
		ipc_client *cc;
		ipc_queue *cq;
		void *m;
		size_t len;

		if (ipc_connect(h.sock, &cc) < 0 || ipc_queue_open(cc, "work", 0, NULL, &cq) < 0 ||
		    ipc_queue_get(cq, &m, &len, 5000) < 0)
			child_fail("take the job: %s", ipc_last_error(cc));
		if (write(up[1], "t", 1) != 1)
			child_fail("write");
		/* Ended by the administrator: the next call finds the connection gone. */
		if (wait_byte(down[0], 10000) < 0)
			child_fail("no go");
		if (ipc_queue_put(cq, "x", 1, 0) != -ECONNRESET)
			child_fail("a killed client's call did not fail with ECONNRESET");
		_exit(0);
	}
	ck_assert_int_eq(wait_byte(up[0], 10000), 0);
	wait_stat(q, "inflight", 1, 5000);
	id = client_key(c, pid, "id");
	ck_assert_int_gt(id, 0);
	ck_assert_ipc(ipc_client_kill(c, (uint64_t)id), 0);
	/* Its message is back, marked as handed out before. */
	wait_stat(q, "depth", 1, 5000);
	ck_assert_int_eq(client_key(c, pid, "id"), -ENOENT);
	ck_assert_int_eq(write(down[1], "g", 1), 1);
	harness_expect_child_ok(pid, 10000, "killed client");

	ck_assert_ipc(ipc_client_kill(c, 999999), -ESRCH);
	id = client_key(c, getpid(), "id");
	ck_assert_ipc(ipc_client_kill(c, (uint64_t)id), -EINVAL);
	ipc_queue_close(q);
	ipc_disconnect(c);
	for (int i = 0; i < 2; i++) {
		close(up[i]);
		close(down[i]);
	}
}
END_TEST

START_TEST(test_only_admins_kill_others_trace_and_set)
{
	ipc_client *c;
	long id;
	pid_t pid;

	if (!running_as_root()) {
		fprintf(stderr, "test_only_admins_kill_others_trace_and_set: not root, "
			"no second user to be\n");
		return;
	}
	harness_start(&h, NULL);
	open_dirs_to_others();
	c = connect_ok(h.sock);
	id = client_key(c, getpid(), "id");
	pid = fork_ok();
	if (pid == 0) {
		ipc_client *cc;

		if (!become_other() || ipc_connect(h.sock, &cc) < 0)
			child_fail("connect as uid %d", OTHER_UID);
		if (ipc_client_kill(cc, (uint64_t)id) != -EPERM)
			child_fail("another user ended root's client");
		if (ipc_monitor(cc) != -EPERM)
			child_fail("another user traces requests");
		if (ipc_config_set(cc, "max-clients", "1") != -EPERM)
			child_fail("another user changed a setting");
		_exit(0);
	}
	harness_expect_child_ok(pid, 10000, "second user");
	ck_assert_int_eq(status_key(c, "max_clients"), 1024);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Settings */

/* Setting name's {value, source} from the config list, into value and source. */
static void config_of(ipc_client *c, const char *name, char *value, char *source)
{
	msgpack_unpacked u;
	size_t len, off = 0;
	void *mp;
	int found = 0;

	ck_assert_ipc(ipc_server_config(c, &mp, &len), 0);
	msgpack_unpacked_init(&u);
	ck_assert(msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS);
	ck_assert(u.data.type == MSGPACK_OBJECT_ARRAY);
	for (uint32_t i = 0; i < u.data.via.array.size; i++) {
		const msgpack_object *m = &u.data.via.array.ptr[i];
		const msgpack_object *n = proto_map_get(m, "name");
		const msgpack_object *v = proto_map_get(m, "value");
		const msgpack_object *s = proto_map_get(m, "source");

		if (!n || n->via.str.size != strlen(name) ||
		    memcmp(n->via.str.ptr, name, n->via.str.size) != 0)
			continue;
		ck_assert(v && v->type == MSGPACK_OBJECT_STR && s && s->type == MSGPACK_OBJECT_STR);
		snprintf(value, 64, "%.*s", (int)v->via.str.size, v->via.str.ptr);
		snprintf(source, 256, "%.*s", (int)s->via.str.size, s->via.str.ptr);
		found = 1;
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	ck_assert_msg(found, "no setting %s in the config list", name);
}

START_TEST(test_config_shows_sources_and_sets_live_settings)
{
	static const char *const args[] = { "--max-clients", "5", NULL };
	char value[64], source[256];
	ipc_client *c, *more[4];

	harness_start(&h, args);
	c = connect_ok(h.sock);
	config_of(c, "max-clients", value, source);
	ck_assert_str_eq(value, "5");
	ck_assert_str_eq(source, "command line");
	config_of(c, "max-output", value, source);
	ck_assert_str_eq(source, "default");

	/* A live setting takes effect at once, and says where it came from. */
	ck_assert_ipc(ipc_config_set(c, "max-clients", "2"), 0);
	config_of(c, "max-clients", value, source);
	ck_assert_str_eq(value, "2");
	ck_assert_str_eq(source, "config.set");
	ck_assert_ipc(connect_retry(h.sock, &more[0]), 0);
	ck_assert_ipc(ipc_connect(h.sock, &more[1]), -EUSERS);
	ck_assert_ipc(ipc_config_set(c, "log-level", "debug"), 0);
	config_of(c, "log-level", value, source);
	ck_assert_str_eq(value, "debug");

	ck_assert_ipc(ipc_config_set(c, "socket", "/elsewhere"), -EINVAL);
	ck_assert_msg(strstr(ipc_last_error(c), "needs a restart"), "%s", ipc_last_error(c));
	ck_assert_ipc(ipc_config_set(c, "no-such-thing", "1"), -ENOENT);
	ck_assert_ipc(ipc_config_set(c, "max-clients", "lots"), -EINVAL);
	ck_assert_msg(strstr(ipc_last_error(c), "max-clients: 'lots'"), "%s", ipc_last_error(c));
	config_of(c, "max-clients", value, source);
	ck_assert_str_eq(value, "2");
	ipc_disconnect(more[0]);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The live trace */

/* The next event of monitor m: its op, object and dropped count. */
static void next_event(ipc_client *m, char *op, char *object, uint64_t *dropped)
{
	msgpack_unpacked u;
	size_t len, off = 0;
	void *mp;
	const msgpack_object *o, *ob, *d;

	ck_assert_ipc(ipc_monitor_next(m, &mp, &len, 10000), 0);
	msgpack_unpacked_init(&u);
	ck_assert(msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS);
	o = proto_map_get(&u.data, "op");
	ob = proto_map_get(&u.data, "object");
	d = proto_map_get(&u.data, "dropped");
	ck_assert(o && o->type == MSGPACK_OBJECT_STR && ob && ob->type == MSGPACK_OBJECT_STR);
	ck_assert(d && d->type == MSGPACK_OBJECT_POSITIVE_INTEGER);
	snprintf(op, 64, "%.*s", (int)o->via.str.size, o->via.str.ptr);
	snprintf(object, 256, "%.*s", (int)ob->via.str.size, ob->via.str.ptr);
	*dropped = d->via.u64;
	msgpack_unpacked_destroy(&u);
	free(mp);
}

START_TEST(test_monitor_traces_other_clients_requests)
{
	char op[64], object[256];
	uint64_t dropped;
	ipc_client *m, *c;
	ipc_queue *q;

	harness_start(&h, NULL);
	m = connect_ok(h.sock);
	ck_assert_ipc(ipc_monitor(m), 0);
	c = connect_ok(h.sock);
	next_event(m, op, object, &dropped);
	ck_assert_str_eq(op, "hello");
	q = open_ok(c, "traced", IPC_CREATE, &by_socket);
	ck_assert_int_eq(put_str(q, "m", 0), 0);
	next_event(m, op, object, &dropped);
	ck_assert_str_eq(op, "queue.open");
	ck_assert_str_eq(object, "traced");
	next_event(m, op, object, &dropped);
	ck_assert_str_eq(op, "queue.put");
	ck_assert_str_eq(object, "traced");
	ck_assert_int_eq(dropped, 0);
	{
		void *none;
		size_t nlen;

		ck_assert_ipc(ipc_monitor_next(m, &none, &nlen, 50), -ETIMEDOUT);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
	ipc_disconnect(m);
}
END_TEST

START_TEST(test_a_monitor_that_does_not_read_stalls_nothing)
{
	enum { PUTS = 20000 };
	char msg[200];
	uint64_t dropped = 0, total = 0;
	ipc_client *m, *c;
	ipc_queue *q;
	int64_t t0;

	harness_start(&h, NULL);
	m = connect_ok(h.sock);
	ck_assert_ipc(ipc_monitor(m), 0);
	c = connect_ok(h.sock);
	q = open_ok(c, "busy", IPC_CREATE, &by_socket);
	memset(msg, 'p', sizeof msg);
	/* m reads nothing meanwhile: ipcd must neither wait for it nor cut it off. */
	t0 = harness_now_ms();
	for (int i = 0; i < PUTS; i++)
		ck_assert_ipc(ipc_queue_put(q, msg, sizeof msg, 5000), 0);
	ck_assert_int_eq(stat_key(q, "depth"), PUTS);
	fprintf(stderr, "%d puts beside a stalled monitor: %lld ms\n", PUTS,
		(long long)(harness_now_ms() - t0));
	/*
	 * Still connected; what it was not sent is counted in the events it
	 * gets.  A marker request ends the backlog; one made while the monitor's
	 * output is still full is dropped too, so another follows until one
	 * arrives.
	 */
	for (int round = 0, seen = 0; !seen; round++) {
		ck_assert_msg(round < 200, "no marker reached the monitor");
		ck_assert_int_eq(ipc_queue_size(q), PUTS);
		for (;;) {
			char mop[64];
			uint64_t d;
			void *mp;
			size_t len;
			msgpack_unpacked u;
			size_t off = 0;
			const msgpack_object *o, *dr;
			int r = ipc_monitor_next(m, &mp, &len, 2000);

			if (r == -ETIMEDOUT)
				break;
			ck_assert_ipc(r, 0);
			msgpack_unpacked_init(&u);
			ck_assert(msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS);
			o = proto_map_get(&u.data, "op");
			dr = proto_map_get(&u.data, "dropped");
			ck_assert(o && dr);
			snprintf(mop, sizeof mop, "%.*s", (int)o->via.str.size, o->via.str.ptr);
			d = dr->via.u64;
			msgpack_unpacked_destroy(&u);
			free(mp);
			dropped += d;
			total += 1 + d;
			if (strcmp(mop, "queue.size") == 0) {
				seen = 1;
				break;
			}
		}
	}
	ck_assert_msg(total >= PUTS, "the monitor accounts for %llu requests of %d",
		      (unsigned long long)total, PUTS);
	ck_assert_msg(dropped > 0, "no event was dropped for a monitor that read nothing");
	ipc_queue_close(q);
	ipc_disconnect(c);
	ipc_disconnect(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Per-client figures */

START_TEST(test_clients_show_age_idle_time_and_traffic)
{
	msgpack_unpacked u;
	const msgpack_object *e;
	ipc_client *c, *busy;
	ipc_queue *q;
	int64_t end;
	void *mp;
	pid_t pid;
	int sync[2];

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_int_eq(pipe(sync), 0);
	pid = fork_ok();
	if (pid == 0) {
		char msg[1000];

		memset(msg, 'b', sizeof msg);
		if (ipc_connect(h.sock, &busy) < 0 ||
		    ipc_queue_open(busy, "t", IPC_CREATE, NULL, &q) < 0)
			child_fail("connect");
		for (int i = 0; i < 100; i++)
			if (ipc_queue_put(q, msg, sizeof msg, 0) < 0)
				child_fail("put");
		if (write(sync[1], "d", 1) != 1)
			child_fail("write");
		pause();
		_exit(0);
	}
	ck_assert_int_eq(wait_byte(sync[0], 10000), 0);
	e = client_entry(c, pid, &u, &mp);
	ck_assert_int_ge(proto_map_get(e, "requests")->via.u64, 102);
	ck_assert_int_ge(proto_map_get(e, "bytes_in")->via.u64, 100 * 1000);
	ck_assert_int_ge(proto_map_get(e, "bytes_out")->via.u64, 102 * 3);
	msgpack_unpacked_destroy(&u);
	free(mp);
	/* Its idle time grows while it sends nothing; its age is at least that. */
	end = harness_now_ms() + 10000;
	for (;;) {
		uint64_t idle, age;

		e = client_entry(c, pid, &u, &mp);
		idle = proto_map_get(e, "idle_ms")->via.u64;
		age = proto_map_get(e, "age_ms")->via.u64;
		msgpack_unpacked_destroy(&u);
		free(mp);
		ck_assert_int_ge(age, idle);
		if (idle >= 300)
			break;
		ck_assert_msg(harness_now_ms() < end, "idle time stays at %llu ms",
			      (unsigned long long)idle);
		harness_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ipc_disconnect(c);
	close(sync[0]);
	close(sync[1]);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The message encoding, both ways, and against ipcctl */

START_TEST(test_msg_helpers_round_trip_and_match_msgpack)
{
	static const int64_t ints[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL,
					4294967296LL, INT64_MAX, -1, -32, -33, -128, -129,
					-32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN };
	static const size_t lens[] = { 0, 1, 31, 32, 255, 256, 65535, 65536 };
	unsigned char buf[70000];
	char *text = malloc(65536);

	ck_assert_ptr_nonnull(text);
	memset(text, 't', 65536);
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		ssize_t n = ipc_msg_pack_int(buf, sizeof buf, ints[i]);
		int64_t v;

		/* The same bytes msgpack-c writes, read back the same. */
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_int64(&pk, ints[i]);
		ck_assert_int_eq(n, (ssize_t)sb.size);
		ck_assert_msg(memcmp(buf, sb.data, sb.size) == 0, "int %lld", (long long)ints[i]);
		msgpack_sbuffer_destroy(&sb);
		ck_assert_int_eq(ipc_msg_unpack_int(buf, (size_t)n, &v), 0);
		ck_assert_int_eq(v, ints[i]);
	}
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		ssize_t n = ipc_msg_pack_str(buf, sizeof buf, text, lens[i]);
		const char *s;
		size_t sl;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_str_with_body(&pk, text, lens[i]);
		ck_assert_int_eq(n, (ssize_t)sb.size);
		ck_assert(memcmp(buf, sb.data, sb.size) == 0);
		msgpack_sbuffer_destroy(&sb);
		ck_assert_int_eq(ipc_msg_unpack_str(buf, (size_t)n, &s, &sl), 0);
		ck_assert_uint_eq(sl, lens[i]);
		ck_assert_ptr_eq(s, (const char *)buf + (n - (ssize_t)lens[i]));
		/* One byte short or one too many is not one value. */
		ck_assert_int_eq(ipc_msg_unpack_str(buf, (size_t)n - 1, &s, &sl), -EBADMSG);
		ck_assert_int_eq(ipc_msg_unpack_str(buf, (size_t)n + 1, &s, &sl), -EBADMSG);
		n = ipc_msg_pack_bin(buf, sizeof buf, text, lens[i]);
		ck_assert_int_eq(ipc_msg_unpack_str(buf, (size_t)n, &s, &sl), 0);
		ck_assert_uint_eq(sl, lens[i]);
	}
	{
		double d;
		int64_t v;
		ssize_t n = ipc_msg_pack_double(buf, sizeof buf, 2.5);

		ck_assert_int_eq(n, 9);
		ck_assert_int_eq(ipc_msg_unpack_double(buf, 9, &d), 0);
		ck_assert(d == 2.5);
		ck_assert_int_eq(ipc_msg_unpack_int(buf, 9, &v), -EBADMSG);
		n = ipc_msg_pack_int(buf, sizeof buf, 7);
		ck_assert_int_eq(ipc_msg_unpack_double(buf, (size_t)n, &d), 0);
		ck_assert(d == 7.0);
		/* Measuring: nothing written, the size returned. */
		buf[0] = 0;
		ck_assert_int_eq(ipc_msg_pack_str(buf, 0, "hello", 5), 6);
		ck_assert_int_eq(buf[0], 0);
		buf[0] = 0xcf;
		memset(buf + 1, 0xff, 8);
		ck_assert_int_eq(ipc_msg_unpack_int(buf, 9, &v), -ERANGE);
	}
	free(text);
}
END_TEST

/* Run ipcctl with args on h.sock: its exit code, stdout in *out. */
static int run_ctl(const char *const *args, char **out)
{
	const char *argv[16] = { IPCCTL_BIN, "-s", h.sock };
	size_t n = 3;
	int status;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	status = harness_run(NULL, argv, out, 10000);
	return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_c_programs_and_ipcctl_share_messages)
{
	static const char *const put[] = { "queue", "put", "shared", "\"hi\"", "--create", NULL };
	static const char *const get[] = { "queue", "get", "shared", NULL };
	static const char *const get_raw[] = { "queue", "get", "shared", "--raw", NULL };
	static const char *const get_hex[] = { "queue", "get", "shared", "--hex", NULL };
	static const char *const put_hex[] = { "queue", "put", "shared", "--hex", "41 42", NULL };
	char buf[16], *out;
	const char *s;
	size_t len, sl;
	void *msg;
	ipc_client *c;
	ipc_queue *q;

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	ck_assert_int_eq(run_ctl(put, &out), 0);
	free(out);
	q = open_ok(c, "shared", 0, NULL);
	ck_assert_ipc(ipc_queue_get(q, &msg, &len, 1000), 0);
	ck_assert_int_eq(ipc_msg_unpack_str(msg, len, &s, &sl), 0);
	ck_assert_uint_eq(sl, 2);
	ck_assert(memcmp(s, "hi", 2) == 0);
	free(msg);

	/* A C program's string reads as JSON in ipcctl; its raw bytes with --raw. */
	ck_assert_ipc(ipc_queue_put(q, buf, (size_t)ipc_msg_pack_str(buf, sizeof buf, "A", 1), 0), 0);
	ck_assert_int_eq(run_ctl(get, &out), 0);
	ck_assert_str_eq(out, "\"A\"\n");
	free(out);
	ck_assert_ipc(ipc_queue_put(q, "A", 1, 0), 0);
	ck_assert_int_eq(run_ctl(get_raw, &out), 0);
	ck_assert_str_eq(out, "A");
	free(out);
	ck_assert_int_eq(run_ctl(put_hex, &out), 0);
	free(out);
	ck_assert_ipc(ipc_queue_get(q, &msg, &len, 1000), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert(memcmp(msg, "AB", 2) == 0);
	free(msg);
	ck_assert_ipc(ipc_queue_put(q, "\x01\xff", 2, 0), 0);
	ck_assert_int_eq(run_ctl(get_hex, &out), 0);
	ck_assert_str_eq(out, "01ff\n");
	free(out);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The default sockets, and what errors say */

START_TEST(test_default_sockets_in_order)
{
	char path[256];
	pid_t pid;
	int status;

	setenv("IPCD_SOCKET", "/somewhere/ipcd.sock", 1);
	ck_assert_int_eq(ipc_default_socket(0, path, sizeof path), 0);
	ck_assert_str_eq(path, "/somewhere/ipcd.sock");
	ck_assert_int_eq(ipc_default_socket(1, path, sizeof path), -ENOENT);
	ck_assert_int_eq(ipc_default_socket(0, path, 4), -ENAMETOOLONG);
	unsetenv("IPCD_SOCKET");
	setenv("XDG_RUNTIME_DIR", h.dir, 1);
	if (geteuid() == 0) {
		ck_assert_int_eq(ipc_default_socket(0, path, sizeof path), 0);
		ck_assert_str_eq(path, "/run/ipcd/ipcd.sock");
		ck_assert_int_eq(ipc_default_socket(1, path, sizeof path), -ENOENT);
	}
	/* Another user: its own broker first, then the system's. */
	harness_start(&h, NULL);
	if (geteuid() == 0)
		open_dirs_to_others();
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ipc_client *c;
		char want[300];
		int r;

		if (geteuid() == 0 && !become_other())
			child_fail("setuid");
		snprintf(want, sizeof want, "%s/ipcd.sock", h.dir);
		if (ipc_default_socket(0, path, sizeof path) != 0 || strcmp(path, want) != 0 ||
		    ipc_default_socket(1, path, sizeof path) != 0 ||
		    strcmp(path, "/run/ipcd/ipcd.sock") != 0 ||
		    ipc_default_socket(2, path, sizeof path) != -ENOENT)
			child_fail("default sockets of a user: first %s", want);
		r = ipc_connect(NULL, &c);
		if (r < 0)
			child_fail("connect to the user's own broker: %s", ipc_strerror(r));
		ipc_disconnect(c);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
}
END_TEST

START_TEST(test_errors_say_what_an_object_is)
{
	ipc_client *c;
	ipc_pipe *p;
	ipc_queue *q;
	static const char *const args[] = { "--max-objects", "1", NULL };
	static const char *const ls[] = { "ls", NULL };
	static const char *const rm[] = { "pipe", "rm", "leaked", NULL };
	static const char *const rm_as_queue[] = { "queue", "rm", "leaked", NULL };
	char *out;

	harness_start(&h, args);
	c = connect_ok(h.sock);
	ck_assert_ipc(ipc_pipe_open(c, "leaked", 0, IPC_CREATE, &p), 0);
	ck_assert_ipc(ipc_queue_unlink(c, "leaked"), -ENOENT);
	ck_assert_msg(strstr(ipc_last_error(c), "'leaked' is a pipe"), "%s", ipc_last_error(c));
	ck_assert_ipc(ipc_queue_open(c, "more", IPC_CREATE, NULL, &q), -ENOSPC);
	ck_assert_msg(strstr(ipc_last_error(c), "maximum of 1 object") &&
		      !strstr(ipc_last_error(c), "1 objects"), "%s", ipc_last_error(c));
	/* The pipe's maker is gone: ipcctl sees it, and removes it as a pipe. */
	ipc_pipe_close(p);
	ck_assert_int_eq(run_ctl(ls, &out), 0);
	ck_assert_msg(strstr(out, "pipe ") && strstr(out, "leaked"), "ls: %s", out);
	free(out);
	ck_assert_int_eq(run_ctl(rm_as_queue, &out), 1);
	free(out);
	ck_assert_int_eq(run_ctl(rm, &out), 0);
	free(out);
	ck_assert_int_eq(status_key(c, "objects"), 0);
	ipc_disconnect(c);
}
END_TEST

static Suite *admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *tc;

	tc = harness_tcase(s, "autoremove", 30, setup, teardown);
	tcase_add_test(tc, test_autoremoved_objects_go_when_their_creator_is_killed);
	tcase_add_test(tc, test_autoremove_spares_a_new_object_of_the_same_name);

	tc = harness_tcase(s, "kill", 30, setup, teardown);
	tcase_add_test(tc, test_client_kill_gives_back_what_it_held);
	tcase_add_test(tc, test_only_admins_kill_others_trace_and_set);

	tc = harness_tcase(s, "config", 30, setup, teardown);
	tcase_add_test(tc, test_config_shows_sources_and_sets_live_settings);

	tc = harness_tcase(s, "monitor", 120, setup, teardown);
	tcase_add_test(tc, test_monitor_traces_other_clients_requests);
	tcase_add_test(tc, test_a_monitor_that_does_not_read_stalls_nothing);

	tc = harness_tcase(s, "clients", 30, setup, teardown);
	tcase_add_test(tc, test_clients_show_age_idle_time_and_traffic);

	tc = harness_tcase(s, "encoding", 30, setup, teardown);
	tcase_add_test(tc, test_msg_helpers_round_trip_and_match_msgpack);
	tcase_add_test(tc, test_c_programs_and_ipcctl_share_messages);

	tc = harness_tcase(s, "words", 30, setup, teardown);
	tcase_add_test(tc, test_default_sockets_in_order);
	tcase_add_test(tc, test_errors_say_what_an_object_is);
	return s;
}

int main(void)
{
	return harness_main(admin_suite());
}
