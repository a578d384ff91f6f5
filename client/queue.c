/*
 * queue.c - the queue half of libipcclient: handles, put, get and friends.
 *
 * A handle remembers how it was opened, so that in a forked child, or after
 * the connection was lost, it is re-opened by name on its next use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* Send Q_OPEN for q on c's current connection. */
static int queue_open_remote(ipc_queue *q, int flags)
{
	ipc_client *c = q->c;
	struct proto_reply rep;
	msgpack_packer *pk;
	uint64_t num;
	uint64_t lane;
	bool mapped;
	int rc, extra;

	pk = client_req(c, IPC_OP_Q_OPEN, 3);
	proto_pack_cstr(pk, q->name);
	msgpack_pack_uint32(pk, (uint32_t)flags);
	/* ack and durable are sent only when asked for, so an ipcd without them can say so. */
	extra = q->attr.ack || q->attr.durable;
	msgpack_pack_map(pk, 3 + 2 * extra + (q->attr.replicas != 0) + (q->attr.noring != 0));
	proto_pack_kv_u64(pk, IPC_ATTR_MAXSIZE, q->attr.maxsize);
	proto_pack_kv_u64(pk, IPC_ATTR_MAXBYTES, q->attr.maxbytes);
	proto_pack_kv_u64(pk, IPC_ATTR_MODE, q->attr.mode);
	if (extra) {
		proto_pack_kv_u64(pk, "ack", q->attr.ack != 0);
		proto_pack_kv_u64(pk, "durable", q->attr.durable != 0);
	}
	/* Likewise replicas: an ipcd without a cluster answers -EOPNOTSUPP. */
	if (q->attr.replicas)
		proto_pack_kv_u64(pk, IPC_ATTR_REPLICAS, q->attr.replicas);
	if (q->attr.noring)
		proto_pack_kv_u64(pk, IPC_ATTR_NORING, 1);
	rc = client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);
	if (rc < 0)
		return rc;
	num = rep.nres >= 1 && rep.res[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
	      rep.res[0].via.u64 : 0;
	mapped = rep.nres >= 4 && rep.res[2].type == MSGPACK_OBJECT_BOOLEAN &&
		 rep.res[2].via.boolean && rep.res[3].type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	lane = mapped ? rep.res[3].via.u64 : 0;
	client_done(c);
	/* A mapping of an earlier connection (or of the parent) gives way to this one. */
	ring_unmap(q);
	if (mapped && !q->attr.noring) {
		int fd = client_take_fd(c);

		rc = fd < 0 ? fd : ring_map(q, fd, lane);
		if (rc < 0) {
			/* The handle works by the socket: the ring is only a faster way. */
			ring_unmap(q);
		}
	}
	q->num = (uint32_t)num;
	q->gen = c->gen;
	/* What was got on an earlier connection went back to the queue with it. */
	q->unacked = 0;
	if (q->num == 0)
		return -EPROTO;
	rc = client_register(c, q);
	return rc < 0 ? rc : stream_reopened(q);
}

int queue_ready(ipc_queue *q)
{
	int rc = client_ready(q->c);

	if (rc < 0)
		return rc;
	if (q->gen == q->c->gen)
		return 0;
	return queue_open_remote(q, q->flags & ~IPC_EXCLUSIVE);
}

bool queue_ring_ready(ipc_queue *q)
{
	return q->ring && q->gen == q->c->gen && q->c->fd >= 0 && q->c->pid == client_pid() &&
	       (!q->npend || q->pend_pid != client_pid());
}

/* Earlier asynchronous puts go first so that order holds. */
int queue_ready_flushed(ipc_queue *q, int timeout_ms)
{
	int rc = queue_ready(q);

	if (rc < 0)
		return rc;
	if (q->pend_pid != client_pid())
		return 0;
	rc = ring_publish(q, timeout_ms);
	if (rc < 0)
		return rc;
	return q->npend ? stream_flush(q, timeout_ms) : 0;
}

