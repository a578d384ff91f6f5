/*
 * qring_lane.c - the lanes of a queue's ring: one per handle that maps it,
 * and what ipcd does when a handle goes (layout in proto/ipc_ring.h).
 *
 * A handle that goes gives its lane back at once: ipcd changes the lane's
 * gen, so the owner's next operation goes by the socket, and wakes the
 * ring's sleepers so that a sleeping owner sees it.  The lane is free again
 * once nothing is in it.  If something is (an operation begun, a position
 * named, a sleep counted) ipcd waits for the owner's process to exit,
 * watching a pidfd, and then mends what the process left:
 *  - a position it claimed and never published becomes a void, so the
 *    ring's order moves past it;
 *  - a position it took and never freed goes to the head of the queue (the
 *    front), its message not lost;
 *  - a sleep it counted is counted out;
 *  - counts it left half-changed (between its reservation and its claim,
 *    between its free and its give-back) are recounted from the ring once
 *    no lane is inside an operation.
 * A position is mended only if no other live lane names it: a producer
 * names its position before it claims, so one that won it still names it;
 * one that lost names it only until its next try, and ipcd looks again at
 * the next settle.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "qring.h"
#include "queue.h"
#include "server.h"

enum qlane_state {
	QLANE_FREE,
	QLANE_OWNED,                 /* a handle maps the ring as this lane's owner */
	QLANE_GONE,                  /* the handle went; its process may be inside an operation */
};

struct qlane {
	uint64_t gen;                /* ipcd's copy of the lane's gen */
	enum qlane_state state;
	pid_t pid;                   /* the owner's process, once GONE */
	bool exited;                 /* ... has exited: what the lane names is left over */
	struct event *exit;          /* on a pidfd of pid, while ipcd waits for it */
	struct queue *q;
};

int qring_lanes_init(struct queue *q)
{
	struct qring *r = q->ring;

	r->lanes = calloc(IPC_RING_LANES, sizeof *r->lanes);
	if (!r->lanes)
		return -ENOMEM;
	for (unsigned i = 0; i < IPC_RING_LANES; i++)
		r->lanes[i].q = q;
	return 0;
}

static void lane_unwatch(struct qlane *L)
{
	if (!L->exit)
		return;
	close(event_get_fd(L->exit));
	event_free(L->exit);
	L->exit = NULL;
}

void qring_lanes_free(struct qring *r)
{
	if (!r->lanes)
		return;
	for (unsigned i = 0; i < IPC_RING_LANES; i++)
		lane_unwatch(&r->lanes[i]);
	free(r->lanes);
	r->lanes = NULL;
}

int qring_lane_take(struct queue *q)
{
	struct qring *r = q->ring;

	for (unsigned i = 0; i < IPC_RING_LANES; i++) {
		struct qlane *L = &r->lanes[i];
		struct ipc_ring_lane *l = &r->h->lane[i];

		if (L->state != QLANE_FREE)
			continue;
		/* Cleared for its new owner, who reads gen when it maps the ring. */
		__atomic_store_n(&l->ops, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->claim, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->take, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->sleep, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->lease_head, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->lease_tail, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->gen, ++L->gen, __ATOMIC_SEQ_CST);
		L->state = QLANE_OWNED;
		r->mapped++;
		return (int)i;
	}
	return -EBUSY;
}

/*
 * Is the owner still inside an operation, or asleep?  Read after the lane's
 * gen changed: if not, it never will be again, and the lane is ipcd's to read.
 */
static bool lane_busy(const struct ipc_ring_lane *l)
{
	return (__atomic_load_n(&l->ops, __ATOMIC_SEQ_CST) & 1) ||
	       __atomic_load_n(&l->sleep, __ATOMIC_ACQUIRE);
}

static void lane_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qlane *L = arg;

	L->exited = true;
	lane_unwatch(L);
	queue_settle(L->q);
}

