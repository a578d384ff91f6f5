/*
 * queue.c - named FIFO queues: the object kind (open, stat, unlink,
 * recovery).  How messages move is in queue_serve.c, the requests in
 * queue_cmd.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "cqueue.h"
#include "consumer.h"
#include "log.h"
#include "qlog.h"
#include "qring.h"
#include "queue.h"
#include "queue_int.h"
#include "reply.h"
#include "server.h"

static void queue_unlinked(struct object *o)
{
	struct queue *q = queue_of(o);
	struct consumer *cs;

	if (q->log)
		qlog_remove(q);
	waiter_fail_all(&q->getters, -EIDRM, "the queue was removed");
	waiter_fail_all(&q->putters, -EIDRM, "the queue was removed");
	waiter_fail_all(&q->joiners, -EIDRM, "the queue was removed");
	TAILQ_FOREACH(cs, &q->consumers, link) {
		consumer_finish(cs, cs->inflight.count);
		while (consumer_ack(cs) == 0)
			;
		/* A prefetching client waits for pushes, not for a reply: tell it. */
		if (cs->prefetch && !cs->conn->dead) {
			msgpack_pack_uint32(push_begin(cs->conn, IPC_PUSH_REMOVED, 1), cs->handle);
			reply_end(cs->conn);
		}
	}
	if (q->be->unlinked)
		q->be->unlinked(q);
	o->srv->mem_used -= q->store.bytes;
	msgstore_clear(&q->store);
	if (q->ring) {
		qring_purge(q);
		qring_close(q);
	}
}

static void queue_destroy(struct object *o)
{
	struct queue *q = queue_of(o);

	if (q->be->destroy)
		q->be->destroy(q);
	o->srv->mem_used -= q->store.bytes;
	msgstore_clear(&q->store);
	qring_destroy(q);
	free(q);
}

void queue_meta(const struct queue *q, struct qlog_meta *m)
{
	m->name = q->obj.name;
	m->uid = q->obj.uid;
	m->gid = q->obj.gid;
	m->mode = q->obj.mode;
	m->maxsize = q->maxsize;
	m->maxbytes = q->maxbytes;
	m->ack = q->ack;
	m->ctime = q->obj.ctime;
}

static void queue_owner_changed(struct object *o)
{
	struct queue *q = queue_of(o);
	struct qlog_meta m;

	if (!q->log)
		return;
	queue_meta(q, &m);
	qlog_set_meta(q, &m);
}

size_t queue_depth(const struct queue *q)
{
	return q->ring ? qring_depth(q) : q->store.count;
}

size_t queue_bytes(const struct queue *q)
{
	return q->ring ? qring_bytes(q) : q->store.bytes;
}

uint64_t queue_puts(const struct queue *q)
{
	return q->puts + (q->ring ? qring_total(q, true) : 0);
}

uint64_t queue_gets(const struct queue *q)
{
	return q->gets + (q->ring ? qring_total(q, false) : 0);
}

void queue_flight(const struct queue *q, struct queue_flight *f)
{
	const struct consumer *cs;

	memset(f, 0, sizeof *f);
	/* What a page says was taken counts as a credit would have. */
	TAILQ_FOREACH(cs, &q->consumers, link) {
		size_t taken = consumer_unsynced(cs);

		f->pushed += cs->inflight.count - taken;
		f->unacked += cs->unacked.count + (q->ack ? taken : 0);
		/* A ring handle's lane alone does not make it a consumer; its leases do. */
		f->consumers += cs->lane < 0 || cs->prefetch || cs->inflight.count ||
				cs->unacked.count ||
				(q->ring && qring_lane_leased(q, (unsigned)cs->lane));
	}
	/* An ack queue's messages leased through the ring are unacknowledged too. */
	if (q->ring)
		f->unacked += qring_leased(q);
	f->acked = q->acked + (q->ring ? qring_acked(q) : 0);
}

static unsigned queue_nstat(const struct object *o)
{
	const struct queue *q = container_of(o, const struct queue, obj);

	return 20 + (q->ring ? QRING_NSTAT : 0);
}

