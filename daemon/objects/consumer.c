/*
 * consumer.c - per-handle in-flight messages of a queue (see consumer.h).
 *
 * In-flight messages still count in the daemon's memory use; they leave it
 * when finished (queue_forget, which also tells a durable queue's log).
 * Returning them is an O(1) splice of the in-flight chunks in front of the
 * queue's; unacknowledged messages are marked redelivered on the way.
 *
 * A prefetching client counts what it takes in a page it shares with the
 * daemon (consumer_share_taken), so a take needs no credit on the socket:
 * the daemon reads the count when it pushes, reports or settles a request,
 * and when the connection goes, so a consumer killed between two credits
 * is still exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conn.h"
#include "consumer.h"
#include "log.h"
#include "qlog.h"
#include "qring.h"
#include "queue.h"
#include "server.h"

static void consumer_release(struct hold *h);

static const struct hold_ops consumer_hold_ops = {
	.what = "queue consumer", .release = consumer_release
};

struct consumer *consumer_of(struct handle *h, bool create)
{
	struct queue *q = container_of(h->obj, struct queue, obj);
	struct consumer *cs;

	if (h->ext || !create)
		return h->ext ? container_of(h->ext, struct consumer, hold) : NULL;
	cs = calloc(1, sizeof *cs);
	if (!cs)
		return NULL;
	cs->hold.ops = &consumer_hold_ops;
	cs->q = q;
	cs->conn = h->conn;
	cs->handle = h->num;
	cs->lane = -1;
	msgstore_init_ids(&cs->inflight, q->store.ids);
	msgstore_init_ids(&cs->unacked, q->store.ids);
	object_ref(&q->obj);
	TAILQ_INSERT_TAIL(&q->consumers, cs, link);
	h->ext = &cs->hold;
	return cs;
}

static size_t page_bytes(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

int consumer_share_taken(struct consumer *cs)
{
	struct server *srv = cs->q->obj.srv;
	size_t bytes = page_bytes();
	void *mem;
	int fd, err;

	if (cs->taken_page)
		return -EEXIST;
	/* Counted with the shared arrays; past the budget the client credits. */
	if (srv->shm_used > srv->lim.max_shm || bytes > srv->lim.max_shm - srv->shm_used)
		return -ENOSPC;
	fd = memfd_create("ipcd-taken", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Sealed at one page: the client can neither shrink it under the
	 * daemon's reads (SIGBUS) nor grow it. */
	if (ftruncate(fd, (off_t)bytes) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	mem = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		goto fail;
	cs->taken_page = mem;
	cs->taken = 0;
	srv->shm_used += bytes;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

void consumer_unshare_taken(struct consumer *cs)
{
	if (!cs->taken_page)
		return;
	munmap((void *)cs->taken_page, page_bytes());
	cs->taken_page = NULL;
	cs->q->obj.srv->shm_used -= page_bytes();
}

void consumer_sync(struct consumer *cs)
{
	size_t n = consumer_unsynced(cs);

	if (!n)
		return;
	cs->taken += n;
	if (cs->q->ack)
		consumer_take(cs, n);
	else
		consumer_finish(cs, n);
}

void consumer_finish(struct consumer *cs, size_t n)
{
	while (n-- && cs->inflight.count)
		queue_forget(cs->q, &cs->inflight);
}

void consumer_take(struct consumer *cs, size_t n)
{
	while (n-- && cs->inflight.count) {
		struct msgrec rec;

		msgstore_peek_rec(&cs->inflight, &rec);
		if (msgstore_move(&cs->unacked, &cs->inflight) < 0) {
			/* Cannot keep it for task_done: count it done rather than lose track. */
			queue_forget(cs->q, &cs->inflight);
			continue;
		}
		if (cs->q->log)
			qlog_take(cs->q, rec.id);
	}
}

int consumer_ack(struct consumer *cs)
{
	if (!cs->unacked.count)
		return -EINVAL;
	queue_forget(cs->q, &cs->unacked);
	cs->q->acked++;
	return 0;
}

/* Drop every message of s as finished (the queue was removed). */
static void drop_all(struct consumer *cs, struct msgstore *s)
{
	while (s->count)
		queue_forget(cs->q, s);
	msgstore_clear(s);
}

void consumer_return(struct consumer *cs, bool all)
{
	struct queue *q = cs->q;
	size_t back = cs->inflight.count + (all ? cs->unacked.count : 0);

	if (!back)
		return;
	log_debug("client %llu: %zu in-flight messages return to queue '%s'",
		  (unsigned long long)cs->conn->id, back, q->obj.name);
	if (!q->obj.linked) {
		/* The queue was removed: its messages are gone, and these with them. */
		drop_all(cs, &cs->inflight);
		if (all)
			drop_all(cs, &cs->unacked);
		return;
	}
	q->be->give_back(cs, all);
	queue_settle(q);
}

void consumer_splice_back(struct consumer *cs, bool all)
{
	struct queue *q = cs->q;

	msgstore_splice_front(&q->store, &cs->inflight);
	if (all && cs->unacked.count) {
		q->redelivered += cs->unacked.count;
		msgstore_mark(&cs->unacked, MSG_REDELIVERED);
		msgstore_splice_front(&q->store, &cs->unacked);
	}
}

/* The handle is closed (or its connection gone): give everything back. */
static void consumer_release(struct hold *h)
{
	struct consumer *cs = container_of(h, struct consumer, hold);
	struct queue *q = cs->q;

	/* What the client took before it went is finished, or unacknowledged. */
	consumer_sync(cs);
	if (cs->lane >= 0 && q->ring)
		qring_lane_give(q, (unsigned)cs->lane, cs->conn->pid);
	consumer_unshare_taken(cs);
	TAILQ_REMOVE(&q->consumers, cs, link);
	cs->prefetch = 0;
	/* Off the list first, so that the settle below pushes nothing back to it. */
	consumer_return(cs, true);
	msgstore_clear(&cs->inflight);
	msgstore_clear(&cs->unacked);
	object_unref(&q->obj);
	free(cs);
}
