/*
 * msgstore.h - compact FIFO storage of queued messages.
 *
 * Messages are length-prefixed records packed into large chunks, not one heap
 * node per message: a 64-byte message costs 68 bytes plus its share of the
 * chunk header, and put and get are O(1) at any depth.
 */
#ifndef IPCD_MSGSTORE_H
#define IPCD_MSGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msgchunk;

struct msgstore {
	struct msgchunk *head;   /* oldest records */
	struct msgchunk *tail;   /* records are appended here */
	struct msgchunk *spare;  /* one emptied chunk kept to spare malloc churn */
	size_t count;            /* messages stored */
	size_t bytes;            /* payload bytes stored (lengths not counted) */
	size_t allocated;        /* bytes of chunk memory held, spare included */
};

#define MSGSTORE_CHUNK (64u * 1024u)  /* default chunk size in bytes */

void msgstore_init(struct msgstore *s);

/* Free every chunk; the store is empty and reusable afterwards. */
void msgstore_clear(struct msgstore *s);

/* Append a copy of len bytes.  -ENOMEM if no memory (nothing changed). */
int msgstore_put(struct msgstore *s, const void *data, size_t len);

/* Borrow the oldest message; valid until the next put, pop or clear. 0 or -EAGAIN. */
int msgstore_peek(const struct msgstore *s, const void **data, size_t *len);

/* A read position for walking records oldest first without taking them. */
struct msgcursor {
	const struct msgchunk *chunk;
	size_t off;
};

struct msgcursor msgstore_cursor(const struct msgstore *s);

/* The record at cur, then advance; false past the newest.  Borrowed like peek. */
bool msgstore_next(struct msgcursor *cur, const void **data, size_t *len);

/* Drop the oldest message (the store must not be empty). */
void msgstore_pop(struct msgstore *s);

/*
 * Move the oldest message of src to the tail of dst (src must not be empty).
 * -ENOMEM leaves both unchanged.
 */
int msgstore_move(struct msgstore *dst, struct msgstore *src);

/* Put every message of src, in order, before dst's; src ends empty.  O(1). */
void msgstore_splice_front(struct msgstore *dst, struct msgstore *src);

#endif
