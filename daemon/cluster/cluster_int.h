/*
 * cluster_int.h - what cluster.c (the connection, requests, the hand-over
 * from libnats's threads) and cluster_ev.c (libnats's socket on ipcd's
 * loop) share.
 */
#ifndef IPCD_CLUSTER_INT_H
#define IPCD_CLUSTER_INT_H

#include <pthread.h>
#include <stdbool.h>

#include <event2/event.h>
#include <nats/nats.h>

struct cev;
struct cluster;

/* Shared with libnats's threads; freed by whoever drops the last reference. */
struct cluster_link {
	pthread_mutex_t lock;
	struct cev *head, **tail;
	int wake_fd;                   /* -1 once the cluster is gone */
	unsigned refs;                 /* the cluster, the connection, the inbox subscription */
	struct event_base *base;       /* the loop (set once) */
	struct cluster *cl;            /* on the loop only: NULL once the cluster is gone */
};

/* Make o run cl's connection on link's loop (cluster_ev.c). */
natsStatus cluster_ev_options(natsOptions *o, struct cluster_link *link);

/* Take on the loop what the reads brought cl's subscriptions (cluster.c). */
void cluster_drain(struct cluster *cl);

#endif
