/*
 * cqueue.c - a cluster queue's data path: messages fetched from its stream
 * for this ipcd's gets, and their acknowledgements.
 *
 * The stream holds the messages; every ipcd that opened the queue shares
 * one durable pull consumer of it.  This ipcd pulls only for the demand it
 * has (parked gets, prefetch credit), keeps what a pull brought in the
 * queue's store like a local queue's messages, and from there the common
 * code hands them over.  Each record's id is a key to its ack subject here:
 * a message that leaves for good (a plain get, a task_done) is acknowledged
 * (+ACK, and the stream drops it); one given back (its client went, or
 * nobody here wants it any more) is refused (-NAK) and the engine delivers
 * it again at once, ahead of newer ones, counted as delivered once more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cluster.h"
#include "conn.h"
#include "consumer.h"
#include "cqueue.h"
#include "cqueue_int.h"
#include "log.h"
#include "server.h"

/* How long fetched messages wait here for a get before they go back (ms). */
#define CQ_HOLD_MS 1000

/* Most messages one pull asks for. */
#define CQ_PULL_MAX 256u

/* A pull waits this long for messages before the engine ends it (ms). */
#define CQ_PULL_EXPIRES 2000

/* A pull ended here for want of an answer may bring messages this long after (ms). */
#define CQ_STALE_MS 30000

unsigned cqueue_replicas(const struct queue *q)
{
	return q->cq ? q->cq->replicas : 0;
}

uint64_t cqueue_duplicates(const struct queue *q)
{
	return q->cq ? q->cq->duplicates : 0;
}

static int key_add(struct cqueue *cq, const char *subject, uint64_t *key)
{
	char *copy;

	if (cq->hi - cq->lo == cq->cap) {
		size_t cap = cq->cap ? cq->cap * 2 : 1024;
		char **a = calloc(cap, sizeof *a);

		if (!a)
			return -ENOMEM;
		for (uint64_t k = cq->lo; k < cq->hi; k++)
			a[k & (cap - 1)] = cq->acks[k & (cq->cap - 1)];
		free(cq->acks);
		cq->acks = a;
		cq->cap = cap;
	}
	copy = strdup(subject);
	if (!copy)
		return -ENOMEM;
	cq->acks[cq->hi & (cq->cap - 1)] = copy;
	*key = cq->hi++;
	return 0;
}

void cq_finish_key(struct cqueue *cq, uint64_t key, bool ack)
{
	uint64_t delivered, sseq;
	char **slot;

	if (key < cq->lo || key >= cq->hi)
		return;
	slot = &cq->acks[key & (cq->cap - 1)];
	if (!*slot)
		return;
	js_ack_info(*slot, &delivered, &sseq);
	cseen_finished(&cq->seen, sseq, ack);
	/* Fire and forget: a lost ack or NAK means a redelivery after the ack wait. */
	if (cluster_publish(cq->q->obj.srv->cluster, *slot, ack ? "+ACK" : "-NAK", 4) < 0)
		log_debug("queue '%s': %s not sent: the cluster is unreachable", cq->q->obj.name,
			  ack ? "an acknowledgement" : "a NAK");
	free(*slot);
	*slot = NULL;
	while (cq->lo < cq->hi && !cq->acks[cq->lo & (cq->cap - 1)])
		cq->lo++;
}

/* Give back every message of s (oldest first) and empty it. */
static void give_back_store(struct queue *q, struct msgstore *s)
{
	struct msgrec rec;

	while (msgstore_peek_rec(s, &rec) == 0) {
		cq_finish_key(q->cq, rec.id, false);
		q->obj.srv->mem_used -= rec.len;
		msgstore_pop(s);
	}
	msgstore_clear(s);
}

void cq_drop_store(struct queue *q, bool nak)
{
	struct msgrec rec;

	if (nak) {
		give_back_store(q, &q->store);
		return;
	}
	while (msgstore_peek_rec(&q->store, &rec) == 0) {
		free(q->cq->acks[rec.id & (q->cq->cap - 1)]);
		q->cq->acks[rec.id & (q->cq->cap - 1)] = NULL;
		q->obj.srv->mem_used -= rec.len;
		msgstore_pop(&q->store);
	}
	while (q->cq->lo < q->cq->hi && !q->cq->acks[q->cq->lo & (q->cq->cap - 1)])
		q->cq->lo++;
	msgstore_clear(&q->store);
}

/* How many messages this ipcd's clients wait for now. */
static size_t demand(const struct queue *q)
{
	const struct waiter *w;
	const struct consumer *cs;
	size_t n = 0;

	TAILQ_FOREACH(w, &q->getters, link)
		n += w->max ? w->max : 1;
	TAILQ_FOREACH(cs, &q->consumers, link)
		n += consumer_room(cs);
	return n;
}

