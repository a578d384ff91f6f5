/*
 * value_double.c - a child sets a shared 'd' value and fills a shared 'i'
 * array; the parent reads both, as Python's multiprocessing.Value('d', 0.0)
 * and Array('i', 10) do.
 *
 * Usage: value_double [PREFIX]   (the socket: $IPCD_SOCKET; the objects
 * PREFIX.result and PREFIX.val must not exist)
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcclient.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_list(const char *label, const int32_t *v, size_t n)
{
	printf("%s [", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%d", i ? ", " : "", (int)v[i]);
	printf("]\n");
}

/* The child: val.value = 5.35, then the squares into result. */
static void calc_squares(ipc_array *result, ipc_array *val)
{
	int32_t *v = ipc_array_data(result);

	*(double *)ipc_array_data(val) = 5.35;
	for (int n = 0; n < 10; n++)
		v[n] = n * n;
	print_list("Result in the process: ", v, 10);
}

static int create(ipc_client *c, const char *prefix, const char *what, char tc, size_t length,
		  ipc_array **out)
{
	char name[256];
	int rc;

	snprintf(name, sizeof name, "%s.%s", prefix, what);
	rc = ipc_array_open(c, name, IPC_CREATE | IPC_EXCLUSIVE, tc, length, out);
	if (rc < 0)
		fprintf(stderr, "cannot create array %s: %s\n", name, ipc_strerror(rc));
	return rc;
}

static void destroy(ipc_client *c, const char *prefix, const char *what, ipc_array *a)
{
	char name[256];

	snprintf(name, sizeof name, "%s.%s", prefix, what);
	ipc_array_close(a);
	ipc_array_unlink(c, name);
}

int main(int argc, char **argv)
{
	const char *prefix = argc > 1 ? argv[1] : "value_double";
	ipc_client *c;
	ipc_array *result, *val;
	double t, got;
	int rc, status;
	pid_t pid;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	t = now();
	if (create(c, prefix, "result", 'i', 10, &result) < 0)
		return 1;
	if (create(c, prefix, "val", 'd', 1, &val) < 0)
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		calc_squares(result, val);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "the child failed\n");
		return 1;
	}
	print_list("Result outside the process", ipc_array_data(result), 10);
	rc = ipc_array_read(val, 0, 1, &got);
	if (rc < 0) {
		fprintf(stderr, "ipc_array_read: %s\n", ipc_strerror(rc));
		return 1;
	}
	printf("Result outside the process %g\n", got);
	printf("Execution time: %f s\n", now() - t);
	printf("Done\n");
	destroy(c, prefix, "result", result);
	destroy(c, prefix, "val", val);
	ipc_disconnect(c);
	return 0;
}
