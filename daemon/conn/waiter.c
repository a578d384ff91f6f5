/*
 * waiter.c - parked requests (see waiter.h).  A waiter is owned by its
 * connection's hold list and referenced from one object wait list; both
 * links are cut together in waiter_finish.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conn.h"
#include "reply.h"
#include "server.h"
#include "waiter.h"

static void waiter_release(struct hold *h);

static const struct hold_ops waiter_hold_ops = {
	.what = "waiting request", .release = waiter_release
};

/* w left unserved and is freed: let the requests behind it move. */
static void waiter_left(void (*left)(void *, uint32_t), void *obj, uint32_t arg)
{
	if (left)
		left(obj, arg);
}

static void waiter_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	void (*left)(void *, uint32_t) = w->left;
	void *obj = w->left_obj;
	uint32_t larg = w->left_arg;

	reply_error(w->conn, w->id, -ETIMEDOUT, "timed out");
	waiter_finish(w);
	waiter_left(left, obj, larg);
}

/* Free w once it is off both lists (or before it was put on them). */
static void waiter_free(struct waiter *w)
{
	if (w->timer)
		event_free(w->timer);
	if (w->mem_used)
		*w->mem_used -= w->len;
	free(w->data);
	free(w);
}

struct waiter *waiter_park(struct conn *c, uint32_t id, unsigned op, struct waitq *wq,
			   int64_t timeout_ms, const void *data, size_t len, size_t *mem_used)
{
	struct waiter *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	if (data) {
		w->data = malloc(len ? len : 1);
		if (!w->data)
			goto fail;
		memcpy(w->data, data, len);
		w->len = len;
		w->mem_used = mem_used;
		if (mem_used)
			*mem_used += len;
	}
	if (timeout_ms >= 0) {
		int ms = timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

		w->timer = evtimer_new(c->srv->base, waiter_timeout_cb, w);
		if (!w->timer || evtimer_add(w->timer, &tv) < 0)
			goto fail;
	}
	w->hold.ops = &waiter_hold_ops;
	w->conn = c;
	w->id = id;
	w->op = op;
	w->wq = wq;
	TAILQ_INSERT_TAIL(wq, w, link);
	TAILQ_INSERT_TAIL(&c->holds, &w->hold, link);
	c->nwaiting++;
	return w;
fail:
	waiter_free(w);
	return NULL;
}

unsigned waiter_count(const struct waitq *wq)
{
	const struct waiter *w;
	unsigned n = 0;

	TAILQ_FOREACH(w, wq, link)
		n++;
	return n;
}

void waiter_finish(struct waiter *w)
{
	TAILQ_REMOVE(w->wq, w, link);
	TAILQ_REMOVE(&w->conn->holds, &w->hold, link);
	w->conn->nwaiting--;
	waiter_free(w);
}

/* The connection is gone: cancel without an answer.  Already off conn->holds. */
static void waiter_release(struct hold *h)
{
	struct waiter *w = container_of(h, struct waiter, hold);
	void (*left)(void *, uint32_t) = w->left;
	void *obj = w->left_obj;
	uint32_t larg = w->left_arg;

	TAILQ_REMOVE(w->wq, w, link);
	w->conn->nwaiting--;
	waiter_free(w);
	waiter_left(left, obj, larg);
}

void waiter_fail_all(struct waitq *wq, int status, const char *msg)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(wq))) {
		reply_error(w->conn, w->id, status, "%s", msg);
		waiter_finish(w);
	}
}

void waiter_fail_conn(struct conn *c, int status, const char *msg)
{
	struct hold *h, *next;

	for (h = TAILQ_FIRST(&c->holds); h; h = next) {
		next = TAILQ_NEXT(h, link);
		if (h->ops != &waiter_hold_ops)
			continue;
		struct waiter *w = container_of(h, struct waiter, hold);

		reply_error(c, w->id, status, "%s", msg);
		waiter_finish(w);
	}
}
