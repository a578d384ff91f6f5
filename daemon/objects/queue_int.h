/*
 * queue_int.h - what the queue's own files (queue.c, queue_serve.c,
 * queue_cmd.c) share and nothing else includes.
 */
#ifndef IPCD_QUEUE_INT_H
#define IPCD_QUEUE_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue.h"

struct conn;

/* A queue.open's attributes. */
struct queue_open_args {
	size_t maxsize, maxbytes;    /* 0: the daemon's defaults */
	mode_t mode;                 /* 0: IPC_MODE_DEFAULT */
	bool ack, durable;
	unsigned replicas;           /* 0: local; N: a cluster queue with N replicas */
	bool noring;                 /* no ring for a queue created, no mapping for this handle */
};

#define QUEUE_REPLICAS_MAX 5     /* JetStream's limit on a stream's replicas */

/* A new local queue, not yet named, whose store has ids if ids is set. */
struct queue *queue_new(bool ids);

static inline struct queue *queue_of(struct object *o)
{
	return container_of(o, struct queue, obj);
}

/* Is there room in q for a message of len bytes after n more messages of bytes? */
bool queue_has_room(struct queue *q, size_t n, size_t bytes, size_t len);

/* Does q's store (on a ring queue, its front) hold a message, taking up to want from the ring? */
bool queue_has_msgs(struct queue *q, size_t want);

/*
 * Store msgs[0..k) (bin or str objects) in q, in order; the caller checked
 * room and the memory budget.  A durable queue's records are written first,
 * in one write: if that fails nothing is stored.  Returns how many were
 * stored; when not all, *why (a negative errno) and err say why.
 */
size_t queue_store(struct queue *q, const msgpack_object *msgs, size_t k, int *why, char *err,
		   size_t errlen);

/* Answer put request id of c, whose k messages are stored (a durable queue's
 * answer may wait for its log). */
void queue_reply_stored(struct queue *q, struct conn *c, uint32_t id, bool many, size_t k);

/*
 * Answer get request id of c, on its handle hnum, with the oldest message
 * (get), or with up to max of the oldest (get_many).  q's store must not be
 * empty.  On an ack queue the messages move to the handle's consumer.
 */
void queue_hand_over(struct queue *q, struct conn *c, uint32_t id, uint32_t hnum);
void queue_hand_over_many(struct queue *q, struct conn *c, uint32_t id, uint32_t hnum,
			  size_t max);

/* queue_settle() as a waiter's leave callback (waiter_on_leave). */
void queue_settle_cb(void *q, uint32_t unused);

#endif
