/*
 * request_gen.c - requests built from the operation table for the codec's
 * tests, and their decoding copied out (see request_gen.h).
 */
#include <string.h>

#include "harness.h"
#include "request_gen.h"

const char *const val_names[V_COUNT] = {
	"uint", "negint", "str", "bin", "map", "array", "nil", "true", "float",
};

const unsigned all_ops[] = {
#define OP_CODE(sym, code, name, args) code,
	IPC_OPS(OP_CODE)
#undef OP_CODE
};
const size_t all_ops_count = sizeof all_ops / sizeof all_ops[0];

int val_fits(char t, enum val v)
{
	switch (t) {
	case 'u':
	case 'h':
		return v == V_UINT;
	case 'i':
		return v == V_UINT || v == V_NEGINT;
	case 's':
		return v == V_STR;
	case 'b':
		return v == V_STR || v == V_BIN;
	case 'm':
		return v == V_MAP || v == V_NIL;
	case 'a':
		return v == V_ARRAY;
	case 'n':
		return v == V_UINT || v == V_NEGINT || v == V_FLOAT;
	}
	ck_abort_msg("unknown spec letter '%c'", t);
	return 0;
}

enum val val_for(char t)
{
	switch (t) {
	case 'u': case 'h': return V_UINT;
	case 'i': return V_NEGINT;
	case 's': return V_STR;
	case 'b': return V_BIN;
	case 'm': return V_MAP;
	case 'a': return V_ARRAY;
	case 'n': return V_FLOAT;
	}
	ck_abort_msg("unknown spec letter '%c'", t);
	return V_NIL;
}

void pack_val(msgpack_packer *pk, enum val v)
{
	switch (v) {
	case V_UINT: msgpack_pack_uint32(pk, 7); break;
	case V_NEGINT: msgpack_pack_int32(pk, -5); break;
	case V_STR: msgpack_pack_str_with_body(pk, "name", 4); break;
	case V_BIN: msgpack_pack_bin_with_body(pk, "\0\1\2", 3); break;
	case V_MAP:
		msgpack_pack_map(pk, 1);
		msgpack_pack_str_with_body(pk, "maxsize", 7);
		msgpack_pack_uint32(pk, 1);
		break;
	case V_ARRAY:
		msgpack_pack_array(pk, 1);
		msgpack_pack_uint32(pk, 1);
		break;
	case V_NIL: msgpack_pack_nil(pk); break;
	case V_TRUE: msgpack_pack_true(pk); break;
	case V_FLOAT: msgpack_pack_double(pk, 1.5); break;
	default: ck_abort_msg("bad value kind %d", v);
	}
}

void spec_letters(unsigned op, char *letters, size_t *nreq, size_t *nmax)
{
	const char *spec = proto_op_args(op);
	const char *bar;
	size_t n = 0;

	ck_assert_ptr_nonnull(spec);
	bar = strchr(spec, '|');
	for (; *spec; spec++)
		if (*spec != '|')
			letters[n++] = *spec;
	letters[n] = '\0';
	*nmax = n;
	*nreq = bar ? (size_t)(bar - proto_op_args(op)) : n;
}

void pack_request(msgpack_sbuffer *sb, unsigned op, uint32_t id, size_t nargs,
		  size_t bad, enum val v)
{
	msgpack_packer pk;
	char letters[PROTO_MAX_ARGS * 2];
	size_t nreq, nmax, i;

	spec_letters(op, letters, &nreq, &nmax);
	raw_packer(sb, &pk);
	msgpack_pack_array(&pk, 2 + nargs);
	msgpack_pack_uint32(&pk, op);
	msgpack_pack_uint32(&pk, id);
	for (i = 0; i < nargs; i++) {
		if (i == bad)
			pack_val(&pk, v);
		else if (i < nmax)
			pack_val(&pk, val_for(letters[i]));
		else
			msgpack_pack_nil(&pk);
	}
}

struct decoded decode(const void *body, size_t len)
{
	struct decoded d;
	struct proto_req req;
	msgpack_unpacked u;

	memset(&d, 0, sizeof d);
	memset(d.err, 'x', sizeof d.err);
	msgpack_unpacked_init(&u);
	d.r = proto_decode_request(body, len, &u, &req, d.err, sizeof d.err);
	d.op = req.op;
	d.id = req.id;
	d.argc = req.argc;
	if (d.r < 0) {
		ck_assert_msg(memchr(d.err, '\0', sizeof d.err) != NULL,
			      "error message not terminated");
		ck_assert_msg(d.err[0] != '\0', "empty error message for %d", d.r);
	}
	msgpack_unpacked_destroy(&u);
	return d;
}

struct decoded decode_sb(msgpack_sbuffer *sb)
{
	struct decoded d = decode(sb->data, sb->size);

	msgpack_sbuffer_destroy(sb);
	return d;
}
