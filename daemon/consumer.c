/*
 * consumer.c - per-handle in-flight messages of a queue (see consumer.h).
 *
 * In-flight messages still count in the daemon's memory use; they leave it
 * when finished.  Returning them is an O(1) splice of the in-flight chunks in
 * front of the queue's.
 */
#include <stdlib.h>

#include "conn.h"
#include "consumer.h"
#include "log.h"
#include "queue.h"
#include "server.h"

static void consumer_release(struct hold *h);

static const struct hold_ops consumer_hold_ops = { "queue consumer", consumer_release };

struct consumer *consumer_of(struct handle *h, bool create)
{
	struct queue *q = container_of(h->obj, struct queue, obj);
	struct consumer *cs;

	if (h->ext || !create)
		return h->ext ? container_of(h->ext, struct consumer, hold) : NULL;
	cs = calloc(1, sizeof *cs);
	if (!cs)
		return NULL;
	cs->hold.ops = &consumer_hold_ops;
	cs->q = q;
	cs->conn = h->conn;
	cs->handle = h->num;
	msgstore_init(&cs->inflight);
	object_ref(&q->obj);
	TAILQ_INSERT_TAIL(&q->consumers, cs, link);
	h->ext = &cs->hold;
	return cs;
}

void consumer_finish(struct consumer *cs, size_t n)
{
	struct server *srv = cs->q->obj.srv;

	while (n-- && cs->inflight.count) {
		const void *data;
		size_t len;

		msgstore_peek(&cs->inflight, &data, &len);
		srv->mem_used -= len;
		msgstore_pop(&cs->inflight);
	}
}

void consumer_return_all(struct consumer *cs)
{
	struct queue *q = cs->q;

	if (!cs->inflight.count)
		return;
	log_debug("client %llu: %zu in-flight messages return to queue '%s'",
		  (unsigned long long)cs->conn->id, cs->inflight.count, q->obj.name);
	if (!q->obj.linked) {
		/* The queue was removed: its messages are gone, and these with them. */
		consumer_finish(cs, cs->inflight.count);
		msgstore_clear(&cs->inflight);
		return;
	}
	msgstore_splice_front(&q->store, &cs->inflight);
	queue_settle(q);
}

/* The handle is closed (or its connection gone): give everything back. */
static void consumer_release(struct hold *h)
{
	struct consumer *cs = container_of(h, struct consumer, hold);
	struct queue *q = cs->q;

	TAILQ_REMOVE(&q->consumers, cs, link);
	cs->prefetch = 0;
	consumer_return_all(cs);
	msgstore_clear(&cs->inflight);
	object_unref(&q->obj);
	free(cs);
}
