/*
 * cluster.c - the NATS connection, the hand-over of its callbacks to the
 * loop, and asynchronous request/reply (see cluster.h).
 *
 * Threads: natsConnection_Connect runs once in a short-lived thread of its
 * own, because its first attempt opens TCP connections and may wait out a
 * connect timeout; from then on libnats reconnects by itself.  Its
 * callbacks run on libnats's threads (one global delivery thread for the
 * inbox, so no thread per queue) and touch nothing but a struct
 * cluster_link: a locked list of events and an eventfd that wakes the loop.
 * The link outlives the cluster until libnats's last callbacks have run
 * (the connection's closed callback, the inbox subscription's completion),
 * so a late callback never meets freed memory.
 *
 * The socket is read and written on the loop (cluster_ev.c, after
 * libnats's nats/adapters/libevent.h).  Subscriptions (a queue's pulls) are
 * synchronous: what a read brought them is taken on the loop right after
 * it, with no hand-over to a delivery thread and back, which on a loaded
 * machine costs a wait for a CPU each way.
 *
 * Requests: one wildcard subscription on an inbox prefix of this
 * connection; each request's reply subject ends with its token, and a hash
 * of tokens finds it when the reply is dispatched on the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "cluster.h"
#include "cluster_int.h"
#include "codec.h"
#include "cqueue.h"
#include "log.h"
#include "server.h"

enum cev_type { CEV_MSG, CEV_UP, CEV_DOWN, CEV_READY };

/* What a libnats thread hands to the loop. */
struct cev {
	struct cev *next;
	enum cev_type type;
	natsMsg *msg;                  /* CEV_MSG (owned) */
	uint32_t token;                /* CEV_MSG of a subscription: its token; 0: the inbox's */
	natsConnection *nc;            /* CEV_READY: the connection made, or NULL */
	natsSubscription *sub;         /* CEV_READY: the inbox subscription */
	natsStatus status;             /* CEV_READY: what the connect said */
};

/* A request waiting for its reply, or a subscription (sub set). */
struct creq {
	struct creq *next;             /* hash chain */
	uint32_t token;
	natsSubscription *sub;         /* a subscription's: lasts over reconnects */
	bool many;
	cluster_reply_fn fn;
	void *arg;
	struct event *timer;
	struct cluster *cl;
};

#define CREQ_BUCKETS 4096u         /* a power of two */

struct cluster {
	struct server *srv;
	char *urls;                    /* owned, as configured */
	natsOptions *opts;
	natsConnection *nc;            /* NULL until the connect thread is done */
	natsSubscription *sub;         /* the inbox's */
	char inbox[64];                /* "_INBOX.<nuid>"; replies come to <inbox>.<token> */
	struct cluster_link *link;
	pthread_t connector;
	bool connecting;               /* connector not yet joined */
	struct event *wake_ev;
	bool connected;
	time_t since;                  /* connected or not since */
	uint64_t reconnects;
	char server[256];              /* the server connected to, or the last one */
	struct creq *buckets[CREQ_BUCKETS];
	size_t nreqs;
	uint32_t *subs;                /* the subscriptions' tokens, to drain */
	size_t nsubs, capsubs;
	unsigned subs_gen;             /* changes when one goes */
	struct event *drain_ev;        /* periodic: a drain in case no read came */
};

static bool nats_used;             /* nats_Open ran: nats_CloseAndWait at exit */
/* Tokens are unique across connections: one replaced by a reload cannot
 * have a token of the new one cancelled for it. */
static uint32_t next_token = 1;

void cluster_loop_init(void)
{
	evthread_use_pthreads();
}

