/*
 * msgstore.c - length-prefixed records in chunks (see msgstore.h).
 *
 * A record is a native-endian uint32 length followed by the payload; a record
 * never spans two chunks, so a message larger than MSGSTORE_CHUNK gets a
 * chunk of its own sized to fit.
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

void msgstore_init(struct msgstore *s)
{
	memset(s, 0, sizeof *s);
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
	msgstore_init(s);
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
	struct msgchunk *c = s->tail;
	uint32_t n = (uint32_t)len;

	if (len > UINT32_MAX - REC_HDR)
		return -EMSGSIZE;
	if (!c || c->size - c->used < REC_HDR + len) {
		c = chunk_new(s, REC_HDR + len);
		if (!c)
			return -ENOMEM;
		if (s->tail)
			s->tail->next = c;
		else
			s->head = c;
		s->tail = c;
	}
	memcpy(c->data + c->used, &n, REC_HDR);
	memcpy(c->data + c->used + REC_HDR, data, len);
	c->used += REC_HDR + len;
	s->count++;
	s->bytes += len;
	return 0;
}

int msgstore_peek(const struct msgstore *s, const void **data, size_t *len)
{
	uint32_t n;

	if (!s->count)
		return -EAGAIN;
	memcpy(&n, s->head->data + s->head->start, REC_HDR);
	*data = s->head->data + s->head->start + REC_HDR;
	*len = n;
	return 0;
}

struct msgcursor msgstore_cursor(const struct msgstore *s)
{
	struct msgcursor cur = { s->head, s->head ? s->head->start : 0 };

	return cur;
}

bool msgstore_next(struct msgcursor *cur, const void **data, size_t *len)
{
	uint32_t n;

	while (cur->chunk && cur->off >= cur->chunk->used) {
		cur->chunk = cur->chunk->next;
		cur->off = cur->chunk ? cur->chunk->start : 0;
	}
	if (!cur->chunk)
		return false;
	memcpy(&n, cur->chunk->data + cur->off, REC_HDR);
	*data = cur->chunk->data + cur->off + REC_HDR;
	*len = n;
	cur->off += REC_HDR + n;
	return true;
}

void msgstore_pop(struct msgstore *s)
{
	struct msgchunk *c = s->head;
	uint32_t n;

	memcpy(&n, c->data + c->start, REC_HDR);
	c->start += REC_HDR + n;
	s->count--;
	s->bytes -= n;
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
	const void *data = NULL;
	size_t len = 0;
	int rc;

	msgstore_peek(src, &data, &len);
	rc = msgstore_put(dst, data, len);
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
	msgstore_init(src);
}
