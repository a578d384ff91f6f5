/*
 * queue.c - named FIFO queues: the object kind and its handlers.
 *
 * A queue owns its stored messages (a msgstore) and three FIFO wait lists:
 * parked gets, parked puts holding their messages, and parked joins.  After
 * anything that changes it, queue_settle() serves waiters until no more can
 * be served, so no request stays parked while it could be answered.
 *
 * On an ack queue a message got is not dropped but moved to the getting
 * handle's consumer (consumer.c) until task_done; if the handle goes first
 * it returns to the head, marked redelivered.  A durable queue tells its log
 * (qlog.c) of every message put, taken and finished; its store gives each
 * message an id for that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "consumer.h"
#include "log.h"
#include "qlog.h"
#include "queue.h"
#include "reply.h"
#include "server.h"

static struct queue *queue_of(struct object *o)
{
	return container_of(o, struct queue, obj);
}

/* Is there room for a message of len bytes after n more messages of bytes? */
static bool queue_has_room(const struct queue *q, size_t n, size_t bytes, size_t len)
{
	if (q->maxsize && q->store.count + n >= q->maxsize)
		return false;
	if (q->maxbytes && q->store.bytes + bytes + len > q->maxbytes)
		return false;
	return true;
}

/*
 * Store msgs[0..k) (bin or str objects) in order; the caller checked room
 * and the memory budget.  On a durable queue the messages get ids and their
 * records are written first, in one write: if that fails nothing is stored.
 * Returns how many were stored; when not all, *why and err say why.
 */
static size_t queue_store(struct queue *q, const msgpack_object *msgs, size_t k, int *why,
			  char *err, size_t errlen)
{
	uint64_t first = q->next_id;
	uint32_t len;
	const char *data;
	size_t i;
	int rc = 0;

	if (q->log) {
		qlog_put_begin(q);
		for (i = 0; i < k && rc == 0; i++) {
			data = proto_bytes(&msgs[i], &len);
			rc = qlog_put_add(q, first + i, data, len);
		}
		if (rc == 0)
			rc = qlog_put_commit(q);
		if (rc < 0) {
			*why = rc;
			snprintf(err, errlen, "cannot write the log of durable queue '%s': %s",
				 q->obj.name, strerror(-rc));
			return 0;
		}
		q->next_id += k;
	}
	for (i = 0; i < k; i++) {
		data = proto_bytes(&msgs[i], &len);
		if (msgstore_put_rec(&q->store, data, len, q->log ? first + i : 0, 0) < 0)
			break;
		q->obj.srv->mem_used += len;
		q->puts++;
	}
	if (i < k) {
		*why = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		/* Logged but not stored: finished, so that no restart brings them back. */
		for (size_t j = i; q->log && j < k; j++) {
			proto_bytes(&msgs[j], &len);
			qlog_done(q, first + j, len);
		}
	}
	return i;
}

/* Answer put request id of c, whose k messages are stored. */
static void queue_reply_stored(struct queue *q, struct conn *c, uint32_t id, bool many,
			       size_t k)
{
	if (q->log)
		qlog_reply_put(q, c, id, many, (uint32_t)k);
	else if (many)
		reply_uint(c, id, k);
	else
		reply_ok(c, id);
}

void queue_forget(struct queue *q, struct msgstore *s)
{
	struct msgrec rec;

	msgstore_peek_rec(s, &rec);
	q->obj.srv->mem_used -= rec.len;
	if (q->log)
		qlog_done(q, rec.id, rec.len);
	msgstore_pop(s);
}

/*
 * The consumer that takes an ack queue's messages for handle hnum of c, or
 * NULL when that handle is gone (closed while its get waited) or no memory.
 */
static struct consumer *queue_taker(struct queue *q, struct conn *c, uint32_t hnum)
{
	struct handle *h = conn_handle_find(c, hnum);

	if (!h || h->obj != &q->obj)
		return NULL;
	return consumer_of(h, true);
}

/*
 * Move the oldest message of an ack queue to cs as got and not acknowledged.
 * Without memory to track it the message stays queued (false): it will be
 * delivered again rather than lost.
 */
