/*
 * fuzz_codec.c - libFuzzer target for the frame reader and the decoders
 * both sides share: the input is cut into frames by their length prefixes
 * (a prefix past the end takes what is left, as a truncated frame), and
 * each body goes through proto_decode_request, the typed accessors a
 * handler would use, and proto_decode_reply.
 */
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every argument the way handlers do. */
static void touch_args(const struct proto_req *req)
{
	volatile uint64_t sink = 0;

	for (uint32_t i = 0; i < req->argc; i++) {
		const msgpack_object *o = &req->argv[i];
		uint32_t len;
		const char *p = proto_bytes(o, &len);

		if (p && len)
			sink += (unsigned char)p[0] + (unsigned char)p[len - 1];
		sink += proto_u64(o) + (uint64_t)proto_i64(o);
		if (proto_map_get(o, IPC_ATTR_MODE))
			sink++;
	}
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked u;
	size_t off = 0;

	msgpack_unpacked_init(&u);
	while (size - off >= IPC_FRAME_HEADER) {
		uint32_t len = ipc_frame_get_len(data + off);
		struct proto_req req;
		struct proto_reply rep;
		char err[160];

		off += IPC_FRAME_HEADER;
		if (len > size - off)
			len = (uint32_t)(size - off);
		if (proto_decode_request((const char *)data + off, len, &u, &req, err,
					 sizeof err) == 0)
			touch_args(&req);
		if (proto_decode_reply((const char *)data + off, len, &u, &rep) == 0 && rep.nres)
			(void)proto_bytes(&rep.res[0], &len);
		off += len;
	}
	msgpack_unpacked_destroy(&u);
	return 0;
}
