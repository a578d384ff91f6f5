/*
 * client.h - libipcclient's internals: the connection, framing, and the
 * request/reply call that every public function is built on.
 */
#ifndef IPC_CLIENT_INTERNAL_H
#define IPC_CLIENT_INTERNAL_H

#include <limits.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "codec.h"
#include "ipcclient.h"

/* Bytes received and not yet consumed: data[start, end). */
struct client_event;

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
	ipc_queue **handles;       /* by daemon handle number - 1, this connection */
	uint32_t handles_cap;
	char name[IPC_CLIENT_NAME_MAX + 1];
	pid_t named_by;            /* the process that set name with ipc_client_set_name */
	struct client_event *events, *events_tail; /* monitor events not yet taken, FIFO */
	size_t nevents;
	uint64_t events_lost;      /* events dropped here: the FIFO was full */
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

/*
 * Send the request built for an operation the daemon does not answer on
 * success, waiting for no reply.  0, or a transport error, after which the
 * connection is dropped.
 */
int client_send(ipc_client *c);

/* client_call for a reply whose first result is an unsigned integer, in *v; -EPROTO if not. */
int client_call_u64(ipc_client *c, const void *tail, size_t tlen, int wait_ms, uint64_t *v);

/* Release the reply of the last successful client_call. */
void client_done(ipc_client *c);

/* Drop the connection (this process's descriptor only); the next call reconnects. */
void client_drop(ipc_client *c);

/* Client wait for a request whose daemon-side timeout is timeout_ms. */
int client_wait_ms(int timeout_ms);

/* Remove the object name of kind (IPC_KIND_*); 0 or a negative errno. */
int client_unlink(ipc_client *c, const char *name, unsigned kind);

/* Re-encode rep's first result as msgpack bytes from malloc, and release rep. */
int client_take_result(ipc_client *c, const struct proto_reply *rep, void **mp, size_t *len);

/*
 * Claim the descriptor that came with the reply just received (the oldest
 * unclaimed one).  Returns it (the caller owns it), or -EPROTO if none came.
 */
int client_take_fd(ipc_client *c);

/* Copy a reply result (bin or str) into malloc memory. */
int client_copy_bytes(const msgpack_object *o, void **data, size_t *len);

/*
 * The name every connection made by this process gives in its hello, unless
 * its client was named by ipc_client_set_name in this process.  name NULL
 * forgets it.  (process.c sets it in a child it starts.)
 */
void client_set_process_name(const char *name);

/*
 * How many times this process has forked since the library first counted
 * (the first call starts counting).  A handle opened before a fork may be
 * in use by the child.
 */
unsigned client_forks(void);

/*
 * getpid(), without the system call, for checks made on every call of a hot
 * path (asynchronous puts): refreshed in every child made by fork(), through
 * pthread_atfork.  A child made by a raw clone() or _Fork() is not seen, so
 * whether a connection is this process's is checked with getpid() itself.
 */
pid_t client_pid(void);

/*
 * Read the next frame.  Returns 0 for a reply (id != 0) in *rep, to release
 * with client_done; 1 for pushed messages, already stored on their handle; or
 * a negative errno: a transport error, or the status of an error push (the
 * daemon closes the connection).  deadline as io_deadline.
 */
int client_read(ipc_client *c, int64_t deadline, struct proto_reply *rep);

/*
 * Is a handle opened on connection gen still open on c: c connected, in this
 * process (checked with getpid()), on that same connection?
 */
bool client_handle_live(const ipc_client *c, unsigned gen);

/* Close the daemon's handle num on c's connection; a failure goes unreported. */
void client_close_handle(ipc_client *c, uint32_t num);

/* Number q on this connection as the daemon's handle num (for pushes). */
int client_register(ipc_client *c, ipc_queue *q);
void client_unregister(ipc_client *c, ipc_queue *q);

/* io.c: framing over the socket.  Deadlines are io_now_ms() values, -1 for none. */
int64_t io_now_ms(void);
int64_t io_deadline(int wait_ms);
/* Milliseconds left until deadline: 0 once passed, -1 for none. */
int io_left_ms(int64_t deadline);
int io_connect(const char *path, int *fd);
int io_send(int fd, const void *a, size_t alen, const void *b, size_t blen, int wait_ms);
/* Wait for one whole frame in c->in; *body points into c->in.  0 or -errno. */
int io_read_frame(ipc_client *c, int64_t deadline, const char **body, uint32_t *len);

/* admin.c: keep a "monitor" push for ipc_monitor_next. */
void client_event_push(ipc_client *c, const struct proto_reply *push);
/* admin.c: drop the events kept. */
void client_events_free(ipc_client *c);

/* stream.c: messages pushed for a handle (a "msgs" push), stored or dropped. */
void stream_deliver(ipc_client *c, const struct proto_reply *push);
/* stream.c: a "removed" push: the handle's queue is gone. */
void stream_removed(ipc_client *c, const struct proto_reply *push);

/* Pushed messages not yet taken, oldest first. */
struct msgbuf {
	struct iovec *v;           /* ring of cap entries, each iov_base from malloc */
	unsigned char *flags;      /* IPC_MSG_* of each entry, same ring, and MSGBUF_ACK */
	size_t head, count, cap;
};