static bool queue_take_head(struct queue *q, struct consumer *cs)
{
	struct msgrec rec;

	msgstore_peek_rec(&q->store, &rec);
	if (msgstore_move(&cs->unacked, &q->store) < 0)
		return false;
	if (q->log)
		qlog_take(q, rec.id);
	return true;
}

/*
 * Answer get request id of c (on its handle hnum) with the oldest message:
 * drop it, or on an ack queue hand it to the handle's consumer.  The reply
 * of an ack queue's get also carries the message's flags.
 */
static void queue_hand_over(struct queue *q, struct conn *c, uint32_t id, uint32_t hnum)
{
	struct consumer *cs = NULL;
	struct msgrec rec;
	msgpack_packer *pk;

	if (q->ack && !(cs = queue_taker(q, c, hnum))) {
		reply_error(c, id, -EBADF, "queue '%s' was closed before its get was served",
			    q->obj.name);
		return;
	}
	msgstore_peek_rec(&q->store, &rec);
	if (!q->ack) {
		reply_data(c, id, rec.data, rec.len);
		queue_forget(q, &q->store);
		q->gets++;
		return;
	}
	pk = reply_begin(c, id, 0, 2);
	msgpack_pack_bin(pk, rec.len);
	msgpack_pack_bin_body(pk, rec.data, rec.len);
	msgpack_pack_uint32(pk, rec.flags & MSG_REDELIVERED ? IPC_MSGFLAG_REDELIVERED : 0);
	reply_end(c);
	if (queue_take_head(q, cs))
		q->gets++;
}

/* How many of the oldest messages fit one batch of at most max. */
static size_t queue_batch(const struct queue *q, size_t max)
{
	if (max > IPC_BATCH_MAX_MSGS)
		max = IPC_BATCH_MAX_MSGS;
	return q->store.count < max ? q->store.count : max;
}

/*
 * Pack up to n of the oldest messages as an array into pk (whose frame the
 * caller ends), bounded by max_bytes past the first, then on an
 * ack queue the array of their flags.  Each message is dropped, or moved to
 * cs: as pushed ahead (push), or on an ack queue as got and not acknowledged.
 * Returns how many were packed.
 */
static size_t queue_pack_batch(struct queue *q, msgpack_packer *pk, size_t n, size_t max_bytes,
			       struct consumer *cs, bool push)
{
	struct msgstore *st = &q->store;
	struct msgcursor cur = msgstore_cursor(st);
	unsigned char flags[IPC_BATCH_MAX_MSGS];
	struct msgrec rec;
	size_t k = 0, bytes = 0;

	/* Count first: the array header precedes the messages. */
	while (k < n && msgstore_next_rec(&cur, &rec)) {
		if (k && bytes + rec.len > max_bytes)
			break;
		bytes += rec.len;
		k++;
	}
	msgpack_pack_array(pk, (uint32_t)k);
	for (size_t i = 0; i < k; i++) {
		msgstore_peek_rec(st, &rec);
		msgpack_pack_bin(pk, rec.len);
		msgpack_pack_bin_body(pk, rec.data, rec.len);
		flags[i] = rec.flags & MSG_REDELIVERED ? IPC_MSGFLAG_REDELIVERED : 0;
		if (push) {
			if (msgstore_move(&cs->inflight, st) < 0)
				queue_forget(q, &q->store);
		} else if (!cs || !queue_take_head(q, cs)) {
			queue_forget(q, &q->store);
		}
		q->gets++;
	}
	if (q->ack) {
		msgpack_pack_array(pk, (uint32_t)k);
		for (size_t i = 0; i < k; i++)
			msgpack_pack_uint32(pk, flags[i]);
	}
	return k;
}

/* Answer get_many request id of c (on its handle hnum) with up to max messages. */
static void queue_hand_over_many(struct queue *q, struct conn *c, uint32_t id, uint32_t hnum,
				 size_t max)
{
	struct consumer *cs = NULL;

	if (q->ack && !(cs = queue_taker(q, c, hnum))) {
		reply_error(c, id, -EBADF, "queue '%s' was closed before its get was served",
			    q->obj.name);
		return;
	}
	queue_pack_batch(q, reply_begin(c, id, 0, q->ack ? 2 : 1), queue_batch(q, max),
			 IPC_BATCH_MAX_BYTES, cs, false);
	reply_end(c);
}