/*
 * Fetched messages nobody here waits for any more (the gets they were pulled
 * for were served by fewer, or timed out) are kept for the next gets a
 * moment (CQ_HOLD_MS), then go back: held longer, the engine would deliver
 * them again elsewhere after the ack wait while this ipcd could still hand
 * them out.
 */
static void give_back_unwanted(struct queue *q)
{
	struct timeval tv = { CQ_HOLD_MS / 1000, (CQ_HOLD_MS % 1000) * 1000 };

	if (q->store.count && !demand(q) && !evtimer_pending(q->cq->hold, NULL))
		evtimer_add(q->cq->hold, &tv);
}

static void hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;

	if (!q->store.count || demand(q))
		return;
	/* Newer messages may still come from the pull in flight: given back
	 * now, these would be delivered again after them.  Wait for its end. */
	if (q->cq->pulling || q->cq->stale) {
		give_back_unwanted(q);
		return;
	}
	give_back_store(q, &q->store);
}

/*
 * A delivery again of a message this ipcd still holds, or acknowledged and
 * the engine had not heard yet (its ack wait ran out on the way, on a loaded
 * machine): the same message, not a new one to hand out after newer ones.
 * A held one stays where it is (its first ack subject still settles it); a
 * finished one is acknowledged again, in case the first was lost.
 */
static bool seen_again(struct queue *q, const char *ack, uint64_t sseq)
{
	switch (cseen_state(&q->cq->seen, sseq)) {
	case CSEEN_UNKNOWN:
		return false;
	case CSEEN_DONE:
		cluster_publish(q->obj.srv->cluster, ack, "+ACK", 4);
		break;
	case CSEEN_HELD:
		break;
	}
	q->cq->duplicates++;
	log_debug("queue '%s': message %llu delivered again while here: dropped", q->obj.name,
		  (unsigned long long)sseq);
	return true;
}

static void add_fetched(struct queue *q, natsMsg *m)
{
	const char *ack = natsMsg_GetReply(m);
	int len = natsMsg_GetDataLength(m);
	uint64_t key, delivered, sseq;

	if (!ack || len < 0)
		return;
	js_ack_info(ack, &delivered, &sseq);
	if (delivered > 1 && seen_again(q, ack, sseq))
		return;
	if (key_add(q->cq, ack, &key) < 0 || cseen_fetched(&q->cq->seen, sseq) < 0) {
		/* Cannot track it: give it back rather than lose it. */
		cluster_publish(q->obj.srv->cluster, ack, "-NAK", 4);
		return;
	}
	if (msgstore_put_rec(&q->store, natsMsg_GetData(m), (size_t)len, key,
			     delivered > 1 ? MSG_REDELIVERED : 0) < 0) {
		cq_finish_key(q->cq, key, false);
		return;
	}
	q->obj.srv->mem_used += (size_t)len;
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	queue_settle(arg);
}

/* The pull in flight is over: the next may go. */
static void pull_over(struct queue *q)
{
	q->cq->pulling = false;
	evtimer_del(q->cq->pull_end);
}

/* The pull in flight is given up on (no answer in time, the connection
 * lost): the next may go, but its late messages could still come. */
static void pull_abandon(struct queue *q)
{
	struct cqueue *cq = q->cq;
	struct timeval tv = { CQ_STALE_MS / 1000, 0 };

	if (!cq->pulling)
		return;
	pull_over(q);
	cq->stale = true;
	evtimer_add(cq->stale_end, &tv);
}

/* No pull is in flight, nor will any late message come (the subscription went). */
static void pull_forget(struct queue *q)
{
	pull_over(q);
	q->cq->stale = false;
	evtimer_del(q->cq->stale_end);
}

static void pull_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;

	log_debug("queue '%s': pull %llu not ended by the engine in time", q->obj.name,
		  (unsigned long long)q->cq->pull_no);
	pull_abandon(q);
	queue_settle(q);
	give_back_unwanted(q);
}

static void stale_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;

	q->cq->stale = false;
	give_back_unwanted(q);
}

/* The number of the pull a status was sent for: the last token of its subject. */
static uint64_t status_pull(natsMsg *m)
{
	const char *subj = natsMsg_GetSubject(m), *dot = subj ? strrchr(subj, '.') : NULL;

	return dot ? strtoull(dot + 1, NULL, 10) : 0;
}

