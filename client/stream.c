/*
 * stream.c - the streaming half of libipcclient's queues: batches of puts and
 * gets in one round trip, asynchronous puts, and consumer prefetch.
 *
 * Asynchronous puts are packed, ready to send, into the handle's pend buffer
 * and go out as one queue.put_many frame when it fills or on a flush; they
 * belong to the process that made them (a forked child starts empty).
 * Prefetched messages arrive as "msgs" pushes into the handle's ahead ring.
 * Taking one is counted in a page the daemon shares with this process, which
 * the daemon reads when it pushes, reports, or the connection goes: a get
 * costs no system call while the daemon still knows exactly what was taken.
 * A queue.credit (which waits for no reply) wakes the daemon when half the
 * window was taken, or all that was pushed: when it may be waiting for room.
 * Without the page (the daemon could not share one) each take is credited.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client.h"

static void ahead_clear(struct msgbuf *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->v[(b->head + i) % b->cap].iov_base);
	b->head = b->count = 0;
}

static int ahead_push(struct msgbuf *b, void *data, size_t len, unsigned flags)
{
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct iovec *v = malloc(cap * sizeof *v);
		unsigned char *f = malloc(cap);

		if (!v || !f) {
			free(v);
			free(f);
			return -ENOMEM;
		}
		for (size_t i = 0; i < b->count; i++) {
			v[i] = b->v[(b->head + i) % b->cap];
			f[i] = b->flags[(b->head + i) % b->cap];
		}
		free(b->v);
		free(b->flags);
		b->v = v;
		b->flags = f;
		b->cap = cap;
		b->head = 0;
	}
	b->v[(b->head + b->count) % b->cap] = (struct iovec){ data, len };
	b->flags[(b->head + b->count) % b->cap] = (unsigned char)flags;
	b->count++;
	return 0;
}

static struct iovec ahead_pop(struct msgbuf *b, unsigned *flags)
{
	struct iovec v = b->v[b->head];

	*flags = b->flags[b->head];
	b->head = (b->head + 1) % b->cap;
	b->count--;
	return v;
}

static void pend_clear(ipc_queue *q)
{
	q->pend.size = 0;
	q->npend = 0;
}

/* Forget the taken page; only the process that mapped it unmaps it (a child
 * of fork() never had it: MADV_DONTFORK). */
static void page_drop(ipc_queue *q)
{
	if (q->taken_page && q->page_pid == client_pid())
		munmap(q->taken_page, (size_t)sysconf(_SC_PAGESIZE));
	q->taken_page = NULL;
	q->taken = q->credited = 0;
}

/* Map the page whose descriptor came with a prefetch reply. */
static int page_map(ipc_queue *q)
{
	size_t bytes = (size_t)sysconf(_SC_PAGESIZE);
	int fd = client_take_fd(q->c);
	void *mem;

	if (fd < 0)
		return fd;
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return -errno;
	/* A forked child takes nothing on this connection's behalf. */
	madvise(mem, bytes, MADV_DONTFORK);
	page_drop(q);
	q->taken_page = mem;
	q->page_pid = client_pid();
	return 0;
}

void stream_free(ipc_queue *q)
{
	page_drop(q);
	ahead_clear(&q->ahead);
	free(q->ahead.v);
	free(q->ahead.flags);
	msgpack_sbuffer_destroy(&q->pend);
}

/* Send queue.prefetch n for q and wait for the answer. */
static int prefetch_call(ipc_queue *q, unsigned n)
{
	struct proto_reply rep;
	msgpack_packer *pk = client_req(q->c, IPC_OP_Q_PREFETCH, 2);
	bool shared;
	int rc;

	msgpack_pack_uint32(pk, q->num);
	msgpack_pack_uint32(pk, n);
	rc = client_call(q->c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);
	if (rc < 0)
		return rc;
	shared = rep.nres >= 1 && rep.res[0].type == MSGPACK_OBJECT_BOOLEAN &&
		 rep.res[0].via.boolean;
	client_done(q->c);
	/* No page: credits count each take.  A descriptor that cannot be
	 * mapped leaves the daemon reading a page nobody writes, so the
	 * connection is dropped, and with it what was pushed. */
	if (shared && (rc = page_map(q)) < 0)
		client_drop(q->c);
	return rc;
}

int stream_reopened(ipc_queue *q)
{
	/* Messages pushed on an earlier connection went back to the queue when it
	 * closed (or belong to the parent process): never hand them out here. */
	ahead_clear(&q->ahead);
	page_drop(q);   /* the earlier connection's consumer, and its page, are gone */
	q->removed = false;
	if (q->npend && q->pend_pid != client_pid())
		pend_clear(q);
	/* A mapped ring serves gets itself: nothing to push ahead. */
	return q->prefetch && !q->ring ? prefetch_call(q, q->prefetch) : 0;
}

