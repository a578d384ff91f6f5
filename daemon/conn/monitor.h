/*
 * monitor.h - the live trace of requests (ipcctl monitor): a connection
 * that asks for it is pushed one event per request other clients make.
 */
#ifndef IPCD_MONITOR_H
#define IPCD_MONITOR_H

struct conn;
struct proto_req;

/*
 * Push c's decoded request pr to every monitoring connection but c.  A
 * monitor that does not read keeps at most MONITOR_MAX_PENDING bytes of
 * unread output: events past that are dropped and counted, and the count
 * rides with its next event, so a slow monitor never slows the daemon and
 * is never cut off for its trace.  Call only when srv->monitors is not empty.
 */
void monitor_feed(struct conn *c, const struct proto_req *pr);

#define MONITOR_MAX_PENDING (1u << 20)

#endif
