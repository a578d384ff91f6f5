/*
 * cqueue_ops.c - a cluster queue's requests that wait for the engine: the
 * open that looks a name up (and makes its stream), put and put_many (each
 * answered once JetStream acknowledged the message, that is once a quorum
 * of replicas stored it), size, peek, purge and join.
 *
 * Each such request is a struct cop: a hold on its connection (so a client
 * that goes cancels it, like a parked request), the engine request in
 * flight, and a deadline.  A put that meets a full stream, a lost
 * connection or a silent engine tries again, with the same message id so
 * that JetStream stores it once, until its timeout; puts of one queue are
 * sent in the order they came.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster.h"
#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "cqueue.h"
#include "cqueue_int.h"
#include "log.h"
#include "queue_int.h"
#include "reply.h"
#include "server.h"

enum cop_kind { COP_OPEN, COP_PUT, COP_SIZE, COP_PEEK, COP_PURGE, COP_JOIN };

/* One message of a put. */
struct cmsg {
	struct cop *op;
	uint32_t token;              /* its publish in flight, 0: none */
	size_t off, len;             /* in op->buf */
	bool stored;
};

struct cop {
	struct hold hold;            /* on conn->holds */
	TAILQ_ENTRY(cop) link;       /* a put: on cq->puts */
	enum cop_kind kind;
	struct conn *conn;
	uint32_t id;                 /* the request's */
	struct server *srv;
	struct queue *q;             /* referenced; NULL for an open */
	uint32_t token;              /* the API request in flight, 0: none */
	struct event *deadline;      /* answers -ETIMEDOUT; NULL without */
	struct event *again;         /* the next try or poll */
	int64_t give_up;             /* ms, monotonic: no new try after */
	int64_t timeout;             /* the request's (ms; < 0 none) */
	bool many;
	bool queued;                 /* a put on cq->puts */
	size_t n, stored, next;      /* a put's messages, stored, next to send */
	struct cmsg *msgs;
	char *buf;                   /* a put's messages; an open's frame */
	size_t buflen;               /* an open's frame; a put's bytes, in srv->mem_used */
	uint64_t id_base;            /* a put's first Nats-Msg-Id number */
	uint64_t seq;                /* a peek's: the stream's first sequence */
	/* An open. */
	int stage;                   /* 0 info, 1 stream create, 2 consumer create */
	bool create;
	char stream[JS_NAME_MAX];
	char name[IPC_NAME_MAX + 1];
	size_t namelen;
	struct js_attrs attrs;
};

static void cop_release(struct hold *h);

static const struct hold_ops cop_hold_ops = {
	.what = "cluster request", .release = cop_release
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cop_deadline_cb(evutil_socket_t fd, short what, void *arg);
static void cop_again_cb(evutil_socket_t fd, short what, void *arg);

static struct cop *cop_new(enum cop_kind kind, struct conn *c, uint32_t id, struct queue *q,
			   int64_t timeout)
{
	struct cop *op = calloc(1, sizeof *op);
	int64_t wait = timeout < 0 ? CQ_UNREACHABLE_MS : timeout;

	if (!op)
		return NULL;
	op->again = evtimer_new(c->srv->base, cop_again_cb, op);
	if (timeout > 0) {
		struct timeval tv = { timeout / 1000, (timeout % 1000) * 1000 };

		op->deadline = evtimer_new(c->srv->base, cop_deadline_cb, op);
		if (op->deadline && evtimer_add(op->deadline, &tv) < 0) {
			event_free(op->deadline);
			op->deadline = NULL;
		}
	}
	if (!op->again || (timeout > 0 && !op->deadline)) {
		if (op->again)
			event_free(op->again);
		if (op->deadline)
			event_free(op->deadline);
		free(op);
		return NULL;
	}
	op->kind = kind;
	op->conn = c;
	op->id = id;
	op->srv = c->srv;
	op->q = q;
	op->timeout = timeout;
	op->give_up = now_ms() + wait;
	if (q)
		object_ref(&q->obj);
	op->hold.ops = &cop_hold_ops;
	TAILQ_INSERT_TAIL(&c->holds, &op->hold, link);
	return op;
}

/* Free op, off its connection's list already; cancel what it waits for. */
static void cop_free(struct cop *op)
{
	struct cluster *cl = op->srv->cluster;
	struct queue *q = op->q;

	cluster_cancel(cl, op->token);
	for (size_t i = 0; i < op->n; i++) {
		if (op->msgs[i].token) {
			cluster_cancel(cl, op->msgs[i].token);
			q->cq->puts_sent--;
		}
	}
	if (op->queued)
		TAILQ_REMOVE(&q->cq->puts, op, link);
	if (op->deadline)
		event_free(op->deadline);
	event_free(op->again);
	if (op->kind == COP_PUT)
		op->srv->mem_used -= op->buflen;
	free(op->msgs);
	free(op->buf);
	free(op);
	if (q) {
		/* Puts behind it may go now. */
		if (q->cq)
			cq_put_pump(q);
		object_unref(&q->obj);
	}
}

/* op is answered (or its connection is going): it is over. */
static void cop_end(struct cop *op)
{
	TAILQ_REMOVE(&op->conn->holds, &op->hold, link);
	cop_free(op);
}

static void cop_release(struct hold *h)
{
	cop_free(container_of(h, struct cop, hold));
}

/* Answer op with an error and end it. */
static void cop_fail(struct cop *op, int status, const char *fmt, const char *why)
{
	if (op->kind == COP_PUT && op->many && op->stored) {
		/* put_many: what was stored is counted; the client sends the rest again. */
		reply_uint(op->conn, op->id, op->stored);
	} else {
		reply_error(op->conn, op->id, status, fmt, why);
	}
	cop_end(op);
}

static void cop_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cop *op = arg;

	cop_fail(op, -ETIMEDOUT, "%s", "timed out");
}

