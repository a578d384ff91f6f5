/*
 * msgstore.c - length-prefixed records in chunks (see msgstore.h).
 *
 * A record is a native-endian uint32 length word (the length, and in its
 * top bit MSG_REDELIVERED), then in a store with ids a uint64 id, then the
 * payload; a record never spans two chunks, so a message larger than
 * MSGSTORE_CHUNK gets a chunk of its own sized to fit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static void chunk_free(struct msgstore *s, struct msgchunk *c)
{
	s->allocated -= sizeof *c + c->size;
	free(c);
}

void msgstore_clear(struct msgstore *s)
{
	struct msgchunk *c, *next;

	for (c = s->head; c; c = next) {
		next = c->next;
		chunk_free(s, c);
	}
	if (s->spare)
		chunk_free(s, s->spare);
	msgstore_init_ids(s, s->ids);
}

static struct msgchunk *chunk_new(struct msgstore *s, size_t need)
{
	struct msgchunk *c;
	size_t size = need > MSGSTORE_CHUNK ? need : MSGSTORE_CHUNK;

	if (s->spare && s->spare->size >= need) {
		c = s->spare;
		s->spare = NULL;
	} else {
		c = malloc(sizeof *c + size);
		if (!c)
			return NULL;
		c->size = size;
		s->allocated += sizeof *c + size;
	}
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
		if (c && c->used == 0) {
			/* The only chunk, emptied by pop and too small: readers look at the
			 * head, so the new chunk must replace it, not follow it. */
			s->head = s->tail = NULL;
			if (!s->spare && c->size == MSGSTORE_CHUNK)
				s->spare = c;
			else
				chunk_free(s, c);
		}
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
	/* The head chunk is used up. */
	if (c == s->tail) {
		c->start = c->used = 0;
		return;
	}
	s->head = c->next;
	if (!s->spare && c->size == MSGSTORE_CHUNK)
		s->spare = c;
	else
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
	if (src->spare) {
		chunk_free(src, src->spare);
		src->spare = NULL;
	}
	if (!dst->count) {
		/* dst's chunks hold nothing live: let them go (its spare stays). */
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
