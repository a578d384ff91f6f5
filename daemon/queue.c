/*
 * queue.c - named FIFO queues: the object kind and its handlers.
 *
 * A queue owns its stored messages (a msgstore) and two FIFO wait lists:
 * parked gets, and parked puts holding their messages.  After anything that
 * changes it, queue_settle() serves waiters until no more can be served, so
 * no request stays parked while it could be answered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "queue.h"
#include "reply.h"
#include "server.h"

static struct queue *queue_of(struct object *o)
{
	return container_of(o, struct queue, obj);
}

/* A request's timeout as waiter_park takes it: < 0 waits without limit. */
static int wait_ms(int64_t timeout)
{
	if (timeout < 0)
		return -1;
	return timeout > INT32_MAX ? INT32_MAX : (int)timeout;
}

static bool queue_has_room(const struct queue *q, size_t len)
{
	if (q->maxsize && q->store.count >= q->maxsize)
		return false;
	if (q->maxbytes && q->store.bytes + len > q->maxbytes)
		return false;
	return true;
}

/* Store a message; -ENOMEM.  The caller checked room and the memory budget. */
static int queue_store(struct queue *q, const void *data, size_t len)
{
	int rc = msgstore_put(&q->store, data, len);

	if (rc == 0) {
		q->obj.srv->mem_used += len;
		q->puts++;
	}
	return rc;
}

/* Answer get request id of c with the oldest message and drop it. */
static void queue_hand_over(struct queue *q, struct conn *c, uint32_t id)
{
	const void *data;
	size_t len;

	msgstore_peek(&q->store, &data, &len);
	reply_data(c, id, data, len);
	q->obj.srv->mem_used -= len;
	msgstore_pop(&q->store);
	q->gets++;
}

/* Serve parked gets and puts while any can be served. */
static void queue_settle(struct queue *q)
{
	bool progress = true;

	while (progress) {
		struct waiter *w;

		progress = false;
		while ((w = TAILQ_FIRST(&q->getters)) && q->store.count) {
			queue_hand_over(q, w->conn, w->id);
			waiter_finish(w);
			progress = true;
		}
		while ((w = TAILQ_FIRST(&q->putters)) && queue_has_room(q, w->len)) {
			/* Its bytes are already counted in mem_used while parked. */
			q->obj.srv->mem_used -= w->len;
			if (queue_store(q, w->data, w->len) < 0) {
				q->obj.srv->mem_used += w->len;
				break;
			}
			reply_ok(w->conn, w->id);
			waiter_finish(w);
			progress = true;
		}
	}
}

static void queue_unlinked(struct object *o)
{
	struct queue *q = queue_of(o);

	waiter_fail_all(&q->getters, -EIDRM, "the queue was removed");
	waiter_fail_all(&q->putters, -EIDRM, "the queue was removed");
	o->srv->mem_used -= q->store.bytes;
	msgstore_clear(&q->store);
}

static void queue_destroy(struct object *o)
{
	struct queue *q = queue_of(o);

	o->srv->mem_used -= q->store.bytes;
	msgstore_clear(&q->store);
	free(q);
}

static unsigned queue_nstat(const struct object *o)
{
	return 8;
}

static unsigned waitq_length(const struct waitq *wq)
{
	const struct waiter *w;
	unsigned n = 0;

	TAILQ_FOREACH(w, wq, link)
		n++;
	return n;
}

static void queue_stat(const struct object *o, msgpack_packer *pk)
{
	const struct queue *q = container_of(o, const struct queue, obj);

	proto_pack_kv_u64(pk, "depth", q->store.count);
	proto_pack_kv_u64(pk, "bytes", q->store.bytes);
	proto_pack_kv_u64(pk, "maxsize", q->maxsize);
	proto_pack_kv_u64(pk, "maxbytes", q->maxbytes);
	proto_pack_kv_u64(pk, "getters", waitq_length(&q->getters));
	proto_pack_kv_u64(pk, "putters", waitq_length(&q->putters));
	proto_pack_kv_u64(pk, "puts", q->puts);
	proto_pack_kv_u64(pk, "gets", q->gets);
}

const struct object_kind queue_kind = {
	.kind = IPC_KIND_QUEUE,
	.name = "queue",
	.unlinked = queue_unlinked,
	.destroy = queue_destroy,
	.nstat = queue_nstat,
	.stat = queue_stat,
};

/* Read the attribute map of an open; -EINVAL with a message on a bad one. */
static int parse_attr(struct req *r, const msgpack_object *m, struct queue *q, mode_t *mode)
{
	static const char *const known[] = { IPC_ATTR_MAXSIZE, IPC_ATTR_MAXBYTES, IPC_ATTR_MODE,
					     "ack", "durable" };

	if (m->type == MSGPACK_OBJECT_NIL)
		return 0;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
		size_t j;

		for (j = 0; j < sizeof known / sizeof known[0]; j++)
			if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(known[j]) &&
			    memcmp(k->via.str.ptr, known[j], k->via.str.size) == 0)
				break;
		if (j == sizeof known / sizeof known[0] ||
		    v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
			reply_error(r->conn, r->id, -EINVAL,
				    "queue attributes are unsigned integers named maxsize, maxbytes, mode");
			return -EINVAL;
		}
		if (j == 0)
			q->maxsize = v->via.u64;
		else if (j == 1)
			q->maxbytes = v->via.u64;
		else if (j == 2 && v->via.u64 > 0777) {
			reply_error(r->conn, r->id, -EINVAL, "mode %llo has bits beyond 0777",
				    (unsigned long long)v->via.u64);
			return -EINVAL;
		} else if (j == 2) {
			*mode = (mode_t)v->via.u64;
		} else if (v->via.u64) {
			reply_error(r->conn, r->id, -ENOTSUP,
				    "queue attribute '%s' is not supported by this ipcd", known[j]);
			return -ENOTSUP;
		}
	}
	return 0;
}

