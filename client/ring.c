/*
 * ring.c - a queue handle's shared-memory ring (layout in proto/ipc_ring.h):
 * put and get with no system call while the ring has room or messages.
 *
 * ipcd sends the ring's descriptor with the open of a local queue when the
 * handle may both put and get; it is mapped here and checked.  A call that
 * the ring cannot serve (a message larger than a slot, messages ipcd holds
 * before or after the ring's, a removed queue) answers RING_SOCKET and the
 * caller sends its request by the socket, where ipcd keeps the one order.
 * A waiting side spins briefly, then sleeps on the ring's futex word until a
 * peer wakes it or its deadline passes; while ipcd waits to hear of the
 * ring's changes (its flags say so), a put or get sends it a one-way kick.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "ipc_ring.h"

/* How long a waiting side checks the ring before it sleeps: longer spins win latency on an
 * idle machine and lose throughput on a busy one, where the spinner takes the CPU its peer
 * needs.  Timed, not counted: a pause instruction takes 10 to 140 cycles by CPU. */
#define RING_SPIN_NS 10000
/* Checks of a full ring's head before the yields (about as long). */
#define RING_SPINS 200
/* The longest a put waits in one call for a full ring to make room, consumers taking. */
#define RING_FULL_NS 1000000
/* How long a full ring's consumers may take nothing before a put goes to ipcd. */
#define RING_STALL_NS 50000
/* Attempts against other processes before looking again at the flags. */
#define RING_TRIES 256
/* The longest sleep before looking whether ipcd is still there (ms). */
#define RING_NAP_MS 1000
/* ring_try_put_n: the ring is full, the queue is not (internal, never returned). */
#define RING_FULL (RING_SOCKET - 1)
/* Slots claimed or taken in one run, at most. */
#define RING_RUN IPC_RING_RUN_MAX
/* Bytes of asynchronous puts staged before they are put as one run. */
#define RING_STAGE_BYTES 16384

struct cring {
	unsigned char *mem;
	size_t size;
	struct ipc_ring_hdr *h;
	unsigned char *base;
	/* Copied once at map time: another process may scribble on the header. */
	uint32_t slots, slot_bytes, payload_max;
	uint64_t maxsize, maxbytes;
	struct ipc_ring_lane *lane;  /* this handle's, in the header */
	uint64_t gen;                /* the lane's gen when it was given: ours while it stays */
	uint64_t ops;                /* operations begun and ended, as the lane says */
	bool ack;                    /* an ack queue: a take leases its slot until task_done */
	uint64_t lease_head, lease_tail; /* this handle's leases, as the lane says */
	/* Asynchronous puts staged in this process, put as one run when RING_RUN
	 * or RING_STAGE_BYTES are staged, or at the next flush or other call. */
	struct iovec staged[RING_RUN];
	unsigned nstaged;
	size_t stage_used;
	uint64_t stalled;            /* head + 1 when consumers last took nothing; 0 */
	unsigned char stage[RING_STAGE_BYTES];
};

