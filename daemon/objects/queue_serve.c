/*
 * queue_serve.c - how messages enter a queue and leave it for a client.
 *
 * A queue owns its stored messages (a msgstore) and three FIFO wait lists:
 * parked gets, parked puts holding their messages, and parked joins.  After
 * anything that changes it, queue_settle() serves waiters until no more can
 * be served, so no request stays parked while it could be answered.
 *
 * On an ack queue a message got is not dropped but moved to the getting
 * handle's consumer (consumer.c) until task_done; if the handle goes first
 * it returns to the head, marked redelivered.  A durable queue tells its log
 * (qlog.c) of every message put, taken and finished; its store gives each
 * message an id for that.
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

bool queue_has_room(struct queue *q, size_t n, size_t bytes, size_t len)
{
	if (q->ring)
		return qring_has_room(q, n, bytes, len);
	if (q->maxsize && q->store.count + n >= q->maxsize)
		return false;
	if (q->maxbytes && q->store.bytes + bytes + len > q->maxbytes)
		return false;
	return true;
}

size_t queue_store(struct queue *q, const msgpack_object *msgs, size_t k, int *why, char *err,
		   size_t errlen)
{
	uint64_t first = q->next_id;
	uint32_t len;
	const char *data;
	size_t i;
	int rc = 0;

	if (q->ring) {
		for (i = 0; i < k && rc == 0; i++) {
			data = proto_bytes(&msgs[i], &len);
			rc = qring_put(q, data, len);
			q->puts += rc == 0;
		}
		if (rc < 0) {
			*why = rc;
			snprintf(err, errlen, "%s", rc == -EAGAIN ? "the queue is full" : rc == -EIO ?
				 "the queue's shared ring is corrupt" : "out of memory");
			return i - 1;
		}
		return k;
	}
	if (q->log) {
		qlog_put_begin(q);
		for (i = 0; i < k && rc == 0; i++) {
			data = proto_bytes(&msgs[i], &len);
			rc = qlog_put_add(q, first + i, data, len);
		}
		if (rc == 0)
			rc = qlog_put_commit(q);
		if (rc < 0) {
			*why = rc;
			snprintf(err, errlen, "cannot write the log of durable queue '%s': %s",
				 q->obj.name, strerror(-rc));
			return 0;
		}
		q->next_id += k;
	}
	for (i = 0; i < k; i++) {
		data = proto_bytes(&msgs[i], &len);
		if (msgstore_put_rec(&q->store, data, len, q->log ? first + i : 0, 0) < 0)
			break;
		q->obj.srv->mem_used += len;
		q->puts++;
	}
	if (i < k) {
		*why = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		/* Logged but not stored: finished, so that no restart brings them back. */
		for (size_t j = i; q->log && j < k; j++) {
			proto_bytes(&msgs[j], &len);
			qlog_done(q, first + j, len);
		}
	}
	return i;
}

void queue_reply_stored(struct queue *q, struct conn *c, uint32_t id, bool many, size_t k)
{
	if (q->log)
		qlog_reply_put(q, c, id, many, (uint32_t)k);
	else if (many)
		reply_uint(c, id, k);
	else
		reply_ok(c, id);
}

void queue_forget(struct queue *q, struct msgstore *s)
{
	struct msgrec rec;

	msgstore_peek_rec(s, &rec);
	q->obj.srv->mem_used -= rec.len;
	q->be->done(q, &rec);
	msgstore_pop(s);
}

/*
 * The consumer that takes an ack queue's messages for handle hnum of c, or
 * NULL when that handle is gone (closed while its get waited) or no memory.
 */
static struct consumer *queue_taker(struct queue *q, struct conn *c, uint32_t hnum)
{
	struct handle *h = conn_handle_find(c, hnum);

	if (!h || h->obj != &q->obj)
		return NULL;
	return consumer_of(h, true);
}

/*
 * Move the oldest message of an ack queue to cs as got and not acknowledged.
 * Without memory to track it the message stays queued (false): it will be
 * delivered again rather than lost.
 */
