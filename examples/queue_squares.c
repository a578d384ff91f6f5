/*
 * queue_squares.c - a child puts the squares of 0..9 on a queue; the parent
 * joins it, then gets and prints messages while the queue is not empty.
 * The queue is named after the parent's pid and removed at the end.
 *
 * Usage: queue_squares   (the socket: $IPCD_SOCKET)
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ipcclient.h>
#include <msgpack.h>

#include "pyprint.h"

struct squares_args {
	ipc_queue *q;
	int count;              /* squares of 0 .. count-1 */
};

static int calc_cuad(void *arg)
{
	const struct squares_args *a = arg;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int n = 0; n < a->count && rc == 0; n++) {
		sb.size = 0;
		msgpack_pack_int(&pk, n * n);
		rc = ipc_queue_put(a->q, sb.data, sb.size, IPC_FOREVER);
	}
	msgpack_sbuffer_destroy(&sb);
	if (rc < 0)
		fprintf(stderr, "queue_squares: child: put: %s\n", ipc_strerror(rc));
	return rc < 0;
}

int main(void)
{
	ipc_client *c;
	struct squares_args args = { NULL, 10 };
	ipc_process p = { .target = calc_cuad, .arg = &args };
	char name[64];
	long n;
	int rc;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "queue_squares: cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	snprintf(name, sizeof name, "queue_squares.%d", (int)getpid());
	rc = ipc_queue_open(c, name, IPC_CREATE | IPC_EXCLUSIVE, NULL, &args.q);
	if (rc < 0) {
		fprintf(stderr, "queue_squares: queue %s: %s\n", name, ipc_strerror(rc));
		return 1;
	}
	rc = ipc_process_start(&p);
	if (rc == 0)
		rc = ipc_process_join(&p, IPC_FOREVER);
	while (rc == 0 && (n = ipc_queue_size(args.q)) != 0) {
		void *msg;
		size_t len;

		rc = n < 0 ? (int)n : ipc_queue_get(args.q, &msg, &len, IPC_NOWAIT);
		if (rc == 0) {
			py_print(stdout, msg, len);
			free(msg);
		}
	}
	if (rc < 0)
		fprintf(stderr, "queue_squares: %s\n", ipc_strerror(rc));
	ipc_queue_close(args.q);
	ipc_queue_unlink(c, name);
	ipc_disconnect(c);
	return rc < 0 || p.exitcode != 0;
}
