/*
 * ctl_queue.c - ipcctl's queue commands: create, put, get, join, peek,
 * stat, purge, rm.  Messages go in as JSON typed by the user, encoded to msgpack,
 * and come out as JSON (see ctl_json.h for how bytes that are not msgpack
 * are shown), or as bytes with --raw and --hex (ctl_message_in, _out).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "ctl_json.h"

/* Open the queue named by the first operand, or report why not (*rc). */
/* ipcctl never maps a queue's ring: its requests go by the socket, where ipcd
 * counts and serves them as it does any client's without the mapping. */
static const ipc_queue_attr by_socket = { .noring = 1 };

static ipc_queue *open_queue(struct ctl *ctl, int flags, int *rc)
{
	ipc_client *c = ctl_connect(ctl);
	ipc_queue *q = NULL;
	int r;

	*rc = CTL_EXIT_CONNECT;
	if (!c)
		return NULL;
	*rc = CTL_EXIT_FAIL;
	r = ipc_queue_open(c, ctl->args[0], flags, flags & IPC_CREATE ? &ctl->attr : &by_socket,
			   &q);
	if (r < 0) {
		ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
		return NULL;
	}
	*rc = CTL_EXIT_OK;
	return q;
}

int ctl_queue_create(struct ctl *ctl)
{
	int rc;
	ipc_queue *q = open_queue(ctl, IPC_CREATE | IPC_EXCLUSIVE, &rc);

	if (q)
		ipc_queue_close(q);
	return rc;
}

int ctl_queue_put(struct ctl *ctl)
{
	void *data;
	size_t len;
	ipc_queue *q;
	int r, rc;

	rc = ctl_message_in(ctl, ctl->args[1], &data, &len);
	if (rc != CTL_EXIT_OK)
		return rc;
	q = open_queue(ctl, ctl->create ? IPC_CREATE : 0, &rc);
	if (q) {
		r = ipc_queue_put(q, data, len, ctl->timeout_ms);
		if (r < 0)
			rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
		ipc_queue_close(q);
	}
	free(data);
	return rc;
}

int ctl_queue_get(struct ctl *ctl)
{
	void *data = NULL;
	size_t len = 0;
	int r, rc;
	ipc_queue *q = open_queue(ctl, 0, &rc);

	if (!q)
		return rc;
	r = ipc_queue_get(q, &data, &len, ctl->timeout_ms);
	if (r == -ETIMEDOUT || r == -EAGAIN) {
		if (ctl->timeout_ms > 0)
			rc = ctl_report(ctl, CTL_EXIT_EMPTY, 0, "%s %s: no message within %d ms",
					ctl->what, ctl->args[0], ctl->timeout_ms);
		else
			rc = ctl_report(ctl, CTL_EXIT_EMPTY, 0, "%s %s: queue is empty",
					ctl->what, ctl->args[0]);
	} else if (r < 0) {
		rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	} else {
		rc = ctl_message_out(ctl, data, len);
		/* Printed: on an ack queue it is done (elsewhere task_done is -EINVAL). */
		if (rc == CTL_EXIT_OK)
			ipc_queue_task_done(q);
	}
	ipc_queue_close(q);
	return rc;
}

int ctl_queue_join(struct ctl *ctl)
{
	int r, rc;
	ipc_queue *q = open_queue(ctl, 0, &rc);

	if (!q)
		return rc;
	r = ipc_queue_join(q, ctl->timeout_ms);
	if (r == -ETIMEDOUT || r == -EAGAIN) {
		rc = ctl_report(ctl, CTL_EXIT_EMPTY, 0, "%s %s: messages still unfinished after "
				"%d ms", ctl->what, ctl->args[0], ctl->timeout_ms);
	} else if (r < 0) {
		rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	}
	ipc_queue_close(q);
	return rc;
}

int ctl_queue_peek(struct ctl *ctl)
{
	void *data = NULL;
	size_t len = 0;
	int r, rc;
	ipc_queue *q = open_queue(ctl, 0, &rc);

	if (!q)
		return rc;
	r = ipc_queue_peek(q, &data, &len);
	if (r == -EAGAIN || r == -ETIMEDOUT) {
		rc = ctl_report(ctl, CTL_EXIT_EMPTY, 0, "%s %s: queue is empty", ctl->what,
				ctl->args[0]);
	} else if (r < 0) {
		rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	} else {
		rc = ctl_message_out(ctl, data, len);
	}
	ipc_queue_close(q);
	return rc;
}

int ctl_queue_stat(struct ctl *ctl)
{
	void *mp = NULL;
	size_t len = 0;
	int r, rc;
	ipc_queue *q = open_queue(ctl, 0, &rc);

	if (!q)
		return rc;
	r = ipc_queue_stat(q, &mp, &len);
	if (r < 0)
		rc = ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	else
		rc = ctl_show(ctl, mp, len, MSGPACK_OBJECT_MAP, NULL, 0);
	ipc_queue_close(q);
	return rc;
}

int ctl_queue_purge(struct ctl *ctl)
{
	long n;
	int rc;
	ipc_queue *q = open_queue(ctl, 0, &rc);

	if (!q)
		return rc;
	n = ipc_queue_purge(q);
	if (n < 0)
		rc = ctl_fail(ctl, (int)n, "%s %s", ctl->what, ctl->args[0]);
	else if (ctl->json)
		rc = ctl_emit_json(json_pack("{s:I}", "purged", (json_int_t)n));
	else
		printf("purged %ld message%s\n", n, n == 1 ? "" : "s");
	ipc_queue_close(q);
	return rc;
}

int ctl_queue_rm(struct ctl *ctl)
{
	ipc_client *c = ctl_connect(ctl);
	int r;

	if (!c)
		return CTL_EXIT_CONNECT;
	r = ipc_queue_unlink(c, ctl->args[0]);
	if (r < 0)
		return ctl_fail(ctl, r, "%s %s", ctl->what, ctl->args[0]);
	return CTL_EXIT_OK;
}