static void queue_stat(const struct object *o, msgpack_packer *pk)
{
	const struct queue *q = container_of(o, const struct queue, obj);
	struct queue_flight f;

	queue_flight(q, &f);
	proto_pack_kv_u64(pk, "depth", queue_depth(q));
	proto_pack_kv_u64(pk, "bytes", queue_bytes(q));
	proto_pack_kv_u64(pk, "maxsize", q->maxsize);
	proto_pack_kv_u64(pk, "maxbytes", q->maxbytes);
	proto_pack_kv_u64(pk, "getters", waiter_count(&q->getters));
	proto_pack_kv_u64(pk, "putters", waiter_count(&q->putters));
	proto_pack_kv_u64(pk, "joiners", waiter_count(&q->joiners));
	proto_pack_kv_u64(pk, "puts", queue_puts(q));
	proto_pack_kv_u64(pk, "gets", queue_gets(q));
	proto_pack_kv_u64(pk, "inflight", f.pushed + f.unacked);
	proto_pack_kv_u64(pk, "unacked", f.unacked);
	proto_pack_kv_u64(pk, "acked", f.acked);
	proto_pack_kv_u64(pk, "redelivered", q->redelivered);
	proto_pack_kv_u64(pk, "consumers", f.consumers);
	proto_pack_kv_u64(pk, "ack", q->ack);
	proto_pack_kv_u64(pk, "durable", q->log != NULL);
	proto_pack_kv_str(pk, "where", q->be->where);
	proto_pack_kv_u64(pk, "replicas", q->cq ? cqueue_replicas(q) : 0);
	proto_pack_kv_u64(pk, "duplicates", q->cq ? cqueue_duplicates(q) : 0);
	proto_pack_kv_str(pk, "path", q->ring ? "ring" : "socket");
	if (q->ring)
		qring_stat(q, pk);
}

struct queue *queue_new(bool ids)
{
	struct queue *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	q->be = &queue_local;
	msgstore_init_ids(&q->store, ids);
	TAILQ_INIT(&q->getters);
	TAILQ_INIT(&q->putters);
	TAILQ_INIT(&q->joiners);
	TAILQ_INIT(&q->consumers);
	q->next_id = 1;
	return q;
}

struct queue *queue_restore(struct server *srv, const struct qlog_meta *meta, uint64_t next_id)
{
	struct queue *q = queue_new(true);

	if (!q)
		return NULL;
	q->maxsize = meta->maxsize;
	q->maxbytes = meta->maxbytes;
	q->ack = meta->ack;
	q->next_id = next_id;
	if (object_link(srv, &q->obj, &queue_kind, meta->name, strlen(meta->name), meta->uid,
			meta->gid, meta->mode) < 0) {
		free(q);
		return NULL;
	}
	q->obj.ctime = meta->ctime;
	return q;
}

int queue_restore_msg(struct queue *q, uint64_t id, const void *data, size_t len,
		      unsigned flags)
{
	int rc = msgstore_put_rec(&q->store, data, len, id, flags);

	if (rc == 0)
		q->obj.srv->mem_used += len;
	return rc;
}

/* ---- open: the kind's part (the gate in cmd.c does the rest) ---- */

_Static_assert(sizeof(struct queue_open_args) <= OBJECT_OPEN_ARGS_MAX,
	       "queue.open's arguments exceed OBJECT_OPEN_ARGS_MAX");

/* The attribute map (argv[2], a map or nil): unsigned integers of known names. */
static int queue_open_parse(const struct req *r, void *args, char *err, size_t errlen)
{
	static const char *const known[] = { IPC_ATTR_MAXSIZE, IPC_ATTR_MAXBYTES, IPC_ATTR_MODE,
					     IPC_ATTR_ACK, IPC_ATTR_DURABLE, IPC_ATTR_REPLICAS,
					     IPC_ATTR_NORING };
	const msgpack_object *m = &r->argv[2];
	struct queue_open_args *a = args;

	if (m->type == MSGPACK_OBJECT_NIL)
		return 0;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
		size_t j;

		for (j = 0; j < sizeof known / sizeof known[0]; j++)
			if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(known[j]) &&
			    memcmp(k->via.str.ptr, known[j], k->via.str.size) == 0)
				break;
		if (j == sizeof known / sizeof known[0] ||
		    v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
			snprintf(err, errlen, "queue attributes are unsigned integers named maxsize, "
				 "maxbytes, mode, ack, durable, replicas, noring");
			return -EINVAL;
		}
		if (j == 0) {
			a->maxsize = v->via.u64;
		} else if (j == 1) {
			a->maxbytes = v->via.u64;
		} else if (j == 2 && v->via.u64 > 0777) {
			snprintf(err, errlen, "mode %llo has bits beyond 0777",
				 (unsigned long long)v->via.u64);
			return -EINVAL;
		} else if (j == 2) {
			a->mode = (mode_t)v->via.u64;
		} else if (j == 3) {
			a->ack = v->via.u64 != 0;
		} else if (j == 4) {
			a->durable = v->via.u64 != 0;
		} else if (j == 5 && v->via.u64 > QUEUE_REPLICAS_MAX) {
			snprintf(err, errlen, "replicas: at most %d", QUEUE_REPLICAS_MAX);
			return -EINVAL;
		} else if (j == 5) {
			a->replicas = (unsigned)v->via.u64;
		} else {
			a->noring = v->via.u64 != 0;
		}
	}
	if (a->durable && a->replicas) {
		snprintf(err, errlen, "a cluster queue (replicas) is kept by the cluster, not "
			 "in a durable log: ask for one or the other");
		return -EINVAL;
	}
	return 0;
}

