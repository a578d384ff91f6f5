/*
 * array_bench.c - how fast a shared array reads, against plain memory.
 *
 * Creates a 'd' array (64 MiB by default) in a running ipcd, fills it
 * through the mapping, and times, best of several rounds each (the first
 * three interleaved, so that a busy machine slows them alike):
 *   memcpy     a plain memcpy of the same size between two private buffers;
 *   mapping    the same memcpy out of the array's shared mapping;
 *   sum        summing the doubles through the mapping and in private memory;
 *   brokered   ipc_array_read() of the whole array through ipcd (in requests
 *              of the daemon's message limit).
 * Every buffer is touched before timing, so page faults are not counted.
 *
 * Usage: array_bench [-s SOCKET] [-m MIB] [-r ROUNDS]   (default: $IPCD_SOCKET, 64, 7)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipcclient.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keep the compiler from dropping work whose result is unused. */
static volatile double sink;

static double sum(const double *v, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

static double gib_per_s(size_t bytes, double secs)
{
	return (double)bytes / secs / (1024.0 * 1024 * 1024);
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	size_t mib = 64, bytes, n;
	int rounds = 7, opt, rc;
	double best_memcpy = 1e9, best_map = 1e9, best_sum_map = 1e9, best_sum_priv = 1e9;
	double best_broker = 1e9;
	char name[64];
	double *src, *dst, *data;
	ipc_client *c;
	ipc_array *a;

	while ((opt = getopt(argc, argv, "s:m:r:")) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'm': mib = (size_t)strtoul(optarg, NULL, 10); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-s SOCKET] [-m MIB] [-r ROUNDS]\n", argv[0]);
			return 2;
		}
	}
	if (mib == 0 || rounds < 1) {
		fprintf(stderr, "array_bench: -m and -r must be at least 1\n");
		return 2;
	}
	bytes = mib << 20;
	n = bytes / sizeof(double);
	rc = ipc_connect(sock, &c);
	if (rc < 0) {
		fprintf(stderr, "array_bench: cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	snprintf(name, sizeof name, "array_bench.%d", (int)getpid());
	rc = ipc_array_open(c, name, IPC_CREATE | IPC_EXCLUSIVE, 'd', n, &a);
	if (rc < 0) {
		fprintf(stderr, "array_bench: cannot create a %zu MiB array: %s (%s)\n", mib,
			ipc_strerror(rc), ipc_last_error(c));
		ipc_disconnect(c);
		return 1;
	}
	data = ipc_array_data(a);
	src = malloc(bytes);
	dst = malloc(bytes);
	if (!src || !dst) {
		fprintf(stderr, "array_bench: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		data[i] = src[i] = (double)i * 0.5;
	memset(dst, 0, bytes);

	for (int r = 0; r < rounds; r++) {
		double t;

		t = now();
		memcpy(dst, src, bytes);
		t = now() - t;
		best_memcpy = t < best_memcpy ? t : best_memcpy;
		sink = dst[n - 1];

		t = now();
		memcpy(dst, data, bytes);
		t = now() - t;
		best_map = t < best_map ? t : best_map;
		sink = dst[n - 1];

		t = now();
		sink = sum(src, n);
		t = now() - t;
		best_sum_priv = t < best_sum_priv ? t : best_sum_priv;

		t = now();
		sink = sum(data, n);
		t = now() - t;
		best_sum_map = t < best_sum_map ? t : best_sum_map;
	}
	/*
	 * The brokered reads come after: interleaved, the daemon's reads of the
	 * array made the next mapped read up to twice as slow.
	 */
	for (int r = 0; r < rounds; r++) {
		double t = now();

		rc = ipc_array_read(a, 0, n, dst);
		t = now() - t;
		if (rc < 0) {
			fprintf(stderr, "array_bench: ipc_array_read: %s\n", ipc_strerror(rc));
			return 1;
		}
		best_broker = t < best_broker ? t : best_broker;
		if (memcmp(dst, src, bytes) != 0) {
			fprintf(stderr, "array_bench: the brokered read differs from the array\n");
			return 1;
		}
	}

	printf("array of %zu MiB ('d' x %zu), best of %d rounds\n", mib, n, rounds);
	printf("memcpy, private to private   %8.2f ms  %6.2f GiB/s\n", best_memcpy * 1e3,
	       gib_per_s(bytes, best_memcpy));
	printf("memcpy out of the mapping    %8.2f ms  %6.2f GiB/s  (%.2f of memcpy)\n",
	       best_map * 1e3, gib_per_s(bytes, best_map), best_memcpy / best_map);
	printf("sum, private memory          %8.2f ms  %6.2f GiB/s\n", best_sum_priv * 1e3,
	       gib_per_s(bytes, best_sum_priv));
	printf("sum through the mapping      %8.2f ms  %6.2f GiB/s  (%.2f of private)\n",
	       best_sum_map * 1e3, gib_per_s(bytes, best_sum_map), best_sum_priv / best_sum_map);
	printf("ipc_array_read through ipcd  %8.2f ms  %6.2f GiB/s  (%.3f of memcpy)\n",
	       best_broker * 1e3, gib_per_s(bytes, best_broker), best_memcpy / best_broker);

	free(src);
	free(dst);
	ipc_array_close(a);
	ipc_array_unlink(c, name);
	ipc_disconnect(c);
	return 0;
}