static void link_unref(struct cluster_link *l)
{
	bool last;

	pthread_mutex_lock(&l->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	while (l->head) {
		struct cev *e = l->head;

		l->head = e->next;
		natsMsg_Destroy(e->msg);
		free(e);
	}
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* On a libnats thread: queue e for the loop, or drop it if the cluster is gone. */
static void link_post(struct cluster_link *l, struct cev *e)
{
	static const uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&l->lock);
	if (l->wake_fd < 0) {
		pthread_mutex_unlock(&l->lock);
		natsMsg_Destroy(e->msg);
		if (e->type == CEV_READY) {
			natsSubscription_Destroy(e->sub);
			natsConnection_Destroy(e->nc);
		}
		free(e);
		return;
	}
	e->next = NULL;
	/* The loop drains the whole list: only the first event of a batch wakes it. */
	if (!l->head) {
		n = write(l->wake_fd, &one, sizeof one);
		(void)n;  /* a full counter still wakes the loop */
	}
	*l->tail = e;
	l->tail = &e->next;
	pthread_mutex_unlock(&l->lock);
}

static void link_post_type(struct cluster_link *l, enum cev_type type, natsMsg *msg,
			   uint32_t token)
{
	struct cev *e = calloc(1, sizeof *e);

	if (!e) {
		/* Nothing to hand over with: a lost reply times out like one never sent. */
		natsMsg_Destroy(msg);
		return;
	}
	e->type = type;
	e->msg = msg;
	e->token = token;
	link_post(l, e);
}

static void inbox_msg_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	link_post_type(closure, CEV_MSG, msg, 0);
}


static void up_cb(natsConnection *nc, void *closure)
{
	link_post_type(closure, CEV_UP, NULL, 0);
}

static void down_cb(natsConnection *nc, void *closure)
{
	link_post_type(closure, CEV_DOWN, NULL, 0);
}

/* The connection's and the subscription's last callbacks: their reference goes. */
static void closed_cb(natsConnection *nc, void *closure)
{
	link_unref(closure);
}

static void sub_done_cb(void *closure)
{
	link_unref(closure);
}

static void *connect_main(void *arg)
{
	struct cluster *cl = arg;
	struct cev *e = calloc(1, sizeof *e);
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	natsStatus s;
	char subject[80];

	if (!e)
		return NULL;
	s = natsConnection_Connect(&nc, cl->opts);
	if (s == NATS_OK || s == NATS_NOT_YET_CONNECTED) {
		snprintf(subject, sizeof subject, "%s.*", cl->inbox);
		pthread_mutex_lock(&cl->link->lock);
		cl->link->refs++;          /* the connection's closed callback */
		pthread_mutex_unlock(&cl->link->lock);
		if (natsConnection_Subscribe(&sub, nc, subject, inbox_msg_cb, cl->link) == NATS_OK) {
			pthread_mutex_lock(&cl->link->lock);
			cl->link->refs++;  /* the subscription's completion */
			pthread_mutex_unlock(&cl->link->lock);
			if (natsSubscription_SetOnCompleteCB(sub, sub_done_cb, cl->link) != NATS_OK)
				link_unref(cl->link);
		}
	}
	e->type = CEV_READY;
	e->nc = nc;
	e->sub = sub;
	e->status = s;
	link_post(cl->link, e);
	return NULL;
}

static struct creq **creq_slot(struct cluster *cl, uint32_t token)
{
	struct creq **p = &cl->buckets[token & (CREQ_BUCKETS - 1)];

	while (*p && (*p)->token != token)
		p = &(*p)->next;
	return p;
}

/* A token no request or subscription of cl has. */
static uint32_t creq_new_token(struct cluster *cl)
{
	uint32_t token;

	do
		token = next_token++;
	while (!token || *creq_slot(cl, token));
	return token;
}

/* r (its token taken) waits: fn(arg, ...) for what comes to it. */
static void creq_hash(struct cluster *cl, struct creq *r, bool many, cluster_reply_fn fn,
		      void *arg)
{
	r->many = many;
	r->fn = fn;
	r->arg = arg;
	r->cl = cl;
	r->next = cl->buckets[r->token & (CREQ_BUCKETS - 1)];
	cl->buckets[r->token & (CREQ_BUCKETS - 1)] = r;
	cl->nreqs++;
}

