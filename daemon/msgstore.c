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
	memcpy(&n, s->head->data + s->head_off, REC_HDR);
	*data = s->head->data + s->head_off + REC_HDR;
	*len = n;
	return 0;
}

void msgstore_pop(struct msgstore *s)
{
	struct msgchunk *c = s->head;
	uint32_t n;

	memcpy(&n, c->data + s->head_off, REC_HDR);
	s->head_off += REC_HDR + n;
	s->count--;
	s->bytes -= n;
	if (s->head_off < c->used)
		return;
	/* The head chunk is used up. */
	s->head_off = 0;
	if (c == s->tail) {
		c->used = 0;
		return;
	}
	s->head = c->next;
	if (!s->spare && c->size == MSGSTORE_CHUNK)
		s->spare = c;
	else
		chunk_free(s, c);
}
