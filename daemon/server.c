/*
 * server.c - the listening socket, accepting clients, signals, reloading the
 * configuration and shutdown.
 *
 * The socket is the one the service manager passed (socket activation), or
 * else one ipcd binds itself.  One ipcd per socket path: a flock on
 * PATH.lock decides it, and a socket file left by a dead ipcd (the lock is
 * free, connect is refused) is replaced.  A passed socket belongs to the
 * manager: no lock, and it is never unlinked.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster.h"
#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "cqueue.h"
#include "log.h"
#include "metrics.h"
#include "msgstore.h"
#include "object.h"
#include "qlog.h"
#include "reply.h"
#include "server.h"
#include "service.h"
#include "statedir.h"
#include "waiter.h"

static void accept_cb(evutil_socket_t fd, short what, void *arg);
static void idle_update(struct server *srv);

size_t server_frame_max(const struct server *srv)
{
	return srv->frame_max;
}

/*
 * A lowered max_message keeps the frame limit: clients told the old limit at
 * their hello then get -EMSGSIZE for a large message, not a cut connection.
 */
static void frame_max_update(struct server *srv)
{
	if (srv->lim.max_message + IPC_FRAME_OVERHEAD > srv->frame_max)
		srv->frame_max = srv->lim.max_message + IPC_FRAME_OVERHEAD;
}

/* Allow as many descriptors as the hard limit permits; warn if too few. */
static void fd_limit_check(unsigned max_clients)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_clients + 32)
		log_warn("the descriptor limit (%llu) is below max-clients (%u) plus a margin",
			 (unsigned long long)rl.rlim_cur, max_clients);
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Is an ipcd answering on path? */
static bool socket_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
	close(fd);
	return live;
}

/*
 * Take PATH.lock.  The socket's directory must be ipcd's own, or sticky
 * (like /tmp), so that no one else can swap the lock or the socket; the
 * lock file is never opened through a symbolic link, and must be a regular
 * file of ipcd's user.
 */
