/*
 * codec.h - decoding and checking of frames, shared by ipcd and libipcclient.
 *
 * No I/O here: callers hand in a frame body and get back a checked view of
 * it.  The views borrow from the msgpack_unpacked they were decoded into,
 * which borrows from the body bytes: keep both alive while using the view.
 */
#ifndef IPC_CODEC_H
#define IPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "ipc_protocol.h"

#define PROTO_MAX_ARGS 8

/*
 * The most msgpack values (each scalar, array, map key and map value counts
 * one) a request may hold: the largest request, a put_many of
 * IPC_BATCH_MAX_MSGS messages, and room for attribute maps.  A frame of
 * more is refused before it is unpacked, so one request costs a bounded
 * decode (4 MiB of empty maps would otherwise build 4 million objects).
 */
#define PROTO_REQ_MAX_VALUES (IPC_BATCH_MAX_MSGS + 256u)

/* A decoded request: op and id checked, args checked against the op's types. */
struct proto_req {
	unsigned op;
	uint32_t id;
	uint32_t argc;
	const msgpack_object *argv;   /* argc entries, borrowed */
};

/* A decoded reply or push (id IPC_PUSH_ID). */
struct proto_reply {
	uint32_t id;
	int status;                   /* 0 or a negative errno; for a push, 0 */
	uint32_t nres;
	const msgpack_object *res;    /* results, borrowed */
	const char *msg;              /* error message (not NUL terminated) */
	uint32_t msglen;
	const char *event;            /* push: the event name (not NUL terminated) */
	uint32_t eventlen;
};

/*
 * Whether data holds exactly one well-formed msgpack value and nothing
 * after it, checked without allocating: a container that claims more items
 * than bytes remain is refused (msgpack-c would allocate for the claim).
 */
bool proto_is_one_value(const void *data, size_t len);

/* The name of op, or NULL when op is not an operation of this protocol. */
const char *proto_op_name(unsigned op);

/* The argument spec of op (see IPC_OPS), or NULL when op is unknown. */
const char *proto_op_args(unsigned op);

/* The name of an object kind, "?" for an unknown one. */
const char *proto_kind_name(unsigned kind);

/*
 * Decode a request body into u and check it.  Returns:
 *   0           req is valid;
 *   -EPROTO     the body is not one msgpack [op, id, ...] array, or holds
 *               more than PROTO_REQ_MAX_VALUES values: the stream can no
 *               longer be trusted (req->id is 0);
 *   -EOPNOTSUPP op is unknown (req->id is set: the request can be answered);
 *   -EINVAL     an argument is missing or of the wrong type (req->id set).
 * On failure a one-line explanation is written into err (errlen bytes).
 */
int proto_decode_request(const char *body, size_t len, msgpack_unpacked *u,
			 struct proto_req *req, char *err, size_t errlen);

/*
 * Decode a reply or push body into u.  Returns 0, or -EPROTO when the body
 * is not a well-formed reply.
 */
int proto_decode_reply(const char *body, size_t len, msgpack_unpacked *u,
		       struct proto_reply *rep);

/* Typed accessors for checked values. */
static inline uint64_t proto_u64(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static inline int64_t proto_i64(const msgpack_object *o)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return o->via.i64;
	return o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64;
}

/* The bytes of a str or bin object; never NULL for those, even when empty. */
static inline const char *proto_bytes(const msgpack_object *o, uint32_t *len)
{
	if (o->type == MSGPACK_OBJECT_STR) {
		*len = o->via.str.size;
		return o->via.str.size ? o->via.str.ptr : "";
	}
	if (o->type == MSGPACK_OBJECT_BIN) {
		*len = o->via.bin.size;
		return o->via.bin.size ? o->via.bin.ptr : "";
	}
	*len = 0;
	return NULL;
}

/* Find key in a map object; NULL when absent or o is not a map. */
const msgpack_object *proto_map_get(const msgpack_object *o, const char *key);

/* Pack a str from a C string. */
void proto_pack_cstr(msgpack_packer *pk, const char *s);

/* Pack "key": value pairs of a map (the map header is the caller's). */
void proto_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v);
void proto_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v);
void proto_pack_kv_str(msgpack_packer *pk, const char *key, const char *v);

#endif
