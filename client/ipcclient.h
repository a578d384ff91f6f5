/*
 * ipcclient.h - libipcclient, the client library of the ipcd broker.
 *
 * Named queues (and, as the broker grows, shared arrays and pipes) owned by
 * ipcd and reached over its Unix socket.  Every int result is 0 (or a count)
 * on success and a negative errno on failure; ipc_strerror() explains it.
 *
 * Fork safety: after fork() the child keeps using the ipc_client and the
 * handles its parent had.  The first call in the child notices the new pid,
 * opens the child's own connection (never touching the parent's socket) and
 * re-opens by name each handle it then uses.
 *
 * Threads: an ipc_client and its handles are not safe to use from several
 * threads at once.  Give each thread its own ipc_client (they are cheap: one
 * socket each), or serialise the calls on one client with your own lock.
 */
#ifndef IPCCLIENT_H
#define IPCCLIENT_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(IPC_BUILDING_LIBRARY)
#define IPC_API __attribute__((visibility("default")))
#else
#define IPC_API
#endif

#define IPC_CLIENT_VERSION "0.1.0"

/* Flags of the open calls.  (Not IPC_CREAT/IPC_EXCL: <sys/ipc.h> may be included too.) */
#define IPC_CREATE    0x1   /* create the object if it does not exist */
#define IPC_EXCLUSIVE 0x2   /* with IPC_CREATE: -EEXIST if it exists */

/* Timeouts are in milliseconds. */
#define IPC_FOREVER (-1)    /* wait without limit */
#define IPC_NOWAIT  0       /* never wait: -EAGAIN when the call would block */

typedef struct ipc_client ipc_client;
typedef struct ipc_queue ipc_queue;

/* Queue attributes: any field left 0 means the default (unbounded, mode 0600). */
typedef struct ipc_queue_attr {
	size_t maxsize;      /* most messages it holds; a put on a full queue waits */
	size_t maxbytes;     /* most payload bytes it holds */
	unsigned mode;       /* permission bits for other processes */
	int ack;             /* a message got stays in flight until ipc_queue_task_done */
	int durable;         /* kept in a log in ipcd's state directory: survives a restart */
} ipc_queue_attr;

/*
 * Connect to ipcd at path; NULL means $IPCD_SOCKET, else /run/ipcd/ipcd.sock
 * for root and $XDG_RUNTIME_DIR/ipcd.sock for other users.
 * -ENOENT or -ECONNREFUSED: no daemon there; -EPROTONOSUPPORT: it speaks
 * another protocol version.
 */
IPC_API int ipc_connect(const char *path, ipc_client **out);

/* Close the connection and free the client.  Handles must be closed first. */
IPC_API void ipc_disconnect(ipc_client *c);

/* A message for err (negative or positive errno); never NULL. */
IPC_API const char *ipc_strerror(int err);

/* The daemon's own message for the last failed call on c ("" if none). */
IPC_API const char *ipc_last_error(const ipc_client *c);

/*
 * Open the queue name.  flags: IPC_CREATE, IPC_EXCLUSIVE.  attr applies when
 * the queue is created (NULL: defaults).
 * -ENOENT: no such queue; -EEXIST: exists (IPC_EXCLUSIVE); -EINVAL: bad name
 * or attribute, or the name belongs to another kind of object;
 * -ENAMETOOLONG: name longer than 255 bytes.
 */
IPC_API int ipc_queue_open(ipc_client *c, const char *name, int flags,
			   const ipc_queue_attr *attr, ipc_queue **out);

/* Free the handle; the queue stays in the daemon. */
IPC_API void ipc_queue_close(ipc_queue *q);

/* Remove the queue name; messages in it are dropped.  -ENOENT if missing. */
IPC_API int ipc_queue_unlink(ipc_client *c, const char *name);

/*
 * Append a message of len bytes.  Waits up to timeout_ms while the queue is
 * full.  -ETIMEDOUT / -EAGAIN: still full; -EMSGSIZE: larger than the
 * daemon's message limit, or than the queue's maxbytes; -ENOBUFS: the
 * daemon's memory budget is used up; -EIDRM: the queue was removed.
 */
IPC_API int ipc_queue_put(ipc_queue *q, const void *data, size_t len, int timeout_ms);

/*
 * Take the oldest message; *data is from malloc (free it), *len its size.
 * Waits up to timeout_ms while the queue is empty; waiting getters are served
 * in arrival order.  -ETIMEDOUT / -EAGAIN: still empty.
 */
IPC_API int ipc_queue_get(ipc_queue *q, void **data, size_t *len, int timeout_ms);

/* Flags of a message (ipc_queue_get_info). */
#define IPC_MSG_REDELIVERED 0x1  /* got before by a consumer that went away without task_done */

/*
 * ipc_queue_get, and *flags (may be NULL) tells about the message: on a
 * queue created with attr.ack, IPC_MSG_REDELIVERED when it had been got
 * before by a consumer whose handle closed (or whose process died, or whose
 * ipcd restarted) before its task_done.
 */