struct ipc_queue {
	ipc_client *c;
	char *name;
	int flags;
	ipc_queue_attr attr;
	uint32_t num;              /* the daemon's handle, valid on connection gen */
	unsigned gen;
	unsigned prefetch;         /* pushes asked of the daemon; 0 off */
	bool removed;              /* the daemon said its queue was removed */
	struct msgbuf ahead;       /* pushed, not yet taken; belongs to connection gen */
	msgpack_sbuffer pend;      /* asynchronous puts not yet sent, as packed bins */
	size_t npend;
	pid_t pend_pid;            /* the process whose puts pend holds */
	unsigned last_flags;       /* IPC_MSG_* of the message the last get returned */
	size_t unacked;            /* ack queue: got on connection gen, task_done not sent */
	/* The daemon's page counting what this process took of the pushes
	 * (NULL: each take is credited on the socket), and that count as last
	 * written and as last sent in a credit. */
	uint64_t *taken_page;
	pid_t page_pid;            /* the process that mapped it (not inherited by fork) */
	uint64_t taken, credited;
	struct cring *ring;        /* the queue's shared-memory ring mapped here, or NULL */
};

/* ring.c: a call the ring cannot serve, to send by the socket instead (never a count). */
#define RING_SOCKET INT_MAX

/* ring.c: map the ring whose descriptor fd (taken over) came with q's open, as the owner
 * of lane (also from the open).  0 or -errno. */
int ring_map(ipc_queue *q, int fd, uint64_t lane);
/* ring.c: unmap q's ring, if any. */
void ring_unmap(ipc_queue *q);
/*
 * ring.c: put through q's ring, waiting up to timeout_ms for room; get up to
 * max, waiting for one.  0 (put) or a count (get_many); a negative errno; or
 * RING_SOCKET: send it by the socket, within *left_ms.
 */
int ring_put(ipc_queue *q, const void *data, size_t len, int timeout_ms, int *left_ms);
/* ring.c: put msgs[0..n) through the ring; returns how many; *stop says why not all:
 * RING_SOCKET (msgs[count] goes by the socket) or a negative errno. */
size_t ring_put_many(ipc_queue *q, const struct iovec *msgs, size_t n, int timeout_ms,
		     int *left_ms, int *stop);
int ring_get_many(ipc_queue *q, struct iovec *msgs, size_t max, int timeout_ms, int *left_ms);

/*
 * ring.c: an asynchronous put through q's ring: staged in this process, and
 * put with the others as one run once RING_RUN are staged (waiting for room
 * then, as a full socket buffer's flush does), or by ring_publish.  0; an
 * error of that put; or RING_SOCKET for the caller to buffer it for the
 * socket instead (too large for a slot, or the stage itself went there).
 */
int ring_put_async(ipc_queue *q, const void *data, size_t len);
/*
 * ring.c: put what this process staged, waiting up to timeout_ms for room;
 * what the ring cannot take (removed, spilling) is buffered for the socket
 * (stream_pend), in order.  0, or the error (-ETIMEDOUT, -EAGAIN: the rest
 * stays staged; -EMSGSIZE: the first never fits the queue and was dropped).
 */
int ring_publish(ipc_queue *q, int timeout_ms);
/* ring.c: does ipcd hold puts newer than the ring's (or is the ring closed), so puts go by the socket? */
bool ring_spilling(const ipc_queue *q);
/* ring.c: asynchronous puts staged by this process, not yet put; and dropped (a forked child's). */
size_t ring_staged(const ipc_queue *q);
void ring_unstage(ipc_queue *q);
/*
 * ring.c: task_done of the oldest lease of an ack queue's handle: 0;
 * -EINVAL when ipcd took the leases back (the connection went);
 * RING_SOCKET when the handle holds no lease (task_done goes by the socket).
 */
int ring_ack(ipc_queue *q);

/* An entry of an ack queue's push: taking it makes one more message to task_done. */
#define MSGBUF_ACK 0x80u

/* stream.c: the handle's stream state after a (re)open, and its end. */
int stream_reopened(ipc_queue *q);
void stream_free(ipc_queue *q);
/* Send what ipc_queue_put_async buffered, waiting up to timeout_ms. */
int stream_flush(ipc_queue *q, int timeout_ms);
/* stream.c: buffer one asynchronous put for the socket, after those buffered. */
void stream_pend(ipc_queue *q, const void *data, size_t len);
/* ipc_queue_get on a prefetching handle. */
int stream_get(ipc_queue *q, void **data, size_t *len, int timeout_ms);

/* queue.c: q usable on this process's connection (re-opened by name if need be). */
int queue_ready(ipc_queue *q);
/*
 * queue.c: may q's ring be used now without a system call: mapped on this
 * process's connection (by the pid fork() left, as asynchronous puts check
 * it), with none of its asynchronous puts waiting for the socket?
 */
bool queue_ring_ready(ipc_queue *q);
/* queue.c: ready, with this process's asynchronous puts sent first (within timeout_ms). */
int queue_ready_flushed(ipc_queue *q, int timeout_ms);

#endif
