/*
 * qring.h - ipcd's side of a local queue's shared-memory ring (layout in
 * proto/ipc_ring.h).
 *
 * The ring is the queue's store.  ipcd is one more producer and consumer of
 * it, for whatever goes by the socket, and never blocks on it: it claims and
 * takes with a bounded number of tries.  Around the ring it keeps the
 * queue's msgstore as the front (messages older than the ring's: taken from
 * it for a socket get, or returned by a socket consumer that went) and the
 * spill (newer ones: too large for a slot, or put while the ring was full).
 * Nothing read from the ring is trusted: a length past the slot breaks that
 * queue alone.
 */
#ifndef IPCD_QRING_H
#define IPCD_QRING_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc_ring.h"
#include "msgstore.h"

struct event;
struct qlane;
struct queue;

struct qring {
	int memfd;
	unsigned char *mem;          /* ipcd's mapping of size bytes */
	size_t size;
	struct ipc_ring_hdr *h;      /* = mem; every field client-writable */
	unsigned char *base;         /* slot 0 */
	/* ipcd's own copy of the geometry and bounds: never read back from h. */
	uint32_t slots, slot_bytes, payload_max;
	uint64_t maxsize, maxbytes;
	uint32_t flags;              /* IPC_RING_F_* last published */
	struct msgstore spill;       /* newer than the ring's messages, oldest first */
	size_t counted, counted_bytes; /* of front + spill, what h->count/bytes include */
	unsigned char *scratch;      /* payload_max bytes: a message taken, not yet stored */
	size_t held;                 /* bytes in scratch waiting for memory; 0 none */
	bool has_held;
	bool broken;                 /* a client wrote something impossible */
	bool added;                  /* ipcd added messages since the last wake-up check */
	bool woke_room;              /* ... or made room, or took a lane back */
	struct event *tick;          /* re-checks the ring while ipcd waits to hear of it */
	uint64_t kicks;              /* queue.ring_kick frames received */
	unsigned mapped;             /* lanes owned by handles that map the ring */
	struct qlane *lanes;         /* IPC_RING_LANES: ipcd's side of each (qring_lane.c) */
	unsigned unsettled;          /* lanes whose handle went, not yet free again */
	bool recount;                /* a dead client may have left the counts half-changed */
	uint64_t acked;              /* leases acknowledged through lanes since freed */
};

/*
 * Give q a ring of slots (rounded up to a power of two) slots of slot_bytes
 * (rounded up to 8, header included), bounded by q's maxsize and maxbytes.
 * 0, or a negative errno with nothing made.
 */
int qring_create(struct queue *q, size_t slots, size_t slot_bytes);

/* Free q's ring and everything it holds (the caller has uncounted the front). */
void qring_destroy(struct queue *q);

/* A descriptor of the ring for a client (the caller owns it), or -1 with errno. */
int qring_fd(const struct queue *q);

/*
 * Store one message as a producer: in the ring when it fits a slot and
 * nothing is spilled, else in the spill.  0; -EAGAIN when the queue's bounds
 * leave no room; -ENOMEM; -EIO when the ring is broken.
 */
int qring_put(struct queue *q, const void *data, size_t len);

/*
 * Make the front (q->store) hold at least want messages if the queue has
 * them, taking from the ring, then from the spill once the ring is empty.
 */
void qring_fill(struct queue *q, size_t want);

/*
 * A copy (malloc) of the oldest message of the ring, or of the spill when
 * the ring is empty, without taking it (the caller looked at the front).
 * 0, -EAGAIN when there is none, -ENOMEM.
 */
int qring_peek(struct queue *q, void **data, size_t *len);

/* Would n more messages of bytes (then one of len) fit q's bounds now? */
bool qring_has_room(struct queue *q, size_t n, size_t bytes, size_t len);

/* Clients asleep on the ring waiting for messages (getters) or for room (from a shared word). */
unsigned qring_sleepers(const struct queue *q, bool getters);

/* Puts (or gets) clients made through the ring, as the ring counts them. */
uint64_t qring_total(const struct queue *q, bool puts);

/* Messages queued and their payload bytes: front, ring and spill. */
size_t qring_depth(const struct queue *q);
size_t qring_bytes(const struct queue *q);

/*
 * Publish what ipcd changed: the counts of the front and spill, the flags
 * (whether ipcd waits to hear of puts or gets, from q's waiters), wake-ups of
 * sleeping clients, and the timer that re-checks the ring while ipcd waits.
 * Moves spilled messages into the ring while they fit.  After every change.
 */
void qring_sync(struct queue *q);

/* Drop every message of the ring and the spill; returns how many. */
size_t qring_purge(struct queue *q);

/* The queue was removed: clients fall back to the socket, sleepers wake. */
void qring_close(struct queue *q);

/* A client wrote what no client may: the queue fails, ipcd goes on. */
void qring_break(struct queue *q, const char *why, unsigned long long v);

/* qring_lane.c: ipcd's side of the lanes of q's new ring (0, -ENOMEM); and freed. */
int qring_lanes_init(struct queue *q);
void qring_lanes_free(struct qring *r);

/* qring_lane.c: a free lane for a handle that maps the ring, or -EBUSY (it goes by the socket). */
int qring_lane_take(struct queue *q);

/*
 * qring_lane.c: lane i's handle went, its process pid: the lane is taken
 * back, and what the process left in it is mended once it exited.
 */
void qring_lane_give(struct queue *q, unsigned i, pid_t pid);

/* qring_lane.c: an ack queue's messages leased through the ring, not yet acknowledged. */
size_t qring_leased(const struct queue *q);
size_t qring_lane_leased(const struct queue *q, unsigned lane);   /* of one lane */

/* qring_lane.c: an ack queue's leases acknowledged, in all. */
uint64_t qring_acked(const struct queue *q);

/* qring_lane.c: lanes given back and counts left half-changed (from qring_sync). */
void qring_lanes_settle(struct queue *q);

/* Stat keys of a ring queue (QRING_NSTAT of them). */
#define QRING_NSTAT 10
void qring_stat(const struct queue *q, msgpack_packer *pk);

#endif
