/*
 * ctl_watch.h - samples of the daemon's figures taken one interval apart,
 * and the rates between two of them: what ipcctl stat prints as a line and
 * ipcctl top as a screen.
 */
#ifndef CTL_WATCH_H
#define CTL_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

/* One queue's figures in a sample. */
struct watch_queue {
	char *name;                 /* owned */
	uint64_t depth, inflight, consumers;
	uint64_t puts, gets, redelivered;   /* totals since the queue was created */
	double in_rate, out_rate, redelivered_rate;  /* per second since the previous sample */
};

/* The daemon's figures at one moment. */
struct watch_sample {
	int64_t at_ms;              /* monotonic */
	uint64_t clients, memory, max_memory, objects, uptime;
	char version[32];
	struct watch_queue *queues; /* sorted by name */
	size_t nqueues;
	double in_rate, out_rate, redelivered_rate;  /* over every queue */
	int rated;                  /* the rates are set: there was a previous sample */
};

/*
 * Take a sample of c's daemon into s (emptied first).  0, or a negative
 * errno (the daemon's, or -EPROTO for a reply of another shape).
 */
int watch_take(ipc_client *c, struct watch_sample *s);

/*
 * Set now's rates from prev, taken earlier (prev may be empty: then no
 * rates).  A queue missing from prev, or whose totals went down (removed and
 * made again), counts from zero.
 */
void watch_rate(struct watch_sample *now, const struct watch_sample *prev);

/* Free what s holds; s is empty afterwards. */
void watch_clear(struct watch_sample *s);

/* Monotonic milliseconds. */
int64_t watch_now_ms(void);

/* bytes as "512", "12.3K", "4.0M", "1.2G" into buf. */
void watch_format_bytes(uint64_t bytes, char *buf, size_t len);

/* A rate as "0", "12", "1234", "12.3k", "4.56M" into buf. */
void watch_format_rate(double rate, char *buf, size_t len);

#endif
