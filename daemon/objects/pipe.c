/*
 * pipe.c - pipes: the object kind and its handlers.
 *
 * A pipe owns two ends; each end owns the messages sent to it (its inbox, a
 * bounded msgstore), its parked recvs and the parked sends made from it.
 * An end belongs to the first connection that sends or receives on it: the
 * claim is a hold on that connection, so when the connection goes the end
 * closes and the peer reads what is left, then -EPIPE.  Anonymous pipes
 * (pipe.pair) get a name in the reserved '@' space so that a forked child can
 * open them again, and are removed once both ends are closed or nothing
 * references them any more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "pipe.h"
#include "reply.h"
#include "server.h"

#define PIPE_DEFAULT_MODE 0600

/* A connection's claim on one end of a pipe; holds a reference to the pipe. */
struct pipe_hold {
	struct hold hold;          /* on conn->holds */
	struct conn *conn;
	struct pipe *pipe;
	int end;
};

static void pipe_hold_release(struct hold *h);
static int pipe_hold_describe(const struct hold *h, char *buf, size_t len);

static const struct hold_ops pipe_hold_ops = {
	"pipe end", pipe_hold_release, pipe_hold_describe
};

/*
 * A connection's handle closed "until claimed" while its end was free: a
 * parent that made a pair and forked gives up its handle on the child's
 * end, and this keeps the pipe for the child until it claims that end.  On
 * the connection's hold list and on the end's keeps; holds a reference to
 * the pipe.  Dropped when the end is claimed or closes, when the pipe is
 * removed, or with the connection.
 */
struct pipe_keep {
	struct hold hold;
	struct conn *conn;
	struct pipe *pipe;
	int end;
	TAILQ_ENTRY(pipe_keep) link;
};

static void pipe_keep_release(struct hold *h);
static int pipe_keep_describe(const struct hold *h, char *buf, size_t len);

static const struct hold_ops pipe_keep_ops = {
	"pipe end kept for its claimer", pipe_keep_release, pipe_keep_describe
};

/* Serial of anonymous pipe names, unique for the daemon's lifetime. */
static uint64_t pipe_serial;

static struct pipe *pipe_of(struct object *o)
{
	return container_of(o, struct pipe, obj);
}

/* Room in end's inbox for len bytes?  An empty inbox takes any one message. */
static bool pipe_has_room(const struct pipe *p, const struct pipe_end *e, size_t len)
{
	return e->inbox.count == 0 || e->inbox.bytes + len <= p->maxbytes;
}

/* Answer recv request id of c with the oldest message at end e and drop it. */
static void pipe_hand_over(struct pipe *p, int e, struct conn *c, uint32_t id)
{
	struct pipe_end *in = &p->end[e];
	const void *data;
	size_t len;

	msgstore_peek(&in->inbox, &data, &len);
	reply_data(c, id, data, len);
	p->obj.srv->mem_used -= len;
	msgstore_pop(&in->inbox);
	in->received++;
}

/* Put a message sent from end 'from' into the other end's inbox.  0 or -ENOMEM. */
static int pipe_store(struct pipe *p, int from, const void *data, size_t len)
{
	struct pipe_end *in = &p->end[1 - from];
	int rc = msgstore_put(&in->inbox, data, len);

	if (rc == 0) {
		p->obj.srv->mem_used += len;
		p->end[from].sent++;
	}
	return rc;
}

/* Serve parked recvs at end 'to' and parked sends towards it while any can be. */
static void pipe_settle(struct pipe *p, int to)
{
	struct pipe_end *in = &p->end[to], *out = &p->end[1 - to];
	bool progress = true;

	while (progress) {
		struct waiter *w;

		progress = false;
		while ((w = TAILQ_FIRST(&in->readers)) && in->inbox.count) {
			if (!conn_gone(w->conn))
				pipe_hand_over(p, to, w->conn, w->id);
			waiter_finish(w);
			progress = true;
		}
		while ((w = TAILQ_FIRST(&out->senders)) && pipe_has_room(p, in, w->len)) {
			/* waiter_finish un-counts the parked copy; the stored one counts. */
			if (pipe_store(p, 1 - to, w->data, w->len) < 0)
				break;
			reply_ok(w->conn, w->id);
			waiter_finish(w);
			progress = true;
		}
	}
}

static void pipe_settle_cb(void *p, uint32_t to)
{
	pipe_settle(p, (int)to);
}

