/*
 * asnap.h - durable arrays: each saved whole, as a snapshot file in the
 * state directory, and made again at start.
 */
#ifndef IPCD_ASNAP_H
#define IPCD_ASNAP_H

#include <stddef.h>

struct server;
struct array;

/*
 * Save the new array a (its first snapshot) and make it durable: 0, or a
 * negative errno (-ENOSPC, -EIO, -ENOTSUP without a state directory) with a
 * message in err; then a is not durable and no file of it is left.
 */
int asnap_create(struct server *srv, struct array *a, char *err, size_t errlen);

/*
 * A brokered write or add, an owner or mode changed: saved at the end of the
 * turn (fsync always) or within a second, and retried every second while
 * saving fails.  An array mapped writable is saved every second; every
 * durable array when ipcd stops.
 */
void asnap_changed(struct array *a);

/* The array was removed: its file goes (unless ipcd is stopping). */
void asnap_remove(struct array *a);

#endif
