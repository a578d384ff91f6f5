/*
 * consumer.c - a program from outside the ipcd tree, built against the
 * installed libipcclient (through pkg-config, or find_package): it puts a
 * message through a queue of the daemon at argv[1] and reads it back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipcclient.h>

int main(int argc, char **argv)
{
	char msg[128];
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: consumer SOCKET NAME\n");
		return 2;
	}
	snprintf(msg, sizeof msg, "hello from %s", argv[2]);
	rc = ipc_connect(argv[1], &c);
	if (rc < 0) {
		fprintf(stderr, "consumer: connect %s: %s\n", argv[1], ipc_strerror(rc));
		return 1;
	}
	rc = ipc_queue_open(c, argv[2], IPC_CREATE, NULL, &q);
	if (rc == 0) {
		rc = ipc_queue_put(q, msg, strlen(msg), IPC_FOREVER);
		if (rc == 0)
			rc = ipc_queue_get(q, &data, &len, 1000);
		if (rc == 0) {
			rc = len == strlen(msg) && memcmp(data, msg, len) == 0 ? 0 : -1;
			free(data);
		}
		ipc_queue_close(q);
	}
	ipc_disconnect(c);
	if (rc < 0) {
		fprintf(stderr, "consumer: %s\n", rc == -1 ? "wrong message" : ipc_strerror(rc));
		return 1;
	}
	printf("consumer %s: ok with libipcclient %s\n", argv[2], IPC_CLIENT_VERSION);
	return 0;
}