/* Drop k (off its connection's hold list already) and its reference. */
static void pipe_keep_release(struct hold *h)
{
	struct pipe_keep *k = container_of(h, struct pipe_keep, hold);
	struct pipe *p = k->pipe;

	TAILQ_REMOVE(&p->end[k->end].keeps, k, link);
	k->conn->nkeeps--;
	free(k);
	object_unref(&p->obj);
}

static int pipe_keep_describe(const struct hold *h, char *buf, size_t len)
{
	const struct pipe_keep *k = container_of(h, const struct pipe_keep, hold);

	return snprintf(buf, len, "pipe %s end %d (kept until claimed)", k->pipe->obj.name,
			k->end);
}

/* End e was claimed or closed, or the pipe removed: nothing need keep it any more. */
static void pipe_keeps_drop(struct pipe *p, int e)
{
	struct pipe_keep *k;

	while ((k = TAILQ_FIRST(&p->end[e].keeps))) {
		TAILQ_REMOVE(&k->conn->holds, &k->hold, link);
		pipe_keep_release(&k->hold);
	}
}

/* Drop what end e's inbox holds. */
static void pipe_end_clear(struct pipe *p, int e)
{
	p->obj.srv->mem_used -= p->end[e].inbox.bytes;
	msgstore_clear(&p->end[e].inbox);
}

/*
 * End e closes (its holder closed it or went).  What was sent to it can no
 * longer be received; what it sent stays for the peer to read, after which
 * the peer's recvs get -EPIPE, as do its sends at once.
 */
static void pipe_end_close(struct pipe *p, int e)
{
	struct pipe_end *end = &p->end[e], *peer = &p->end[1 - e];

	end->closed = true;
	end->holder = NULL;
	pipe_keeps_drop(p, e);
	waiter_fail_all(&end->readers, -EPIPE, "the pipe end was closed");
	waiter_fail_all(&end->senders, -EPIPE, "the pipe end was closed");
	pipe_end_clear(p, e);
	waiter_fail_all(&peer->senders, -EPIPE, "the other end of the pipe is closed");
	if (!peer->inbox.count)
		waiter_fail_all(&peer->readers, -EPIPE, "the other end of the pipe is closed");
	if (p->anonymous && peer->closed && p->obj.linked) {
		log_debug("pipe '%s': both ends closed", p->obj.name);
		object_unlink(&p->obj);
	}
}

/* The connection gave up end ph->end (close, or the connection went). */
static void pipe_hold_release(struct hold *h)
{
	struct pipe_hold *ph = container_of(h, struct pipe_hold, hold);
	struct pipe *p = ph->pipe;

	log_debug("client %llu (pid %d) closed end %d of pipe '%s'",
		  (unsigned long long)ph->conn->id, (int)ph->conn->pid, ph->end, p->obj.name);
	pipe_end_close(p, ph->end);
	free(ph);
	object_unref(&p->obj);
}

static int pipe_hold_describe(const struct hold *h, char *buf, size_t len)
{
	const struct pipe_hold *ph = container_of(h, const struct pipe_hold, hold);

	return snprintf(buf, len, "pipe %s end %d", ph->pipe->obj.name, ph->end);
}

static void pipe_unlinked(struct object *o)
{
	struct pipe *p = pipe_of(o);

	for (int e = 0; e < 2; e++) {
		waiter_fail_all(&p->end[e].readers, -EIDRM, "the pipe was removed");
		waiter_fail_all(&p->end[e].senders, -EIDRM, "the pipe was removed");
		pipe_end_clear(p, e);
		pipe_keeps_drop(p, e);
	}
}

static void pipe_destroy(struct object *o)
{
	struct pipe *p = pipe_of(o);

	pipe_end_clear(p, 0);
	pipe_end_clear(p, 1);
	free(p);
}

/* An anonymous pipe nothing references but its name can never be used again. */
static void pipe_unreferenced(struct object *o)
{
	if (pipe_of(o)->anonymous && o->linked && o->refs == 1) {
		log_debug("pipe '%s': no longer referenced", o->name);
		object_unlink(o);
	}
}

static unsigned pipe_nstat(const struct object *o)
{
	return 7;
}

