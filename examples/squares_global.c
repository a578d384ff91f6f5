/*
 * squares_global.c - processes do not share memory: a child computes the
 * squares of 0..9 into a plain global array and prints each, but the
 * parent, after joining it, finds its own copy of the array still empty.
 * (Sharing needs IPC: a queue, a pipe or a shared array.)
 *
 * Usage: squares_global
 */
#include <stdio.h>
#include <time.h>

#include <ipcclient.h>

#define N 10

static int num_res[N];      /* the results, as a Python list: num_res_len entries */
static int num_res_len;

struct squares_args {
	int count;              /* squares of 0 .. count-1 */
};

static int calc_cuad(void *arg)
{
	const struct squares_args *a = arg;

	for (int n = 0; n < a->count; n++) {
		printf("cuadrado:  %d\n", n * n);
		num_res[num_res_len++] = n * n;
	}
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
	struct squares_args args = { N };
	ipc_process p1 = { .target = calc_cuad, .arg = &args };
	double t = now_s();
	int rc;

	rc = ipc_process_start(&p1);
	if (rc == 0)
		rc = ipc_process_join(&p1, IPC_FOREVER);
	if (rc < 0) {
		fprintf(stderr, "squares_global: %s\n", ipc_strerror(rc));
		return 1;
	}
	printf("Tiempo de ejecución:  %.17g\n", now_s() - t);
	printf("Resultado operación:  [");
	for (int i = 0; i < num_res_len; i++)
		printf("%s%d", i ? ", " : "", num_res[i]);
	printf("]\n");
	printf("Finaliza ejecución\n");
	return p1.exitcode;
}
