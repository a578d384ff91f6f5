/*
 * cqueue_int.h - what the cluster backend's files (cqueue.c: the data path,
 * cqueue_ops.c: requests that wait for the engine) share.
 */
#ifndef IPCD_CQUEUE_INT_H
#define IPCD_CQUEUE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "cseen.h"
#include "hold.h"
#include "js.h"
#include "queue.h"

struct cop;

TAILQ_HEAD(cop_list, cop);

/* A cluster queue's own state, beside its struct queue. */
struct cqueue {
	struct queue *q;
	char stream[JS_NAME_MAX];
	char subject[JS_SUBJECT_MAX];     /* where puts are published */
	char next[JS_SUBJECT_MAX + 64];   /* where pulls are sent */
	unsigned replicas;
	/* Ack subjects of the messages fetched and not finished, by key (the
	 * record id in q->store and the consumers' stores): keys [lo, hi) in
	 * slots key & (cap - 1), NULL once finished. */
	char **acks;
	size_t cap;
	uint64_t lo, hi;
	uint32_t sub;                     /* the subscription pulls deliver to (a token), 0: none */
	char inbox[96];                   /* its prefix: pull n replies to <inbox>.<n> */
	bool pulling;                     /* a pull is in flight */
	size_t pull_left;                 /* messages it may still bring */
	uint64_t pull_no;                 /* the last pull's number: it replies to inbox.<no> */
	struct event *pull_end;           /* a pull the engine never ended ends here */
	/* A pull ended by pull_end may still bring messages (late, not lost):
	 * none of those fetched is given back until the newest pull ends, or
	 * stale_end fires. */
	bool stale;
	struct event *stale_end;
	struct cseen seen;                /* the sequences fetched lately */
	uint64_t duplicates;              /* deliveries again of messages here, dropped */
	struct event *backoff;            /* pending: no pull before it fires */
	struct event *hold;               /* fetched messages nobody wants go back then */
	struct event *progress;           /* periodic: +WPI for every message held here */
	struct cop_list puts;             /* put requests in arrival order */
	size_t puts_sent;                 /* messages of them published, not answered */
	uint64_t msg_ids;                 /* Nats-Msg-Id counter */
};

/* Publishes of one queue waiting for their acknowledgements at most. */
#define CQ_PUT_WINDOW 4096u

/* A request's wait for an unreachable cluster without a timeout of its own (ms). */
#define CQ_UNREACHABLE_MS 10000

/* Time the engine has to answer one API request (ms). */
#define CQ_API_MS 5000

static inline struct cqueue *cq_of(const struct queue *q)
{
	return q->cq;
}

/* cqueue.c: the local state of a new cluster queue q on stream. 0 or -ENOMEM. */
int cq_attach(struct queue *q, const char *stream, unsigned replicas);

/* Acknowledge (ack) or give back (NAK) the message of key, and forget its key. */
void cq_finish_key(struct cqueue *cq, uint64_t key, bool ack);

/* Drop q's fetched messages: they go back to the stream (NAK), or were purged. */
void cq_drop_store(struct queue *q, bool nak);

/* cqueue_ops.c: the backend's requests. */
void cq_put(struct req *r, struct queue *q, const msgpack_object *msgs, size_t n, bool many);
void cq_size(struct req *r, struct queue *q);
void cq_peek(struct req *r, struct queue *q);
void cq_purge(struct req *r, struct queue *q);
void cq_join(struct req *r, struct queue *q, int64_t timeout);

/* Send what q's parked puts may send now (in order). */
void cq_put_pump(struct queue *q);

/* Fail every put request of q with status (the queue went). */
void cq_puts_fail(struct queue *q, int status, const char *msg);

extern const struct queue_backend cqueue_backend;

#endif