int ipc_queue_open(ipc_client *c, const char *name, int flags, const ipc_queue_attr *attr,
		   ipc_queue **out)
{
	ipc_queue *q;
	int rc;

	if (!c || !name || !out || (flags & ~(IPC_CREATE | IPC_EXCLUSIVE | IPC_AUTOREMOVE)))
		return -EINVAL;
	*out = NULL;
	if (strlen(name) > IPC_NAME_MAX)
		return -ENAMETOOLONG;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->c = c;
	q->flags = flags;
	msgpack_sbuffer_init(&q->pend);
	if (attr)
		q->attr = *attr;
	q->name = strdup(name);
	if (!q->name) {
		free(q);
		return -ENOMEM;
	}
	rc = queue_open_remote(q, flags);
	if (rc < 0) {
		stream_free(q);
		ring_unmap(q);
		free(q->name);
		free(q);
		return rc;
	}
	*out = q;
	return 0;
}

void ipc_queue_close(ipc_queue *q)
{
	ipc_client *c;

	if (!q)
		return;
	c = q->c;
	/* Asynchronous puts of this process are delivered before the handle goes,
	 * waiting a bounded time for room. */
	if ((q->npend || ring_staged(q)) && q->pend_pid == client_pid())
		stream_flush(q, CLIENT_CALL_TIMEOUT_MS);
	/* Tell the daemon only on this process's own live connection. */
	if (client_handle_live(c, q->gen)) {
		client_unregister(c, q);
		client_close_handle(c, q->num);
	}
	stream_free(q);
	ring_unmap(q);
	free(q->name);
	free(q);
}

const char *ipc_queue_name(const ipc_queue *q)
{
	return q ? q->name : NULL;
}

int ipc_queue_unlink(ipc_client *c, const char *name)
{
	return client_unlink(c, name, IPC_KIND_QUEUE);
}

int ipc_queue_put(ipc_queue *q, const void *data, size_t len, int timeout_ms)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc;

	if (!q || (!data && len))
		return -EINVAL;
	if (q->c->max_message && len > q->c->max_message)
		return -EMSGSIZE;
	if (queue_ring_ready(q)) {
		/* Earlier asynchronous puts go first. */
		rc = ring_publish(q, timeout_ms);
		if (rc < 0)
			return rc;
		rc = q->npend ? RING_SOCKET : ring_put(q, data, len, timeout_ms, &timeout_ms);
		if (rc != RING_SOCKET)
			return rc;
	}
	rc = queue_ready_flushed(q, timeout_ms);
	if (rc < 0)
		return rc;
	if (q->ring) {
		rc = ring_put(q, data, len, timeout_ms, &timeout_ms);
		if (rc != RING_SOCKET)
			return rc;
	}
	pk = client_req(q->c, IPC_OP_Q_PUT, 3);
	msgpack_pack_uint32(pk, q->num);
	msgpack_pack_int(pk, timeout_ms < 0 ? -1 : timeout_ms);
	msgpack_pack_bin(pk, len);
	rc = client_call(q->c, data, len, client_wait_ms(timeout_ms), &rep);
	if (rc == 0)
		client_done(q->c);
	return rc;
}

/* Request op on q with the handle as its only argument; 0 with *rep to release. */
static int queue_call_simple(ipc_queue *q, unsigned op, struct proto_reply *rep)
{
	int rc = queue_ready(q);

	if (rc < 0)
		return rc;
	msgpack_pack_uint32(client_req(q->c, op, 1), q->num);
	return client_call(q->c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, rep);
}

/* A request on q whose first result is bytes, copied to *data; then its flags. */
static int queue_fetch(ipc_queue *q, unsigned op, int timeout_ms, void **data, size_t *len)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc;

	if (!q || !data || !len)
		return -EINVAL;
	rc = queue_ready(q);
	if (rc < 0)
		return rc;
	pk = client_req(q->c, op, op == IPC_OP_Q_GET ? 2 : 1);
	msgpack_pack_uint32(pk, q->num);
	if (op == IPC_OP_Q_GET)
		msgpack_pack_int(pk, timeout_ms < 0 ? -1 : timeout_ms);
	rc = client_call(q->c, NULL, 0, client_wait_ms(timeout_ms), &rep);
	if (rc < 0)
		return rc;
	rc = rep.nres < 1 ? -EPROTO : client_copy_bytes(&rep.res[0], data, len);
	/* An ack queue's get also says whether the message was delivered before. */
	if (op == IPC_OP_Q_GET && rc == 0) {
		q->last_flags = rep.nres >= 2 ? (unsigned)proto_u64(&rep.res[1]) : 0;
		q->unacked += rep.nres >= 2;
	}
	client_done(q->c);
	return rc;
}