/* Push a batch of prefetched messages to consumer cs. */
static void queue_push(struct queue *q, struct consumer *cs)
{
	msgpack_packer *pk = push_begin(cs->conn, IPC_PUSH_MSGS, q->ack ? 3 : 2);

	msgpack_pack_uint32(pk, cs->handle);
	queue_pack_batch(q, pk, queue_batch(q, consumer_room(cs)), IPC_STREAM_BATCH_BYTES, cs, true);
	reply_end(cs->conn);
}

size_t queue_unfinished(const struct queue *q)
{
	const struct consumer *cs;
	size_t n = q->store.count;

	TAILQ_FOREACH(cs, &q->consumers, link)
		n += cs->inflight.count + cs->unacked.count;
	return n;
}

static void queue_settle_cb(void *q, uint32_t unused)
{
	queue_settle(q);
}

void queue_settle(struct queue *q)
{
	bool progress = true;

	while (progress) {
		struct waiter *w;
		struct consumer *cs, *next;

		progress = false;
		while ((w = TAILQ_FIRST(&q->getters)) && q->store.count) {
			/* Never hand a message to a connection that is going away. */
			if (!conn_gone(w->conn)) {
				if (w->op == IPC_OP_Q_GET_MANY)
					queue_hand_over_many(q, w->conn, w->id, w->handle, w->max);
				else
					queue_hand_over(q, w->conn, w->id, w->handle);
			}
			waiter_finish(w);
			progress = true;
		}
		while ((w = TAILQ_FIRST(&q->putters)) && queue_has_room(q, 0, 0, w->len)) {
			msgpack_object msg = { .type = MSGPACK_OBJECT_BIN,
					       .via.bin = { w->len, w->data } };
			char err[160];
			int why;

			/* A put whose client is going away is not stored: it never
			 * learns that it was, and would put it again. */
			if (conn_gone(w->conn)) {
				waiter_finish(w);
				continue;
			}
			/* waiter_finish un-counts the parked copy; the stored one counts. */
			if (queue_store(q, &msg, 1, &why, err, sizeof err) == 1)
				queue_reply_stored(q, w->conn, w->id, w->op == IPC_OP_Q_PUT_MANY, 1);
			else if (why == -ENOMEM)
				break;
			else
				reply_error(w->conn, w->id, why, "%s", err);
			waiter_finish(w);
			progress = true;
		}
		/* Prefetching consumers, in turn; one served goes to the back. */
		for (cs = TAILQ_FIRST(&q->consumers); cs && q->store.count && TAILQ_EMPTY(&q->getters);
		     cs = next) {
			next = TAILQ_NEXT(cs, link);
			if (!consumer_room(cs) || conn_gone(cs->conn))
				continue;
			queue_push(q, cs);
			TAILQ_REMOVE(&q->consumers, cs, link);
			TAILQ_INSERT_TAIL(&q->consumers, cs, link);
			progress = true;
			break;
		}
	}
	if (!TAILQ_EMPTY(&q->joiners) && !queue_unfinished(q)) {
		struct waiter *w;

		while ((w = TAILQ_FIRST(&q->joiners))) {
			reply_ok(w->conn, w->id);
			waiter_finish(w);
		}
	}
}

static void queue_unlinked(struct object *o)
{
	struct queue *q = queue_of(o);
	struct consumer *cs;

	if (q->log)
		qlog_remove(q);
	waiter_fail_all(&q->getters, -EIDRM, "the queue was removed");
	waiter_fail_all(&q->putters, -EIDRM, "the queue was removed");
	waiter_fail_all(&q->joiners, -EIDRM, "the queue was removed");
	TAILQ_FOREACH(cs, &q->consumers, link) {
		consumer_finish(cs, cs->inflight.count);
		while (consumer_ack(cs) == 0)
			;
		/* A prefetching client waits for pushes, not for a reply: tell it. */
		if (cs->prefetch && !cs->conn->dead) {
			msgpack_pack_uint32(push_begin(cs->conn, IPC_PUSH_REMOVED, 1), cs->handle);
			reply_end(cs->conn);
		}
	}
	o->srv->mem_used -= q->store.bytes;
	msgstore_clear(&q->store);
}

static void queue_destroy(struct object *o)
{
	struct queue *q = queue_of(o);

	o->srv->mem_used -= q->store.bytes;
	msgstore_clear(&q->store);
	free(q);
}

