/*
 * pipe_names.c - the tutorial's exercise: one child sends names through a
 * pipe, ending with "END"; a second child receives and prints them until
 * "END".  The parent only makes the pipe and joins both.
 *
 * Usage: pipe_names   (the socket: $IPCD_SOCKET)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipcclient.h>
#include <msgpack.h>

static const char *const nombres[] = { "Carlos", "Renata", "Rebeca", "Sandra", "END" };

struct send_args {
	ipc_pipe *conn;
	const char *const *msgs;
	size_t count;
};

static int send_msgs(void *arg)
{
	const struct send_args *a = arg;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (size_t i = 0; i < a->count && rc == 0; i++) {
		sb.size = 0;
		msgpack_pack_str_with_body(&pk, a->msgs[i], strlen(a->msgs[i]));
		rc = ipc_pipe_send(a->conn, sb.data, sb.size, IPC_FOREVER);
	}
	msgpack_sbuffer_destroy(&sb);
	if (rc < 0)
		fprintf(stderr, "pipe_names: sender: %s\n", ipc_strerror(rc));
	ipc_pipe_close(a->conn);
	return rc < 0;
}

static int recv_msgs(void *arg)
{
	ipc_pipe *conn = arg;

	for (;;) {
		msgpack_unpacked u;
		void *msg;
		size_t len;
		int rc = ipc_pipe_recv(conn, &msg, &len, 10000), end;

		if (rc < 0) {
			fprintf(stderr, "pipe_names: receiver: %s\n", ipc_strerror(rc));
			return 1;
		}
		msgpack_unpacked_init(&u);
		if (msgpack_unpack_next(&u, msg, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
		    u.data.type != MSGPACK_OBJECT_STR) {
			fprintf(stderr, "pipe_names: receiver: not a string\n");
			msgpack_unpacked_destroy(&u);
			free(msg);
			return 1;
		}
		end = u.data.via.str.size == 3 && memcmp(u.data.via.str.ptr, "END", 3) == 0;
		if (!end)
			printf("%.*s\n", (int)u.data.via.str.size, u.data.via.str.ptr);
		msgpack_unpacked_destroy(&u);
		free(msg);
		if (end)
			return 0;
	}
}

int main(void)
{
	ipc_client *c;
	ipc_pipe *parent_conn, *child_conn;
	struct send_args args;
	ipc_process p1 = { .target = send_msgs, .name = "send_msgs" };
	ipc_process p2 = { .target = recv_msgs, .name = "recv_msgs" };
	int rc;

	rc = ipc_connect(NULL, &c);
	if (rc < 0) {
		fprintf(stderr, "pipe_names: cannot connect to ipcd: %s\n", ipc_strerror(rc));
		return 1;
	}
	rc = ipc_pipe_pair(c, 0, &parent_conn, &child_conn);
	if (rc < 0) {
		fprintf(stderr, "pipe_names: pipe: %s\n", ipc_strerror(rc));
		return 1;
	}
	args = (struct send_args){ parent_conn, nombres, sizeof nombres / sizeof nombres[0] };
	p1.arg = &args;
	p2.arg = child_conn;
	rc = ipc_process_start(&p1);
	if (rc < 0 || (rc = ipc_process_start(&p2)) < 0) {
		fprintf(stderr, "pipe_names: start: %s\n", ipc_strerror(rc));
		if (p1.pid > 0)
			ipc_process_join(&p1, IPC_FOREVER);
		return 1;
	}
	ipc_process_join(&p1, IPC_FOREVER);
	ipc_process_join(&p2, IPC_FOREVER);
	ipc_pipe_close(parent_conn);
	ipc_pipe_close(child_conn);
	ipc_disconnect(c);
	return p1.exitcode != 0 || p2.exitcode != 0;
}
