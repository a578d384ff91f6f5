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
 * an open of an existing object needs at least one right (object_rights),
 * and the handle records the rights it got; an op on a handle needs the
 * rights its entry names (read to take or look, write to add or change);
 * removing an object, or changing its mode or owner, is for its owner and
 * root.  The limit on objects is checked here too.
 *
 * Opens (argv: name, flags, ...) are the gate's alone (gate_open): flags,
 * name, kind, IPC_CREATE and IPC_EXCLUSIVE, rights, limits, the handle slot
 * taken before anything is made, the reply, and the undo of a creation whose
 * later step failed.  A kind supplies its arguments' parser and its create
 * step through its object_open hooks (object.h).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "array.h"
#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "monitor.h"
#include "object.h"
#include "pipe.h"
#include "queue.h"
#include "reply.h"
#include "server.h"

struct cmd {
	void (*fn)(struct req *r);
	enum ipc_kind kind;      /* argv[0] is a handle to an object of this kind */
	bool any_handle;         /* argv[0] is a handle to an object of any kind */
	bool before_hello;       /* allowed before the handshake */
	unsigned need;           /* rights the handle must have: IPC_PERM_READ, _WRITE */
	const struct object_kind *opens; /* an open (name, flags...) of this kind: gate_open */
	bool creates;            /* makes an object (there must be room for one) */
	bool owner;              /* argv[0] names an object the caller must own */
};

/*
 * One entry per operation, CMD_<symbol> for each IPC_OPS symbol: the table
 * below is built from IPC_OPS itself, so an operation added to the protocol
 * without an entry here does not compile.
 */
#define R IPC_PERM_READ
#define W IPC_PERM_WRITE

#define CMD_HELLO       { .fn = cmd_hello, .before_hello = true }
#define CMD_PING        { .fn = cmd_ping, .before_hello = true }
#define CMD_STATUS      { .fn = cmd_status }
#define CMD_LIST        { .fn = cmd_list }
#define CMD_CLIENTS     { .fn = cmd_clients }
#define CMD_UNLINK      { .fn = cmd_unlink, .owner = true }
#define CMD_CLOSE       { .fn = cmd_close, .any_handle = true }
#define CMD_SETNAME     { .fn = cmd_setname }
#define CMD_CHMOD       { .fn = cmd_chmod, .owner = true }
#define CMD_CHOWN       { .fn = cmd_chown, .owner = true }
/* Administration: the handlers check who may (cmd_admin.c, monitor.c). */
#define CMD_CLIENT_KILL { .fn = cmd_client_kill }
#define CMD_CONFIG      { .fn = cmd_config }
#define CMD_CONFIG_SET  { .fn = cmd_config_set }
#define CMD_MONITOR     { .fn = cmd_monitor }
#define CMD_Q_OPEN      { .opens = &queue_kind }
#define CMD_Q_PUT       { .fn = queue_cmd_put, .kind = IPC_KIND_QUEUE, .need = W }
#define CMD_Q_GET       { .fn = queue_cmd_get, .kind = IPC_KIND_QUEUE, .need = R }
#define CMD_Q_SIZE      { .fn = queue_cmd_size, .kind = IPC_KIND_QUEUE, .need = R }
#define CMD_Q_PEEK      { .fn = queue_cmd_peek, .kind = IPC_KIND_QUEUE, .need = R }
#define CMD_Q_STAT      { .fn = queue_cmd_stat, .kind = IPC_KIND_QUEUE }
#define CMD_Q_PURGE     { .fn = queue_cmd_purge, .kind = IPC_KIND_QUEUE, .need = W }
#define CMD_Q_PUT_MANY  { .fn = queue_cmd_put_many, .kind = IPC_KIND_QUEUE, .need = W }
#define CMD_Q_GET_MANY  { .fn = queue_cmd_get_many, .kind = IPC_KIND_QUEUE, .need = R }
#define CMD_Q_PREFETCH  { .fn = queue_cmd_prefetch, .kind = IPC_KIND_QUEUE, .need = R }
#define CMD_Q_CREDIT    { .fn = queue_cmd_credit, .kind = IPC_KIND_QUEUE, .need = R }
#define CMD_Q_TASK_DONE { .fn = queue_cmd_task_done, .kind = IPC_KIND_QUEUE, .need = R }
#define CMD_Q_JOIN      { .fn = queue_cmd_join, .kind = IPC_KIND_QUEUE }
#define CMD_Q_RING_KICK { .fn = queue_cmd_ring_kick, .kind = IPC_KIND_QUEUE }
#define CMD_A_OPEN      { .opens = &array_kind }
#define CMD_A_READ      { .fn = array_cmd_read, .kind = IPC_KIND_ARRAY, .need = R }
#define CMD_A_WRITE     { .fn = array_cmd_write, .kind = IPC_KIND_ARRAY, .need = W }
#define CMD_A_ADD       { .fn = array_cmd_add, .kind = IPC_KIND_ARRAY, .need = W }
#define CMD_A_LOCK      { .fn = array_cmd_lock, .kind = IPC_KIND_ARRAY }
#define CMD_A_UNLOCK    { .fn = array_cmd_unlock, .kind = IPC_KIND_ARRAY }
#define CMD_A_STAT      { .fn = array_cmd_stat, .kind = IPC_KIND_ARRAY }
#define CMD_P_OPEN      { .opens = &pipe_kind }
#define CMD_P_PAIR      { .fn = pipe_cmd_pair, .creates = true }
#define CMD_P_SEND      { .fn = pipe_cmd_send, .kind = IPC_KIND_PIPE, .need = W }
#define CMD_P_RECV      { .fn = pipe_cmd_recv, .kind = IPC_KIND_PIPE, .need = R }
/* Any handle: a removed pipe's end can still be closed; the handler checks the kind. */
#define CMD_P_CLOSE     { .fn = pipe_cmd_close, .any_handle = true }

