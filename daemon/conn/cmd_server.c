/*
 * cmd_server.c - handlers of the session and server family: the handshake,
 * introspection (status, list, clients), the client's name, and the
 * kind-independent unlink and close.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "cluster.h"
#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "object.h"
#include "qlog.h"
#include "queue.h"
#include "reply.h"
#include "server.h"

/* Keep the first IPC_CLIENT_NAME_MAX bytes of the str o as c's name. */
static void set_name(struct conn *c, const msgpack_object *o)
{
	uint32_t nlen;
	const char *name = proto_bytes(o, &nlen);

	if (nlen > IPC_CLIENT_NAME_MAX)
		nlen = IPC_CLIENT_NAME_MAX;
	memcpy(c->name, name, nlen);
	c->name[nlen] = '\0';
}

void cmd_hello(struct req *r)
{
	struct conn *c = r->conn;
	uint64_t version = r->argv[0].via.u64;
	msgpack_packer *pk;

	if (version != IPC_PROTO_VERSION) {
		reply_error(c, r->id, -EPROTONOSUPPORT,
			    "client speaks protocol %llu, ipcd speaks %d",
			    (unsigned long long)version, IPC_PROTO_VERSION);
		return;
	}
	set_name(c, &r->argv[2]);
	/* SO_PEERCRED is authoritative; the stated pid only fills a gap. */
	if (c->pid <= 0)
		c->pid = (pid_t)r->argv[1].via.u64;
	c->greeted = true;
	pk = reply_begin(c, r->id, 0, 4);
	msgpack_pack_uint32(pk, IPC_PROTO_VERSION);
	proto_pack_cstr(pk, "ipcd " IPCD_VERSION);
	msgpack_pack_uint64(pk, c->id);
	msgpack_pack_uint64(pk, r->srv->lim.max_message);
	reply_end(c);
}

void cmd_ping(struct req *r)
{
	reply_ok(r->conn, r->id);
}

void cmd_status(struct req *r)
{
	struct server *srv = r->srv;
	msgpack_packer *pk = reply_begin(r->conn, r->id, 0, 1);

	msgpack_pack_map(pk, 24);
	proto_pack_kv_str(pk, "version", IPCD_VERSION);
	proto_pack_kv_u64(pk, "protocol", IPC_PROTO_VERSION);
	proto_pack_kv_u64(pk, "pid", (uint64_t)getpid());
	proto_pack_kv_u64(pk, "uptime", (uint64_t)(time(NULL) - srv->started));
	proto_pack_kv_u64(pk, "clients", srv->nconns);
	proto_pack_kv_u64(pk, "max_clients", srv->lim.max_clients);
	proto_pack_kv_u64(pk, "max_clients_per_user", srv->lim.max_clients_per_user);
	proto_pack_kv_u64(pk, "idle_timeout", srv->lim.idle_timeout);
	proto_pack_kv_u64(pk, "objects", srv->nobjects);
	proto_pack_kv_u64(pk, "max_objects", srv->lim.max_objects);
	proto_pack_kv_u64(pk, "memory", srv->mem_used);
	proto_pack_kv_u64(pk, "buffers", srv->buf_used);
	proto_pack_kv_u64(pk, "max_memory", srv->lim.max_memory);
	proto_pack_kv_u64(pk, "max_message", srv->lim.max_message);
	proto_pack_kv_u64(pk, "max_output", srv->lim.max_output);
	proto_pack_kv_str(pk, "state_dir", qlog_dir(srv) ? qlog_dir(srv) : "");
	proto_pack_kv_str(pk, "fsync", qlog_fsync_name(qlog_policy(srv)));
	proto_pack_kv_u64(pk, "shm", srv->shm_used);
	proto_pack_kv_u64(pk, "max_shm", srv->lim.max_shm);
	proto_pack_kv_u64(pk, "max_array_bytes", srv->lim.max_array_bytes);
	proto_pack_kv_str(pk, "metrics", metrics_address(srv->metrics) ? metrics_address(srv->metrics)
									 : "");
	proto_pack_kv_u64(pk, "metrics_pending", srv->metrics ? metrics_pending(srv->metrics) : 0);
	proto_pack_cstr(pk, "cluster");
	if (srv->cluster)
		cluster_pack_status(srv->cluster, pk);
	else
		msgpack_pack_nil(pk);
	proto_pack_kv_str(pk, "cluster_queues", srv->cluster_queues ? srv->cluster_queues : "");
	reply_end(r->conn);
}

void cmd_list(struct req *r)
{
	msgpack_packer *pk = reply_begin(r->conn, r->id, 0, 1);
	struct object *o;

	msgpack_pack_array(pk, (uint32_t)r->srv->nobjects);
	TAILQ_FOREACH(o, &r->srv->objects, link)
		object_pack_stat(o, pk);
	reply_end(r->conn);
}

/*
 * Pack key: an array of the descriptions of c's holds that describe
 * themselves and are (handles) or are not (handles false) open handles.
 */
static void pack_holds(msgpack_packer *pk, const char *key, const struct conn *c, bool handles)
{
	const struct hold *h;
	uint32_t n = 0;
	char buf[IPC_NAME_MAX + 64];

	TAILQ_FOREACH(h, &c->holds, link)
		n += h->ops->describe && conn_hold_is_handle(h) == handles;
	proto_pack_cstr(pk, key);
	msgpack_pack_array(pk, n);
	TAILQ_FOREACH(h, &c->holds, link) {
		if (!h->ops->describe || conn_hold_is_handle(h) != handles)
			continue;
		/* snprintf's result: cut to buf, NUL-terminated. */
		if (h->ops->describe(h, buf, sizeof buf) < 0)
			buf[0] = '\0';
		proto_pack_cstr(pk, buf);
	}
}

