/*
 * client.h - libipcclient's internals: the connection, framing, and the
 * request/reply call that every public function is built on.
 */
#ifndef IPC_CLIENT_INTERNAL_H
#define IPC_CLIENT_INTERNAL_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "ipcclient.h"

/* Bytes received and not yet consumed: data[start, end). */
struct rbuf {
	char *data;
	size_t start, end, cap;
};

struct ipc_client {
	char *path;                /* socket path (owned) */
	int fd;                    /* -1 when not connected */
	pid_t pid;                 /* the process fd belongs to */
	unsigned gen;              /* bumped on every new connection; handles compare */
	uint32_t next_id;
	size_t max_message;        /* the daemon's limit, from the hello */
	struct rbuf in;
	int *fds;                  /* descriptors received and not yet claimed, FIFO */
	size_t nfds;
	msgpack_sbuffer req;       /* the request being built: header + body */
	msgpack_packer pk;
	uint32_t req_id;           /* id of the request being built / awaited */
	msgpack_unpacked reply;    /* the last reply, borrowed from in */
	size_t reply_frame;        /* bytes of in holding that reply's frame */
	char errmsg[256];          /* the daemon's message for the last failure */
	char name[IPC_CLIENT_NAME_MAX + 1];
};

/* Extra wait beyond a request's own timeout before the daemon counts as hung. */
#define CLIENT_REPLY_GRACE_MS 10000
/* Wait for the answer to a request that does not block in the daemon. */
#define CLIENT_CALL_TIMEOUT_MS 30000

/*
 * Make c usable by this process: in a forked child, forget the parent's
 * connection (closing only this process's copy of the descriptor) and open
 * a new one; after a lost connection, reconnect.  0 or a negative errno.
 */
int client_ready(ipc_client *c);

/* Start building request op with nargs arguments; pack them into the result. */
msgpack_packer *client_req(ipc_client *c, unsigned op, unsigned nargs);

/*
 * Send the request built, with tail (tlen bytes, may be NULL) appended raw
 * after the body (the caller packed its bin header last), and wait up to
 * wait_ms (< 0 forever) for its reply.  Returns the reply's status (0 or a
 * negative errno, the daemon's message in c->errmsg) or a transport error,
 * after which the connection is dropped.  On 0, *rep is valid until
 * client_done(c).
 */
int client_call(ipc_client *c, const void *tail, size_t tlen, int wait_ms,
		struct proto_reply *rep);

/* Release the reply of the last successful client_call. */
void client_done(ipc_client *c);

/* Drop the connection (this process's descriptor only); the next call reconnects. */
void client_drop(ipc_client *c);

/* Client wait for a request whose daemon-side timeout is timeout_ms. */
int client_wait_ms(int timeout_ms);

/* Re-encode rep's first result as msgpack bytes from malloc, and release rep. */
int client_take_result(ipc_client *c, const struct proto_reply *rep, void **mp, size_t *len);

/*
 * Claim the descriptor that came with the reply just received (the oldest
 * unclaimed one).  Returns it (the caller owns it), or -EPROTO if none came.
 */
int client_take_fd(ipc_client *c);

/* Copy a reply result (bin or str) into malloc memory. */
int client_copy_bytes(const msgpack_object *o, void **data, size_t *len);

/* io.c: framing over the socket. */
int io_connect(const char *path, int *fd);
int io_send(int fd, const void *a, size_t alen, const void *b, size_t blen, int wait_ms);
/* Wait for one whole frame in c->in; *body points into c->in.  0 or -errno. */
int io_read_frame(ipc_client *c, int wait_ms, const char **body, uint32_t *len);

#endif
