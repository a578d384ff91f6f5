/*
 * request_gen.h - requests for the codec's tests, built from each
 * operation's argument spec in IPC_OPS (so a new operation is covered
 * without touching the tests), and a request decode copied out.
 */
#ifndef IPCD_TEST_REQUEST_GEN_H
#define IPCD_TEST_REQUEST_GEN_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "codec.h"

/* Kinds of msgpack values the tests put in an argument position. */
enum val {
	V_UINT, V_NEGINT, V_STR, V_BIN, V_MAP, V_ARRAY, V_NIL, V_TRUE, V_FLOAT,
	V_COUNT
};

extern const char *const val_names[V_COUNT];

/* Every operation code of the protocol, from the one table, and how many. */
extern const unsigned all_ops[];
extern const size_t all_ops_count;
#define NOPS all_ops_count

/*
 * Whether a value kind satisfies a spec letter, from the table in
 * ipc_protocol.h.  A nil stands for "no attributes" where a map is expected.
 */
int val_fits(char t, enum val v);

/* A value that fits spec letter t. */
enum val val_for(char t);

/* Pack one value of kind v. */
void pack_val(msgpack_packer *pk, enum val v);

/* The spec letters of op with the optional marker removed, and how many are required. */
void spec_letters(unsigned op, char *letters, size_t *nreq, size_t *nmax);

/*
 * Pack [op, id, args...] into sb (initialised here, the caller destroys
 * it) with nargs arguments fitting op's spec; argument position bad (if <
 * nargs) gets value kind v instead.  Positions beyond the spec get a nil.
 */
void pack_request(msgpack_sbuffer *sb, unsigned op, uint32_t id, size_t nargs,
		  size_t bad, enum val v);

/* What a decode produced, copied out before the unpacked value is freed. */
struct decoded {
	int r;
	unsigned op;
	uint32_t id;
	uint32_t argc;
	char err[128];
};

/* Decode body; on an error, assert that its message is set and terminated. */
struct decoded decode(const void *body, size_t len);

/* decode() of sb's contents, then destroy sb. */
struct decoded decode_sb(msgpack_sbuffer *sb);

#endif