void queue_meta(const struct queue *q, struct qlog_meta *m)
{
	m->name = q->obj.name;
	m->uid = q->obj.uid;
	m->gid = q->obj.gid;
	m->mode = q->obj.mode;
	m->maxsize = q->maxsize;
	m->maxbytes = q->maxbytes;
	m->ack = q->ack;
	m->ctime = q->obj.ctime;
}

static void queue_owner_changed(struct object *o)
{
	struct queue *q = queue_of(o);
	struct qlog_meta m;

	if (!q->log)
		return;
	queue_meta(q, &m);
	qlog_set_meta(q, &m);
}

static unsigned queue_nstat(const struct object *o)
{
	return 16;
}

static void queue_stat(const struct object *o, msgpack_packer *pk)
{
	const struct queue *q = container_of(o, const struct queue, obj);
	const struct consumer *cs;
	size_t pushed = 0, unacked = 0, consumers = 0;

	TAILQ_FOREACH(cs, &q->consumers, link) {
		pushed += cs->inflight.count;
		unacked += cs->unacked.count;
		consumers++;
	}
	proto_pack_kv_u64(pk, "depth", q->store.count);
	proto_pack_kv_u64(pk, "bytes", q->store.bytes);
	proto_pack_kv_u64(pk, "maxsize", q->maxsize);
	proto_pack_kv_u64(pk, "maxbytes", q->maxbytes);
	proto_pack_kv_u64(pk, "getters", waiter_count(&q->getters));
	proto_pack_kv_u64(pk, "putters", waiter_count(&q->putters));
	proto_pack_kv_u64(pk, "joiners", waiter_count(&q->joiners));
	proto_pack_kv_u64(pk, "puts", q->puts);
	proto_pack_kv_u64(pk, "gets", q->gets);
	proto_pack_kv_u64(pk, "inflight", pushed + unacked);
	proto_pack_kv_u64(pk, "unacked", unacked);
	proto_pack_kv_u64(pk, "acked", q->acked);
	proto_pack_kv_u64(pk, "redelivered", q->redelivered);
	proto_pack_kv_u64(pk, "consumers", consumers);
	proto_pack_kv_u64(pk, "ack", q->ack);
	proto_pack_kv_u64(pk, "durable", q->log != NULL);
}

/* A new queue, not yet named. */
static struct queue *queue_new(bool durable)
{
	struct queue *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	msgstore_init_ids(&q->store, durable);
	TAILQ_INIT(&q->getters);
	TAILQ_INIT(&q->putters);
	TAILQ_INIT(&q->joiners);
	TAILQ_INIT(&q->consumers);
	q->next_id = 1;
	return q;
}

struct queue *queue_restore(struct server *srv, const struct qlog_meta *meta, uint64_t next_id)
{
	struct queue *q = queue_new(true);

	if (!q)
		return NULL;
	q->maxsize = meta->maxsize;
	q->maxbytes = meta->maxbytes;
	q->ack = meta->ack;
	q->next_id = next_id;
	if (object_link(srv, &q->obj, &queue_kind, meta->name, strlen(meta->name), meta->uid,
			meta->gid, meta->mode) < 0) {
		free(q);
		return NULL;
	}
	q->obj.ctime = meta->ctime;
	return q;
}

int queue_restore_msg(struct queue *q, uint64_t id, const void *data, size_t len,
		      unsigned flags)
{
	int rc = msgstore_put_rec(&q->store, data, len, id, flags);

	if (rc == 0)
		q->obj.srv->mem_used += len;
	return rc;
}

/* ---- open: the kind's part (the gate in cmd.c does the rest) ---- */

/* A queue.open's attributes. */
struct queue_open_args {
	size_t maxsize, maxbytes;    /* 0: the daemon's defaults */
	mode_t mode;                 /* 0: IPC_MODE_DEFAULT */
	bool ack, durable;
};

_Static_assert(sizeof(struct queue_open_args) <= OBJECT_OPEN_ARGS_MAX,
	       "queue.open's arguments exceed OBJECT_OPEN_ARGS_MAX");

