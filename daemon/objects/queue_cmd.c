/*
 * queue_cmd.c - the queue requests: put, get and their batches, prefetch
 * credits, size, peek, stat, purge, task_done and join.  The gate (cmd.c)
 * has resolved the handle and checked rights before any of these runs.
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
#include "qlog.h"
#include "qring.h"
#include "queue.h"
#include "queue_int.h"
#include "reply.h"
#include "server.h"

/*
 * May a message of len bytes enter q, after others of pending bytes?  0, or
 * a negative errno with its message.
 */
static int queue_put_check(struct queue *q, size_t len, size_t pending, char *err,
			   size_t errlen)
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
	if (q->ring && q->ring->broken) {
		snprintf(err, errlen, "the shared ring of queue '%s' is corrupt", q->obj.name);
		return -EIO;
	}
	if (qlog_error(q)) {
		snprintf(err, errlen, "the log of durable queue '%s' failed and is being "
			 "rewritten", q->obj.name);
		return qlog_error(q);
	}
	if (srv->lim.max_memory &&
	    server_mem_total(srv) + pending + len > srv->lim.max_memory) {
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
	size_t k, bytes = 0, stored;
	int rc;

	*why = 0;
	for (k = 0; k < n; k++) {
		uint32_t len;

		proto_bytes(&msgs[k], &len);
		*why = queue_put_check(q, len, bytes, err, errlen);
		if (*why < 0)
			break;
		/* Parked puts go first: a new put may not overtake them. */
		if (!TAILQ_EMPTY(&q->putters) || !queue_has_room(q, k, bytes, len)) {
			*why = -EAGAIN;
			snprintf(err, errlen, "queue '%s' is full", q->obj.name);
			break;
		}
		bytes += len;
	}
	if (!k)
		return 0;
	stored = queue_store(q, msgs, k, &rc, err, errlen);
	if (stored < k)
		*why = rc;
	return stored;
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
	struct waiter *w = waiter_park(r->conn, r->id, r->op, &q->putters, timeout, data,
				       len, &r->srv->mem_used);

	if (!w) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	waiter_on_leave(w, queue_settle_cb, q, 0);
	if (q->ring)
		qring_sync(q);   /* ring consumers must now tell ipcd of their gets */
}

/* The local backend's store: what fits now, the rest parked or refused. */
static void local_put(struct req *r, struct queue *q, const msgpack_object *msgs, size_t n,
		      bool many)
{
	char err[160];
	size_t k;
	int why;

	k = queue_put_some(q, msgs, n, &why, err, sizeof err);
	if (n == 0) {
		reply_uint(r->conn, r->id, 0);
	} else if (k > 0) {
		/* A partial count: the client sends the rest again and meets the refusal. */
		queue_reply_stored(q, r->conn, r->id, many, k);
		queue_settle(q);
	} else if (why == -EAGAIN) {
		queue_put_wait(r, q, &msgs[0], proto_i64(&r->argv[1]));
	} else {
		reply_error(r->conn, r->id, why, "%s", err);
	}
}

void queue_cmd_put(struct req *r)
{
	struct queue *q = queue_of(r->obj);

	q->be->put(r, q, &r->argv[2], 1, false);
}

void queue_cmd_put_many(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	const msgpack_object_array *msgs = &r->argv[2].via.array;

	if (msgs->size > IPC_BATCH_MAX_MSGS) {
		reply_error(r->conn, r->id, -EINVAL, "queue.put_many takes at most %u messages",
			    IPC_BATCH_MAX_MSGS);
		return;
	}
	for (uint32_t i = 0; i < msgs->size; i++) {
		if (msgs->ptr[i].type != MSGPACK_OBJECT_BIN && msgs->ptr[i].type != MSGPACK_OBJECT_STR) {
			reply_error(r->conn, r->id, -EINVAL, "queue.put_many: message %u is not binary data",
				    i + 1);
			return;
		}
	}
	q->be->put(r, q, msgs->ptr, msgs->size, true);
}

/* A get or get_many of up to max messages. */
static void queue_get(struct req *r, int64_t timeout, uint32_t max)
{
	struct queue *q = queue_of(r->obj);
	struct waiter *w;

	bool ready = TAILQ_EMPTY(&q->getters) && queue_has_msgs(q, max);

	if (q->ring && q->ring->broken) {
		reply_error(r->conn, r->id, -EIO, "the shared ring of queue '%s' is corrupt",
			    q->obj.name);
		queue_settle(q);
		return;
	}
	if (ready) {
		if (r->op == IPC_OP_Q_GET_MANY)
			queue_hand_over_many(q, r->conn, r->id, r->handle->num, max);
		else
			queue_hand_over(q, r->conn, r->id, r->handle->num);
		queue_settle(q);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is empty", q->obj.name);
		return;
	}
	w = waiter_park(r->conn, r->id, r->op, &q->getters, timeout, NULL, 0, NULL);
	if (!w) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	w->max = max;
	w->handle = r->handle->num;
	if (q->ring)
		qring_sync(q);   /* ring producers must now tell ipcd of their puts */
	if (q->be->take)
		q->be->take(q);
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
	msgpack_packer *pk;
	bool shared = false;

	if (n > 0 && !cs) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	if (cs) {
		cs->prefetch = n > IPC_PREFETCH_MAX ? IPC_PREFETCH_MAX : (unsigned)n;
		/* Turned off: what was taken is applied, what was pushed and not
		 * taken goes back; the client drops the pushes it receives before
		 * this reply. */
		consumer_sync(cs);
		if (!n)
			consumer_return(cs, false);
	}
	/* The first time on: the page of taken counts rides with the reply.
	 * Without it the client credits each take: when there is no memory or
	 * no descriptor, and on durable and cluster queues, whose takes are
	 * recorded (in the log, to the engine) as each credit comes, so that a
	 * crash of ipcd gives back no more of what was got than before. */
	if (n > 0 && !cs->taken_page && cs->q->be == &queue_local && !cs->q->log) {
		int fd = consumer_share_taken(cs);

		if (fd >= 0 && conn_attach_fd(r->conn, fd) == 0)
			shared = true;
		else if (fd >= 0)
			consumer_unshare_taken(cs);
	}
	pk = reply_begin(r->conn, r->id, 0, 1);
	if (shared)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	reply_end(r->conn);
	queue_settle(queue_of(r->obj));
}