/* May op try again after status?  Only before it gives up. */
static bool cop_retry(struct cop *op, int status, int delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	/* A full queue is waited on as long as the put may wait; an unreachable
	 * cluster only as long as the put's timeout, or CQ_UNREACHABLE_MS. */
	if (op->timeout == 0 || (now_ms() + delay_ms > op->give_up &&
				 !(status == -EAGAIN && op->timeout < 0)))
		return false;
	evtimer_add(op->again, &tv);
	return true;
}

/* The engine said the queue's stream is gone: so is the queue, here too. */
static void queue_gone(struct queue *q)
{
	if (q->obj.linked) {
		log_info("queue '%s': its stream %s was removed from the cluster", q->obj.name,
			 q->cq->stream);
		object_unlink(&q->obj);
	}
}

/* ---- put ---- */

static bool put_ack_cb(void *arg, natsMsg *m, int status);

static int put_send(struct cop *op, size_t i)
{
	struct queue *q = op->q;
	struct cmsg *cm = &op->msgs[i];
	char id[64];

	static pid_t pid;

	/* Unique in the duplicate window: this ipcd (pid, start) and a counter. */
	if (!pid)
		pid = getpid();
	snprintf(id, sizeof id, "%d-%llx-%llu", (int)pid, (unsigned long long)op->srv->started,
		 (unsigned long long)(op->id_base + i));
	return cluster_request(op->srv->cluster, q->cq->subject, id, op->buf + cm->off, cm->len,
			       CQ_API_MS, false, put_ack_cb, cm, &cm->token);
}

/* The puts' messages that may go now: in order, within the window. */
void cq_put_pump(struct queue *q)
{
	struct cqueue *cq = q->cq;
	/* A bounded stream may refuse one and take the next: one at a time keeps order. */
	size_t window = q->maxsize || q->maxbytes ? 1 : CQ_PUT_WINDOW;
	struct cop *op, *next;

	if (!q->obj.linked)
		return;
	for (op = TAILQ_FIRST(&cq->puts); op; op = next) {
		next = TAILQ_NEXT(op, link);
		if (evtimer_pending(op->again, NULL))
			return;  /* waiting to try again: nothing overtakes it */
		while (op->next < op->n && cq->puts_sent < window) {
			int rc = put_send(op, op->next);

			if (rc == -EMSGSIZE) {
				cop_fail(op, rc, "%s", "the message exceeds the cluster's payload limit");
				break;
			}
			if (rc < 0) {
				if (!cop_retry(op, rc, 100))
					cop_fail(op, -EHOSTUNREACH, "%s", "the cluster is unreachable");
				return;
			}
			cq->puts_sent++;
			op->next++;
		}
		if (cq->puts_sent >= window)
			return;
	}
}

