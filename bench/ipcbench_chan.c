/*
 * ipcbench_chan.c - what ipcbench's messages travel through: a queue, or
 * one end of a one-way pipe, opened by the workers and made and removed by
 * the parent; and the buffers of stamped messages.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ipcclient.h>

#include "bench.h"
#include "ipcbench.h"

void die(const char *what, int rc)
{
	fprintf(stderr, "ipcbench: %s: %s\n", what, ipc_strerror(rc));
	exit(1);
}

const ipc_queue_attr *queue_attr(const struct opts *o)
{
	static const ipc_queue_attr durable = { .durable = 1 }, socket = { .noring = 1 };

	return o->durable ? &durable : o->noring ? &socket : NULL;
}

void chan_open(const struct opts *o, int end, struct chan *ch)
{
	int rc = ipc_connect(o->sock, &ch->c);

	if (rc < 0)
		die("connect", rc);
	ch->q = NULL;
	ch->p = NULL;
	if (o->pipe)
		rc = ipc_pipe_open(ch->c, o->name, end, 0, &ch->p);
	else
		rc = ipc_queue_open(ch->c, o->name, IPC_CREATE, queue_attr(o), &ch->q);
	if (rc < 0)
		die(o->pipe ? "open the pipe" : "open the queue", rc);
}

void chan_close(struct chan *ch)
{
	if (ch->q)
		ipc_queue_close(ch->q);
	if (ch->p)
		ipc_pipe_close(ch->p);
	ipc_disconnect(ch->c);
}

void chan_create(const struct opts *o, struct chan *ch)
{
	long rc = ipc_connect(o->sock, &ch->c);

	if (rc < 0)
		die("connect", (int)rc);
	ch->q = NULL;
	ch->p = NULL;
	if (o->pipe) {
		rc = ipc_pipe_open(ch->c, o->name, END_RECV,
				   IPC_CREATE | IPC_EXCLUSIVE | IPC_ONEWAY, &ch->p);
		if (rc < 0)
			die("create the pipe", (int)rc);
		return;
	}
	rc = ipc_queue_open(ch->c, o->name, IPC_CREATE, queue_attr(o), &ch->q);
	if (rc == 0)
		rc = ipc_queue_purge(ch->q);
	if (rc < 0)
		die("open and purge the queue", (int)rc);
}

void chan_remove(const struct opts *o, struct chan *ch)
{
	if (o->pipe)
		ipc_pipe_unlink(ch->c, o->name);
	else
		ipc_queue_unlink(ch->c, o->name);
	chan_close(ch);
}

int chan_put(struct chan *ch, const void *data, size_t len)
{
	if (ch->p)
		return ipc_pipe_send(ch->p, data, len, IPC_FOREVER);
	return ipc_queue_put(ch->q, data, len, IPC_FOREVER);
}

int chan_get(struct chan *ch, void **data, size_t *len, int timeout_ms)
{
	if (ch->p)
		return ipc_pipe_recv(ch->p, data, len, timeout_ms);
	return ipc_queue_get(ch->q, data, len, timeout_ms);
}

char *message_buffer(size_t size, unsigned n)
{
	char *buf = malloc(size * n);

	if (!buf) {
		fprintf(stderr, "ipcbench: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < size * n; i++)
		buf[i] = (char)('a' + i % 26);
	return buf;
}
