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
struct metrics;
struct monitor;

struct limits {
	size_t max_message;      /* bytes in one message */
	unsigned max_clients;    /* connections served at once */
	unsigned max_clients_per_user; /* of them, of one uid (root and ipcd's own: any) */
	unsigned idle_timeout;   /* seconds before a connection holding and sending
				    nothing is closed; 0 never */
	size_t queue_maxsize;    /* messages; applies to queues created with 0; 0 unbounded */
	size_t queue_maxbytes;   /* payload bytes; likewise */
	size_t max_memory;       /* payload bytes queued or parked, plus every connection's
				    input and output buffers; 0 unbounded */
	size_t max_output;       /* reply bytes pending to one client before it is cut off */
	size_t max_objects;      /* named objects at once */
	size_t max_array_bytes;  /* bytes in one shared array */
	size_t max_shm;          /* bytes of all shared arrays together */
	size_t pipe_maxbytes;    /* payload bytes buffered in each direction of a pipe */
	unsigned cluster_replicas; /* replicas of a queue that cluster-queues sends to the cluster */
	unsigned cluster_ack_wait; /* seconds the engine waits for a cluster queue's ack before
				      delivering again (for queues created afterwards) */
	size_t ring_slots;       /* slots of a local queue's shared-memory ring; 0: no rings */
	size_t ring_slot_bytes;  /* bytes of one slot, its 16-byte header included */
};

#define LIMITS_DEFAULT { \
	.max_message = 4u << 20, .max_clients = 1024, .max_clients_per_user = 512, \
	.idle_timeout = 0, .queue_maxsize = 0, \
	.queue_maxbytes = 0, .max_memory = (size_t)1 << 30, .max_output = 64u << 20, \
	.max_objects = 65536, .max_array_bytes = (size_t)1 << 30, .max_shm = (size_t)4 << 30, \
	.pipe_maxbytes = 64u << 10, .cluster_replicas = 3, .cluster_ack_wait = 30, \
	.ring_slots = 1024, .ring_slot_bytes = 256 }

#define SERVER_SOCKET_MODE 0666  /* who may connect; each object has its own mode */

/*
 * Connections kept for root and ipcd's own user: others are refused once
 * max_clients minus this many are connected (at most a quarter of
 * max_clients), so that an administrator can always get in.
 */
#define SERVER_ROOT_RESERVE 4u

/* Connections of one uid (see server_user_count). */
struct user_conns {
	uid_t uid;
	unsigned n;
};

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(object_list, object);
TAILQ_HEAD(monitor_list, monitor);

struct server {
	struct event_base *base;
	struct limits lim;           /* in force; SIGHUP may change them */
	size_t frame_max;            /* body limit: the largest max_message since start + overhead */
	char *socket_path;           /* owned; the socket served */
	char *config_socket;         /* owned; the socket path configured (may be NULL) */
	const struct config_source *source;  /* what SIGHUP re-reads; borrowed */
	uint32_t cfg_set;            /* config_keys given by the file or command line (config.set) */
	uint32_t live_set;           /* config_keys changed by config.set since the last reload */
	struct monitor_list monitors; /* connections that asked for a trace (monitor.c) */
	unsigned nmonitors;
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
	struct conn_list conns;      /* served */
	unsigned nconns;
	struct conn_list closing;    /* sending a last error before they close (conn.c) */
	struct user_conns *users;    /* connections served per uid, uids with some */
	size_t nusers, users_cap;
	struct event *idle_ev;       /* closes idle connections; NULL when idle_timeout is 0 */
	uint64_t next_conn_id;
	/* The namespace: a hash of names plus a list in creation order. */
	struct object **buckets;
	size_t nbuckets;             /* a power of two */
	struct object_list objects;
	size_t nobjects;
	size_t mem_used;             /* payload bytes queued or parked */
	size_t buf_used;             /* bytes in the connections' input and output buffers */
	size_t shm_used;             /* bytes of shared arrays not yet destroyed */
	struct qlog_dir *qlogs;      /* durable queues' state directory, or NULL */
	struct metrics *metrics;     /* /metrics and the fsync histogram (metrics.c) */
	uint64_t refused;            /* connections refused at max-clients, total */
	uint64_t cutoffs;            /* clients cut off for unread output, total */
	time_t started;
	int exit_code;
	struct cluster *cluster;     /* the JetStream cluster's connection, or NULL (cluster.c) */
	char *cluster_queues;        /* owned; names matching this glob go to the cluster, or NULL */
	/* An open dispatched again by its kind's lookup (cmd.c): the object it made
	 * for it (reported as created), and whether to skip the lookup this time. */
	struct object *open_made;
	bool open_again;
	bool destroying;             /* server_destroy runs: objects go, but not from the cluster */
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

/*
 * The configuration in force into cur (config_init'ed here), borrowing the
 * server's strings: the caller must not config_free it.
 */
void server_config_get(const struct server *srv, struct config *cur);

/*
 * Put next's live settings in force (limits, log level), logging each
 * change and the ones that need a restart.  Returns how many changed.
 */
int server_config_apply(struct server *srv, const struct config *next);

/*
 * May c administer the daemon (kill others' clients, change settings, trace
 * commands)?  root and the user ipcd runs as may.
 */
bool server_is_admin(const struct server *srv, const struct conn *c);

/* Close every connection and object, remove the socket file, free srv. */
void server_destroy(struct server *srv);

/* Begin a clean shutdown: answer blocked clients, stop the loop. */
void server_stop(struct server *srv);

/* The limit on one frame's body, from the message limit. */
size_t server_frame_max(const struct server *srv);

/*
 * The bytes counted against max_memory: payload queued or parked, and what
 * the connections' buffers hold (requests read, replies not yet written).
 */
static inline size_t server_mem_total(const struct server *srv)
{
	return srv->mem_used + srv->buf_used;
}

/* Is ipcd past its memory budget? */
static inline bool server_over_budget(const struct server *srv)
{
	return srv->lim.max_memory && server_mem_total(srv) > srv->lim.max_memory;
}

/*
 * Count one more (delta 1) or one fewer (-1) connection of uid as served.
 * 0, or -ENOMEM (nothing counted).
 */
int server_user_count(struct server *srv, uid_t uid, int delta);

#endif