/* Has the owner's process exited?  If not, watch it, so the settle runs when it does. */
static bool lane_exited(struct qlane *L)
{
	struct pollfd p = { .events = POLLIN };

	if (L->exited || L->exit)
		return L->exited;
	/* Without its pid (another namespace) nothing else can be waited for. */
	if (L->pid <= 0)
		return L->exited = true;
	p.fd = (int)syscall(SYS_pidfd_open, L->pid, 0);
	if (p.fd < 0) {
		/* No pidfd (descriptors run out): ask by signal 0, at each settle. */
		if (errno == ESRCH || (kill(L->pid, 0) < 0 && errno == ESRCH))
			L->exited = true;
		return L->exited;
	}
	if (poll(&p, 1, 0) > 0) {
		close(p.fd);
		return L->exited = true;
	}
	L->exit = event_new(L->q->obj.srv->base, p.fd, EV_READ, lane_exit_cb, L);
	if (!L->exit || event_add(L->exit, NULL) < 0) {
		if (L->exit)
			event_free(L->exit);
		L->exit = NULL;
		close(p.fd);
	}
	return false;
}

/* A lane's run of claimed (or taken) positions: first + 1 (0 none), and how many, clamped. */
static uint64_t lane_run(const struct ipc_ring_lane *l, bool take, uint32_t *n)
{
	uint64_t first = __atomic_load_n(take ? &l->take : &l->claim, __ATOMIC_ACQUIRE);

	/* Clamped to what a client may name: a scribbled count costs ipcd no more. */
	*n = __atomic_load_n(take ? &l->take_n : &l->claim_n, __ATOMIC_RELAXED);
	if (*n == 0 || *n > IPC_RING_RUN_MAX)
		*n = *n ? IPC_RING_RUN_MAX : 1;
	return first;
}

/* Does a lane other than i, whose owner may be alive, name position p in its claim (or take)? */
static bool named_elsewhere(const struct qring *r, unsigned i, bool take, uint64_t p)
{
	for (unsigned j = 0; j < IPC_RING_LANES; j++) {
		const struct qlane *L = &r->lanes[j];
		uint32_t n;
		uint64_t first;

		if (j == i || L->state == QLANE_FREE || (L->state == QLANE_GONE && L->exited))
			continue;
		first = lane_run(&r->h->lane[j], take, &n);
		if (first && p >= first - 1 && p - (first - 1) < n)
			return true;
	}
	return false;
}

/* Position p was claimed by lane i's dead owner: publish it as a void if it never was. */
static bool lane_mend_claim(struct queue *q, unsigned i, uint64_t p)
{
	struct qring *r = q->ring;
	uint64_t tail = __atomic_load_n(&r->h->tail, __ATOMIC_ACQUIRE);
	struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, p);

	/* Not claimed (the claim lost or never happened), or long since taken. */
	if (p >= tail || tail - p > r->slots || ipc_ring_seq(s, p, r->slots) != p)
		return true;
	if (named_elsewhere(r, i, false, p))
		return false;
	if (ipc_ring_seq(s, p, r->slots) != p)
		return true;
	__atomic_store_n(&s->len, IPC_RING_LEN_VOID, __ATOMIC_RELAXED);
	ipc_ring_commit(s, p, r->slots, NULL);
	r->added = true;
	log_info("queue '%s': position %llu, claimed by a process that died, is void", q->obj.name,
		 (unsigned long long)p);
	return true;
}

/*
 * The slots at pos[0..n) were taken and never freed, by owners that are
 * gone: their messages go to the head of the queue in that order, marked
 * with flags, and the slots are freed (a void is only freed; a length past
 * its slot breaks the ring).  Returns how many messages moved, with their
 * bytes in *bytes; -1 without memory, nothing moved.
 */
