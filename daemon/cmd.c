/*
 * cmd.c - the command table and the gate every request passes.
 *
 * decoded frame -> arity and types (proto_decode_request, from the op's
 * argument spec) -> handshake done -> handle resolved to a live object of the
 * op's kind -> handler.  Handlers thus get typed arguments and a valid target,
 * and answer through reply_* (or park the request on the object).
 */
#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "object.h"
#include "reply.h"
#include "server.h"

struct cmd {
	void (*fn)(struct req *r);
	enum ipc_kind kind;      /* argv[0] is a handle to an object of this kind */
	bool any_handle;         /* argv[0] is a handle to an object of any kind */
	bool before_hello;       /* allowed before the handshake */
};

static const struct cmd cmd_table[IPC_OP_MAX + 1] = {
	[IPC_OP_HELLO]   = { cmd_hello, .before_hello = true },
	[IPC_OP_PING]    = { cmd_ping, .before_hello = true },
	[IPC_OP_STATUS]  = { cmd_status },
	[IPC_OP_LIST]    = { cmd_list },
	[IPC_OP_CLIENTS] = { cmd_clients },
	[IPC_OP_UNLINK]  = { cmd_unlink },
	[IPC_OP_CLOSE]   = { cmd_close, .any_handle = true },
	[IPC_OP_SETNAME] = { cmd_setname },
	[IPC_OP_Q_OPEN]  = { queue_cmd_open },
	[IPC_OP_Q_PUT]   = { queue_cmd_put, IPC_KIND_QUEUE },
	[IPC_OP_Q_GET]   = { queue_cmd_get, IPC_KIND_QUEUE },
	[IPC_OP_Q_SIZE]  = { queue_cmd_size, IPC_KIND_QUEUE },
	[IPC_OP_Q_PEEK]  = { queue_cmd_peek, IPC_KIND_QUEUE },
	[IPC_OP_Q_STAT]  = { queue_cmd_stat, IPC_KIND_QUEUE },
	[IPC_OP_Q_PURGE] = { queue_cmd_purge, IPC_KIND_QUEUE },
	[IPC_OP_Q_PUT_MANY] = { queue_cmd_put_many, IPC_KIND_QUEUE },
	[IPC_OP_Q_GET_MANY] = { queue_cmd_get_many, IPC_KIND_QUEUE },
	[IPC_OP_Q_PREFETCH] = { queue_cmd_prefetch, IPC_KIND_QUEUE },
	[IPC_OP_Q_CREDIT]   = { queue_cmd_credit, IPC_KIND_QUEUE },
	[IPC_OP_A_OPEN]  = { array_cmd_open },
	[IPC_OP_A_READ]  = { array_cmd_read, IPC_KIND_ARRAY },
	[IPC_OP_A_WRITE] = { array_cmd_write, IPC_KIND_ARRAY },
	[IPC_OP_A_ADD]   = { array_cmd_add, IPC_KIND_ARRAY },
	[IPC_OP_A_LOCK]  = { array_cmd_lock, IPC_KIND_ARRAY },
	[IPC_OP_A_UNLOCK] = { array_cmd_unlock, IPC_KIND_ARRAY },
	[IPC_OP_A_STAT]  = { array_cmd_stat, IPC_KIND_ARRAY },
	[IPC_OP_P_OPEN]  = { pipe_cmd_open },
	[IPC_OP_P_PAIR]  = { pipe_cmd_pair },
	[IPC_OP_P_SEND]  = { pipe_cmd_send, IPC_KIND_PIPE },
	[IPC_OP_P_RECV]  = { pipe_cmd_recv, IPC_KIND_PIPE },
	/* Any handle: a removed pipe's end can still be closed; the handler checks the kind. */
	[IPC_OP_P_CLOSE] = { pipe_cmd_close, .any_handle = true },
};

/* Decoded requests borrow from here until the next one is decoded. */
static msgpack_unpacked unpacked;
static bool unpacked_ready;

int cmd_dispatch(struct conn *c, const char *body, size_t len)
{
	struct proto_req pr;
	struct req r;
	const struct cmd *cmd;
	char err[160];
	int rc;

	if (!unpacked_ready) {
		msgpack_unpacked_init(&unpacked);
		unpacked_ready = true;
	}
	rc = proto_decode_request(body, len, &unpacked, &pr, err, sizeof err);
	if (rc == -EPROTO) {
		char sample[128];

		log_warn("client %llu (pid %d): malformed frame (%s): %s", (unsigned long long)c->id,
			 (int)c->pid, err, log_sample(body, len < 32 ? len : 32, sample, sizeof sample));
		push_error(c, -EPROTO, "malformed frame: %s", err);
		conn_close(c, "malformed frame");
		return -EPROTO;
	}
	if (rc < 0) {
		reply_error(c, pr.id, rc, "%s", err);
		return 0;
	}
	cmd = &cmd_table[pr.op];
	if (!cmd->fn) {
		reply_error(c, pr.id, -EOPNOTSUPP, "%s is not served by this ipcd",
			    proto_op_name(pr.op));
		return 0;
	}
	if (!c->greeted && !cmd->before_hello) {
		reply_error(c, pr.id, -EPROTO, "send hello before %s", proto_op_name(pr.op));
		return 0;
	}
	memset(&r, 0, sizeof r);
	r.conn = c;
	r.srv = c->srv;
	r.id = pr.id;
	r.op = pr.op;
	r.argc = pr.argc;
	r.argv = pr.argv;
	if (cmd->kind || cmd->any_handle) {
		r.handle = conn_handle_find(c, r.argv[0].via.u64);
		if (!r.handle) {
			reply_error(c, r.id, -EBADF, "no open handle %llu",
				    (unsigned long long)r.argv[0].via.u64);
			return 0;
		}
		r.obj = r.handle->obj;
		if (cmd->kind && r.obj->kind->kind != cmd->kind) {
			reply_error(c, r.id, -EBADF, "handle %u is %s '%s', not a %s",
				    r.handle->num, r.obj->kind->name, r.obj->name,
				    proto_kind_name(cmd->kind));
			return 0;
		}
		if (cmd->kind && !r.obj->linked) {
			reply_error(c, r.id, -EIDRM, "%s '%s' was removed", r.obj->kind->name,
				    r.obj->name);
			return 0;
		}
	}
	cmd->fn(&r);
	return 0;
}

void cmd_cleanup(void)
{
	if (unpacked_ready)
		msgpack_unpacked_destroy(&unpacked);
	unpacked_ready = false;
}
