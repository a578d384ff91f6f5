/*
 * array_io.c - the brokered operations on a shared array: read, write and
 * atomic add, done by ipcd on its own mapping for clients that do not map
 * the array (or may not: a handle without read rights gets no descriptor).
 *
 * An operation runs at once when the lock is free or held by the asking
 * connection; otherwise it waits, with its arguments (and a write's bytes),
 * on the same FIFO list as lock requests, and array_settle() runs it when
 * the lock is released.  Adds use __atomic builtins, since a process with a
 * mapping may write the same element at the same time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "array_int.h"
#include "asnap.h"
#include "cmd.h"
#include "codec.h"
#include "conn.h"
#include "reply.h"
#include "server.h"

static void array_do_read(struct array *a, struct conn *c, uint32_t id,
			  const struct array_op *op)
{
	const char *p = (const char *)a->mem + op->start * a->itemsize;

	a->reads++;
	reply_data(c, id, p, op->count * a->itemsize);
}

static void array_do_write(struct array *a, struct conn *c, uint32_t id,
			   const struct array_op *op, const void *data)
{
	memcpy((char *)a->mem + op->start * a->itemsize, data, op->count * a->itemsize);
	a->writes++;
	if (a->snapshot)
		asnap_changed(a);
	reply_ok(c, id);
}

/*
 * Atomic fetch-and-add of an integer element, wrapping at the type's width:
 * done on the unsigned type of that width, so the wrap is defined.
 */
static void add_integer(struct array *a, void *p, uint64_t delta, msgpack_packer *pk)
{
	uint64_t u;

	switch (a->itemsize) {
	case 1:
		u = __atomic_fetch_add((uint8_t *)p, (uint8_t)delta, __ATOMIC_SEQ_CST);
		if (ipc_typecode_is_signed(a->typecode))
			msgpack_pack_int64(pk, (int8_t)u);
		else
			msgpack_pack_uint64(pk, u);
		return;
	case 2:
		u = __atomic_fetch_add((uint16_t *)p, (uint16_t)delta, __ATOMIC_SEQ_CST);
		if (ipc_typecode_is_signed(a->typecode))
			msgpack_pack_int64(pk, (int16_t)u);
		else
			msgpack_pack_uint64(pk, u);
		return;
	case 4:
		u = __atomic_fetch_add((uint32_t *)p, (uint32_t)delta, __ATOMIC_SEQ_CST);
		if (ipc_typecode_is_signed(a->typecode))
			msgpack_pack_int64(pk, (int32_t)u);
		else
			msgpack_pack_uint64(pk, u);
		return;
	default:
		u = __atomic_fetch_add((uint64_t *)p, delta, __ATOMIC_SEQ_CST);
		if (ipc_typecode_is_signed(a->typecode))
			msgpack_pack_int64(pk, (int64_t)u);
		else
			msgpack_pack_uint64(pk, u);
		return;
	}
}