static ssize_t lane_to_front(struct queue *q, const uint64_t *pos, size_t n, unsigned flags,
			     size_t *bytes)
{
	struct qring *r = q->ring;
	struct msgstore back;
	uint32_t len[IPC_RING_RUN_MAX];

	msgstore_init(&back);
	*bytes = 0;
	for (size_t k = 0; k < n; k++) {
		struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, pos[k]);

		/* Read once: what is checked is what is copied. */
		len[k] = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
		if (len[k] > r->payload_max)
			continue;
		if (msgstore_put_rec(&back, s->data, len[k], 0, flags) < 0) {
			msgstore_clear(&back);
			return -1;
		}
		*bytes += len[k];
	}
	for (size_t k = 0; k < n; k++) {
		ipc_ring_free(ipc_ring_slot(r->base, r->slot_bytes, r->slots, pos[k]), pos[k],
			      r->slots, NULL);
		if (len[k] != IPC_RING_LEN_VOID && len[k] > r->payload_max)
			qring_break(q, "slot length", len[k]);
	}
	n = back.count;
	q->obj.srv->mem_used += *bytes;
	msgstore_splice_front(&q->store, &back);
	msgstore_clear(&back);
	if (n)
		r->woke_room = true;
	return (ssize_t)n;
}

/*
 * Positions first..first+n-1 were taken by lane i's dead owner: those never
 * freed go to the front, in order, not marked (the owner's call never
 * returned them).  false when a live lane names one of them, or without
 * memory: look again later.
 */
static bool lane_mend_take(struct queue *q, unsigned i, uint64_t first, uint32_t n)
{
	struct qring *r = q->ring;
	uint64_t head = __atomic_load_n(&r->h->head, __ATOMIC_ACQUIRE), pos[IPC_RING_RUN_MAX];
	size_t k = 0, bytes;
	ssize_t moved;

	for (uint64_t p = first; p < first + n && k < IPC_RING_RUN_MAX; p++) {
		struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, p);

		if (p >= head || head - p > r->slots || ipc_ring_seq(s, p, r->slots) != p + 1)
			continue;   /* freed, or never taken */
		if (named_elsewhere(r, i, true, p))
			return false;
		/* Still taken once no live lane was seen to name it: the dead owner's. */
		if (ipc_ring_seq(s, p, r->slots) == p + 1)
			pos[k++] = p;
	}
	moved = lane_to_front(q, pos, k, 0, &bytes);
	if (moved < 0)
		return false;
	/* Their reservations are still in the count: they are ipcd's own now. */
	r->counted += (size_t)moved;
	r->counted_bytes += bytes;
	if (moved)
		log_info("queue '%s': %zd messages taken by a process that died go back to the head",
			 q->obj.name, moved);
	return true;
}

/* The lease positions of lane i that hold a message never acknowledged, oldest first. */
static size_t lane_leases(const struct qring *r, unsigned i, uint64_t *pos)
{
	const struct ipc_ring_lane *l = &r->h->lane[i];
	uint64_t lh = __atomic_load_n(&l->lease_head, __ATOMIC_ACQUIRE);
	uint64_t lt = __atomic_load_n(&l->lease_tail, __ATOMIC_ACQUIRE);
	uint64_t head = __atomic_load_n(&r->h->head, __ATOMIC_ACQUIRE);
	size_t n = 0;

	if (lt < lh || lt - lh > IPC_RING_LEASES)
		return 0;   /* not a FIFO a client keeps: nothing is taken on its word */
	for (uint64_t k = lh; k < lt; k++) {
		uint64_t p = __atomic_load_n(&l->lease[k % IPC_RING_LEASES], __ATOMIC_ACQUIRE) - 1;
		struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, p);

		if (p < head && head - p <= r->slots && ipc_ring_seq(s, p, r->slots) == p + 1)
			pos[n++] = p;
	}
	return n;
}

/*
 * Lane i's owner holds leases no more: their messages go to the head of the
 * queue, marked redelivered, in the order they were taken.  *acks: how many
 * it acknowledged (a lease at the head whose slot is freed was, as the
 * owner died).  false when a live lane names one of them (look again later)
 * or without memory.
 */
