/*
 * array.h - named shared arrays: typed segments of memory that ipcd creates
 * (a sealed memfd), maps itself for brokered access, and hands to clients
 * as a descriptor to map; with one lock per array held on behalf of a
 * connection.
 */
#ifndef IPCD_ARRAY_H
#define IPCD_ARRAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "hold.h"
#include "object.h"
#include "waiter.h"

struct conn;
struct handle;

/*
 * What the array keeps for each handle open on it: the handle's ext, released
 * with the handle (closed, or its connection gone).
 */
struct array_handle {
	struct hold hold;            /* h->ext; not on a connection's list */
	LIST_ENTRY(array_handle) link;  /* on array->handles */
	struct array *a;
	struct handle *handle;       /* the handle this belongs to */
	bool mapped;                 /* its process was sent the descriptor */
};

LIST_HEAD(array_handle_list, array_handle);

struct array {
	struct object obj;
	char typecode;               /* one of IPC_TYPECODES */
	unsigned itemsize;           /* bytes per element */
	size_t length;               /* elements, >= 1 */
	size_t bytes;                /* length * itemsize, counted in srv->shm_used */
	uint64_t id;                 /* unique for the daemon's lifetime */
	int memfd;                   /* sealed against shrinking and growing */
	void *mem;                   /* the daemon's own shared mapping, bytes long */
	/* The lock: held for one connection, which then holds lock_hold. */
	struct conn *holder;         /* NULL when free */
	struct hold lock_hold;       /* on holder->holds while held */
	/*
	 * Parked lock requests and brokered reads, writes and adds, in arrival
	 * order.  Non-empty only while the lock is held: whenever it is free,
	 * array_settle() has served the list up to the next lock it granted.
	 */
	struct waitq waiters;
	struct array_handle_list handles;  /* every handle open on it */
	uint64_t reads, writes, adds, locks;   /* totals since creation */
};

extern const struct object_kind array_kind;

#endif
