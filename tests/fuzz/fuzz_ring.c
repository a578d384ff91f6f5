/*
 * fuzz_ring.c - libFuzzer target for ipcd's reading of a queue's shared
 * ring, which any process that maps it may have written: the input's first
 * bytes choose the queue's bounds, the next cover the ring's memory (header
 * and slots) as a hostile client would leave it, and the rest are
 * operations ipcd performs on it (taking messages into the front for socket
 * gets, peeking, storing messages by the socket, publishing its counts,
 * purging, stat).  Everything ipcd took must fit a slot; nothing may crash,
 * hang or leak.  The queue is then removed and freed as in ipcd.
 */
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

/* Everything the front holds fits a slot, and is read whole. */
static void check_front(const struct queue *q)
{
	struct msgcursor cur = msgstore_cursor(&q->store);
	volatile unsigned sink = 0;
	struct msgrec rec;

	while (msgstore_next_rec(&cur, &rec)) {
		if (rec.len > q->ring->payload_max)
			abort();
		for (size_t i = 0; i < rec.len; i++)
			sink += ((const unsigned char *)rec.data)[i];
	}
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue *q;
	size_t n, ringbytes;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (size < 2)
		return 0;
	q = ring_queue(data[0] & 1 ? (data[0] >> 1) % 16 : 0, data[1] & 1 ? data[1] * 4u : 0);
	data += 2;
	size -= 2;
	ringbytes = q->ring->size;
	n = size < ringbytes ? size : ringbytes;
	memcpy(q->ring->mem, data, n);
	data += n;
	size -= n;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (size_t i = 0; i < size; i++) {
		unsigned char op = data[i];
		void *copy;
		size_t len;

		switch (op % 6) {
		case 0:
			qring_fill(q, 1 + op / 6 % 8);
			check_front(q);
			/* Hand them out, as a socket get does. */
			while (q->store.count && op & 0x80)
				queue_forget(q, &q->store);
			break;
		case 1:
			if (qring_peek(q, &copy, &len) == 0) {
				if (len > q->ring->payload_max && !q->ring->spill.count)
					abort();
				free(copy);
			}
			break;
		case 2:
			len = op / 6 * 3;
			qring_put(q, data, len < size ? len : size);
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
		default:
			sb.size = 0;
			object_pack_stat(&q->obj, &pk);
			break;
		}
	}
	msgpack_sbuffer_destroy(&sb);
	object_unlink(&q->obj);
	return 0;
}