/* The handle a push names, or NULL. */
static ipc_queue *push_handle(ipc_client *c, const struct proto_reply *push)
{
	const msgpack_object *h = &push->res[0];

	if (push->nres < 1 || h->type != MSGPACK_OBJECT_POSITIVE_INTEGER || h->via.u64 == 0 ||
	    h->via.u64 > c->handles_cap)
		return NULL;
	return c->handles[h->via.u64 - 1];
}

void stream_removed(ipc_client *c, const struct proto_reply *push)
{
	ipc_queue *q = push_handle(c, push);

	if (q)
		q->removed = true;
}

void stream_deliver(ipc_client *c, const struct proto_reply *push)
{
	const msgpack_object *msgs = &push->res[1];
	const msgpack_object *flags = push->nres >= 3 ? &push->res[2] : NULL;
	ipc_queue *q;

	if (push->nres < 2 || msgs->type != MSGPACK_OBJECT_ARRAY)
		return;
	q = push_handle(c, push);
	/* With prefetch off, pushes still arriving were returned to the queue. */
	if (!q || !q->prefetch)
		return;
	/* An ack queue's push has the messages' flags beside them. */
	if (flags && (flags->type != MSGPACK_OBJECT_ARRAY ||
		      flags->via.array.size != msgs->via.array.size))
		flags = NULL;
	for (uint32_t i = 0; i < msgs->via.array.size; i++) {
		void *data;
		size_t len;

		if (client_copy_bytes(&msgs->via.array.ptr[i], &data, &len) < 0)
			return;
		if (ahead_push(&q->ahead, data, len, flags ? MSGBUF_ACK |
			       ((unsigned)proto_u64(&flags->via.array.ptr[i]) & IPC_MSG_REDELIVERED) : 0) < 0) {
			free(data);
			return;
		}
	}
}

/* Tell the daemon n prefetched messages were taken; waits for no reply. */
static void credit_send(ipc_queue *q, size_t n)
{
	msgpack_packer *pk = client_req(q->c, IPC_OP_Q_CREDIT, 2);

	msgpack_pack_uint32(pk, q->num);
	msgpack_pack_uint64(pk, n);
	client_send(q->c);   /* on failure the next call reconnects and reports */
}

/* Wait until a pushed message is at hand. */
static int ahead_wait(ipc_queue *q, int timeout_ms)
{
	int64_t deadline = io_deadline(timeout_ms);

	while (!q->ahead.count) {
		struct proto_reply rep;
		int rc;

		if (q->removed)
			return -EIDRM;
		rc = client_read(q->c, deadline, &rep);

		if (rc == -ETIMEDOUT)
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		if (rc < 0) {
			client_drop(q->c);
			return rc;
		}
		if (rc == 0)
			client_done(q->c);   /* a late reply to a request given up on */
	}
	return 0;
}

/* n prefetched messages were taken: count them, and wake the daemon if it
 * may be waiting for room. */
static void count_taken(ipc_queue *q, size_t n)
{
	if (!q->taken_page) {
		credit_send(q, n);
		return;
	}
	q->taken += n;
	__atomic_store_n(q->taken_page, q->taken, __ATOMIC_RELEASE);
	if (q->ahead.count && q->taken - q->credited < (q->prefetch + 1) / 2)
		return;
	q->credited = q->taken;
	credit_send(q, 0);   /* the daemon reads the page */
}

/* Take up to max prefetched messages (waiting for one), counting them. */
static int ahead_take(ipc_queue *q, struct iovec *msgs, size_t max, int timeout_ms)
{
	size_t n = 0;
	int rc = ahead_wait(q, timeout_ms);

	if (rc < 0)
		return rc;
	while (n < max && q->ahead.count) {
		msgs[n++] = ahead_pop(&q->ahead, &q->last_flags);
		if (q->last_flags & MSGBUF_ACK)
			q->unacked++;
		q->last_flags &= ~MSGBUF_ACK;
	}
	count_taken(q, n);
	return (int)n;
}

int stream_get(ipc_queue *q, void **data, size_t *len, int timeout_ms)
{
	struct iovec v = { NULL, 0 };
	int rc = queue_ready(q);

	if (rc < 0)
		return rc;
	rc = ahead_take(q, &v, 1, timeout_ms);
	if (rc < 0)
		return rc;
	*data = v.iov_base;
	*len = v.iov_len;
	return 0;
}