static int take_lock(struct server *srv, const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], lockname[sizeof dir + 8];
	const char *slash = strrchr(path, '/'), *why = NULL;
	struct stat st;
	int dfd;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	snprintf(lockname, sizeof lockname, "%s.lock", slash ? slash + 1 : path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		fprintf(stderr, "ipcd: cannot open the socket's directory %s: %s\n", dir,
			strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	why = statedir_unsafe(&st, true);
	if (why) {
		fprintf(stderr, "ipcd: refusing the socket's directory %s: %s\n", dir, why);
		close(dfd);
		return -1;
	}
	srv->lock_fd = openat(dfd, lockname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	close(dfd);
	if (srv->lock_fd < 0) {
		fprintf(stderr, "ipcd: cannot open lock file %s.lock: %s\n", path,
			errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(srv->lock_fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		fprintf(stderr, "ipcd: refusing lock file %s.lock: not a regular file of ipcd's "
			"user\n", path);
		return -1;
	}
	if (flock(srv->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "ipcd: another ipcd already serves %s\n", path);
		return -1;
	}
	return 0;
}

/* Bind a private socket at path, replacing a stale one; the caller listens. */
static int bind_socket(struct server *srv, const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (fill_addr(&sa, path) < 0) {
		fprintf(stderr, "ipcd: socket path too long: %s\n", path);
		return -1;
	}
	if (take_lock(srv, path) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "ipcd: %s exists and is not a socket\n", path);
			return -1;
		}
		if (socket_is_live(&sa)) {
			fprintf(stderr, "ipcd: another ipcd already serves %s\n", path);
			return -1;
		}
		log_info("replacing stale socket %s", path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		/* Born private; set_socket_access opens it to whom it should. */
		mode_t old = umask(0177);
		int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);

		umask(old);
		if (rc < 0)
			goto fail;
	}
	if (fd < 0)
		goto fail;
	srv->listen_fd = fd;
	return 0;
fail:
	fprintf(stderr, "ipcd: cannot listen on %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Give the socket file mode and, unless gid is (gid_t)-1, that group. */
static int set_socket_access(struct server *srv, mode_t mode, gid_t gid)
{
	if (gid != (gid_t)-1 && chown(srv->socket_path, (uid_t)-1, gid) < 0) {
		int err = errno;

		fprintf(stderr, "ipcd: cannot give socket %s to group %u: %s\n", srv->socket_path,
			(unsigned)gid, strerror(err));
		return -err;
	}
	if (chmod(srv->socket_path, mode) < 0) {
		int err = errno;

		fprintf(stderr, "ipcd: cannot set the mode of socket %s: %s\n", srv->socket_path,
			strerror(err));
		return -err;
	}
	return 0;
}

/*
 * Take over the socket the service manager passed.  0, -ENOENT: none, or -1.
 * explicit: the configured socket path was given, not a default.
 */
static int take_passed_socket(struct server *srv, bool explicit)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof sa;
	int fd = service_listen_fd();

	if (fd < 0)
		return fd == -ENOENT ? fd : -1;
	srv->listen_fd = fd;
	srv->activated = true;
	memset(&sa, 0, sizeof sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sun_path[0])
		srv->socket_path = strndup(sa.sun_path, sizeof sa.sun_path);
	else
		srv->socket_path = strdup("(socket passed by the service manager)");
	if (!srv->socket_path)
		return -1;
	if (explicit && strcmp(srv->config_socket, srv->socket_path) != 0)
		log_warn("serving %s, passed by the service manager; the configured socket %s "
			 "is not used", srv->socket_path, srv->config_socket);
	return 0;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	log_info("signal %d: shutting down", (int)sig);
	server_stop(arg);
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	server_reload(arg);
}

/* SIGHUP: serve /metrics where the configuration now says.  1 if it changed. */
static int reload_metrics(struct server *srv, const char *addr)
{
	char was[128], err[256];
	int r;

	snprintf(was, sizeof was, "%s", metrics_address(srv->metrics) ? metrics_address(srv->metrics)
									: "off");
	r = metrics_listen(srv->metrics, addr, err, sizeof err);
	if (r < 0) {
		log_error("reload: metrics: %s; keeping %s", err, was);
		return 0;
	}
	if (r > 0)
		log_info("metrics: %s -> %s", was, addr ? metrics_address(srv->metrics) : "off");
	return r;
}

/*
 * Connect to the cluster urls names (NULL: none), replacing a connection to
 * other URLs.  Requests in flight on the old one fail (their callers try
 * again or answer).  1 if it changed, 0, or -1 when the new one could not be
 * set up (err says why).
 */
static int cluster_set(struct server *srv, const char *urls, char *err, size_t errlen)
{
	struct cluster *old = srv->cluster, *cl = NULL;

	if ((!old && !urls) || (old && urls && strcmp(cluster_urls(old), urls) == 0))
		return 0;
	if (urls && cluster_create(srv, urls, &cl, err, errlen) < 0)
		return -1;
	cqueue_cluster_gone(srv);
	srv->cluster = NULL;
	cluster_destroy(old);
	srv->cluster = cl;
	return 1;
}

/* SIGHUP: the cluster and the names mapped to it, as the configuration now says. */
static int reload_cluster(struct server *srv, const struct config *next)
{
	char was[512], err[512];
	int changed = 0, r;

	snprintf(was, sizeof was, "%s", srv->cluster ? cluster_urls(srv->cluster) : "off");
	r = cluster_set(srv, next->cluster, err, sizeof err);
	if (r < 0)
		log_error("reload: cluster: %s; keeping %s", err, was);
	if (r > 0) {
		log_info("cluster: %s -> %s", was, next->cluster ? next->cluster : "off");
		changed++;
	}
	if ((srv->cluster_queues == NULL) != (next->cluster_queues == NULL) ||
	    (srv->cluster_queues && strcmp(srv->cluster_queues, next->cluster_queues) != 0)) {
		char *copy = next->cluster_queues ? strdup(next->cluster_queues) : NULL;

		if (next->cluster_queues && !copy) {
			log_error("reload: cluster-queues: out of memory");
			return changed;
		}
		log_info("cluster-queues: %s -> %s", srv->cluster_queues ? srv->cluster_queues : "off",
			 copy ? copy : "off");
		free(srv->cluster_queues);
		srv->cluster_queues = copy;
		changed++;
	}
	return changed;
}

bool server_is_admin(const struct server *srv, const struct conn *c)
{
	(void)srv;
	return c->uid == 0 || c->uid == geteuid();
}

void server_config_get(const struct server *srv, struct config *cur)
{
	config_init(cur);
	cur->socket = srv->config_socket;
	cur->lim = srv->lim;
	cur->log_level = log_get_level();
	cur->socket_mode = srv->socket_mode;
	cur->socket_group = srv->socket_group;
	cur->state_dir = (char *)qlog_dir(srv);
	cur->fsync = (int)qlog_policy(srv);
	cur->metrics = (char *)metrics_address(srv->metrics);
	cur->cluster = srv->cluster ? (char *)cluster_urls(srv->cluster) : NULL;
	cur->cluster_queues = srv->cluster_queues;
	cur->set = srv->cfg_set;
}

int server_config_apply(struct server *srv, const struct config *next)
{
	struct config cur;
	unsigned clients = srv->lim.max_clients;
	int changed;

	server_config_get(srv, &cur);
	changed = config_apply_live(&cur, next);
	srv->lim = cur.lim;
	frame_max_update(srv);
	log_set_level(cur.log_level);
	idle_update(srv);
	if (srv->lim.max_clients > clients)
		fd_limit_check(srv->lim.max_clients);
	/* cur borrows its strings: nothing to free. */
	return changed;
}

void server_reload(struct server *srv)
{
	struct config next;
	char err[512];
	int changed;

	service_reloading(srv->service);
	if (config_build(srv->source, &next, err, sizeof err) < 0) {
		log_error("reload: %s; the configuration is unchanged", err);
		service_ready(srv->service);
		return;
	}
	/*
	 * A state directory left to its default is compared as the directory
	 * that default names (what the server holds), not as "unset".
	 */
	if (!next.state_dir)
		next.state_dir = qlog_default_dir();
	changed = server_config_apply(srv, &next);
	changed += reload_metrics(srv, next.metrics);
	changed += reload_cluster(srv, &next);
	/* The file and the command line are in force again, over `config.set`. */
	srv->cfg_set = next.set;
	srv->live_set = 0;
	log_info("reloaded %s: %d setting%s changed",
		 srv->source->file ? srv->source->file : "the configuration", changed,
		 changed == 1 ? "" : "s");
	config_free(&next);
	service_ready(srv->service);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	event_add(srv->accept_ev, NULL);
}

static void release_cb(evutil_socket_t fd, short what, void *arg)
{
	msgstore_release_idle();
}

int server_user_count(struct server *srv, uid_t uid, int delta)
{
	size_t i;

	for (i = 0; i < srv->nusers && srv->users[i].uid != uid; i++)
		;
	if (i == srv->nusers) {
		if (delta < 0)
			return 0;
		if (srv->nusers == srv->users_cap) {
			size_t cap = srv->users_cap ? srv->users_cap * 2 : 8;
			struct user_conns *v = realloc(srv->users, cap * sizeof *v);

			if (!v)
				return -ENOMEM;
			srv->users = v;
			srv->users_cap = cap;
		}
		srv->users[srv->nusers++] = (struct user_conns){ uid, 0 };
	}
	if (delta > 0) {
		srv->users[i].n++;
	} else if (--srv->users[i].n == 0) {
		/* Only uids with connections stay: the list is as long as the users. */
		srv->users[i] = srv->users[--srv->nusers];
	}
	return 0;
}

static unsigned user_conns(const struct server *srv, uid_t uid)
{
	for (size_t i = 0; i < srv->nusers; i++)
		if (srv->users[i].uid == uid)
			return srv->users[i].n;
	return 0;
}

/*
 * Whether c may be served: 0, or -EUSERS with the reason in msg.  Root and
 * the user ipcd runs as have the last SERVER_ROOT_RESERVE slots to
 * themselves and no limit of their own, so no other user can lock them out.
 */
static int admit(const struct server *srv, const struct conn *c, char *msg, size_t len)
{
	unsigned max = srv->lim.max_clients;
	unsigned reserve = max / 4 < SERVER_ROOT_RESERVE ? max / 4 : SERVER_ROOT_RESERVE;
	bool privileged = c->uid == 0 || c->uid == geteuid();

	if (srv->nconns > max || (!privileged && srv->nconns > max - reserve)) {
		snprintf(msg, len, "ipcd is serving its maximum of %u clients", max);
		return -EUSERS;
	}
	if (!privileged && user_conns(srv, c->uid) > srv->lim.max_clients_per_user) {
		snprintf(msg, len, "uid %u has its maximum of %u connections to ipcd",
			 (unsigned)c->uid, srv->lim.max_clients_per_user);
		return -EUSERS;
	}
	return 0;
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server *srv = arg;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				struct timeval tv = { 0, 100 * 1000 };

				log_warn("accept: %s; pausing new connections", strerror(errno));
				event_del(srv->accept_ev);
				evtimer_add(srv->accept_retry, &tv);
			}
			return;
		}
		c = conn_create(srv, fd);
		if (c) {
			char msg[96];
			int rc = admit(srv, c, msg, sizeof msg);

			if (rc < 0) {
				log_warn("refusing client (pid %d uid %u): %s", (int)c->pid,
					 (unsigned)c->uid, msg);
				srv->refused++;
				/* Sent before the close: the client reads why. */
				push_error(c, rc, "%s", msg);
				conn_close_flushed(c, msg);
			}
		}
	}
}

