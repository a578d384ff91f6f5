/*
 * pipe.h - pipes: point-to-point channels with two ends, 0 and 1.
 */
#ifndef IPCD_PIPE_H
#define IPCD_PIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "msgstore.h"
#include "object.h"
#include "waiter.h"

struct pipe_hold;
struct pipe_keep;

/*
 * One end.  Free until a connection first sends or receives on it, then
 * held by that connection (a pipe_hold on its hold list) until it closes
 * the end or goes; closed for good after that.  While it is free, handles
 * closed with "until claimed" keep the pipe for its claimer (keeps).
 */
struct pipe_end {
	struct pipe_hold *holder;  /* NULL while free or closed */
	TAILQ_HEAD(, pipe_keep) keeps;
	bool closed;
	struct msgstore inbox;     /* sent by the other end, to be received here */
	struct waitq readers;      /* parked recvs on this end */
	struct waitq senders;      /* parked sends from this end, waiting for room */
	uint64_t sent, received;   /* messages, totals */
};

struct pipe {
	struct object obj;
	bool oneway;               /* end 0 only receives, end 1 only sends */
	bool anonymous;            /* made by pipe.pair: goes when no longer usable */
	size_t maxbytes;           /* payload bytes buffered per direction */
	struct pipe_end end[2];
};

extern const struct object_kind pipe_kind;

#endif
