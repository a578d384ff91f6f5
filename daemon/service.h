/*
 * service.h - ipcd under a service manager (systemd): the listening socket
 * it passes (socket activation), and the notifications that tell it ipcd is
 * ready, what it is doing, that it is stopping, and that its loop is alive
 * (the watchdog).  Without a manager ($LISTEN_FDS and $NOTIFY_SOCKET unset)
 * all of it is inert.
 */
#ifndef IPCD_SERVICE_H
#define IPCD_SERVICE_H

struct server;
struct service;

/*
 * The listening socket the service manager passed: a non-blocking,
 * close-on-exec listening Unix stream socket (>= 0); -ENOENT when none was
 * passed; another negative errno, after printing why on stderr, when what
 * was passed cannot be served.
 */
int service_listen_fd(void);

/*
 * Notifications for srv: arms the watchdog timer when $WATCHDOG_USEC asks
 * for pings.  NULL when out of memory.
 */
struct service *service_create(struct server *srv);
void service_destroy(struct service *svc);

/* READY=1 with the first STATUS=: srv serves clients now. */
void service_ready(struct service *svc);

/* RELOADING=1 while SIGHUP re-reads the configuration; service_ready after it. */
void service_reloading(struct service *svc);

/* STOPPING=1: shutdown has begun. */
void service_stopping(struct service *svc);

/*
 * The number of clients or objects changed: refresh STATUS= soon.  Updates
 * are coalesced to at most one a second, so calling this is cheap.
 */
void service_changed(struct service *svc);

#endif
