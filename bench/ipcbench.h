/*
 * ipcbench.h - what the parts of ipcbench share: the run's options, the
 * channel the messages travel through (a queue, or one end of a one-way
 * pipe), and each mode's entry point.  Every run_* returns 0, or non-zero
 * when the run failed or a check of what it measured did not hold (the
 * reason on stderr); results go to stdout as one key=value line (bench.h).
 */
#ifndef IPCD_IPCBENCH_H
#define IPCD_IPCBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ipcclient.h>

#include "bench.h"

#define STALL_MS 30000           /* no message for this long fails the run */
#define RUN_LIMIT_MS (15 * 60 * 1000)

struct opts {
	const char *sock;        /* NULL: libipcclient's default */
	const char *ipcd;        /* start this daemon for the run, or NULL */
	const char *mode;
	char name[64];           /* of the queue or pipe */
	bool pipe;               /* a one-way pipe instead of a queue */
	unsigned producers, consumers;
	unsigned long count;     /* messages moved by the producers */
	unsigned long depth;     /* messages queued before the run starts */
	size_t size;             /* bytes per message */
	unsigned batch;          /* many: messages per put_many; many, stream: per get_many */
	unsigned prefetch;       /* consumer prefetch; 0 off */
	unsigned clients;        /* clients mode: concurrent clients */
	unsigned per_client;     /* clients mode: messages each puts and gets */
	unsigned pace_us;        /* latency mode: pause between messages; 0 ping-pong */
	const char *cdf;         /* latency mode: where to write the distribution, or NULL */
	bool batched;            /* consumers use get_many, producers put_many */
	bool async;              /* batched, but producers use put_async and a flush */
	const char *durable;     /* durable queues, the daemon started with this fsync
				    policy (with --ipcd); NULL: plain queues */
	bool noring;             /* queues without a shared-memory ring: by the socket */
};

/*
 * What the messages travel through: a queue, or one end of a one-way pipe
 * (the producer sends on end 1, the consumer receives on end 0).
 */
struct chan {
	ipc_client *c;
	ipc_queue *q;            /* NULL for a pipe */
	ipc_pipe *p;             /* NULL for a queue */
};

#define END_RECV 0
#define END_SEND 1

/* Print "ipcbench: what: the error of rc" and exit(1). */
__attribute__((noreturn))
void die(const char *what, int rc);

/* The attributes of the queue made for the run: durable with --durable, --noring. */
const ipc_queue_attr *queue_attr(const struct opts *o);

/* In a worker: connect and open the queue, or end of the pipe, that the parent made. */
void chan_open(const struct opts *o, int end, struct chan *ch);
void chan_close(struct chan *ch);

/*
 * In the parent, before the workers start: an emptied queue, or a new
 * one-way pipe (the parent's handle never uses its end, so the end stays
 * free for the consumer).
 */
void chan_create(const struct opts *o, struct chan *ch);

/* In the parent, at the end: remove the queue or pipe, and close ch. */
void chan_remove(const struct opts *o, struct chan *ch);

/* Put or send one message, waiting as long as it takes: 0 or a negative errno. */
int chan_put(struct chan *ch, const void *data, size_t len);

/* Get or receive one message (the caller frees *data): 0 or a negative errno. */
int chan_get(struct chan *ch, void **data, size_t *len, int timeout_ms);

/* n message buffers of size bytes, filled with a fixed pattern; exits when out of memory. */
char *message_buffer(size_t size, unsigned n);

/* Queue n messages stamped as producer, with put_many (the parent's prefill); exits on failure. */
void fill(const struct opts *o, struct chan *ch, unsigned producer, unsigned long n);

/* Wait up to 5 s for q to hold want messages (consumers' prefetch is handed back on close). */
int expect_size(ipc_queue *q, long want);

/* Begin the result line of mode with the fields every queue mode reports. */
void print_head(const struct opts *o, const char *mode);

/* The pid of whoever serves the Unix socket path (SO_PEERCRED), or -1. */
pid_t server_pid(const char *path);

/* Modes rt, many and stream: producers and consumers through one queue or pipe. */
int run_throughput(const struct opts *o);

/* Latency mode: one message in flight, the put-to-get latency's distribution. */
int run_latency(const struct opts *o);

/* Memory mode: the daemon's resident memory per queued message. */
int run_memory(const struct opts *o);

/* Clients mode: many clients connected at once, each putting and getting. */
int run_clients(const struct opts *o);

#endif