/* The attribute map (argv[2], a map or nil): unsigned integers of known names. */
static int queue_open_parse(const struct req *r, void *args, char *err, size_t errlen)
{
	static const char *const known[] = { IPC_ATTR_MAXSIZE, IPC_ATTR_MAXBYTES, IPC_ATTR_MODE,
					     IPC_ATTR_ACK, IPC_ATTR_DURABLE };
	const msgpack_object *m = &r->argv[2];
	struct queue_open_args *a = args;

	if (m->type == MSGPACK_OBJECT_NIL)
		return 0;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
		size_t j;

		for (j = 0; j < sizeof known / sizeof known[0]; j++)
			if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(known[j]) &&
			    memcmp(k->via.str.ptr, known[j], k->via.str.size) == 0)
				break;
		if (j == sizeof known / sizeof known[0] ||
		    v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
			snprintf(err, errlen, "queue attributes are unsigned integers named maxsize, "
				 "maxbytes, mode, ack, durable");
			return -EINVAL;
		}
		if (j == 0) {
			a->maxsize = v->via.u64;
		} else if (j == 1) {
			a->maxbytes = v->via.u64;
		} else if (j == 2 && v->via.u64 > 0777) {
			snprintf(err, errlen, "mode %llo has bits beyond 0777",
				 (unsigned long long)v->via.u64);
			return -EINVAL;
		} else if (j == 2) {
			a->mode = (mode_t)v->via.u64;
		} else if (j == 3) {
			a->ack = v->via.u64 != 0;
		} else {
			a->durable = v->via.u64 != 0;
		}
	}
	return 0;
}

static int queue_open_create(struct req *r, const char *name, size_t len, const void *args,
			     struct object **out, char *err, size_t errlen)
{
	const struct queue_open_args *a = args;
	struct server *srv = r->srv;
	struct queue *q = queue_new(a->durable);

	if (!q || object_link(srv, &q->obj, &queue_kind, name, len, r->conn->uid, r->conn->gid,
			      a->mode ? a->mode : IPC_MODE_DEFAULT) < 0) {
		free(q);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->maxsize = a->maxsize ? a->maxsize : srv->lim.queue_maxsize;
	q->maxbytes = a->maxbytes ? a->maxbytes : srv->lim.queue_maxbytes;
	q->ack = a->ack;
	log_info("client %llu (pid %d) created %s%squeue '%s'", (unsigned long long)r->conn->id,
		 (int)r->conn->pid, a->durable ? "durable " : "", q->ack ? "ack " : "", q->obj.name);
	*out = &q->obj;
	return 0;
}

/* A durable queue created by this open gets its log, before anyone is told it exists. */
static int queue_open_finish(struct req *r, struct handle *h, bool created, const void *args,
			     char *err, size_t errlen)
{
	const struct queue_open_args *a = args;
	struct queue *q = queue_of(h->obj);
	struct qlog_meta meta;
	char why[PATH_MAX + 64];
	int rc;

	if (!created || !a->durable)
		return 0;
	queue_meta(q, &meta);
	rc = qlog_create(r->srv, q, &meta, why, sizeof why);
	if (rc < 0)
		snprintf(err, errlen, "durable queue '%s': %s", q->obj.name, why);
	return rc;
}

const struct object_kind queue_kind = {
	.kind = IPC_KIND_QUEUE,
	.name = "queue",
	.open = {
		.flags = IPC_OPEN_CREATE | IPC_OPEN_EXCLUSIVE | IPC_OPEN_AUTOREMOVE,
		.parse = queue_open_parse,
		.create = queue_open_create,
		.finish = queue_open_finish,
	},
	.unlinked = queue_unlinked,
	.destroy = queue_destroy,
	.owner_changed = queue_owner_changed,
	.nstat = queue_nstat,
	.stat = queue_stat,
};

/*
 * May a message of len bytes enter q, after others of pending bytes?  0, or
 * a negative errno with its message.
 */
static int queue_put_check(struct queue *q, size_t len, size_t pending, char *err,
			   size_t errlen)
{
	struct server *srv = q->obj.srv;

	if (len > srv->lim.max_message) {
		snprintf(err, errlen, "message of %zu bytes exceeds the limit of %zu", len,
			 srv->lim.max_message);
		return -EMSGSIZE;
	}
	if (q->maxbytes && len > q->maxbytes) {
		snprintf(err, errlen, "message of %zu bytes exceeds the queue's maxbytes of %zu",
			 len, q->maxbytes);
		return -EMSGSIZE;
	}
	if (qlog_error(q)) {
		snprintf(err, errlen, "the log of durable queue '%s' failed and is being "
			 "rewritten", q->obj.name);
		return qlog_error(q);
	}
	if (srv->lim.max_memory &&
	    server_mem_total(srv) + pending + len > srv->lim.max_memory) {
		snprintf(err, errlen, "ipcd's memory budget of %zu bytes is used up",
			 srv->lim.max_memory);
		return -ENOBUFS;
	}
	return 0;
}

/*
 * Store msgs[0..n) in order while they fit.  Returns
 * how many were stored, and leaves the first refusal's status in *why.
 */
static size_t queue_put_some(struct queue *q, const msgpack_object *msgs, size_t n, int *why,
			     char *err, size_t errlen)
{
	size_t k, bytes = 0, stored;
	int rc;

	*why = 0;
	for (k = 0; k < n; k++) {
		uint32_t len;

		proto_bytes(&msgs[k], &len);
		*why = queue_put_check(q, len, bytes, err, errlen);
		if (*why < 0)
			break;
		/* Parked puts go first: a new put may not overtake them. */
		if (!TAILQ_EMPTY(&q->putters) || !queue_has_room(q, k, bytes, len)) {
			*why = -EAGAIN;
			snprintf(err, errlen, "queue '%s' is full", q->obj.name);
			break;
		}
		bytes += len;
	}
	if (!k)
		return 0;
	stored = queue_store(q, msgs, k, &rc, err, errlen);
	if (stored < k)
		*why = rc;
	return stored;
}

/* Nothing of r could be stored for want of room: park its first message or refuse. */
static void queue_put_wait(struct req *r, struct queue *q, const msgpack_object *msg,
			   int64_t timeout)
{
	uint32_t len;
	const char *data = proto_bytes(msg, &len);

	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is full", q->obj.name);
		return;
	}
	struct waiter *w = waiter_park(r->conn, r->id, r->op, &q->putters, timeout, data,
				       len, &r->srv->mem_used);

