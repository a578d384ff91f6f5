/*
 * msgstore.h - compact FIFO storage of queued messages.
 *
 * Messages are length-prefixed records packed into large chunks, not one heap
 * node per message: a 64-byte message costs 68 bytes plus its share of the
 * chunk header, and put and get are O(1) at any depth.  A store made with
 * ids (a durable queue's) gives each record a 64-bit id besides, for the
 * queue's log: 8 bytes more per message, and only there.  Each record has
 * flags too (MSG_REDELIVERED), kept in the length word at no cost.
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
	size_t count;            /* messages stored */
	size_t bytes;            /* payload bytes stored (lengths not counted) */
	size_t allocated;        /* bytes of the chunks held */
	bool ids;                /* records carry an id (set by msgstore_init_ids) */
};

/* Record flags. */
#define MSG_REDELIVERED 0x1u     /* handed to a consumer that went away without task_done */

/* One record, borrowed from its store. */
struct msgrec {
	const void *data;
	size_t len;
	uint64_t id;             /* 0 in a store without ids */
	unsigned flags;
};

/* The largest message a store takes: the length word's top bit is a flag. */
#define MSGSTORE_MAX_LEN 0x7fffff00u

/* Bytes of a chunk, header included (a larger record gets a larger chunk). */
#define MSGSTORE_CHUNK (64u * 1024u)

void msgstore_init(struct msgstore *s);

/* An empty store whose records carry ids when ids is set. */
void msgstore_init_ids(struct msgstore *s, bool ids);

/* Free every chunk; the store is empty and reusable (ids as before) afterwards. */
void msgstore_clear(struct msgstore *s);

/* Append a copy of len bytes.  -ENOMEM if no memory (nothing changed). */
int msgstore_put(struct msgstore *s, const void *data, size_t len);

/* Append a copy with its id (kept only if s has ids) and flags.  -ENOMEM, -EMSGSIZE. */
int msgstore_put_rec(struct msgstore *s, const void *data, size_t len, uint64_t id,
		     unsigned flags);

/* Borrow the oldest message; valid until the next put, pop or clear. 0 or -EAGAIN. */
int msgstore_peek(const struct msgstore *s, const void **data, size_t *len);
int msgstore_peek_rec(const struct msgstore *s, struct msgrec *rec);

/* Add flags to every record of s. */
void msgstore_mark(struct msgstore *s, unsigned flags);

/* A read position for walking records oldest first without taking them. */
struct msgcursor {
	const struct msgchunk *chunk;
	size_t off;
	bool ids;
};

struct msgcursor msgstore_cursor(const struct msgstore *s);

/* The record at cur, then advance; false past the newest.  Borrowed like peek. */
bool msgstore_next_rec(struct msgcursor *cur, struct msgrec *rec);

/* Drop the oldest message (the store must not be empty). */
void msgstore_pop(struct msgstore *s);

/*
 * Move the oldest message of src, with its id and flags, to the tail of dst
 * (src must not be empty).  -ENOMEM leaves both unchanged.
 */
int msgstore_move(struct msgstore *dst, struct msgstore *src);

/*
 * Put every message of src, in order, before dst's; src ends empty.  O(1).
 * Both have ids, or neither.
 */
void msgstore_splice_front(struct msgstore *dst, struct msgstore *src);

/*
 * Give back to the system the emptied chunks that no store took during the
 * interval since the last call, but for a few kept for the next burst.  The
 * daemon calls it every second, so its memory follows its queues down
 * within two seconds without a system call per chunk while they churn.
 */
void msgstore_release_idle(void);

/* Unmap every pooled chunk (at shutdown, after every store was cleared). */
void msgstore_cleanup(void);

#endif
