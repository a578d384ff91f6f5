/*
 * clients.c - client-side helpers of the integration tests (see clients.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients.h"
#include "codec.h"

void child_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "child %d: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

pid_t fork_ok(void)
{
	pid_t pid = fork();

	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	return pid;
}

ipc_client *connect_ok(const char *sock)
{
	ipc_client *c = NULL;

	ck_assert_ipc(ipc_connect(sock, &c), 0);
	ck_assert_ptr_nonnull(c);
	return c;
}

int connect_retry(const char *sock, ipc_client **c)
{
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;
	int r;

	while ((r = ipc_connect(sock, c)) < 0 && harness_now_ms() < end)
		harness_sleep_ms(20);
	return r;
}

ipc_queue *open_ok(ipc_client *c, const char *name, int flags, const ipc_queue_attr *attr)
{
	ipc_queue *q = NULL;

	ck_assert_ipc(ipc_queue_open(c, name, flags, attr, &q), 0);
	ck_assert_ptr_nonnull(q);
	return q;
}

void get_expect(ipc_queue *q, const char *want, int timeout_ms)
{
	void *data = NULL;
	size_t len = 0;

	ck_assert_ipc(ipc_queue_get(q, &data, &len, timeout_ms), 0);
	ck_assert_msg(len == strlen(want) && memcmp(data, want, len) == 0,
		      "got %zu bytes '%.*s', want '%s'", len, (int)len, (char *)data, want);
	free(data);
}

int put_str(ipc_queue *q, const char *s, int timeout_ms)
{
	return ipc_queue_put(q, s, strlen(s), timeout_ms);
}

/* key of the map in mp (len bytes, freed here). */
static long map_key(void *mp, size_t len, const char *key)
{
	const msgpack_object *v;
	msgpack_unpacked u;
	size_t off = 0;
	long n = -EPROTO;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS) {
		v = proto_map_get(&u.data, key);
		if (!v)
			n = -ENOENT;
		else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			n = (long)v->via.u64;
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	return n;
}

long status_key(ipc_client *c, const char *key)
{
	void *mp;
	size_t len;
	int r = ipc_server_status(c, &mp, &len);

	return r < 0 ? r : map_key(mp, len, key);
}

long client_key(ipc_client *c, pid_t pid, const char *key)
{
	msgpack_unpacked u;
	size_t len, off = 0;
	long n = -ENOENT;
	void *mp;
	int r = ipc_server_clients(c, &mp, &len);

	if (r < 0)
		return r;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < u.data.via.array.size; i++) {
			const msgpack_object *m = &u.data.via.array.ptr[i];
			const msgpack_object *p = proto_map_get(m, "pid"), *v;

			if (!p || p->type != MSGPACK_OBJECT_POSITIVE_INTEGER || p->via.u64 != (uint64_t)pid)
				continue;
			v = proto_map_get(m, key);
			if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				n = (long)v->via.u64;
			else if (v && v->type == MSGPACK_OBJECT_ARRAY)
				n = (long)v->via.array.size;
			break;
		}
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
	return n;
}

long stat_key(ipc_queue *q, const char *key)
{
	void *mp;
	size_t len;
	int r = ipc_queue_stat(q, &mp, &len);

	return r < 0 ? r : map_key(mp, len, key);
}

void wait_stat(ipc_queue *q, const char *key, long want, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	long n;

	while ((n = stat_key(q, key)) != want && harness_now_ms() < end)
		harness_sleep_ms(5);
	ck_assert_msg(n == want, "%s of %s is %ld, want %ld", key, ipc_queue_name(q), n, want);
}

void wait_status(ipc_client *c, const char *key, long want, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	long n;

	while ((n = status_key(c, key)) != want && harness_now_ms() < end)
		harness_sleep_ms(10);
	ck_assert_msg(n == want, "ipcd's status says %s %ld, want %ld", key, n, want);
}

void wait_clients(ipc_client *c, long want, int timeout_ms)
{
	wait_status(c, "clients", want, timeout_ms);
}