static void pack_kv_bool(msgpack_packer *pk, const char *key, bool v)
{
	proto_pack_cstr(pk, key);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void pipe_end_stat(const struct pipe_end *e, msgpack_packer *pk)
{
	const char *state = e->closed ? "closed" : e->holder ? "held" : "free";

	msgpack_pack_map(pk, e->holder ? 9 : 7);
	proto_pack_kv_str(pk, "state", state);
	if (e->holder) {
		proto_pack_kv_i64(pk, "pid", e->holder->conn->pid);
		proto_pack_kv_u64(pk, "client", e->holder->conn->id);
	}
	proto_pack_kv_u64(pk, "depth", e->inbox.count);
	proto_pack_kv_u64(pk, "bytes", e->inbox.bytes);
	proto_pack_kv_u64(pk, "readers", waiter_count(&e->readers));
	proto_pack_kv_u64(pk, "senders", waiter_count(&e->senders));
	proto_pack_kv_u64(pk, "sent", e->sent);
	proto_pack_kv_u64(pk, "received", e->received);
}

static void pipe_stat(const struct object *o, msgpack_packer *pk)
{
	const struct pipe *p = container_of(o, const struct pipe, obj);

	pack_kv_bool(pk, "oneway", p->oneway);
	pack_kv_bool(pk, "anonymous", p->anonymous);
	proto_pack_kv_u64(pk, "maxbytes", p->maxbytes);
	proto_pack_kv_u64(pk, "depth", p->end[0].inbox.count + p->end[1].inbox.count);
	proto_pack_kv_u64(pk, "bytes", p->end[0].inbox.bytes + p->end[1].inbox.bytes);
	proto_pack_cstr(pk, "end0");
	pipe_end_stat(&p->end[0], pk);
	proto_pack_cstr(pk, "end1");
	pipe_end_stat(&p->end[1], pk);
}

/* Make and link a pipe called name for c.  0 with *out, or -ENOMEM (nothing made). */
static int pipe_create(struct server *srv, struct conn *c, const char *name, size_t len,
		       bool oneway, bool anonymous, struct pipe **out)
{
	struct pipe *p = calloc(1, sizeof *p);

	if (!p)
		return -ENOMEM;
	p->oneway = oneway;
	p->anonymous = anonymous;
	p->maxbytes = srv->lim.pipe_maxbytes;
	for (int e = 0; e < 2; e++) {
		msgstore_init(&p->end[e].inbox);
		TAILQ_INIT(&p->end[e].readers);
		TAILQ_INIT(&p->end[e].senders);
		TAILQ_INIT(&p->end[e].keeps);
	}
	if (object_link(srv, &p->obj, &pipe_kind, name, len, c->uid, c->gid,
			PIPE_DEFAULT_MODE) < 0) {
		free(p);
		return -ENOMEM;
	}
	log_info("client %llu (pid %d) created %s%s pipe '%s'", (unsigned long long)c->id,
		 (int)c->pid, anonymous ? "anonymous " : "", oneway ? "one-way" : "duplex",
		 p->obj.name);
	*out = p;
	return 0;
}

/* ---- open: the kind's part (the gate in cmd.c does the rest) ---- */

/* The end argument (argv[2]): 0 or 1, though opening claims neither. */
static int pipe_open_parse(const struct req *r, void *args, char *err, size_t errlen)
{
	if (r->argv[2].via.u64 > 1) {
		snprintf(err, errlen, "a pipe's ends are 0 and 1");
		return -EINVAL;
	}
	return 0;
}

static int pipe_open_create(struct req *r, const char *name, size_t len, const void *args,
			    struct object **out, char *err, size_t errlen)
{
	struct pipe *p;
	int rc = pipe_create(r->srv, r->conn, name, len, r->argv[1].via.u64 & IPC_OPEN_ONEWAY,
			     false, &p);

	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	*out = &p->obj;
	return 0;
}

const struct object_kind pipe_kind = {
	.kind = IPC_KIND_PIPE,
	.name = "pipe",
	.open = {
		.flags = IPC_OPEN_CREATE | IPC_OPEN_EXCLUSIVE | IPC_OPEN_ONEWAY | IPC_OPEN_AUTOREMOVE,
		.parse = pipe_open_parse,
		.create = pipe_open_create,
	},
	.unlinked = pipe_unlinked,
	.destroy = pipe_destroy,
	.unreferenced = pipe_unreferenced,
	.nstat = pipe_nstat,
	.stat = pipe_stat,
};

void pipe_cmd_pair(struct req *r)
{
	uint64_t flags = r->argv[0].via.u64;
	struct handle *h0, *h1;
	msgpack_packer *pk;
	struct pipe *p;
	char name[32];
	int n, rc;

	if (flags & ~(uint64_t)IPC_OPEN_ONEWAY) {
		reply_error(r->conn, r->id, -EINVAL, "pipe.pair takes only the one-way flag");
		return;
	}
	/* Both handle slots first: a pipe is made only when it can be handed out. */
	rc = conn_handle_reserve(r->conn, &h0);
	if (rc < 0)
		goto fail;
	rc = conn_handle_reserve(r->conn, &h1);
	if (rc < 0)
		goto fail_h0;
	do
		n = snprintf(name, sizeof name, "%cpipe.%llu", IPC_NAME_RESERVED,
			     (unsigned long long)++pipe_serial);
	while (object_find(r->srv, name, (size_t)n));
	rc = pipe_create(r->srv, r->conn, name, (size_t)n, flags & IPC_OPEN_ONEWAY, true, &p);
	if (rc < 0)
		goto fail_h1;
	conn_handle_bind(h0, &p->obj, IPC_PERM_READ | IPC_PERM_WRITE);
	conn_handle_bind(h1, &p->obj, IPC_PERM_READ | IPC_PERM_WRITE);
	pk = reply_begin(r->conn, r->id, 0, 3);
	proto_pack_cstr(pk, name);
	msgpack_pack_uint32(pk, h0->num);
	msgpack_pack_uint32(pk, h1->num);
	reply_end(r->conn);
	return;
fail_h1:
	conn_handle_unreserve(h1);
fail_h0:
	conn_handle_unreserve(h0);
fail:
	if (rc == -EMFILE)
		reply_error(r->conn, r->id, rc, "a connection may have %u handles open",
			    CONN_MAX_HANDLES);
	else
		reply_error(r->conn, r->id, rc, "out of memory");
}

/*
 * The end argument of r (argv[1]) checked for a send (sending) or a recv,
 * and claimed for r's connection.  Returns the end, or -1 after replying.
 */
static int pipe_claim(struct req *r, struct pipe *p, bool sending)
{
	uint64_t e = r->argv[1].via.u64;
	struct pipe_end *end;
	struct pipe_hold *ph;

	if (e > 1) {
		reply_error(r->conn, r->id, -EINVAL, "a pipe's ends are 0 and 1");
		return -1;
	}
	if (p->oneway && (sending ? e == 0 : e == 1)) {
		reply_error(r->conn, r->id, -EBADF, "end %d of one-way pipe '%s' only %s", (int)e,
			    p->obj.name, e == 0 ? "receives" : "sends");
		return -1;
	}
	end = &p->end[e];
	if (end->closed) {
		reply_error(r->conn, r->id, -EPIPE, "end %d of pipe '%s' is closed", (int)e,
			    p->obj.name);
		return -1;
	}
	if (end->holder) {
		if (end->holder->conn == r->conn)
			return (int)e;
		reply_error(r->conn, r->id, -EBUSY, "end %d of pipe '%s' belongs to pid %d",
			    (int)e, p->obj.name, (int)end->holder->conn->pid);
		return -1;
	}
	ph = calloc(1, sizeof *ph);
	if (!ph) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return -1;
	}
	ph->hold.ops = &pipe_hold_ops;
	ph->conn = r->conn;
	ph->pipe = p;
	ph->end = (int)e;
	object_ref(&p->obj);
	TAILQ_INSERT_TAIL(&r->conn->holds, &ph->hold, link);
	end->holder = ph;
	log_debug("client %llu (pid %d) holds end %d of pipe '%s'",
		  (unsigned long long)r->conn->id, (int)r->conn->pid, (int)e, p->obj.name);
	/* Its claimer has it now (and r's handle a reference): the keeps can go. */
	pipe_keeps_drop(p, (int)e);
	return (int)e;
}

