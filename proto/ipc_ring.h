/*
 * ipc_ring.h - the layout of a queue's shared-memory ring, shared by ipcd and
 * libipcclient (internal: never installed).
 *
 * A ring is a sealed memfd that ipcd creates with a local queue and hands to
 * each handle allowed both to put and to get.  It is a bounded many-producer
 * many-consumer FIFO of fixed-size slots, each with a sequence number
 * (Vyukov's scheme): a producer claims position p when slot p's sequence is
 * p and publishes with p + 1; a consumer takes p when it reads p + 1 and
 * frees it with p + slots.  Positions are 64-bit and never wrap.  A slot
 * stores its sequence minus its index (ipc_ring_seq), so a new ring is zeros.
 *
 * The ring is the middle of a queue's order.  ipcd may hold messages older
 * than the ring's (the "front": messages returned by a socket consumer that
 * went) and newer ones (the "spill": messages too large for a slot, or put
 * while the ring was full); the flags word says so, and while it does the
 * clients use the socket for that side, so that everyone sees one order.
 * count and bytes hold every queued message, wherever it sits: a producer
 * adds before it claims (which makes maxsize and maxbytes exact under many
 * producers), a consumer subtracts after it frees.
 *
 * Each handle that maps the ring owns a lane (its index comes with the open
 * reply): two cache lines where it says what it is in the middle of.
 * Before it claims position p it writes p + 1 in claim, and clears it once
 * p is published; before it takes p it writes p + 1 in take, and clears it
 * once p is freed (or, on an ack queue, leased); ops is odd for the whole
 * of an operation.  When the handle's process dies, ipcd reads its lane: a
 * position claimed and never published is published as a void
 * (IPC_RING_LEN_VOID, which consumers skip), a position taken and never
 * freed goes back to the head of the queue (marked redelivered if it was
 * leased), and a count left half-changed is recounted once no lane is busy.
 * ipcd takes a lane back by changing its gen: a client checks gen at the
 * start of each operation and goes by the socket once it is not its own.
 *
 * Every word here may be written by any process that maps the ring: ipcd
 * keeps its own copy of the geometry, of the flags and of the lanes' gens,
 * and checks every index and length it reads.
 */
#ifndef IPC_RING_H
#define IPC_RING_H

#include <stdbool.h>
#include <stdint.h>

#define IPC_RING_MAGIC   0x31474e4952435049ull   /* "IPCRING1" */
#define IPC_RING_VERSION 2u
#define IPC_RING_LINE    64u
#define IPC_RING_LANES   256u     /* handles that may map one ring at once */
#define IPC_RING_RUN_MAX 64u      /* positions one claim or take names at most */
#define IPC_RING_LEN_VOID 0xffffffffu /* a slot ipcd published for a producer that died */

/* flags: written by ipcd alone (it never reads them back). */
#define IPC_RING_F_FRONT    0x1u  /* ipcd holds messages older than the ring's: get by socket */
#define IPC_RING_F_SPILL    0x2u  /* ipcd holds newer ones: put by socket; an empty ring asks it */
#define IPC_RING_F_KICK_PUT 0x4u  /* ipcd waits to hear of puts: send queue.ring_kick */
#define IPC_RING_F_KICK_GET 0x8u  /* ipcd waits to hear of gets: send queue.ring_kick */
#define IPC_RING_F_CLOSED   0x10u /* removed or broken: use the socket, which says why */

/* lane sleep: where the owner counted itself in, so that ipcd can count it out. */
#define IPC_RING_SLEEP_DATA 0x1u
#define IPC_RING_SLEEP_ROOM 0x2u

/* Messages one handle of an ack queue may hold through the ring, not yet acknowledged. */
#define IPC_RING_LEASES 8u

struct ipc_ring_lane {
	_Alignas(IPC_RING_LINE) uint64_t gen; /* ipcd's: the owner's, until ipcd takes it back */
	uint64_t ops;                /* the owner's: odd during an operation */
	uint64_t claim;              /* first position + 1 being claimed or written; 0 none */
	uint64_t take;               /* first position + 1 taken, not yet freed; 0 none */
	uint32_t sleep;              /* IPC_RING_SLEEP_* */
	uint32_t claim_n, take_n;    /* how many positions from claim, from take */
	uint32_t pad;
	/*
	 * Ack queues: the owner's leases, a FIFO of positions + 1 it took and
	 * has not acknowledged; their slots stay taken (never freed) until then.
	 * lease_tail counts leases made, lease_head leases acknowledged: an
	 * acknowledgement frees the slot, then moves lease_head, so a slot of
	 * lease_head found freed is one acknowledged as its owner died.
	 */
	uint64_t lease_head, lease_tail;
	uint64_t lease[IPC_RING_LEASES];
};

