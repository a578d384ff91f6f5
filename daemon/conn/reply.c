/*
 * reply.c - frames onto a connection's output (see reply.h).
 *
 * The daemon is single-threaded, so one scratch buffer serves every frame:
 * its first four bytes are the frame header, patched when the frame ends.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "codec.h"
#include "conn.h"
#include "ipc_protocol.h"
#include "reply.h"
#include "server.h"

static msgpack_sbuffer scratch;
static msgpack_packer packer;

static msgpack_packer *frame_begin(unsigned nitems)
{
	static const char zero[IPC_FRAME_HEADER];

	if (!packer.data)
		msgpack_packer_init(&packer, &scratch, msgpack_sbuffer_write);
	scratch.size = 0;
	msgpack_sbuffer_write(&scratch, zero, sizeof zero);
	msgpack_pack_array(&packer, nitems);
	return &packer;
}

msgpack_packer *reply_begin(struct conn *c, uint32_t id, int status, unsigned nres)
{
	msgpack_packer *pk = frame_begin(2 + nres);

	msgpack_pack_uint32(pk, id);
	msgpack_pack_int(pk, status);
	return pk;
}

void reply_end_data(struct conn *c, const void *data, size_t len)
{
	size_t body = scratch.size - IPC_FRAME_HEADER + len;

	ipc_frame_put_len((unsigned char *)scratch.data, (uint32_t)body);
	if (c->dead)
		return;
	evbuffer_add(c->out, scratch.data, scratch.size);
	if (len)
		evbuffer_add(c->out, data, len);
	/* Over the limit: write what the socket takes now; still over, it is cut off. */
	if (evbuffer_get_length(c->out) > c->srv->lim.max_output)
		conn_flush(c);
	else
		conn_want_write(c);
}

void reply_end(struct conn *c)
{
	reply_end_data(c, NULL, 0);
}

void reply_ok(struct conn *c, uint32_t id)
{
	reply_begin(c, id, 0, 0);
	reply_end(c);
}

void reply_uint(struct conn *c, uint32_t id, uint64_t n)
{
	msgpack_pack_uint64(reply_begin(c, id, 0, 1), n);
	reply_end(c);
}

void reply_data(struct conn *c, uint32_t id, const void *data, size_t len)
{
	msgpack_pack_bin(reply_begin(c, id, 0, 1), len);
	reply_end_data(c, data, len);
}

static void pack_message(msgpack_packer *pk, const char *fmt, va_list ap)
{
	char msg[512];

	/* Cut to msg, NUL-terminated. */
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	proto_pack_cstr(pk, msg);
}

void reply_error(struct conn *c, uint32_t id, int status, const char *fmt, ...)
{
	msgpack_packer *pk = reply_begin(c, id, status, 1);
	va_list ap;

	va_start(ap, fmt);
	pack_message(pk, fmt, ap);
	va_end(ap);
	reply_end(c);
}

msgpack_packer *push_begin(struct conn *c, const char *event, unsigned nargs)
{
	msgpack_packer *pk = frame_begin(2 + nargs);

	msgpack_pack_uint32(pk, IPC_PUSH_ID);
	proto_pack_cstr(pk, event);
	return pk;
}

void push_error(struct conn *c, int status, const char *fmt, ...)
{
	msgpack_packer *pk = push_begin(c, IPC_PUSH_ERROR, 2);
	va_list ap;

	msgpack_pack_int(pk, status);
	va_start(ap, fmt);
	pack_message(pk, fmt, ap);
	va_end(ap);
	reply_end(c);
}

void reply_cleanup(void)
{
	msgpack_sbuffer_destroy(&scratch);
	memset(&scratch, 0, sizeof scratch);
	memset(&packer, 0, sizeof packer);
}
