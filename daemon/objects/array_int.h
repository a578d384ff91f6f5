/*
 * array_int.h - what the array's own files (array.c, array_io.c) share and
 * nothing else includes.
 */
#ifndef IPCD_ARRAY_INT_H
#define IPCD_ARRAY_INT_H

#include <stdint.h>

#include "array.h"

struct conn;

/* A brokered request's arguments, kept with it while it is parked. */
struct array_op {
	uint64_t start;              /* first element; an add's index */
	uint64_t count;              /* elements to read or write */
	uint64_t delta;              /* an add's delta: integer bits, or a double's bits */
	/* a write's bytes follow */
};

static inline struct array *array_of(struct object *o)
{
	return container_of(o, struct array, obj);
}

/*
 * Do brokered operation op (IPC_OP_A_READ, _WRITE or _ADD) of args on a for
 * request id of c, and answer it; data is a write's bytes.  The caller made
 * sure the lock is free or c's.
 */
void array_do(struct array *a, struct conn *c, uint32_t id, unsigned op,
	      const struct array_op *args, const void *data);

#endif
