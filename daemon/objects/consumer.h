/*
 * consumer.h - what one connection's handle has been handed from a queue and
 * not yet finished with: prefetched messages pushed ahead of its gets (and,
 * on queues that want acknowledgements, messages got but not acknowledged).
 *
 * Those messages stay in the consumer's in-flight store, in delivery order,
 * until the client reports them finished.  If the handle is closed or the
 * connection goes, they return to the head of the queue in their order, so
 * nothing is lost or reordered for the other consumers.
 */
#ifndef IPCD_CONSUMER_H
#define IPCD_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "hold.h"
#include "msgstore.h"

struct conn;
struct handle;
struct queue;

struct consumer {
	struct hold hold;              /* owned by its handle (handle->ext) */
	TAILQ_ENTRY(consumer) link;    /* on queue->consumers */
	struct queue *q;
	struct conn *conn;
	uint32_t handle;               /* the client's number for pushes */
	struct msgstore inflight;      /* pushed ahead, not yet taken; oldest first */
	struct msgstore unacked;       /* ack queues: taken (got), not yet task_done;
					  oldest first, and older than inflight's */
	unsigned prefetch;             /* pushes keep at most this many in flight */
	/* The client's count of pushed messages taken, in a page of shared memory
	 * it writes at each take (and may scribble on: read, then clamped); NULL
	 * when its credits carry the counts.  taken: as applied here. */
	const uint64_t *taken_page;
	uint64_t taken;
	int lane;                      /* the handle's lane of the queue's ring, or -1 */
};

TAILQ_HEAD(consumer_list, consumer);

/* The consumer state of queue handle h, created if create is set.  NULL: none or -ENOMEM. */
struct consumer *consumer_of(struct handle *h, bool create);

/*
 * Share cs's count of taken messages: a sealed memfd of one page that the
 * client maps and writes, and the daemon maps and reads.  Returns its
 * descriptor (the caller's, to pass), or a negative errno: the client then
 * credits each take, as without it.
 */
int consumer_share_taken(struct consumer *cs);

/* Unmap the page (the descriptor could not be passed); credits count again. */
void consumer_unshare_taken(struct consumer *cs);

/*
 * Apply what the client wrote in its taken page since the last call (as a
 * credit of that many would), clamped to what is in flight: a scribbled
 * count can only finish or keep this consumer's own messages.
 */
void consumer_sync(struct consumer *cs);

/* n of the oldest in-flight messages are finished: drop them. */
void consumer_finish(struct consumer *cs, size_t n);

/*
 * On an ack queue: n of the oldest pushed messages were taken by the client;
 * they wait for task_done (unacked) from now on.
 */
void consumer_take(struct consumer *cs, size_t n);

/* task_done: the oldest unacknowledged message is finished.  -EINVAL if none. */
int consumer_ack(struct consumer *cs);

/*
 * Return the pushed messages not yet taken to the head of the queue, in
 * order; with all set, the unacknowledged ones too, before them and marked
 * redelivered (the consumer is going away).
 */
void consumer_return(struct consumer *cs, bool all);

/*
 * The local backend's return: cs's pushed messages, and with all its
 * unacknowledged ones marked redelivered before them, to the head of the
 * queue's store.
 */
void consumer_splice_back(struct consumer *cs, bool all);

/* Taken per the page and not yet applied by consumer_sync (read-only). */
static inline size_t consumer_unsynced(const struct consumer *cs)
{
	uint64_t n;

	if (!cs->taken_page)
		return 0;
	n = __atomic_load_n(cs->taken_page, __ATOMIC_ACQUIRE) - cs->taken;
	/* Behind what was applied (a scribble, or a wrap): nothing new. */
	if (n > UINT64_MAX / 2)
		return 0;
	return n < cs->inflight.count ? (size_t)n : cs->inflight.count;
}

/* Room for pushes: how many more may be in flight. */
static inline size_t consumer_room(const struct consumer *cs)
{
	return cs->prefetch > cs->inflight.count ? cs->prefetch - cs->inflight.count : 0;
}

#endif
