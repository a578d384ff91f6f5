/*
 * array_squares.c - processes do not share memory, but a shared array is
 * shared: a child writes the squares of 0..9 into an 'i' array of 10 that
 * ipcd holds, and the parent, after joining it, reads them back, as the
 * tutorial does with multiprocessing.Array('i', 10).  (squares_global.c is
 * the same with a plain global array, which the parent finds empty.)  The
 * parent prints the array as it sees it through its mapping, then as it
 * reads it through ipcd.  The array is named after the parent's pid and
 * removed at the end.
 *
 * Usage: array_squares   (the socket: $IPCD_SOCKET)
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <ipcclient.h>

#define N 10

static void print_list(const char *label, const int32_t *v, size_t n)
{
	printf("%s[", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", (int)v[i]);
	printf("]\n");
}

/* result[idx] = n*n for n in range(10), in the child. */
static int calc_cuad(void *arg)
{
	ipc_array *result = arg;
	int32_t *v = ipc_array_data(result);

	for (int n = 0; n < N; n++)
		v[n] = n * n;
	print_list("Resultado del proceso:  ", v, N);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	ipc_client *c;
	ipc_array *result;
	ipc_process p1 = { .target = calc_cuad };
	int32_t read[N];
	char name[64];
	double t;
	int rc;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "array_squares: cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	t = now_s();
	snprintf(name, sizeof name, "array_squares.%d", (int)getpid());
	rc = ipc_array_open(c, name, IPC_CREATE | IPC_EXCLUSIVE, 'i', N, &result);
	if (rc < 0) {
		fprintf(stderr, "array_squares: array %s: %s\n", name, ipc_strerror(rc));
		return 1;
	}
	p1.arg = result;
	rc = ipc_process_start(&p1);
	if (rc == 0)
		rc = ipc_process_join(&p1, IPC_FOREVER);
	if (rc == 0) {
		/* Through the mapping, then through ipcd: the same ten values. */
		print_list("Resultado fuera del proceso ", ipc_array_data(result), N);
		rc = ipc_array_read(result, 0, N, read);
	}
	if (rc == 0) {
		print_list("Leído a través de ipcd ", read, N);
		printf("Tiempo de ejecución:  %.17g\n", now_s() - t);
		printf("Finaliza la ejecución\n");
	} else {
		fprintf(stderr, "array_squares: %s\n", ipc_strerror(rc));
	}
	ipc_array_close(result);
	ipc_array_unlink(c, name);
	ipc_disconnect(c);
	return rc < 0 || p1.exitcode != 0;
}
