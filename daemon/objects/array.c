/*
 * array.c - named shared arrays: the object kind, the open, the lock.
 * The brokered read, write and add are in array_io.c.
 *
 * An array owns a memfd (sealed so that its size never changes, which keeps
 * every client's mapping valid) and the daemon's own mapping of it.  Clients
 * are sent a duplicate of the descriptor with each open and map it
 * themselves; the daemon reads, writes and adds through its mapping for the
 * brokered operations, with __atomic builtins where a mapped writer could
 * race.  The lock is a hold on the connection that has it: whatever ends the
 * connection releases it and grants it to the next waiter.  Brokered
 * operations of other connections wait while it is held, on the same FIFO
 * list as lock requests.
 *
 * A durable array (attr durable) is the same memfd, whose contents storage/asnap.c
 * saves to the state directory as a whole file, replaced atomically: after
 * each loop turn with brokered writes (fsync always), every second while a
 * process maps it writable (its writes are invisible to the daemon), and
 * when ipcd stops; at start the saved arrays are made again.
 *
 * Permissions: a handle opened with read but not write gets a read-only
 * descriptor (the memfd reopened O_RDONLY), one without read no descriptor
 * (it writes through the daemon).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "array.h"
#include "array_int.h"
#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "log.h"
#include "asnap.h"
#include "reply.h"
#include "server.h"

#define ARRAY_DEFAULT_MODE 0600

static void array_lock_released(struct hold *h);
static int array_lock_describe(const struct hold *h, char *buf, size_t len);

static const struct hold_ops array_lock_ops = {
	.what = "array lock", .release = array_lock_released, .describe = array_lock_describe
};

static uint64_t next_array_id;

static const char *client_desc(const struct conn *c, char *buf, size_t len)
{
	snprintf(buf, len, "client %llu (pid %d)", (unsigned long long)c->id, (int)c->pid);
	return buf;
}

/* ---- the lock ---- */

static void array_grant(struct array *a, struct conn *c)
{
	a->holder = c;
	a->locks++;
	object_ref(&a->obj);
	TAILQ_INSERT_TAIL(&c->holds, &a->lock_hold, link);
}

/*
 * Serve parked requests from the head while the lock is free: brokered
 * operations are done, the first lock request is granted and ends the turn.
 */
static void array_settle(struct array *a)
{
	struct waiter *w;

	while (!a->holder && (w = TAILQ_FIRST(&a->waiters))) {
		const struct array_op *op = w->data;

		if (w->op == IPC_OP_A_LOCK) {
			array_grant(a, w->conn);
			reply_ok(w->conn, w->id);
		} else {
			array_do(a, w->conn, w->id, w->op, op, op + 1);
		}
		waiter_finish(w);
	}
}

/*
 * Free the lock (already off the holder's hold list) and pass it on.  forced:
 * the holder did not unlock (it went away, or closed its last handle), which
 * is logged with who gets the lock next.
 */
static void array_release(struct array *a, const char *forced)
{
	char who[64], next[64];

	if (forced)
		client_desc(a->holder, who, sizeof who);
	a->holder = NULL;
	array_settle(a);
	if (forced && a->holder)
		log_warn("%s %s holding the lock of array '%s'; released, granted to %s", who,
			 forced, a->obj.name, client_desc(a->holder, next, sizeof next));
	else if (forced)
		log_warn("%s %s holding the lock of array '%s'; released", who, forced,
			 a->obj.name);
	object_unref(&a->obj);
}

/* The holder's connection went: conn_release took lock_hold off its list. */
static void array_lock_released(struct hold *h)
{
	array_release(container_of(h, struct array, lock_hold), "went away");
}

static int array_lock_describe(const struct hold *h, char *buf, size_t len)
{
	const struct array *a = container_of(h, const struct array, lock_hold);

	return snprintf(buf, len, "lock of array %s", a->obj.name);
}