/* Unhash and free r. */
static void creq_free(struct creq *r)
{
	struct creq **p = creq_slot(r->cl, r->token);

	if (*p == r)
		*p = r->next;
	r->cl->nreqs--;
	if (r->timer)
		event_free(r->timer);
	if (r->sub) {
		natsSubscription_Unsubscribe(r->sub);
		natsSubscription_Destroy(r->sub);
		for (size_t i = 0; i < r->cl->nsubs; i++)
			if (r->cl->subs[i] == r->token) {
				r->cl->subs[i] = r->cl->subs[--r->cl->nsubs];
				r->cl->subs_gen++;
				break;
			}
	}
	free(r);
}

/* r is over with status (no reply): run its callback once. */
static void creq_fail(struct creq *r, int status)
{
	cluster_reply_fn fn = r->fn;
	void *arg = r->arg;

	creq_free(r);
	fn(arg, NULL, status);
}

static void creq_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	creq_fail(arg, -ETIMEDOUT);
}

/* Every request fails: the connection went (their replies went with it).
 * Subscriptions stay: libnats makes them again on the next connection. */
static void fail_all(struct cluster *cl, int status)
{
	for (size_t i = 0; i < CREQ_BUCKETS; i++) {
		struct creq *r = cl->buckets[i], *next;

		for (; r; r = next) {
			next = r->next;
			if (!r->sub) {
				creq_fail(r, status);
				next = cl->buckets[i];  /* the callback may have changed the chain */
			}
		}
	}
}

static void dispatch_msg(struct cluster *cl, natsMsg *msg, uint32_t sub_token)
{
	const char *subj = natsMsg_GetSubject(msg), *dot = strrchr(subj, '.');
	struct creq *r;
	char *end = NULL;
	unsigned long token = sub_token;

	if (!token && dot)
		token = strtoul(dot + 1, &end, 10);
	if (!token || (end && *end) || !(r = *creq_slot(cl, (uint32_t)token)))
		return;  /* a late reply to a request that timed out or was cancelled */
	if (!r->many) {
		cluster_reply_fn fn = r->fn;
		void *arg = r->arg;

		creq_free(r);
		fn(arg, msg, 0);
	} else if (!r->fn(r->arg, msg, 0)) {
		/* The callback may have cancelled it already. */
		if (*creq_slot(cl, (uint32_t)token) == r)
			creq_free(r);
	}
}

/* A "no responders" status came to subscription token; libnats kept its message. */
static void dispatch_none(struct cluster *cl, uint32_t token)
{
	struct creq *r = *creq_slot(cl, token);

	if (r && !r->fn(r->arg, NULL, -ENOENT) && *creq_slot(cl, token) == r)
		creq_free(r);
}

/* Take on the loop what the reads brought the subscriptions, in order each. */
void cluster_drain(struct cluster *cl)
{
	unsigned gen;

	do {
		gen = cl->subs_gen;
		for (size_t i = 0; i < cl->nsubs && gen == cl->subs_gen; i++) {
			uint32_t token = cl->subs[i];
			struct creq *r;
			int msgs = 0;

			/* The callback may cancel its subscription: look it up each time. */
			while ((r = *creq_slot(cl, token)) && r->sub &&
			       natsSubscription_GetPending(r->sub, &msgs, NULL) == NATS_OK && msgs > 0) {
				natsMsg *m = NULL;
				natsStatus st = natsSubscription_NextMsg(&m, r->sub, 0);

				if (st == NATS_OK) {
					dispatch_msg(cl, m, token);
					natsMsg_Destroy(m);
				} else if (st == NATS_NO_RESPONDERS) {
					dispatch_none(cl, token);
				} else {
					break;
				}
			}
		}
	} while (gen != cl->subs_gen);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	cluster_drain(arg);
}