int ipc_queue_set_prefetch(ipc_queue *q, unsigned n)
{
	int rc;

	if (!q)
		return -EINVAL;
	if (n > IPC_PREFETCH_MAX)
		n = IPC_PREFETCH_MAX;
	rc = queue_ready(q);
	if (rc < 0)
		return rc;
	/* Off: the daemon takes back what it pushed; drop our copies after its answer. */
	q->prefetch = n;
	if (q->ring)
		return 0;
	rc = prefetch_call(q, n);
	if (n == 0)
		ahead_clear(&q->ahead);
	return rc;
}

int ipc_queue_get_many(ipc_queue *q, struct iovec *msgs, size_t max, int timeout_ms)
{
	struct proto_reply rep;
	const msgpack_object *arr;
	msgpack_packer *pk;
	uint32_t i;
	int rc;

	if (!q || !msgs || !max)
		return -EINVAL;
	rc = queue_ring_ready(q) ? 0 : queue_ready(q);
	if (rc < 0)
		return rc;
	if (q->ring) {
		rc = ring_get_many(q, msgs, max, timeout_ms, &timeout_ms);
		if (rc != RING_SOCKET)
			return rc;
		rc = queue_ready(q);
		if (rc < 0)
			return rc;
	} else if (q->prefetch) {
		return ahead_take(q, msgs, max, timeout_ms);
	}
	pk = client_req(q->c, IPC_OP_Q_GET_MANY, 3);
	msgpack_pack_uint32(pk, q->num);
	msgpack_pack_int(pk, timeout_ms < 0 ? -1 : timeout_ms);
	msgpack_pack_uint64(pk, max > IPC_BATCH_MAX_MSGS ? IPC_BATCH_MAX_MSGS : max);
	rc = client_call(q->c, NULL, 0, client_wait_ms(timeout_ms), &rep);
	if (rc < 0)
		return rc;
	arr = &rep.res[0];
	if (rep.nres < 1 || arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size > max ||
	    arr->via.array.size == 0) {
		client_done(q->c);
		return -EPROTO;
	}
	for (i = 0; i < arr->via.array.size; i++) {
		rc = client_copy_bytes(&arr->via.array.ptr[i], &msgs[i].iov_base, &msgs[i].iov_len);
		if (rc < 0)
			break;
	}
	/* An ack queue's reply has the flags too: these wait for task_done. */
	if (rc == 0 && rep.nres >= 2)
		q->unacked += i;
	client_done(q->c);
	if (rc < 0) {
		/* Taken from the queue but not deliverable here: report, keep none half-made. */
		while (i--)
			free(msgs[i].iov_base);
		return rc;
	}
	return (int)i;
}

/* Drop the first n packed messages of pend (they were accepted). */
static void pend_consume(ipc_queue *q, size_t n)
{
	const unsigned char *p = (const unsigned char *)q->pend.data;
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len;

		switch (p[off]) {
		case 0xc4: len = p[off + 1]; off += 2; break;
		case 0xc5: len = (size_t)p[off + 1] << 8 | p[off + 2]; off += 3; break;
		default:
			len = (size_t)p[off + 1] << 24 | (size_t)p[off + 2] << 16 |
			      (size_t)p[off + 3] << 8 | p[off + 4];
			off += 5;
			break;
		}
		off += len;
	}
	memmove(q->pend.data, q->pend.data + off, q->pend.size - off);
	q->pend.size -= off;
	q->npend -= n;
}

/* One queue.put_many of everything pending; returns how many were accepted. */
static int pend_send(ipc_queue *q, int timeout_ms)
{
	msgpack_packer *pk = client_req(q->c, IPC_OP_Q_PUT_MANY, 3);
	uint64_t n;
	int rc;

	msgpack_pack_uint32(pk, q->num);
	msgpack_pack_int(pk, timeout_ms);
	msgpack_pack_array(pk, (uint32_t)q->npend);
	rc = client_call_u64(q->c, q->pend.data, q->pend.size, client_wait_ms(timeout_ms), &n);
	if (rc < 0)
		return rc;
	return n <= q->npend ? (int)n : -EPROTO;
}

int stream_flush(ipc_queue *q, int timeout_ms)
{
	int64_t deadline = io_deadline(timeout_ms);
	int rc;

	rc = ring_publish(q, timeout_ms);
	if (rc < 0)
		return rc;
	while (q->npend) {
		int left = io_left_ms(deadline);

		rc = queue_ready(q);
		if (rc < 0)
			return rc;
		rc = pend_send(q, left);
		if (rc == -EMSGSIZE || rc == -EINVAL) {
			/* The first message can never be put: it is dropped, and this
			 * error is its report.  The rest stay for the next flush. */
			pend_consume(q, 1);
			return rc;
		}
		if (rc < 0)
			return rc;
		pend_consume(q, (size_t)rc);
	}
	return 0;
}

