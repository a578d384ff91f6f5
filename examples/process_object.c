/*
 * process_object.c - a process as an object: a struct that embeds
 * ipc_process and gives it a run function, as a Python class deriving from
 * multiprocessing.Process does.  The parent prints its pid, starts the
 * process and joins it; the child prints its own.
 *
 * Usage: process_object
 */
#include <stdio.h>
#include <unistd.h>

#include <ipcclient.h>

struct my_process {
	ipc_process base;        /* first, so that run's self is a my_process */
	const char *greeting;
};

static int my_process_run(ipc_process *self)
{
	struct my_process *me = (struct my_process *)self;

	printf("%s: %d\n", me->greeting, (int)getpid());
	return 0;
}

int main(void)
{
	struct my_process p = {
		.base = { .run = my_process_run, .name = "MyProcess" },
		.greeting = "Child process PID",
	};
	int rc;

	printf("Main process PID: %d\n", (int)getpid());
	rc = ipc_process_start(&p.base);
	if (rc == 0)
		rc = ipc_process_join(&p.base, IPC_FOREVER);
	if (rc < 0) {
		fprintf(stderr, "process_object: %s\n", ipc_strerror(rc));
		return 1;
	}
	return p.base.exitcode;
}