struct ipc_ring_hdr {
	/* Geometry, written once before the ring is handed out. */
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_bytes;          /* offset of slot 0 */
	uint32_t slots;              /* a power of two */
	uint32_t slot_bytes;         /* a multiple of 8, header included */
	uint64_t maxsize, maxbytes;  /* the queue's bounds; 0 unbounded */
	uint32_t ack;                /* 1: an ack queue, whose consumers lease what they take */
	/* Producers' line: the next position to claim, puts through the ring. */
	_Alignas(IPC_RING_LINE) uint64_t tail;
	uint64_t puts;
	/* Consumers' line. */
	_Alignas(IPC_RING_LINE) uint64_t head;
	uint64_t gets;
	/* Every queued message and its payload bytes (ring, front and spill). */
	_Alignas(IPC_RING_LINE) uint64_t count;
	uint64_t bytes;
	_Alignas(IPC_RING_LINE) uint32_t flags;
	/* Consumers sleep on data_futex while data_sleepers > 0; producers bump and wake. */
	_Alignas(IPC_RING_LINE) uint32_t data_futex;
	uint32_t data_sleepers;
	/* Producers sleep on room_futex for room; consumers bump and wake. */
	_Alignas(IPC_RING_LINE) uint32_t room_futex;
	uint32_t room_sleepers;
	struct ipc_ring_lane lane[IPC_RING_LANES];
};

struct ipc_ring_slot {
	uint64_t seq;
	uint32_t len;                /* payload bytes, at most slot_bytes - 16 */
	uint32_t pad;
	unsigned char data[];
};

#define IPC_RING_SLOT_HDR 16u
#define IPC_RING_HDR_BYTES ((uint32_t)((sizeof(struct ipc_ring_hdr) + 4095) & ~(size_t)4095))

/* Slot pos of a ring whose slots start at base. */
static inline struct ipc_ring_slot *ipc_ring_slot(unsigned char *base, uint32_t slot_bytes,
						  uint32_t slots, uint64_t pos)
{
	return (struct ipc_ring_slot *)(void *)(base + (size_t)(pos & (slots - 1)) * slot_bytes);
}

/*
 * Slot i keeps its sequence number minus i, so that a new ring is all
 * zeros: no page of it is touched (or resident) before a message uses it.
 */
static inline uint64_t ipc_ring_seq(const struct ipc_ring_slot *s, uint64_t pos, uint32_t slots)
{
	return __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) + (pos & (slots - 1));
}

static inline void ipc_ring_set_seq(struct ipc_ring_slot *s, uint64_t pos, uint32_t slots,
				    uint64_t seq)
{
	__atomic_store_n(&s->seq, seq - (pos & (slots - 1)), __ATOMIC_RELEASE);
}

/*
 * Claim up to *n free positions in a row for writing (the first must be
 * free; the run stops at the first that is not), trying at most tries times
 * against other producers, naming them in lane (NULL for ipcd, which never
 * dies alone).  0 with *pos and *n; -EAGAIN when the ring has no free slot;
 * -EBUSY when others kept winning (try again later).  The lane may name
 * positions it did not win: only one that tail passed and that nobody
 * published counts.
 */
static inline int ipc_ring_claim_n(struct ipc_ring_hdr *h, unsigned char *base,
				   uint32_t slot_bytes, uint32_t slots, uint64_t *pos, uint32_t *n,
				   unsigned tries, struct ipc_ring_lane *lane)
{
	uint64_t p = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);

	while (tries--) {
		struct ipc_ring_slot *s = ipc_ring_slot(base, slot_bytes, slots, p);
		int64_t dif = (int64_t)(ipc_ring_seq(s, p, slots) - p);

		if (dif == 0) {
			uint32_t k = 1;

			while (k < *n && ipc_ring_seq(ipc_ring_slot(base, slot_bytes, slots, p + k),
						      p + k, slots) == p + k)
				k++;
			/* Said before the claim (which releases it): whoever sees tail
			 * past p sees this lane name p, until p is published. */
			if (lane) {
				__atomic_store_n(&lane->claim_n, k, __ATOMIC_RELAXED);
				__atomic_store_n(&lane->claim, p + 1, __ATOMIC_RELEASE);
			}
			if (__atomic_compare_exchange_n(&h->tail, &p, p + k, true, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED)) {
				*pos = p;
				*n = k;
				return 0;
			}
		} else if (dif < 0) {
			return -11; /* -EAGAIN: full */
		} else {
			p = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);
		}
	}
	return -16; /* -EBUSY */
}

static inline int ipc_ring_claim(struct ipc_ring_hdr *h, unsigned char *base, uint32_t slot_bytes,
				 uint32_t slots, uint64_t *pos, unsigned tries,
				 struct ipc_ring_lane *lane)
{
	uint32_t n = 1;

	return ipc_ring_claim_n(h, base, slot_bytes, slots, pos, &n, tries, lane);
}

/*
 * Take up to *n published positions in a row from the head for reading, as
 * ipc_ring_claim_n.  -EAGAIN when nothing is published at the head (empty,
 * or its producer has not committed yet).
 */