int ipc_queue_get(ipc_queue *q, void **data, size_t *len, int timeout_ms)
{
	if (q && data && len) {
		int rc = queue_ring_ready(q) ? 0 : queue_ready(q);
		struct iovec v;

		if (rc < 0)
			return rc;
		if (q->ring) {
			rc = ring_get_many(q, &v, 1, timeout_ms, &timeout_ms);
			if (rc == 1) {
				*data = v.iov_base;
				*len = v.iov_len;
				q->last_flags = 0;
				return 0;
			}
			if (rc != RING_SOCKET)
				return rc;
			return queue_fetch(q, IPC_OP_Q_GET, timeout_ms, data, len);
		}
	}
	if (q && q->prefetch && data && len)
		return stream_get(q, data, len, timeout_ms);
	return queue_fetch(q, IPC_OP_Q_GET, timeout_ms, data, len);
}

int ipc_queue_get_info(ipc_queue *q, void **data, size_t *len, int timeout_ms, unsigned *flags)
{
	int rc = ipc_queue_get(q, data, len, timeout_ms);

	if (flags)
		*flags = rc == 0 ? q->last_flags : 0;
	return rc;
}

int ipc_queue_task_done(ipc_queue *q)
{
	ipc_client *c;
	int rc;

	if (!q)
		return -EINVAL;
	c = q->c;
	/* The oldest unacknowledged message, if leased through the ring, is ended there. */
	rc = ring_ack(q);
	if (rc != RING_SOCKET)
		return rc;
	/* Messages got on an earlier connection went back to the queue with it. */
	if (!client_handle_live(c, q->gen) || !q->unacked)
		return -EINVAL;
	/* No reply on success: sent is done, as ipcd reads what a client sent before its end. */
	msgpack_pack_uint32(client_req(c, IPC_OP_Q_TASK_DONE, 1), q->num);
	rc = client_send(c);
	if (rc < 0)
		return rc;
	q->unacked--;
	return 0;
}

int ipc_queue_join(ipc_queue *q, int timeout_ms)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc;

	if (!q)
		return -EINVAL;
	rc = queue_ready_flushed(q, timeout_ms);
	if (rc < 0)
		return rc;
	pk = client_req(q->c, IPC_OP_Q_JOIN, 2);
	msgpack_pack_uint32(pk, q->num);
	msgpack_pack_int(pk, timeout_ms < 0 ? -1 : timeout_ms);
	rc = client_call(q->c, NULL, 0, client_wait_ms(timeout_ms), &rep);
	if (rc == 0)
		client_done(q->c);
	return rc;
}

int ipc_queue_peek(ipc_queue *q, void **data, size_t *len)
{
	return queue_fetch(q, IPC_OP_Q_PEEK, 0, data, len);
}

/* A request on q whose one result is a count. */
static long queue_count(ipc_queue *q, unsigned op)
{
	struct proto_reply rep;
	long n;
	int rc;

	if (!q)
		return -EINVAL;
	rc = queue_call_simple(q, op, &rep);
	if (rc < 0)
		return rc;
	n = rep.nres >= 1 && rep.res[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
	    (long)rep.res[0].via.u64 : -EPROTO;
	client_done(q->c);
	return n;
}

long ipc_queue_size(ipc_queue *q)
{
	return queue_count(q, IPC_OP_Q_SIZE);
}

long ipc_queue_purge(ipc_queue *q)
{
	return queue_count(q, IPC_OP_Q_PURGE);
}

int ipc_queue_stat(ipc_queue *q, void **mp, size_t *len)
{
	struct proto_reply rep;
	int rc;

	if (!q || !mp || !len)
		return -EINVAL;
	rc = queue_call_simple(q, IPC_OP_Q_STAT, &rep);
	if (rc < 0)
		return rc;
	return client_take_result(q->c, &rep, mp, len);
}