/* Close the connections that held nothing and sent nothing for idle_timeout. */
static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (conn_idle_for(c) >= (int64_t)srv->lim.idle_timeout * 1000) {
			push_error(c, -ETIMEDOUT, "idle for %u seconds, holding nothing: closed",
				   srv->lim.idle_timeout);
			conn_close_flushed(c, "idle");
		}
	}
}

/* Run the idle check once a second while idle_timeout is set, not otherwise. */
static void idle_update(struct server *srv)
{
	struct timeval tv = { 1, 0 };

	if (!srv->lim.idle_timeout) {
		if (srv->idle_ev)
			event_free(srv->idle_ev);
		srv->idle_ev = NULL;
		return;
	}
	if (srv->idle_ev)
		return;
	srv->idle_ev = event_new(srv->base, -1, EV_PERSIST, idle_cb, srv);
	if (!srv->idle_ev || event_add(srv->idle_ev, &tv) < 0) {
		log_error("cannot start the idle timer: idle connections stay");
		if (srv->idle_ev)
			event_free(srv->idle_ev);
		srv->idle_ev = NULL;
	}
}

/*
 * Durable queues: a state directory given is made and taken now, the
 * default one when the first durable queue needs it; their queues come back.
 */
static int start_durability(struct server *srv, const struct config *cfg)
{
	char *dir = cfg->state_dir ? strdup(cfg->state_dir) : qlog_default_dir();
	int rc;

	if (!dir) {
		log_warn("no state directory (no HOME): durable queues are off");
		return 0;
	}
	rc = qlog_start(srv, dir, (enum qlog_fsync)cfg->fsync, cfg->state_dir != NULL);
	free(dir);
	return rc;
}