/* A message or a status to the pulls' subscription. */
static bool pull_cb(void *arg, natsMsg *m, int status)
{
	struct queue *q = arg;
	struct cqueue *cq = q->cq;
	/* No message: "no responders" (the consumer is gone), for the pull in flight. */
	int st = m ? cluster_msg_status(m) : 503;

	if (st) {
		uint64_t no = m ? status_pull(m) : cq->pull_no;

		/* The newest pull is over, so is every one before it: their
		 * messages came before this.  (An older one's end says nothing of
		 * the newer ones, which it may have been counted for.) */
		if (cq->stale && no >= cq->pull_no) {
			cq->stale = false;
			evtimer_del(cq->stale_end);
		}
		if (no != cq->pull_no || !cq->pulling)
			goto out;  /* the late end of a pull given up on */
		/* 408/404: the pull ended empty.  Anything else (the consumer or the
		 * stream gone, no leader yet): wait a little before the next one. */
		pull_over(q);
		if (st != 408 && st != 404) {
			struct timeval tv = { 0, 200000 };

			log_debug("queue '%s': pull ended with status %d", q->obj.name, st);
			evtimer_add(cq->backoff, &tv);
		}
	} else {
		add_fetched(q, m);
		if (cq->pulling && cq->pull_left && --cq->pull_left == 0)
			pull_over(q);
	}
out:
	queue_settle(q);
	give_back_unwanted(q);
	return true;
}

/* The backend's take: pull for what this ipcd's clients wait for. */
static void cq_take(struct queue *q)
{
	struct cqueue *cq = q->cq;
	struct cluster *cl = q->obj.srv->cluster;
	struct timeval tv = { CQ_PULL_EXPIRES / 1000 + 3, 0 };
	size_t want = demand(q);
	char body[96], reply[sizeof cq->inbox + 24];
	int rc;

	if (cq->pulling || !q->obj.linked || evtimer_pending(cq->backoff, NULL) ||
	    !cluster_connected(cl) || want <= q->store.count)
		return;
	if (!cq->sub && cluster_subscribe(cl, pull_cb, q, &cq->sub, cq->inbox,
					  sizeof cq->inbox) < 0)
		return;
	want -= q->store.count;
	if (want > CQ_PULL_MAX)
		want = CQ_PULL_MAX;
	snprintf(body, sizeof body, "{\"batch\":%zu,\"expires\":%lld}", want,
		 (long long)CQ_PULL_EXPIRES * 1000000);
	snprintf(reply, sizeof reply, "%s.%llu", cq->inbox, (unsigned long long)++cq->pull_no);
	rc = cluster_publish_reply(cl, cq->next, reply, body, strlen(body));
	if (rc == 0) {
		cq->pulling = true;
		cq->pull_left = want;
		evtimer_add(cq->pull_end, &tv);
	}
	log_debug("queue '%s': pull of %zu: %s", q->obj.name, want, rc ? strerror(-rc) : "sent");
}

static void cq_done(struct queue *q, const struct msgrec *rec)
{
	cq_finish_key(q->cq, rec->id, true);
}

/*
 * The backend's return: to the head of this ipcd's store, as a local queue
 * does, so that its next gets take them before anything fetched after them
 * (a NAK at once would let a message this ipcd had already fetched, newer in
 * the stream, go first).  If nobody here wants them, they go back to the
 * engine after the hold, oldest first, and are delivered again in order.
 */
static void cq_give_back(struct consumer *cs, bool all)
{
	consumer_splice_back(cs, all);
	give_back_unwanted(cs->q);
}

static void delete_cb_log(void *arg, natsMsg *m, int status, const char *stream)
{
	json_t *j = NULL;
	char err[256] = "";
	int rc = m ? js_reply(m, &j, err, sizeof err) : status;

	json_decref(j);
	if (rc < 0 && rc != -ENOENT)
		log_warn("cluster: stream %s not removed: %s", stream, err[0] ? err : strerror(-rc));
}

static bool delete_cb(void *arg, natsMsg *m, int status)
{
	delete_cb_log(arg, m, status, arg);
	free(arg);
	return false;
}

/* The queue's name was removed: so is its stream, for every ipcd. */
static void cq_unlinked(struct queue *q)
{
	struct cqueue *cq = q->cq;
	struct cluster *cl = q->obj.srv->cluster;
	char subject[JS_SUBJECT_MAX + 64], *name;
	uint32_t token;

	cluster_cancel(cl, cq->sub);
	cq->sub = 0;
	pull_forget(q);
	if (q->obj.srv->destroying) {
		/* ipcd stops; the queue stays in the cluster for the others. */
		cq_drop_store(q, true);
		return;
	}
	cq_puts_fail(q, -EIDRM, "the queue was removed");
	cq_drop_store(q, false);
	name = strdup(cq->stream);
	snprintf(subject, sizeof subject, "$JS.API.STREAM.DELETE.%s", cq->stream);
	if (!name || cluster_request(cl, subject, NULL, "", 0, CQ_API_MS, false, delete_cb, name,
				     &token) < 0) {
		log_warn("cluster: stream %s of queue '%s' not removed: the cluster is unreachable",
			 cq->stream, q->obj.name);
		free(name);
	}
}

