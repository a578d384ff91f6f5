/*
 * array.h - named shared arrays: typed segments of memory that ipcd creates
 * (a sealed memfd), maps itself for brokered access, and hands to clients
 * as a descriptor to map; with one lock per array held on behalf of a
 * connection.
 */
#ifndef IPCD_ARRAY_H
#define IPCD_ARRAY_H

#include <stdint.h>
#include <sys/queue.h>

#include "hold.h"
#include "object.h"
#include "waiter.h"

struct conn;
struct handle;

/* A handle whose process was sent the descriptor: it counts as a mapping. */
struct array_map {
	LIST_ENTRY(array_map) link;  /* on array->maps */
	struct handle *handle;       /* borrowed: the record goes with the handle */
};

LIST_HEAD(array_map_list, array_map);

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
	struct array_map_list maps;
	uint64_t reads, writes, adds, locks;   /* totals since creation */
};

extern const struct object_kind array_kind;

#endif
