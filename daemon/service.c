/*
 * service.c - socket activation and sd_notify through libsystemd (see
 * service.h).  Built without libsystemd (IPCD_SYSTEMD off), ipcd binds its
 * own socket and sends no notifications, and says so if a manager expected
 * otherwise.
 *
 * STATUS= is cheap: a change only arms a timer, and the line is sent at most
 * once a second and only when its text differs from the last one sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#if IPCD_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "server.h"
#include "service.h"

#define STATUS_INTERVAL_MS 1000

struct service {
	struct server *srv;
	bool notify;                 /* a manager listens on $NOTIFY_SOCKET */
	bool stopping;               /* STOPPING=1 sent: no more STATUS= */
	struct event *watchdog;      /* pings at half of $WATCHDOG_USEC; NULL: none */
	struct event *status_timer;  /* a pending STATUS= refresh */
	int64_t status_sent_ms;      /* monotonic time of the last STATUS= */
	char status[256];            /* the last STATUS= text sent */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#if IPCD_SYSTEMD

int service_listen_fd(void)
{
	int n = sd_listen_fds(1), fd = SD_LISTEN_FDS_START, r;

	if (n == 0)
		return -ENOENT;
	if (n < 0) {
		fprintf(stderr, "ipcd: sockets from the service manager: %s\n", strerror(-n));
		return n;
	}
	if (n > 1) {
		fprintf(stderr, "ipcd: the service manager passed %d sockets; ipcd serves one\n", n);
		return -EINVAL;
	}
	r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
	if (r <= 0) {
		fprintf(stderr, "ipcd: the socket the service manager passed is not a listening "
			"Unix stream socket\n");
		return r < 0 ? r : -EINVAL;
	}
	/* sd_listen_fds made it close-on-exec; accept4 must not block. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		fprintf(stderr, "ipcd: the passed socket: %s\n", strerror(errno));
		return -errno;
	}
	return fd;
}

static void notify(const struct service *svc, const char *state)
{
	int r;

	if (!svc->notify)
		return;
	r = sd_notify(0, state);
	if (r < 0)
		log_warn("cannot notify the service manager: %s", strerror(-r));
}

/* Half of $WATCHDOG_USEC in microseconds, or 0 when no pings are asked for. */
static uint64_t watchdog_interval(void)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);

	if (r < 0)
		log_warn("$WATCHDOG_USEC: %s; no watchdog pings", strerror(-r));
	return r > 0 ? usec / 2 : 0;
}

#else

int service_listen_fd(void)
{
	if (getenv("LISTEN_FDS"))
		fprintf(stderr, "ipcd: built without systemd support: $LISTEN_FDS is ignored\n");
	return -ENOENT;
}

static void notify(const struct service *svc, const char *state)
{
}

static uint64_t watchdog_interval(void)
{
	return 0;
}

#endif

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	notify(arg, "WATCHDOG=1");
}

/* The one-line summary the manager shows (systemctl status). */
static void status_text(const struct service *svc, char *buf, size_t len)
{
	const struct server *srv = svc->srv;

	snprintf(buf, len, "%u client%s, %zu object%s; serving %s", srv->nconns,
		 srv->nconns == 1 ? "" : "s", srv->nobjects, srv->nobjects == 1 ? "" : "s",
		 srv->socket_path);
}

/* Send STATUS= (after extra, e.g. "READY=1\n") if it changed or extra is given. */
static void send_status(struct service *svc, const char *extra)
{
	char text[sizeof svc->status], msg[sizeof svc->status + 64];

	status_text(svc, text, sizeof text);
	if (!*extra && strcmp(text, svc->status) == 0)
		return;
	snprintf(msg, sizeof msg, "%sSTATUS=%s", extra, text);
	notify(svc, msg);
	strcpy(svc->status, text);
	svc->status_sent_ms = now_ms();
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
	send_status(arg, "");
}

struct service *service_create(struct server *srv)
{
	struct service *svc = calloc(1, sizeof *svc);
	const char *sock = getenv("NOTIFY_SOCKET");
	uint64_t interval;

	if (!svc)
		return NULL;
	svc->srv = srv;
#if IPCD_SYSTEMD
	svc->notify = sock && *sock;
#else
	if (sock && *sock)
		log_warn("built without systemd support: no notifications to $NOTIFY_SOCKET");
#endif
	if (!svc->notify)
		return svc;
	svc->status_timer = evtimer_new(srv->base, status_cb, svc);
	if (!svc->status_timer)
		goto fail;
	interval = watchdog_interval();
	if (interval) {
		struct timeval tv = { (time_t)(interval / 1000000),
				      (suseconds_t)(interval % 1000000) };

		svc->watchdog = event_new(srv->base, -1, EV_PERSIST, watchdog_cb, svc);
		if (!svc->watchdog || event_add(svc->watchdog, &tv) < 0)
			goto fail;
		log_info("watchdog: pinging the service manager every %llu ms",
			 (unsigned long long)(interval / 1000));
	}
	return svc;
fail:
	service_destroy(svc);
	return NULL;
}

void service_destroy(struct service *svc)
{
	if (!svc)
		return;
	if (svc->watchdog)
		event_free(svc->watchdog);
	if (svc->status_timer)
		event_free(svc->status_timer);
	free(svc);
}

void service_ready(struct service *svc)
{
	if (svc->notify)
		send_status(svc, "READY=1\n");
}

void service_reloading(struct service *svc)
{
	notify(svc, "RELOADING=1");
}

void service_stopping(struct service *svc)
{
	svc->stopping = true;
	if (svc->status_timer)
		evtimer_del(svc->status_timer);
	notify(svc, "STOPPING=1\nSTATUS=shutting down");
}

void service_changed(struct service *svc)
{
	int64_t wait;
	struct timeval tv;

	if (!svc || !svc->notify || svc->stopping || evtimer_pending(svc->status_timer, NULL))
		return;
	wait = svc->status_sent_ms + STATUS_INTERVAL_MS - now_ms();
	if (wait < 0)
		wait = 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(svc->status_timer, &tv);
}