static void array_unlock_by(struct array *a, const char *forced)
{
	TAILQ_REMOVE(&a->holder->holds, &a->lock_hold, link);
	array_release(a, forced);
}

/* ---- the object kind ---- */

static void array_unlinked(struct object *o)
{
	struct array *a = array_of(o);

	/* Mappings stay valid; brokered access and the lock end with the name. */
	if (a->snapshot)
		asnap_remove(a);
	waiter_fail_all(&a->waiters, -EIDRM, "the array was removed");
	if (a->holder)
		array_unlock_by(a, NULL);
}

static void array_destroy(struct object *o)
{
	struct array *a = array_of(o);

	o->srv->shm_used -= a->bytes;
	munmap(a->mem, a->bytes);
	close(a->memfd);
	free(a);
}

/* Processes with a mapping: distinct pids among the mapped handles. */
static unsigned array_mapped(const struct array *a)
{
	const struct array_handle *m, *n;
	unsigned count = 0;

	LIST_FOREACH(m, &a->handles, link) {
		if (!m->mapped)
			continue;
		for (n = LIST_FIRST(&a->handles); n != m; n = LIST_NEXT(n, link))
			if (n->mapped && n->handle->conn->pid == m->handle->conn->pid)
				break;
		if (n == m)
			count++;
	}
	return count;
}

static unsigned array_nstat(const struct object *o)
{
	return container_of(o, const struct array, obj)->holder ? 12 : 11;
}

static void array_stat(const struct object *o, msgpack_packer *pk)
{
	const struct array *a = container_of(o, const struct array, obj);
	char tc[1] = { a->typecode };

	msgpack_pack_str_with_body(pk, "typecode", 8);
	msgpack_pack_str_with_body(pk, tc, 1);
	proto_pack_kv_u64(pk, "length", a->length);
	proto_pack_kv_u64(pk, "itemsize", a->itemsize);
	proto_pack_kv_u64(pk, "bytes", a->bytes);
	proto_pack_kv_u64(pk, "id", a->id);
	proto_pack_kv_u64(pk, "mapped", array_mapped(a));
	if (a->holder)
		proto_pack_kv_i64(pk, "lock_pid", a->holder->pid);
	proto_pack_kv_u64(pk, "waiting", waiter_count(&a->waiters));
	proto_pack_kv_u64(pk, "reads", a->reads);
	proto_pack_kv_u64(pk, "writes", a->writes);
	proto_pack_kv_u64(pk, "adds", a->adds);
	proto_pack_kv_u64(pk, "locks", a->locks);
}

/* A durable array's snapshot holds its owner and mode too. */
static void array_owner_changed(struct object *o)
{
	struct array *a = array_of(o);

	if (a->snapshot)
		asnap_changed(a);
}

bool array_mapped_writable(const struct array *a)
{
	const struct array_handle *ah;

	LIST_FOREACH(ah, &a->handles, link)
		if (ah->mapped && (ah->handle->rights & IPC_PERM_WRITE))
			return true;
	return false;
}

/* A handle on the array is going: forget it, and the lock with the last one. */
static void array_handle_released(struct hold *hold)
{
	struct array_handle *ah = container_of(hold, struct array_handle, hold);
	struct array *a = ah->a;
	struct conn *c = ah->handle->conn;
	const struct array_handle *other;

	LIST_REMOVE(ah, link);
	free(ah);
	if (a->holder != c)
		return;
	/* The lock belongs to the connection while it has the array open. */
	LIST_FOREACH(other, &a->handles, link)
		if (other->handle->conn == c)
			return;
	array_unlock_by(a, c->dead ? "went away" : "closed the array");
}

/* The handle as ipcctl clients lists it: "array NAME", and whether it is mapped. */
static int array_handle_describe(const struct hold *hold, char *buf, size_t len)
{
	const struct array_handle *ah = container_of(hold, const struct array_handle, hold);

	return snprintf(buf, len, "array %s%s", ah->a->obj.name, ah->mapped ? " (mapped)" : "");
}

