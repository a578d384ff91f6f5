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
struct config;
struct config_source;
struct service;

struct limits {
	size_t max_message;      /* bytes in one message */
	unsigned max_clients;    /* connections served at once */
	size_t queue_maxsize;    /* messages; applies to queues created with 0; 0 unbounded */
	size_t queue_maxbytes;   /* payload bytes; likewise */
	size_t max_memory;       /* payload bytes queued or parked, all queues; 0 unbounded */
	size_t max_output;       /* reply bytes pending to one client before it is cut off */
	size_t max_objects;      /* named objects at once */
	size_t max_array_bytes;  /* bytes in one shared array */
	size_t max_shm;          /* bytes of all shared arrays together */
	size_t pipe_maxbytes;    /* payload bytes buffered in each direction of a pipe */
};

#define LIMITS_DEFAULT { \
	.max_message = 4u << 20, .max_clients = 1024, .queue_maxsize = 0, \
	.queue_maxbytes = 0, .max_memory = (size_t)1 << 30, .max_output = 64u << 20, \
	.max_objects = 65536, .max_array_bytes = (size_t)1 << 30, .max_shm = (size_t)4 << 30, \
	.pipe_maxbytes = 64u << 10 }

#define SERVER_SOCKET_MODE 0666  /* who may connect; each object has its own mode */

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(object_list, object);

struct server {
	struct event_base *base;
	struct limits lim;           /* in force; SIGHUP may change them */
	size_t frame_max;            /* body limit: the largest max_message since start + overhead */
	char *socket_path;           /* owned; the socket served */
	char *config_socket;         /* owned; the socket path configured (may be NULL) */
	const struct config_source *source;  /* what SIGHUP re-reads; borrowed */
	struct service *service;     /* the service manager's notifications */
	int listen_fd;
	bool activated;              /* listen_fd came from the service manager: not ours to unlink */
	int lock_fd;                 /* flock on socket_path.lock: one ipcd per path */
	unsigned socket_mode;        /* what the socket ipcd bound was given (for reload) */
	gid_t socket_group;
	struct event *accept_ev;
	struct event *accept_retry;  /* re-enables accept after EMFILE */
	struct event *sig_ev[2];     /* SIGTERM, SIGINT */
	struct event *hup_ev;        /* SIGHUP: re-read the configuration */
	struct event *release_ev;    /* every second: idle message chunks back to the system */
	struct conn_list conns;
	unsigned nconns;
	uint64_t next_conn_id;
	/* The namespace: a hash of names plus a list in creation order. */
	struct object **buckets;
	size_t nbuckets;             /* a power of two */
	struct object_list objects;
	size_t nobjects;
	size_t mem_used;             /* payload bytes queued or parked */
	size_t shm_used;             /* bytes of shared arrays not yet destroyed */
	struct qlog_dir *qlogs;      /* durable queues' state directory, or NULL */
	time_t started;
	int exit_code;
};

/*
 * Create the server for configuration cfg: serve the socket the service
 * manager passed, or else bind (or take over a stale socket at) cfg->socket
 * and take the per-path lock; install signal handlers.  src is what SIGHUP
 * re-reads (borrowed; it must outlive the server).  On failure prints why on
 * stderr and returns NULL.
 */
struct server *server_create(const struct config *cfg, const struct config_source *src);

/*
 * Tell the service manager ipcd is ready, then run the loop until SIGTERM or
 * SIGINT; returns the exit code.
 */
int server_run(struct server *srv);

/*
 * Re-read the configuration (SIGHUP): apply the limits and log level that
 * changed, log what changed and what needs a restart.  A configuration that
 * cannot be read or parsed is logged and leaves everything as it was.
 */
void server_reload(struct server *srv);

/* Close every connection and object, remove the socket file, free srv. */
void server_destroy(struct server *srv);

/* Begin a clean shutdown: answer blocked clients, stop the loop. */
void server_stop(struct server *srv);

/* The limit on one frame's body, from the message limit. */
size_t server_frame_max(const struct server *srv);

#endif
