/*
 * cmd.c - the command table and the gate every request passes.
 *
 * decoded frame -> arity and types (proto_decode_request, from the op's
 * argument spec) -> handshake done -> the target resolved and the caller's
 * right to it checked -> handler.  Handlers thus get typed arguments and a
 * valid target, and answer through reply_* (or park the request on the
 * object).
 *
 * Permissions are checked here and only here, as System V checks ipc_perm:
 * an open (argv: name, flags, ...) of an existing object needs at least one
 * right (object_rights), and the handle records the rights it got
 * (conn_handle_add); an op on a handle needs the rights its entry names
 * (read to take or look, write to add or change); removing an object, or
 * changing its mode or owner, is for its owner and root.  The limit on
 * objects is checked here too.  A new kind gets all of this by filling
 * opens (or creates), need and owner in its entries.
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
	unsigned need;           /* rights the handle must have: IPC_PERM_READ, _WRITE */
	enum ipc_kind opens;     /* argv is name, flags... of an object of this kind to open */
	bool creates;            /* makes an object (there must be room for one) */
	bool owner;              /* argv[0] names an object the caller must own */
};

#define R IPC_PERM_READ
#define W IPC_PERM_WRITE

static const struct cmd cmd_table[IPC_OP_MAX + 1] = {
	[IPC_OP_HELLO]   = { .fn = cmd_hello, .before_hello = true },
	[IPC_OP_PING]    = { .fn = cmd_ping, .before_hello = true },
	[IPC_OP_STATUS]  = { .fn = cmd_status },
	[IPC_OP_LIST]    = { .fn = cmd_list },
	[IPC_OP_CLIENTS] = { .fn = cmd_clients },
	[IPC_OP_UNLINK]  = { .fn = cmd_unlink, .owner = true },
	[IPC_OP_CLOSE]   = { .fn = cmd_close, .any_handle = true },
	[IPC_OP_SETNAME] = { .fn = cmd_setname },
	[IPC_OP_CHMOD]   = { .fn = cmd_chmod, .owner = true },
	[IPC_OP_CHOWN]   = { .fn = cmd_chown, .owner = true },
	[IPC_OP_Q_OPEN]  = { .fn = queue_cmd_open, .opens = IPC_KIND_QUEUE },
	[IPC_OP_Q_PUT]   = { .fn = queue_cmd_put, .kind = IPC_KIND_QUEUE, .need = W },
	[IPC_OP_Q_GET]   = { .fn = queue_cmd_get, .kind = IPC_KIND_QUEUE, .need = R },
	[IPC_OP_Q_SIZE]  = { .fn = queue_cmd_size, .kind = IPC_KIND_QUEUE, .need = R },
	[IPC_OP_Q_PEEK]  = { .fn = queue_cmd_peek, .kind = IPC_KIND_QUEUE, .need = R },
	[IPC_OP_Q_STAT]  = { .fn = queue_cmd_stat, .kind = IPC_KIND_QUEUE },
	[IPC_OP_Q_PURGE] = { .fn = queue_cmd_purge, .kind = IPC_KIND_QUEUE, .need = W },
	[IPC_OP_Q_PUT_MANY] = { .fn = queue_cmd_put_many, .kind = IPC_KIND_QUEUE, .need = W },
	[IPC_OP_Q_GET_MANY] = { .fn = queue_cmd_get_many, .kind = IPC_KIND_QUEUE, .need = R },
	[IPC_OP_Q_PREFETCH] = { .fn = queue_cmd_prefetch, .kind = IPC_KIND_QUEUE, .need = R },
	[IPC_OP_Q_CREDIT]   = { .fn = queue_cmd_credit, .kind = IPC_KIND_QUEUE, .need = R },
	[IPC_OP_Q_TASK_DONE] = { .fn = queue_cmd_task_done, .kind = IPC_KIND_QUEUE, .need = R },
	[IPC_OP_Q_JOIN]     = { .fn = queue_cmd_join, .kind = IPC_KIND_QUEUE },
	[IPC_OP_P_OPEN]  = { .fn = pipe_cmd_open, .opens = IPC_KIND_PIPE },
	[IPC_OP_P_PAIR]  = { .fn = pipe_cmd_pair, .creates = true },
	[IPC_OP_P_SEND]  = { .fn = pipe_cmd_send, .kind = IPC_KIND_PIPE, .need = W },
	[IPC_OP_P_RECV]  = { .fn = pipe_cmd_recv, .kind = IPC_KIND_PIPE, .need = R },
	[IPC_OP_A_OPEN]  = { .fn = array_cmd_open, .opens = IPC_KIND_ARRAY },
	[IPC_OP_A_READ]  = { .fn = array_cmd_read, .kind = IPC_KIND_ARRAY, .need = R },
	[IPC_OP_A_WRITE] = { .fn = array_cmd_write, .kind = IPC_KIND_ARRAY, .need = W },
	[IPC_OP_A_ADD]   = { .fn = array_cmd_add, .kind = IPC_KIND_ARRAY, .need = W },
	[IPC_OP_A_LOCK]  = { .fn = array_cmd_lock, .kind = IPC_KIND_ARRAY },
	[IPC_OP_A_UNLOCK] = { .fn = array_cmd_unlock, .kind = IPC_KIND_ARRAY },
	[IPC_OP_A_STAT]  = { .fn = array_cmd_stat, .kind = IPC_KIND_ARRAY },
	/* Any handle: a removed pipe's end can still be closed; the handler checks the kind. */
	[IPC_OP_P_CLOSE] = { .fn = pipe_cmd_close, .any_handle = true },
};

