/*
 * admin.c - the administration calls of libipcclient: the settings in
 * force and changing a live one, ending another client's connection, and
 * the live trace of requests (the events ipcd pushes to a monitor, kept in
 * a bounded FIFO until ipc_monitor_next takes them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* Events kept for ipc_monitor_next; beyond this the oldest are dropped and counted. */
#define CLIENT_EVENTS_MAX 65536u

struct client_event {
	struct client_event *next;
	size_t len;
	char data[];                 /* the event's map, msgpack */
};

void client_event_push(ipc_client *c, const struct proto_reply *push)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct client_event *e;

	if (push->nres < 1)
		return;
	if (c->nevents >= CLIENT_EVENTS_MAX) {
		e = c->events;
		c->events = e->next;
		if (!c->events)
			c->events_tail = NULL;
		c->nevents--;
		c->events_lost++;
		free(e);
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, push->res[0]);
	e = sb.data ? malloc(sizeof *e + sb.size) : NULL;
	if (!e) {
		c->events_lost++;
		msgpack_sbuffer_destroy(&sb);
		return;
	}
	e->next = NULL;
	e->len = sb.size;
	memcpy(e->data, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	if (c->events_tail)
		c->events_tail->next = e;
	else
		c->events = e;
	c->events_tail = e;
	c->nevents++;
}

void client_events_free(ipc_client *c)
{
	while (c->events) {
		struct client_event *e = c->events;

		c->events = e->next;
		free(e);
	}
	c->events_tail = NULL;
	c->nevents = 0;
}

/* A request with the arguments packed by the caller, answered by a status. */
static int status_call(ipc_client *c)
{
	struct proto_reply rep;
	int rc = client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);

	if (rc == 0)
		client_done(c);
	return rc;
}

int ipc_client_kill(ipc_client *c, uint64_t id)
{
	int rc;

	if (!c)
		return -EINVAL;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	msgpack_pack_uint64(client_req(c, IPC_OP_CLIENT_KILL, 1), id);
	return status_call(c);
}

int ipc_config_set(ipc_client *c, const char *name, const char *value)
{
	msgpack_packer *pk;
	int rc;

	if (!c || !name || !value)
		return -EINVAL;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	pk = client_req(c, IPC_OP_CONFIG_SET, 2);
	proto_pack_cstr(pk, name);
	proto_pack_cstr(pk, value);
	return status_call(c);
}

int ipc_monitor(ipc_client *c)
{
	int rc;

	if (!c)
		return -EINVAL;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	client_req(c, IPC_OP_MONITOR, 0);
	return status_call(c);
}

int ipc_monitor_next(ipc_client *c, void **mp, size_t *len, int timeout_ms)
{
	int64_t deadline = io_deadline(timeout_ms);
	struct client_event *e;

	if (!c || !mp || !len)
		return -EINVAL;
	*mp = NULL;
	*len = 0;
	while (!c->events) {
		struct proto_reply rep;
		int rc;

		if (c->fd < 0 || c->pid != getpid())
			return -ENOTCONN;
		rc = client_read(c, deadline, &rep);
		if (rc == -ETIMEDOUT)
			return rc;
		if (rc < 0) {
			client_drop(c);
			return rc;
		}
		/* A reply to a request given up on: nothing waits for it. */
		if (rc == 0)
			client_done(c);
	}
	e = c->events;
	c->events = e->next;
	if (!c->events)
		c->events_tail = NULL;
	c->nevents--;
	*mp = malloc(e->len);
	if (!*mp) {
		free(e);
		return -ENOMEM;
	}
	memcpy(*mp, e->data, e->len);
	*len = e->len;
	free(e);
	return 0;
}