static bool lane_mend_leases(struct queue *q, unsigned i, bool cut, uint64_t *acks)
{
	struct qring *r = q->ring;
	struct ipc_ring_lane *l = &r->h->lane[i];
	uint64_t pos[IPC_RING_LEASES], lh = __atomic_load_n(&l->lease_head, __ATOMIC_ACQUIRE);
	size_t n = lane_leases(r, i, pos), bytes;
	ssize_t moved;

	*acks = lh > (uint64_t)1 << 62 ? 0 : lh;
	if (cut && lh < __atomic_load_n(&l->lease_tail, __ATOMIC_ACQUIRE) && (!n || pos[0] !=
	    __atomic_load_n(&l->lease[lh % IPC_RING_LEASES], __ATOMIC_ACQUIRE) - 1))
		(*acks)++;
	for (size_t k = 0; k < n; k++)
		if (named_elsewhere(r, i, true, pos[k]))
			return false;
	/* Taken out of the count when leased: qring_sync counts them in again. */
	moved = lane_to_front(q, pos, n, MSG_REDELIVERED, &bytes);
	if (moved < 0)
		return false;
	q->redelivered += (size_t)moved;
	return true;
}

size_t qring_lane_leased(const struct queue *q, unsigned i)
{
	uint64_t pos[IPC_RING_LEASES];

	return q->ring->h->ack && i < IPC_RING_LANES ? lane_leases(q->ring, i, pos) : 0;
}

size_t qring_leased(const struct queue *q)
{
	const struct qring *r = q->ring;
	uint64_t pos[IPC_RING_LEASES];
	size_t n = 0;

	for (unsigned i = 0; r->h->ack && i < IPC_RING_LANES; i++)
		if (r->lanes[i].state != QLANE_FREE)
			n += lane_leases(r, i, pos);
	return n;
}

uint64_t qring_acked(const struct queue *q)
{
	const struct qring *r = q->ring;
	uint64_t n = r->acked;

	for (unsigned i = 0; r->h->ack && i < IPC_RING_LANES; i++) {
		uint64_t lh = __atomic_load_n(&r->h->lane[i].lease_head, __ATOMIC_RELAXED);

		if (r->lanes[i].state != QLANE_FREE && lh < (uint64_t)1 << 62)
			n += lh;
	}
	return n;
}