static void set_state(struct cluster *cl, bool up)
{
	if (up == cl->connected)
		return;
	cl->connected = up;
	cl->since = time(NULL);
	if (up && cl->nc)
		natsConnection_GetConnectedUrl(cl->nc, cl->server, sizeof cl->server);
	if (up) {
		log_info("cluster: connected to %s", cl->server);
	} else {
		log_warn("cluster: lost the connection to %s; reconnecting", cl->server);
		cl->reconnects++;
		fail_all(cl, -EHOSTUNREACH);
	}
	cqueue_cluster_state(cl->srv, up);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *cl = arg;
	struct cluster_link *l = cl->link;
	struct cev *list;
	uint64_t n;

	if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_warn("cluster: reading its wake-up counter: %s", strerror(errno));
	pthread_mutex_lock(&l->lock);
	list = l->head;
	l->head = NULL;
	l->tail = &l->head;
	pthread_mutex_unlock(&l->lock);
	while (list) {
		struct cev *e = list;

		list = e->next;
		switch (e->type) {
		case CEV_MSG:
			dispatch_msg(cl, e->msg, e->token);
			break;
		case CEV_UP:
			set_state(cl, true);
			break;
		case CEV_DOWN:
			set_state(cl, false);
			break;
		case CEV_READY:
			pthread_join(cl->connector, NULL);
			cl->connecting = false;
			cl->nc = e->nc;
			cl->sub = e->sub;
			if (!cl->nc)
				log_error("cluster: cannot connect to %s: %s", cl->urls,
					  natsStatus_GetText(e->status));
			else if (e->status == NATS_OK)
				set_state(cl, true);
			else
				log_warn("cluster: no server of %s answers yet; retrying", cl->urls);
			break;
		}
		natsMsg_Destroy(e->msg);
		free(e);
	}
}

/* The options: the servers, the loop, reconnect forever, callbacks to the link. */
static int make_options(struct cluster *cl, char *err, size_t errlen)
{
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	char *list = strdup(cl->urls), *save = NULL;
	const char *servers[64];
	int n = 0;

	/* natsOptions_SetURL takes one URL: the list goes to SetServers. */
	for (char *u = list ? strtok_r(list, ", ", &save) : NULL; u && n < 64;
	     u = strtok_r(NULL, ", ", &save))
		servers[n++] = u;
	cl->opts = o;
	if (!list)
		s = NATS_NO_MEMORY;
	else if (n == 0)
		s = NATS_INVALID_ARG;
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, servers, n);
	free(list);
	if (s == NATS_OK)
		s = cluster_ev_options(o, cl->link);
	if (s == NATS_OK)
		s = natsOptions_UseGlobalMessageDelivery(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 2000);
	/* Replies are matched by token: a lost one times out; 64 MB while reconnecting. */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(o, 64 << 20);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(o, true, up_cb, cl->link);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, up_cb, cl->link);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, down_cb, cl->link);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, closed_cb, cl->link);
	if (s != NATS_OK) {
		snprintf(err, errlen, "cluster %s: %s", cl->urls, natsStatus_GetText(s));
		return s == NATS_NO_MEMORY ? -ENOMEM : -EINVAL;
	}
	return 0;
}