void cmd_clients(struct req *r)
{
	msgpack_packer *pk = reply_begin(r->conn, r->id, 0, 1);
	struct conn *c;

	int64_t now = conn_now_ms();

	msgpack_pack_array(pk, r->srv->nconns);
	TAILQ_FOREACH(c, &r->srv->conns, link) {
		msgpack_pack_map(pk, 14);
		proto_pack_kv_u64(pk, "id", c->id);
		proto_pack_kv_i64(pk, "pid", c->pid);
		proto_pack_kv_u64(pk, "uid", c->uid);
		proto_pack_kv_u64(pk, "gid", c->gid);
		proto_pack_kv_str(pk, "name", c->name);
		proto_pack_kv_u64(pk, "handles", c->nhandles);
		proto_pack_kv_u64(pk, "waiting", c->nwaiting);
		proto_pack_kv_u64(pk, "age_ms", (uint64_t)(now - c->since_ms));
		/* The asker itself is never idle: its request is being served. */
		proto_pack_kv_u64(pk, "idle_ms", c == r->conn ? 0 : (uint64_t)(now - c->active_ms));
		proto_pack_kv_u64(pk, "requests", c->requests);
		proto_pack_kv_u64(pk, "bytes_in", c->in_read);
		proto_pack_kv_u64(pk, "bytes_out", c->out_sent + evbuffer_get_length(c->out));
		pack_holds(pk, "open", c, true);
		pack_holds(pk, "held", c, false);
	}
	reply_end(r->conn);
}

void cmd_unlink(struct req *r)
{
	uint32_t len;
	const char *name = proto_bytes(&r->argv[0], &len);
	uint64_t kind = r->argv[1].via.u64;
	struct object *o = r->obj;

	if (o && kind && o->kind->kind != kind) {
		/* Say what it is: a leaked pipe is removed as a pipe. */
		reply_error(r->conn, r->id, -ENOENT, "no %s named '%.*s': '%s' is %s %s",
			    proto_kind_name((unsigned)kind), (int)len, name, o->name,
			    o->kind->kind == IPC_KIND_ARRAY ? "an" : "a", o->kind->name);
		return;
	}
	if (!o && (!kind || kind == IPC_KIND_QUEUE) && !r->srv->open_again) {
		/* A cluster queue this ipcd never opened: it is fetched, and this
		 * request dispatched again once it is here (or known not to be). */
		union {
			max_align_t align;
			unsigned char bytes[OBJECT_OPEN_ARGS_MAX];
		} none;
		char err[256];
		int rc;

		memset(&none, 0, sizeof none);
		rc = queue_kind.open.lookup(r, name, len, 0, &none, err, sizeof err);
		if (rc > 0)
			return;
		if (rc < 0) {
			reply_error(r->conn, r->id, rc, "%s", err);
			return;
		}
	}
	if (!o) {
		reply_error(r->conn, r->id, -ENOENT, "no %s named '%.*s'",
			    kind ? proto_kind_name((unsigned)kind) : "object", (int)len, name);
		return;
	}
	log_info("client %llu (pid %d) removed %s '%s'", (unsigned long long)r->conn->id,
		 (int)r->conn->pid, o->kind->name, o->name);
	object_unlink(o);
	reply_ok(r->conn, r->id);
}

/* -ENOENT for a chmod or chown of a name nothing has. */
static bool found(struct req *r)
{
	uint32_t len;
	const char *name = proto_bytes(&r->argv[0], &len);

	if (r->obj)
		return true;
	reply_error(r->conn, r->id, -ENOENT, "no object named '%.*s'", (int)len, name);
	return false;
}

void cmd_chmod(struct req *r)
{
	uint64_t mode = r->argv[1].via.u64;

	if (!found(r))
		return;
	if (mode > 0777) {
		reply_error(r->conn, r->id, -EINVAL, "mode %llo has bits beyond 0777",
			    (unsigned long long)mode);
		return;
	}
	log_info("client %llu (pid %d) set the mode of %s '%s' to %04o",
		 (unsigned long long)r->conn->id, (int)r->conn->pid, r->obj->kind->name,
		 r->obj->name, (unsigned)mode);
	object_set_owner(r->obj, r->obj->uid, r->obj->gid, (mode_t)mode);
	reply_ok(r->conn, r->id);
}

void cmd_chown(struct req *r)
{
	uint64_t uid = r->argv[1].via.u64, gid = r->argv[2].via.u64;
	struct object *o = r->obj;

	if (!found(r))
		return;
	if (uid > IPC_ID_KEEP || gid > IPC_ID_KEEP) {
		reply_error(r->conn, r->id, -EINVAL, "uid and gid are 32-bit ids");
		return;
	}
	if (uid == IPC_ID_KEEP)
		uid = o->uid;
	if (gid == IPC_ID_KEEP)
		gid = o->gid;
	log_info("client %llu (pid %d) gave %s '%s' to uid %llu gid %llu",
		 (unsigned long long)r->conn->id, (int)r->conn->pid, o->kind->name, o->name,
		 (unsigned long long)uid, (unsigned long long)gid);
	object_set_owner(o, (uid_t)uid, (gid_t)gid, o->mode);
	reply_ok(r->conn, r->id);
}

void cmd_close(struct req *r)
{
	conn_handle_remove(r->handle);
	reply_ok(r->conn, r->id);
}

void cmd_setname(struct req *r)
{
	set_name(r->conn, &r->argv[0]);
	reply_ok(r->conn, r->id);
}
