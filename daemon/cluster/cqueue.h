/*
 * cqueue.h - the cluster backend of a queue: its messages live in a
 * JetStream stream, and this ipcd keeps only what it fetched for its own
 * clients' gets (see cqueue.c).
 */
#ifndef IPCD_CQUEUE_H
#define IPCD_CQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue;
struct req;
struct server;

/*
 * queue_kind's open.lookup: an open of a name this ipcd does not hold.  A
 * name that is (replicas, or cluster-queues) or may be (an open without
 * create) a cluster queue is looked up in the cluster, the stream made if
 * asked for, and the open dispatched again once the queue is here.
 */
int cqueue_lookup(struct req *r, const char *name, size_t len, uint64_t flags,
		  const void *args, char *err, size_t errlen);

/* The replicas of cluster queue q. */
unsigned cqueue_replicas(const struct queue *q);

/* Deliveries again of messages q's ipcd held or had acknowledged, dropped. */
uint64_t cqueue_duplicates(const struct queue *q);

/* The cluster connection is about to be replaced: the queues drop their subscriptions. */
void cqueue_cluster_gone(struct server *srv);

/* The cluster connection came (up) or went: every cluster queue hears of it. */
void cqueue_cluster_state(struct server *srv, bool up);

#endif