static bool put_ack_cb(void *arg, natsMsg *m, int status)
{
	struct cmsg *cm = arg;
	struct cop *op = cm->op;
	struct queue *q = op->q;
	char err[256] = "";
	json_t *j = NULL;
	int rc = m ? js_reply(m, &j, err, sizeof err) : status;

	json_decref(j);
	cm->token = 0;
	q->cq->puts_sent--;
	if (rc == 0) {
		cm->stored = true;
		/* Only the leading run counts: a put_many's answer is a prefix. */
		while (op->stored < op->n && op->msgs[op->stored].stored)
			op->stored++;
		q->puts++;
		if (op->stored == op->n) {
			if (op->many)
				reply_uint(op->conn, op->id, op->n);
			else
				reply_ok(op->conn, op->id);
			cop_end(op);
		} else {
			cq_put_pump(q);
		}
		return false;
	}
	if (rc == -ENOENT) {
		object_ref(&q->obj);
		cop_fail(op, -EIDRM, "%s", "the queue was removed");
		queue_gone(q);
		object_unref(&q->obj);
		return false;
	}
	/* Full, unreachable, no answer: send it again later (same id: stored once). */
	if (rc == -EAGAIN || rc == -EHOSTUNREACH || rc == -ETIMEDOUT) {
		log_debug("queue '%s': put of message %zu again: %s", q->obj.name,
			  (size_t)(cm - op->msgs), err[0] ? err : strerror(-rc));
		for (size_t i = 0; i < op->n; i++)
			if (op->msgs[i].token) {
				cluster_cancel(op->srv->cluster, op->msgs[i].token);
				op->msgs[i].token = 0;
				q->cq->puts_sent--;
			}
		op->next = op->stored;
		if (cop_retry(op, rc, rc == -EAGAIN ? 20 : 100))
			return false;
		if (rc == -EAGAIN)
			cop_fail(op, op->timeout == 0 ? -EAGAIN : -ETIMEDOUT, "queue '%s' is full",
				 q->obj.name);
		else
			cop_fail(op, rc, "the cluster: %s", err[0] ? err : strerror(-rc));
		return false;
	}
	cop_fail(op, rc, "%s", err);
	return false;
}

