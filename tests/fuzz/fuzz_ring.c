/*
 * fuzz_ring.c - libFuzzer target for ipcd's reading of a queue's shared
 * ring, which any process that maps it may have written: the input's first
 * bytes choose the queue's bounds, the next cover the ring's memory (the
 * header's lines, the slots, the first lanes) as a hostile client would
 * leave it, and the rest are operations ipcd performs on it (taking
 * messages into the front for socket gets, peeking, storing messages by the
 * socket, publishing its counts, purging, stat, giving a lane to a handle
 * that then writes it and dies, and mending what it left).  What ipcd holds must be what the design lets it hold
 * (check_held); nothing may crash, hang or leak.  The queue is then removed
 * and freed as in ipcd.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "object.h"
#include "qring.h"
#include "queue.h"
#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server *srv;
static char dir[64];

static void remove_dir(void)
{
	char path[128];

	server_destroy(srv);
	snprintf(path, sizeof path, "%s/ipcd.sock.lock", dir);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct config_source src;
	struct config cfg;
	char path[128];

	config_init(&cfg);
	log_set_level(LOG_LVL_ERROR);
	snprintf(dir, sizeof dir, "/tmp/ipcd-fuzz.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof path, "%s/ipcd.sock", dir);
	cfg.socket = strdup(path);
	srv = cfg.socket ? server_create(&cfg, &src) : NULL;
	config_free(&cfg);
	if (!srv)
		exit(1);
	atexit(remove_dir);
	return 0;
}

/* A queue as queue.open makes one, with a ring of 8 slots of 64 bytes. */
static struct queue *ring_queue(size_t maxsize, size_t maxbytes)
{
	struct queue *q = calloc(1, sizeof *q);

	if (!q)
		abort();
	msgstore_init(&q->store);
	TAILQ_INIT(&q->getters);
	TAILQ_INIT(&q->putters);
	TAILQ_INIT(&q->joiners);
	TAILQ_INIT(&q->consumers);
	q->be = &queue_local;   /* only the local backend has rings */
	q->maxsize = maxsize;
	q->maxbytes = maxbytes;
	if (object_link(srv, &q->obj, &queue_kind, "fuzz", 4, 0, 0, 0600) < 0 ||
	    qring_create(q, 8, 64) < 0)
		abort();
	return q;
}

/*
 * Is this message one ipcd may hold?  The front (the queue's msgstore) gets
 * what ipcd took out of a slot, never more than a slot's payload, and the
 * spill's head once the ring is empty (DESIGN.md, Shared-memory rings); the
 * spill gets only what came by the socket, of any length up to the queue's
 * bounds.  Here every socket put is the first len bytes of the operations,
 * so a message longer than a slot must be exactly that: anything else came
 * out of shared memory past a slot's bounds.  The bytes are read whole.
 */
static bool may_hold(const struct queue *q, const void *data, size_t len, bool from_slot,
		     const uint8_t *put, size_t put_len)
{
	volatile unsigned sink = 0;

	for (size_t i = 0; i < len; i++)
		sink += ((const unsigned char *)data)[i];
	(void)sink;
	if (from_slot && len <= q->ring->payload_max)
		return true;
	return len <= put_len && memcmp(data, put, len) == 0;
}

/* Everything in the front and the spill is what may_hold allows. */
static void check_held(const struct queue *q, const uint8_t *put, size_t put_len)
{
	struct msgcursor cur = msgstore_cursor(&q->store);
	struct msgrec rec;

	while (msgstore_next_rec(&cur, &rec))
		if (!may_hold(q, rec.data, rec.len, true, put, put_len))
			abort();
	cur = msgstore_cursor(&q->ring->spill);
	while (msgstore_next_rec(&cur, &rec))
		if (!may_hold(q, rec.data, rec.len, false, put, put_len))
			abort();
}

/* Copy up to len bytes of the input at *data into dst; the input moves on. */
static void scribble(void *dst, size_t len, const uint8_t **data, size_t *size)
{
	size_t n = *size < len ? *size : len;

	memcpy(dst, *data, n);
	*data += n;
	*size -= n;
}

/* The lanes the input covers and gives: a handle's lane is the first free one. */
#define FUZZ_LANES 4
#define FUZZ_OPS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue *q;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	bool owned[FUZZ_LANES] = { false };
	const uint8_t *put;
	size_t put_len;

	if (size < 2)
		return 0;
	q = ring_queue(data[0] & 1 ? (data[0] >> 1) % 16 : 0, data[1] & 1 ? data[1] * 4u : 0);
	data += 2;
	size -= 2;
	scribble(q->ring->mem, offsetof(struct ipc_ring_hdr, lane), &data, &size);
	scribble(q->ring->base, (size_t)q->ring->slots * q->ring->slot_bytes, &data, &size);
	scribble(q->ring->h->lane, FUZZ_LANES * sizeof(struct ipc_ring_lane), &data, &size);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* Every socket put is the first bytes of the operations (check_held). */
	put = data;
	put_len = size;
	/* At most FUZZ_OPS operations: each checks all that ipcd holds (quadratic). */
	for (unsigned ops = 0; size && ops < FUZZ_OPS; ops++) {
		unsigned char op = *data++;
		void *copy;
		size_t len;

		size--;
		switch (op % 8) {
		case 0:
			qring_fill(q, 1 + op / 6 % 8);
			check_held(q, put, put_len);
			/* Hand them out, as a socket get does. */
			while (q->store.count && op & 0x80)
				queue_forget(q, &q->store);
			break;
		case 1:
			/* The ring's head, else the spill's: a slot's payload or a socket put. */
			if (qring_peek(q, &copy, &len) == 0) {
				if (!may_hold(q, copy, len, true, put, put_len) ||
				    (len > q->ring->payload_max && !q->ring->spill.count))
					abort();
				free(copy);
			}
			break;
		case 2:
			len = op / 6 * 3;
			qring_put(q, put, len < put_len ? len : put_len);
			check_held(q, put, put_len);
			break;
		case 3:
			qring_sync(q);
			(void)qring_depth(q);
			(void)qring_bytes(q);
			(void)qring_has_room(q, 1, 0, op);
			break;
		case 4:
			/* purge: the front's messages forgotten, the ring's and spill's dropped. */
			if (op & 0x40) {
				while (q->store.count)
					queue_forget(q, &q->store);
				qring_purge(q);
			}
			break;
		case 5:
			sb.size = 0;
			object_pack_stat(&q->obj, &pk);
			break;
		case 6: {
			/* A handle maps the ring, then writes its lane as it pleases. */
			int lane = qring_lane_take(q);

			if (lane >= 0 && lane < FUZZ_LANES) {
				owned[lane] = true;
				scribble(&q->ring->h->lane[lane].ops, 3 * sizeof(uint64_t) + 4, &data,
					 &size);
			}
			break;
		}
		default:
			/* Its process died (pid unknown: taken as gone): ipcd mends what it left. */
			if (owned[op / 8 % FUZZ_LANES]) {
				owned[op / 8 % FUZZ_LANES] = false;
				qring_lane_give(q, op / 8 % FUZZ_LANES, 0);
				check_held(q, put, put_len);
			}
			break;
		}
	}
	msgpack_sbuffer_destroy(&sb);
	object_unlink(&q->obj);
	return 0;
}
