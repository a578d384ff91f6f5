/*
 * value_double.c - a child sets a shared 'd' value to 5.35 and writes the
 * squares of 0..9 into a shared 'i' array; the parent, after joining it,
 * prints both, as the tutorial does with multiprocessing.Value('d', 0.0)
 * and Array('i', 10).  A value is an array of length 1.  Both are named
 * after the parent's pid and removed at the end.
 *
 * Usage: value_double   (the socket: $IPCD_SOCKET)
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <ipcclient.h>

#define N 10

struct shared {
	ipc_array *result;      /* 'i' x 10 */
	ipc_array *val;         /* 'd' x 1 */
};

static void print_list(const char *label, const int32_t *v, size_t n)
{
	printf("%s[", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", (int)v[i]);
	printf("]\n");
}

/* val.value = 5.35; result[idx] = n*n for n in range(10), in the child. */
static int calc_cuad(void *arg)
{
	const struct shared *s = arg;
	int32_t *result = ipc_array_data(s->result);

	*(double *)ipc_array_data(s->val) = 5.35;
	for (int n = 0; n < N; n++)
		result[n] = n * n;
	print_list("Resultado del proceso:  ", result, N);
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
	struct shared s = { NULL, NULL };
	ipc_process p1 = { .target = calc_cuad, .arg = &s };
	char result_name[64], val_name[64];
	double t, value;
	int rc;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "value_double: cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	t = now_s();
	snprintf(result_name, sizeof result_name, "value_double.%d.result", (int)getpid());
	snprintf(val_name, sizeof val_name, "value_double.%d.val", (int)getpid());
	rc = ipc_array_open(c, result_name, IPC_CREATE | IPC_EXCLUSIVE, 'i', N, &s.result);
	if (rc == 0) {
		rc = ipc_array_open(c, val_name, IPC_CREATE | IPC_EXCLUSIVE, 'd', 1, &s.val);
		if (rc < 0) {
			ipc_array_close(s.result);
			ipc_array_unlink(c, result_name);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "value_double: cannot create the arrays: %s\n", ipc_strerror(rc));
		return 1;
	}
	rc = ipc_process_start(&p1);
	if (rc == 0)
		rc = ipc_process_join(&p1, IPC_FOREVER);
	/* The value through ipcd (its mapping would do as well). */
	if (rc == 0)
		rc = ipc_array_read(s.val, 0, 1, &value);
	if (rc == 0) {
		print_list("Resultado fuera del proceso ", ipc_array_data(s.result), N);
		printf("Resultado fuera del proceso %g\n", value);
		printf("Tiempo de ejecución:  %.17g\n", now_s() - t);
		printf("Finaliza la ejecución\n");
	} else {
		fprintf(stderr, "value_double: %s\n", ipc_strerror(rc));
	}
	ipc_array_close(s.result);
	ipc_array_close(s.val);
	ipc_array_unlink(c, result_name);
	ipc_array_unlink(c, val_name);
	ipc_disconnect(c);
	return rc < 0 || p1.exitcode != 0;
}
