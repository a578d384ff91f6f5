/*
 * qring.c - ipcd's side of a local queue's shared-memory ring (see qring.h).
 *
 * Counting: h->count and h->bytes hold every queued message.  A producer
 * (ipcd too) reserves before it stores; a client consumer gives back after
 * it frees a slot.  Messages ipcd holds (front and spill) are published as a
 * difference: r->counted says how many of them the header already holds, and
 * qring_sync adds or takes the rest, so a message handed out from the front
 * leaves the count at the end of the turn that handed it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>

#include "codec.h"
#include "conn.h"
#include "log.h"
#include "qring.h"
#include "queue.h"
#include "server.h"

/* Attempts against other processes before ipcd leaves it for later. */
#define QRING_TRIES 64
/* How often the ring is re-checked while ipcd waits to hear of it (ms). */
#define QRING_TICK_MS 50

static void qring_wake(uint32_t *futex_word, uint32_t *sleepers)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(sleepers, __ATOMIC_RELAXED))
		return;
	__atomic_add_fetch(futex_word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, futex_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void qring_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	queue_settle(arg);
}

int qring_create(struct queue *q, size_t slots, size_t slot_bytes)
{
	struct server *srv = q->obj.srv;
	struct qring *r = calloc(1, sizeof *r);
	size_t n = 2;
	char name[32];
	int err;

	if (!r)
		return -ENOMEM;
	while (n < slots && n < (1u << 24))
		n <<= 1;
	slot_bytes = (slot_bytes + 7) & ~(size_t)7;
	if (slot_bytes < IPC_RING_SLOT_HDR + 8)
		slot_bytes = IPC_RING_SLOT_HDR + 8;
	r->memfd = -1;
	r->mem = MAP_FAILED;
	r->slots = (uint32_t)n;
	r->slot_bytes = (uint32_t)slot_bytes;
	r->payload_max = r->slot_bytes - IPC_RING_SLOT_HDR;
	r->maxsize = q->maxsize;
	r->maxbytes = q->maxbytes;
	r->size = IPC_RING_HDR_BYTES + n * slot_bytes;
	msgstore_init(&r->spill);
	/* Counted with the shared arrays: past the budget the queue goes by the socket. */
	if (srv->shm_used > srv->lim.max_shm || r->size > srv->lim.max_shm - srv->shm_used) {
		free(r);
		return -ENOSPC;
	}
	snprintf(name, sizeof name, "ipcd-ring");
	r->scratch = malloc(r->payload_max);
	r->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (!r->scratch || r->memfd < 0 || ftruncate(r->memfd, (off_t)r->size) < 0 ||
	    fcntl(r->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	r->mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	if (r->mem == MAP_FAILED)
		goto fail;
	r->tick = event_new(q->obj.srv->base, -1, EV_PERSIST, qring_tick_cb, q);
	if (!r->tick)
		goto fail;
	q->ring = r;
	if (qring_lanes_init(q) < 0) {
		q->ring = NULL;
		errno = ENOMEM;
		goto fail;
	}
	r->h = (struct ipc_ring_hdr *)(void *)r->mem;
	r->base = r->mem + IPC_RING_HDR_BYTES;
	/* The memfd is zeros: every slot holds its initial sequence (ipc_ring_seq). */
	r->h->version = IPC_RING_VERSION;
	r->h->hdr_bytes = IPC_RING_HDR_BYTES;
	r->h->slots = r->slots;
	r->h->slot_bytes = r->slot_bytes;
	r->h->maxsize = r->maxsize;
	r->h->maxbytes = r->maxbytes;
	r->h->ack = q->ack;
	__atomic_store_n(&r->h->magic, IPC_RING_MAGIC, __ATOMIC_RELEASE);
	srv->shm_used += r->size;
	return 0;
fail:
	err = errno ? -errno : -ENOMEM;
	if (r->tick)
		event_free(r->tick);
	if (r->mem != MAP_FAILED)
		munmap(r->mem, r->size);
	if (r->memfd >= 0)
		close(r->memfd);
	free(r->scratch);
	free(r);
	return err;
}

void qring_destroy(struct queue *q)
{
	struct qring *r = q->ring;

	if (!r)
		return;
	q->obj.srv->mem_used -= r->spill.bytes;
	q->obj.srv->shm_used -= r->size;
	msgstore_clear(&r->spill);
	qring_lanes_free(r);
	event_free(r->tick);
	munmap(r->mem, r->size);
	close(r->memfd);
	free(r->scratch);
	free(r);
	q->ring = NULL;
}

int qring_fd(const struct queue *q)
{
	return fcntl(q->ring->memfd, F_DUPFD_CLOEXEC, 0);
}

void qring_break(struct queue *q, const char *why, unsigned long long v)
{
	struct qring *r = q->ring;

	if (!r->broken)
		log_warn("queue '%s': its shared ring is corrupt (%s %llu); the queue fails",
			 q->obj.name, why, v);
	r->broken = true;
}

/* Write one message into a claimed slot of the ring; -EAGAIN if none is free. */
static int qring_write(struct qring *r, const void *data, size_t len)
{
	struct ipc_ring_slot *s;
	uint64_t pos;
	int rc = ipc_ring_claim(r->h, r->base, r->slot_bytes, r->slots, &pos, QRING_TRIES, NULL);

	if (rc < 0)
		return -EAGAIN;
	s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, pos);
	s->len = (uint32_t)len;
	memcpy(s->data, data, len);
	ipc_ring_commit(s, pos, r->slots, NULL);
	r->added = true;
	return 0;
}

int qring_put(struct queue *q, const void *data, size_t len)
{
	struct qring *r = q->ring;

	if (r->broken)
		return -EIO;
	qring_sync(q);
	if (ipc_ring_reserve(r->h, r->maxsize, r->maxbytes, 1, len) < 0)
		return -EAGAIN;
	if (!r->spill.count && len <= r->payload_max && qring_write(r, data, len) == 0)
		return 0;
	if (msgstore_put_rec(&r->spill, data, len, 0, 0) < 0) {
		ipc_ring_unreserve(r->h, 1, len);
		return -ENOMEM;
	}
	q->obj.srv->mem_used += len;
	r->counted++;
	r->counted_bytes += len;
	r->added = true;
	return 0;
}

/* Store the message in scratch at the front; false (kept) without memory. */
static bool qring_store_held(struct queue *q)
{
	struct qring *r = q->ring;

	if (msgstore_put_rec(&q->store, r->scratch, r->held, 0, 0) < 0)
		return false;
	q->obj.srv->mem_used += r->held;
	r->counted++;
	r->counted_bytes += r->held;
	r->has_held = false;
	return true;
}

/*
 * Take the ring's oldest message into the front.  0; -EAGAIN when none is
 * published at the head; -EIO when the ring is broken; -ENOMEM.
 */
static int qring_pop(struct queue *q)
{
	struct qring *r = q->ring;
	struct ipc_ring_slot *s;
	uint64_t pos;
	uint32_t len;

	if (r->has_held)
		return qring_store_held(q) ? 0 : -ENOMEM;
	if (r->broken)
		return -EIO;
	if (ipc_ring_take(r->h, r->base, r->slot_bytes, r->slots, &pos, QRING_TRIES, NULL) < 0)
		return -EAGAIN;
	s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, pos);
	len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
	if (len == IPC_RING_LEN_VOID) {
		/* Nothing in it; its producer's count is mended by the recount. */
		ipc_ring_free(s, pos, r->slots, NULL);
		return 0;
	}
	if (len > r->payload_max) {
		ipc_ring_free(s, pos, r->slots, NULL);
		qring_break(q, "slot length", len);
		return -EIO;
	}
	/* Copied once: a writer racing us cannot change what ipcd then checks. */
	memcpy(r->scratch, s->data, len);
	ipc_ring_free(s, pos, r->slots, NULL);
	r->held = len;
	r->has_held = true;
	return qring_store_held(q) ? 0 : -ENOMEM;
}

