/*
 * server.h - the broker: listening socket, signals, limits, and the set of
 * connections and objects.  One struct server exists per daemon; everything
 * reaches it through the connection or object it works on.
 */
#ifndef IPCD_SERVER_H
#define IPCD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

struct event_base;
struct event;
struct conn;
struct object;
struct qlog_dir;

struct limits {
	size_t max_message;      /* bytes in one message */
	unsigned max_clients;    /* connections served at once */
	size_t queue_maxsize;    /* messages; applies to queues created with 0; 0 unbounded */
	size_t queue_maxbytes;   /* payload bytes; likewise */
	size_t max_memory;       /* payload bytes queued or parked, all queues; 0 unbounded */
	size_t max_output;       /* reply bytes pending to one client before it is cut off */
	size_t max_objects;      /* named objects at once */
};

#define LIMITS_DEFAULT { \
	.max_message = 4u << 20, .max_clients = 1024, .queue_maxsize = 0, \
	.queue_maxbytes = 0, .max_memory = (size_t)1 << 30, .max_output = 64u << 20, \
	.max_objects = 65536 }

#define SERVER_SOCKET_MODE 0666  /* who may connect; each object has its own mode */

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(object_list, object);

struct server {
	struct event_base *base;
	struct limits lim;
	char *socket_path;           /* owned; unlinked on shutdown */
	int listen_fd;
	int lock_fd;                 /* flock on socket_path.lock: one ipcd per path */
	struct event *accept_ev;
	struct event *accept_retry;  /* re-enables accept after EMFILE */
	struct event *sig_ev[3];
	struct conn_list conns;
	unsigned nconns;
	uint64_t next_conn_id;
	/* The namespace: a hash of names plus a list in creation order. */
	struct object **buckets;
	size_t nbuckets;             /* a power of two */
	struct object_list objects;
	size_t nobjects;
	size_t mem_used;             /* payload bytes queued or parked */
	struct qlog_dir *qlogs;      /* durable queues' state directory, or NULL */
	time_t started;
	int exit_code;
};

/*
 * Create the server: bind (or take over a stale socket at) path, take the
 * per-path lock, install signal handlers.  On failure prints why on stderr
 * and returns NULL.  path is copied.
 */
struct server *server_create(const char *path, const struct limits *lim);

/*
 * Give the socket file mode and, unless gid is (gid_t)-1, that group.  On
 * failure prints why on stderr and returns a negative errno.
 */
int server_set_socket_access(struct server *srv, mode_t mode, gid_t gid);

/* Run the loop until SIGTERM/SIGINT; returns the exit code. */
int server_run(struct server *srv);

/* Close every connection and object, remove the socket file, free srv. */
void server_destroy(struct server *srv);

/* Begin a clean shutdown: answer blocked clients, stop the loop. */
void server_stop(struct server *srv);

/* The limit on one frame's body, from the message limit. */
size_t server_frame_max(const struct server *srv);

#endif
