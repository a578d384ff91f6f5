/*
 * queue.h - named FIFO queues of opaque messages.
 */
#ifndef IPCD_QUEUE_H
#define IPCD_QUEUE_H

#include <msgpack.h>
#include <stdint.h>

#include "consumer.h"
#include "msgstore.h"
#include "object.h"
#include "waiter.h"

struct cqueue;
struct msgrec;
struct qlog;
struct qlog_meta;
struct qring;
struct queue;
struct req;
struct server;

/*
 * Where a queue keeps its messages: in ipcd's memory (queue_local), or in a
 * stream of the cluster engine (cqueue.c).  The gate, permissions, waiters,
 * the consumers' holdings and the admin view are common to every backend;
 * what differs is behind these few calls.  A backend is chosen when the
 * queue is made and never changes.
 */
struct queue_backend {
	const char *where;           /* "local" or "cluster", for ls and stat */
	/* Store: answer put (many: put_many) request r of msgs[0..n), all binary. */
	void (*put)(struct req *r, struct queue *q, const msgpack_object *msgs, size_t n,
		    bool many);
	/* Count: answer queue.size, queue.peek, queue.purge, queue.join. */
	void (*size)(struct req *r, struct queue *q);
	void (*peek)(struct req *r, struct queue *q);
	void (*purge)(struct req *r, struct queue *q);
	void (*join)(struct req *r, struct queue *q, int64_t timeout);
	/* Take: gets or prefetch credit wait and q->store is empty; NULL: nothing to fetch. */
	void (*take)(struct queue *q);
	/* A message left q for good (got without ack, acknowledged, purged). */
	void (*done)(struct queue *q, const struct msgrec *rec);
	/* Return: cs's pushed messages, and with all its unacknowledged ones, go back. */
	void (*give_back)(struct consumer *cs, bool all);
	/* The queue's name was removed / its memory is about to be freed (may be NULL). */
	void (*unlinked)(struct queue *q);
	void (*destroy)(struct queue *q);
};

/* The local backend: messages in q->store, a durable queue's in its log too. */
extern const struct queue_backend queue_local;

struct queue {
	struct object obj;
	struct msgstore store;
	size_t maxsize;          /* messages; 0 unbounded */
	size_t maxbytes;         /* payload bytes; 0 unbounded */
	struct waitq getters;    /* parked gets, arrival order */
	struct waitq putters;    /* parked puts with their messages */
	struct waitq joiners;    /* parked joins */
	struct consumer_list consumers; /* handles with prefetch or in-flight state */
	uint64_t puts, gets;     /* totals since creation */
	bool ack;                /* a get stays in flight with its consumer until task_done */
	uint64_t acked;          /* task_done total */
	uint64_t redelivered;    /* messages returned to the head by a consumer that went */
	struct qlog *log;        /* a durable queue's log (store has ids), or NULL */
	struct qring *ring;      /* a local queue's shared-memory ring, or NULL: then store
				    holds every queued message, else the front (qring.h) */
	bool open_mapped;        /* the open being answered sends the ring's descriptor */
	uint64_t next_id;        /* durable: the id of the next message put */
	const struct queue_backend *be; /* where the messages live */
	struct cqueue *cq;       /* a cluster queue's stream, or NULL */
};

extern const struct object_kind queue_kind;

/*
 * The oldest message of s (q's store or one of its consumers') leaves q for
 * good (got from a queue without acks, acknowledged, or purged): it is
 * popped, no longer counts in the daemon's memory, and a durable queue's log
 * says so.  s must not be empty.
 */
void queue_forget(struct queue *q, struct msgstore *s);

/*
 * Messages put and not yet finished: queued, pushed ahead, and on an ack
 * queue got but not acknowledged.  join waits for this to reach 0.
 */
size_t queue_unfinished(const struct queue *q);

/* Messages queued (not in flight), and their payload bytes. */
size_t queue_depth(const struct queue *q);
size_t queue_bytes(const struct queue *q);

/* Messages put and got since creation, by the socket and through the ring. */
/* What q's consumers hold, as stat and /metrics report it. */
struct queue_flight {
	size_t pushed;           /* prefetched, not yet taken */
	size_t unacked;          /* taken, not yet acknowledged (ring leases included) */
	size_t consumers;        /* handles that prefetch or hold messages (or get by the socket) */
	uint64_t acked;          /* acknowledged since creation */
};
void queue_flight(const struct queue *q, struct queue_flight *f);

uint64_t queue_puts(const struct queue *q);
uint64_t queue_gets(const struct queue *q);

/* What a durable queue's log records about it besides its messages. */
void queue_meta(const struct queue *q, struct qlog_meta *m);

/*
 * Recovery of a durable queue from its log: create the queue of meta, whose
 * next put gets id next_id, then add its messages in order.  NULL / -ENOMEM.
 */
struct queue *queue_restore(struct server *srv, const struct qlog_meta *meta, uint64_t next_id);
int queue_restore_msg(struct queue *q, uint64_t id, const void *data, size_t len,
		      unsigned flags);

/*
 * Serve whatever can be served now: parked gets, then parked puts, then
 * pushes to prefetching consumers, until nothing more moves.  Call after
 * anything that adds messages, frees room or adds credit.
 */
void queue_settle(struct queue *q);

#endif