int cluster_create(struct server *srv, const char *urls, struct cluster **out, char *err,
		   size_t errlen)
{
	struct cluster *cl = calloc(1, sizeof *cl);
	natsInbox *inbox = NULL;
	int rc = -ENOMEM;

	if (!cl || !(cl->urls = strdup(urls)) || !(cl->link = calloc(1, sizeof *cl->link)))
		goto nomem;
	cl->srv = srv;
	cl->since = time(NULL);
	snprintf(cl->server, sizeof cl->server, "%s", urls);
	pthread_mutex_init(&cl->link->lock, NULL);
	cl->link->tail = &cl->link->head;
	cl->link->refs = 1;
	cl->link->base = srv->base;
	cl->link->cl = cl;
	cl->link->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cl->link->wake_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cluster: eventfd: %s", strerror(errno));
		goto fail;
	}
	cl->wake_ev = event_new(srv->base, cl->link->wake_fd, EV_READ | EV_PERSIST, wake_cb, cl);
	if (!cl->wake_ev || event_add(cl->wake_ev, NULL) < 0)
		goto nomem;
	/* Reads drain the subscriptions; this only in case one ever did not. */
	cl->drain_ev = event_new(srv->base, -1, EV_PERSIST, drain_cb, cl);
	if (!cl->drain_ev || event_add(cl->drain_ev, &(struct timeval){ 1, 0 }) < 0)
		goto nomem;
	nats_used = true;
	if (natsInbox_Create(&inbox) != NATS_OK)
		goto nomem;
	snprintf(cl->inbox, sizeof cl->inbox, "%s", (const char *)inbox);
	natsInbox_Destroy(inbox);
	rc = make_options(cl, err, errlen);
	if (rc < 0)
		goto fail;
	if (pthread_create(&cl->connector, NULL, connect_main, cl) != 0)
		goto nomem;
	cl->connecting = true;
	log_info("cluster: connecting to %s", urls);
	*out = cl;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	cluster_destroy(cl);
	return rc;
}

void cluster_destroy(struct cluster *cl)
{
	struct cluster_link *l;

	if (!cl)
		return;
	l = cl->link;
	if (cl->connecting) {
		pthread_join(cl->connector, NULL);
		cl->connecting = false;
	}
	if (l) {
		/* The connect's result may wait in the list: take what it made. */
		pthread_mutex_lock(&l->lock);
		for (struct cev *e = l->head; e; e = e->next) {
			if (e->type == CEV_READY) {
				cl->nc = e->nc;
				cl->sub = e->sub;
				e->type = CEV_UP;
			}
		}
		if (l->wake_fd >= 0)
			close(l->wake_fd);
		l->wake_fd = -1;
		l->cl = NULL;
		pthread_mutex_unlock(&l->lock);
	}
	/* Requests in flight hear that this connection is gone (they may try again
	 * on the server's next one); subscriptions go without a word. */
	fail_all(cl, -EHOSTUNREACH);
	for (size_t i = 0; i < CREQ_BUCKETS; i++)
		while (cl->buckets[i])
			creq_free(cl->buckets[i]);
	if (cl->sub)
		natsSubscription_Unsubscribe(cl->sub);
	natsSubscription_Destroy(cl->sub);
	natsConnection_Destroy(cl->nc);
	natsOptions_Destroy(cl->opts);
	if (cl->wake_ev)
		event_free(cl->wake_ev);
	if (cl->drain_ev)
		event_free(cl->drain_ev);
	free(cl->subs);
	if (l)
		link_unref(l);
	free(cl->urls);
	free(cl);
}

void cluster_cleanup(void)
{
	/* Waits for libnats's threads, whose last callbacks free the links. */
	if (nats_used)
		nats_CloseAndWait(0);
	nats_used = false;
}

const char *cluster_urls(const struct cluster *cl)
{
	return cl->urls;
}

bool cluster_connected(const struct cluster *cl)
{
	return cl && cl->connected && cl->nc;
}

static int nats_errno(natsStatus s)
{
	switch (s) {
	case NATS_OK: return 0;
	case NATS_NO_MEMORY: return -ENOMEM;
	case NATS_MAX_PAYLOAD: return -EMSGSIZE;
	case NATS_INSUFFICIENT_BUFFER: return -ENOBUFS;
	default: return -EHOSTUNREACH;
	}
}

