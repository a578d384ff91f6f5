/*
 * queue.c - named FIFO queues: the object kind and its handlers.
 *
 * A queue owns its stored messages (a msgstore) and two FIFO wait lists:
 * parked gets, and parked puts holding their messages.  After anything that
 * changes it, queue_settle() serves waiters until no more can be served, so
 * no request stays parked while it could be answered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "consumer.h"
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

/* How many of the oldest messages fit one batch of at most max. */
static size_t queue_batch(const struct queue *q, size_t max)
{
	if (max > IPC_BATCH_MAX_MSGS)
		max = IPC_BATCH_MAX_MSGS;
	return q->store.count < max ? q->store.count : max;
}

/*
 * Pack up to n of the oldest messages as an array into pk (whose frame the
 * caller ends), bounded by IPC_BATCH_MAX_BYTES past the first; each message
 * goes to into (in flight) or is dropped.  Returns how many were packed.
 */
static size_t queue_pack_batch(struct queue *q, msgpack_packer *pk, size_t n,
			       struct msgstore *into)
{
	struct msgstore *st = &q->store;
	struct msgcursor cur = msgstore_cursor(st);
	const void *data;
	size_t k = 0, bytes = 0, len;

	/* Count first: the array header precedes the messages. */
	while (k < n && msgstore_next(&cur, &data, &len)) {
		if (k && bytes + len > IPC_BATCH_MAX_BYTES)
			break;
		bytes += len;
		k++;
	}
	msgpack_pack_array(pk, (uint32_t)k);
	for (size_t i = 0; i < k; i++) {
		msgstore_peek(st, &data, &len);
		msgpack_pack_bin(pk, len);
		msgpack_pack_bin_body(pk, data, len);
		if (!into || msgstore_move(into, st) < 0) {
			q->obj.srv->mem_used -= len;
			msgstore_pop(st);
		}
		q->gets++;
	}
	return k;
}

/* Answer get_many request id of c with up to max messages. */
static void queue_hand_over_many(struct queue *q, struct conn *c, uint32_t id, size_t max)
{
	queue_pack_batch(q, reply_begin(c, id, 0, 1), queue_batch(q, max), NULL);
	reply_end(c);
}

/* Push a batch of prefetched messages to consumer cs. */
static void queue_push(struct queue *q, struct consumer *cs)
{
	msgpack_packer *pk = push_begin(cs->conn, IPC_PUSH_MSGS, 2);

	msgpack_pack_uint32(pk, cs->handle);
	queue_pack_batch(q, pk, queue_batch(q, consumer_room(cs)), &cs->inflight);
	reply_end(cs->conn);
}

void queue_settle(struct queue *q)
{
	bool progress = true;

	while (progress) {
		struct waiter *w;
		struct consumer *cs, *next;

		progress = false;
		while ((w = TAILQ_FIRST(&q->getters)) && q->store.count) {
			/* Never hand a message to a connection that is going away. */
			if (!w->conn->dead) {
				if (w->op == IPC_OP_Q_GET_MANY)
					queue_hand_over_many(q, w->conn, w->id, w->max);
				else
					queue_hand_over(q, w->conn, w->id);
			}
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
			if (w->op == IPC_OP_Q_PUT_MANY)
				reply_uint(w->conn, w->id, 1);
			else
				reply_ok(w->conn, w->id);
			waiter_finish(w);
			progress = true;
		}
		/* Prefetching consumers, in turn; one served goes to the back. */
		for (cs = TAILQ_FIRST(&q->consumers); cs && q->store.count && TAILQ_EMPTY(&q->getters);
		     cs = next) {
			next = TAILQ_NEXT(cs, link);
			if (cs->conn->dead || !consumer_room(cs))
				continue;
			queue_push(q, cs);
			TAILQ_REMOVE(&q->consumers, cs, link);
			TAILQ_INSERT_TAIL(&q->consumers, cs, link);
			progress = true;
			break;
		}
	}
}

static void queue_unlinked(struct object *o)
{
	struct queue *q = queue_of(o);
	struct consumer *cs;

	waiter_fail_all(&q->getters, -EIDRM, "the queue was removed");
	waiter_fail_all(&q->putters, -EIDRM, "the queue was removed");
	TAILQ_FOREACH(cs, &q->consumers, link)
		consumer_finish(cs, cs->inflight.count);
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
	return 9;
}

static unsigned waitq_length(const struct waitq *wq)
{
	const struct waiter *w;
	unsigned n = 0;

	TAILQ_FOREACH(w, wq, link)
		n++;
	return n;
}

