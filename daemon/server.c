/*
 * server.c - the listening socket, accepting clients, signals and shutdown.
 *
 * One ipcd per socket path: a flock on PATH.lock decides it, and a socket
 * file left by a dead ipcd (the lock is free, connect is refused) is replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "cmd.h"
#include "conn.h"
#include "log.h"
#include "object.h"
#include "qlog.h"
#include "reply.h"
#include "server.h"
#include "waiter.h"

static void accept_cb(evutil_socket_t fd, short what, void *arg);

size_t server_frame_max(const struct server *srv)
{
	return srv->lim.max_message + IPC_FRAME_OVERHEAD;
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
		/* Born private; server_set_socket_access opens it to whom it should. */
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

int server_set_socket_access(struct server *srv, mode_t mode, gid_t gid)
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

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	log_info("signal %d: shutting down", (int)sig);
	server_stop(arg);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	event_add(srv->accept_ev, NULL);
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
			log_warn("refusing client (pid %d): %u clients already", (int)c->pid,
				 srv->lim.max_clients);
			push_error(c, -EUSERS, "ipcd is serving its maximum of %u clients",
				   srv->lim.max_clients);
			conn_close(c, "too many clients");
		}
	}
}

struct server *server_create(const char *path, const struct limits *lim)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	struct server *srv = calloc(1, sizeof *srv);

	if (!srv)
		return NULL;
	srv->lim = *lim;
	srv->listen_fd = -1;
	srv->lock_fd = -1;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->objects);
	srv->started = time(NULL);
	srv->socket_path = strdup(path);
	signal(SIGPIPE, SIG_IGN);
	srv->base = event_base_new();
	if (!srv->socket_path || !srv->base) {
		fprintf(stderr, "ipcd: cannot set up the event loop\n");
		goto fail;
	}
	if (bind_socket(srv, path) < 0)
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
	return srv;
fail:
	server_destroy(srv);
	return NULL;
}

int server_run(struct server *srv)
{
	log_info("serving %s (max %u clients, messages up to %zu bytes)", srv->socket_path,
		 srv->lim.max_clients, srv->lim.max_message);
	if (event_base_dispatch(srv->base) < 0) {
		log_error("event loop failed");
		return 1;
	}
	return srv->exit_code;
}

void server_stop(struct server *srv)
{
	struct conn *c, *next;

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
	if (srv->accept_ev)
		event_free(srv->accept_ev);
	if (srv->accept_retry)
		event_free(srv->accept_retry);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		unlink(srv->socket_path);
	}
	if (srv->lock_fd >= 0)
		close(srv->lock_fd);
	if (srv->base)
		event_base_free(srv->base);
	cmd_cleanup();
	reply_cleanup();
	free(srv->socket_path);
	free(srv);
}
