/*
 * test_metrics.c - ipcd's /metrics, scraped as Prometheus would: over TCP
 * from the real daemon, checked by promtool and against the state the test
 * made (queues, a pipe, an array, parked requests, a durable queue), and
 * under abuse (a scraper that never reads, refused and cut-off clients, the
 * endpoint moved by SIGHUP).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clients.h"
#include "ipc_protocol.h"

static struct harness h;

static void setup(void)
{
	harness_setup(&h);
}

static void teardown(void)
{
	harness_cleanup(&h);
}

/* The string key of the daemon's status map, into out ("" when absent). */
static void status_str(ipc_client *c, const char *key, char *out, size_t outlen)
{
	msgpack_unpacked u;
	void *mp;
	size_t len, off = 0;

	out[0] = '\0';
	ck_assert_ipc(ipc_server_status(c, &mp, &len), 0);
	msgpack_unpacked_init(&u);
	ck_assert(msgpack_unpack_next(&u, mp, len, &off) == MSGPACK_UNPACK_SUCCESS);
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		const msgpack_object *k = &u.data.via.map.ptr[i].key, *v = &u.data.via.map.ptr[i].val;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
		    memcmp(k->via.str.ptr, key, k->via.str.size) == 0 && v->type == MSGPACK_OBJECT_STR)
			snprintf(out, outlen, "%.*s", (int)v->via.str.size, v->via.str.ptr);
	}
	msgpack_unpacked_destroy(&u);
	free(mp);
}

