/*
 * queue.h - named FIFO queues of opaque messages.
 */
#ifndef IPCD_QUEUE_H
#define IPCD_QUEUE_H

#include <stdint.h>

#include "consumer.h"
#include "msgstore.h"
#include "object.h"
#include "waiter.h"

struct queue {
	struct object obj;
	struct msgstore store;
	size_t maxsize;          /* messages; 0 unbounded */
	size_t maxbytes;         /* payload bytes; 0 unbounded */
	struct waitq getters;    /* parked gets, arrival order */
	struct waitq putters;    /* parked puts with their messages */
	struct consumer_list consumers; /* handles with prefetch or in-flight state */
	uint64_t puts, gets;     /* totals since creation */
};

extern const struct object_kind queue_kind;

/*
 * Serve whatever can be served now: parked gets, then parked puts, then
 * pushes to prefetching consumers, until nothing more moves.  Call after
 * anything that adds messages, frees room or adds credit.
 */
void queue_settle(struct queue *q);

#endif
