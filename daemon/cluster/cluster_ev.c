/*
 * cluster_ev.c - libnats's socket on ipcd's event loop (after libnats's own
 * nats/adapters/libevent.h), with one difference: after every read the
 * subscriptions are drained (cluster_drain), so what a read brought is
 * handled on the loop at once, with no delivery thread in between.
 *
 * libnats calls attach from its connect and reconnect threads (the base is
 * made thread-safe by cluster_loop_init), read, write and detach from the
 * loop or from those threads; the callbacks run on the loop.
 */
#include <stdlib.h>

#include "cluster_int.h"

/* The adapter's state of one connection: freed by libnats's detach. */
struct cl_events {
	struct cluster_link *link;
	natsConnection *nc;
	struct event *read, *write;
};

static void ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cl_events *ev = arg;

	if (what & EV_READ) {
		natsConnection_ProcessReadEvent(ev->nc);
		if (ev->link->cl)
			cluster_drain(ev->link->cl);
	}
	if (what & EV_WRITE)
		natsConnection_ProcessWriteEvent(ev->nc);
}

static void ev_free(struct cl_events *ev)
{
	if (ev->read)
		event_free(ev->read);
	if (ev->write)
		event_free(ev->write);
	ev->read = ev->write = NULL;
}

static natsStatus ev_detach(void *user)
{
	struct cl_events *ev = user;

	if (ev) {
		ev_free(ev);
		free(ev);
	}
	return NATS_OK;
}

/* On the connect or reconnect thread (the base is thread-safe): the new socket's events. */
static natsStatus ev_attach(void **user, void *loop, natsConnection *nc, natsSock sock)
{
	struct cluster_link *l = loop;
	struct cl_events *ev = *user;

	if (!ev) {
		ev = calloc(1, sizeof *ev);
		if (!ev)
			return NATS_NO_MEMORY;
		ev->link = l;
		ev->nc = nc;
	}
	ev_free(ev);
	ev->read = event_new(l->base, sock, EV_READ | EV_PERSIST, ev_cb, ev);
	ev->write = event_new(l->base, sock, EV_WRITE | EV_PERSIST, ev_cb, ev);
	if (!ev->read || !ev->write || event_add(ev->read, NULL) < 0) {
		ev_detach(ev);
		*user = NULL;
		return NATS_NO_MEMORY;
	}
	*user = ev;
	return NATS_OK;
}

static natsStatus ev_read(void *user, bool add)
{
	struct cl_events *ev = user;

	return (add ? event_add(ev->read, NULL) : event_del_noblock(ev->read)) == 0 ? NATS_OK :
										       NATS_ERR;
}

static natsStatus ev_write(void *user, bool add)
{
	struct cl_events *ev = user;

	return (add ? event_add(ev->write, NULL) : event_del_noblock(ev->write)) == 0 ? NATS_OK :
											NATS_ERR;
}

natsStatus cluster_ev_options(natsOptions *o, struct cluster_link *link)
{
	return natsOptions_SetEventLoop(o, link, ev_attach, ev_read, ev_write, ev_detach);
}