static inline void ring_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* A waiting side's spin, from its first call: true (after a pause) while it lasts. */
struct ring_spin {
	unsigned n;
	int64_t end;                 /* CLOCK_MONOTONIC ns; 0 before the first call */
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool ring_spin(struct ring_spin *s)
{
	/* The clock is read every 16th check: a check is far cheaper than a read. */
	if ((s->n++ & 15) == 0) {
		int64_t now = mono_ns();

		if (!s->end)
			s->end = now + RING_SPIN_NS;
		else if (now >= s->end)
			return false;
	}
	ring_relax();
	return true;
}

int ring_map(ipc_queue *q, int fd, uint64_t lane)
{
	struct cring *r;
	struct stat st;
	const struct ipc_ring_hdr *h;
	void *mem;

	ring_unmap(q);
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < IPC_RING_HDR_BYTES) {
		close(fd);
		return -EPROTO;
	}
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return -errno;
	h = mem;
	r = calloc(1, sizeof *r);
	if (!r || h->magic != IPC_RING_MAGIC || h->version != IPC_RING_VERSION ||
	    h->hdr_bytes != IPC_RING_HDR_BYTES || h->slots < 2 || (h->slots & (h->slots - 1)) ||
	    h->slot_bytes < IPC_RING_SLOT_HDR + 8 || h->slot_bytes % 8 ||
	    (uint64_t)h->slots * h->slot_bytes > (uint64_t)st.st_size - IPC_RING_HDR_BYTES ||
	    lane >= IPC_RING_LANES) {
		free(r);
		munmap(mem, (size_t)st.st_size);
		return -EPROTO;
	}
	r->mem = mem;
	r->size = (size_t)st.st_size;
	r->h = mem;
	r->base = r->mem + IPC_RING_HDR_BYTES;
	r->slots = h->slots;
	r->slot_bytes = h->slot_bytes;
	r->payload_max = h->slot_bytes - IPC_RING_SLOT_HDR;
	r->maxsize = h->maxsize;
	r->maxbytes = h->maxbytes;
	r->lane = &r->h->lane[lane];
	r->gen = __atomic_load_n(&r->lane->gen, __ATOMIC_ACQUIRE);
	r->ops = __atomic_load_n(&r->lane->ops, __ATOMIC_RELAXED) & ~(uint64_t)1;
	r->ack = h->ack != 0;
	r->lease_head = r->lease_tail = __atomic_load_n(&r->lane->lease_tail, __ATOMIC_RELAXED);
	q->ring = r;
	return 0;
}

void ring_unmap(ipc_queue *q)
{
	struct cring *r = q->ring;

	if (!r)
		return;
	/* What this process staged goes by the socket (ipcd, or a new one, has
	 * the order); a forked child drops its parent's. */
	for (unsigned i = 0; i < r->nstaged && q->pend_pid == client_pid(); i++)
		stream_pend(q, r->staged[i].iov_base, r->staged[i].iov_len);
	munmap(q->ring->mem, q->ring->size);
	free(q->ring);
	q->ring = NULL;
}

static int ring_try_put(struct cring *r, const void *data, size_t len);

static void ring_kick(ipc_queue *q)
{
	msgpack_pack_uint32(client_req(q->c, IPC_OP_Q_RING_KICK, 1), q->num);
	client_send(q->c);   /* on failure the next call reconnects and reports */
}