/* Nothing is claimed in the ring: its head has caught up with its tail. */
static bool qring_idle(const struct qring *r)
{
	return __atomic_load_n(&r->h->head, __ATOMIC_ACQUIRE) ==
	       __atomic_load_n(&r->h->tail, __ATOMIC_ACQUIRE);
}

void qring_fill(struct queue *q, size_t want)
{
	struct qring *r = q->ring;

	while (q->store.count < want) {
		int rc = qring_pop(q);

		if (rc == 0)
			continue;
		/* The spill is newer than the ring: it comes forward once the ring is
		 * empty, with no producer half-way into a slot. */
		if (rc != -EAGAIN || !r->spill.count || !qring_idle(r) ||
		    msgstore_move(&q->store, &r->spill) < 0)
			break;
	}
}

int qring_peek(struct queue *q, void **data, size_t *len)
{
	struct qring *r = q->ring;
	struct msgrec rec;

	for (unsigned tries = 0; !r->has_held && !r->broken && tries < QRING_TRIES; tries++) {
		uint64_t pos = __atomic_load_n(&r->h->head, __ATOMIC_ACQUIRE);
		struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, pos);
		uint32_t n;

		if (ipc_ring_seq(s, pos, r->slots) != pos + 1)
			break;
		n = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
		if (n == IPC_RING_LEN_VOID) {
			/* Passed over; what the take moved to the front (if it raced) is the oldest. */
			if (qring_pop(q) < 0)
				break;
			if (q->store.count) {
				msgstore_peek_rec(&q->store, &rec);
				goto copy;
			}
			continue;
		}
		if (n > r->payload_max)
			break;
		memcpy(r->scratch, s->data, n);
		/* Still there, unchanged, once copied: it was the head. */
		if (ipc_ring_seq(s, pos, r->slots) != pos + 1 ||
		    __atomic_load_n(&r->h->head, __ATOMIC_ACQUIRE) != pos)
			continue;
		*data = malloc(n ? n : 1);
		if (!*data)
			return -ENOMEM;
		memcpy(*data, r->scratch, n);
		*len = n;
		return 0;
	}
	if (r->has_held) {
		rec.data = r->scratch;
		rec.len = r->held;
	} else if (r->spill.count && qring_idle(r)) {
		msgstore_peek_rec(&r->spill, &rec);
	} else {
		return -EAGAIN;
	}
