/*
 * msgstore.c - length-prefixed records in chunks (see msgstore.h).
 *
 * A record is a native-endian uint32 length word (the length, and in its
 * top bit MSG_REDELIVERED), then in a store with ids a uint64 id, then the
 * payload; a record never spans two chunks, so a message larger than a
 * chunk gets a chunk of its own sized to fit.
 *
 * Chunks are mapped from the kernel (mmap), not taken from malloc, so that
 * memory a drained queue held can be given back whole: from malloc, the
 * chunks of a deep queue, drained, stayed in the heap between allocations
 * made meanwhile (1,000,000 messages drained left 996 MB resident).
 * Emptied chunks of the standard size go to a pool shared by every store
 * and are taken from it first, so put and pop stay O(1) and a queue that
 * grows and shrinks reuses warm memory without a system call;
 * msgstore_release_idle(), called every second, unmaps what the pool did
 * not need during the last interval.  The daemon is single-threaded; so is
 * the pool.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "msgstore.h"

struct msgchunk {
	struct msgchunk *next;
	size_t size;             /* bytes of data[] */
	size_t start;            /* offset of the oldest record not yet popped */
	size_t used;             /* bytes of data[] holding records */
	unsigned char data[];
};

#define REC_HDR sizeof(uint32_t)
#define REC_ID sizeof(uint64_t)
#define LEN_MASK 0x7fffffffu
#define LEN_REDELIVERED 0x80000000u

/* Bytes of the record header in s: the length word and the id. */
static size_t rec_hdr(const struct msgstore *s)
{
	return REC_HDR + (s->ids ? REC_ID : 0);
}

void msgstore_init(struct msgstore *s)
{
	memset(s, 0, sizeof *s);
}

void msgstore_init_ids(struct msgstore *s, bool ids)
{
	msgstore_init(s);
	s->ids = ids;
}

/* Read the record at p of a store with (ids) or without ids. */
static size_t rec_read(const unsigned char *p, bool ids, struct msgrec *rec)
{
	uint32_t w;

	memcpy(&w, p, REC_HDR);
	rec->len = w & LEN_MASK;
	rec->flags = w & LEN_REDELIVERED ? MSG_REDELIVERED : 0;
	rec->id = 0;
	if (ids)
		memcpy(&rec->id, p + REC_HDR, REC_ID);
	rec->data = p + REC_HDR + (ids ? REC_ID : 0);
	return REC_HDR + (ids ? REC_ID : 0) + rec->len;
}

/*
 * Emptied standard chunks, most recently emptied first.  low is the fewest
 * the pool held since the last msgstore_release_idle(): that many were not
 * needed during the interval.
 */
static struct {
	struct msgchunk *head;
	size_t count;
	size_t low;
} pool;

/* Chunks the pool keeps however idle: 1 MiB, for the next burst. */
#define POOL_KEEP 16

/* Bytes mapped for a chunk holding need bytes of records: whole pages. */
static size_t chunk_map_size(size_t need)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t min = sizeof(struct msgchunk) + need;

	if (min < MSGSTORE_CHUNK)
		min = MSGSTORE_CHUNK;
	return (min + page - 1) / page * page;
}

static void chunk_unmap(struct msgchunk *c)
{
	munmap(c, sizeof *c + c->size);
}

/* Take c from s: to the pool if it has the standard size, else unmapped. */
static void chunk_free(struct msgstore *s, struct msgchunk *c)
{
	s->allocated -= sizeof *c + c->size;
	if (sizeof *c + c->size != MSGSTORE_CHUNK) {
		chunk_unmap(c);
		return;
	}
	c->next = pool.head;
	pool.head = c;
	pool.count++;
}

void msgstore_release_idle(void)
{
	size_t n = pool.low > POOL_KEEP ? pool.low - POOL_KEEP : 0;

	while (n-- && pool.head) {
		struct msgchunk *c = pool.head;

		pool.head = c->next;
		pool.count--;
		chunk_unmap(c);
	}
	pool.low = pool.count;
}

void msgstore_cleanup(void)
{
	while (pool.head) {
		struct msgchunk *c = pool.head;

		pool.head = c->next;
		chunk_unmap(c);
	}
	pool.count = pool.low = 0;
}

void msgstore_clear(struct msgstore *s)
{
	struct msgchunk *c, *next;

	for (c = s->head; c; c = next) {
		next = c->next;
		chunk_free(s, c);
	}
	msgstore_init_ids(s, s->ids);
}

static struct msgchunk *chunk_new(struct msgstore *s, size_t need)
{
	struct msgchunk *c;
	size_t map;