/* Append one message, packed, to the pending batch. */
void stream_pend(ipc_queue *q, const void *data, size_t len)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, &q->pend, msgpack_sbuffer_write);
	msgpack_pack_bin(&pk, len);
	msgpack_pack_bin_body(&pk, data, len);
	q->npend++;
}

/* May a message of len bytes join the pending batch now, or must it go first? */
static bool pend_full(const ipc_queue *q, size_t len)
{
	return q->npend && (q->npend >= IPC_BATCH_MAX_MSGS ||
			    q->pend.size + len + 5 > IPC_STREAM_BATCH_BYTES);
}

int ipc_queue_put_many(ipc_queue *q, const struct iovec *msgs, size_t n, int timeout_ms)
{
	int64_t deadline = io_deadline(timeout_ms);
	size_t done = 0;
	int rc;

	if (!q || (!msgs && n))
		return -EINVAL;
	rc = queue_ready_flushed(q, timeout_ms);
	if (rc < 0)
		return rc;
	if (q->ring) {
		int stop;

		done = ring_put_many(q, msgs, n, timeout_ms, &timeout_ms, &stop);
		/* What the ring cannot take goes by the socket, after what it took. */
		if (stop != RING_SOCKET)
			return done ? (int)(done > INT32_MAX ? INT32_MAX : done) : stop;
	}
	q->pend_pid = client_pid();
	while (done < n) {
		size_t start = done, batch;

		for (; done < n && !pend_full(q, msgs[done].iov_len); done++) {
			if (!msgs[done].iov_base && msgs[done].iov_len) {
				rc = -EINVAL;
				break;
			}
			if (q->c->max_message && msgs[done].iov_len > q->c->max_message) {
				rc = -EMSGSIZE;
				break;
			}
			stream_pend(q, msgs[done].iov_base, msgs[done].iov_len);
		}
		batch = done - start;
		if (batch) {
			int frc = stream_flush(q, io_left_ms(deadline));

			if (frc < 0)
				rc = frc;
			/* A message the daemon refused for good was dropped from pend:
			 * it was not put either. */
			if (frc == -EMSGSIZE || frc == -EINVAL)
				done--;
		}
		if (rc < 0 || q->npend) {
			/* What the daemon did not accept is not put: count what was. */
			done -= q->npend;
			pend_clear(q);
			return done ? (int)(done > INT32_MAX ? INT32_MAX : done) : rc;
		}
	}
	return (int)(n > INT32_MAX ? INT32_MAX : n);
}

int ipc_queue_put_async(ipc_queue *q, const void *data, size_t len)
{
	int rc;

	if (!q || (!data && len))
		return -EINVAL;
	if (q->pend_pid != client_pid()) {
		/* A forked child: what is pending is the parent's to send. */
		pend_clear(q);
		ring_unstage(q);
		q->pend_pid = client_pid();
	}
	if (q->c->max_message && len > q->c->max_message)
		return -EMSGSIZE;
	/* Buffered for the socket while ipcd held puts newer than the ring's:
	 * once it holds none, what is buffered goes, and the ring is used again. */
	if (q->ring && q->npend && !ring_spilling(q)) {
		rc = stream_flush(q, IPC_FOREVER);
		if (rc < 0)
			return rc;
	}
	/* Through the ring, without waiting, while nothing waits here to go before
	 * it by the socket; else buffered as ever: a full queue, a message the ring
	 * cannot take and one the queue refuses are the flush's to wait for or report. */
	if (q->ring && !q->npend) {
		/* As for buffered puts, no system call per message: the pid fork()
		 * left (client_pid) says whether the connection is this process's. */
		if (q->gen != q->c->gen || q->c->fd < 0 || q->c->pid != client_pid()) {
			rc = queue_ready(q);
			if (rc < 0)
				return rc;
		}
		if (q->ring) {
			rc = ring_put_async(q, data, len);
			if (rc != RING_SOCKET)
				return rc;
		}
	}
	if (pend_full(q, len)) {
		rc = stream_flush(q, IPC_FOREVER);
		if (rc < 0)
			return rc;
	}
	stream_pend(q, data, len);
	return 0;
}

int ipc_queue_flush(ipc_queue *q, int timeout_ms)
{
	if (!q)
		return -EINVAL;
	if (q->pend_pid != client_pid())
		return 0;
	return stream_flush(q, timeout_ms);
}

size_t ipc_queue_pending(const ipc_queue *q)
{
	return q && q->pend_pid == client_pid() ? q->npend + ring_staged(q) : 0;
}