	if (!w) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	waiter_on_leave(w, queue_settle_cb, q, 0);
}

void queue_cmd_put(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	char err[160];
	int why;

	if (queue_put_some(q, &r->argv[2], 1, &why, err, sizeof err) == 1) {
		queue_reply_stored(q, r->conn, r->id, false, 1);
		queue_settle(q);
	} else if (why == -EAGAIN) {
		queue_put_wait(r, q, &r->argv[2], proto_i64(&r->argv[1]));
	} else {
		reply_error(r->conn, r->id, why, "%s", err);
	}
}

void queue_cmd_put_many(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	const msgpack_object_array *msgs = &r->argv[2].via.array;
	char err[160];
	size_t k;
	int why;

	if (msgs->size > IPC_BATCH_MAX_MSGS) {
		reply_error(r->conn, r->id, -EINVAL, "queue.put_many takes at most %u messages",
			    IPC_BATCH_MAX_MSGS);
		return;
	}
	for (uint32_t i = 0; i < msgs->size; i++) {
		if (msgs->ptr[i].type != MSGPACK_OBJECT_BIN && msgs->ptr[i].type != MSGPACK_OBJECT_STR) {
			reply_error(r->conn, r->id, -EINVAL, "queue.put_many: message %u is not binary data",
				    i + 1);
			return;
		}
	}
	k = queue_put_some(q, msgs->ptr, msgs->size, &why, err, sizeof err);
	if (msgs->size == 0) {
		reply_uint(r->conn, r->id, 0);
	} else if (k > 0) {
		/* A partial count: the client sends the rest again and meets the refusal. */
		queue_reply_stored(q, r->conn, r->id, true, k);
		queue_settle(q);
	} else if (why == -EAGAIN) {
		queue_put_wait(r, q, &msgs->ptr[0], proto_i64(&r->argv[1]));
	} else {
		reply_error(r->conn, r->id, why, "%s", err);
	}
}