copy:
	*data = malloc(rec.len ? rec.len : 1);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, rec.data, rec.len);
	*len = rec.len;
	return 0;
}

/* Move spilled messages into the ring, oldest first, while they fit. */
static void qring_unspill(struct queue *q)
{
	struct qring *r = q->ring;
	struct msgrec rec;

	while (r->spill.count && !r->broken) {
		msgstore_peek_rec(&r->spill, &rec);
		if (rec.len > r->payload_max || qring_write(r, rec.data, rec.len) < 0)
			break;
		q->obj.srv->mem_used -= rec.len;
		r->counted--;
		r->counted_bytes -= rec.len;
		msgstore_pop(&r->spill);
	}
}

bool qring_has_room(struct queue *q, size_t n, size_t bytes, size_t len)
{
	struct qring *r = q->ring;
	uint64_t c, b;

	qring_sync(q);
	c = __atomic_load_n(&r->h->count, __ATOMIC_SEQ_CST);
	b = __atomic_load_n(&r->h->bytes, __ATOMIC_SEQ_CST);
	if (r->maxsize && c + n >= r->maxsize)
		return false;
	if (r->maxbytes && b + bytes + len > r->maxbytes)
		return false;
	return true;
}

/* A header counter as ipcd believes it: never below what ipcd holds itself. */
static uint64_t qring_counter(const struct qring *r, const uint64_t *v, size_t own)
{
	uint64_t x = __atomic_load_n(v, __ATOMIC_RELAXED);

	return x > (uint64_t)1 << 62 || x < own ? own : x;
}

unsigned qring_sleepers(const struct queue *q, bool getters)
{
	const struct ipc_ring_hdr *h = q->ring->h;
	uint32_t n = __atomic_load_n(getters ? &h->data_sleepers : &h->room_sleepers,
				     __ATOMIC_RELAXED);

	/* Never more than ipcd's clients could be. */
	return n > q->obj.srv->lim.max_clients ? q->obj.srv->lim.max_clients : n;
}

uint64_t qring_total(const struct queue *q, bool puts)
{
	const struct ipc_ring_hdr *h = q->ring->h;

	return __atomic_load_n(puts ? &h->puts : &h->gets, __ATOMIC_RELAXED);
}

size_t qring_depth(const struct queue *q)
{
	const struct qring *r = q->ring;

	return (size_t)qring_counter(r, &r->h->count, q->store.count + r->spill.count);
}

size_t qring_bytes(const struct queue *q)
{
	const struct qring *r = q->ring;

	return (size_t)qring_counter(r, &r->h->bytes, q->store.bytes + r->spill.bytes);
}

/* Does ipcd wait to hear of puts (parked gets, socket consumers with room)? */
static bool qring_wants_puts(const struct queue *q)
{
	const struct consumer *cs;

	if (!TAILQ_EMPTY(&q->getters))
		return true;
	TAILQ_FOREACH(cs, &q->consumers, link)
		if (consumer_room(cs))
			return true;
	return false;
}

