/*
 * hold.h - what a connection holds in the daemon.
 *
 * Everything a connection keeps in the daemon on its behalf (open handles,
 * parked requests, and as the broker grows in-flight messages, locks, pipe
 * ends, mappings) embeds a struct hold and sits on the connection's hold list.
 * When the connection goes, conn_release() walks that list once and calls
 * each hold's release: that single walk is what guarantees nothing is lost or
 * stranded by a client that disconnects or dies.
 */
#ifndef IPCD_HOLD_H
#define IPCD_HOLD_H

#include <stddef.h>
#include <sys/queue.h>

struct hold;

struct hold_ops {
	const char *what;                    /* for logs and ipcctl clients */
	/* Give back what h holds and free it; h is already off the list. */
	void (*release)(struct hold *h);
	/*
	 * Optional: what h holds, in words, for ipcctl clients ("queue jobs",
	 * "pipe p end 0"); snprintf's result.  NULL: not listed by itself.
	 */
	int (*describe)(const struct hold *h, char *buf, size_t len);
};

struct hold {
	TAILQ_ENTRY(hold) link;
	const struct hold_ops *ops;
};

TAILQ_HEAD(hold_list, hold);

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