IPC_API int ipc_queue_get_info(ipc_queue *q, void **data, size_t *len, int timeout_ms,
			       unsigned *flags);

/*
 * On a queue created with attr.ack, every get leaves its message in flight,
 * owned by this handle, until task_done acknowledges it; if the handle is
 * closed or its process dies first, its in-flight messages go back to the
 * head of the queue in order, marked IPC_MSG_REDELIVERED.
 */
IPC_API int ipc_queue_task_done(ipc_queue *q);           /* acknowledges this connection's oldest unacknowledged get */
IPC_API int ipc_queue_join(ipc_queue *q, int timeout_ms);/* waits until every message put was gotten and acknowledged */
/*
 * task_done: -EINVAL when this handle has nothing in flight (or the queue has
 * no acks).  It waits for no answer: once sent, ipcd acts on it even if this
 * process dies right after.  join, as Python's JoinableQueue.join: 0 once the queue holds no
 * unfinished message (queued, prefetched, or got and not acknowledged; on a
 * queue without acks a get finishes a message); -ETIMEDOUT after timeout_ms,
 * -EAGAIN at once with IPC_NOWAIT.
 */

/* Messages waiting in the queue, or a negative errno. */
IPC_API long ipc_queue_size(ipc_queue *q);

/* A copy of the oldest message without taking it; -EAGAIN if empty. */
IPC_API int ipc_queue_peek(ipc_queue *q, void **data, size_t *len);

/* Drop every message; returns how many were dropped. */
IPC_API long ipc_queue_purge(ipc_queue *q);

/* The queue's name, as opened. */
IPC_API const char *ipc_queue_name(const ipc_queue *q);

/*
 * Streaming.  These let a producer or consumer move many messages per round
 * trip; IPC_HAVE_STREAMING tells that the library has them.
 */
#define IPC_HAVE_STREAMING 1
struct iovec;

/*
 * Put msgs[0..n) in order, in as few round trips as their size allows.
 * Returns how many were put (fewer than n when the timeout ran out with the
 * queue full, or a later message was refused), or a negative errno when none was.
 */
IPC_API int ipc_queue_put_many(ipc_queue *q, const struct iovec *msgs, size_t n, int timeout_ms);

/*
 * Get between 1 and max messages (each iov_base from malloc), waiting up to
 * timeout_ms for the first.  Returns how many, or a negative errno.
 */
IPC_API int ipc_queue_get_many(ipc_queue *q, struct iovec *msgs, size_t max, int timeout_ms);

/*
 * Let ipcd push up to n messages ahead of this handle's gets (0 turns it
 * off), so that a get usually costs no round trip.  Messages pushed and not
 * yet taken stay the daemon's: if the handle is closed or the process dies
 * they return to the head of the queue in order; nothing is lost.
 * ipc_queue_size does not count them.
 */
IPC_API int ipc_queue_set_prefetch(ipc_queue *q, unsigned n);

/*
 * Asynchronous put: the message is buffered by the handle and sent with
 * others in one batch when the batch fills (then waiting, as a put does, while
 * the queue is full) or at ipc_queue_flush.  An error from sending a batch is
 * returned by this call or the flush.  A message the daemon can never take
 * (-EMSGSIZE) is dropped with that error as its report; after any other
 * error the messages not accepted stay buffered (ipc_queue_pending) and are
 * sent again by the next flush.  ipc_queue_put,
 * put_many and close send buffered messages first, so order is kept.  In a
 * forked child the parent's buffered messages are not the child's to send.
 */
IPC_API int ipc_queue_put_async(ipc_queue *q, const void *data, size_t len);

/* Send every buffered asynchronous put; 0 once the daemon has them all. */
IPC_API int ipc_queue_flush(ipc_queue *q, int timeout_ms);

/* How many asynchronous puts are buffered, not yet accepted by ipcd. */
IPC_API size_t ipc_queue_pending(const ipc_queue *q);

/*
 * Set the permission bits (at most 0777) of the object name, of any kind.
 * Only its owner and root may: -EPERM for anyone else; -ENOENT if there is
 * no such object.  Handles already open keep the rights they had.
 */
IPC_API int ipc_chmod(ipc_client *c, const char *name, unsigned mode);

/*
 * Give the object name to uid and gid; (uid_t)-1 or (gid_t)-1 leaves that
 * id as it is.  Only its owner and root may (-EPERM).
 */
IPC_API int ipc_chown(ipc_client *c, const char *name, uid_t uid, gid_t gid);

/*
 * Introspection, as msgpack bytes from malloc (*mp, *len) laid out as
 * proto/PROTOCOL.md describes: a map for ipc_server_status and
 * ipc_queue_stat, an array of maps for ipc_server_list and
 * ipc_server_clients.  This is what ipcctl prints.
 */
IPC_API int ipc_server_status(ipc_client *c, void **mp, size_t *len);
IPC_API int ipc_server_list(ipc_client *c, void **mp, size_t *len);
IPC_API int ipc_server_clients(ipc_client *c, void **mp, size_t *len);
IPC_API int ipc_queue_stat(ipc_queue *q, void **mp, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
