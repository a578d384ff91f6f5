/*
 * array.c - the shared-array half of libipcclient: open and map, brokered
 * read, write and add, the lock.
 *
 * The open reply carries the array's memfd; the handle maps it shared and
 * closes the descriptor, so reading and writing ipc_array_data() involves
 * no one else.  Like a queue handle, an array handle re-opens by name on its
 * first brokered call in a forked child (or after a lost connection); the
 * mapping it inherited is kept, so the re-open only checks, by the daemon's
 * id of the array, that the name still means the array it mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

/* Bytes per brokered request when the daemon did not say its message limit. */
#define ARRAY_CHUNK_DEFAULT (1u << 20)

struct ipc_array {
	ipc_client *c;
	char *name;
	int flags;           /* IPC_NOMAP, as opened */
	char typecode;
	size_t length;
	unsigned itemsize;
	uint64_t id;         /* the daemon's id of the array mapped */
	void *data;          /* length * itemsize bytes, MAP_SHARED; NULL with IPC_NOMAP */
	uint32_t num;        /* the daemon's handle on connection gen */
	unsigned gen;
};

/* What an open answered; fd is -1 when opened with IPC_NOMAP. */
struct array_opened {
	uint32_t num;
	char typecode;
	uint64_t length, itemsize, id;
	int fd;
};

/* Send A_OPEN for a's name on c's current connection; the answer in *o. */
static int array_send_open(ipc_array *a, int flags, char typecode, size_t length,
			   struct array_opened *o)
{
	ipc_client *c = a->c;
	struct proto_reply rep;
	msgpack_packer *pk;
	const msgpack_object *res;
	bool mapped;
	int rc;