static void ring_wake(uint32_t *word, uint32_t *sleepers)
{
	if (!__atomic_load_n(sleepers, __ATOMIC_RELAXED))
		return;
	__atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * n messages were published (put) or taken, or a lease ended: count them,
 * wake the other side's sleepers, tell ipcd if it waits to hear of it.
 */
static void ring_after(ipc_queue *q, bool put, size_t n)
{
	struct ipc_ring_hdr *h = q->ring->h;

	__atomic_add_fetch(put ? &h->puts : &h->gets, n, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (put)
		ring_wake(&h->data_futex, &h->data_sleepers);
	else
		ring_wake(&h->room_futex, &h->room_sleepers);
	if (__atomic_load_n(&h->flags, __ATOMIC_RELAXED) &
	    (put ? IPC_RING_F_KICK_PUT : IPC_RING_F_KICK_GET))
		ring_kick(q);
}

int ring_ack(ipc_queue *q)
{
	struct cring *r = q->ring;
	struct ipc_ring_slot *s;
	uint64_t pos;

	if (!r || !r->ack || r->lease_head == r->lease_tail || q->c->pid != client_pid())
		return RING_SOCKET;
	if (!ipc_ring_enter(r->lane, &r->ops, r->gen)) {
		/* ipcd took the lane back, and the leased messages with it. */
		r->lease_head = r->lease_tail;
		return -EINVAL;
	}
	pos = __atomic_load_n(&r->lane->lease[r->lease_head % IPC_RING_LEASES], __ATOMIC_RELAXED) - 1;
	s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, pos);
	/* Freed, then counted: a slot of lease_head found freed was acknowledged. */
	ipc_ring_free(s, pos, r->slots, NULL);
	__atomic_store_n(&r->lane->lease_head, ++r->lease_head, __ATOMIC_RELEASE);
	ipc_ring_leave(r->lane, &r->ops);
	ring_after(q, false, 0);
	return 0;
}

int ring_put_async(ipc_queue *q, const void *data, size_t len)
{
	struct cring *r = q->ring;
	bool socket = len > r->payload_max || len > RING_STAGE_BYTES;
	int rc;

	/* As asynchronous puts by the socket are buffered: a full stage is put
	 * first, waiting for room as a full buffer's flush does; so is the stage
	 * before a message that goes by the socket. */
	if (socket || r->nstaged == RING_RUN || r->stage_used + len > RING_STAGE_BYTES) {
		rc = ring_publish(q, -1);
		if (rc < 0)
			return rc;
		if (socket || q->npend)
			return RING_SOCKET;   /* after the stage, or with it by the socket */
	}
	memcpy(r->stage + r->stage_used, data, len);
	r->staged[r->nstaged].iov_base = r->stage + r->stage_used;
	r->staged[r->nstaged++].iov_len = len;
	r->stage_used += len;
	return 0;
}

void ring_unstage(ipc_queue *q)
{
	if (q->ring) {
		q->ring->nstaged = 0;
		q->ring->stage_used = 0;
	}
}

bool ring_spilling(const ipc_queue *q)
{
	return q->ring && (__atomic_load_n(&q->ring->h->flags, __ATOMIC_RELAXED) &
			   (IPC_RING_F_SPILL | IPC_RING_F_CLOSED));
}

size_t ring_staged(const ipc_queue *q)
{
	return q->ring && q->pend_pid == client_pid() ? q->ring->nstaged : 0;
}

int ring_publish(ipc_queue *q, int timeout_ms)
{
	struct cring *r = q->ring;
	size_t done;
	int stop, left;

	if (!r || !r->nstaged || q->pend_pid != client_pid())
		return 0;
	done = ring_put_many(q, r->staged, r->nstaged, timeout_ms, &left, &stop);
	if (done < r->nstaged && (stop == -EMSGSIZE || stop == -EINVAL)) {
		/* A message that can never be put is dropped, and this error is its
		 * report, as a flush by the socket does. */
		done++;
	} else if (done < r->nstaged && stop == RING_SOCKET) {
		/* The rest goes by the socket, in order (nothing is buffered there
		 * while a stage is). */
		for (size_t i = done; i < r->nstaged; i++)
			stream_pend(q, r->staged[i].iov_base, r->staged[i].iov_len);
		done = r->nstaged;
		stop = 0;
	}
	if (done < r->nstaged) {
		/* Not put within the time: the rest stays staged, in order. */
		size_t off = (size_t)((unsigned char *)r->staged[done].iov_base - r->stage);

		memmove(r->stage, r->stage + off, r->stage_used - off);
		for (size_t i = done; i < r->nstaged; i++) {
			r->staged[i - done] = r->staged[i];
			r->staged[i - done].iov_base = (unsigned char *)r->staged[i].iov_base - off;
		}
		r->nstaged -= (unsigned)done;
		r->stage_used -= off;
		return stop;
	}
	r->nstaged = 0;
	r->stage_used = 0;
	return stop < 0 ? stop : 0;
}

/*
 * Sleep on word while ready() says no, until a wake-up, the deadline, or a
 * nap's end.  -ETIMEDOUT once the deadline passed; -ECONNRESET if ipcd went.
 */
static int ring_sleep(ipc_queue *q, uint32_t *word, uint32_t *sleepers, uint32_t flag,
		      int64_t deadline, bool (*ready)(const struct cring *, size_t), size_t arg)
{
	int left = io_left_ms(deadline);
	struct pollfd p = { .fd = q->c->fd, .events = POLLIN | POLLRDHUP };
	bool napped = false;
	uint32_t v;

	if (left == 0)
		return -ETIMEDOUT;
	if (left < 0 || left > RING_NAP_MS)
		left = RING_NAP_MS;
	/* Counted in, then said in the lane: a death between the two leaves one
	 * sleeper too many (a wake-up for nobody), never one too few. */
	__atomic_add_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&q->ring->lane->sleep, flag, __ATOMIC_RELEASE);
	v = __atomic_load_n(word, __ATOMIC_SEQ_CST);
	if (!ready(q->ring, arg)) {
		struct timespec ts = { left / 1000, (long)(left % 1000) * 1000000 };

		napped = syscall(SYS_futex, word, FUTEX_WAIT, v, &ts, NULL, 0) < 0 &&
			 errno == ETIMEDOUT;
	}
	__atomic_store_n(&q->ring->lane->sleep, 0, __ATOMIC_RELEASE);
	__atomic_sub_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
	/* A sleeper has no socket call to notice that ipcd went: after a nap with
	 * no wake-up, look, and read what it said last (an error push: shutting
	 * down, cut off).  ipcd's removal of the queue wakes sleepers itself. */
	if (napped && poll(&p, 1, 0) > 0) {
		struct proto_reply rep;
		int rc = client_read(q->c, io_deadline(0), &rep);

		if (rc == 0)
			client_done(q->c);   /* a late reply to a request given up on */
		if (rc < 0 && rc != -ETIMEDOUT) {
			client_drop(q->c);
			return rc;
		}
	}
	return 0;
}