#undef R
#undef W

static void reply_no_room(struct req *r)
{
	reply_error(r->conn, r->id, -ENOSPC, "ipcd holds its maximum of %zu objects",
		    r->srv->lim.max_objects);
}

static void reply_denied(struct req *r, const struct object *o)
{
	reply_error(r->conn, r->id, -EACCES, "permission denied: %s '%s' is mode %04o, uid %u gid %u",
		    o->kind->name, o->name, (unsigned)o->mode, (unsigned)o->uid, (unsigned)o->gid);
}

/*
 * An open (argv: name, flags, ...): find the object named (r->obj, NULL when
 * there is none; when it is of another kind the handler says so, and it
 * checks the name and the flags), and check that the caller may open it at
 * all, or that there is room for one more object.
 */
static int gate_open(const struct cmd *cmd, struct req *r)
{
	struct server *srv = r->srv;
	uint32_t len;
	const char *name = proto_bytes(&r->argv[0], &len);
	uint64_t flags = r->argv[1].via.u64;
	struct object *o = object_find(srv, name, len);

	r->obj = o;
	if (o && o->kind->kind != cmd->opens)
		return 0;
	if (!o && (flags & IPC_OPEN_CREATE) && srv->nobjects >= srv->lim.max_objects) {
		reply_no_room(r);
		return -ENOSPC;
	}
	/* An exclusive create of an existing object is -EEXIST, whoever asks. */
	if (o && !((flags & IPC_OPEN_CREATE) && (flags & IPC_OPEN_EXCLUSIVE)) &&
	    !object_rights(r->conn, o)) {
		reply_denied(r, o);
		return -EACCES;
	}
	return 0;
}

/* An op on an object by name that only its owner (or root) may do. */
static int gate_owner(struct req *r)
{
	uint32_t len;
	const char *name = proto_bytes(&r->argv[0], &len);

	r->obj = object_find(r->srv, name, len);
	if (r->obj && !object_owned_by(r->obj, r->conn)) {
		reply_error(r->conn, r->id, -EPERM, "%s '%s' belongs to uid %u: only it and root may "
			    "change or remove it", r->obj->kind->name, r->obj->name,
			    (unsigned)r->obj->uid);
		return -EPERM;
	}
	return 0;
}

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
		conn_close_flushed(c, "malformed frame");
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
	if (cmd->opens && gate_open(cmd, &r) < 0)
		return 0;
	if (cmd->creates && r.srv->nobjects >= r.srv->lim.max_objects) {
		reply_no_room(&r);
		return 0;
	}
	if (cmd->owner && gate_owner(&r) < 0)
		return 0;
	if (r.handle && (r.handle->rights & cmd->need) != cmd->need) {
		reply_error(c, r.id, -EACCES, "handle %u of %s '%s' was opened without %s permission",
			    r.handle->num, r.obj->kind->name, r.obj->name,
			    cmd->need & ~r.handle->rights & IPC_PERM_READ ? "read" : "write");
		return 0;
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