long poll_waiting(ipc_client *c, pid_t pid, long want, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	long n;

	while ((n = client_key(c, pid, "waiting")) != want && harness_now_ms() < end)
		harness_sleep_ms(5);
	return n;
}

void wait_waiting(ipc_client *c, pid_t pid, long want, int timeout_ms)
{
	long n = poll_waiting(c, pid, want, timeout_ms);

	ck_assert_msg(n == want, "process %d has %ld requests parked, want %ld", (int)pid, n, want);
}

int child_wait_parent_parked(const char *sock)
{
	ipc_client *c;
	long n;

	if (ipc_connect(sock, &c) < 0)
		return -1;
	n = poll_waiting(c, getppid(), 1, HARNESS_HANG_MS);
	ipc_disconnect(c);
	return n == 1 ? 0 : -1;
}

int wait_byte(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char b;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	return read(fd, &b, 1) == 1 ? 0 : -1;
}

void pipe_ok(int fds[2])
{
	ck_assert_msg(pipe(fds) == 0, "pipe: %s", strerror(errno));
}

int read_within(int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = end - harness_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			if (errno == EINTR && left > 0)
				continue;
			return -1;
		}
		n = read(fd, p, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			child_fail("write to pipe: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* In a child: connect, open qname, say ready on fd, then block in a get and report. */
static void blocked_getter(const char *sock, const char *qname, int fd)
{
	struct outcome o;
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;
	int64_t t0;
	int r;

	if ((r = ipc_connect(sock, &c)) < 0)
		child_fail("connect: %s", ipc_strerror(r));
	if ((r = ipc_queue_open(c, qname, IPC_CREATE, NULL, &q)) < 0)
		child_fail("open: %s", ipc_strerror(r));
	write_all(fd, "R", 1);
	t0 = harness_now_ms();
	o.r = ipc_queue_get(q, &data, &len, IPC_FOREVER);
	o.ms = harness_now_ms() - t0;
	if (o.r == 0)
		free(data);
	write_all(fd, &o, sizeof o);
	_exit(0);
}

pid_t start_blocked_getter(const char *sock, ipc_queue *watch, int *rfd)
{
	int p[2];
	pid_t pid;
	char b;

	pipe_ok(p);
	pid = fork_ok();
	if (pid == 0) {
		close(p[0]);
		blocked_getter(sock, ipc_queue_name(watch), p[1]);
	}
	close(p[1]);
	ck_assert_msg(read_within(p[0], &b, 1, 5000) == 0, "getter never got ready");
	wait_stat(watch, "getters", 1, HARNESS_HANG_MS);
	*rfd = p[0];
	return pid;
}

pid_t spawn_logged(const char *const *argv, const char *errpath, const char *const *envs)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0)
			dup2(fd, 2);
		for (; envs && *envs; envs++)
			putenv((char *)*envs);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

void daemon_still_running(struct harness *h)
{
	ck_assert_msg(h->pid > 0, "no ipcd");
	harness_check_daemon(h);
}

void daemon_serves(const char *sock, const char *qname)
{
	ipc_client *c = connect_ok(sock);
	ipc_queue *q = open_ok(c, qname, IPC_CREATE, NULL);

	ck_assert_ipc(put_str(q, "still here", 1000), 0);
	get_expect(q, "still here", 1000);
	ipc_queue_close(q);
	ipc_disconnect(c);
}

/* The value in KiB of key ("VmRSS") in /proc/PID/status, or -1. */
static long status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':' &&
		    sscanf(line + klen + 1, "%ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

long rss_kib(pid_t pid)
{
	return status_kib(pid, "VmRSS");
}

long hwm_kib(pid_t pid)
{
	return status_kib(pid, "VmHWM");
}

int running_as_root(void)
{
	return geteuid() == 0;
}

ipc_array *array_open_ok(ipc_client *c, const char *name, int flags, char tc, size_t length)
{
	ipc_array *a = NULL;

	ck_assert_ipc(ipc_array_open(c, name, flags, tc, length, &a), 0);
	ck_assert_ptr_nonnull(a);
	return a;
}
