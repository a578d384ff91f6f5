/*
 * ipcclient.h - libipcclient, the client library of the ipcd broker.
 *
 * Named queues, pipes and shared arrays owned by ipcd and reached over its
 * Unix socket, and the process object that starts the processes using them.
 * Every int result is 0 (or a count)
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

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(IPC_BUILDING_LIBRARY)
#define IPC_API __attribute__((visibility("default")))
#else
#define IPC_API
#endif

/* The version of ipcd and of this library; the build takes it from here. */
#define IPC_CLIENT_VERSION "0.4.0"

/* Flags of the open calls.  (Not IPC_CREAT/IPC_EXCL: <sys/ipc.h> may be included too.) */
#define IPC_CREATE    0x1   /* create the object if it does not exist */
#define IPC_EXCLUSIVE 0x2   /* with IPC_CREATE: -EEXIST if it exists */
#define IPC_ONEWAY    0x4   /* pipes: end 0 only receives, end 1 only sends */
#define IPC_NOMAP     0x8   /* ipc_array_open: do not map; brokered access only */
#define IPC_DURABLE   0x10  /* ipc_array_open with IPC_CREATE: kept in ipcd's state directory */
#define IPC_AUTOREMOVE 0x20 /* with IPC_CREATE: an object this call creates is removed when
			       the connection that created it closes (its process exits,
			       crashes or disconnects); nothing is left behind */

/* Timeouts are in milliseconds. */
#define IPC_FOREVER (-1)    /* wait without limit */
#define IPC_NOWAIT  0       /* never wait: -EAGAIN when the call would block */

typedef struct ipc_client ipc_client;
typedef struct ipc_queue ipc_queue;
typedef struct ipc_pipe ipc_pipe;
typedef struct ipc_array ipc_array;

/* Queue attributes: any field left 0 means the default (unbounded, mode 0600). */
typedef struct ipc_queue_attr {
	size_t maxsize;      /* most messages it holds; a put on a full queue waits */
	size_t maxbytes;     /* most payload bytes it holds */
	unsigned mode;       /* permission bits for other processes */
	int ack;             /* a message got stays in flight until ipc_queue_task_done */
	int durable;         /* kept in a log in ipcd's state directory: survives a restart */
	unsigned replicas;   /* 0: a local queue; N >= 1: a cluster queue stored with N
				replicas (-EOPNOTSUPP from an ipcd without a cluster) */
	int noring;          /* no shared-memory ring: created without one, or this handle
				goes by the socket although the queue has one */
} ipc_queue_attr;

/*
 * Connect to ipcd at path.  NULL means the default sockets, in the order
 * ipc_default_socket() lists them: $IPCD_SOCKET alone when it is set, else
 * the user's own broker ($XDG_RUNTIME_DIR/ipcd.sock; not for root), then
 * the system broker's /run/ipcd/ipcd.sock.  The next is tried only while
 * nothing serves at the one before (-ENOENT, -ECONNREFUSED).
 * -ENOENT or -ECONNREFUSED: no daemon there (at none of them); -EACCES: the
 * socket's permissions refuse this user (the system socket admits root and
 * the group ipcd); -EPROTONOSUPPORT: it speaks
 * another protocol version; -EUSERS: it serves its maximum of clients.
 *
 * Any call may also return -ECONNRESET or -ENOTCONN (the daemon went away;
 * the next call reconnects and re-opens handles by name) and -ESHUTDOWN (a
 * call that was waiting when the daemon shut down).
 */
IPC_API int ipc_connect(const char *path, ipc_client **out);

/*
 * The i-th socket (from 0) that ipc_connect(NULL, ...) tries, into buf (len
 * bytes): 0, -ENOENT when there are fewer, -ENAMETOOLONG when buf is too
 * small.  For saying where a failed connect looked.
 */
IPC_API int ipc_default_socket(unsigned i, char *buf, size_t len);

/* Close the connection and free the client.  Handles must be closed first. */
IPC_API void ipc_disconnect(ipc_client *c);

/* A message for err (negative or positive errno); never NULL. */
IPC_API const char *ipc_strerror(int err);

/* The daemon's own message for the last failed call on c ("" if none). */
IPC_API const char *ipc_last_error(const ipc_client *c);

/*
 * Name c's connection as ipcctl clients shows it (at most 64 bytes are
 * kept; the default is the program's name, or in a process started by
 * ipc_process_start the process's name).  Also used for the connections c
 * makes later, in this process.
 */
IPC_API int ipc_client_set_name(ipc_client *c, const char *name);

/*
 * The descriptor of c's connection in this process (connecting first in a
 * forked child, or after a lost connection), or a negative errno.  It names
 * the connection, as a language binding's fileno() does; it stays c's: never
 * read, write or close it.
 */