static bool queue_take_head(struct queue *q, struct consumer *cs)
{
	struct msgrec rec;

	msgstore_peek_rec(&q->store, &rec);
	if (msgstore_move(&cs->unacked, &q->store) < 0)
		return false;
	if (q->log)
		qlog_take(q, rec.id);
	return true;
}

/*
 * Answer get request id of c (on its handle hnum) with the oldest message:
 * drop it, or on an ack queue hand it to the handle's consumer.  The reply
 * of an ack queue's get also carries the message's flags.
 */
void queue_hand_over(struct queue *q, struct conn *c, uint32_t id, uint32_t hnum)
{
	struct consumer *cs = NULL;
	struct msgrec rec;
	msgpack_packer *pk;

	if (q->ack && !(cs = queue_taker(q, c, hnum))) {
		reply_error(c, id, -EBADF, "queue '%s' was closed before its get was served",
			    q->obj.name);
		return;
	}
	msgstore_peek_rec(&q->store, &rec);
	if (!q->ack) {
		reply_data(c, id, rec.data, rec.len);
		queue_forget(q, &q->store);
		q->gets++;
		return;
	}
	pk = reply_begin(c, id, 0, 2);
	msgpack_pack_bin(pk, rec.len);
	msgpack_pack_bin_body(pk, rec.data, rec.len);
	msgpack_pack_uint32(pk, rec.flags & MSG_REDELIVERED ? IPC_MSGFLAG_REDELIVERED : 0);
	reply_end(c);
	if (queue_take_head(q, cs))
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
 * caller ends), bounded by max_bytes past the first, then on an
 * ack queue the array of their flags.  Each message is dropped, or moved to
 * cs: as pushed ahead (push), or on an ack queue as got and not acknowledged.
 * Returns how many were packed.
 */
static size_t queue_pack_batch(struct queue *q, msgpack_packer *pk, size_t n, size_t max_bytes,
			       struct consumer *cs, bool push)
{
	struct msgstore *st = &q->store;
	struct msgcursor cur = msgstore_cursor(st);
	unsigned char flags[IPC_BATCH_MAX_MSGS];
	struct msgrec rec;
	size_t k = 0, bytes = 0;

	/* Count first: the array header precedes the messages. */
	while (k < n && msgstore_next_rec(&cur, &rec)) {
		if (k && bytes + rec.len > max_bytes)
			break;
		bytes += rec.len;
		k++;
	}
	msgpack_pack_array(pk, (uint32_t)k);
	for (size_t i = 0; i < k; i++) {
		msgstore_peek_rec(st, &rec);
		msgpack_pack_bin(pk, rec.len);
		msgpack_pack_bin_body(pk, rec.data, rec.len);
		flags[i] = rec.flags & MSG_REDELIVERED ? IPC_MSGFLAG_REDELIVERED : 0;
		if (push) {
			if (msgstore_move(&cs->inflight, st) < 0)
				queue_forget(q, &q->store);
		} else if (!cs || !queue_take_head(q, cs)) {
			queue_forget(q, &q->store);
		}
		q->gets++;
	}
	if (q->ack) {
		msgpack_pack_array(pk, (uint32_t)k);
		for (size_t i = 0; i < k; i++)
			msgpack_pack_uint32(pk, flags[i]);
	}
	return k;
}

/* Answer get_many request id of c (on its handle hnum) with up to max messages. */
void queue_hand_over_many(struct queue *q, struct conn *c, uint32_t id, uint32_t hnum,
			  size_t max)
{
	struct consumer *cs = NULL;

	if (q->ack && !(cs = queue_taker(q, c, hnum))) {
		reply_error(c, id, -EBADF, "queue '%s' was closed before its get was served",
			    q->obj.name);
		return;
	}
	queue_pack_batch(q, reply_begin(c, id, 0, q->ack ? 2 : 1), queue_batch(q, max),
			 IPC_BATCH_MAX_BYTES, cs, false);
	reply_end(c);
}

/* Push a batch of prefetched messages to consumer cs. */
static void queue_push(struct queue *q, struct consumer *cs)
{
	msgpack_packer *pk = push_begin(cs->conn, IPC_PUSH_MSGS, q->ack ? 3 : 2);

	msgpack_pack_uint32(pk, cs->handle);
	queue_pack_batch(q, pk, queue_batch(q, consumer_room(cs)), IPC_STREAM_BATCH_BYTES, cs, true);
	reply_end(cs->conn);
}