static const struct cmd cmd_table[IPC_OP_MAX + 1] = {
#define CMD_ENTRY(sym, code, name, args) [IPC_OP_##sym] = CMD_##sym,
	IPC_OPS(CMD_ENTRY)
#undef CMD_ENTRY
};

#undef R
#undef W

static void reply_no_room(struct req *r)
{
	reply_error(r->conn, r->id, -ENOSPC, "ipcd holds its maximum of %zu object%s",
		    r->srv->lim.max_objects, r->srv->lim.max_objects == 1 ? "" : "s");
}

static const char *article(const char *noun)
{
	return strchr("aeiou", noun[0]) ? "an" : "a";
}

/*
 * Is name (len bytes) one an open may use?  Names of the daemon's own
 * (IPC_NAME_RESERVED first) may be found but never created: *reserved says
 * which it is.  0, or -EINVAL or -ENAMETOOLONG with the reason in err.
 */
static int open_name_check(const char *name, uint32_t len, bool *reserved, char *err,
			   size_t errlen)
{
	int rc;

	*reserved = len > 1 && name[0] == IPC_NAME_RESERVED;
	rc = len > IPC_NAME_MAX ? -ENAMETOOLONG : *reserved ? 0 : object_name_check(name, len);
	if (rc == -ENAMETOOLONG)
		snprintf(err, errlen, "names are at most %d bytes", IPC_NAME_MAX);
	else if (rc < 0)
		snprintf(err, errlen, "names are up to %d printable bytes, without spaces, not "
			 "starting with '%c'", IPC_NAME_MAX, IPC_NAME_RESERVED);
	return rc;
}

/*
 * Check an open of object o (NULL: the name is free) against its flags and
 * the caller's rights, before anything is reserved or made.  0, or an error
 * with its message in err.
 */
static int open_check(const struct object_kind *k, struct req *r, struct object *o,
		      const char *name, uint32_t len, bool reserved, uint64_t flags,
		      const void *args, char *err, size_t errlen)
{
	struct server *srv = r->srv;

	if (o && o->kind != k) {
		snprintf(err, errlen, "'%s' is %s %s, not %s %s", o->name, article(o->kind->name),
			 o->kind->name, article(k->name), k->name);
		return -EINVAL;
	}
	if (o && (flags & IPC_OPEN_CREATE) && (flags & IPC_OPEN_EXCLUSIVE)) {
		/* Whoever asks: existence is no secret (list shows every name). */
		snprintf(err, errlen, "%s '%s' exists", k->name, o->name);
		return -EEXIST;
	}
	if (o && !object_rights(r->conn, o)) {
		snprintf(err, errlen, "permission denied: %s '%s' is mode %04o, uid %u gid %u",
			 k->name, o->name, (unsigned)o->mode, (unsigned)o->uid, (unsigned)o->gid);
		return -EACCES;
	}
	if (o)
		return k->open.match ? k->open.match(o, args, err, errlen) : 0;
	if (!(flags & IPC_OPEN_CREATE)) {
		snprintf(err, errlen, "no %s named '%.*s'", k->name, (int)len, name);
		return -ENOENT;
	}
	if (reserved) {
		snprintf(err, errlen, "names starting with '%c' are ipcd's own",
			 IPC_NAME_RESERVED);
		return -EINVAL;
	}
	if (srv->nobjects >= srv->lim.max_objects) {
		snprintf(err, errlen, "ipcd holds its maximum of %zu object%s", srv->lim.max_objects,
			 srv->lim.max_objects == 1 ? "" : "s");
		return -ENOSPC;
	}
	return 0;
}

/*
 * An open of kind k (argv: name, flags, the kind's arguments): checked,
 * then a handle slot reserved, the object made if need be, the kind's
 * finishing steps run, and the reply [handle, created, the kind's results].
 * Whatever fails after the object was made removes it again: a failed open
 * leaves nothing behind.
 */
