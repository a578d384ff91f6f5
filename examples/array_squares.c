/*
 * array_squares.c - processes do not share memory; a shared array does.
 *
 * A forked child computes the squares of 0..9.  Appended to a plain global
 * array, they stay in the child: the parent's copy is still empty.  Written
 * into an 'i' array of 10 that ipcd holds, the parent reads them back, as
 * Python's multiprocessing.Array('i', 10) does.
 *
 * Usage: array_squares [NAME]   (the socket: $IPCD_SOCKET; NAME must not exist)
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcclient.h>

static int32_t num_res[10];   /* the plain global: each process has its own */
static size_t num_res_len;

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

/* Run fn(arg) in a child and wait for it; 0 when it exited with 0. */
static int run_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void calc_squares_global(void *arg)
{
	for (int n = 0; n < 10; n++) {
		printf("square:  %d\n", n * n);
		num_res[num_res_len++] = n * n;
	}
}

static void calc_squares_shared(void *arg)
{
	ipc_array *result = arg;
	int32_t *v = ipc_array_data(result);

	for (int n = 0; n < 10; n++)
		v[n] = n * n;
	print_list("Result in the process: ", v, 10);
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "squares";
	int32_t outside[10];
	ipc_client *c;
	ipc_array *result;
	double t;
	int rc;

	printf("Processes do not share memory: the child fills a plain global array.\n");
	t = now();
	if (run_child(calc_squares_global, NULL) < 0)
		return 1;
	printf("Execution time: %f s\n", now() - t);
	print_list("Result of the operation: ", num_res, num_res_len);
	printf("Done\n\n");

	printf("The same through an 'i' array of 10 held by ipcd:\n");
	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	t = now();
	rc = ipc_array_open(c, name, IPC_CREATE | IPC_EXCLUSIVE, 'i', 10, &result);
	if (rc < 0) {
		fprintf(stderr, "cannot create array %s: %s\n", name, ipc_strerror(rc));
		ipc_disconnect(c);
		return 1;
	}
	if (run_child(calc_squares_shared, result) < 0) {
		fprintf(stderr, "the child failed\n");
		rc = -1;
	} else {
		/* Through the mapping, and again through ipcd. */
		print_list("Result outside the process", ipc_array_data(result), 10);
		rc = ipc_array_read(result, 0, 10, outside);
		if (rc < 0)
			fprintf(stderr, "ipc_array_read: %s\n", ipc_strerror(rc));
		else
			print_list("Read through ipcd:", outside, 10);
		printf("Execution time: %f s\n", now() - t);
		printf("Done\n");
	}
	ipc_array_close(result);
	ipc_array_unlink(c, name);
	ipc_disconnect(c);
	return rc < 0;
}
