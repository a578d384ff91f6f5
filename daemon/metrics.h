/*
 * metrics.h - the daemon's figures for Prometheus: /metrics in the text
 * exposition format, served over HTTP by libevent's evhttp on ipcd's own
 * event loop, and the measurements that only it shows (the fsync latency
 * histogram, counters of refused and cut-off clients live in the server).
 */
#ifndef IPCD_METRICS_H
#define IPCD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct metrics;

/* Upper bounds (seconds) of the fsync latency histogram's buckets, ascending. */
#define METRICS_HIST_BOUNDS \
	{ 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, \
	  0.25, 0.5, 1, 2.5, 5, 10 }
#define METRICS_HIST_NBOUNDS 16

/* A Prometheus histogram of durations. */
struct metrics_histogram {
	uint64_t bucket[METRICS_HIST_NBOUNDS + 1];  /* per bucket, not cumulative; the last: +Inf */
	uint64_t count;
	double sum;                                 /* seconds */
};

/* Count one observation of seconds in h. */
void metrics_histogram_observe(struct metrics_histogram *h, double seconds);

/*
 * The metrics of srv, with no endpoint yet (metrics_listen opens one).
 * NULL when out of memory.
 */
struct metrics *metrics_create(struct server *srv);

/* Close the endpoint and its connections, and free m (NULL is fine). */
void metrics_destroy(struct metrics *m);

/*
 * Serve /metrics on addr ("IPv4:PORT", "[IPv6]:PORT" or "localhost:PORT";
 * PORT 0 picks a free one), or stop serving when addr is NULL.  A different
 * address replaces the endpoint; if the new one cannot be bound the old one
 * is kept.  1 when the endpoint changed, 0 when addr is what it serves
 * already (or both are off), or a negative errno with the reason in err.
 */
int metrics_listen(struct metrics *m, const char *addr, char *err, size_t errlen);

/* The address served, port resolved ("127.0.0.1:9464"), or NULL when off. */
const char *metrics_address(const struct metrics *m);

/*
 * Check that addr is an address metrics_listen takes, without binding it.
 * 0, or -EINVAL with the reason in err.
 */
int metrics_addr_check(const char *addr, char *err, size_t errlen);

/*
 * Count one fsync of a durable log that took seconds into srv's fsync
 * histogram (nothing when srv has no metrics).  The durable store times its
 * own fsyncs, through its I/O table, and reports them here.
 */
void metrics_fsync_observe(struct server *srv, double seconds);

/*
 * For metrics_text.c: the fsync histogram, the responses being written, and
 * the seconds the previous body took to build.
 */
const struct metrics_histogram *metrics_fsync_histogram(const struct metrics *m);
unsigned metrics_pending(const struct metrics *m);
double metrics_last_build(const struct metrics *m);

/*
 * Append srv's figures in the text exposition format to the malloc'd buffer
 * *buf of *len bytes (capacity *cap), growing it.  0 or -ENOMEM.
 */
int metrics_render(struct server *srv, char **buf, size_t *len, size_t *cap);

#endif