static void gate_open(const struct object_kind *k, struct req *r)
{
	struct conn *c = r->conn;
	uint32_t len;
	const char *name = proto_bytes(&r->argv[0], &len);
	uint64_t flags = r->argv[1].via.u64;
	union {
		max_align_t align;
		unsigned char bytes[OBJECT_OPEN_ARGS_MAX];
	} args;
	struct object *o = NULL, *made = NULL;
	struct handle *h = NULL;
	msgpack_packer *pk;
	char err[PATH_MAX + 128];
	bool reserved;
	int rc;

	memset(&args, 0, sizeof args);
	if (flags & ~(uint64_t)k->open.flags) {
		snprintf(err, sizeof err, "unknown %s.open flags 0x%llx", k->name,
			 (unsigned long long)(flags & ~(uint64_t)k->open.flags));
		rc = -EINVAL;
		goto fail;
	}
	rc = open_name_check(name, len, &reserved, err, sizeof err);
	if (rc == 0)
		rc = k->open.parse(r, &args, err, sizeof err);
	if (rc == 0) {
		o = object_find(r->srv, name, len);
		/* Made elsewhere for this very request (lookup): created by it. */
		if (o && o == r->srv->open_made)
			made = o;
		else if (!o && !reserved && k->open.lookup && !r->srv->open_again)
			rc = k->open.lookup(r, name, len, flags, &args, err, sizeof err);
		if (rc > 0)
			return;
		if (rc == 0 && !made)
			rc = open_check(k, r, o, name, len, reserved, flags, &args, err, sizeof err);
	}
	if (rc < 0)
		goto fail;
	rc = conn_handle_reserve(c, &h);
	if (rc == -EMFILE)
		snprintf(err, sizeof err, "a connection may have %u handles open", CONN_MAX_HANDLES);
	else if (rc < 0)
		snprintf(err, sizeof err, "out of memory");
	if (rc < 0) {
		if (made)
			object_unlink(made);
		goto fail;
	}
	if (!made && !o) {
		rc = k->open.create(r, name, len, &args, &made, err, sizeof err);
		if (rc < 0) {
			conn_handle_unreserve(h);
			goto fail;
		}
		o = made;
	}
	/* Like open(2) with O_CREAT: the creator's handle has every right, whatever the mode. */
	conn_handle_bind(h, o, made ? IPC_PERM_READ | IPC_PERM_WRITE : object_rights(c, o));
	rc = k->open.finish ? k->open.finish(r, h, made != NULL, &args, err, sizeof err) : 0;
	/* An object made to go with its creator is tied to this connection last. */
	if (rc == 0 && made && (flags & IPC_OPEN_AUTOREMOVE)) {
		rc = object_autoremove(c, made);
		if (rc < 0)
			snprintf(err, sizeof err, "out of memory");
	}
	if (rc < 0) {
		conn_handle_remove(h);
		if (made && made->linked) {
			log_info("client %llu (pid %d): %s '%s' removed again, its open failed: %s",
				 (unsigned long long)c->id, (int)c->pid, k->name, made->name, err);
			object_unlink(made);
		}
		goto fail;
	}
	pk = reply_begin(c, r->id, 0, 2 + k->open.nresults);
	msgpack_pack_uint32(pk, h->num);
	if (made)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	if (k->open.pack)
		k->open.pack(h, pk);
	reply_end(c);
	return;
fail:
	reply_error(c, r->id, rc, "%s", err);
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
	if (!TAILQ_EMPTY(&c->srv->monitors))
		monitor_feed(c, &pr);
	cmd = &cmd_table[pr.op];
	if (!cmd->fn && !cmd->opens) {
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
	r.body = body;
	r.len = len;
	if (cmd->kind || cmd->any_handle) {
		r.handle = conn_handle_find(c, r.argv[0].via.u64);
		if (!r.handle) {
			reply_error(c, r.id, -EBADF, "no open handle %llu",
				    (unsigned long long)r.argv[0].via.u64);
			return 0;
		}
		r.obj = r.handle->obj;
		if (cmd->kind && r.obj->kind->kind != cmd->kind) {
			reply_error(c, r.id, -EBADF, "'%s' is %s %s, not %s %s", r.obj->name,
				    article(r.obj->kind->name), r.obj->kind->name,
				    article(proto_kind_name(cmd->kind)), proto_kind_name(cmd->kind));
			return 0;
		}
		if (cmd->kind && !r.obj->linked) {
			reply_error(c, r.id, -EIDRM, "%s '%s' was removed", r.obj->kind->name,
				    r.obj->name);
			return 0;
		}
	}
	if (cmd->opens) {
		gate_open(cmd->opens, &r);
		return 0;
	}
	if (cmd->creates && r.srv->nobjects >= r.srv->lim.max_objects) {
		reply_no_room(&r);
		return 0;
	}
	if (cmd->owner && gate_owner(&r) < 0)
		return 0;
	if (r.handle && (r.handle->rights & cmd->need) != cmd->need) {
		reply_error(c, r.id, -EACCES, "%s '%s' was opened without %s permission (mode "
			    "%04o when opened)", r.obj->kind->name, r.obj->name,
			    cmd->need & ~r.handle->rights & IPC_PERM_READ ? "read" : "write",
			    (unsigned)r.obj->mode);
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
