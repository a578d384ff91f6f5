/*
 * reply.h - building reply and push frames onto a connection's output.
 *
 * Handlers never touch sockets: they build frames here and the connection
 * writes them when its socket is ready.  Frames are packed into one scratch
 * buffer and appended whole; a payload given to reply_end_data is appended
 * after it without being packed twice.
 */
#ifndef IPCD_REPLY_H
#define IPCD_REPLY_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

struct conn;

/* Start [id, status, ...nres results]; pack the results into the packer returned. */
msgpack_packer *reply_begin(struct conn *c, uint32_t id, int status, unsigned nres);

/* Finish the frame begun by reply_begin and queue it on c. */
void reply_end(struct conn *c);

/*
 * Finish the frame whose last packed item was msgpack_pack_bin(pk, len) (or
 * str) header: data's len bytes follow it without a second copy into scratch.
 */
void reply_end_data(struct conn *c, const void *data, size_t len);

/* [id, 0] */
void reply_ok(struct conn *c, uint32_t id);

/* [id, 0, n] with n an unsigned integer. */
void reply_uint(struct conn *c, uint32_t id, uint64_t n);

/* [id, 0, bin] */
void reply_data(struct conn *c, uint32_t id, const void *data, size_t len);

/* [id, status, "message"]; status is a negative errno. */
void reply_error(struct conn *c, uint32_t id, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Start push [0, event, ...nargs]; end it with reply_end. */
msgpack_packer *push_begin(struct conn *c, const char *event, unsigned nargs);

/* Push [0, "error", status, "message"], sent before a connection is closed. */
void push_error(struct conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Free the scratch buffer (shutdown). */
void reply_cleanup(void);

#endif