/* /metrics, when an address is configured. */
static int start_metrics(struct server *srv, const struct config *cfg)
{
	char err[256];

	if (!cfg->metrics)
		return 0;
	if (metrics_listen(srv->metrics, cfg->metrics, err, sizeof err) < 0) {
		fprintf(stderr, "ipcd: metrics: %s\n", err);
		return -1;
	}
	log_info("serving metrics on http://%s/metrics", metrics_address(srv->metrics));
	return 0;
}

struct server *server_create(const struct config *cfg, const struct config_source *src)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	static const struct timeval release_every = { 1, 0 };
	struct server *srv = calloc(1, sizeof *srv);
	int r;

	if (!srv)
		return NULL;
	srv->lim = cfg->lim;
	srv->cfg_set = cfg->set;
	frame_max_update(srv);
	srv->source = src;
	srv->listen_fd = -1;
	srv->lock_fd = -1;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->closing);
	TAILQ_INIT(&srv->monitors);
	TAILQ_INIT(&srv->objects);
	srv->started = time(NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The cluster's client calls the loop from its threads (cluster.c): the base
	 * locks, whether or not a cluster is configured yet (a reload may add one). */
	cluster_loop_init();
	srv->base = event_base_new();
	if (cfg->socket)
		srv->config_socket = strdup(cfg->socket);
	if (!srv->base || (cfg->socket && !srv->config_socket)) {
		fprintf(stderr, "ipcd: cannot set up the event loop\n");
		goto fail;
	}
	srv->socket_mode = cfg->socket_mode;
	srv->socket_group = cfg->socket_group;
	srv->metrics = metrics_create(srv);
	if (!srv->metrics) {
		fprintf(stderr, "ipcd: out of memory\n");
		goto fail;
	}
	/* Durable queues are back before the first client can connect. */
	if (start_durability(srv, cfg) < 0)
		goto fail;
	r = take_passed_socket(srv, config_is_set(cfg, "socket"));
	if (r == -ENOENT) {
		if (!cfg->socket) {
			fprintf(stderr, "ipcd: no socket path: give -s PATH or socket = PATH in "
				"the configuration, or set IPCD_SOCKET or XDG_RUNTIME_DIR\n");
			goto fail;
		}
		srv->socket_path = strdup(cfg->socket);
		/* Listen only once the mode is set: no client ever meets the private socket. */
		if (!srv->socket_path || bind_socket(srv, cfg->socket) < 0 ||
		    set_socket_access(srv, cfg->socket_mode, cfg->socket_group) < 0)
			goto fail;
		if (listen(srv->listen_fd, 512) < 0) {
			fprintf(stderr, "ipcd: cannot listen on %s: %s\n", cfg->socket,
				strerror(errno));
			goto fail;
		}
	} else if (r < 0) {
		goto fail;
	}
	fd_limit_check(srv->lim.max_clients);
	if (start_metrics(srv, cfg) < 0)
		goto fail;
	if (cfg->cluster_queues && !(srv->cluster_queues = strdup(cfg->cluster_queues)))
		goto fail;
	{
		char err[512];

		if (cluster_set(srv, cfg->cluster, err, sizeof err) < 0) {
			fprintf(stderr, "ipcd: %s\n", err);
			goto fail;
		}
	}
	srv->service = service_create(srv);
	if (!srv->service)
		goto fail;
	srv->accept_ev = event_new(srv->base, srv->listen_fd, EV_READ | EV_PERSIST, accept_cb, srv);
	srv->accept_retry = evtimer_new(srv->base, accept_retry_cb, srv);
	if (!srv->accept_ev || !srv->accept_retry || event_add(srv->accept_ev, NULL) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		srv->sig_ev[i] = evsignal_new(srv->base, sigs[i], signal_cb, srv);
		if (!srv->sig_ev[i] || event_add(srv->sig_ev[i], NULL) < 0)
			goto fail;
	}
	srv->hup_ev = evsignal_new(srv->base, SIGHUP, hup_cb, srv);
	if (!srv->hup_ev || event_add(srv->hup_ev, NULL) < 0)
		goto fail;
	idle_update(srv);
	srv->release_ev = event_new(srv->base, -1, EV_PERSIST, release_cb, srv);
	if (!srv->release_ev || event_add(srv->release_ev, &release_every) < 0)
		goto fail;
	return srv;
fail:
	server_destroy(srv);
	return NULL;
}

