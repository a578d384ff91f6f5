/*
 * test_service.c - ipcd as a system service: socket activation through
 * systemd-socket-activate, the notifications a service manager receives
 * (played here by a datagram socket), logging for the journal, and the
 * configuration file: each setting honoured, a bad file refused, SIGHUP.
 *
 * Each test runs the real ipcd; the daemons started here are started with
 * their own command lines (often without -s), so the harness only provides
 * the directory, the waits and the raw frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"
#include "ipc_protocol.h"

static struct harness h;
static char errlog[256];     /* the daemon's stderr, in the test directory */

static void setup(void)
{
	harness_setup(&h);
	harness_path(&h, "ipcd.err", errlog, sizeof errlog);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/*
 * Start argv (argv[0] NULL: the ipcd under test) with the environment
 * changes env ("NAME=value" sets, "NAME" unsets; NULL-terminated, or NULL)
 * and stderr appended to errlog.  h.pid is the child, so teardown stops it.
 */
static pid_t spawn(const char **argv, const char *const *env)
{
	pid_t pid;

	if (!argv[0])
		argv[0] = harness_ipcd_bin();
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(126);
		for (; env && *env; env++) {
			if (strchr(*env, '='))
				putenv((char *)*env);
			else
				unsetenv(*env);
		}
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	h.pid = pid;
	return pid;
}

/* Wait until sock accepts, failing the test if the daemon exits first. */
static void wait_serving(const char *sock)
{
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;
	int status;

	while (harness_wait_socket(sock, 10) < 0) {
		ck_assert_msg(waitpid(h.pid, &status, WNOHANG) == 0,
			      "ipcd exited at start (status 0x%x)", status);
		ck_assert_msg(harness_now_ms() < end, "ipcd does not serve %s", sock);
	}
}

static void write_text(const char *name, char *path, size_t len, const char *fmt, ...)
{
	va_list ap;
	FILE *f;

	harness_path(&h, name, path, len);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* The daemon's stderr so far (static buffer). */
static const char *read_errlog(void)
{
	static char buf[64 * 1024];
	FILE *f = fopen(errlog, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Wait up to 3 s for text to appear on the daemon's stderr. */
static void expect_logged(const char *text)
{
	int64_t end = harness_now_ms() + HARNESS_HANG_MS;

	while (!strstr(read_errlog(), text)) {
		ck_assert_msg(harness_now_ms() < end, "ipcd never logged '%s'; it logged:\n%s",
			      text, read_errlog());
		harness_sleep_ms(10);
	}
}

/* Connect, retrying while the daemon may still count a closed probe. */
/* ------------------------------------------------------------------------ */
/* Socket activation */

START_TEST(test_activated_ipcd_serves_client_that_connected_first)
{
	char gate[256], script[1024], lock[300], *body;
	const char *argv[] = { IPCD_SOCKET_ACTIVATE, "-l", h.sock, "/bin/sh", "-c", script, NULL };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct stat st;
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;
	int fd, status;
	int64_t end;

	/* ipcd execs only once the gate exists: after the client's hello. */
	harness_path(&h, "gate", gate, sizeof gate);
	snprintf(script, sizeof script,
		 "while [ ! -e '%s' ]; do sleep 0.01; done; exec '%s' -c /dev/null --log-level info",
		 gate, harness_ipcd_bin());
	spawn(argv, NULL);
	end = harness_now_ms() + HARNESS_HANG_MS;
	while (stat(h.sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		ck_assert_msg(harness_now_ms() < end, "systemd-socket-activate did not listen");
		harness_sleep_ms(10);
	}

	/*
	 * Connect and say hello before ipcd runs: the listening socket holds
	 * both.  (Refused only between the manager's bind and its listen.)
	 */
	while ((fd = raw_connect(h.sock)) == -ECONNREFUSED && harness_now_ms() < end)
		harness_sleep_ms(10);
	ck_assert_msg(fd >= 0, "connect before ipcd started: %s", strerror(-fd));
	raw_begin(&sb, &pk, IPC_OP_HELLO, 7, 3);
	msgpack_pack_uint32(&pk, IPC_PROTO_VERSION);
	msgpack_pack_uint32(&pk, (uint32_t)getpid());
	msgpack_pack_str_with_body(&pk, "early", 5);
	ck_assert_int_eq(raw_end(fd, &sb), 0);
	ck_assert_int_eq(raw_recv_frame(fd, &body, &len, 200), -ETIMEDOUT);
	ck_assert_int_eq(waitpid(h.pid, &status, WNOHANG), 0);

	write_text("gate", gate, sizeof gate, "go\n");
	ck_assert_int_eq(raw_recv_frame(fd, &body, &len, HARNESS_HANG_MS), 0);
	/* [7, 0, version, ...]: fixarray, id 7, status 0. */
	ck_assert_msg(len > 3 && (body[1] & 0xff) == 7 && body[2] == 0,
		      "hello not answered with success");
	free(body);
	close(fd);
	expect_logged("passed by the service manager");

	/* Clients after the start are served too. */
	ck_assert_ipc(ipc_connect(h.sock, &c), 0);
	q = open_ok(c, "activated", IPC_CREATE, NULL);
	ck_assert_ipc(ipc_queue_put(q, "hi", 2, 0), 0);
	ck_assert_ipc(ipc_queue_get(q, &data, &len, 0), 0);
	free(data);
	ipc_queue_close(q);
	ipc_disconnect(c);

	/* The socket belongs to the manager: no lock beside it, left in place at exit. */
	status = harness_stop(&h);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
	ck_assert_msg(stat(h.sock, &st) == 0 && S_ISSOCK(st.st_mode), "the passed socket was removed");
	snprintf(lock, sizeof lock, "%s.lock", h.sock);
	ck_assert_msg(access(lock, F_OK) < 0, "a lock file was made beside a passed socket");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The service manager's notifications */

/* A datagram socket at dir/notify, as a service manager listens on. */
static int notify_socket(char *path, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	harness_path(&h, "notify", path, len);
	ck_assert_int_ge(fd, 0);
	ck_assert(strlen(path) < sizeof sa.sun_path);
	strcpy(sa.sun_path, path);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "bind: %s", strerror(errno));
	return fd;
}

/*
 * Read notifications until one contains want, within timeout_ms; the
 * message is copied to msg.  Counts the WATCHDOG=1 pings seen meanwhile.
 */
static int notify_wait(int fd, const char *want, int timeout_ms, char *msg, size_t len,
		       int *pings)
{
	int64_t end = harness_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - harness_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, msg, len - 1, 0);
		if (n < 0)
			continue;
		msg[n] = '\0';
		if (pings && strcmp(msg, "WATCHDOG=1") == 0)
			(*pings)++;
		if (strstr(msg, want))
			return 0;
	}
}

START_TEST(test_manager_is_told_ready_status_reloading_stopping)
{
	char path[256], env[300], msg[512], conf[256];
	const char *argv[] = { NULL, "-s", h.sock, "-c", conf, NULL };
	const char *envs[] = { env, "WATCHDOG_USEC", NULL };
	ipc_client *c;
	ipc_queue *q;
	int fd = notify_socket(path, sizeof path), pings = 0, status;

	write_text("ipcd.conf", conf, sizeof conf, "max-clients = 8\n");
	snprintf(env, sizeof env, "NOTIFY_SOCKET=%s", path);
	spawn(argv, envs);
	ck_assert_msg(notify_wait(fd, "READY=1", 5000, msg, sizeof msg, &pings) == 0,
		      "no READY=1");
	ck_assert_msg(strstr(msg, "STATUS=0 clients, 0 objects"), "READY without status: %s", msg);
	/* Ready means serving. */
	ck_assert_int_eq(harness_wait_socket(h.sock, 0), 0);

	/* A client and an object show in the status line. */
	ck_assert_ipc(ipc_connect(h.sock, &c), 0);
	q = open_ok(c, "shown", IPC_CREATE, NULL);
	ck_assert_msg(notify_wait(fd, "STATUS=1 client, 1 object", 3000, msg, sizeof msg,
				  &pings) == 0, "no STATUS= with the client and the queue");

	kill(h.pid, SIGHUP);
	ck_assert_msg(notify_wait(fd, "RELOADING=1", 3000, msg, sizeof msg, &pings) == 0,
		      "no RELOADING=1 on SIGHUP");
	ck_assert_msg(notify_wait(fd, "READY=1", 3000, msg, sizeof msg, &pings) == 0,
		      "no READY=1 after the reload");

	ipc_queue_close(q);
	ipc_disconnect(c);
	kill(h.pid, SIGTERM);
	ck_assert_msg(notify_wait(fd, "STOPPING=1", 3000, msg, sizeof msg, &pings) == 0,
		      "no STOPPING=1 on SIGTERM");
	status = harness_wait_child(h.pid, HARNESS_HANG_MS);
	h.pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
	ck_assert_msg(pings == 0, "%d watchdog pings without WATCHDOG_USEC", pings);
	close(fd);
}
END_TEST

START_TEST(test_watchdog_pings_at_half_the_interval)
{
	char path[256], env[300], msg[512];
	const char *argv[] = { NULL, "-s", h.sock, "-c", "/dev/null", NULL };
	const char *envs[] = { env, "WATCHDOG_USEC=200000", NULL };
	int fd = notify_socket(path, sizeof path), pings = 0;
	int64_t start;

	snprintf(env, sizeof env, "NOTIFY_SOCKET=%s", path);
	spawn(argv, envs);
	ck_assert_int_eq(notify_wait(fd, "READY=1", 5000, msg, sizeof msg, NULL), 0);
	/* Every 100 ms: about 10 in a second; allow for a loaded machine. */
	start = harness_now_ms();
	notify_wait(fd, "no such message", 1000, msg, sizeof msg, &pings);
	ck_assert_msg(pings >= 5 && pings <= 12, "%d pings in %lld ms", pings,
		      (long long)(harness_now_ms() - start));
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Logging */

/* Run ipcd with the environment env until it logged, then stop it; returns its log. */
static const char *log_of_run(const char *const *env)
{
	const char *argv[] = { NULL, "-s", h.sock, "-c", "/dev/null", "--log-level", "debug", NULL };
	ipc_client *c;

	spawn(argv, env);
	wait_serving(h.sock);
	ck_assert_ipc(ipc_connect(h.sock, &c), 0);
	ipc_disconnect(c);
	harness_stop(&h);
	return read_errlog();
}

START_TEST(test_journal_lines_carry_priority_not_time)
{
	char env[64];
	const char *envs[] = { env, NULL };
	const char *log, *line;
	struct stat st;
	int fd = open(errlog, O_WRONLY | O_CREAT, 0600);

	/* The journal is the stream $JOURNAL_STREAM names: here the log file. */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	snprintf(env, sizeof env, "JOURNAL_STREAM=%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	log = log_of_run(envs);
	ck_assert_msg(strstr(log, "<6>serving "), "no info line with <6>:\n%s", log);
	ck_assert_msg(strstr(log, "<7>client 1 connected"), "no debug line with <7>:\n%s", log);
	for (line = log; *line; line = strchr(line, '\n') + 1) {
		ck_assert_msg(line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>',
			      "a journal line without its priority: %.80s", line);
		ck_assert_msg(strchr(line, '\n'), "an unfinished line: %s", line);
	}
	ck_assert_msg(!strstr(log, "ipcd[info]"), "journal lines carry the text level:\n%s", log);
}
END_TEST

START_TEST(test_other_stderr_lines_carry_time)
{
	const char *envs[] = { "JOURNAL_STREAM=1:1", NULL };   /* some other stream */
	const char *log = log_of_run(envs);
	int y, mo, d, hh, mm, ss, ms, n = 0;

	ck_assert_msg(sscanf(log, "%4d-%2d-%2d %2d:%2d:%2d.%3d ipcd[%*[a-z]]: %n",
			     &y, &mo, &d, &hh, &mm, &ss, &ms, &n) == 7 && n > 0,
		      "no timestamp: %.80s", log);
	ck_assert_msg(strstr(log, "ipcd[info]: serving "), "%s", log);
	ck_assert_msg(!strstr(log, "<6>"), "priority prefixes outside the journal:\n%s", log);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The configuration file */

START_TEST(test_each_setting_of_the_file_is_honoured)
{
	char conf[256], sock[256], msg[5000];
	const char *argv[] = { NULL, "-c", conf, NULL };
	ipc_queue_attr only_bytes = { .maxsize = 1000 }, only_size = { .maxbytes = 1 << 20 };
	ipc_queue_attr roomy = { .maxsize = 100000, .maxbytes = 1 << 20 };
	ipc_client *c[4];
	ipc_queue *q;
	ipc_pipe *end[2];
	long n, r = 0;

	/* No -s: the socket comes from the file too. */
	harness_path(&h, "from-file.sock", sock, sizeof sock);
	write_text("ipcd.conf", conf, sizeof conf,
		   "# every setting\n"
		   "socket = %s\n"
		   "max-message = 4K\n"
		   "max-clients = 3\n"
		   "queue-maxsize = 2\n"
		   "queue-maxbytes = 100\n"
		   "max-memory = 64K\n"
		   "max-output = 32M\n"
		   "pipe-bytes = 100\n"
		   "log-level = debug\n", sock);
	spawn(argv, NULL);
	wait_serving(sock);
	ck_assert_ipc(connect_retry(sock, &c[0]), 0);
	memset(msg, 'm', sizeof msg);

	/* max-message */
	q = open_ok(c[0], "big", IPC_CREATE, &roomy);
	ck_assert_ipc(ipc_queue_put(q, msg, 4097, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put(q, msg, 4096, 0), 0);
	ck_assert_ipc(ipc_queue_purge(q), 1);

	/* max-memory: 64 KiB hold at most 16 messages of 4000 bytes. */
	for (n = 0; n < 100 && (r = ipc_queue_put(q, msg, 4000, 0)) == 0; n++)
		;
	ck_assert_ipc(r, -ENOBUFS);
	ck_assert_msg(n >= 10 && n <= 16, "%ld messages under a 64K budget", n);
	ck_assert_ipc(ipc_queue_purge(q), n);
	ipc_queue_close(q);

	/* queue-maxsize and queue-maxbytes: the defaults of queues created without limits. */
	q = open_ok(c[0], "counted", IPC_CREATE, &only_size);
	ck_assert_ipc(ipc_queue_put(q, "1", 1, 0), 0);
	ck_assert_ipc(ipc_queue_put(q, "2", 1, 0), 0);
	ck_assert_ipc(ipc_queue_put(q, "3", 1, 0), -EAGAIN);
	ipc_queue_close(q);
	q = open_ok(c[0], "weighed", IPC_CREATE, &only_bytes);
	ck_assert_ipc(ipc_queue_put(q, msg, 60, 0), 0);
	ck_assert_ipc(ipc_queue_put(q, msg, 60, 0), -EAGAIN);
	ck_assert_ipc(ipc_queue_put(q, msg, 40, 0), 0);
	ipc_queue_close(q);

	/* pipe-bytes: what one direction of a pipe buffers. */
	ck_assert_ipc(ipc_pipe_pair(c[0], 0, &end[0], &end[1]), 0);
	ck_assert_ipc(ipc_pipe_send(end[0], msg, 60, 0), 0);
	ck_assert_ipc(ipc_pipe_send(end[0], msg, 60, 0), -EAGAIN);
	ck_assert_ipc(ipc_pipe_send(end[0], msg, 40, 0), 0);
	ipc_pipe_close(end[0]);
	ipc_pipe_close(end[1]);

	/* max-clients */
	ck_assert_ipc(connect_retry(sock, &c[1]), 0);
	ck_assert_ipc(connect_retry(sock, &c[2]), 0);
	ck_assert_ipc(ipc_connect(sock, &c[3]), -EUSERS);

	/* The status reports the limits in force. */
	ck_assert_int_eq(status_key(c[1], "max_clients"), 3);
	ck_assert_int_eq(status_key(c[1], "max_message"), 4096);
	ck_assert_int_eq(status_key(c[1], "max_memory"), 65536);
	for (int i = 0; i < 3; i++)
		ipc_disconnect(c[i]);

	/* log-level: debug lines appear. */
	expect_logged("ipcd[debug]: client ");
	/* max-output: see test_unread_replies_over_max_output_cut_the_client. */
	ck_assert_msg(strstr(read_errlog(), "serving ") && strstr(read_errlog(), sock),
		      "not serving the file's socket");
}
END_TEST

/*
 * A raw client opens a queue holding one message of size bytes, then sends
 * n peeks without reading (when cut, until the daemon logs that it cut the
 * client off).  Returns how many replies it could read before the daemon
 * closed the connection (n when it never did).
 */
static int peek_flood(const char *sock, size_t size, int n, bool cut)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *body, *data = calloc(1, size);
	size_t len;
	int fd = raw_connect_greeted(sock), got = 0, r;

	ck_assert_ptr_nonnull(data);
	raw_begin(&sb, &pk, IPC_OP_Q_OPEN, 2, 3);
	msgpack_pack_str_with_body(&pk, "flood", 5);
	msgpack_pack_uint32(&pk, IPC_OPEN_CREATE);
	msgpack_pack_map(&pk, 0);
	ck_assert_int_eq(raw_end(fd, &sb), 0);
	ck_assert_int_eq(raw_recv_frame(fd, &body, &len, HARNESS_HANG_MS), 0);
	free(body);
	raw_begin(&sb, &pk, IPC_OP_Q_PUT, 3, 3);
	msgpack_pack_uint32(&pk, 1);            /* the first handle */
	msgpack_pack_int(&pk, 0);
	msgpack_pack_bin_with_body(&pk, data, size);
	ck_assert_int_eq(raw_end(fd, &sb), 0);
	ck_assert_int_eq(raw_recv_frame(fd, &body, &len, HARNESS_HANG_MS), 0);
	free(body);
	free(data);

	for (int i = 0; i < n; i++) {
		raw_begin(&sb, &pk, IPC_OP_Q_PEEK, 100 + (uint32_t)i, 1);
		msgpack_pack_uint32(&pk, 1);
		r = raw_end(fd, &sb);
		if (r < 0)
			break;
	}
	/* Read once the daemon has cut the client off, if it is to. */
	if (cut)
		expect_logged("cut off");
	while (got < n && raw_recv_frame(fd, &body, &len, HARNESS_HANG_MS) == 0) {
		/* A reply [id, 0, data]; a push [0, "error", ...] ends it. */
		if (len > 2 && body[1] == 0) {
			free(body);
			break;
		}
		free(body);
		got++;
	}
	close(fd);
	return got;
}

START_TEST(test_unread_replies_over_max_output_cut_the_client)
{
	char conf[256];
	const char *argv[] = { NULL, "-s", h.sock, "-c", conf, NULL };
	int got;

	write_text("ipcd.conf", conf, sizeof conf, "max-output = 256K\nmax-message = 64K\n");
	spawn(argv, NULL);
	wait_serving(h.sock);
	/* 200 replies of 60 KiB: 12 MiB, far beyond the socket's buffer and 256K. */
	got = peek_flood(h.sock, 60000, 200, true);
	ck_assert_msg(got < 200, "all %d replies arrived despite max-output", got);
	expect_logged("cut off");
	harness_stop(&h);

	/* With the default (64M) the same client gets every reply. */
	write_text("ipcd.conf", conf, sizeof conf, "max-message = 64K\n");
	spawn(argv, NULL);
	wait_serving(h.sock);
	ck_assert_int_eq(peek_flood(h.sock, 60000, 200, false), 200);
}
END_TEST

START_TEST(test_command_line_wins_over_the_file)
{
	char conf[256];
	const char *argv[] = { NULL, "-c", conf, "-s", h.sock, "--max-clients", "2", NULL };
	ipc_client *c[3];

	write_text("ipcd.conf", conf, sizeof conf,
		   "socket = /nonexistent/dir/ipcd.sock\nmax-clients = 1\nlog-level = info\n");
	spawn(argv, NULL);
	wait_serving(h.sock);
	ck_assert_ipc(connect_retry(h.sock, &c[0]), 0);
	ck_assert_ipc(connect_retry(h.sock, &c[1]), 0);
	ck_assert_ipc(ipc_connect(h.sock, &c[2]), -EUSERS);
	/* Still the command line's value after a reload of the file. */
	kill(h.pid, SIGHUP);
	expect_logged("reloaded");
	ck_assert_ipc(ipc_connect(h.sock, &c[2]), -EUSERS);
	ipc_disconnect(c[1]);
	ck_assert_ipc(connect_retry(h.sock, &c[1]), 0);
	ipc_disconnect(c[0]);
	ipc_disconnect(c[1]);
}
END_TEST

/* Run ipcd with argv, expect it to exit with code; returns its stderr. */
static const char *expect_exit(const char **argv, int code)
{
	int status;

	spawn(argv, NULL);
	status = harness_wait_child(h.pid, HARNESS_HANG_MS);
	h.pid = 0;
	ck_assert_msg(status != -1, "ipcd kept running: %s", read_errlog());
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == code,
		      "exit status 0x%x, want %d: %s", status, code, read_errlog());
	return read_errlog();
}

START_TEST(test_bad_file_stops_the_start_with_file_and_line)
{
	char conf[256], want[512], missing[256];
	const char *argv[] = { NULL, "-s", h.sock, "-c", conf, NULL };
	const char *log;

	write_text("ipcd.conf", conf, sizeof conf,
		   "# limits\nmax-message = 1M\n\nmax-clients = 0\n");
	log = expect_exit(argv, 1);
	snprintf(want, sizeof want, "ipcd: %s:4: max-clients: '0' is not between 1 and 1000000",
		 conf);
	ck_assert_msg(strstr(log, want), "want '%s', got: %s", want, log);
	ck_assert_msg(access(h.sock, F_OK) < 0, "a socket was made despite the bad file");

	/* A file named with -c must exist. */
	harness_path(&h, "missing.conf", missing, sizeof missing);
	argv[4] = missing;
	log = expect_exit(argv, 1);
	snprintf(want, sizeof want, "ipcd: %s: No such file or directory", missing);
	ck_assert_msg(strstr(log, want), "want '%s', got: %s", want, log);

	/* A bad value on the command line is a usage error. */
	{
		const char *bad[] = { NULL, "-s", h.sock, "--max-memory", "lots", NULL };

		log = expect_exit(bad, 2);
		ck_assert_msg(strstr(log, "ipcd: --max-memory: 'lots' is not a size"), "%s", log);
	}
}
END_TEST

START_TEST(test_sighup_changes_limits_live)
{
	char conf[256];
	const char *argv[] = { NULL, "-c", conf, NULL };
	char msg[3000];
	ipc_client *c[3];
	ipc_queue *q;

	memset(msg, 'x', sizeof msg);
	write_text("ipcd.conf", conf, sizeof conf, "socket = %s\nmax-clients = 4\n"
		   "log-level = info\n", h.sock);
	spawn(argv, NULL);
	wait_serving(h.sock);
	ck_assert_ipc(connect_retry(h.sock, &c[0]), 0);
	ck_assert_ipc(connect_retry(h.sock, &c[1]), 0);
	q = open_ok(c[0], "live", IPC_CREATE, NULL);
	ck_assert_ipc(ipc_queue_put(q, msg, sizeof msg, 0), 0);

	/* Lower max-clients and max-message; the socket cannot change live. */
	write_text("ipcd.conf", conf, sizeof conf,
		   "max-clients = 2\nmax-message = 2K\nlog-level = info\nsocket = %s.new\n", h.sock);
	kill(h.pid, SIGHUP);
	expect_logged("max-clients: 4 -> 2");
	expect_logged("max-message: 4M -> 2K");
	expect_logged("socket: the configuration says");
	expect_logged("reloaded");
	/*
	 * The two clients stay and a third is refused; a message over the new
	 * limit is refused, without cutting the client told the old one.
	 */
	ck_assert_ipc(ipc_connect(h.sock, &c[2]), -EUSERS);
	ck_assert_ipc(ipc_queue_put(q, msg, sizeof msg, 0), -EMSGSIZE);
	ck_assert_ipc(ipc_queue_put(q, msg, 2048, 0), 0);
	ck_assert_ipc(ipc_queue_size(q), 2);

	/* A broken file changes nothing. */
	write_text("ipcd.conf", conf, sizeof conf, "socket = %s\nnonsense\n", h.sock);
	kill(h.pid, SIGHUP);
	expect_logged("ipcd.conf:2: expected 'key = value'; the configuration is unchanged");
	ck_assert_ipc(ipc_connect(h.sock, &c[2]), -EUSERS);

	/* And raising it again admits the third client. */
	write_text("ipcd.conf", conf, sizeof conf, "socket = %s\nmax-clients = 3\n"
		   "log-level = info\n", h.sock);
	kill(h.pid, SIGHUP);
	expect_logged("max-clients: 2 -> 3");
	ck_assert_ipc(connect_retry(h.sock, &c[2]), 0);
	ipc_queue_close(q);
	for (int i = 0; i < 3; i++)
		ipc_disconnect(c[i]);
	ck_assert_msg(access(h.sock, F_OK) == 0, "the socket moved on reload");
}
END_TEST

START_TEST(test_reload_of_an_unchanged_file_warns_of_nothing)
{
	char conf[256], state[256];
	char env_state[300];
	const char *argv[] = { NULL, "-c", conf, NULL };
	const char *env[] = { env_state, NULL };

	/* The state directory left to its default, as the shipped unit leaves it. */
	harness_path(&h, "state", state, sizeof state);
	snprintf(env_state, sizeof env_state, "STATE_DIRECTORY=%s", state);
	write_text("ipcd.conf", conf, sizeof conf, "socket = %s\nlog-level = info\n", h.sock);
	spawn(argv, env);
	wait_serving(h.sock);
	/* Its SIGHUP handler is in place once it says it serves. */
	expect_logged("serving");
	kill(h.pid, SIGHUP);
	expect_logged("reloaded");
	expect_logged("0 settings changed");
	ck_assert_msg(!strstr(read_errlog(), "needs a restart"),
		      "a reload of an unchanged file warned: %s", read_errlog());
}
END_TEST

/* Run ipcd --check-config with opts; its exit code, stdout and stderr in *out. */
static int check_config(const char *const *opts, char **out)
{
	const char *argv[16] = { "/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1",
				 harness_ipcd_bin(), "--check-config" };
	size_t n = 5;
	int status;

	for (; *opts; opts++)
		argv[n++] = *opts;
	argv[n] = NULL;
	status = harness_run(NULL, argv, out, 5000);
	return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_check_config_says_what_is_wrong_and_serves_nothing)
{
	char conf[256], want[512], *out = NULL;
	const char *opts[] = { "-c", conf, "-s", h.sock, NULL };
	int status;

	write_text("ipcd.conf", conf, sizeof conf, "max-clients = 8\nlog-level = info\n");
	status = check_config(opts, &out);
	ck_assert_msg(status == 0, "a valid file: status %d: %s", status, out);
	ck_assert_msg(strstr(out, "the configuration is valid"), "%s", out);
	free(out);
	ck_assert_msg(access(h.sock, F_OK) < 0, "--check-config made a socket");

	write_text("ipcd.conf", conf, sizeof conf, "max-clients = 8\nlog-level = loud\n");
	status = check_config(opts, &out);
	ck_assert_msg(status == 1, "a broken file: status %d: %s", status, out);
	snprintf(want, sizeof want, "ipcd: %s:2: log-level:", conf);
	ck_assert_msg(strstr(out, want), "want '%s' in: %s", want, out);
	free(out);
	ck_assert_msg(access(h.sock, F_OK) < 0, "--check-config made a socket");
}
END_TEST

static Suite *service_suite(void)
{
	Suite *s = suite_create("service");
	TCase *tc;

	tc = harness_tcase(s, "activation", 30, setup, teardown);
	tcase_add_test(tc, test_activated_ipcd_serves_client_that_connected_first);

	tc = harness_tcase(s, "notify", 30, setup, teardown);
	tcase_add_test(tc, test_manager_is_told_ready_status_reloading_stopping);
	tcase_add_test(tc, test_watchdog_pings_at_half_the_interval);

	tc = harness_tcase(s, "journal", 30, setup, teardown);
	tcase_add_test(tc, test_journal_lines_carry_priority_not_time);
	tcase_add_test(tc, test_other_stderr_lines_carry_time);

	tc = harness_tcase(s, "config", 30, setup, teardown);
	tcase_add_test(tc, test_each_setting_of_the_file_is_honoured);
	tcase_add_test(tc, test_unread_replies_over_max_output_cut_the_client);
	tcase_add_test(tc, test_command_line_wins_over_the_file);
	tcase_add_test(tc, test_bad_file_stops_the_start_with_file_and_line);

	tc = harness_tcase(s, "reload", 30, setup, teardown);
	tcase_add_test(tc, test_sighup_changes_limits_live);
	tcase_add_test(tc, test_reload_of_an_unchanged_file_warns_of_nothing);
	tcase_add_test(tc, test_check_config_says_what_is_wrong_and_serves_nothing);
	return s;
}

int main(void)
{
	return harness_main(service_suite());
}