void pipe_cmd_send(struct req *r)
{
	struct pipe *p = pipe_of(r->obj);
	struct server *srv = r->srv;
	int64_t timeout = proto_i64(&r->argv[2]);
	uint32_t len;
	const char *data = proto_bytes(&r->argv[3], &len);
	struct pipe_end *in;
	int e = pipe_claim(r, p, true);

	if (e < 0)
		return;
	in = &p->end[1 - e];
	if (in->closed) {
		reply_error(r->conn, r->id, -EPIPE, "the other end of pipe '%s' is closed",
			    p->obj.name);
		return;
	}
	if (len > srv->lim.max_message) {
		reply_error(r->conn, r->id, -EMSGSIZE, "message of %u bytes exceeds the limit of %zu",
			    len, srv->lim.max_message);
		return;
	}
	if (srv->lim.max_memory && server_mem_total(srv) + len > srv->lim.max_memory) {
		reply_error(r->conn, r->id, -ENOBUFS, "ipcd's memory budget of %zu bytes is used up",
			    srv->lim.max_memory);
		return;
	}
	/* Parked sends go first: a new one may not overtake them. */
	if (TAILQ_EMPTY(&p->end[e].senders) && pipe_has_room(p, in, len)) {
		if (pipe_store(p, e, data, len) < 0) {
			reply_error(r->conn, r->id, -ENOMEM, "out of memory");
			return;
		}
		reply_ok(r->conn, r->id);
		pipe_settle(p, 1 - e);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "pipe '%s' is full", p->obj.name);
		return;
	}
	struct waiter *w = waiter_park(r->conn, r->id, r->op, &p->end[e].senders, timeout,
				       data, len, &srv->mem_used);

	if (!w) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	waiter_on_leave(w, pipe_settle_cb, p, (uint32_t)(1 - e));
}