/* A get or get_many of up to max messages. */
static void queue_get(struct req *r, int64_t timeout, uint32_t max)
{
	struct queue *q = queue_of(r->obj);
	struct waiter *w;

	if (q->store.count && TAILQ_EMPTY(&q->getters)) {
		if (r->op == IPC_OP_Q_GET_MANY)
			queue_hand_over_many(q, r->conn, r->id, r->handle->num, max);
		else
			queue_hand_over(q, r->conn, r->id, r->handle->num);
		queue_settle(q);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is empty", q->obj.name);
		return;
	}
	w = waiter_park(r->conn, r->id, r->op, &q->getters, timeout, NULL, 0, NULL);
	if (!w) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	w->max = max;
	w->handle = r->handle->num;
}

void queue_cmd_get(struct req *r)
{
	queue_get(r, proto_i64(&r->argv[1]), 1);
}

void queue_cmd_get_many(struct req *r)
{
	uint64_t max = r->argv[2].via.u64;

	if (max == 0) {
		reply_error(r->conn, r->id, -EINVAL, "queue.get_many: max must be at least 1");
		return;
	}
	queue_get(r, proto_i64(&r->argv[1]), max > IPC_BATCH_MAX_MSGS ? IPC_BATCH_MAX_MSGS :
		  (uint32_t)max);
}

void queue_cmd_prefetch(struct req *r)
{
	uint64_t n = r->argv[1].via.u64;
	struct consumer *cs = consumer_of(r->handle, n > 0);

	if (n > 0 && !cs) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	if (cs) {
		cs->prefetch = n > IPC_PREFETCH_MAX ? IPC_PREFETCH_MAX : (unsigned)n;
		/* Turned off: what was pushed and not taken goes back; the client drops
		 * the pushes it receives before this reply. */
		if (!n)
			consumer_return(cs, false);
	}
	reply_ok(r->conn, r->id);
	queue_settle(queue_of(r->obj));
}

void queue_cmd_credit(struct req *r)
{
	struct consumer *cs = consumer_of(r->handle, false);

	/* No reply: the client streams credits and waits for none. */
	if (!cs)
		return;
	if (cs->q->ack)
		consumer_take(cs, r->argv[1].via.u64);
	else
		consumer_finish(cs, r->argv[1].via.u64);
	queue_settle(cs->q);
}

void queue_cmd_size(struct req *r)
{
	reply_uint(r->conn, r->id, queue_of(r->obj)->store.count);
}

void queue_cmd_peek(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	const void *data;
	size_t len;

	if (msgstore_peek(&q->store, &data, &len) < 0) {
		reply_error(r->conn, r->id, -EAGAIN, "queue '%s' is empty", q->obj.name);
		return;
	}
	reply_data(r->conn, r->id, data, len);
}

void queue_cmd_stat(struct req *r)
{
	object_pack_stat(r->obj, reply_begin(r->conn, r->id, 0, 1));
	reply_end(r->conn);
}

void queue_cmd_purge(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	size_t n = q->store.count;

	if (q->log) {
		while (q->store.count)
			queue_forget(q, &q->store);
	} else {
		r->srv->mem_used -= q->store.bytes;
	}
	msgstore_clear(&q->store);
	log_info("client %llu (pid %d) purged %zu messages from '%s'",
		 (unsigned long long)r->conn->id, (int)r->conn->pid, n, q->obj.name);
	reply_uint(r->conn, r->id, n);
	queue_settle(q);
}

void queue_cmd_task_done(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	struct consumer *cs = consumer_of(r->handle, false);

	if (!q->ack) {
		reply_error(r->conn, r->id, -EINVAL, "queue '%s' was not created with ack: nothing "
			    "is in flight", q->obj.name);
		return;
	}
	if (!cs || consumer_ack(cs) < 0) {
		reply_error(r->conn, r->id, -EINVAL, "nothing got from '%s' through this open "
			    "waits for task_done", q->obj.name);
		return;
	}
	/* No reply: like credits, acknowledgements stream without round trips. */
	queue_settle(q);
}

void queue_cmd_join(struct req *r)
{
	struct queue *q = queue_of(r->obj);
	int64_t timeout = proto_i64(&r->argv[1]);
	size_t n = queue_unfinished(q);

	if (!n) {
		reply_ok(r->conn, r->id);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "%zu messages of '%s' are not finished", n,
			    q->obj.name);
		return;
	}
	if (!waiter_park(r->conn, r->id, r->op, &q->joiners, timeout, NULL, 0, NULL))
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
}
