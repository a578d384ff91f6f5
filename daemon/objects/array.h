/*
 * array.h - named shared arrays: typed segments of memory that ipcd creates
 * (a sealed memfd), maps itself for brokered access, and hands to clients
 * as a descriptor to map; with one lock per array held on behalf of a
 * connection.  A durable array's contents are also saved in the state
 * directory (qlog.c) and come back after a restart.
 */
#ifndef IPCD_ARRAY_H
#define IPCD_ARRAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

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
	unsigned snapshot;           /* durable: the N of its a-N.arr in the state dir; 0 not */
	bool changed;                /* durable: brokered writes since its last snapshot */
};

extern const struct object_kind array_kind;

/*
 * Recovery of a durable array: a new array called name, owned by uid:gid
 * with mode, of length elements of typecode tc, filled with data (length *
 * itemsize bytes), saved as a-snapshot.arr.  NULL with errno on failure.
 */
struct array *array_restore(struct server *srv, const char *name, uid_t uid, gid_t gid,
			    mode_t mode, time_t ctime, char tc, uint64_t length,
			    const void *data, unsigned snapshot);

/* Does some process map a writably: are its contents changing unseen? */
bool array_mapped_writable(const struct array *a);

#endif