/* A TCP connection to addr ("a.b.c.d:port"), or a negative errno. */
static int tcp_connect(const char *addr, int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(addr, ':');
	int fd;

	ck_assert_ptr_nonnull(colon);
	snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
	ck_assert_int_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	if (rcvbuf > 0)
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/*
 * GET path from addr with HTTP/1.0 and read to the end.  The HTTP status,
 * or a negative errno; *body (the bytes after the header) is from malloc.
 */
static int http_get(const char *addr, const char *path, char **body, size_t *blen)
{
	char req[256], *buf = NULL, *sep;
	size_t len = 0, cap = 0;
	int64_t deadline = harness_now_ms() + 20000;
	int fd = tcp_connect(addr, 0), status = 0;

	if (fd < 0)
		return fd;
	snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: test\r\n\r\n", path);
	ck_assert_int_eq(raw_send(fd, req, strlen(req)), 0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int left = (int)(deadline - harness_now_ms());

		ck_assert_msg(left > 0, "no end of the response to GET %s within 20 s", path);
		if (poll(&p, 1, left) <= 0)
			continue;
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 131072;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	ck_assert_msg(sscanf(buf, "HTTP/1.%*d %d", &status) == 1, "not HTTP: %.80s", buf);
	sep = strstr(buf, "\r\n\r\n");
	ck_assert_ptr_nonnull(sep);
	*blen = len - (size_t)(sep + 4 - buf);
	memmove(buf, sep + 4, *blen + 1);
	*body = buf;
	return status;
}

static char *scrape(const char *addr)
{
	char *body;
	size_t len;

	ck_assert_int_eq(http_get(addr, "/metrics", &body, &len), 200);
	ck_assert_uint_eq(strlen(body), len);
	return body;
}

/* The value of the sample series (name{labels} exactly) in body, or NAN. */
static double sample_of(const char *body, const char *series)
{
	size_t n = strlen(series);

	for (const char *line = body; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
	return NAN;
}

struct want {
	const char *series;
	double value;
	int at_least;           /* value is a lower bound */
};

static int matches(const char *body, const struct want *w)
{
	double v = sample_of(body, w->series);

	return w->at_least ? v >= w->value : v == w->value;
}

/*
 * Scrape addr until every want holds (a scrape may be up to a second old),
 * failing after timeout_ms with the first that did not.  Returns the last
 * body (free it).
 */
static char *wait_metrics(const char *addr, const struct want *w, size_t n, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		char *body = scrape(addr);
		size_t i = 0;

		while (i < n && matches(body, &w[i]))
			i++;
		if (i == n)
			return body;
		if (harness_now_ms() > deadline) {
			double v = sample_of(body, w[i].series);

			free(body);
			ck_abort_msg("%s is %g, not %s%g after %d ms", w[i].series, v,
				     w[i].at_least ? ">= " : "", w[i].value, timeout_ms);
		}
		free(body);
		harness_sleep_ms(100);
	}
}

/* promtool check metrics on body: fails the test with promtool's words if it objects. */
static void promtool_check(const char *body)
{
	char path[256], cmd[600], *out = NULL;
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	FILE *f;
	int st;

	ck_assert_msg(system("command -v promtool >/dev/null") == 0,
		      "promtool is missing: scripts/deps.sh installs Debian's prometheus package");
	harness_path(&h, "metrics.txt", path, sizeof path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(body, f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' 2>&1", path);
	st = harness_run(NULL, argv, &out, 30000);
	ck_assert_msg(st == 0, "promtool check metrics (status %d): %s", st, out);
	/* It exits 0 on lint warnings too: there must be none. */
	ck_assert_msg(out[0] == '\0', "promtool check metrics: %s", out);
	free(out);
}

static void start_with_metrics(const char *const *extra)
{
	const char *args[16] = { "--metrics", "127.0.0.1:0" };
	size_t n = 2;

	for (; extra && *extra; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	harness_start(&h, args);
}

static void metrics_addr(ipc_client *c, char *addr, size_t len)
{
	status_str(c, "metrics", addr, len);
	ck_assert_msg(strncmp(addr, "127.0.0.1:", 10) == 0 && atoi(addr + 10) > 0,
		      "status says metrics are at '%s'", addr);
}

/* ------------------------------------------------------------------------ */

static const ipc_queue_attr by_socket = { .noring = 1 };

START_TEST(test_metrics_off_by_default)
{
	ipc_client *c;
	char addr[64];

	harness_start(&h, NULL);
	c = connect_ok(h.sock);
	status_str(c, "metrics", addr, sizeof addr);
	ck_assert_str_eq(addr, "");
	ipc_disconnect(c);
}
END_TEST

/*
 * Every figure of a known state: queues with messages in flight,
 * acknowledged and redelivered, parked getters, a durable queue, a pipe, an
 * array; a name that needs escaping; and promtool accepts the whole.
 */
START_TEST(test_metrics_show_known_state)
{
	char state[300], addr[64], *body;
	const char *extra[] = { "--state-dir", state, NULL };
	ipc_queue_attr jobs_attr = { .maxsize = 10, .maxbytes = 4096, .ack = 1 };
	ipc_queue_attr ack_attr = { .ack = 1 }, dur_attr = { .durable = 1 };
	ipc_client *c, *c2;
	ipc_queue *jobs, *redo, *redo2, *odd, *dur;
	ipc_pipe *p0, *p1;
	ipc_array *arr;
	void *data;
	size_t len;
	pid_t child;

	harness_path(&h, "state", state, sizeof state);
	start_with_metrics(extra);
	c = connect_ok(h.sock);
	metrics_addr(c, addr, sizeof addr);

	jobs = open_ok(c, "jobs", IPC_CREATE, &jobs_attr);
	ck_assert_ipc(put_str(jobs, "one", 0), 0);
	ck_assert_ipc(put_str(jobs, "two", 0), 0);
	ck_assert_ipc(put_str(jobs, "three", 0), 0);
	get_expect(jobs, "one", 1000);
	get_expect(jobs, "two", 1000);
	ck_assert_ipc(ipc_queue_task_done(jobs), 0);

	/* A consumer that goes without task_done: its message is redelivered. */
	redo = open_ok(c, "redo", IPC_CREATE, &ack_attr);
	ck_assert_ipc(put_str(redo, "x", 0), 0);
	c2 = connect_ok(h.sock);
	redo2 = open_ok(c2, "redo", 0, NULL);
	ck_assert_ipc(ipc_queue_get(redo2, &data, &len, 1000), 0);
	free(data);
	ipc_queue_close(redo2);
	ipc_disconnect(c2);

	/* By the socket: its bytes count in ipcd's memory. */
	odd = open_ok(c, "q\"uo\\te", IPC_CREATE, &by_socket);
	ck_assert_ipc(put_str(odd, "odd", 0), 0);
	dur = open_ok(c, "dur", IPC_CREATE, &dur_attr);
	ck_assert_ipc(put_str(dur, "d", 0), 0);
	ck_assert_ipc(ipc_pipe_open(c, "p", 0, IPC_CREATE, &p0), 0);
	ck_assert_ipc(ipc_pipe_open(c, "p", 1, 0, &p1), 0);
	ck_assert_ipc(ipc_pipe_send(p1, "hi", 2, 0), 0);
	ck_assert_ipc(ipc_array_open(c, "arr", IPC_CREATE, 'd', 10, &arr), 0);

	/* A get parked on an empty queue, in another process. */
	child = fork_ok();
	if (child == 0) {
		/* By the socket: parked in ipcd, not asleep on a ring. */
		static const ipc_queue_attr parked = { .noring = 1 };
		ipc_client *cc;
		ipc_queue *e;

		if (ipc_connect(h.sock, &cc) < 0 ||
		    ipc_queue_open(cc, "empty", IPC_CREATE, &parked, &e) < 0)
			_exit(1);
		_exit(ipc_queue_get(e, &data, &len, 60000) == 0 ? 0 : 2);
	}

	{
		/* The rings of "jobs" and "redo" count in shm, beside the array. */
		double shm = 80 + stat_key(jobs, "ring_bytes") + stat_key(redo, "ring_bytes");
		const struct want w[] = {
			{ "ipcd_queue_messages{queue=\"jobs\"}", 1, 0 },
			{ "ipcd_queue_bytes{queue=\"jobs\"}", 5, 0 },
			{ "ipcd_queue_max_messages{queue=\"jobs\"}", 10, 0 },
			{ "ipcd_queue_max_bytes{queue=\"jobs\"}", 4096, 0 },
			{ "ipcd_queue_in_flight_messages{queue=\"jobs\"}", 1, 0 },
			{ "ipcd_queue_unacknowledged_messages{queue=\"jobs\"}", 1, 0 },
			{ "ipcd_queue_consumers{queue=\"jobs\"}", 1, 0 },
			{ "ipcd_queue_puts_total{queue=\"jobs\"}", 3, 0 },
			{ "ipcd_queue_gets_total{queue=\"jobs\"}", 2, 0 },
			{ "ipcd_queue_acknowledged_total{queue=\"jobs\"}", 1, 0 },
			{ "ipcd_queue_redelivered_total{queue=\"jobs\"}", 0, 0 },
			{ "ipcd_queue_redelivered_total{queue=\"redo\"}", 1, 0 },
			{ "ipcd_queue_messages{queue=\"redo\"}", 1, 0 },
			{ "ipcd_queue_waiting_getters{queue=\"empty\"}", 1, 0 },
			{ "ipcd_queue_waiting_putters{queue=\"empty\"}", 0, 0 },
			{ "ipcd_queue_waiting_joiners{queue=\"empty\"}", 0, 0 },
			{ "ipcd_queue_messages{queue=\"q\\\"uo\\\\te\"}", 1, 0 },
			{ "ipcd_queue_durable_log_bytes{queue=\"dur\"}", 1, 1 },
			{ "ipcd_durable_log_bytes", 1, 1 },
			{ "ipcd_fsync_duration_seconds_count", 1, 1 },
			{ "ipcd_fsync_duration_seconds_bucket{le=\"+Inf\"}", 1, 1 },
			{ "ipcd_pipe_messages{pipe=\"p\",end=\"0\"}", 1, 0 },
			{ "ipcd_pipe_bytes{pipe=\"p\",end=\"0\"}", 2, 0 },
			{ "ipcd_pipe_sent_total{pipe=\"p\",end=\"1\"}", 1, 0 },
			{ "ipcd_pipe_messages{pipe=\"p\",end=\"1\"}", 0, 0 },
			{ "ipcd_array_bytes{array=\"arr\"}", 80, 0 },
			{ "ipcd_array_length{array=\"arr\"}", 10, 0 },
			{ "ipcd_array_locked{array=\"arr\"}", 0, 0 },
			{ "ipcd_objects{kind=\"queue\"}", 5, 0 },
			{ "ipcd_objects{kind=\"pipe\"}", 1, 0 },
			{ "ipcd_objects{kind=\"array\"}", 1, 0 },
			{ "ipcd_clients", 2, 0 },
			{ "ipcd_shm_bytes", shm, 0 },
			/* "one" is acknowledged; "two" (leased) and "three" are in the ring's
			 * shared memory; "x" (given back), "odd", "d", "hi" held by ipcd. */
			{ "ipcd_memory_bytes", 1 + 3 + 1 + 2, 0 },
			{ "ipcd_connections_refused_total", 0, 0 },
			{ "ipcd_uptime_seconds", 0, 1 },
		};

		body = wait_metrics(addr, w, sizeof w / sizeof w[0], 20000);
	}
	ck_assert_msg(strstr(body, "# TYPE ipcd_queue_puts_total counter\n"), "no counter type");
	ck_assert_msg(strstr(body, "# TYPE ipcd_fsync_duration_seconds histogram\n"), "no histogram");
	promtool_check(body);
	free(body);

	/* Another path is not the figures. */
	ck_assert_int_eq(http_get(addr, "/other", &body, &len), 404);
	free(body);

	ck_assert_ipc(put_str(odd, "wake", 0), 0);
	kill(child, SIGKILL);
	harness_wait_child(child, 5000);
	ipc_array_close(arr);
	ipc_pipe_close(p0);
	ipc_pipe_close(p1);
	ipc_queue_close(dur);
	ipc_queue_close(odd);
	ipc_queue_close(redo);
	ipc_queue_close(jobs);
	ipc_disconnect(c);
}
END_TEST

/* Descriptors ipcd has open. */
static int open_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * A scraper that asks for a large body and never reads it: the daemon goes
 * on serving its clients and other scrapers, and drops it after its timeout
 * (10 s), closing its descriptor and releasing the body.
 */
START_TEST(test_metrics_scraper_that_never_reads_is_dropped)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
	char addr[64], name[201], *body;
	ipc_client *c;
	ipc_queue *q;
	int fd, base;
	int64_t t0;

	start_with_metrics(NULL);
	c = connect_ok(h.sock);
	metrics_addr(c, addr, sizeof addr);
	/* 2,500 queues with 200-byte names: about 8 MB of figures, more than sockets buffer. */
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	for (int i = 0; i < 2500; i++) {
		snprintf(name, 9, "%08d", i);
		name[8] = 'n';
		q = open_ok(c, name, IPC_CREATE, NULL);
		ipc_queue_close(q);
	}
	q = open_ok(c, "work", IPC_CREATE, NULL);
	body = scrape(addr);
	ck_assert_uint_gt(strlen(body), 6u << 20);
	free(body);
	base = open_fds(h.pid);

	fd = tcp_connect(addr, 4096);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(raw_send(fd, req, sizeof req - 1), 0);
	/*
	 * It is stuck: its response is being written.  Seen through the status
	 * (a scrape, 8 MB here, could take longer on a loaded machine than the
	 * 10 s after which the stuck scraper is dropped).
	 */
	wait_status(c, "metrics_pending", 1, HARNESS_HANG_MS);
	t0 = harness_now_ms();
	/* Meanwhile clients are served. */
	ck_assert_ipc(put_str(q, "still served", 0), 0);
	get_expect(q, "still served", 5000);
	/* Dropped: its response is released and its descriptor closed. */
	wait_status(c, "metrics_pending", 0, HARNESS_HANG_MS);
	while (open_fds(h.pid) > base && harness_now_ms() - t0 < 30000)
		harness_sleep_ms(100);
	ck_assert_int_eq(open_fds(h.pid), base);
	close(fd);
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* A client refused at max-clients and one cut off at max-output are counted. */
START_TEST(test_metrics_count_refused_and_cut_off_clients)
{
	static const char *const extra[] = { "--max-clients", "2", "--max-output", "64K", NULL };
	static char big[16384];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	ipc_client *c, *c2, *c3;
	ipc_queue *q;
	char addr[64], *body;
	int fd, r = 0;

	start_with_metrics(extra);
	c = connect_ok(h.sock);
	metrics_addr(c, addr, sizeof addr);
	c2 = connect_ok(h.sock);
	ck_assert_int_eq(ipc_connect(h.sock, &c3), -EUSERS);
	ipc_disconnect(c2);
	wait_clients(c, 1, 5000);

	q = open_ok(c, "big", IPC_CREATE, NULL);
	ck_assert_ipc(ipc_queue_put(q, big, sizeof big, 0), 0);
	fd = raw_connect_greeted(h.sock);
	raw_begin(&sb, &pk, IPC_OP_Q_OPEN, 2, 3);
	msgpack_pack_str_with_body(&pk, "big", 3);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(raw_end(fd, &sb), 0);
	for (int sent = 0; sent < 4000 && r == 0; sent++) {
		raw_begin(&sb, &pk, IPC_OP_Q_PEEK, 3 + (uint32_t)sent, 1);
		msgpack_pack_uint32(&pk, 1);
		r = raw_end(fd, &sb);
	}
	ck_assert_int_eq(raw_wait_hangup(fd, 10000), 0);
	close(fd);
	{
		const struct want w[] = {
			{ "ipcd_connections_refused_total", 1, 0 },
			{ "ipcd_clients_cut_off_total", 1, 0 },
		};

		body = wait_metrics(addr, w, 2, 20000);
		free(body);
	}
	ipc_queue_close(q);
	ipc_disconnect(c);
}
END_TEST

/* Replace the file at path at once: a reload never reads it half-written. */
static void write_conf(const char *path, const char *text)
{
	char tmp[320];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

/* Wait until status says metrics are at something other than was ("" for off). */
static void wait_metrics_moved(ipc_client *c, const char *was, char *now, size_t len)
{
	int64_t deadline = harness_now_ms() + 10000;

	do {
		status_str(c, "metrics", now, len);
		if (strcmp(now, was) != 0)
			return;
		harness_sleep_ms(50);
	} while (harness_now_ms() < deadline);
	ck_abort_msg("metrics still at '%s' 10 s after SIGHUP", was);
}

static void wait_max_clients(ipc_client *c, long want)
{
	for (int64_t t0 = harness_now_ms(); status_key(c, "max_clients") != want;) {
		ck_assert_msg(harness_now_ms() - t0 < 10000, "the reload did not happen within 10 s");
		harness_sleep_ms(50);
	}
}

/*
 * SIGHUP turns the endpoint off and on again as the configuration says,
 * keeps it under another spelling of its address, and keeps it when the new
 * address cannot be bound.
 */
START_TEST(test_metrics_follow_reload)
{
	char conf[300], addr[64], off[64], again[64], text[128], *body;
	const char *args[] = { "-c", conf, NULL };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof sa;
	ipc_client *c;
	size_t len;
	int other;

	harness_path(&h, "ipcd.conf", conf, sizeof conf);
	write_conf(conf, "metrics = 127.0.0.1:0\n");
	harness_start(&h, args);
	c = connect_ok(h.sock);
	metrics_addr(c, addr, sizeof addr);
	free(scrape(addr));

	write_conf(conf, "metrics = off\n");
	ck_assert_int_eq(kill(h.pid, SIGHUP), 0);
	wait_metrics_moved(c, addr, off, sizeof off);
	ck_assert_str_eq(off, "");
	ck_assert_int_eq(http_get(addr, "/metrics", &body, &len), -ECONNREFUSED);

	write_conf(conf, "metrics = 127.0.0.1:0\n");
	ck_assert_int_eq(kill(h.pid, SIGHUP), 0);
	wait_metrics_moved(c, "", again, sizeof again);
	metrics_addr(c, again, sizeof again);
	free(scrape(again));

	/* The address served, spelled otherwise, is served on. */
	snprintf(text, sizeof text, "metrics = localhost:%s\nmax-clients = 66\n",
		 strchr(again, ':') + 1);
	write_conf(conf, text);
	ck_assert_int_eq(kill(h.pid, SIGHUP), 0);
	wait_max_clients(c, 66);
	status_str(c, "metrics", off, sizeof off);
	ck_assert_str_eq(off, again);
	free(scrape(again));

	/* A port another program listens on is refused, and the endpoint kept. */
	other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(bind(other, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(other, 1), 0);
	ck_assert_int_eq(getsockname(other, (struct sockaddr *)&sa, &salen), 0);
	snprintf(text, sizeof text, "metrics = 127.0.0.1:%u\nmax-clients = 77\n",
		 (unsigned)ntohs(sa.sin_port));
	write_conf(conf, text);
	ck_assert_int_eq(kill(h.pid, SIGHUP), 0);
	wait_max_clients(c, 77);
	close(other);
	status_str(c, "metrics", off, sizeof off);
	ck_assert_str_eq(off, again);
	free(scrape(again));
	ipc_disconnect(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = harness_tcase(s, "endpoint", 120, setup, teardown);

	tcase_add_test(tc, test_metrics_off_by_default);
	tcase_add_test(tc, test_metrics_show_known_state);
	tcase_add_test(tc, test_metrics_count_refused_and_cut_off_clients);
	tcase_add_test(tc, test_metrics_follow_reload);
	tc = harness_tcase(s, "slow", 120, setup, teardown);
	tcase_add_test(tc, test_metrics_scraper_that_never_reads_is_dropped);
	return harness_main(s);
}