void pipe_cmd_recv(struct req *r)
{
	struct pipe *p = pipe_of(r->obj);
	int64_t timeout = proto_i64(&r->argv[2]);
	struct pipe_end *in;
	int e = pipe_claim(r, p, false);

	if (e < 0)
		return;
	in = &p->end[e];
	if (in->inbox.count && TAILQ_EMPTY(&in->readers)) {
		pipe_hand_over(p, e, r->conn, r->id);
		pipe_settle(p, e);
		return;
	}
	if (p->end[1 - e].closed) {
		reply_error(r->conn, r->id, -EPIPE, "the other end of pipe '%s' is closed",
			    p->obj.name);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "pipe '%s' is empty", p->obj.name);
		return;
	}
	if (!waiter_park(r->conn, r->id, r->op, &in->readers, timeout, NULL, 0, NULL))
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
}

/*
 * Keep end e of anonymous pipe p for whoever claims it, on behalf of r's
 * connection, whose handle goes (once per connection and end; a named pipe
 * needs no keeping).  false (after replying) if the connection keeps
 * CONN_MAX_HANDLES ends already, or out of memory: its handle then stays.
 */
static bool pipe_keep_for_claimer(struct req *r, struct pipe *p, int e)
{
	struct pipe_keep *k;

	if (!p->anonymous)
		return true;
	TAILQ_FOREACH(k, &p->end[e].keeps, link)
		if (k->conn == r->conn)
			return true;
	if (r->conn->nkeeps >= CONN_MAX_HANDLES) {
		reply_error(r->conn, r->id, -EMFILE, "a connection may keep %u pipe ends",
			    CONN_MAX_HANDLES);
		return false;
	}
	k = calloc(1, sizeof *k);
	if (!k) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return false;
	}
	k->hold.ops = &pipe_keep_ops;
	k->conn = r->conn;
	k->pipe = p;
	k->end = e;
	object_ref(&p->obj);
	TAILQ_INSERT_TAIL(&r->conn->holds, &k->hold, link);
	TAILQ_INSERT_TAIL(&p->end[e].keeps, k, link);
	r->conn->nkeeps++;
	return true;
}

void pipe_cmd_close(struct req *r)
{
	uint64_t e = r->argv[1].via.u64;
	bool until_claimed = r->argc > 2 && r->argv[2].via.u64 != 0;
	struct pipe *p;
	struct pipe_hold *ph;

	if (r->obj->kind != &pipe_kind) {
		reply_error(r->conn, r->id, -EBADF, "'%s' is %s %s, not a pipe", r->obj->name,
			    r->obj->kind->kind == IPC_KIND_ARRAY ? "an" : "a", r->obj->kind->name);
		return;
	}
	if (e > 1) {
		reply_error(r->conn, r->id, -EINVAL, "a pipe's ends are 0 and 1");
		return;
	}
	p = pipe_of(r->obj);
	ph = p->end[e].holder;
	if (ph && ph->conn == r->conn) {
		TAILQ_REMOVE(&r->conn->holds, &ph->hold, link);
		pipe_hold_release(&ph->hold);
	} else if (until_claimed && !ph && !p->end[e].closed && r->obj->linked &&
		   !pipe_keep_for_claimer(r, p, (int)e)) {
		return;
	}
	conn_handle_remove(r->handle);
	reply_ok(r->conn, r->id);
}