/* Is there room for one message of len, or something that changes the route? */
static bool ring_room(const struct cring *r, size_t len)
{
	const struct ipc_ring_hdr *h = r->h;

	if ((__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) & (IPC_RING_F_SPILL | IPC_RING_F_CLOSED)) ||
	    __atomic_load_n(&r->lane->gen, __ATOMIC_RELAXED) != r->gen)
		return true;
	if (r->maxsize && __atomic_load_n(&h->count, __ATOMIC_SEQ_CST) >= r->maxsize)
		return false;
	return !r->maxbytes || __atomic_load_n(&h->bytes, __ATOMIC_SEQ_CST) + len <= r->maxbytes;
}

/* Is a message published at the head, or does something change the route? */
static bool ring_data(const struct cring *r, size_t unused)
{
	const struct ipc_ring_hdr *h = r->h;
	uint64_t p = __atomic_load_n(&h->head, __ATOMIC_SEQ_CST);

	if ((__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) &
	     (IPC_RING_F_FRONT | IPC_RING_F_SPILL | IPC_RING_F_CLOSED)) ||
	    __atomic_load_n(&r->lane->gen, __ATOMIC_RELAXED) != r->gen)
		return true;
	return ipc_ring_seq(ipc_ring_slot(r->base, r->slot_bytes, r->slots, p), p, r->slots) ==
	       p + 1;
}

/*
 * Put msgs[0..n) as far as the ring takes them now, in one claim of a run of
 * slots: how many were put (*why 0), or 0 with *why: -EAGAIN when the queue
 * is full, -EMSGSIZE when the first can never fit its bounds, RING_FULL when
 * the queue has room but the ring has none now (full, or ipcd holds newer
 * puts), RING_SOCKET when the first must go by the socket.
 */