void qring_sync(struct queue *q)
{
	struct qring *r = q->ring;
	size_t own, own_bytes;
	uint32_t flags = 0;
	bool tick;

	if (r->unsettled || r->recount)
		qring_lanes_settle(q);
	qring_unspill(q);
	own = q->store.count + r->spill.count;
	own_bytes = q->store.bytes + r->spill.bytes;
	if (own > r->counted || own_bytes > r->counted_bytes) {
		__atomic_add_fetch(&r->h->count, own - r->counted, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&r->h->bytes, own_bytes - r->counted_bytes, __ATOMIC_SEQ_CST);
		r->added = true;
	} else if (own < r->counted || own_bytes < r->counted_bytes) {
		ipc_ring_unreserve(r->h, r->counted - own, r->counted_bytes - own_bytes);
		r->woke_room = true;
	}
	r->counted = own;
	r->counted_bytes = own_bytes;
	if (q->store.count)
		flags |= IPC_RING_F_FRONT;
	if (r->spill.count)
		flags |= IPC_RING_F_SPILL | IPC_RING_F_KICK_GET;
	if (qring_wants_puts(q))
		flags |= IPC_RING_F_KICK_PUT;
	if (!TAILQ_EMPTY(&q->putters) || !TAILQ_EMPTY(&q->joiners))
		flags |= IPC_RING_F_KICK_GET;
	if (r->broken || !q->obj.linked)
		flags = IPC_RING_F_CLOSED;
	if (flags != r->flags) {
		__atomic_store_n(&r->h->flags, flags, __ATOMIC_SEQ_CST);
		/* A flag a sleeper should act on: let it look. */
		r->added = r->woke_room = true;
	}
	/* The tick looks again while ipcd waits to hear of the ring, or for lanes
	 * and counts that dead clients left. */
	tick = (flags & (IPC_RING_F_KICK_PUT | IPC_RING_F_KICK_GET)) || r->unsettled ||
	       r->recount;
	if (tick && !evtimer_pending(r->tick, NULL)) {
		struct timeval tv = { 0, QRING_TICK_MS * 1000 };

		evtimer_add(r->tick, &tv);
	} else if (!tick && evtimer_pending(r->tick, NULL)) {
		evtimer_del(r->tick);
	}
	/* A client that changed the ring just before it could see the flag
	 * sends no kick: look again once the flag is visible. */
	if (flags & ~r->flags & (IPC_RING_F_KICK_PUT | IPC_RING_F_KICK_GET))
		event_active(r->tick, EV_TIMEOUT, 0);
	r->flags = flags;
	if (r->added)
		qring_wake(&r->h->data_futex, &r->h->data_sleepers);
	if (r->woke_room)
		qring_wake(&r->h->room_futex, &r->h->room_sleepers);
	r->added = r->woke_room = false;
}

size_t qring_purge(struct queue *q)
{
	struct qring *r = q->ring;
	size_t n = r->spill.count;
	uint64_t pos;

	while (!r->broken &&
	       ipc_ring_take(r->h, r->base, r->slot_bytes, r->slots, &pos, QRING_TRIES, NULL) == 0) {
		struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, pos);
		uint32_t len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);

		ipc_ring_free(s, pos, r->slots, NULL);
		if (len == IPC_RING_LEN_VOID)
			continue;
		if (len > r->payload_max) {
			qring_break(q, "slot length", len);
			break;
		}
		ipc_ring_unreserve(r->h, 1, len);
		n++;
	}
	if (r->has_held) {
		r->has_held = false;
		ipc_ring_unreserve(r->h, 1, r->held);
		n++;
	}
	q->obj.srv->mem_used -= r->spill.bytes;
	msgstore_clear(&r->spill);
	return n;
}

void qring_close(struct queue *q)
{
	qring_sync(q);
}

void qring_stat(const struct queue *q, msgpack_packer *pk)
{
	const struct qring *r = q->ring;

	proto_pack_kv_u64(pk, "ring_slots", r->slots);
	proto_pack_kv_u64(pk, "ring_slot_bytes", r->payload_max);
	proto_pack_kv_u64(pk, "ring_bytes", r->size);
	proto_pack_kv_u64(pk, "ring_mapped", r->mapped);
	proto_pack_kv_u64(pk, "ring_puts", qring_total(q, true));
	proto_pack_kv_u64(pk, "ring_gets", qring_total(q, false));
	proto_pack_kv_u64(pk, "ring_kicks", r->kicks);
	proto_pack_kv_u64(pk, "ring_getters", qring_sleepers(q, true));
	proto_pack_kv_u64(pk, "ring_putters", qring_sleepers(q, false));
	proto_pack_kv_u64(pk, "ring_broken", r->broken);
}
