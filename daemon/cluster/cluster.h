/*
 * cluster.h - ipcd's link to a NATS JetStream cluster: one connection, run
 * on the daemon's own event loop, and requests answered asynchronously.
 *
 * The NATS client reads and writes its socket from ipcd's libevent base, but
 * calls its callbacks (messages, connection changes) from threads of its
 * own.  Those callbacks only append an event to a locked list and wake the
 * loop; everything else, the requests' state included, lives on the loop
 * thread.  No call here waits for the network.
 */
#ifndef IPCD_CLUSTER_H
#define IPCD_CLUSTER_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

struct server;
struct cluster;

/*
 * A reply to a request: msg (borrowed for the call) with status 0, or
 * msg NULL and status -ETIMEDOUT (no reply in time) or -EHOSTUNREACH (the
 * connection was lost meanwhile).  A request made with many set stays open
 * while fn returns true (a pull gets one message per reply); otherwise fn's
 * result is ignored and the request is over.
 */
typedef bool (*cluster_reply_fn)(void *arg, natsMsg *msg, int status);

/* Make event bases created afterwards safe for the cluster client's threads. */
void cluster_loop_init(void);

/* Make the cluster's options from urls ("nats://h:p,nats://h2:p"); connect in the background. */
int cluster_create(struct server *srv, const char *urls, struct cluster **out, char *err,
		   size_t errlen);

/*
 * Close the connection and free cl.  Requests in flight are answered
 * -EHOSTUNREACH first; subscriptions are dropped silently (cqueue_cluster_gone).
 */
void cluster_destroy(struct cluster *cl);

/* Free the NATS library's global state at exit (after every cluster_destroy). */
void cluster_cleanup(void);

/* The URLs cl was made with (borrowed). */
const char *cluster_urls(const struct cluster *cl);

/* Is cl connected to a server now? */
bool cluster_connected(const struct cluster *cl);

/*
 * Publish data to subject with a reply subject of this connection's inbox,
 * and have fn(arg, ...) run on the loop for the reply, or after timeout_ms.
 * msg_id, when not NULL, is sent as the Nats-Msg-Id header (JetStream drops
 * a second message of the same id).  *token names the request for
 * cluster_cancel.  0, -EHOSTUNREACH (not connected), -EMSGSIZE (over the
 * servers' payload limit) or -ENOMEM.
 */
int cluster_request(struct cluster *cl, const char *subject, const char *msg_id,
		    const void *data, size_t len, int timeout_ms, bool many, cluster_reply_fn fn,
		    void *arg, uint32_t *token);

/* Publish data to subject with reply as its reply subject (a pull).  0 or a negative errno. */
int cluster_publish_reply(struct cluster *cl, const char *subject, const char *reply,
			  const void *data, size_t len);

/*
 * Subscribe to the subjects below a prefix of this connection's own (the
 * prefix written to subject, len bytes) and have fn(arg, msg, 0) run on the
 * loop for every message sent to subject.<token>, over reconnects, until
 * cluster_cancel(token).  A pull's messages carry their stream's subject,
 * not the request's reply subject, so they need a subscription of their
 * own; a status (the end of a pull) carries the reply subject, which tells
 * the pull.  A "no responders" status (503) comes as msg NULL with status
 * -ENOENT: the client library keeps that message, its subject too.
 * fn runs right after the read that brought the message, on the loop.
 * 0, -EHOSTUNREACH or -ENOMEM.
 */
int cluster_subscribe(struct cluster *cl, cluster_reply_fn fn, void *arg, uint32_t *token,
		      char *subject, size_t len);

/* Forget request or subscription token: its callback will not run.  Unknown tokens are ignored. */
void cluster_cancel(struct cluster *cl, uint32_t token);

/* Publish without a reply (an acknowledgement).  0 or a negative errno. */
int cluster_publish(struct cluster *cl, const char *subject, const void *data, size_t len);

/* The status a message carries in its header (404, 408, 409, 503...), or 0. */
int cluster_msg_status(natsMsg *msg);

/* Pack cl's state as a map: servers, connected, since, reconnects. */
void cluster_pack_status(const struct cluster *cl, msgpack_packer *pk);

#endif