void queue_cmd_credit(struct req *r)
{
	struct consumer *cs = consumer_of(r->handle, false);

	/* No reply: the client streams credits and waits for none. */
	if (!cs)
		return;
	consumer_sync(cs);
	if (cs->q->ack)
		consumer_take(cs, r->argv[1].via.u64);
	else
		consumer_finish(cs, r->argv[1].via.u64);
	queue_settle(cs->q);
}

static void local_size(struct req *r, struct queue *q)
{
	reply_uint(r->conn, r->id, queue_depth(q));
}

void queue_cmd_size(struct req *r)
{
	struct queue *q = queue_of(r->obj);

	q->be->size(r, q);
}

static void local_peek(struct req *r, struct queue *q)
{
	const void *data;
	size_t len;

	if (q->ring && !q->store.count) {
		void *copy;
		int rc = qring_peek(q, &copy, &len);

		if (rc == 0) {
			reply_data(r->conn, r->id, copy, len);
			free(copy);
			return;
		}
		if (rc == -ENOMEM) {
			reply_error(r->conn, r->id, rc, "out of memory");
			return;
		}
	}
	if (msgstore_peek(&q->store, &data, &len) < 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is empty", q->obj.name);
		return;
	}
	reply_data(r->conn, r->id, data, len);
}

void queue_cmd_peek(struct req *r)
{
	struct queue *q = queue_of(r->obj);

	q->be->peek(r, q);
}

void queue_cmd_stat(struct req *r)
{
	object_pack_stat(r->obj, reply_begin(r->conn, r->id, 0, 1));
	reply_end(r->conn);
}

static void local_purge(struct req *r, struct queue *q)
{
	size_t n = q->store.count;

	if (q->log) {
		while (q->store.count)
			queue_forget(q, &q->store);
	} else {
		r->srv->mem_used -= q->store.bytes;
	}
	msgstore_clear(&q->store);
	if (q->ring)
		n += qring_purge(q);
	log_info("client %llu (pid %d) purged %zu messages from '%s'",
		 (unsigned long long)r->conn->id, (int)r->conn->pid, n, q->obj.name);
	reply_uint(r->conn, r->id, n);
	queue_settle(q);
}

void queue_cmd_purge(struct req *r)
{
	struct queue *q = queue_of(r->obj);

	q->be->purge(r, q);
}

void queue_cmd_task_done(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	struct consumer *cs = consumer_of(r->handle, false);

	if (!q->ack) {
		reply_error(r->conn, r->id, -EINVAL, "queue '%s' was not created with ack: nothing "
			    "is in flight", q->obj.name);
		return;
	}
	/* The message acknowledged may be one the page says was taken. */
	if (cs)
		consumer_sync(cs);
	if (!cs || consumer_ack(cs) < 0) {
		reply_error(r->conn, r->id, -EINVAL, "nothing got from '%s' through this open "
			    "waits for task_done", q->obj.name);
		return;
	}
	/* No reply: like credits, acknowledgements stream without round trips. */
	queue_settle(q);
}

static void local_join(struct req *r, struct queue *q, int64_t timeout)
{
	size_t n = queue_unfinished(q);

	if (!n) {
		reply_ok(r->conn, r->id);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "%zu messages of '%s' are not finished", n,
			    q->obj.name);
		return;
	}
	if (!waiter_park(r->conn, r->id, r->op, &q->joiners, timeout, NULL, 0, NULL))
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
	else if (q->ring)
		qring_sync(q);   /* ring consumers must now tell ipcd of their gets */
}

void queue_cmd_ring_kick(struct req *r)
{
	struct queue *q = queue_of(r->obj);

	/* No reply: a ring client says it changed the ring while ipcd waited on it. */
	if (q->ring) {
		q->ring->kicks++;
		queue_settle(q);
	}
}

void queue_cmd_join(struct req *r)
{
	struct queue *q = queue_of(r->obj);

	q->be->join(r, q, proto_i64(&r->argv[1]));
}

/* A durable queue's log learns that a message is finished. */
static void local_done(struct queue *q, const struct msgrec *rec)
{
	if (q->log)
		qlog_done(q, rec->id, rec->len);
}

const struct queue_backend queue_local = {
	.where = "local",
	.put = local_put,
	.size = local_size,
	.peek = local_peek,
	.purge = local_purge,
	.join = local_join,
	.done = local_done,
	.give_back = consumer_splice_back,
};
