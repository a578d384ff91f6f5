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

#include "cmd.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "msgstore.h"
#include "object.h"
#include "qlog.h"
#include "reply.h"
#include "server.h"
#include "service.h"
#include "waiter.h"

static void accept_cb(evutil_socket_t fd, short what, void *arg);

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

static int take_lock(struct server *srv, const char *path)
{
	char lockpath[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];

	snprintf(lockpath, sizeof lockpath, "%s.lock", path);
	srv->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (srv->lock_fd < 0) {
		fprintf(stderr, "ipcd: cannot open lock file %s: %s\n", lockpath, strerror(errno));
		return -1;
	}
	if (flock(srv->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "ipcd: another ipcd already serves %s\n", path);
		return -1;
	}
	return 0;
}

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
	if (fd < 0 || listen(fd, 512) < 0)
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

void server_reload(struct server *srv)
{
	struct config next, cur;
	char err[512];
	unsigned clients = srv->lim.max_clients;
	int changed;

	service_reloading(srv->service);
	if (config_build(srv->source, &next, err, sizeof err) < 0) {
		log_error("reload: %s; the configuration is unchanged", err);
		service_ready(srv->service);
		return;
	}
	/* The running configuration, borrowing the server's strings. */
	config_init(&cur);
	cur.socket = srv->config_socket;
	cur.lim = srv->lim;
	cur.log_level = log_get_level();
	cur.socket_mode = srv->socket_mode;
	cur.socket_group = srv->socket_group;
	cur.state_dir = (char *)qlog_dir(srv);
	cur.fsync = (int)qlog_policy(srv);
	changed = config_apply_live(&cur, &next);
	srv->lim = cur.lim;
	cur.state_dir = NULL;   /* borrowed */
	frame_max_update(srv);
	log_set_level(cur.log_level);
	if (srv->lim.max_clients > clients)
		fd_limit_check(srv->lim.max_clients);
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

static void linger_done_cb(evutil_socket_t fd, short what, void *arg)
{
	close((int)(intptr_t)arg);
}

/*
 * Refuse client c with status and message, keeping its socket open for a
 * second: closed at once, the socket would make the client's hello fail
 * with EPIPE, or its read with ECONNRESET, before it reads why.
 */
static void refuse(struct server *srv, struct conn *c, int status, const char *msg)
{
	struct timeval tv = { 1, 0 };
	int keep = dup(c->fd);

	push_error(c, status, "%s", msg);
	conn_close(c, msg);
	if (keep >= 0 && event_base_once(srv->base, -1, EV_TIMEOUT, linger_done_cb,
					 (void *)(intptr_t)keep, &tv) < 0)
		close(keep);
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
		if (c && srv->nconns > srv->lim.max_clients) {
			char msg[80];

			log_warn("refusing client (pid %d): %u clients already", (int)c->pid,
				 srv->lim.max_clients);
			snprintf(msg, sizeof msg, "ipcd is serving its maximum of %u clients",
				 srv->lim.max_clients);
			refuse(srv, c, -EUSERS, msg);
		}
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

struct server *server_create(const struct config *cfg, const struct config_source *src)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	static const struct timeval release_every = { 1, 0 };
	struct server *srv = calloc(1, sizeof *srv);
	int r;

	if (!srv)
		return NULL;
	srv->lim = cfg->lim;
	frame_max_update(srv);
	srv->source = src;
	srv->listen_fd = -1;
	srv->lock_fd = -1;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->objects);
	srv->started = time(NULL);
	signal(SIGPIPE, SIG_IGN);
	srv->base = event_base_new();
	if (cfg->socket)
		srv->config_socket = strdup(cfg->socket);
	if (!srv->base || (cfg->socket && !srv->config_socket)) {
		fprintf(stderr, "ipcd: cannot set up the event loop\n");
		goto fail;
	}
	srv->socket_mode = cfg->socket_mode;
	srv->socket_group = cfg->socket_group;
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
		if (!srv->socket_path || bind_socket(srv, cfg->socket) < 0 ||
		    set_socket_access(srv, cfg->socket_mode, cfg->socket_group) < 0)
			goto fail;

	} else if (r < 0) {
		goto fail;
	}
	fd_limit_check(srv->lim.max_clients);
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
	/* Durable queues' logs first: written, fsynced and closed, their files kept. */
	qlog_stop(srv);
	while ((c = TAILQ_FIRST(&srv->conns)))
		conn_close(c, "shutdown");
	object_destroy_all(srv);
	qlog_free(srv);
	/* Run the deferred frees of closed connections. */
	if (srv->base)
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
	for (size_t i = 0; i < sizeof srv->sig_ev / sizeof srv->sig_ev[0]; i++)
		if (srv->sig_ev[i])
			event_free(srv->sig_ev[i]);
	if (srv->hup_ev)
		event_free(srv->hup_ev);
	if (srv->release_ev)
		event_free(srv->release_ev);
	service_destroy(srv->service);
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
	free(srv->socket_path);
	free(srv->config_socket);
	free(srv);
}
