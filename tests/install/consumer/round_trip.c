/*
 * round_trip.c - one message through a queue of the daemon (round_trip.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipcclient.h>

#include "round_trip.h"

int round_trip(const char *prog, const char *sock, const char *name)
{
	char msg[128];
	ipc_client *c;
	ipc_queue *q;
	void *data;
	size_t len;
	int rc;

	snprintf(msg, sizeof msg, "hello from %s", name);
	rc = ipc_connect(sock, &c);
	if (rc < 0) {
		fprintf(stderr, "%s: connect %s: %s\n", prog, sock, ipc_strerror(rc));
		return 1;
	}
	rc = ipc_queue_open(c, name, IPC_CREATE, NULL, &q);
	if (rc == 0) {
		rc = ipc_queue_put(q, msg, strlen(msg), IPC_FOREVER);
		if (rc == 0)
			rc = ipc_queue_get(q, &data, &len, 10000);
		if (rc == 0) {
			rc = len == strlen(msg) && memcmp(data, msg, len) == 0 ? 0 : -1;
			free(data);
		}
		ipc_queue_close(q);
	}
	ipc_disconnect(c);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, rc == -1 ? "wrong message" : ipc_strerror(rc));
		return 1;
	}
	return 0;
}