static size_t ring_try_put_n(struct cring *r, const struct iovec *msgs, size_t n, int *why)
{
	struct ipc_ring_hdr *h = r->h;
	uint64_t pos, bytes = 0;
	uint32_t k = 0, got, flags;
	int rc;

	*why = 0;
	if (r->maxbytes && msgs[0].iov_len > r->maxbytes) {
		*why = -EMSGSIZE;
		return 0;
	}
	flags = __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
	if (flags & (IPC_RING_F_SPILL | IPC_RING_F_CLOSED)) {
		/* ipcd holds newer puts: they go first.  While consumers take, ipcd
		 * moves them into the ring, and this put waits for that as for room. */
		*why = flags & IPC_RING_F_CLOSED ? RING_SOCKET : RING_FULL;
		return 0;
	}
	/* The run: messages that fit a slot, at most a batch. */
	while (k < n && k < RING_RUN && msgs[k].iov_len <= r->payload_max)
		bytes += msgs[k++].iov_len;
	if (!k || !ipc_ring_enter(r->lane, &r->ops, r->gen)) {
		*why = RING_SOCKET;   /* too large, or ipcd took the lane back: the socket says why */
		return 0;
	}
	if (ipc_ring_reserve(h, r->maxsize, r->maxbytes, k, bytes) < 0) {
		/* Not all of the run: as many as fit are put one by one. */
		bytes = msgs[0].iov_len;
		k = 1;
		if (ipc_ring_reserve(h, r->maxsize, r->maxbytes, 1, bytes) < 0) {
			ipc_ring_leave(r->lane, &r->ops);
			*why = -EAGAIN;
			return 0;
		}
	}
	got = k;
	while ((rc = ipc_ring_claim_n(h, r->base, r->slot_bytes, r->slots, &pos, &got, RING_TRIES,
				      r->lane)) == -EBUSY)
		got = k;
	if (rc < 0) {
		/* Within the bounds but no slot free (they exceed the ring): the
		 * caller waits a spin for a consumer, then gives it to ipcd. */
		__atomic_store_n(&r->lane->claim, 0, __ATOMIC_RELEASE);
		ipc_ring_unreserve(h, k, bytes);
		ipc_ring_leave(r->lane, &r->ops);
		*why = RING_FULL;
		return 0;
	}
	for (uint32_t i = 0; i < got; i++) {
		struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots, pos + i);

		s->len = (uint32_t)msgs[i].iov_len;
		memcpy(s->data, msgs[i].iov_base, msgs[i].iov_len);
		ipc_ring_commit(s, pos + i, r->slots, NULL);
	}
	__atomic_store_n(&r->lane->claim, 0, __ATOMIC_RELEASE);
	if (got < k) {
		/* The run was cut short by a slot not yet free: the rest is given back. */
		uint64_t rest = 0;

		for (uint32_t i = got; i < k; i++)
			rest += msgs[i].iov_len;
		ipc_ring_unreserve(h, k - got, rest);
	}
	ipc_ring_leave(r->lane, &r->ops);
	return got;
}

/*
 * The ring is full (or ipcd holds newer puts) but the queue is not: wait for
 * a consumer to take (true: try again).  Once none took for RING_STALL_NS
 * (a spin, then yields of the CPU, which the consumer may want), or after
 * RING_FULL_NS of waiting in this call (*until, 0 at first) however they
 * take, the message goes by the socket to ipcd, which holds it (false).
 * Until a consumer takes again, later puts do not wait at all: a put never
 * waits long, nor more than once on consumers that stopped.  Only the head
 * is read meanwhile.
 */
static bool ring_full_wait(struct cring *r, int64_t *until)
{
	uint64_t head = __atomic_load_n(&r->h->head, __ATOMIC_RELAXED);
	int64_t now = mono_ns(), stall = now + RING_STALL_NS;

	if (r->stalled == head + 1)
		return false;
	if (!*until)
		*until = now + RING_FULL_NS;
	else if (now >= *until)
		return false;
	for (unsigned i = 0;; i++) {
		if (i < RING_SPINS)
			ring_relax();
		else
			sched_yield();
		if (__atomic_load_n(&r->h->head, __ATOMIC_RELAXED) != head) {
			r->stalled = 0;
			return true;
		}
		if ((i & 15) == 15 && mono_ns() >= stall)
			break;
	}
	r->stalled = head + 1;
	return false;
}