void cq_put(struct req *r, struct queue *q, const msgpack_object *msgs, size_t n, bool many)
{
	struct server *srv = r->srv;
	size_t bytes = 0, k;
	struct cop *op;

	/* Waiting for the engine, the messages count in ipcd's memory budget. */
	for (k = 0; k < n; k++) {
		uint32_t len;

		proto_bytes(&msgs[k], &len);
		if (len > srv->lim.max_message || (q->maxbytes && len > q->maxbytes) ||
		    (srv->lim.max_memory &&
		     server_mem_total(srv) + bytes + len > srv->lim.max_memory))
			break;
		bytes += len;
	}
	if (k == 0 && n > 0) {
		uint32_t len;

		proto_bytes(&msgs[0], &len);
		if (len > srv->lim.max_message || (q->maxbytes && len > q->maxbytes))
			reply_error(r->conn, r->id, -EMSGSIZE,
				    "message of %u bytes exceeds the limit of %zu", len,
				    len > srv->lim.max_message ? srv->lim.max_message : q->maxbytes);
		else
			reply_error(r->conn, r->id, -ENOBUFS,
				    "ipcd's memory budget of %zu bytes is used up",
				    srv->lim.max_memory);
		return;
	}
	if (n == 0) {
		reply_uint(r->conn, r->id, 0);
		return;
	}
	if (!cluster_connected(srv->cluster)) {
		reply_error(r->conn, r->id, -EHOSTUNREACH, "queue '%s' is in the cluster, which is "
			    "unreachable", q->obj.name);
		return;
	}
	op = cop_new(COP_PUT, r->conn, r->id, q, proto_i64(&r->argv[1]));
	if (op) {
		op->msgs = calloc(k, sizeof *op->msgs);
		op->buf = malloc(bytes ? bytes : 1);
	}
	if (!op || !op->msgs || !op->buf) {
		if (op)
			cop_end(op);
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	op->kind = COP_PUT;
	op->many = many;
	op->n = k;
	op->buflen = bytes;
	srv->mem_used += bytes;
	op->id_base = q->cq->msg_ids;
	q->cq->msg_ids += k;
	bytes = 0;
	for (size_t i = 0; i < k; i++) {
		uint32_t len;
		const char *data = proto_bytes(&msgs[i], &len);

		memcpy(op->buf + bytes, data, len);
		op->msgs[i] = (struct cmsg){ .op = op, .off = bytes, .len = len };
		bytes += len;
	}
	TAILQ_INSERT_TAIL(&q->cq->puts, op, link);
	op->queued = true;
	cq_put_pump(q);
}

void cq_puts_fail(struct queue *q, int status, const char *msg)
{
	struct cop *op;

	while ((op = TAILQ_FIRST(&q->cq->puts)))
		cop_fail(op, status, "%s", msg);
}

/* ---- size, peek, purge, join: one API request each ---- */

static bool api_cb(void *arg, natsMsg *m, int status);

static int api_send(struct cop *op)
{
	struct cqueue *cq = op->q ? op->q->cq : NULL;
	const char *stream = cq ? cq->stream : op->stream;
	char subject[JS_SUBJECT_MAX + 96], *body = NULL;
	int rc;

	switch (op->kind) {
	case COP_SIZE:
		snprintf(subject, sizeof subject, "$JS.API.CONSUMER.INFO.%s.%s", stream, JS_CONSUMER);
		break;
	case COP_PURGE:
		snprintf(subject, sizeof subject, "$JS.API.STREAM.PURGE.%s", stream);
		break;
	case COP_PEEK:
		if (op->stage == 1) {
			snprintf(subject, sizeof subject, "$JS.API.STREAM.MSG.GET.%s", stream);
			body = malloc(48);
			if (body)
				snprintf(body, 48, "{\"seq\":%llu}", (unsigned long long)op->seq);
			break;
		}
		/* The stream's first sequence first. */
		snprintf(subject, sizeof subject, "$JS.API.STREAM.INFO.%s", stream);
		break;
	case COP_JOIN:
		snprintf(subject, sizeof subject, "$JS.API.STREAM.INFO.%s", stream);
		break;
	case COP_OPEN:
		if (op->stage == 0) {
			snprintf(subject, sizeof subject, "$JS.API.STREAM.INFO.%s", stream);
		} else if (op->stage == 1) {
			snprintf(subject, sizeof subject, "$JS.API.STREAM.CREATE.%s", stream);
			body = js_stream_config(stream, op->name, &op->attrs);
		} else {
			snprintf(subject, sizeof subject, "$JS.API.CONSUMER.DURABLE.CREATE.%s.%s",
				 stream, JS_CONSUMER);
			body = js_consumer_config(stream, op->srv->lim.cluster_ack_wait);
		}
		break;
	case COP_PUT:
		return -EINVAL;
	}
	if (op->stage && (op->kind == COP_OPEN || op->kind == COP_PEEK) && !body)
		return -ENOMEM;
	rc = cluster_request(op->srv->cluster, subject, NULL, body ? body : "",
			     body ? strlen(body) : 0, CQ_API_MS, false, api_cb, op, &op->token);
	free(body);
	return rc;
}

/* Send op's request; one that cannot go now fails op. */
static void api_start(struct cop *op)
{
	int rc = api_send(op);

	if (rc < 0 && !cop_retry(op, rc, 100))
		cop_fail(op, rc, "the cluster: %s", strerror(-rc));
}

static void cop_again_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cop *op = arg;

	if (op->kind == COP_PUT)
		cq_put_pump(op->q);
	else
		api_start(op);
}

static void cq_api(struct req *r, struct queue *q, enum cop_kind kind, int64_t timeout)
{
	struct cop *op;

	if (!cluster_connected(r->srv->cluster)) {
		reply_error(r->conn, r->id, -EHOSTUNREACH, "queue '%s' is in the cluster, which is "
			    "unreachable", q->obj.name);
		return;
	}
	op = cop_new(kind, r->conn, r->id, q, timeout);
	if (!op) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	api_start(op);
}

void cq_size(struct req *r, struct queue *q)
{
	cq_api(r, q, COP_SIZE, CQ_API_MS);
}

void cq_peek(struct req *r, struct queue *q)
{
	const void *data;
	size_t len;

	/* The oldest message fetched here is the oldest this ipcd would hand out. */
	if (msgstore_peek(&q->store, &data, &len) == 0) {
		reply_data(r->conn, r->id, data, len);
		return;
	}
	cq_api(r, q, COP_PEEK, CQ_API_MS);
}

void cq_purge(struct req *r, struct queue *q)
{
	cq_api(r, q, COP_PURGE, CQ_API_MS);
}

void cq_join(struct req *r, struct queue *q, int64_t timeout)
{
	cq_api(r, q, COP_JOIN, timeout);
}

