/*
 * codec.c - checked decoding of request and reply frames (see codec.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"

struct op_info {
	const char *name;
	const char *args;
};

static const struct op_info op_table[IPC_OP_MAX + 1] = {
#define OP_INFO(sym, code, name, args) [code] = { name, args },
	IPC_OPS(OP_INFO)
#undef OP_INFO
};

const char *proto_op_name(unsigned op)
{
	return op <= IPC_OP_MAX ? op_table[op].name : NULL;
}

const char *proto_op_args(unsigned op)
{
	return op <= IPC_OP_MAX ? op_table[op].args : NULL;
}

const char *proto_kind_name(unsigned kind)
{
	switch (kind) {
#define KIND_NAME(sym, num, str) case num: return str;
	IPC_KINDS(KIND_NAME)
#undef KIND_NAME
	}
	return "?";
}

static int type_matches(char t, const msgpack_object *o)
{
	switch (t) {
	case 'u':
	case 'h':
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	case 'i':
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
	case 's':
		return o->type == MSGPACK_OBJECT_STR;
	case 'b':
		return o->type == MSGPACK_OBJECT_BIN || o->type == MSGPACK_OBJECT_STR;
	case 'm':
		return o->type == MSGPACK_OBJECT_MAP || o->type == MSGPACK_OBJECT_NIL;
	case 'a':
		return o->type == MSGPACK_OBJECT_ARRAY;
	case 'n':
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64;
	}
	return 0;
}

static const char *type_word(char t)
{
	switch (t) {
	case 'u': return "an unsigned integer";
	case 'h': return "a handle";
	case 'i': return "an integer";
	case 's': return "a string";
	case 'b': return "binary data";
	case 'm': return "a map";
	case 'a': return "an array";
	case 'n': return "a number";
	}
	return "?";
}

static uint64_t be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

/*
 * Count the values of the one msgpack value data holds, walked token by
 * token without recursion: each value still owed needs at least one more
 * byte, so a container claiming more items than bytes remain is refused.
 * 0 when data is not exactly one value; max + 1 as soon as more than max
 * values are seen (the walk stops there, so its cost is bounded by max).
 */
static uint64_t count_values(const void *data, size_t len, uint64_t max)
{
	const unsigned char *p = data;
	/* Formats 0xc4 to 0xdf: the bytes of their length field and what it
	 * counts, or for a FIXED one, how many bytes follow. */
	enum { FIXED, DATA, EXT, ARRAY, MAP };
	static const struct { unsigned char lenb, size, counts; } formats[0x20] = {
		[0x04] = { 1, 0, DATA }, [0x05] = { 2, 0, DATA }, [0x06] = { 4, 0, DATA },
		[0x07] = { 1, 0, EXT }, [0x08] = { 2, 0, EXT }, [0x09] = { 4, 0, EXT },
		[0x0a] = { 0, 4, FIXED }, [0x0b] = { 0, 8, FIXED },
		[0x0c] = { 0, 1, FIXED }, [0x0d] = { 0, 2, FIXED },
		[0x0e] = { 0, 4, FIXED }, [0x0f] = { 0, 8, FIXED },
		[0x10] = { 0, 1, FIXED }, [0x11] = { 0, 2, FIXED },
		[0x12] = { 0, 4, FIXED }, [0x13] = { 0, 8, FIXED },
		[0x14] = { 0, 2, FIXED }, [0x15] = { 0, 3, FIXED }, [0x16] = { 0, 5, FIXED },
		[0x17] = { 0, 9, FIXED }, [0x18] = { 0, 17, FIXED },
		[0x19] = { 1, 0, DATA }, [0x1a] = { 2, 0, DATA }, [0x1b] = { 4, 0, DATA },
		[0x1c] = { 2, 0, ARRAY }, [0x1d] = { 4, 0, ARRAY },
		[0x1e] = { 2, 0, MAP }, [0x1f] = { 4, 0, MAP },
	};
	uint64_t owed = 1, seen = 0, n;
	size_t pos = 0;

	while (owed > 0) {
		unsigned char b;

		if (pos >= len || owed > len - pos)
			return 0;
		if (++seen > max)
			return seen;
		b = p[pos++];
		owed--;
		if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) {
			if (b == 0xc1)
				return 0;
			continue;
		}
		if (b <= 0x8f) {
			owed += 2u * (b & 0x0f);
			continue;
		}
		if (b <= 0x9f) {
			owed += b & 0x0f;
			continue;
		}
		if (b <= 0xbf) {
			n = b & 0x1f;
		} else {
			unsigned lenb = formats[b - 0xc0].lenb;

			if (len - pos < lenb)
				return 0;
			n = be(p + pos, lenb);
			pos += lenb;
			switch (formats[b - 0xc0].counts) {
			case FIXED:
				n = formats[b - 0xc0].size;
				break;
			case EXT:
				n += 1;         /* the type byte */
				break;
			case ARRAY:
				owed += n;
				continue;
			case MAP:
				owed += 2 * n;
				continue;
			}
		}
		if (len - pos < n)
			return 0;
		pos += (size_t)n;
	}
	return pos == len ? seen : 0;
}

bool proto_is_one_value(const void *data, size_t len)
{
	return count_values(data, len, UINT64_MAX) != 0;
}

/*
 * Decode exactly one msgpack value filling the whole body, of at most
 * max_values values: -EPROTO when it is not one value, -E2BIG when it has
 * more values than that.
 */