static size_t queue_inflight(const struct queue *q)
{
	const struct consumer *cs;
	size_t n = 0;

	TAILQ_FOREACH(cs, &q->consumers, link)
		n += cs->inflight.count;
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
	proto_pack_kv_u64(pk, "inflight", queue_inflight(q));
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
		TAILQ_INIT(&q->consumers);
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

/* May a message of len bytes ever enter q?  0, or a negative errno with its message. */
static int queue_put_check(struct queue *q, size_t len, char *err, size_t errlen)
{
	struct server *srv = q->obj.srv;

	if (len > srv->lim.max_message) {
		snprintf(err, errlen, "message of %zu bytes exceeds the limit of %zu", len,
			 srv->lim.max_message);
		return -EMSGSIZE;
	}
	if (q->maxbytes && len > q->maxbytes) {
		snprintf(err, errlen, "message of %zu bytes exceeds the queue's maxbytes of %zu",
			 len, q->maxbytes);
		return -EMSGSIZE;
	}
	if (srv->lim.max_memory && srv->mem_used + len > srv->lim.max_memory) {
		snprintf(err, errlen, "ipcd's memory budget of %zu bytes is used up",
			 srv->lim.max_memory);
		return -ENOBUFS;
	}
	return 0;
}

/*
 * Store msgs[0..n) in order while they fit.  Returns
 * how many were stored, and leaves the first refusal's status in *why.
 */
static size_t queue_put_some(struct queue *q, const msgpack_object *msgs, size_t n, int *why,
			     char *err, size_t errlen)
{
	size_t k;

	*why = 0;
	for (k = 0; k < n; k++) {
		uint32_t len;
		const char *data = proto_bytes(&msgs[k], &len);

		*why = queue_put_check(q, len, err, errlen);
		if (*why < 0)
			break;
		/* Parked puts go first: a new put may not overtake them. */
		if (!TAILQ_EMPTY(&q->putters) || !queue_has_room(q, len)) {
			*why = -EAGAIN;
			snprintf(err, errlen, "queue '%s' is full", q->obj.name);
			break;
		}
		if (queue_store(q, data, len) < 0) {
			*why = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			break;
		}
	}
	return k;
}

/* Nothing of r could be stored for want of room: park its first message or refuse. */
static void queue_put_wait(struct req *r, struct queue *q, const msgpack_object *msg,
			   int64_t timeout)
{
	uint32_t len;
	const char *data = proto_bytes(msg, &len);

	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is full", q->obj.name);
		return;
	}
	if (!waiter_park(r->conn, r->id, r->op, &q->putters, wait_ms(timeout), data, len,
			 &r->srv->mem_used))
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
}

void queue_cmd_put(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	char err[160];
	int why;

	if (queue_put_some(q, &r->argv[2], 1, &why, err, sizeof err) == 1) {
		reply_ok(r->conn, r->id);
		queue_settle(q);
	} else if (why == -EAGAIN) {
		queue_put_wait(r, q, &r->argv[2], proto_i64(&r->argv[1]));
	} else {
		reply_error(r->conn, r->id, why, "%s", err);
	}
}

void queue_cmd_put_many(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	const msgpack_object_array *msgs = &r->argv[2].via.array;
	char err[160];
	size_t k;
	int why;

	for (uint32_t i = 0; i < msgs->size; i++) {
		if (msgs->ptr[i].type != MSGPACK_OBJECT_BIN && msgs->ptr[i].type != MSGPACK_OBJECT_STR) {
			reply_error(r->conn, r->id, -EINVAL, "queue.put_many: message %u is not binary data",
				    i + 1);
			return;
		}
	}
	k = queue_put_some(q, msgs->ptr, msgs->size, &why, err, sizeof err);
	if (k > 0 || msgs->size == 0) {
		/* A partial count: the client sends the rest again and meets the refusal. */
		reply_uint(r->conn, r->id, k);
		queue_settle(q);
	} else if (why == -EAGAIN) {
		queue_put_wait(r, q, &msgs->ptr[0], proto_i64(&r->argv[1]));
	} else {
		reply_error(r->conn, r->id, why, "%s", err);
	}
}

/* A get or get_many of up to max messages. */
static void queue_get(struct req *r, int64_t timeout, uint32_t max)
{
	struct queue *q = queue_of(r->obj);
	struct waiter *w;

	if (q->store.count && TAILQ_EMPTY(&q->getters)) {
		if (r->op == IPC_OP_Q_GET_MANY)
			queue_hand_over_many(q, r->conn, r->id, max);
		else
			queue_hand_over(q, r->conn, r->id);
		queue_settle(q);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is empty", q->obj.name);
		return;
	}
	w = waiter_park(r->conn, r->id, r->op, &q->getters, wait_ms(timeout), NULL, 0, NULL);
	if (!w) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	w->max = max;
}

void queue_cmd_get(struct req *r)
{
	queue_get(r, proto_i64(&r->argv[1]), 1);
}

void queue_cmd_get_many(struct req *r)
{
	uint64_t max = r->argv[2].via.u64;

	if (max == 0) {
		reply_error(r->conn, r->id, -EINVAL, "queue.get_many: max must be at least 1");
		return;
	}
	queue_get(r, proto_i64(&r->argv[1]), max > IPC_BATCH_MAX_MSGS ? IPC_BATCH_MAX_MSGS :
		  (uint32_t)max);
}

void queue_cmd_prefetch(struct req *r)
{
	uint64_t n = r->argv[1].via.u64;
	struct consumer *cs = consumer_of(r->handle, n > 0);

	if (n > 0 && !cs) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	if (cs) {
		cs->prefetch = n > IPC_PREFETCH_MAX ? IPC_PREFETCH_MAX : (unsigned)n;
		/* Turned off: what was pushed and not taken goes back; the client drops
		 * the pushes it receives before this reply. */
		if (!n)
			consumer_return_all(cs);
	}
	reply_ok(r->conn, r->id);
	queue_settle(queue_of(r->obj));
}

void queue_cmd_credit(struct req *r)
{
	struct consumer *cs = consumer_of(r->handle, false);

	/* No reply: the client streams credits and waits for none. */
	if (!cs)
		return;
	consumer_finish(cs, r->argv[1].via.u64);
	queue_settle(cs->q);
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
