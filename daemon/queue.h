/*
 * queue.h - named FIFO queues of opaque messages.
 */
#ifndef IPCD_QUEUE_H
#define IPCD_QUEUE_H

#include <stdint.h>

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
	uint64_t puts, gets;     /* totals since creation */
};

extern const struct object_kind queue_kind;

#endif