/* Put one message if the ring takes it now: 0, or as ring_try_put_n's *why. */
static int ring_try_put(struct cring *r, const void *data, size_t len)
{
	struct iovec v = { (void *)data, len };
	int why;

	return ring_try_put_n(r, &v, 1, &why) ? 0 : why;
}

/*
 * Take up to max messages (at least one) if the ring has them now, in one
 * take of a run of slots: how many, in v (each malloc'd), with *why 0; or 0
 * with *why: -EAGAIN when empty; RING_SOCKET when the next is ipcd's to
 * give; -EPROTO when a slot is corrupt; -ENOMEM.  On an ack queue each is
 * leased, not freed (max is at most the leases left).
 */
static size_t ring_try_get_n(struct cring *r, struct iovec *v, size_t max, int *why)
{
	struct ipc_ring_hdr *h = r->h;
	uint32_t flags = __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
	uint64_t pos, bytes = 0;
	size_t out = 0, counted = 0;
	uint32_t got;
	int rc;

	*why = 0;
	if (flags & (IPC_RING_F_FRONT | IPC_RING_F_CLOSED)) {
		*why = RING_SOCKET;
		return 0;
	}
	if (!ipc_ring_enter(r->lane, &r->ops, r->gen)) {
		*why = RING_SOCKET;
		return 0;
	}
	do {
		got = max < RING_RUN ? (uint32_t)max : RING_RUN;
		while ((rc = ipc_ring_take_n(h, r->base, r->slot_bytes, r->slots, &pos, &got,
					     RING_TRIES, r->lane)) == -EBUSY)
			got = max < RING_RUN ? (uint32_t)max : RING_RUN;
		if (rc < 0) {
			__atomic_store_n(&r->lane->take, 0, __ATOMIC_RELEASE);
			ipc_ring_leave(r->lane, &r->ops);
			*why = flags & IPC_RING_F_SPILL ? RING_SOCKET : -EAGAIN;
			return 0;
		}
		for (uint32_t i = 0; i < got; i++) {
			struct ipc_ring_slot *s = ipc_ring_slot(r->base, r->slot_bytes, r->slots,
							       pos + i);
			uint32_t len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);

			/* A void holds nothing, and its producer's count is ipcd's to redo. */
			if (len == IPC_RING_LEN_VOID) {
				ipc_ring_free(s, pos + i, r->slots, NULL);
				continue;
			}
			counted++;
			bytes += len <= r->payload_max ? len : 0;
			v[out].iov_base = len <= r->payload_max ? malloc(len ? len : 1) : NULL;
			if (!v[out].iov_base) {
				/* Dropped: the message is lost to this process, as a socket get's
				 * reply would be; reported once nothing else was got. */
				ipc_ring_free(s, pos + i, r->slots, NULL);
				if (!*why)
					*why = len > r->payload_max ? -EPROTO : -ENOMEM;
				continue;
			}
			memcpy(v[out].iov_base, s->data, len);
			v[out].iov_len = len;
			out++;
			if (r->ack) {
				/* Leased, not freed: the slot is given back by task_done, or by
				 * ipcd to the head of the queue if this process dies first. */
				struct ipc_ring_lane *l = r->lane;

				__atomic_store_n(&l->lease[r->lease_tail % IPC_RING_LEASES], pos + i + 1,
						 __ATOMIC_RELEASE);
				__atomic_store_n(&l->lease_tail, ++r->lease_tail, __ATOMIC_RELEASE);
			} else {
				ipc_ring_free(s, pos + i, r->slots, NULL);
			}
		}
		__atomic_store_n(&r->lane->take, 0, __ATOMIC_RELEASE);
	} while (!counted);   /* only voids: take the next run */
	ipc_ring_unreserve(h, counted, bytes);
	ipc_ring_leave(r->lane, &r->ops);
	if (out)
		*why = 0;
	return out;
}