size_t queue_unfinished(const struct queue *q)
{
	const struct consumer *cs;
	size_t n = queue_depth(q);

	/* Taken per a page and not yet applied are finished, or unacknowledged. */
	TAILQ_FOREACH(cs, &q->consumers, link)
		n += cs->inflight.count + cs->unacked.count - (q->ack ? 0 : consumer_unsynced(cs));
	return n + (q->ring ? qring_leased(q) : 0);
}

void queue_settle_cb(void *q, uint32_t unused)
{
	queue_settle(q);
}

bool queue_has_msgs(struct queue *q, size_t want)
{
	if (q->ring)
		qring_fill(q, want);
	return q->store.count > 0;
}

void queue_settle(struct queue *q)
{
	bool progress = true;

	if (q->ring && q->ring->broken) {
		waiter_fail_all(&q->getters, -EIO, "the queue's shared ring is corrupt");
		waiter_fail_all(&q->putters, -EIO, "the queue's shared ring is corrupt");
	}
	while (progress) {
		struct waiter *w;
		struct consumer *cs, *next;

		progress = false;
		while ((w = TAILQ_FIRST(&q->getters)) &&
		       queue_has_msgs(q, w->op == IPC_OP_Q_GET_MANY ? w->max : 1)) {
			/* Never hand a message to a connection that is going away. */
			if (!conn_gone(w->conn)) {
				if (w->op == IPC_OP_Q_GET_MANY)
					queue_hand_over_many(q, w->conn, w->id, w->handle, w->max);
				else
					queue_hand_over(q, w->conn, w->id, w->handle);
			}
			waiter_finish(w);
			progress = true;
		}
		while ((w = TAILQ_FIRST(&q->putters)) && queue_has_room(q, 0, 0, w->len)) {
			msgpack_object msg = { .type = MSGPACK_OBJECT_BIN,
					       .via.bin = { w->len, w->data } };
			char err[160];
			int why;

			/* A put whose client is going away is not stored: it never
			 * learns that it was, and would put it again. */
			if (conn_gone(w->conn)) {
				waiter_finish(w);
				continue;
			}
			/* waiter_finish un-counts the parked copy; the stored one counts. */
			if (queue_store(q, &msg, 1, &why, err, sizeof err) == 1)
				queue_reply_stored(q, w->conn, w->id, w->op == IPC_OP_Q_PUT_MANY, 1);
			else if (why == -ENOMEM || why == -EAGAIN)
				break;   /* stays parked: no memory, or a ring producer won the room */
			else
				reply_error(w->conn, w->id, why, "%s", err);
			waiter_finish(w);
			progress = true;
		}
		/* Prefetching consumers, in turn; one served goes to the back. */
		for (cs = TAILQ_FIRST(&q->consumers); cs && TAILQ_EMPTY(&q->getters); cs = next) {
			next = TAILQ_NEXT(cs, link);
			/* What is pushed to a consumer returns when its connection
			 * goes: no system call per batch to ask whether it went. */
			consumer_sync(cs);
			if (!consumer_room(cs) || conn_going(cs->conn))
				continue;
			if (!queue_has_msgs(q, consumer_room(cs) < IPC_BATCH_MAX_MSGS ?
						  consumer_room(cs) : IPC_BATCH_MAX_MSGS))
				break;
			queue_push(q, cs);
			TAILQ_REMOVE(&q->consumers, cs, link);
			TAILQ_INSERT_TAIL(&q->consumers, cs, link);
			progress = true;
			break;
		}
	}
	if (q->ring)
		qring_sync(q);
	/* Gets or credit left unserved: the backend may have more to fetch. */
	if (q->be->take && !q->store.count)
		q->be->take(q);
	if (!TAILQ_EMPTY(&q->joiners) && !queue_unfinished(q) && q->be == &queue_local) {
		struct waiter *w;

		while ((w = TAILQ_FIRST(&q->joiners))) {
			reply_ok(w->conn, w->id);
			waiter_finish(w);
		}
		if (q->ring)
			qring_sync(q);
	}
}