/* Atomic add of a float or double element: a compare-and-swap loop on its bits. */
static void add_float(struct array *a, void *p, double delta, msgpack_packer *pk)
{
	if (a->itemsize == 4) {
		uint32_t bits = __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST), nbits;
		float old, sum;

		do {
			memcpy(&old, &bits, sizeof old);
			sum = (float)((double)old + delta);
			memcpy(&nbits, &sum, sizeof nbits);
		} while (!__atomic_compare_exchange_n((uint32_t *)p, &bits, nbits, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
		msgpack_pack_double(pk, old);
	} else {
		uint64_t bits = __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST), nbits;
		double old, sum;

		do {
			memcpy(&old, &bits, sizeof old);
			sum = old + delta;
			memcpy(&nbits, &sum, sizeof nbits);
		} while (!__atomic_compare_exchange_n((uint64_t *)p, &bits, nbits, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
		msgpack_pack_double(pk, old);
	}
}

static void array_do_add(struct array *a, struct conn *c, uint32_t id, const struct array_op *op)
{
	void *p = (char *)a->mem + op->start * a->itemsize;
	msgpack_packer *pk = reply_begin(c, id, 0, 1);

	if (ipc_typecode_is_integer(a->typecode)) {
		add_integer(a, p, op->delta, pk);
	} else {
		double d;

		memcpy(&d, &op->delta, sizeof d);
		add_float(a, p, d, pk);
	}
	a->adds++;
	if (a->snapshot)
		asnap_changed(a);
	reply_end(c);
}

void array_do(struct array *a, struct conn *c, uint32_t id, unsigned op,
	      const struct array_op *args, const void *data)
{
	switch (op) {
	case IPC_OP_A_READ:
		array_do_read(a, c, id, args);
		break;
	case IPC_OP_A_WRITE:
		array_do_write(a, c, id, args, data);
		break;
	case IPC_OP_A_ADD:
		array_do_add(a, c, id, args);
		break;
	}
}

/* ---- the requests ---- */

/*
 * Run op now when the lock is free or held by this connection, else park it
 * (with extra bytes after it, a write's data) until the lock is released.
 */
static void array_run(struct req *r, struct array *a, const struct array_op *op,
		      const void *extra, size_t extra_len, int64_t timeout)
{
	struct server *srv = r->srv;
	struct array_op *copy;
	size_t len = sizeof *op + extra_len;
	struct waiter *w;

	if (!a->holder || a->holder == r->conn) {
		array_do(a, r->conn, r->id, r->op, op, extra);
		return;
	}
	if (timeout == 0) {
		reply_error(r->conn, r->id, -EAGAIN, "array '%s' is locked by pid %d", a->obj.name,
			    (int)a->holder->pid);
		return;
	}
	if (srv->lim.max_memory && server_mem_total(srv) + len > srv->lim.max_memory) {
		reply_error(r->conn, r->id, -ENOBUFS, "ipcd's memory budget of %zu bytes is used up",
			    srv->lim.max_memory);
		return;
	}
	copy = malloc(len);
	if (!copy) {
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
		return;
	}
	memcpy(copy, op, sizeof *op);
	if (extra_len)
		memcpy(copy + 1, extra, extra_len);
	w = waiter_park(r->conn, r->id, r->op, &a->waiters, timeout, copy, len,
			&srv->mem_used);
	free(copy);
	if (!w)
		reply_error(r->conn, r->id, -ENOMEM, "out of memory");
}

/* The optional timeout argument at argv[i]: waits without limit when absent. */
static int64_t opt_timeout(const struct req *r, uint32_t i)
{
	return r->argc > i ? proto_i64(&r->argv[i]) : -1;
}

/* Is [start, start + count) inside a?  Replies -ERANGE when not. */
static bool range_ok(struct req *r, const struct array *a, uint64_t start, uint64_t count)
{
	if (start <= a->length && count <= a->length - start)
		return true;
	reply_error(r->conn, r->id, -ERANGE, "elements %llu..%llu are outside array '%s' "
		    "of length %zu", (unsigned long long)start,
		    (unsigned long long)(start + count - (count > 0)), a->obj.name, a->length);
	return false;
}

void array_cmd_read(struct req *r)
{
	struct array *a = array_of(r->obj);
	struct array_op op = { .start = r->argv[1].via.u64, .count = r->argv[2].via.u64 };

	if (!range_ok(r, a, op.start, op.count))
		return;
	if (op.count * a->itemsize > r->srv->lim.max_message) {
		reply_error(r->conn, r->id, -EMSGSIZE, "reading %llu bytes exceeds the message "
			    "limit of %zu bytes", (unsigned long long)(op.count * a->itemsize),
			    r->srv->lim.max_message);
		return;
	}
	array_run(r, a, &op, NULL, 0, opt_timeout(r, 3));
}

void array_cmd_write(struct req *r)
{
	struct array *a = array_of(r->obj);
	uint32_t len;
	const char *data = proto_bytes(&r->argv[2], &len);
	struct array_op op = { .start = r->argv[1].via.u64, .count = len / a->itemsize };

	if (len % a->itemsize) {
		reply_error(r->conn, r->id, -EINVAL, "%u bytes are not whole elements of %u bytes",
			    len, a->itemsize);
		return;
	}
	if (!range_ok(r, a, op.start, op.count))
		return;
	array_run(r, a, &op, data, len, opt_timeout(r, 3));
}

void array_cmd_add(struct req *r)
{
	struct array *a = array_of(r->obj);
	const msgpack_object *d = &r->argv[2];
	bool is_float = d->type == MSGPACK_OBJECT_FLOAT32 || d->type == MSGPACK_OBJECT_FLOAT64;
	struct array_op op = { .start = r->argv[1].via.u64, .count = 1 };

	if (is_float == (bool)ipc_typecode_is_integer(a->typecode)) {
		reply_error(r->conn, r->id, -EINVAL, "array '%s' is '%c': add %s", a->obj.name,
			    a->typecode, is_float ? "an integer" : "a float");
		return;
	}
	if (op.start >= a->length) {
		reply_error(r->conn, r->id, -ERANGE, "index %llu is outside array '%s' of length %zu",
			    (unsigned long long)op.start, a->obj.name, a->length);
		return;
	}
	if (is_float)
		memcpy(&op.delta, &d->via.f64, sizeof op.delta);
	else if (d->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		op.delta = (uint64_t)d->via.i64;
	else
		op.delta = d->via.u64;
	array_run(r, a, &op, NULL, 0, opt_timeout(r, 3));
}