int ring_put(ipc_queue *q, const void *data, size_t len, int timeout_ms, int *left_ms)
{
	int64_t deadline = -2, full_until = 0;
	struct ring_spin spin = { 0, 0 };
	int rc;

	for (;;) {
		rc = ring_try_put(q->ring, data, len);
		if (rc == 0)
			ring_after(q, true, 1);
		if (rc == RING_FULL) {
			if (ring_full_wait(q->ring, &full_until))
				continue;
			rc = RING_SOCKET;
		}
		if (rc != -EAGAIN || timeout_ms == 0)
			break;
		if (deadline == -2)
			deadline = io_deadline(timeout_ms);
		if (ring_spin(&spin))
			continue;
		rc = ring_sleep(q, &q->ring->h->room_futex, &q->ring->h->room_sleepers,
				IPC_RING_SLEEP_ROOM, deadline, ring_room, len);
		if (rc < 0)
			break;
	}
	*left_ms = deadline == -2 ? timeout_ms : io_left_ms(deadline);
	return rc;
}

size_t ring_put_many(ipc_queue *q, const struct iovec *msgs, size_t n, int timeout_ms,
		     int *left_ms, int *stop)
{
	size_t done = 0, fresh = 0;
	int64_t full_until = 0;
	int rc = 0;

	*left_ms = timeout_ms;
	while (done < n) {
		size_t k = ring_try_put_n(q->ring, msgs + done, n - done, &rc);

		if (k) {
			done += k;
			fresh += k;
			continue;
		}
		if (fresh)
			ring_after(q, true, fresh);
		fresh = 0;
		if (rc == RING_FULL) {
			if (ring_full_wait(q->ring, &full_until))
				continue;
			rc = RING_SOCKET;
		}
		if (rc != -EAGAIN)
			break;
		/* Full: wait for room as a put does, within what is left of the time. */
		rc = ring_put(q, msgs[done].iov_base, msgs[done].iov_len, *left_ms, left_ms);
		if (rc < 0 || rc == RING_SOCKET)
			break;
		done++;
	}
	if (fresh)
		ring_after(q, true, fresh);
	*stop = done == n ? 0 : rc;
	return done;
}

int ring_get_many(ipc_queue *q, struct iovec *msgs, size_t max, int timeout_ms, int *left_ms)
{
	struct cring *r = q->ring;
	int64_t deadline = -2;
	struct ring_spin spin = { 0, 0 };
	size_t n = 0;
	int rc = -EAGAIN;

	*left_ms = timeout_ms;
	/* On an ack queue, gets by the socket wait for task_done first: the
	 * leases are then always the oldest, and task_done knows which to end. */
	if (r->ack) {
		uint64_t room = IPC_RING_LEASES - (r->lease_tail - r->lease_head);

		if (q->unacked || !room)
			return RING_SOCKET;
		if (max > room)
			max = (size_t)room;
	}
	for (;;) {
		while (n < max && n < INT_MAX - 1) {
			size_t k = ring_try_get_n(q->ring, msgs + n, max - n, &rc);

			if (!k)
				break;
			n += k;
		}
		if (n) {
			ring_after(q, false, n);
			return (int)n;
		}
		if (rc == RING_SOCKET && deadline != -2)
			*left_ms = io_left_ms(deadline);
		if (rc != -EAGAIN)
			return rc;
		if (timeout_ms == 0)
			return -EAGAIN;
		if (deadline == -2)
			deadline = io_deadline(timeout_ms);
		if (ring_spin(&spin))
			continue;
		rc = ring_sleep(q, &q->ring->h->data_futex, &q->ring->h->data_sleepers,
				IPC_RING_SLEEP_DATA, deadline, ring_data, 0);
		if (rc == -ETIMEDOUT)
			return -ETIMEDOUT;
		if (rc < 0)
			return rc;
	}
}