	if (pool.head && pool.head->size >= need) {
		c = pool.head;
		pool.head = c->next;
		if (--pool.count < pool.low)
			pool.low = pool.count;
	} else {
		if (need > SIZE_MAX - MSGSTORE_CHUNK)
			return NULL;
		map = chunk_map_size(need);
		c = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED)
			return NULL;
		c->size = map - sizeof *c;
	}
	s->allocated += sizeof *c + c->size;
	c->next = NULL;
	c->start = 0;
	c->used = 0;
	return c;
}

int msgstore_put(struct msgstore *s, const void *data, size_t len)
{
	return msgstore_put_rec(s, data, len, 0, 0);
}

int msgstore_put_rec(struct msgstore *s, const void *data, size_t len, uint64_t id,
		     unsigned flags)
{
	struct msgchunk *c = s->tail;
	size_t hdr = rec_hdr(s);
	uint32_t w = (uint32_t)len | (flags & MSG_REDELIVERED ? LEN_REDELIVERED : 0);

	if (len > MSGSTORE_MAX_LEN)
		return -EMSGSIZE;
	if (!c || c->size - c->used < hdr + len) {
		c = chunk_new(s, hdr + len);
		if (!c)
			return -ENOMEM;
		if (s->tail)
			s->tail->next = c;
		else
			s->head = c;
		s->tail = c;
	}
	memcpy(c->data + c->used, &w, REC_HDR);
	if (s->ids)
		memcpy(c->data + c->used + REC_HDR, &id, REC_ID);
	memcpy(c->data + c->used + hdr, data, len);
	c->used += hdr + len;
	s->count++;
	s->bytes += len;
	return 0;
}

int msgstore_peek_rec(const struct msgstore *s, struct msgrec *rec)
{
	if (!s->count)
		return -EAGAIN;
	rec_read(s->head->data + s->head->start, s->ids, rec);
	return 0;
}

int msgstore_peek(const struct msgstore *s, const void **data, size_t *len)
{
	struct msgrec rec;
	int rc = msgstore_peek_rec(s, &rec);

	if (rc < 0)
		return rc;
	*data = rec.data;
	*len = rec.len;
	return 0;
}

void msgstore_mark(struct msgstore *s, unsigned flags)
{
	struct msgchunk *c;

	if (!(flags & MSG_REDELIVERED))
		return;
	for (c = s->head; c; c = c->next) {
		size_t off = c->start;

		while (off < c->used) {
			struct msgrec rec;
			size_t n = rec_read(c->data + off, s->ids, &rec);
			uint32_t w = (uint32_t)rec.len | LEN_REDELIVERED;

			memcpy(c->data + off, &w, REC_HDR);
			off += n;
		}
	}
}

struct msgcursor msgstore_cursor(const struct msgstore *s)
{
	struct msgcursor cur = { s->head, s->head ? s->head->start : 0, s->ids };

	return cur;
}

bool msgstore_next_rec(struct msgcursor *cur, struct msgrec *rec)
{
	while (cur->chunk && cur->off >= cur->chunk->used) {
		cur->chunk = cur->chunk->next;
		cur->off = cur->chunk ? cur->chunk->start : 0;
	}
	if (!cur->chunk)
		return false;
	cur->off += rec_read(cur->chunk->data + cur->off, cur->ids, rec);
	return true;
}

void msgstore_pop(struct msgstore *s)
{
	struct msgchunk *c = s->head;
	struct msgrec rec;

	c->start += rec_read(c->data + c->start, s->ids, &rec);
	s->count--;
	s->bytes -= rec.len;
	if (c->start < c->used)
		return;
	/* The head chunk is used up: an empty store holds no chunk. */
	s->head = c->next;
	if (!s->head)
		s->tail = NULL;
	chunk_free(s, c);
}

int msgstore_move(struct msgstore *dst, struct msgstore *src)
{
	struct msgrec rec = { 0 };
	int rc;

	msgstore_peek_rec(src, &rec);
	rc = msgstore_put_rec(dst, rec.data, rec.len, rec.id, rec.flags);
	if (rc == 0)
		msgstore_pop(src);
	return rc;
}

void msgstore_splice_front(struct msgstore *dst, struct msgstore *src)
{
	struct msgchunk *c, *next;

	if (!src->count) {
		msgstore_clear(src);
		return;
	}
	if (!dst->count) {
		/* dst's chunks hold nothing live: let them go. */
		for (c = dst->head; c; c = next) {
			next = c->next;
			chunk_free(dst, c);
		}
		dst->head = dst->tail = NULL;
	}
	if (dst->head)
		src->tail->next = dst->head;
	else
		dst->tail = src->tail;
	dst->head = src->head;
	dst->count += src->count;
	dst->bytes += src->bytes;
	dst->allocated += src->allocated;
	msgstore_init_ids(src, src->ids);
}
