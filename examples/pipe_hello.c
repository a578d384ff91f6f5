/*
 * pipe_hello.c - a child sends ["hello world"] (msgpack) through an
 * anonymous pipe and the parent prints what it receives, as Python's
 * Pipe() example does.
 *
 * Usage: pipe_hello   (the socket: $IPCD_SOCKET)
 */
#include <stdio.h>
#include <stdlib.h>

#include <ipcclient.h>
#include <msgpack.h>

#include "pyprint.h"

static int f(void *arg)
{
	ipc_pipe *conn = arg;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_str_with_body(&pk, "hello world", 11);
	rc = ipc_pipe_send(conn, sb.data, sb.size, IPC_FOREVER);
	msgpack_sbuffer_destroy(&sb);
	if (rc < 0)
		fprintf(stderr, "pipe_hello: child: send: %s\n", ipc_strerror(rc));
	ipc_pipe_close(conn);
	return rc < 0;
}

int main(void)
{
	ipc_client *c;
	ipc_pipe *parent_conn, *child_conn;
	ipc_process p = { .target = f };
	void *msg;
	size_t len;
	int rc;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "pipe_hello: cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	rc = ipc_pipe_pair(c, 0, &parent_conn, &child_conn);
	if (rc < 0) {
		fprintf(stderr, "pipe_hello: pipe: %s\n", ipc_strerror(rc));
		return 1;
	}
	p.arg = child_conn;
	rc = ipc_process_start(&p);
	if (rc < 0) {
		fprintf(stderr, "pipe_hello: start: %s\n", ipc_strerror(rc));
		return 1;
	}
	rc = ipc_pipe_recv(parent_conn, &msg, &len, 10000);
	if (rc < 0) {
		fprintf(stderr, "pipe_hello: recv: %s\n", ipc_strerror(rc));
	} else {
		py_print(stdout, msg, len);
		free(msg);
	}
	ipc_process_join(&p, IPC_FOREVER);
	ipc_pipe_close(parent_conn);
	ipc_pipe_close(child_conn);
	ipc_disconnect(c);
	return rc < 0 || p.exitcode != 0;
}