static void free_timers(struct cqueue *cq)
{
	struct event **ev[] = { &cq->backoff, &cq->pull_end, &cq->stale_end, &cq->hold,
				&cq->progress };

	for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
		if (*ev[i]) {
			event_free(*ev[i]);
			*ev[i] = NULL;
		}
}

static void cq_destroy(struct queue *q)
{
	struct cqueue *cq = q->cq;

	cluster_cancel(q->obj.srv->cluster, cq->sub);
	cq_drop_store(q, true);
	for (uint64_t k = cq->lo; k < cq->hi; k++)
		free(cq->acks[k & (cq->cap - 1)]);
	free(cq->acks);
	cseen_free(&cq->seen);
	free_timers(cq);
	free(cq);
	q->cq = NULL;
}

/*
 * Every message this ipcd holds (fetched and waiting for a get, pushed to a
 * consumer, or got from an ack queue and not yet acknowledged) is in
 * progress as far as the engine knows: +WPI restarts its ack wait.  Without
 * it a message held longer than the ack wait (a slow consumer's prefetch, a
 * long task) would be delivered again elsewhere, behind newer ones, while
 * still held here.  Only when this ipcd dies do its messages come back, once
 * their ack wait runs out.
 */
static void progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	struct cqueue *cq = q->cq;
	struct cluster *cl = q->obj.srv->cluster;

	if (!cl || !cluster_connected(cl))
		return;
	for (uint64_t k = cq->lo; k < cq->hi; k++) {
		const char *ack = cq->acks[k & (cq->cap - 1)];

		if (ack)
			cluster_publish(cl, ack, "+WPI", 4);
	}
}

int cq_attach(struct queue *q, const char *stream, unsigned replicas)
{
	struct cqueue *cq = calloc(1, sizeof *cq);
	/* A third of the ack wait: two chances before it runs out. */
	unsigned ms = q->obj.srv->lim.cluster_ack_wait * 1000 / 3 < 100 ? 100 :
		      q->obj.srv->lim.cluster_ack_wait * 1000 / 3;
	struct timeval every = { ms / 1000, (ms % 1000) * 1000 };

	if (!cq)
		return -ENOMEM;
	cq->backoff = evtimer_new(q->obj.srv->base, backoff_cb, q);
	cq->pull_end = evtimer_new(q->obj.srv->base, pull_end_cb, q);
	cq->stale_end = evtimer_new(q->obj.srv->base, stale_end_cb, q);
	cq->hold = evtimer_new(q->obj.srv->base, hold_cb, q);
	cq->progress = event_new(q->obj.srv->base, -1, EV_PERSIST, progress_cb, q);
	if (!cq->backoff || !cq->pull_end || !cq->stale_end || !cq->hold || !cq->progress ||
	    event_add(cq->progress, &every) < 0) {
		free_timers(cq);
		free(cq);
		return -ENOMEM;
	}
	cq->q = q;
	snprintf(cq->stream, sizeof cq->stream, "%s", stream);
	js_subject(stream, cq->subject, sizeof cq->subject);
	snprintf(cq->next, sizeof cq->next, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, JS_CONSUMER);
	cq->replicas = replicas;
	TAILQ_INIT(&cq->puts);
	q->cq = cq;
	q->be = &cqueue_backend;
	return 0;
}

void cqueue_cluster_gone(struct server *srv)
{
	struct object *o;

	TAILQ_FOREACH(o, &srv->objects, link) {
		struct queue *q = o->kind == &queue_kind ? container_of(o, struct queue, obj) : NULL;

		if (!q || !q->cq)
			continue;
		cluster_cancel(srv->cluster, q->cq->sub);
		q->cq->sub = 0;
		pull_forget(q);
	}
}

void cqueue_cluster_state(struct server *srv, bool up)
{
	struct object *o, *next;

	for (o = TAILQ_FIRST(&srv->objects); o; o = next) {
		next = TAILQ_NEXT(o, link);
		if (o->kind != &queue_kind)
			continue;
		struct queue *q = container_of(o, struct queue, obj);

		if (!q->cq)
			continue;
		if (up) {
			cq_put_pump(q);
			queue_settle(q);
		} else {
			/* The engine forgot it: a new one on the next connection.  Messages
			 * it sent before may still be on their way to the loop. */
			pull_abandon(q);
		}
	}
}

const struct queue_backend cqueue_backend = {
	.where = "cluster",
	.put = cq_put,
	.size = cq_size,
	.peek = cq_peek,
	.purge = cq_purge,
	.join = cq_join,
	.take = cq_take,
	.done = cq_done,
	.give_back = cq_give_back,
	.unlinked = cq_unlinked,
	.destroy = cq_destroy,
};