IPC_API int ipc_client_fd(ipc_client *c);

/*
 * Open the queue name.  flags: IPC_CREATE, IPC_EXCLUSIVE.  attr applies when
 * the queue is created (NULL: defaults).
 * -ENOENT: no such queue; -EEXIST: exists (IPC_EXCLUSIVE); -EINVAL: bad name
 * or attribute, or the name belongs to another kind of object;
 * -ENAMETOOLONG: name longer than 255 bytes.  Calls on a handle whose queue
 * was removed since give -EIDRM (a waiting get or put is answered so at once).
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
 * sent again by the next flush.  ipc_queue_put and put_many send buffered
 * messages first, within their own timeout, so order is kept; close waits up
 * to 30 s for room to send them, and drops what it then could not (flush
 * first to know).  In a forked child the parent's buffered messages are not
 * the child's to send (a child made by fork(); one made by a raw clone() or
 * _Fork() must not use them); a process that leaves with _exit() sends
 * nothing.
 */
IPC_API int ipc_queue_put_async(ipc_queue *q, const void *data, size_t len);

/* Send every buffered asynchronous put; 0 once the daemon has them all. */
IPC_API int ipc_queue_flush(ipc_queue *q, int timeout_ms);

/* How many asynchronous puts are buffered, not yet accepted by ipcd. */
IPC_API size_t ipc_queue_pending(const ipc_queue *q);

/*
 * Pipes: point-to-point channels with two ends, 0 and 1, brokered by ipcd
 * so that any two processes can use one, related or not.  Messages arrive
 * whole and in order.  Duplex unless made with IPC_ONEWAY, which makes end
 * 0 receive-only and end 1 send-only; using an end the wrong way is -EBADF.
 *
 * An end belongs to the first process (connection) that sends or receives
 * on it, not to the one that opened it: a parent can make a pair, fork, and
 * leave an end to the child.  Another process using a held end gets
 * -EBUSY.  When the holder closes its end or exits, the other end receives
 * what is left and then -EPIPE (end of file), and sends to it get -EPIPE.
 * Closing an end this process never used only drops the handle: the end
 * stays free for another process.  An end once closed stays closed.
 */

/*
 * Open end (0 or 1) of the pipe name.  flags: IPC_CREATE, IPC_EXCLUSIVE,
 * and IPC_ONEWAY when creating.  Errors as for ipc_queue_open.
 */
IPC_API int ipc_pipe_open(ipc_client *c, const char *name, int end, int flags, ipc_pipe **out);

/*
 * A new anonymous pipe, as Python's Pipe(): *end0 and *end1 are its two
 * ends.  flags: 0 or IPC_ONEWAY.  It goes when both ends are closed (or
 * when no process has it open and no end is held).  ipcd names it with a
 * reserved name starting with '@' (ipc_pipe_name), which a process may open
 * but not create.
 */
IPC_API int ipc_pipe_pair(ipc_client *c, int flags, ipc_pipe **end0, ipc_pipe **end1);

/*
 * Send len bytes from this end.  Waits up to timeout_ms while the other
 * direction's buffer is full.  -EPIPE: the other end is closed; -EBUSY:
 * another process holds this end; -EBADF: a one-way pipe's end 0;
 * -ETIMEDOUT / -EAGAIN: still full; -EMSGSIZE, -ENOBUFS, -EIDRM as queues.
 */
IPC_API int ipc_pipe_send(ipc_pipe *p, const void *data, size_t len, int timeout_ms);

/*
 * Receive the oldest message sent to this end; *data is from malloc (free
 * it), *len its size.  Waits up to timeout_ms while none is there.
 * -EPIPE: none is left and the other end is closed; -EBUSY, -EBADF (a
 * one-way pipe's end 1), -ETIMEDOUT / -EAGAIN as for ipc_pipe_send.
 */
IPC_API int ipc_pipe_recv(ipc_pipe *p, void **data, size_t *len, int timeout_ms);

/*
 * Close this end if this process holds it (the other end then sees
 * -EPIPE), and free the handle.  An end this process never used is left
 * free for others.
 */
IPC_API void ipc_pipe_close(ipc_pipe *p);

/* Remove the named pipe; an anonymous pipe goes when both ends are closed. */
IPC_API int ipc_pipe_unlink(ipc_client *c, const char *name);

/* The pipe's name (ipcd's for an anonymous pipe) and this handle's end. */
IPC_API const char *ipc_pipe_name(const ipc_pipe *p);
IPC_API int ipc_pipe_end(const ipc_pipe *p);

