/*
 * harness.c - temporary directories, the daemon's life, bounded waits for
 * children and raw frames for the integration tests (see harness.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "harness.h"
#include "ipc_protocol.h"

#define ROOT_ENV "IPCD_TEST_ROOT"

/* The running test's harness, for reports on its daemon; one per test process. */
static struct harness *current;

bool harness_file_has(const char *path, const char *s)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;
	bool found;

	if (buf && fd >= 0)
		n = read(fd, buf, cap - 1);
	if (fd >= 0)
		close(fd);
	found = n > 0 && (buf[n] = '\0', strstr(buf, s) != NULL);
	free(buf);
	return found;
}

int64_t harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int remove_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void remove_tree(const char *path)
{
	nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int harness_main(Suite *s)
{
	const char *tmp = getenv("TMPDIR");
	char root[PATH_MAX];
	SRunner *sr;
	int failed;

	/* The socket path must fit sun_path; a long $TMPDIR falls back to /tmp. */
	if (!tmp || !*tmp || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(root, sizeof root, "%s/ipcd-test.XXXXXX", tmp);
	if (!mkdtemp(root)) {
		fprintf(stderr, "cannot make a directory in %s: %s\n", tmp, strerror(errno));
		return 1;
	}
	setenv(ROOT_ENV, root, 1);
	/* A client writing to a daemon that died must see EPIPE, not die. */
	signal(SIGPIPE, SIG_IGN);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	if (getenv("IPCD_TEST_KEEP"))
		fprintf(stderr, "test directories kept in %s\n", root);
	else
		remove_tree(root);
	return failed ? 1 : 0;
}

TCase *harness_tcase(Suite *s, const char *name, int timeout,
		     void (*setup)(void), void (*teardown)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, timeout < HARNESS_TCASE_MIN_S ? HARNESS_TCASE_MIN_S : timeout);
	suite_add_tcase(s, tc);
	return tc;
}

void harness_setup(struct harness *h)
{
	const char *root = getenv(ROOT_ENV);
	int n;

	memset(h, 0, sizeof *h);
	current = h;
	ck_assert_msg(root != NULL, "tests must run under harness_main");
	n = snprintf(h->dir, sizeof h->dir, "%s/t.XXXXXX", root);
	ck_assert_msg(n > 0 && (size_t)n + sizeof "/ipcd.sock" <= sizeof h->dir,
		      "test directory path too long: %s", root);
	ck_assert_msg(mkdtemp(h->dir) != NULL, "mkdtemp %s: %s", h->dir, strerror(errno));
	n = snprintf(h->sock, sizeof h->sock, "%s/ipcd.sock", h->dir);
	ck_assert(n > 0 && (size_t)n < sizeof h->sock);
}

void harness_cleanup(struct harness *h)
{
	if (h->pid > 0)
		harness_stop(h);
	if (h->dir[0])
		remove_tree(h->dir);
	h->dir[0] = '\0';
	if (current == h)
		current = NULL;
}

void harness_path(const struct harness *h, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", h->dir, name);
}

const char *harness_ipcd_bin(void)
{
	const char *bin = getenv("IPCD_BIN");

	return bin && *bin ? bin : IPCD_BIN_DEFAULT;
}

pid_t harness_spawn(const char *sock, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	pid_t pid;

	argv[n++] = harness_ipcd_bin();
	argv[n++] = "-s";
	argv[n++] = sock;
	while (args && *args) {
		ck_assert_msg(n < sizeof argv / sizeof argv[0] - 1, "too many ipcd arguments");
		argv[n++] = *args++;
	}
	argv[n] = NULL;

	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/*
		 * Stay in the test's process group: Check kills it after a
		 * failure.  Ignore hangups as a service manager's child would:
		 * a daemon that wants SIGHUP installs its own handler.
		 */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_IGN);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int try_connect(const char *sock)
{
	int fd = raw_connect(sock);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int harness_wait_socket(const char *sock, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;

	for (;;) {
		if (try_connect(sock) == 0)
			return 0;
		if (harness_now_ms() >= end)
			return -ETIMEDOUT;
		harness_sleep_ms(10);
	}
}

void harness_start(struct harness *h, const char *const *args)
{
	int64_t end;
	int status;

	ck_assert_msg(h->pid == 0, "a daemon already runs in this test");
	h->pid = harness_spawn(h->sock, args);
	end = harness_now_ms() + HARNESS_HANG_MS;
	for (;;) {
		pid_t r = waitpid(h->pid, &status, WNOHANG);

		if (r == h->pid) {
			h->pid = 0;
			ck_abort_msg("ipcd exited at start (status 0x%x)", status);
		}
		if (try_connect(h->sock) == 0)
			return;
		if (harness_now_ms() >= end)
			break;
		harness_sleep_ms(10);
	}
	harness_kill(h);
	ck_abort_msg("ipcd did not accept connections on %s within %d s", h->sock,
		     HARNESS_HANG_MS / 1000);
}

int harness_wait_child(pid_t pid, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			ck_abort_msg("waitpid %d: %s", (int)pid, strerror(errno));
		if (harness_now_ms() >= end)
			break;
		harness_sleep_ms(5);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

int harness_run(const char *sock, const char *const *argv, char **out, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fds[2];
	pid_t pid;

	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(pipe2(fds, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	/* Nothing buffered may be written again by the child. */
	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		dup2(fds[1], STDOUT_FILENO);
		if (sock)
			setenv("IPCD_SOCKET", sock, 1);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int64_t left = end - harness_now_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			break;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (cap - len < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		n = read(fds[0], buf + len, cap - len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	buf[len] = '\0';
	*out = buf;
	return harness_wait_child(pid, (int)(end > harness_now_ms() ? end - harness_now_ms() : 1));
}

/* Fail, saying how, if the daemon is gone or goes within grace_ms. */
static void check_daemon_within(struct harness *h, int grace_ms)
{
	int64_t end = harness_now_ms() + grace_ms;
	int status;

	if (h->pid <= 0)
		return;
	while (waitpid(h->pid, &status, WNOHANG) != h->pid) {
		if (harness_now_ms() >= end)
			return;
		harness_sleep_ms(10);
	}
	h->pid = 0;
	if (WIFSIGNALED(status))
		ck_abort_msg("ipcd was killed by signal %d", WTERMSIG(status));
	ck_abort_msg("ipcd exited with status %d", WEXITSTATUS(status));
}

void harness_check_daemon(struct harness *h)
{
	check_daemon_within(h, 0);
}

void harness_expect_child_ok(pid_t pid, int timeout_ms, const char *what)
{
	int status = harness_wait_child(pid, timeout_ms);

	/* A daemon that is shutting down may take a moment to be gone. */
	if (current && status != 0)
		check_daemon_within(current, 1000);

	ck_assert_msg(status != -1, "%s: still running after %d ms", what, timeout_ms);
	ck_assert_msg(!WIFSIGNALED(status), "%s: killed by signal %d", what,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s: exited with %d", what, WEXITSTATUS(status));
}

int harness_stop(struct harness *h)
{
	int status;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, SIGTERM);
	status = harness_wait_child(h->pid, HARNESS_HANG_MS);
	h->pid = 0;
	return status;
}

void harness_kill(struct harness *h)
{
	int status;

	if (h->pid <= 0)
		return;
	kill(h->pid, SIGKILL);
	while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
		;
	h->pid = 0;
}

int raw_connect(const char *sock)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int raw_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int raw_send_frame(int fd, const void *body, size_t len)
{
	unsigned char hdr[IPC_FRAME_HEADER];
	int r;

	ipc_frame_put_len(hdr, (uint32_t)len);
	r = raw_send(fd, hdr, sizeof hdr);
	return r < 0 ? r : raw_send(fd, body, len);
}

/* Read exactly len bytes before end (monotonic ms). */
/* The last descriptor the daemon passed with a frame read raw (SCM_RIGHTS). */
static int passed_fd = -1;

int raw_take_fd(void)
{
	int fd = passed_fd;

	passed_fd = -1;
	return fd;
}

/* recv() that keeps a descriptor riding with the bytes in passed_fd. */
static ssize_t recv_keep_fd(int fd, void *buf, size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm;

	if (n <= 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		if (passed_fd >= 0)
			close(passed_fd);
		memcpy(&passed_fd, CMSG_DATA(cm), sizeof passed_fd);
	}
	return n;
}

static int read_full(int fd, void *buf, size_t len, int64_t end)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = end - harness_now_ms();
		ssize_t n;
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv_keep_fd(fd, p, len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int raw_recv_frame(int fd, char **body, size_t *len, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	unsigned char hdr[IPC_FRAME_HEADER];
	uint32_t n;
	char *buf;
	int r;

	*body = NULL;
	*len = 0;
	r = read_full(fd, hdr, sizeof hdr, end);
	if (r < 0)
		return r;
	n = ipc_frame_get_len(hdr);
	if (n > IPC_FRAME_HARD_MAX)
		return -EPROTO;
	buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	r = read_full(fd, buf, n, end);
	if (r < 0) {
		free(buf);
		return r;
	}
	*body = buf;
	*len = n;
	return 0;
}

int raw_wait_closed(int fd, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	char buf[4096];

	for (;;) {
		int r = read_full(fd, buf, sizeof buf, end);

		if (r == -ETIMEDOUT)
			return r;
		if (r < 0)
			return 0;
	}
}

int raw_wait_hangup(int fd, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLRDHUP };
		int64_t left = end - harness_now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) > 0) {
			if (p.revents & POLLNVAL)
				return -EBADF;
			if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
				return 0;
		}
	}
}

void raw_packer(msgpack_sbuffer *sb, msgpack_packer *pk)
{
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
}

void raw_begin(msgpack_sbuffer *sb, msgpack_packer *pk, unsigned op, uint32_t id,
	       unsigned nargs)
{
	raw_packer(sb, pk);
	msgpack_pack_array(pk, 2 + nargs);
	msgpack_pack_uint32(pk, op);
	msgpack_pack_uint32(pk, id);
}

int raw_end(int fd, msgpack_sbuffer *sb)
{
	int r = raw_send_frame(fd, sb->data, sb->size);

	msgpack_sbuffer_destroy(sb);
	return r;
}

int raw_recv_reply(int fd, msgpack_unpacked *u, struct proto_reply *rep, char **body,
		   int timeout_ms)
{
	size_t len;
	int r;

	msgpack_unpacked_init(u);
	r = raw_recv_frame(fd, body, &len, timeout_ms);
	if (r < 0)
		return r;
	return proto_decode_reply(*body, len, u, rep);
}

int raw_call(int fd, msgpack_sbuffer *sb, msgpack_unpacked *u, struct proto_reply *rep,
	     char **body)
{
	int r = raw_end(fd, sb);

	ck_assert_msg(r == 0, "cannot send a raw request (%s)", strerror(-r));
	r = raw_recv_reply(fd, u, rep, body, HARNESS_HANG_MS);
	ck_assert_msg(r == 0, "no well-formed reply (%s)", strerror(-r));
	return rep->status;
}

int raw_connect_greeted(const char *sock)
{
	int fd = raw_connect(sock);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(raw_hello(fd, 1), 0);
	return fd;
}

int raw_hello(int fd, uint32_t id)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	msgpack_object *a;
	size_t len, off = 0;
	char *body;
	int r;

	raw_begin(&sb, &pk, IPC_OP_HELLO, id, 3);
	msgpack_pack_uint32(&pk, IPC_PROTO_VERSION);
	msgpack_pack_uint32(&pk, (uint32_t)getpid());
	msgpack_pack_str_with_body(&pk, "raw", 3);
	r = raw_end(fd, &sb);
	if (r < 0)
		return r;
	r = raw_recv_frame(fd, &body, &len, HARNESS_HANG_MS);
	if (r < 0)
		return r;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, body, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size < 2) {
		r = -EPROTO;
	} else {
		a = u.data.via.array.ptr;
		if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 != id)
			r = -EPROTO;
		else if (a[1].type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			r = (int)a[1].via.i64;
		else if (a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[1].via.u64 == 0)
			r = 0;
		else
			r = -EPROTO;
	}
	msgpack_unpacked_destroy(&u);
	free(body);
	return r;
}