static int decode_one(const char *body, size_t len, msgpack_unpacked *u, uint64_t max_values)
{
	size_t off = 0;
	uint64_t n;

	/* Checked first: msgpack-c allocates what a container header claims,
	 * and an object for every value, at some 50 ns each. */
	n = count_values(body, len, max_values);
	if (n == 0)
		return -EPROTO;
	if (n > max_values)
		return -E2BIG;
	if (msgpack_unpack_next(u, body, len, &off) != MSGPACK_UNPACK_SUCCESS)
		return -EPROTO;
	if (off != len)
		return -EPROTO;
	return 0;
}

int proto_decode_request(const char *body, size_t len, msgpack_unpacked *u,
			 struct proto_req *req, char *err, size_t errlen)
{
	const msgpack_object *top;
	const char *spec, *bar;
	size_t nreq, nmax, i;
	int rc;

	memset(req, 0, sizeof *req);
	rc = decode_one(body, len, u, PROTO_REQ_MAX_VALUES);
	if (rc == -E2BIG) {
		snprintf(err, errlen, "request holds more than %u msgpack values",
			 PROTO_REQ_MAX_VALUES);
		return -EPROTO;
	}
	if (rc < 0) {
		snprintf(err, errlen, "frame body is not one msgpack value");
		return -EPROTO;
	}
	top = &u->data;
	if (top->type != MSGPACK_OBJECT_ARRAY || top->via.array.size < 2 ||
	    top->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    top->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    top->via.array.ptr[1].via.u64 == 0 ||
	    top->via.array.ptr[1].via.u64 > UINT32_MAX) {
		snprintf(err, errlen, "request is not an [op, id, args...] array");
		return -EPROTO;
	}
	req->id = (uint32_t)top->via.array.ptr[1].via.u64;
	req->argc = top->via.array.size - 2;
	req->argv = top->via.array.ptr + 2;
	if (top->via.array.ptr[0].via.u64 > IPC_OP_MAX ||
	    !op_table[top->via.array.ptr[0].via.u64].name) {
		snprintf(err, errlen, "unknown operation %llu",
			 (unsigned long long)top->via.array.ptr[0].via.u64);
		return -EOPNOTSUPP;
	}
	req->op = (unsigned)top->via.array.ptr[0].via.u64;
	spec = op_table[req->op].args;

	bar = strchr(spec, '|');
	nreq = bar ? (size_t)(bar - spec) : strlen(spec);
	nmax = strlen(spec) - (bar != NULL);
	if (req->argc < nreq || req->argc > nmax) {
		if (nreq == nmax)
			snprintf(err, errlen, "%s takes %zu argument%s, got %u",
				 op_table[req->op].name, nmax, nmax == 1 ? "" : "s", req->argc);
		else
			snprintf(err, errlen, "%s takes %zu to %zu arguments, got %u",
				 op_table[req->op].name, nreq, nmax, req->argc);
		return -EINVAL;
	}
	for (i = 0; i < req->argc; i++) {
		char t = spec[i + (bar && spec + i >= bar)];

		if (!type_matches(t, &req->argv[i])) {
			snprintf(err, errlen, "%s: argument %zu must be %s",
				 op_table[req->op].name, i + 1, type_word(t));
			return -EINVAL;
		}
	}
	return 0;
}

int proto_decode_reply(const char *body, size_t len, msgpack_unpacked *u,
		       struct proto_reply *rep)
{
	const msgpack_object *top, *a;

	memset(rep, 0, sizeof *rep);
	if (decode_one(body, len, u, UINT64_MAX) < 0)
		return -EPROTO;
	top = &u->data;
	if (top->type != MSGPACK_OBJECT_ARRAY || top->via.array.size < 2)
		return -EPROTO;
	a = top->via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 > UINT32_MAX)
		return -EPROTO;
	rep->id = (uint32_t)a[0].via.u64;
	if (rep->id == IPC_PUSH_ID) {
		if (a[1].type != MSGPACK_OBJECT_STR)
			return -EPROTO;
		rep->event = a[1].via.str.ptr;
		rep->eventlen = a[1].via.str.size;
	} else if (a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[1].via.u64 == 0) {
		rep->status = 0;
	} else if (a[1].type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
		   a[1].via.i64 >= -4095) {
		rep->status = (int)a[1].via.i64;
		if (top->via.array.size >= 3 && a[2].type == MSGPACK_OBJECT_STR) {
			rep->msg = a[2].via.str.ptr;
			rep->msglen = a[2].via.str.size;
		}
	} else {
		return -EPROTO;
	}
	rep->nres = top->via.array.size - 2;
	rep->res = a + 2;
	return 0;
}

const msgpack_object *proto_map_get(const msgpack_object *o, const char *key)
{
	size_t klen = strlen(key);
	uint32_t i;

	if (o->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
		    memcmp(k->via.str.ptr, key, klen) == 0)
			return &o->via.map.ptr[i].val;
	}
	return NULL;
}

void proto_pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void proto_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
	proto_pack_cstr(pk, key);
	msgpack_pack_uint64(pk, v);
}

void proto_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v)
{
	proto_pack_cstr(pk, key);
	msgpack_pack_int64(pk, v);
}

void proto_pack_kv_str(msgpack_packer *pk, const char *key, const char *v)
{
	proto_pack_cstr(pk, key);
	proto_pack_cstr(pk, v);
}