/*
 * A process, as Python's multiprocessing.Process: embed it first in a
 * struct of your own and set run ("subclass"), or set target and arg.
 * ipc_process_start forks; the child sets pid to its own, runs run(self)
 * (or target(arg)), flushes its stdio and leaves with _exit(the result,
 * 0..255), so the parent's atexit handlers never run in it.  stdio is
 * flushed before the fork so nothing buffered is written twice.  The child
 * reaches ipcd on its own connection, named name (when set) in ipcctl
 * clients.  exitcode is IPC_EXITCODE_NONE from start until join (or
 * is_alive) sees the end: then the exit status, or minus the signal that
 * killed the process.
 */
typedef struct ipc_process {
	int  (*run)(struct ipc_process *self);  /* runs in the child; its return is the exit code */
	int  (*target)(void *arg);              /* used when run is NULL */
	void *arg;
	const char *name;
	pid_t pid;        /* set by start */
	int   exitcode;   /* set by join: the exit status, or minus the signal that killed it */
} ipc_process;

#define IPC_EXITCODE_NONE INT_MIN   /* started, and not seen to end yet */

/* Fork and run p in the child.  -EINVAL: no run nor target; -EBUSY: p runs. */
IPC_API int ipc_process_start(ipc_process *p);

/*
 * Wait up to timeout_ms (IPC_FOREVER: no limit) for p to end, and set
 * p->exitcode.  0, or -ETIMEDOUT if it still runs; joining again returns 0.
 */
IPC_API int ipc_process_join(ipc_process *p, int timeout_ms);

/* Send p SIGTERM (nothing once p was seen to end).  0 or a negative errno. */
IPC_API int ipc_process_terminate(ipc_process *p);

/* 1 while p runs, 0 once it ended (setting exitcode) or if never started. */
IPC_API int ipc_process_is_alive(ipc_process *p);

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

/*
 * The settings in force, as msgpack bytes from malloc: an array of maps
 * {name, value, source, live}; source says where the value came from
 * ("default", "file PATH", "command line", "config.set", ...).
 */
IPC_API int ipc_server_config(ipc_client *c, void **mp, size_t *len);

/*
 * Administration.  Only root and the user ipcd runs as may change a setting
 * or trace requests (-EPERM); a user may also end its own processes'
 * connections.
 *
 * ipc_config_set: put a live setting (ipcd.conf(5): log-level, the limits)
 * in force now, as its text in the configuration file would be ("debug",
 * "64M").  -ENOENT: no such setting; -EINVAL: a bad value, or a setting that
 * needs a restart.  A reload (SIGHUP) puts the file's values back.
 *
 * ipc_client_kill: end the connection of client id (ipcctl clients shows
 * ids), giving back everything it held as if its process had died.
 * -ESRCH: no such client; -EINVAL: c's own connection.
 */
IPC_API int ipc_config_set(ipc_client *c, const char *name, const char *value);
IPC_API int ipc_client_kill(ipc_client *c, uint64_t id);

/*
 * A live trace of the requests other clients make (as redis-cli MONITOR).
 * ipc_monitor subscribes c; ipc_monitor_next waits up to timeout_ms for the
 * next event and returns it as msgpack bytes from malloc: a map {time_us,
 * client, pid, uid, name, op, object, dropped}.  dropped counts events ipcd
 * skipped before this one because this client read too slowly: a slow
 * monitor never slows ipcd.  Use c for nothing else meanwhile; after
 * -ECONNRESET, subscribe again.  -ETIMEDOUT: no event in time.
 */
IPC_API int ipc_monitor(ipc_client *c);
IPC_API int ipc_monitor_next(ipc_client *c, void **mp, size_t *len, int timeout_ms);

/*
 * Shared arrays: named segments of length elements of one type, named by
 * Python's array typecodes with their sizes on Linux:
 *   b B h H i I  int8 uint8 int16 uint16 int32 uint32
 *   l L q Q      int64 uint64 int64 uint64
 *   f d          float double
 * A value is an array of length 1.  ipcd creates the memory, zero-filled,
 * and passes it to the process, which maps it shared: ipc_array_data() is
 * plain memory, written and read with no round trip, and every process
 * that opened the array sees the same bytes.  Elements are in the machine's
 * byte order, each aligned to its size.
 *
 * Open: flags IPC_CREATE, IPC_EXCLUSIVE, IPC_NOMAP (no mapping: data is
 * NULL, only the brokered calls work), IPC_DURABLE (with IPC_CREATE: the
 * array is saved in ipcd's state directory and keeps its contents across a
 * restart; -ENOTSUP from an ipcd without one).  A process whose rights
 * (the array's mode) allow reading only gets a read-only mapping; one that
 * may write but not read gets none (data is NULL: it writes through ipcd).  typecode 0 and length 0 mean
 * "whatever the array is" when opening an existing array; creating needs
 * both.  -ENOENT: no such array; -EEXIST: exists (IPC_EXCLUSIVE); -EINVAL:
 * bad typecode, length 0 on create, an existing array of another typecode
 * or length, or the name belongs to another kind of object; -EFBIG: larger
 * than the daemon's per-array limit; -ENOSPC: the daemon's shared memory
 * budget is used up.
 *
 * The mapping stays valid until ipc_array_close(), in a forked child too
 * (whose brokered calls go through its own connection), and after the
 * array is unlinked.
 */
