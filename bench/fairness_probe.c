/*
 * fairness_probe - how much one local user's attack costs everyone else.
 *
 * Usage: fairness_probe SOCKET IPCD_PID ATTACK [SECONDS]
 *
 * ATTACK is one of
 *   expensive  two connections send [ping, 5, [{} x 4M]] frames, over and over
 *   halfsent   200 connections each leave 3 MiB of a 4 MiB frame unfinished
 *   peeks      ten clients pipeline 1,000 peeks of a 1 MiB message, reading nothing
 *   flood      (as root) uid nobody opens 1,100 idle connections; then root connects
 *
 * While the attack runs (SECONDS, 5 by default), a victim client puts and
 * gets 100-byte messages on its own queue through libipcclient and the
 * probe reports its round-trip latencies (p50, p99, max) and rate, after a
 * second of the same without attack, with ipcd's resident memory (VmRSS
 * now, VmHWM peak).  The latencies are the figures docs/RELIABILITY.md
 * quotes; a tool, not a test: on a broken precondition it says why and
 * exits non-zero.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "ipc_protocol.h"
#include "ipcclient.h"

#define NOBODY 65534

static const char *sock_path;

static void die(const char *what)
{
	fprintf(stderr, "fairness_probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_frame(int fd, const void *body, size_t len)
{
	unsigned char hdr[IPC_FRAME_HEADER];

	ipc_frame_put_len(hdr, (uint32_t)len);
	return send_all(fd, hdr, sizeof hdr) < 0 ? -1 : send_all(fd, body, len);
}

/* Read one frame and drop it: 0, or -1 at the end or an error. */
static int skip_frame(int fd)
{
	unsigned char hdr[IPC_FRAME_HEADER];
	char buf[65536];
	size_t got = 0;
	uint32_t len;

	while (got < sizeof hdr) {
		ssize_t n = read(fd, hdr + got, sizeof hdr - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (len = ipc_frame_get_len(hdr); len;) {
		ssize_t n = read(fd, buf, len < sizeof buf ? len : sizeof buf);

		if (n <= 0)
			return -1;
		len -= (uint32_t)n;
	}
	return 0;
}

/* Connect and say hello: the fd, or -1. */
static int greeted(void)
{
	static const unsigned char hello[] = { 0x95, IPC_OP_HELLO, 1, IPC_PROTO_VERSION, 0, 0xa1, 'p' };
	int fd = raw_connect();

	if (fd < 0 || send_frame(fd, hello, sizeof hello) < 0 || skip_frame(fd) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void attack_expensive(void)
{
	enum { N = 4000000 };
	unsigned char *body = malloc(8 + N);

	if (!body)
		die("malloc");
	memcpy(body, "\x93\x02\x05\xdd", 4);
	body[4] = N >> 24;
	body[5] = (N >> 16) & 0xff;
	body[6] = (N >> 8) & 0xff;
	body[7] = N & 0xff;
	memset(body + 8, 0x80, N);
	for (;;) {
		int fd = greeted();

		if (fd < 0)
			_exit(1);
		send_frame(fd, body, 8 + N);
		skip_frame(fd);
		close(fd);
	}
}

static void attack_halfsent(void)
{
	enum { N = 200, SENT = 3 << 20 };
	unsigned char hdr[IPC_FRAME_HEADER];
	char *junk = calloc(1, SENT);
	struct rlimit rl = { N + 64, N + 64 };

	setrlimit(RLIMIT_NOFILE, &rl);
	if (!junk)
		die("calloc");
	ipc_frame_put_len(hdr, 4u << 20);
	for (int i = 0; i < N; i++) {
		int fd = greeted();

		if (fd >= 0 && send_all(fd, hdr, sizeof hdr) == 0)
			send_all(fd, junk, SENT);
	}
	pause();
	_exit(0);
}

static void attack_peeks(void)
{
	static const unsigned char open[] = { 0x95, IPC_OP_Q_OPEN, 2, 0xa3, 'b', 'i', 'g', 1, 0xc0 };
	static const unsigned char peek[] = { 0, 0, 0, 4, 0x93, IPC_OP_Q_PEEK, 3, 1 };
	static unsigned char peeks[1000 * sizeof peek];
	int fd = greeted();

	if (fd < 0 || send_frame(fd, open, sizeof open) < 0 || skip_frame(fd) < 0)
		_exit(1);
	for (int i = 0; i < 1000; i++)
		memcpy(peeks + i * sizeof peek, peek, sizeof peek);
	send_all(fd, peeks, sizeof peeks);
	pause();
	_exit(0);
}

static void attack_flood(void)
{
	struct rlimit rl = { 1200, 1200 };
	int n = 0;

	setrlimit(RLIMIT_NOFILE, &rl);
	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		die("setuid nobody");
	for (int i = 0; i < 1100; i++)
		if (raw_connect() >= 0)
			n++;
	fprintf(stderr, "fairness_probe: nobody holds %d sockets\n", n);
	pause();
	_exit(0);
}

static long status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	long kib = -1;
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			sscanf(line + klen + 1, "%ld", &kib);
	fclose(f);
	return kib;
}

/* Round trips on q for seconds: print the latencies under label. */
static void victim(ipc_queue *q, double seconds, const char *label)
{
	static struct bench_hist hist;
	char msg[100] = "victim";
	uint64_t end = bench_now_ns() + (uint64_t)(seconds * 1e9), t0, n = 0;

	memset(&hist, 0, sizeof hist);
	while ((t0 = bench_now_ns()) < end) {
		void *data = NULL;
		size_t len;

		if (ipc_queue_put(q, msg, sizeof msg, IPC_FOREVER) < 0 ||
		    ipc_queue_get(q, &data, &len, IPC_FOREVER) < 0) {
			fprintf(stderr, "fairness_probe: the victim's round trip failed\n");
			exit(1);
		}
		free(data);
		bench_hist_add(&hist, bench_now_ns() - t0);
		n++;
	}
	printf("%-9s round_trips=%llu rate=%.0f/s p50_us=%.0f p99_us=%.0f max_ms=%.1f\n", label,
	       (unsigned long long)n, (double)n / seconds,
	       bench_hist_quantile(&hist, 0.5) / 1e3, bench_hist_quantile(&hist, 0.99) / 1e3,
	       bench_hist_quantile(&hist, 1.0) / 1e6);
}

int main(int argc, char **argv)
{
	pid_t ipcd, kids[10];
	int nkids = 0;
	double seconds = argc > 4 ? atof(argv[4]) : 5;
	ipc_client *c;
	ipc_queue *q;
	const char *attack;

	if (argc < 4) {
		fprintf(stderr, "usage: fairness_probe SOCKET IPCD_PID expensive|halfsent|peeks|flood "
			"[SECONDS]\n");
		return 2;
	}
	sock_path = argv[1];
	ipcd = (pid_t)atoi(argv[2]);
	attack = argv[3];
	if (ipc_connect(sock_path, &c) < 0 || ipc_queue_open(c, "probe.victim", IPC_CREATE, NULL, &q) < 0)
		die("the victim cannot connect");
	if (strcmp(attack, "peeks") == 0) {
		static char big[1 << 20];
		ipc_queue *b;

		if (ipc_queue_open(c, "big", IPC_CREATE, NULL, &b) < 0 ||
		    ipc_queue_put(b, big, sizeof big, 0) < 0)
			die("cannot put the 1 MiB message");
		ipc_queue_close(b);
	}
	victim(q, 1, "before");
	for (int i = 0; i < (strcmp(attack, "peeks") == 0 ? 10 : strcmp(attack, "expensive") == 0 ? 2 : 1); i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (strcmp(attack, "expensive") == 0)
				attack_expensive();
			else if (strcmp(attack, "halfsent") == 0)
				attack_halfsent();
			else if (strcmp(attack, "peeks") == 0)
				attack_peeks();
			else if (strcmp(attack, "flood") == 0)
				attack_flood();
			fprintf(stderr, "fairness_probe: no attack %s\n", attack);
			_exit(2);
		}
		kids[nkids++] = pid;
	}
	victim(q, seconds, attack);
	if (strcmp(attack, "flood") == 0) {
		uint64_t t0 = bench_now_ns();
		ipc_client *root;
		int r = ipc_connect(sock_path, &root);

		printf("flood     root_connect=%s (%d) in %.1f ms\n", r < 0 ? ipc_strerror(r) : "ok", r,
		       (bench_now_ns() - t0) / 1e6);
		if (r == 0)
			ipc_disconnect(root);
	}
	printf("ipcd      rss_kib=%ld hwm_kib=%ld\n", status_kib(ipcd, "VmRSS"), status_kib(ipcd, "VmHWM"));
	for (int i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	ipc_queue_close(q);
	ipc_queue_unlink(c, "probe.victim");
	ipc_queue_unlink(c, "big");
	ipc_disconnect(c);
	return 0;
}
