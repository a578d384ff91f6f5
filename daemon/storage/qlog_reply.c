/*
 * qlog_reply.c - the replies of puts that wait for their log's fsync.
 *
 * Under the policy always a put is answered only once its records are on
 * disk: its reply waits in the state directory's list (struct qlog_ack)
 * until the end of the loop turn has fsynced the logs written in the turn,
 * and its connection is held (reads no further requests) meanwhile, so that
 * its replies keep their order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conn.h"
#include "queue.h"
#include "reply.h"
#include "store.h"

/* Hold c until the end of the turn: false without memory for it. */
static bool hold_conn(struct qlog_dir *d, struct conn *c)
{
	if (c->held)
		return true;
	if (d->nheld == d->heldcap) {
		size_t cap = d->heldcap ? d->heldcap * 2 : 16;
		struct conn **v = realloc(d->held, cap * sizeof *v);

		if (!v)
			return false;
		d->held = v;
		d->heldcap = cap;
	}
	c->held = true;
	d->held[d->nheld++] = c;
	return true;
}

static void answer(struct conn *c, uint32_t id, bool many, uint32_t count, int err,
		   const struct qlog *l)
{
	if (err)
		reply_error(c, id, -EIO, "the log of durable queue '%s' could not be made durable: "
			    "%s", qlog_queue_name(l), strerror(-err));
	else if (many)
		reply_uint(c, id, count);
	else
		reply_ok(c, id);
}

void qlog_reply_put(struct queue *q, struct conn *c, uint32_t id, bool many, uint32_t count)
{
	struct qlog *l = q->log;
	struct qlog_dir *d = l->dir;

	if (d->policy != QLOG_FSYNC_ALWAYS) {
		answer(c, id, many, count, 0, l);
		return;
	}
	if (d->nacks == d->ackcap) {
		size_t cap = d->ackcap ? d->ackcap * 2 : 64;
		struct qlog_ack *v = realloc(d->acks, cap * sizeof *v);

		if (v) {
			d->acks = v;
			d->ackcap = cap;
		}
	}
	if (d->nacks == d->ackcap || !hold_conn(d, c)) {
		/* No memory to wait with: sync this log now and answer. */
		qlog_sync(l);
		answer(c, id, many, count, l->broken, l);
		return;
	}
	d->acks[d->nacks++] = (struct qlog_ack){ c, l, id, many, count };
	qlog_mark_dirty(l);
}

void qlog_reply_answer(struct qlog_dir *d)
{
	for (size_t i = 0; i < d->nacks; i++) {
		struct qlog_ack *a = &d->acks[i];

		answer(a->c, a->id, a->many, a->count, a->l->broken, a->l);
	}
	d->nacks = 0;
}

void qlog_reply_release(struct qlog_dir *d)
{
	while (d->nheld) {
		struct conn *c = d->held[--d->nheld];

		c->held = false;
		if (c->dead)
			continue;
		conn_flush(c);
		/* It stopped reading frames while held. */
		event_active(c->rev, EV_READ, 0);
	}
}