IPC_API int ipc_array_open(ipc_client *c, const char *name, int flags, char typecode,
			   size_t length, ipc_array **out);

/* The shared mapping, length * itemsize bytes; NULL when opened with IPC_NOMAP. */
IPC_API void *ipc_array_data(ipc_array *a);
IPC_API size_t ipc_array_length(const ipc_array *a);
IPC_API char ipc_array_typecode(const ipc_array *a);

/*
 * Copy count elements from start through ipcd (no mapping needed).  Done
 * under the array's lock: while another process holds it, the call waits
 * until it is released.  A range over the daemon's message limit (4 MiB by
 * default) is moved in several requests, each atomic.  -ERANGE: outside
 * the array; -EIDRM: the array was removed.
 */
IPC_API int ipc_array_read(ipc_array *a, size_t start, size_t count, void *out);
IPC_API int ipc_array_write(ipc_array *a, size_t start, size_t count, const void *in);

/*
 * The array's lock, held by ipcd for this process's connection; a holder
 * that exits, is killed or closes the array loses it, and the next waiter
 * gets it.  Waits up to timeout_ms (IPC_FOREVER, IPC_NOWAIT).  -ETIMEDOUT /
 * -EAGAIN: still held by another; -EDEADLK: this process holds it already.
 * Unlock: -EPERM if this process does not hold it.
 */
IPC_API int ipc_array_lock(ipc_array *a, int timeout_ms);
IPC_API int ipc_array_unlock(ipc_array *a);

/*
 * Atomic fetch-and-add on element index, done by ipcd; *old (may be NULL)
 * gets the previous value.  add_i64 is for integer types, wrapping at the
 * type's width (an unsigned 64-bit old value above INT64_MAX comes back
 * as its two's complement); add_f64 for f and d.  -EINVAL: wrong kind of
 * type; -ERANGE: index outside the array.
 */
IPC_API int ipc_array_add_i64(ipc_array *a, size_t index, int64_t delta, int64_t *old);
IPC_API int ipc_array_add_f64(ipc_array *a, size_t index, double delta, double *old);

/* Unmap and free the handle; the array stays in the daemon. */
IPC_API void ipc_array_close(ipc_array *a);

/* Remove the array name; existing mappings stay valid.  -ENOENT if missing. */
IPC_API int ipc_array_unlink(ipc_client *c, const char *name);

/* The array's name, as opened. */
IPC_API const char *ipc_array_name(const ipc_array *a);

/* The array's stat map as msgpack bytes from malloc (see ipc_queue_stat). */
IPC_API int ipc_array_stat(ipc_array *a, void **mp, size_t *len);

/*
 * Message encoding.  ipcd carries a message as opaque bytes; the
 * convention that ipcctl and the bindings follow is that a message is one
 * msgpack value (ipcctl queue put q '"hi"' stores the 3 bytes a2 68 69, a
 * msgpack string).  These helpers write and read the scalar values without
 * msgpack-c; for arrays and maps use a msgpack library.
 *
 * ipc_msg_pack_*: encode into buf (cap bytes) and return the encoding's
 * size, as snprintf does: nothing is written when it is larger than cap, so
 * a call with cap 0 measures.  -EINVAL for a NULL pointer with a length, or
 * a length over 4 GiB - 1.  A str is text (UTF-8 by convention), a bin raw
 * bytes; ipcctl shows both.
 *
 * ipc_msg_unpack_*: read msg (len bytes) when it is exactly one value of
 * that type: 0, or -EBADMSG (another type, or more or fewer bytes).  *s
 * points into msg, not NUL-terminated; str and bin both read.  An integer
 * above INT64_MAX is -ERANGE; unpack_double reads integers too.
 */
IPC_API ssize_t ipc_msg_pack_str(void *buf, size_t cap, const char *s, size_t len);
IPC_API ssize_t ipc_msg_pack_bin(void *buf, size_t cap, const void *data, size_t len);
IPC_API ssize_t ipc_msg_pack_int(void *buf, size_t cap, int64_t v);
IPC_API ssize_t ipc_msg_pack_double(void *buf, size_t cap, double v);
IPC_API int ipc_msg_unpack_str(const void *msg, size_t len, const char **s, size_t *slen);
IPC_API int ipc_msg_unpack_int(const void *msg, size_t len, int64_t *v);
IPC_API int ipc_msg_unpack_double(const void *msg, size_t len, double *v);

#ifdef __cplusplus
}
#endif
#endif
