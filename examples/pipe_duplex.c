/*
 * pipe_duplex.c - both ends of one pipe send and receive: the parent sends
 * "Sent from the main process", the child prints it and answers "Sent from
 * the child process", which the parent prints.
 *
 * Usage: pipe_duplex   (the socket: $IPCD_SOCKET)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipcclient.h>
#include <msgpack.h>

#include "pyprint.h"

/* Send s as a msgpack string. */
static int send_str(ipc_pipe *conn, const char *s)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_str_with_body(&pk, s, strlen(s));
	rc = ipc_pipe_send(conn, sb.data, sb.size, IPC_FOREVER);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* print(conn.recv()) */
static int recv_print(ipc_pipe *conn)
{
	void *msg;
	size_t len;
	int rc = ipc_pipe_recv(conn, &msg, &len, 10000);

	if (rc < 0)
		return rc;
	py_print(stdout, msg, len);
	fflush(stdout);
	free(msg);
	return 0;
}

static int worker(void *arg)
{
	ipc_pipe *conn = arg;
	int rc = recv_print(conn);

	if (rc == 0)
		rc = send_str(conn, "Sent from the child process");
	if (rc < 0)
		fprintf(stderr, "pipe_duplex: child: %s\n", ipc_strerror(rc));
	ipc_pipe_close(conn);
	return rc < 0;
}

int main(void)
{
	ipc_client *c;
	ipc_pipe *conn1, *conn2;
	ipc_process process = { .target = worker };
	int rc;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "pipe_duplex: cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	rc = ipc_pipe_pair(c, 0, &conn1, &conn2);
	if (rc < 0) {
		fprintf(stderr, "pipe_duplex: pipe: %s\n", ipc_strerror(rc));
		return 1;
	}
	process.arg = conn2;
	rc = ipc_process_start(&process);
	if (rc == 0)
		rc = send_str(conn1, "Sent from the main process");
	if (rc == 0)
		rc = recv_print(conn1);
	if (rc < 0)
		fprintf(stderr, "pipe_duplex: %s\n", ipc_strerror(rc));
	ipc_process_join(&process, IPC_FOREVER);
	ipc_pipe_close(conn1);
	ipc_pipe_close(conn2);
	ipc_disconnect(c);
	return rc < 0 || process.exitcode != 0;
}