	pk = client_req(c, IPC_OP_A_OPEN, flags & IPC_DURABLE ? 5 : 4);
	proto_pack_cstr(pk, a->name);
	msgpack_pack_uint32(pk, (uint32_t)(flags & ~IPC_DURABLE));
	msgpack_pack_str_with_body(pk, &typecode, typecode ? 1 : 0);
	msgpack_pack_uint64(pk, length);
	if (flags & IPC_DURABLE) {
		msgpack_pack_map(pk, 1);
		proto_pack_kv_u64(pk, IPC_ATTR_DURABLE, 1);
	}
	rc = client_call(c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, &rep);
	if (rc < 0)
		return rc;
	res = rep.res;
	if (rep.nres < 6 || res[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    res[2].type != MSGPACK_OBJECT_STR || res[2].via.str.size != 1 ||
	    res[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    res[4].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    res[5].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		/* A descriptor it may carry would go to the next open: dropping the
		 * connection closes it, and the daemon's handle with it. */
		client_done(c);
		client_drop(c);
		return -EPROTO;
	}
	o->num = (uint32_t)res[0].via.u64;
	o->typecode = res[2].via.str.ptr[0];
	o->length = res[3].via.u64;
	o->itemsize = res[4].via.u64;
	o->id = res[5].via.u64;
	o->fd = -1;
	/* No descriptor when the handle may not read (it writes through ipcd). */
	mapped = !(flags & IPC_NOMAP) &&
		 (rep.nres < 7 || res[6].type != MSGPACK_OBJECT_BOOLEAN || res[6].via.boolean);
	client_done(c);
	if (mapped) {
		o->fd = client_take_fd(c);
		if (o->fd < 0) {
			client_close_handle(c, o->num);
			return o->fd;
		}
	}
	return 0;
}

/* Check what the first open answered and map the array. */
static int array_map(ipc_array *a, const struct array_opened *o)
{
	struct stat st;

	if (o->itemsize != ipc_typecode_size((unsigned char)o->typecode) || o->length == 0 ||
	    o->length > SIZE_MAX / o->itemsize)
		return -EPROTO;
	a->typecode = o->typecode;
	a->length = (size_t)o->length;
	a->itemsize = (unsigned)o->itemsize;
	a->id = o->id;
	if (o->fd < 0)
		return 0;
	if (fstat(o->fd, &st) < 0 || (uint64_t)st.st_size < o->length * o->itemsize)
		return -EPROTO;
	/* A descriptor opened read-only: the handle may read, not write. */
	a->data = mmap(NULL, a->length * a->itemsize,
		       (fcntl(o->fd, F_GETFL) & O_ACCMODE) == O_RDONLY ? PROT_READ :
		       PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
	if (a->data == MAP_FAILED) {
		a->data = NULL;
		return -errno;
	}
	return 0;
}

/* Make a usable on this process's connection. */
static int array_ready(ipc_array *a)
{
	struct array_opened o;
	int rc = client_ready(a->c);

	if (rc < 0)
		return rc;
	if (a->gen == a->c->gen)
		return 0;
	/* Exactly the array mapped: never create, and keep the mapping there is. */
	rc = array_send_open(a, a->flags & IPC_NOMAP, a->typecode, a->length, &o);
	if (rc == -ENOENT)
		return -EIDRM;
	if (rc < 0)
		return rc;
	if (o.fd >= 0)
		close(o.fd);
	if (o.id != a->id) {
		/* The name now means another array: the one this handle had is gone. */
		client_close_handle(a->c, o.num);
		return -EIDRM;
	}
	a->num = o.num;
	a->gen = a->c->gen;
	return 0;
}

int ipc_array_open(ipc_client *c, const char *name, int flags, char typecode, size_t length,
		   ipc_array **out)
{
	struct array_opened o;
	ipc_array *a;
	int rc;

	if (!c || !name || !out || (flags & ~(IPC_CREATE | IPC_EXCLUSIVE | IPC_NOMAP | IPC_DURABLE |
					   IPC_AUTOREMOVE)))
		return -EINVAL;
	*out = NULL;
	if (strlen(name) > IPC_NAME_MAX)
		return -ENAMETOOLONG;
	if (typecode && !ipc_typecode_size((unsigned char)typecode))
		return -EINVAL;
	rc = client_ready(c);
	if (rc < 0)
		return rc;
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->c = c;
	a->flags = flags & IPC_NOMAP;
	a->name = strdup(name);
	if (!a->name) {
		free(a);
		return -ENOMEM;
	}
	rc = array_send_open(a, flags, typecode, length, &o);
	if (rc == 0) {
		rc = array_map(a, &o);
		if (o.fd >= 0)
			close(o.fd);
		if (rc < 0)
			client_close_handle(c, o.num);
	}
	if (rc < 0) {
		free(a->name);
		free(a);
		return rc;
	}
	a->num = o.num;
	a->gen = c->gen;
	*out = a;
	return 0;
}

void *ipc_array_data(ipc_array *a)
{
	return a ? a->data : NULL;
}

size_t ipc_array_length(const ipc_array *a)
{
	return a ? a->length : 0;
}

char ipc_array_typecode(const ipc_array *a)
{
	return a ? a->typecode : 0;
}

const char *ipc_array_name(const ipc_array *a)
{
	return a ? a->name : NULL;
}

void ipc_array_close(ipc_array *a)
{
	ipc_client *c;

	if (!a)
		return;
	c = a->c;
	/* Tell the daemon only on this process's own live connection. */
	if (client_handle_live(c, a->gen))
		client_close_handle(c, a->num);
	if (a->data)
		munmap(a->data, a->length * a->itemsize);
	free(a->name);
	free(a);
}

int ipc_array_unlink(ipc_client *c, const char *name)
{
	return client_unlink(c, name, IPC_KIND_ARRAY);
}

/* Elements per brokered request: as many as fit the daemon's message limit. */
static size_t array_chunk(const ipc_array *a)
{
	size_t bytes = a->c->max_message ? a->c->max_message : ARRAY_CHUNK_DEFAULT;

	return bytes >= a->itemsize ? bytes / a->itemsize : 1;
}

/* The checks of a brokered read or write of count elements at start from or to buf. */
static int array_begin(ipc_array *a, size_t start, size_t count, const void *buf)
{
	if (!a || (!buf && count))
		return -EINVAL;
	if (start > a->length || count > a->length - start)
		return -ERANGE;
	return array_ready(a);
}

int ipc_array_read(ipc_array *a, size_t start, size_t count, void *out)
{
	size_t chunk, done = 0;
	int rc;

	rc = array_begin(a, start, count, out);
	if (rc < 0)
		return rc;
	chunk = array_chunk(a);
	do {
		size_t n = count - done < chunk ? count - done : chunk;
		struct proto_reply rep;
		msgpack_packer *pk = client_req(a->c, IPC_OP_A_READ, 3);
		uint32_t len = 0;
		const char *p = NULL;

		msgpack_pack_uint32(pk, a->num);
		msgpack_pack_uint64(pk, start + done);
		msgpack_pack_uint64(pk, n);
		/* It waits while another process holds the lock. */
		rc = client_call(a->c, NULL, 0, -1, &rep);
		if (rc < 0)
			return rc;
		if (rep.nres >= 1)
			p = proto_bytes(&rep.res[0], &len);
		if (rep.nres < 1 || len != n * a->itemsize) {
			client_done(a->c);
			return -EPROTO;
		}
		if (len)
			memcpy((char *)out + done * a->itemsize, p, len);
		client_done(a->c);
		done += n;
	} while (done < count);
	return 0;
}

int ipc_array_write(ipc_array *a, size_t start, size_t count, const void *in)
{
	size_t chunk, done = 0;
	int rc;

	rc = array_begin(a, start, count, in);
	if (rc < 0)
		return rc;
	chunk = array_chunk(a);
	do {
		size_t n = count - done < chunk ? count - done : chunk;
		struct proto_reply rep;
		msgpack_packer *pk = client_req(a->c, IPC_OP_A_WRITE, 3);

		msgpack_pack_uint32(pk, a->num);
		msgpack_pack_uint64(pk, start + done);
		msgpack_pack_bin(pk, n * a->itemsize);
		rc = client_call(a->c, (const char *)in + done * a->itemsize, n * a->itemsize, -1,
				 &rep);
		if (rc < 0)
			return rc;
		client_done(a->c);
		done += n;
	} while (done < count);
	return 0;
}

/* Send A_ADD with the delta packed by the caller's choice; the reply's old value in *res. */
static int array_add(ipc_array *a, size_t index, int is_float, int64_t idelta, double fdelta,
		     msgpack_object *res)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc;

	if (!a)
		return -EINVAL;
	if (ipc_typecode_is_integer((unsigned char)a->typecode) == is_float)
		return -EINVAL;
	if (index >= a->length)
		return -ERANGE;
	rc = array_ready(a);
	if (rc < 0)
		return rc;
	pk = client_req(a->c, IPC_OP_A_ADD, 3);
	msgpack_pack_uint32(pk, a->num);
	msgpack_pack_uint64(pk, index);
	if (is_float)
		msgpack_pack_double(pk, fdelta);
	else
		msgpack_pack_int64(pk, idelta);
	rc = client_call(a->c, NULL, 0, -1, &rep);
	if (rc < 0)
		return rc;
	if (rep.nres < 1) {
		client_done(a->c);
		return -EPROTO;
	}
	*res = rep.res[0];
	client_done(a->c);
	return 0;
}

int ipc_array_add_i64(ipc_array *a, size_t index, int64_t delta, int64_t *old)
{
	msgpack_object res;
	int64_t v;
	int rc = array_add(a, index, 0, delta, 0, &res);

	if (rc < 0)
		return rc;
	if (res.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		v = (int64_t)res.via.u64;
	else if (res.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		v = res.via.i64;
	else
		return -EPROTO;
	if (old)
		*old = v;
	return 0;
}

int ipc_array_add_f64(ipc_array *a, size_t index, double delta, double *old)
{
	msgpack_object res;
	int rc = array_add(a, index, 1, 0, delta, &res);

	if (rc < 0)
		return rc;
	if (res.type != MSGPACK_OBJECT_FLOAT32 && res.type != MSGPACK_OBJECT_FLOAT64)
		return -EPROTO;
	if (old)
		*old = res.via.f64;
	return 0;
}

int ipc_array_lock(ipc_array *a, int timeout_ms)
{
	struct proto_reply rep;
	msgpack_packer *pk;
	int rc;

	if (!a)
		return -EINVAL;
	rc = array_ready(a);
	if (rc < 0)
		return rc;
	pk = client_req(a->c, IPC_OP_A_LOCK, 2);
	msgpack_pack_uint32(pk, a->num);
	msgpack_pack_int(pk, timeout_ms < 0 ? -1 : timeout_ms);
	rc = client_call(a->c, NULL, 0, client_wait_ms(timeout_ms), &rep);
	if (rc == 0)
		client_done(a->c);
	return rc;
}

/* Request op on a with the handle as its only argument; 0 with *rep to release. */
static int array_call_simple(ipc_array *a, unsigned op, struct proto_reply *rep)
{
	int rc = array_ready(a);

	if (rc < 0)
		return rc;
	msgpack_pack_uint32(client_req(a->c, op, 1), a->num);
	return client_call(a->c, NULL, 0, CLIENT_CALL_TIMEOUT_MS, rep);
}

int ipc_array_unlock(ipc_array *a)
{
	struct proto_reply rep;
	int rc;

	if (!a)
		return -EINVAL;
	rc = array_call_simple(a, IPC_OP_A_UNLOCK, &rep);
	if (rc == 0)
		client_done(a->c);
	return rc;
}

int ipc_array_stat(ipc_array *a, void **mp, size_t *len)
{
	struct proto_reply rep;
	int rc;

	if (!a || !mp || !len)
		return -EINVAL;
	rc = array_call_simple(a, IPC_OP_A_STAT, &rep);
	if (rc < 0)
		return rc;
	return client_take_result(a->c, &rep, mp, len);
}