int server_run(struct server *srv)
{
	log_info("serving %s%s (max %u clients, messages up to %zu bytes)", srv->socket_path,
		 srv->activated ? ", passed by the service manager" : "",
		 srv->lim.max_clients, srv->lim.max_message);
	service_ready(srv->service);
	if (event_base_dispatch(srv->base) < 0) {
		log_error("event loop failed");
		return 1;
	}
	return srv->exit_code;
}

void server_stop(struct server *srv)
{
	struct conn *c, *next;

	service_stopping(srv->service);
	/* No new clients; blocked ones get an answer before the loop ends. */
	if (srv->accept_ev)
		event_del(srv->accept_ev);
	for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
		next = TAILQ_NEXT(c, link);
		waiter_fail_conn(c, -ESHUTDOWN, "ipcd is shutting down");
		conn_flush(c);
	}
	event_base_loopbreak(srv->base);
}

void server_destroy(struct server *srv)
{
	struct conn *c;

	if (!srv)
		return;
	srv->destroying = true;
	/* Durable queues' logs first: written, fsynced and closed, their files kept. */
	qlog_stop(srv);
	while ((c = TAILQ_FIRST(&srv->conns)))
		conn_close(c, "shutdown");
	while ((c = TAILQ_FIRST(&srv->closing)))
		conn_close(c, "shutdown");
	object_destroy_all(srv);
	qlog_free(srv);
	/* After the queues, whose last acknowledgements and NAKs it sends. */
	cluster_destroy(srv->cluster);
	srv->cluster = NULL;
	/* Run the deferred frees of closed connections. */
	if (srv->base)
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
	for (size_t i = 0; i < sizeof srv->sig_ev / sizeof srv->sig_ev[0]; i++)
		if (srv->sig_ev[i])
			event_free(srv->sig_ev[i]);
	if (srv->hup_ev)
		event_free(srv->hup_ev);
	if (srv->idle_ev)
		event_free(srv->idle_ev);
	if (srv->release_ev)
		event_free(srv->release_ev);
	service_destroy(srv->service);
	metrics_destroy(srv->metrics);
	if (srv->accept_ev)
		event_free(srv->accept_ev);
	if (srv->accept_retry)
		event_free(srv->accept_retry);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		if (!srv->activated)
			unlink(srv->socket_path);
	}
	if (srv->lock_fd >= 0)
		close(srv->lock_fd);
	if (srv->base)
		event_base_free(srv->base);
	cmd_cleanup();
	reply_cleanup();
	msgstore_cleanup();
	cluster_cleanup();
	free(srv->cluster_queues);
	free(srv->socket_path);
	free(srv->config_socket);
	free(srv->users);
	free(srv);
}