static const struct hold_ops array_handle_ops = {
	.what = "array handle", .release = array_handle_released, .describe = array_handle_describe
};

/* ---- open ---- */

/*
 * A new zero-filled array of length elements of tc, linked as name: its
 * memfd, sealed, and the daemon's mapping.  NULL with errno on failure.
 */
static struct array *array_new(struct server *srv, const char *name, size_t len, char tc,
			       uint64_t length, uid_t uid, gid_t gid, mode_t mode)
{
	unsigned itemsize = ipc_typecode_size(tc);
	size_t bytes = (size_t)length * itemsize;
	struct array *a = calloc(1, sizeof *a);
	char memname[32];
	int err;

	if (!a)
		return NULL;
	a->memfd = -1;
	a->mem = MAP_FAILED;
	snprintf(memname, sizeof memname, "ipcd-array-%llu",
		 (unsigned long long)(next_array_id + 1));
	a->memfd = memfd_create(memname, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (a->memfd < 0 || ftruncate(a->memfd, (off_t)bytes) < 0 ||
	    fcntl(a->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	a->mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a->memfd, 0);
	if (a->mem == MAP_FAILED)
		goto fail;
	a->typecode = tc;
	a->itemsize = itemsize;
	a->length = (size_t)length;
	a->bytes = bytes;
	TAILQ_INIT(&a->waiters);
	LIST_INIT(&a->handles);
	a->lock_hold.ops = &array_lock_ops;
	if (object_link(srv, &a->obj, &array_kind, name, len, uid, gid, mode) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	a->id = ++next_array_id;
	srv->shm_used += bytes;
	return a;
fail:
	err = errno;
	if (a->mem != MAP_FAILED)
		munmap(a->mem, bytes);
	if (a->memfd >= 0)
		close(a->memfd);
	free(a);
	errno = err;
	return NULL;
}

struct array *array_restore(struct server *srv, const char *name, uid_t uid, gid_t gid,
			    mode_t mode, time_t ctime, char tc, uint64_t length,
			    const void *data, unsigned snapshot)
{
	struct array *a = array_new(srv, name, strlen(name), tc, length, uid, gid, mode);

	if (!a)
		return NULL;
	memcpy(a->mem, data, a->bytes);
	a->obj.ctime = ctime;
	a->snapshot = snapshot;
	return a;
}

/* An array.open's arguments. */
struct array_open_args {
	uint64_t length;             /* elements; 0: whatever the existing array has */
	mode_t mode;                 /* of a new array */
	char tc;                     /* typecode; 0: whatever the existing array has */
	bool durable;                /* a new array is saved in the state directory */
	bool nomap;                  /* IPC_OPEN_NOMAP: no descriptor */
};

_Static_assert(sizeof(struct array_open_args) <= OBJECT_OPEN_ARGS_MAX,
	       "array.open's arguments exceed OBJECT_OPEN_ARGS_MAX");

/* typecode ("" for any, or one typecode), length, and the optional attribute map. */
static int array_open_parse(const struct req *r, void *args, char *err, size_t errlen)
{
	struct array_open_args *a = args;
	uint32_t len;
	const char *s = proto_bytes(&r->argv[2], &len);
	const msgpack_object *m, *v, *d;

	a->length = r->argv[3].via.u64;
	a->mode = ARRAY_DEFAULT_MODE;
	a->nomap = r->argv[1].via.u64 & IPC_OPEN_NOMAP;
	if (len > 1 || (len == 1 && !ipc_typecode_size((unsigned char)s[0]))) {
		snprintf(err, errlen, "bad typecode '%.*s': use one of %s", (int)(len > 8 ? 8 : len),
			 s, IPC_TYPECODE_LIST);
		return -EINVAL;
	}
	a->tc = len ? s[0] : 0;
	if (r->argc < 5 || r->argv[4].type == MSGPACK_OBJECT_NIL)
		return 0;
	m = &r->argv[4];
	v = proto_map_get(m, IPC_ATTR_MODE);
	d = proto_map_get(m, IPC_ATTR_DURABLE);
	if (m->via.map.size > (v ? 1u : 0u) + (d ? 1u : 0u) ||
	    (v && (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > 0777)) ||
	    (d && d->type != MSGPACK_OBJECT_POSITIVE_INTEGER)) {
		snprintf(err, errlen, "array attributes: mode, permission bits up to 0777, and "
			 "durable, 0 or 1");
		return -EINVAL;
	}
	if (v && v->via.u64)
		a->mode = (mode_t)v->via.u64;
	a->durable = d && d->via.u64;
	return 0;
}

/* An existing array is opened with its own typecode and length, or with "any". */
static int array_open_match(const struct object *o, const void *args, char *err, size_t errlen)
{
	const struct array_open_args *oa = args;
	const struct array *a = container_of(o, const struct array, obj);

	if ((oa->tc && oa->tc != a->typecode) || (oa->length && oa->length != a->length)) {
		snprintf(err, errlen, "array '%s' is '%c' x %zu, not '%c' x %llu", o->name,
			 a->typecode, a->length, oa->tc ? oa->tc : a->typecode,
			 (unsigned long long)(oa->length ? oa->length : a->length));
		return -EINVAL;
	}
	return 0;
}

/* A new zero-filled array, within the size limits. */
static int array_open_create(struct req *r, const char *name, size_t len, const void *args,
			     struct object **out, char *err, size_t errlen)
{
	const struct array_open_args *oa = args;
	struct server *srv = r->srv;
	unsigned itemsize = ipc_typecode_size(oa->tc);
	struct array *a;
	size_t bytes;
	int rc;

	if (!oa->tc || !oa->length) {
		snprintf(err, errlen, "creating array '%.*s' needs a typecode (%s) and a length of "
			 "at least 1", (int)len, name, IPC_TYPECODE_LIST);
		return -EINVAL;
	}
	if (oa->length > srv->lim.max_array_bytes / itemsize) {
		snprintf(err, errlen, "%llu elements of '%c' exceed the limit of %zu bytes per "
			 "array", (unsigned long long)oa->length, oa->tc, srv->lim.max_array_bytes);
		return -EFBIG;
	}
	bytes = (size_t)oa->length * itemsize;
	if (bytes > srv->lim.max_shm - (srv->shm_used < srv->lim.max_shm ?
					srv->shm_used : srv->lim.max_shm)) {
		snprintf(err, errlen, "%zu more bytes exceed the shared memory budget of %zu bytes "
			 "(%zu in use)", bytes, srv->lim.max_shm, srv->shm_used);
		return -ENOSPC;
	}
	a = array_new(srv, name, len, oa->tc, oa->length, r->conn->uid, r->conn->gid, oa->mode);
	if (!a) {
		rc = -errno;
		log_error("cannot create array '%.*s' of %zu bytes: %s", (int)len, name, bytes,
			  strerror(-rc));
		snprintf(err, errlen, "cannot create shared memory of %zu bytes: %s", bytes,
			 strerror(-rc));
		return rc;
	}
	log_info("client %llu (pid %d) created %sarray '%s' ('%c' x %zu, %zu bytes)",
		 (unsigned long long)r->conn->id, (int)r->conn->pid, oa->durable ? "durable " : "",
		 a->obj.name, oa->tc, a->length, bytes);
	*out = &a->obj;
	return 0;
}

/*
 * The descriptor a handle with rights may map: the memfd for read and write,
 * a read-only reopening of it for read only.  -1 with errno on failure.
 */
static int array_fd_for(const struct array *a, unsigned rights)
{
	char path[64];

	if (rights & IPC_PERM_WRITE)
		return fcntl(a->memfd, F_DUPFD_CLOEXEC, 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", a->memfd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * The handle's state; a new durable array's first snapshot; then, last since
 * it rides with the next frame, the descriptor to map (a mapping needs read;
 * without write it is read-only).
 */
static int array_open_finish(struct req *r, struct handle *h, bool created, const void *args,
			     char *err, size_t errlen)
{
	const struct array_open_args *oa = args;
	struct array *a = array_of(h->obj);
	struct array_handle *ah = calloc(1, sizeof *ah);
	int rc, fd;

	if (!ah) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ah->hold.ops = &array_handle_ops;
	ah->a = a;
	ah->handle = h;
	LIST_INSERT_HEAD(&a->handles, ah, link);
	h->ext = &ah->hold;
	if (created && oa->durable) {
		char why[PATH_MAX + 64];

		rc = asnap_create(r->srv, a, why, sizeof why);
		if (rc < 0) {
			snprintf(err, errlen, "durable array '%s': %s", a->obj.name, why);
			return rc;
		}
	}
	if (oa->nomap || !(h->rights & IPC_PERM_READ))
		return 0;
	fd = array_fd_for(a, h->rights);
	rc = fd < 0 ? -errno : conn_attach_fd(r->conn, fd);
	if (rc < 0) {
		snprintf(err, errlen, "cannot pass the array's descriptor: %s", strerror(-rc));
		return rc;
	}
	ah->mapped = true;
	return 0;
}

/* typecode, length, itemsize, id, and whether a descriptor rides with the reply. */
static void array_open_pack(const struct handle *h, msgpack_packer *pk)
{
	const struct array_handle *ah = container_of(h->ext, const struct array_handle, hold);
	const struct array *a = ah->a;

	msgpack_pack_str_with_body(pk, &a->typecode, 1);
	msgpack_pack_uint64(pk, a->length);
	msgpack_pack_uint32(pk, a->itemsize);
	msgpack_pack_uint64(pk, a->id);
	if (ah->mapped)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

const struct object_kind array_kind = {
	.kind = IPC_KIND_ARRAY,
	.name = "array",
	.open = {
		.flags = IPC_OPEN_CREATE | IPC_OPEN_EXCLUSIVE | IPC_OPEN_NOMAP | IPC_OPEN_AUTOREMOVE,
		.parse = array_open_parse,
		.match = array_open_match,
		.create = array_open_create,
		.finish = array_open_finish,
		.nresults = 5,
		.pack = array_open_pack,
	},
	.unlinked = array_unlinked,
	.destroy = array_destroy,
	.owner_changed = array_owner_changed,
	.nstat = array_nstat,
	.stat = array_stat,
};

void array_cmd_lock(struct req *r)
{
	struct array *a = array_of(r->obj);
	int64_t timeout = proto_i64(&r->argv[1]);

	if (a->holder == r->conn) {
		reply_error(r->conn, r->id, -EDEADLK, "this connection already holds the lock of "
			    "array '%s'", a->obj.name);
		return;
	}
	if (!a->holder) {
		array_grant(a, r->conn);
		reply_ok(r->conn, r->id);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "array '%s' is locked by pid %d", a->obj.name,
			    (int)a->holder->pid);
		return;
	}
	if (!waiter_park(r->conn, r->id, r->op, &a->waiters, timeout, NULL, 0, NULL))
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
}

void array_cmd_unlock(struct req *r)
{
	struct array *a = array_of(r->obj);

	if (a->holder != r->conn) {
		if (a->holder)
			reply_error(r->conn, r->id, -EPERM, "the lock of array '%s' is held by pid %d",
				    a->obj.name, (int)a->holder->pid);
		else
			reply_error(r->conn, r->id, -EPERM, "the lock of array '%s' is not held",
				    a->obj.name);
		return;
	}
	/* Answer first: the next holder's grant follows this reply. */
	reply_ok(r->conn, r->id);
	array_unlock_by(a, NULL);
}

void array_cmd_stat(struct req *r)
{
	object_pack_stat(r->obj, reply_begin(r->conn, r->id, 0, 1));
	reply_end(r->conn);
}
