/*
 * producer_consumer.c - a forked producer and consumer exchange messages
 * through a named ipcd queue.
 *
 * Usage: producer_consumer [QUEUE [COUNT]]   (the socket: $IPCD_SOCKET)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcclient.h>

static int produce(ipc_queue *q, int count)
{
	for (int i = 0; i < count; i++) {
		char msg[64];
		int n = snprintf(msg, sizeof msg, "job %d from pid %d", i, (int)getpid());
		int rc = ipc_queue_put(q, msg, (size_t)n, IPC_FOREVER);

		if (rc < 0) {
			fprintf(stderr, "producer: put: %s\n", ipc_strerror(rc));
			return 1;
		}
		printf("producer: put '%s'\n", msg);
		fflush(stdout);
	}
	return 0;
}

static int consume(ipc_queue *q, int count)
{
	for (int i = 0; i < count; i++) {
		void *data;
		size_t len;
		int rc = ipc_queue_get(q, &data, &len, 5000);

		if (rc < 0) {
			fprintf(stderr, "consumer: get: %s\n", ipc_strerror(rc));
			return 1;
		}
		printf("consumer: got '%.*s'\n", (int)len, (char *)data);
		fflush(stdout);
		free(data);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "demo";
	int count = argc > 2 ? atoi(argv[2]) : 10;
	ipc_client *c;
	ipc_queue *q;
	pid_t pid;
	int rc, status, failed = 0;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	rc = ipc_queue_open(c, name, IPC_CREATE, NULL, &q);
	if (rc < 0) {
		fprintf(stderr, "cannot open queue %s: %s\n", name, ipc_strerror(rc));
		return 1;
	}
	/* The child keeps using the parent's client and queue: the library
	 * gives it its own connection on first use. */
	pid = fork();
	if (pid == 0)
		_exit(produce(q, count));
	failed |= consume(q, count);
	waitpid(pid, &status, 0);
	failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	ipc_queue_close(q);
	ipc_disconnect(c);
	return failed;
}
