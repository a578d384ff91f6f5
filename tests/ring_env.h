/*
 * ring_env.h - what the ring tests share: numbered messages, and this
 * process's own view of a queue's shared ring.
 */
#ifndef IPCD_TEST_RING_ENV_H
#define IPCD_TEST_RING_ENV_H

#include <sys/uio.h>

#include "clients.h"
#include "ipc_ring.h"

/* A handle that goes by the socket. */
extern const ipc_queue_attr by_socket;

/* Put the decimal i. */
int put_num(ipc_queue *q, long i, int timeout_ms);

/* The decimal number a message starts with. */
long num_of(const struct iovec *v);

/* Get a decimal number, or a negative errno. */
long get_num(ipc_queue *q, int timeout_ms);

/* A mapping of a queue's ring in this process (tests map one queue's), or NULL. */
struct ipc_ring_hdr *find_ring(void);

/* The slots of the ring at h. */
static inline unsigned char *ring_base(struct ipc_ring_hdr *h)
{
	return (unsigned char *)h + h->hdr_bytes;
}

#endif
