/*
 * conn.h - one client connection: its socket, buffers, identity, and the
 * list of what it holds in the daemon.
 */
#ifndef IPCD_CONN_H
#define IPCD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "hold.h"
#include "ipc_protocol.h"

struct server;
struct object;
struct evbuffer;
struct event;

/* An open object, numbered per connection (handle numbers start at 1). */
struct handle {
	struct hold hold;
	struct conn *conn;
	struct object *obj;      /* one reference owned by the handle */
	uint32_t num;
	struct hold *ext;        /* the kind's state for this handle (a queue consumer,
				    an array's mapping), owned by the handle and released
				    first; its describe, if any, describes the handle */
	unsigned rights;         /* IPC_PERM_READ | IPC_PERM_WRITE granted at open */
};

struct fdmark {
	uint64_t pos;            /* output byte position of the frame it rides with */
	int fd;                  /* owned until sent */
};

struct conn {
	TAILQ_ENTRY(conn) link;
	struct server *srv;
	uint64_t id;             /* unique for the daemon's lifetime */
	int fd;
	struct event *rev, *wev;
	struct event *grace;     /* closing: the bound on sending the last error */
	struct evbuffer *in, *out;  /* both counted in srv->buf_used */
	size_t read_size;        /* bytes asked of the next read, adapting */
	uint64_t out_sent;       /* bytes written since the start */
	uint64_t in_read;        /* bytes read since the start */
	uint64_t requests;       /* frames served */
	int64_t since_ms;        /* connected at (conn_now_ms) */
	int64_t active_ms;       /* last read bytes at (conn_now_ms) */
	struct fdmark *fdmarks;  /* descriptors to attach, ascending pos */
	size_t nfdmarks;
	/* Identity: from SO_PEERCRED (and SO_PEERGROUPS), then the hello. */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups;           /* supplementary groups, or NULL */
	unsigned ngroups;
	bool greeted;
	char name[IPC_CLIENT_NAME_MAX + 1];
	/* What it holds. */
	struct hold_list holds;
	struct handle **handles; /* handles[num - 1]; NULL slots are free */
	uint32_t handles_cap;
	uint32_t free_hint;      /* no free slot below this index */
	unsigned nhandles;
	unsigned nkeeps;         /* pipe ends kept for their claimers (pipe.c) */
	unsigned nwaiting;       /* parked requests */
	bool dead;               /* released; freed on the next loop turn */
	bool serving;            /* in its read callback, which flushes at its end */
	bool cutoff;             /* unread output over the limit: closed on its next
				    callback, and handed nothing more meanwhile */
	bool hungup;             /* the peer hung up: handed nothing more, but what it
				    sent before is still served, up to the end of file */
	bool held;               /* replies wait for a durable log's fsync (qlog.c) */
	bool paused;             /* unread output over the high-water mark: its
				    requests wait (read, not served) until it reads */
	bool eof;                /* its end of file was read: what is left in `in`
				    is served, then it is closed */
	bool closing;            /* released and off srv->conns: sending its last error
				    (conn_close_flushed), its input read and dropped */
	bool wr_shut;            /* closing: everything sent, the write side shut */
};

#define CONN_OUTPUT_HIGH (1u << 20)   /* unread reply bytes that pause a connection's requests */
#define CONN_INPUT_FLOOR (256u << 10) /* unfinished request bytes that survive an exhausted budget */
#define CONN_CLOSE_GRACE_MS 2000      /* how long a closing connection may take to read its error */

/* Take over an accepted socket.  NULL on failure (fd is closed). */
struct conn *conn_create(struct server *srv, int fd);

/*
 * Close the connection: give back everything it holds (conn_release), close
 * the socket, and free the struct on the next loop turn.  Safe to call from
 * the connection's own callbacks; the caller must not use c afterwards.
 */
void conn_close(struct conn *c, const char *why);

/*
 * Close the connection once what is queued on it (an error push) has been
 * sent: give back everything it holds now, serve nothing more, read and
 * drop what it still sends (so that its writes do not fail before it reads
 * why), and close it when its output is sent and it has hung up, or after
 * CONN_CLOSE_GRACE_MS whatever it does.  It no longer counts as a client.
 * Safe from the connection's own callbacks; c stays valid until the next
 * loop turn, but the caller must not serve it.
 */
void conn_close_flushed(struct conn *c, const char *why);

/*
 * Milliseconds c has held nothing (no handle, no parked request, nothing
 * kept for it) and sent nothing, with no bytes buffered either way; -1 when
 * it holds or has something.
 */
int64_t conn_idle_for(const struct conn *c);

/* Give back everything the connection holds (parked requests, handles...). */
void conn_release(struct conn *c);

/* Write what is pending now; arm the write event for the rest. */
void conn_flush(struct conn *c);

/* Make sure pending output will be written on this loop turn or the next. */
void conn_want_write(struct conn *c);

/*
 * Whether c can no longer take a message: closed or closing, cut off, or its peer hung
 * up without the daemon having read the end of file yet (what it sent before
 * is still read and served: a task_done or a credit sent just before a
 * client died counts).  Check before handing a message to a parked request.
 */
bool conn_gone(struct conn *c);

/*
 * Whether c is already known to be going (closed, closing, cut off or hung
 * up), without asking the kernel.  Enough where what is handed to c comes
 * back when it goes, as pushed messages do through conn_release; a parked
 * request's answer needs conn_gone.
 */
bool conn_going(const struct conn *c);

/* Cut c off: its unread output passed the limit.  It is closed on its next callback. */
void conn_cut_off(struct conn *c);

#define CONN_MAX_PENDING_FDS 1024u  /* descriptors queued for one client, not yet sent */

/*
 * Attach fd (ownership taken) to the next frame queued on c.  0, -ENOMEM, or
 * -EMFILE when c has CONN_MAX_PENDING_FDS waiting already: like unread output
 * over the limit, that cuts it off.
 */
int conn_attach_fd(struct conn *c, int fd);

/* Milliseconds on the monotonic clock: what since_ms and active_ms count in. */
int64_t conn_now_ms(void);

/* Is gid the peer's group, primary or supplementary? */
bool conn_in_group(const struct conn *c, gid_t gid);

#define CONN_MAX_HANDLES 65536u  /* open handles one connection may have */

/*
 * Reserve a handle slot of c, numbered, naming nothing yet: an open takes
 * its slot before it creates anything, so that running out of slots never
 * leaves an object behind.  0 and *out, -EMFILE when c has CONN_MAX_HANDLES
 * open already, or -ENOMEM.  Bind it or unreserve it before returning to
 * the event loop.
 */
int conn_handle_reserve(struct conn *c, struct handle **out);

/* Make reserved h a handle of obj (takes a reference) with rights (IPC_PERM_*). */
void conn_handle_bind(struct handle *h, struct object *obj, unsigned rights);

/* Give back reserved, unbound h. */
void conn_handle_unreserve(struct handle *h);

/* The handle numbered num, or NULL.  Borrowed. */
struct handle *conn_handle_find(struct conn *c, uint64_t num);

/* Drop a handle and its reference. */
void conn_handle_remove(struct handle *h);

/* Is h one of the connection's open handles (rather than another hold)? */
bool conn_hold_is_handle(const struct hold *h);

#endif