void queue_cmd_open(struct req *r)
{
	struct server *srv = r->srv;
	uint32_t len;
	const char *name = proto_bytes(&r->argv[0], &len);
	struct object *o = r->obj;
	struct handle *h;
	struct queue *q;
	mode_t mode = IPC_MODE_DEFAULT;
	bool created = false;

	if (!o) {
		q = calloc(1, sizeof *q);
		if (!q) {
			reply_error(r->conn, r->id, -ENOMEM, "out of memory");
			return;
		}
		msgstore_init(&q->store);
		TAILQ_INIT(&q->getters);
		TAILQ_INIT(&q->putters);
		if (parse_attr(r, &r->argv[2], q, &mode) < 0) {
			free(q);
			return;
		}
		if (!q->maxsize)
			q->maxsize = srv->lim.queue_maxsize;
		if (!q->maxbytes)
			q->maxbytes = srv->lim.queue_maxbytes;
		if (!mode)
			mode = IPC_MODE_DEFAULT;
		if (object_link(srv, &q->obj, &queue_kind, name, len, r->conn->uid, r->conn->gid,
				mode) < 0) {
			free(q);
			reply_error(r->conn, r->id, -ENOMEM, "out of memory");
			return;
		}
		o = &q->obj;
		created = true;
		log_info("client %llu (pid %d) created queue '%s'",
			 (unsigned long long)r->conn->id, (int)r->conn->pid, o->name);
	}
	h = conn_handle_add(r->conn, o);
	if (!h) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	/* Like open(2) with O_CREAT: the creator's handle has every right, whatever the mode. */
	if (created)
		h->rights = IPC_PERM_READ | IPC_PERM_WRITE;
	msgpack_packer *pk = reply_begin(r->conn, r->id, 0, 2);
	msgpack_pack_uint32(pk, h->num);
	if (created)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	reply_end(r->conn);
}

void queue_cmd_put(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	struct server *srv = r->srv;
	int64_t timeout = proto_i64(&r->argv[1]);
	uint32_t len;
	const char *data = proto_bytes(&r->argv[2], &len);

	if (len > srv->lim.max_message) {
		reply_error(r->conn, r->id, -EMSGSIZE, "message of %u bytes exceeds the limit of %zu",
			    len, srv->lim.max_message);
		return;
	}
	if (q->maxbytes && len > q->maxbytes) {
		reply_error(r->conn, r->id, -EMSGSIZE,
			    "message of %u bytes exceeds the queue's maxbytes of %zu", len, q->maxbytes);
		return;
	}
	if (srv->lim.max_memory && srv->mem_used + len > srv->lim.max_memory) {
		reply_error(r->conn, r->id, -ENOBUFS, "ipcd's memory budget of %zu bytes is used up",
			    srv->lim.max_memory);
		return;
	}
	/* Parked puts go first: a new put may not overtake them. */
	if (TAILQ_EMPTY(&q->putters) && queue_has_room(q, len)) {
		if (queue_store(q, data, len) < 0) {
			reply_error(r->conn, r->id, -ENOMEM, "out of memory");
			return;
		}
		reply_ok(r->conn, r->id);
		queue_settle(q);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is full", q->obj.name);
		return;
	}
	if (!waiter_park(r->conn, r->id, r->op, &q->putters, wait_ms(timeout), data, len,
			 &srv->mem_used))
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
}

void queue_cmd_get(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	int64_t timeout = proto_i64(&r->argv[1]);

	if (q->store.count && TAILQ_EMPTY(&q->getters)) {
		queue_hand_over(q, r->conn, r->id);
		queue_settle(q);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is empty", q->obj.name);
		return;
	}
	if (!waiter_park(r->conn, r->id, r->op, &q->getters, wait_ms(timeout), NULL, 0, NULL))
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
}

void queue_cmd_size(struct req *r)
{
	reply_uint(r->conn, r->id, queue_of(r->obj)->store.count);
}

void queue_cmd_peek(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	const void *data;
	size_t len;

	if (msgstore_peek(&q->store, &data, &len) < 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is empty", q->obj.name);
		return;
	}
	reply_data(r->conn, r->id, data, len);
}

void queue_cmd_stat(struct req *r)
{
	object_pack_stat(r->obj, reply_begin(r->conn, r->id, 0, 1));
	reply_end(r->conn);
}

void queue_cmd_purge(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	size_t n = q->store.count;

	r->srv->mem_used -= q->store.bytes;
	msgstore_clear(&q->store);
	log_info("client %llu (pid %d) purged %zu messages from '%s'",
		 (unsigned long long)r->conn->id, (int)r->conn->pid, n, q->obj.name);
	reply_uint(r->conn, r->id, n);
	queue_settle(q);
}