/* The peek's second reply: the message itself. */
static void peek_reply(struct cop *op, json_t *j)
{
	const char *data = json_string_value(json_object_get(json_object_get(j, "message"),
							     "data"));
	char *copy = strdup(data ? data : "");
	ssize_t len = copy ? js_base64_decode(copy) : -1;

	if (len < 0)
		reply_error(op->conn, op->id, -EIO, "JetStream sent a message it cannot decode");
	else
		reply_data(op->conn, op->id, copy, (size_t)len);
	free(copy);
}

static void open_step(struct cop *op, int rc, json_t *j, const char *err);

static bool api_cb(void *arg, natsMsg *m, int status)
{
	struct cop *op = arg;
	struct queue *q = op->q;
	char err[256] = "";
	json_t *j = NULL;
	int rc = m ? js_reply(m, &j, err, sizeof err) : status;
	int64_t n;

	op->token = 0;
	if (op->kind == COP_OPEN) {
		open_step(op, rc, j, err[0] ? err : strerror(-rc));
	} else if (rc == -ENOENT) {
		object_ref(&q->obj);
		cop_fail(op, -EIDRM, "%s", "the queue was removed");
		queue_gone(q);
		object_unref(&q->obj);
	} else if (rc < 0) {
		if (!((rc == -EHOSTUNREACH || rc == -ETIMEDOUT) && cop_retry(op, rc, 100)))
			cop_fail(op, rc, "the cluster: %s", err[0] ? err : strerror(-rc));
	} else if (op->kind == COP_SIZE) {
		n = js_int(j, "num_pending", NULL, 0);
		reply_uint(op->conn, op->id, (uint64_t)n + q->store.count);
		cop_end(op);
	} else if (op->kind == COP_PURGE) {
		n = js_int(j, "purged", NULL, 0);
		cq_drop_store(q, false);
		log_info("client %llu (pid %d) purged %lld messages from cluster queue '%s'",
			 (unsigned long long)op->conn->id, (int)op->conn->pid, (long long)n,
			 q->obj.name);
		reply_uint(op->conn, op->id, (uint64_t)n);
		cop_end(op);
	} else if (op->kind == COP_PEEK && op->stage == 0) {
		if (js_int(j, "state", "messages", 0) == 0) {
			cop_fail(op, -EAGAIN, "queue '%s' is empty", q->obj.name);
		} else {
			op->stage = 1;
			op->seq = (uint64_t)js_int(j, "state", "first_seq", 0);
			api_start(op);
		}
	} else if (op->kind == COP_PEEK) {
		peek_reply(op, j);
		cop_end(op);
	} else if ((n = js_int(j, "state", "messages", 0)) == 0) {
		reply_ok(op->conn, op->id);  /* join: nothing unfinished */
		cop_end(op);
	} else if (op->timeout == 0) {
		reply_error(op->conn, op->id, -EAGAIN, "%lld messages of '%s' are not finished",
			    (long long)n, q->obj.name);
		cop_end(op);
	} else {
		struct timeval poll = { 0, 50000 };

		evtimer_add(op->again, &poll);
	}
	json_decref(j);
	return false;
}

/* ---- open ---- */

/* Dispatch op's open frame again, now that the queue is here (made: by this open). */
static void open_again(struct cop *op, struct object *made)
{
	struct conn *c = op->conn;
	struct server *srv = op->srv;
	char *frame = op->buf;
	size_t len = op->buflen;

	op->buf = NULL;
	cop_end(op);
	if (!conn_gone(c)) {
		srv->open_made = made;
		srv->open_again = true;
		cmd_dispatch(c, frame, len);
		srv->open_made = NULL;
		srv->open_again = false;
	}
	free(frame);
}

/* The local queue standing for stream op->stream, with attributes a. */
static int open_make(struct cop *op, const struct js_attrs *a, struct queue **out,
		     const char **why)
{
	struct server *srv = op->srv;
	struct queue *q;

	*why = "out of memory";
	if (srv->nobjects >= srv->lim.max_objects) {
		*why = "ipcd holds its maximum of objects";
		return -ENOSPC;
	}
	q = queue_new(true);
	if (!q)
		return -ENOMEM;
	if (object_link(srv, &q->obj, &queue_kind, op->name, op->namelen, a->uid, a->gid,
			a->mode ? a->mode : IPC_MODE_DEFAULT) < 0) {
		free(q);
		return -ENOMEM;
	}
	if (cq_attach(q, op->stream, a->replicas) < 0) {
		object_unlink(&q->obj);
		return -ENOMEM;
	}
	q->obj.ctime = (time_t)a->ctime;
	q->maxsize = a->maxsize;
	q->maxbytes = a->maxbytes;
	q->ack = a->ack;
	*out = q;
	return 0;
}