static int queue_open_create(struct req *r, const char *name, size_t len, const void *args,
			     struct object **out, char *err, size_t errlen)
{
	const struct queue_open_args *a = args;
	struct server *srv = r->srv;
	struct queue *q;

	if (a->replicas) {
		snprintf(err, errlen, "ipcd has no cluster: it makes local queues only (replicas 0)");
		return -EOPNOTSUPP;
	}
	q = queue_new(a->durable);

	if (!q || object_link(srv, &q->obj, &queue_kind, name, len, r->conn->uid, r->conn->gid,
			      a->mode ? a->mode : IPC_MODE_DEFAULT) < 0) {
		free(q);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->maxsize = a->maxsize ? a->maxsize : srv->lim.queue_maxsize;
	q->maxbytes = a->maxbytes ? a->maxbytes : srv->lim.queue_maxbytes;
	q->ack = a->ack;
	/* A durable queue's order is its log's: the socket. */
	if (srv->lim.ring_slots && !a->durable && !a->noring) {
		size_t slots = q->maxsize && q->maxsize < srv->lim.ring_slots ? q->maxsize :
			       srv->lim.ring_slots;
		int rc = qring_create(q, slots, srv->lim.ring_slot_bytes);

		if (rc < 0)
			log_warn("queue '%s' goes by the socket: no ring (%s)", q->obj.name,
				 strerror(-rc));
	}
	log_info("client %llu (pid %d) created %s%s%squeue '%s'", (unsigned long long)r->conn->id,
		 (int)r->conn->pid, a->durable ? "durable " : "", q->ack ? "ack " : "",
		 q->ring ? "ring " : "", q->obj.name);
	*out = &q->obj;
	return 0;
}

/* A durable queue created by this open gets its log, before anyone is told it exists. */
static int queue_open_finish(struct req *r, struct handle *h, bool created, const void *args,
			     char *err, size_t errlen)
{
	const struct queue_open_args *a = args;
	struct queue *q = queue_of(h->obj);
	struct qlog_meta meta;
	char why[PATH_MAX + 64];
	int rc;

	/* The ring goes only to who may both put and get: a consumer frees slots for
	 * producers, and either side could take the other's part.  The handle owns
	 * a lane of it (held by its consumer state), or goes by the socket when
	 * every lane is taken. */
	q->open_mapped = false;
	if (q->ring && !a->noring && h->rights == (IPC_PERM_READ | IPC_PERM_WRITE)) {
		struct consumer *cs = consumer_of(h, true);
		int fd;

		if (!cs) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		cs->lane = qring_lane_take(q);
		if (cs->lane >= 0) {
			fd = qring_fd(q);
			rc = fd < 0 ? -errno : conn_attach_fd(r->conn, fd);
			if (rc < 0) {
				snprintf(err, errlen, "cannot pass the queue's ring: %s", strerror(-rc));
				return rc;
			}
			q->open_mapped = true;
		}
	}
	if (!created || !a->durable)
		return 0;
	queue_meta(q, &meta);
	rc = qlog_create(r->srv, q, &meta, why, sizeof why);
	if (rc < 0)
		snprintf(err, errlen, "durable queue '%s': %s", q->obj.name, why);
	return rc;
}

/* Whether a ring descriptor rides with the reply (set by the finish just before), and the lane. */
static void queue_open_pack(const struct handle *h, msgpack_packer *pk)
{
	const struct consumer *cs = h->ext ? container_of(h->ext, const struct consumer, hold) : NULL;

	if (queue_of(h->obj)->open_mapped && cs && cs->lane >= 0) {
		msgpack_pack_true(pk);
		msgpack_pack_uint32(pk, (uint32_t)cs->lane);
	} else {
		msgpack_pack_false(pk);
		msgpack_pack_nil(pk);
	}
}

const struct object_kind queue_kind = {
	.kind = IPC_KIND_QUEUE,
	.name = "queue",
	.open = {
		.flags = IPC_OPEN_CREATE | IPC_OPEN_EXCLUSIVE | IPC_OPEN_AUTOREMOVE,
		.parse = queue_open_parse,
		.lookup = cqueue_lookup,
		.create = queue_open_create,
		.finish = queue_open_finish,
		.nresults = 2,
		.pack = queue_open_pack,
	},
	.unlinked = queue_unlinked,
	.destroy = queue_destroy,
	.owner_changed = queue_owner_changed,
	.nstat = queue_nstat,
	.stat = queue_stat,
};