/* Count lane i's sleeps out of the ring's sleeper counts (never below zero). */
static void lane_unsleep(struct qring *r, unsigned i)
{
	uint32_t f = __atomic_exchange_n(&r->h->lane[i].sleep, 0, __ATOMIC_ACQ_REL);
	uint32_t *counts[2] = { &r->h->data_sleepers, &r->h->room_sleepers };

	for (unsigned k = 0; k < 2; k++) {
		uint32_t n = __atomic_load_n(counts[k], __ATOMIC_RELAXED);

		if (!(f & (k ? IPC_RING_SLEEP_ROOM : IPC_RING_SLEEP_DATA)))
			continue;
		while (n && !__atomic_compare_exchange_n(counts[k], &n, n - 1, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			;
	}
}

/*
 * Lane i went with its handle.  Once its owner is out of any operation (or
 * its process exited), what the lane names is left over: mend it, then free
 * the lane.  The take is mended before the leases, which are older and go
 * in front of it.
 */
static void lane_settle(struct queue *q, unsigned i)
{
	struct qring *r = q->ring;
	struct qlane *L = &r->lanes[i];
	struct ipc_ring_lane *l = &r->h->lane[i];
	bool cut = lane_busy(l);
	uint64_t c, t, acks = 0;
	uint32_t cn, tn;

	if (cut && !lane_exited(L))
		return;
	c = lane_run(l, false, &cn);
	t = lane_run(l, true, &tn);
	for (uint32_t k = 0; c && k < cn && !r->broken; k++)
		if (!lane_mend_claim(q, i, c - 1 + k))
			return;   /* a live lane names the same position: look again later */
	if (t && !r->broken && !lane_mend_take(q, i, t - 1, tn))
		return;
	if (!r->broken && r->h->ack && !lane_mend_leases(q, i, cut, &acks))
		return;
	r->acked += acks;
	if (cut) {
		lane_unsleep(r, i);
		/* Nobody writes it now: its operation is over, as far as the recount goes. */
		__atomic_store_n(&l->claim, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->take, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->ops, 0, __ATOMIC_SEQ_CST);
		r->recount = true;
	}
	/* Read no more: it counts nothing from now on. */
	__atomic_store_n(&l->lease_head, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->lease_tail, 0, __ATOMIC_RELAXED);
	lane_unwatch(L);
	L->state = QLANE_FREE;
	L->exited = false;
	r->unsettled--;
}

void qring_lane_give(struct queue *q, unsigned i, pid_t pid)
{
	struct qring *r = q->ring;
	struct qlane *L = &r->lanes[i];

	if (i >= IPC_RING_LANES || L->state != QLANE_OWNED)
		return;
	/* Taken back before it is read: an operation that begins from now on sees it. */
	__atomic_store_n(&r->h->lane[i].gen, ++L->gen, __ATOMIC_SEQ_CST);
	L->state = QLANE_GONE;
	L->pid = pid;
	L->exited = false;
	r->mapped--;
	r->unsettled++;
	/* A sleeping owner wakes and sees the lane is no longer its own. */
	r->added = r->woke_room = true;
	qring_sync(q);
}

/*
 * Counts of a ring no client is changing: the queued messages and bytes are
 * those of the ring's published slots and ipcd's own.  Runs only when two
 * reads of every lane's ops, around the reads of the ring, are even and
 * equal; then the difference is what dead owners left.
 */
static void lanes_recount(struct queue *q)
{
	struct qring *r = q->ring;
	struct ipc_ring_hdr *h = r->h;
	uint64_t ops[IPC_RING_LANES], head, tail, c0, b0, n = 0, bytes = 0;

	for (unsigned i = 0; i < IPC_RING_LANES; i++) {
		ops[i] = __atomic_load_n(&h->lane[i].ops, __ATOMIC_SEQ_CST);
		if (ops[i] & 1)
			return;
	}
	head = __atomic_load_n(&h->head, __ATOMIC_SEQ_CST);
	tail = __atomic_load_n(&h->tail, __ATOMIC_SEQ_CST);
	c0 = __atomic_load_n(&h->count, __ATOMIC_SEQ_CST);
	b0 = __atomic_load_n(&h->bytes, __ATOMIC_SEQ_CST);
	if (tail < head || tail - head > r->slots)
		return;
	for (uint64_t p = head; p < tail; p++) {
		struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, p);
		uint32_t len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);

		if (ipc_ring_seq(s, p, r->slots) != p + 1)
			return;   /* a hole not mended yet */
		if (len == IPC_RING_LEN_VOID)
			continue;
		if (len > r->payload_max)
			return;
		n++;
		bytes += len;
	}
	for (unsigned i = 0; i < IPC_RING_LANES; i++)
		if (__atomic_load_n(&h->lane[i].ops, __ATOMIC_SEQ_CST) != ops[i])
			return;
	if (__atomic_load_n(&h->head, __ATOMIC_SEQ_CST) != head ||
	    __atomic_load_n(&h->tail, __ATOMIC_SEQ_CST) != tail)
		return;
	n += r->counted + r->has_held;
	bytes += r->counted_bytes + (r->has_held ? r->held : 0);
	if (n != c0 || bytes != b0)
		log_info("queue '%s': counts left by a process that died mended (%llu messages, "
			 "%llu bytes were %llu, %llu)", q->obj.name, (unsigned long long)n,
			 (unsigned long long)bytes, (unsigned long long)c0, (unsigned long long)b0);
	/* As differences: a client that begins now changes the counts from the mended ones. */
	__atomic_add_fetch(&h->count, n - c0, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&h->bytes, bytes - b0, __ATOMIC_SEQ_CST);
	if (n < c0 || bytes < b0)
		r->woke_room = true;
	r->recount = false;
}

void qring_lanes_settle(struct queue *q)
{
	struct qring *r = q->ring;

	for (unsigned i = 0; r->unsettled && i < IPC_RING_LANES; i++)
		if (r->lanes[i].state == QLANE_GONE)
			lane_settle(q, i);
	if (r->recount && !r->broken)
		lanes_recount(q);
}
