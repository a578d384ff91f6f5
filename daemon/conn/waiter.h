/*
 * waiter.h - requests that wait.
 *
 * A request that cannot be answered yet (a get on an empty queue, a put on a
 * full one) becomes a waiter: connection, request id, deadline.  It sits on
 * the object's FIFO wait list and on its connection's hold list.  Whatever
 * changes the object serves the first waiter; the deadline answers
 * -ETIMEDOUT; the connection's close cancels it silently.
 */
#ifndef IPCD_WAITER_H
#define IPCD_WAITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "hold.h"

struct conn;
struct event;

struct waiter {
	struct hold hold;              /* on conn->holds */
	TAILQ_ENTRY(waiter) link;      /* on *wq */
	struct waitq *wq;
	struct conn *conn;
	uint32_t id;                   /* request id to answer */
	unsigned op;
	uint32_t max;                  /* messages a get_many takes at most */
	uint32_t handle;               /* a get's handle (an ack queue's consumer is per handle) */
	struct event *timer;           /* NULL without a deadline */
	void *data;                    /* a parked put's message (owned) */
	size_t len;
	size_t *mem_used;              /* accounting of data, or NULL */
	/* Run when the waiter leaves unserved (timed out, its connection gone),
	 * so that requests parked behind it are not left waiting. */
	void (*left)(void *obj, uint32_t arg);
	void *left_obj;
	uint32_t left_arg;
};

TAILQ_HEAD(waitq, waiter);

/*
 * Park request id of c on wq for timeout_ms, the request's timeout argument
 * (< 0: no deadline; longer than INT32_MAX ms counts as INT32_MAX).  data, if
 * not NULL, is copied (len bytes) and counted in *mem_used.  Returns the
 * waiter, or NULL on -ENOMEM.
 */
struct waiter *waiter_park(struct conn *c, uint32_t id, unsigned op, struct waitq *wq,
			   int64_t timeout_ms, const void *data, size_t len, size_t *mem_used);

/* How many waiters wq has (for stat). */
unsigned waiter_count(const struct waitq *wq);

/* Have w run left(obj, arg) if it leaves unserved. */
static inline void waiter_on_leave(struct waiter *w, void (*left)(void *, uint32_t), void *obj,
				   uint32_t arg)
{
	w->left = left;
	w->left_obj = obj;
	w->left_arg = arg;
}

/* The waiter is answered: unlink it from everything and free it. */
void waiter_finish(struct waiter *w);

/* Answer every waiter on wq with status (and message) and finish them. */
void waiter_fail_all(struct waitq *wq, int status, const char *msg);

/* Answer every waiter held by c with status (shutdown). */
void waiter_fail_conn(struct conn *c, int status, const char *msg);

#endif