static int publish(struct cluster *cl, const char *subject, const char *reply, const char *msg_id,
		   const void *data, size_t len)
{
	natsMsg *m = NULL;
	natsStatus s;

	if (!cluster_connected(cl))
		return -EHOSTUNREACH;
	if (len > (size_t)natsConnection_GetMaxPayload(cl->nc))
		return -EMSGSIZE;
	if (!msg_id && !reply)
		return nats_errno(natsConnection_Publish(cl->nc, subject, data, (int)len));
	if (!msg_id)
		return nats_errno(natsConnection_PublishRequest(cl->nc, subject, reply, data,
								(int)len));
	s = natsMsg_Create(&m, subject, reply, data, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id);
	if (s == NATS_OK)
		s = natsConnection_PublishMsg(cl->nc, m);
	natsMsg_Destroy(m);
	return nats_errno(s);
}

int cluster_request(struct cluster *cl, const char *subject, const char *msg_id,
		    const void *data, size_t len, int timeout_ms, bool many, cluster_reply_fn fn,
		    void *arg, uint32_t *token)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct creq *r;
	char reply[96];
	int rc;

	if (!cluster_connected(cl))
		return -EHOSTUNREACH;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->timer = evtimer_new(cl->srv->base, creq_timeout_cb, r);
	if (!r->timer || evtimer_add(r->timer, &tv) < 0) {
		if (r->timer)
			event_free(r->timer);
		free(r);
		return -ENOMEM;
	}
	r->token = creq_new_token(cl);
	snprintf(reply, sizeof reply, "%s.%u", cl->inbox, r->token);
	rc = publish(cl, subject, reply, msg_id, data, len);
	if (rc < 0) {
		event_free(r->timer);
		free(r);
		return rc;
	}
	creq_hash(cl, r, many, fn, arg);
	*token = r->token;
	return 0;
}

int cluster_subscribe(struct cluster *cl, cluster_reply_fn fn, void *arg, uint32_t *token,
		      char *subject, size_t len)
{
	struct creq *r;
	char wild[128];

	if (!cl || !cl->nc)
		return -EHOSTUNREACH;
	if (cl->nsubs == cl->capsubs) {
		size_t cap = cl->capsubs ? cl->capsubs * 2 : 16;
		uint32_t *subs = realloc(cl->subs, cap * sizeof *subs);

		if (!subs)
			return -ENOMEM;
		cl->subs = subs;
		cl->capsubs = cap;
	}
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->token = creq_new_token(cl);
	snprintf(subject, len, "%s.s%u", cl->inbox, r->token);
	snprintf(wild, sizeof wild, "%s.*", subject);
	/* Synchronous: drained on the loop after each read (drain). */
	if (natsConnection_SubscribeSync(&r->sub, cl->nc, wild) != NATS_OK) {
		free(r);
		return -ENOMEM;
	}
	creq_hash(cl, r, true, fn, arg);
	cl->subs[cl->nsubs++] = r->token;
	*token = r->token;
	return 0;
}

void cluster_cancel(struct cluster *cl, uint32_t token)
{
	struct creq *r = cl && token ? *creq_slot(cl, token) : NULL;

	if (r)
		creq_free(r);
}

int cluster_publish(struct cluster *cl, const char *subject, const void *data, size_t len)
{
	return publish(cl, subject, NULL, NULL, data, len);
}

int cluster_publish_reply(struct cluster *cl, const char *subject, const char *reply,
			  const void *data, size_t len)
{
	return publish(cl, subject, reply, NULL, data, len);
}

int cluster_msg_status(natsMsg *msg)
{
	const char *v = NULL;

	if (natsMsgHeader_Get(msg, "Status", &v) != NATS_OK || !v)
		return 0;
	return atoi(v);
}

void cluster_pack_status(const struct cluster *cl, msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6);
	proto_pack_kv_str(pk, "servers", cl->urls);
	proto_pack_kv_str(pk, "server", cl->server);
	proto_pack_kv_u64(pk, "connected", cluster_connected(cl));
	proto_pack_kv_u64(pk, "since", (uint64_t)cl->since);
	proto_pack_kv_u64(pk, "reconnects", cl->reconnects);
	proto_pack_kv_u64(pk, "requests", cl->nreqs);
}
