/*
 * queue_hello.c - a child puts [42, None, 'hello'] (msgpack) on a queue and
 * the parent prints what it gets, as Python's Queue example does.  The
 * queue is named after the parent's pid and removed at the end.
 *
 * Usage: queue_hello   (the socket: $IPCD_SOCKET)
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ipcclient.h>
#include <msgpack.h>

#include "pyprint.h"

static int f(void *arg)
{
	ipc_queue *q = arg;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 42);
	msgpack_pack_nil(&pk);
	msgpack_pack_str_with_body(&pk, "hello", 5);
	rc = ipc_queue_put(q, sb.data, sb.size, IPC_FOREVER);
	msgpack_sbuffer_destroy(&sb);
	if (rc < 0)
		fprintf(stderr, "queue_hello: child: put: %s\n", ipc_strerror(rc));
	return rc < 0;
}

int main(void)
{
	ipc_client *c;
	ipc_queue *q;
	ipc_process p = { .target = f };
	char name[64];
	void *msg;
	size_t len;
	int rc;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "queue_hello: cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	snprintf(name, sizeof name, "queue_hello.%d", (int)getpid());
	rc = ipc_queue_open(c, name, IPC_CREATE | IPC_EXCLUSIVE, NULL, &q);
	if (rc < 0) {
		fprintf(stderr, "queue_hello: queue %s: %s\n", name, ipc_strerror(rc));
		return 1;
	}
	p.arg = q;
	rc = ipc_process_start(&p);
	if (rc == 0)
		rc = ipc_queue_get(q, &msg, &len, 10000);
	if (rc < 0) {
		fprintf(stderr, "queue_hello: %s\n", ipc_strerror(rc));
	} else {
		py_print(stdout, msg, len);
		free(msg);
	}
	ipc_process_join(&p, IPC_FOREVER);
	ipc_queue_close(q);
	ipc_queue_unlink(c, name);
	ipc_disconnect(c);
	return rc < 0 || p.exitcode != 0;
}
