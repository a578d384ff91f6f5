/*
 * anchors.c - what the kernel allows between two processes on this machine,
 * measured in the same run as the broker so ratios compare like with like:
 *
 *   write1     a socketpair, one write() per message (the per-syscall limit)
 *   coalesced  a socketpair, length-prefixed frames packed into 64 KiB
 *              writes (the byte-moving limit)
 *   rtt        a Unix-socket ping-pong of one message (the wakeup limit)
 *
 * Output: one line of key=value pairs (see bench.h).
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define CHUNK (64 * 1024)
#define FRAME_HEADER 4

struct anchor {
	const char *mode;
	unsigned long count;
	size_t size;
	int fd;                  /* the worker's end of the socketpair */
	struct bench_gate *gate;
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The sending side of write1 and coalesced, and the echoing side of rtt. */
static int worker_main(void *arg)
{
	struct anchor *a = arg;
	char *buf = malloc(CHUNK + a->size + FRAME_HEADER);
	int rc = 0;

	if (!buf || bench_gate_pass(a->gate) < 0)
		return 1;
	memset(buf, 'x', CHUNK + a->size + FRAME_HEADER);
	if (strcmp(a->mode, "write1") == 0) {
		for (unsigned long i = 0; i < a->count && rc == 0; i++) {
			bench_stamp_write(buf, 0, (uint32_t)i);
			rc = write_all(a->fd, buf, a->size);
		}
	} else if (strcmp(a->mode, "coalesced") == 0) {
		size_t used = 0, frame = FRAME_HEADER + a->size;
		uint32_t be = htobe32((uint32_t)a->size);

		for (unsigned long i = 0; i < a->count && rc == 0; i++) {
			memcpy(buf + used, &be, FRAME_HEADER);
			bench_stamp_write(buf + used + FRAME_HEADER, 0, (uint32_t)i);
			used += frame;
			if (used + frame > CHUNK || i + 1 == a->count) {
				rc = write_all(a->fd, buf, used);
				used = 0;
			}
		}
	} else {
		for (unsigned long i = 0; i < a->count && rc == 0; i++) {
			rc = read_all(a->fd, buf, a->size);
			if (rc == 0)
				rc = write_all(a->fd, buf, a->size);
		}
	}
	close(a->fd);
	free(buf);
	return rc < 0;
}

/* Read the stream of write1 or coalesced; how many messages arrived. */
static unsigned long receive_stream(const struct anchor *a, int fd)
{
	bool framed = strcmp(a->mode, "coalesced") == 0;
	size_t have = 0, need = framed ? FRAME_HEADER + a->size : a->size;
	unsigned long n = 0;
	char *buf = malloc(CHUNK + need);

	if (!buf)
		exit(1);
	for (;;) {
		ssize_t r = read(fd, buf + have, CHUNK);
		size_t off = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		/* Walk whole messages the way a reader must: frame by frame. */
		while (have - off >= need) {
			if (framed) {
				uint32_t be;

				memcpy(&be, buf + off, FRAME_HEADER);
				if (be32toh(be) != a->size) {
					fprintf(stderr, "anchors: a frame of %u bytes\n", be32toh(be));
					exit(1);
				}
			}
			off += need;
			n++;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	free(buf);
	return n;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: anchors -m MODE [-n COUNT] [-z SIZE]\n"
		"Kernel anchors between two processes.  MODE: write1 (one write per\n"
		"message), coalesced (frames in 64 KiB writes), rtt (ping-pong round trip).\n"
		"  -n, --count N   messages or round trips (default 1m, rtt 20k)\n"
		"  -z, --size N    bytes per message (default 64)\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct anchor a = { .mode = NULL, .size = 64 };
	struct bench_gate gate;
	struct bench_hist *hist = NULL;
	unsigned long got = 0;
	uint64_t t0, t1;
	int sv[2], opt, failed = 0;
	pid_t pid;

	while ((opt = getopt_long(argc, argv, "m:n:z:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'm': a.mode = optarg; break;
		case 'n': a.count = bench_parse_count("--count", optarg); break;
		case 'z': a.size = bench_parse_count("--size", optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!a.mode || (strcmp(a.mode, "write1") && strcmp(a.mode, "coalesced") &&
			strcmp(a.mode, "rtt")) || a.size < BENCH_STAMP_SIZE || a.size > CHUNK / 2) {
		usage(stderr);
		return 2;
	}
	if (!a.count)
		a.count = strcmp(a.mode, "rtt") == 0 ? 20000 : 1000000;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("anchors: socketpair");
		return 1;
	}
	bench_gate_init(&gate);
	a.gate = &gate;
	a.fd = sv[1];
	pid = bench_fork(worker_main, &a);
	close(sv[1]);
	if (bench_gate_wait(&gate, 1) < 0)
		return 1;
	t0 = bench_now_ns();
	bench_gate_open(&gate);
	if (strcmp(a.mode, "rtt") == 0) {
		char *buf = calloc(1, a.size);

		hist = calloc(1, sizeof *hist);
		if (!buf || !hist)
			return 1;
		for (unsigned long i = 0; i < a.count; i++) {
			uint64_t s = bench_now_ns();

			if (write_all(sv[0], buf, a.size) < 0 || read_all(sv[0], buf, a.size) < 0)
				break;
			bench_hist_add(hist, bench_now_ns() - s);
			got++;
		}
		free(buf);
	} else {
		got = receive_stream(&a, sv[0]);
	}
	t1 = bench_now_ns();
	close(sv[0]);
	failed = bench_wait_all(&pid, 1, 60000) < 0;
	bench_gate_close(&gate);
	if (got != a.count) {
		fprintf(stderr, "anchors: %s: %lu of %lu messages\n", a.mode, got, a.count);
		failed = 1;
	}
	if (failed)
		return 1;
	bench_result_begin("raw", a.mode);
	bench_result_u("size", a.size);
	bench_result_u("count", a.count);
	bench_result_rate(a.count, a.size, t1 - t0);
	if (hist)
		bench_result_hist(hist);
	bench_result_end();
	free(hist);
	return 0;
}