static void open_step(struct cop *op, int rc, json_t *j, const char *err)
{
	struct js_attrs a;
	struct queue *q = NULL;
	struct object *o;
	const char *why;

	if (op->stage == 0 && rc == -ENOENT && !op->create) {
		open_again(op, NULL);  /* not in the cluster either: the gate says -ENOENT */
		return;
	}
	if (op->stage == 0 && rc == -ENOENT) {
		op->stage = 1;
		api_start(op);
		return;
	}
	if (rc == -EIO && op->stage == 1 && strstr(err, "already in use")) {
		op->stage = 0;  /* another ipcd made it meanwhile: open that one */
		op->create = false;
		api_start(op);
		return;
	}
	/* The stream was made a moment ago, or found: a server that has not
	 * heard of it yet may answer the consumer's create "not found". */
	if (rc < 0) {
		if (!((rc == -EHOSTUNREACH || rc == -ETIMEDOUT || (rc == -ENOENT && op->stage == 2)) &&
		      cop_retry(op, rc, 200)))
			cop_fail(op, rc == -EIO ? -EIO : rc, "the cluster: %s", err);
		return;
	}
	if (op->stage == 1) {
		op->stage = 2;
		api_start(op);
		return;
	}
	if (op->stage == 0 && js_attrs_of(j, &a) < 0) {
		cop_fail(op, -EINVAL, "stream %s is not an ipcd queue", op->stream);
		return;
	}
	if (op->stage == 2)
		a = op->attrs;
	/* Opened meanwhile by another client of this ipcd: that one stands. */
	o = object_find(op->srv, op->name, op->namelen);
	if (o) {
		open_again(op, NULL);
		return;
	}
	rc = open_make(op, &a, &q, &why);
	if (rc < 0) {
		cop_fail(op, rc, "%s", why);
		return;
	}
	if (op->stage == 2)
		log_info("client %llu (pid %d) created %scluster queue '%s' (%u replicas, stream %s)",
			 (unsigned long long)op->conn->id, (int)op->conn->pid, a.ack ? "ack " : "",
			 op->name, a.replicas, op->stream);
	open_again(op, op->stage == 2 ? &q->obj : NULL);
}

int cqueue_lookup(struct req *r, const char *name, size_t len, uint64_t flags,
		  const void *args, char *err, size_t errlen)
{
	const struct queue_open_args *a = args;
	struct server *srv = r->srv;
	bool create = flags & IPC_OPEN_CREATE;
	char copy[IPC_NAME_MAX + 1];
	bool mapped;
	unsigned replicas;
	struct cop *op;

	snprintf(copy, sizeof copy, "%.*s", (int)len, name);
	mapped = srv->cluster && srv->cluster_queues && fnmatch(srv->cluster_queues, copy, 0) == 0;
	replicas = a->replicas ? a->replicas : mapped ? srv->lim.cluster_replicas : 0;
	if (!srv->cluster)
		return 0;  /* queue_open_create refuses replicas */
	if (create && !replicas)
		return 0;  /* a local queue */
	if (!cluster_connected(srv->cluster)) {
		if (!replicas)
			return 0;
		snprintf(err, errlen, "queue '%s' would be in the cluster, which is unreachable",
			 copy);
		return -EHOSTUNREACH;
	}
	op = cop_new(COP_OPEN, r->conn, r->id, NULL, CQ_API_MS * 2);
	if (op)
		op->buf = malloc(r->len);
	if (!op || !op->buf) {
		if (op)
			cop_end(op);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(op->buf, r->body, r->len);
	op->buflen = r->len;
	op->create = create;
	memcpy(op->name, copy, len + 1);
	op->namelen = len;
	js_stream_name(name, len, op->stream);
	op->attrs = (struct js_attrs){
		.maxsize = a->maxsize ? a->maxsize : srv->lim.queue_maxsize,
		.maxbytes = a->maxbytes ? a->maxbytes : srv->lim.queue_maxbytes,
		.mode = a->mode ? a->mode : IPC_MODE_DEFAULT,
		.uid = r->conn->uid, .gid = r->conn->gid, .ack = a->ack,
		.replicas = replicas, .ctime = time(NULL),
	};
	api_start(op);
	return 1;
}