static inline int ipc_ring_take_n(struct ipc_ring_hdr *h, unsigned char *base, uint32_t slot_bytes,
				  uint32_t slots, uint64_t *pos, uint32_t *n, unsigned tries,
				  struct ipc_ring_lane *lane)
{
	uint64_t p = __atomic_load_n(&h->head, __ATOMIC_RELAXED);

	while (tries--) {
		struct ipc_ring_slot *s = ipc_ring_slot(base, slot_bytes, slots, p);
		int64_t dif = (int64_t)(ipc_ring_seq(s, p, slots) - (p + 1));

		if (dif == 0) {
			uint32_t k = 1;

			while (k < *n && ipc_ring_seq(ipc_ring_slot(base, slot_bytes, slots, p + k),
						      p + k, slots) == p + k + 1)
				k++;
			if (lane) {
				__atomic_store_n(&lane->take_n, k, __ATOMIC_RELAXED);
				__atomic_store_n(&lane->take, p + 1, __ATOMIC_RELEASE);
			}
			if (__atomic_compare_exchange_n(&h->head, &p, p + k, true, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED)) {
				*pos = p;
				*n = k;
				return 0;
			}
		} else if (dif < 0) {
			return -11;
		} else {
			p = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
		}
	}
	return -16;
}

static inline int ipc_ring_take(struct ipc_ring_hdr *h, unsigned char *base, uint32_t slot_bytes,
				uint32_t slots, uint64_t *pos, unsigned tries,
				struct ipc_ring_lane *lane)
{
	uint32_t n = 1;

	return ipc_ring_take_n(h, base, slot_bytes, slots, pos, &n, tries, lane);
}

/* Publish a claimed slot to consumers; the lane (if any) names it no more. */
static inline void ipc_ring_commit(struct ipc_ring_slot *s, uint64_t pos, uint32_t slots,
				   struct ipc_ring_lane *lane)
{
	ipc_ring_set_seq(s, pos, slots, pos + 1);
	if (lane)
		__atomic_store_n(&lane->claim, 0, __ATOMIC_RELEASE);
}

/* Give a taken slot back to producers; the lane (if any) names it no more. */
static inline void ipc_ring_free(struct ipc_ring_slot *s, uint64_t pos, uint32_t slots,
				 struct ipc_ring_lane *lane)
{
	ipc_ring_set_seq(s, pos, slots, pos + slots);
	if (lane)
		__atomic_store_n(&lane->take, 0, __ATOMIC_RELEASE);
}

/*
 * The lane's owner starts an operation (ops counts them, odd inside one):
 * true, or false with nothing begun once ipcd took the lane back (its gen is
 * no longer the owner's).  The gen is read after ops is written, and ipcd
 * writes gen before it reads ops: one of the two sees the other.
 */
static inline bool ipc_ring_enter(struct ipc_ring_lane *lane, uint64_t *ops, uint64_t gen)
{
	__atomic_store_n(&lane->ops, ++*ops, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&lane->gen, __ATOMIC_SEQ_CST) == gen)
		return true;
	__atomic_store_n(&lane->ops, ++*ops, __ATOMIC_RELEASE);
	return false;
}

/* The operation ended: every count it changed is whole again. */
static inline void ipc_ring_leave(struct ipc_ring_lane *lane, uint64_t *ops)
{
	__atomic_store_n(&lane->ops, ++*ops, __ATOMIC_RELEASE);
}

/*
 * Reserve room for n messages of bytes in total: 0, or -EAGAIN (nothing
 * reserved) when the bounds would be passed.
 */
static inline int ipc_ring_reserve(struct ipc_ring_hdr *h, uint64_t maxsize, uint64_t maxbytes,
				   uint64_t n, uint64_t bytes)
{
	uint64_t c = __atomic_add_fetch(&h->count, n, __ATOMIC_SEQ_CST);

	if (maxsize && c > maxsize) {
		__atomic_sub_fetch(&h->count, n, __ATOMIC_SEQ_CST);
		return -11;
	}
	if (maxbytes) {
		uint64_t b = __atomic_add_fetch(&h->bytes, bytes, __ATOMIC_SEQ_CST);

		if (b > maxbytes) {
			__atomic_sub_fetch(&h->bytes, bytes, __ATOMIC_SEQ_CST);
			__atomic_sub_fetch(&h->count, n, __ATOMIC_SEQ_CST);
			return -11;
		}
	} else {
		__atomic_add_fetch(&h->bytes, bytes, __ATOMIC_RELAXED);
	}
	return 0;
}

/* n messages of bytes left the queue (or a reservation is given back). */
static inline void ipc_ring_unreserve(struct ipc_ring_hdr *h, uint64_t n, uint64_t bytes)
{
	__atomic_sub_fetch(&h->bytes, bytes, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&h->count, n, __ATOMIC_SEQ_CST);
}

#endif
