/*
 * bench.h - what the benchmark programs share: a monotonic clock, latency
 * histograms, the stamp every benchmark message carries, memory shared with
 * forked workers, a start gate that releases all workers at once, the fleet
 * of forked producers and consumers of a throughput run, and the one-line
 * "key=value" result format that bench/run.sh reads.
 *
 * Benchmark programs are tools, not library code: on a broken precondition
 * they print why and exit non-zero.
 */
#ifndef IPCD_BENCH_H
#define IPCD_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds: comparable across the processes of a run. */
uint64_t bench_now_ns(void);

/*
 * A log-linear latency histogram: exact below 128 ns, then 64 buckets per
 * power of two (under 1.6% error).  Plain data, so it can live in memory
 * shared with a forked worker and be merged by the parent.
 */
#define BENCH_HIST_BUCKETS 3776
struct bench_hist {
	uint64_t n;
	uint64_t bucket[BENCH_HIST_BUCKETS];
};

void bench_hist_add(struct bench_hist *h, uint64_t ns);
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/* The value at quantile q (0 < q <= 1) in nanoseconds; 0 for an empty histogram. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/*
 * Write h's distribution to path: one line "microseconds fraction" per
 * non-empty bucket, the fraction of samples at or below it (a CDF, for
 * plotting).  0, or -1 if the file cannot be written.
 */
int bench_hist_write_cdf(const struct bench_hist *h, const char *path);

/*
 * Every benchmark message starts with this stamp, so the consumer can tell
 * the latency since the put and check that each message came exactly once
 * and in order.  Messages are at least BENCH_STAMP_SIZE bytes.
 */
struct bench_stamp {
	uint64_t ts_ns;      /* bench_now_ns() when the message was handed to put */
	uint32_t producer;   /* which producer wrote it */
	uint32_t seq;        /* its number among that producer's messages, from 0 */
};
#define BENCH_STAMP_SIZE sizeof(struct bench_stamp)

/* Write a stamp, taken now, at the start of msg (at least BENCH_STAMP_SIZE bytes). */
void bench_stamp_write(void *msg, uint32_t producer, uint32_t seq);

/* Read the stamp of msg; -1 if it is shorter than a stamp. */
int bench_stamp_read(const void *msg, size_t len, struct bench_stamp *st);

/* Most producer or consumer processes in one run. */
#define BENCH_MAX_WORKERS 256

/*
 * Which message is which: producer p's message seq is number base[p] + seq
 * of the run.  The last "producer" stands for the messages queued before the
 * run starts (the prefill), which all sit ahead of the producers' messages.
 */
struct bench_layout {
	unsigned producers;                       /* real producers; the prefill is next */
	unsigned long count;                      /* messages the producers send */
	unsigned long depth;                      /* messages prefilled */
	unsigned long base[BENCH_MAX_WORKERS + 2];
};

void bench_layout_init(struct bench_layout *lay, unsigned producers, unsigned long count,
		       unsigned long depth);
/* Messages producer p sends (p == lay->producers: the prefill). */
unsigned long bench_layout_count(const struct bench_layout *lay, unsigned p);
/* Bytes of one consumer's bitmap of received messages. */
size_t bench_layout_bitmap(const struct bench_layout *lay);

/* One consumer's account of what it took. */
struct bench_taken {
	const struct bench_layout *lay;
	size_t size;                              /* the size every message must have */
	unsigned char *seen;                      /* its bitmap, usually shared */
	struct bench_hist *hist;                  /* latencies go here; NULL: not timed */
	int64_t last_seq[BENCH_MAX_WORKERS + 1];  /* per producer, -1 before the first */
	unsigned long n;                          /* messages taken */
	unsigned id;                              /* for messages */
};

void bench_taken_init(struct bench_taken *t, const struct bench_layout *lay, size_t size,
		      unsigned char *seen, struct bench_hist *hist, unsigned id);

/*
 * Check and record one message taken at now_ns: its size, its stamp, and
 * that it comes after the last one this consumer took from its producer.
 * -1 (after saying why on stderr) if it breaks a rule.
 */
int bench_take(struct bench_taken *t, const void *data, size_t len, uint64_t now_ns);

/*
 * Check the consumers' bitmaps (nconsumers of bench_layout_bitmap() bytes,
 * one after the other) together: no message twice, each producer's received
 * messages a prefix of what it sent (queues are FIFO), all of them when
 * nothing was prefilled, the prefill first.  *received: how many in all.
 * -1 (after saying why) if a check fails.
 */
int bench_verify(const struct bench_layout *lay, unsigned nconsumers,
		 const unsigned char *seen, unsigned long *received);

/* size bytes of zeroed memory shared with children forked later; exits on failure. */
void *bench_shared(size_t size);
void bench_shared_free(void *p, size_t size);

/*
 * The start gate: workers forked after bench_gate_init() call
 * bench_gate_pass() once set up (connected, queue open), which blocks until
 * the parent, having waited for all n of them with bench_gate_wait(),
 * releases them together with bench_gate_open().
 */
struct bench_gate {
	int ready[2];
	int go[2];
};

void bench_gate_init(struct bench_gate *g);
/* In a worker: report ready, wait for the start.  -1 if the parent went away. */
int bench_gate_pass(struct bench_gate *g);
/* In the parent: wait until n workers are ready.  -1 if one died first. */
int bench_gate_wait(struct bench_gate *g, int n);
void bench_gate_open(struct bench_gate *g);
void bench_gate_close(struct bench_gate *g);

/* Fork a worker that runs fn(arg) and exits with its result; exits on failure. */
pid_t bench_fork(int (*fn)(void *arg), void *arg);

/*
 * Wait for n workers, at most timeout_ms in all (< 0: no limit); workers
 * still running then are killed.  0 if every one exited with status 0.
 */
int bench_wait_all(const pid_t *pids, int n, int timeout_ms);

/* What the workers of one throughput run share with the parent (shared memory). */
struct bench_run {
	uint64_t consumed;                      /* messages taken by all consumers (atomic) */
	int failed;                             /* set by a failing worker: everyone stops */
	uint64_t last_ns[BENCH_MAX_WORKERS];    /* per consumer: when it took its last message */
	uint64_t received[BENCH_MAX_WORKERS];   /* per consumer: messages taken */
	uint64_t put_ns[BENCH_MAX_WORKERS];     /* per producer: when its last put returned */
};

/* A worker says the run failed: every worker stops. */
void bench_run_fail(struct bench_run *r);
/* Has the run failed, or have count messages been taken? */
int bench_run_over(struct bench_run *r, unsigned long count);

/* What a producer or consumer of a fleet gets as its argument. */
struct bench_worker {
	const void *opts;                    /* the program's options */
	const struct bench_layout *lay;
	struct bench_run *run;
	struct bench_hist *hist;             /* a consumer's histogram, shared */
	unsigned char *seen;                 /* a consumer's bitmap, shared */
	struct bench_gate *gate;
	unsigned id;                         /* among the producers, or the consumers */
};

/*
 * A throughput run: producers and consumers forked, released together by
 * the gate, awaited, their histograms merged and their bitmaps checked.
 * Between bench_fleet_init and bench_fleet_run the program may prefill
 * (the layout's last producer).
 */
struct bench_fleet {
	struct bench_layout lay;
	struct bench_run *run;               /* shared */
	struct bench_hist *hists;            /* per consumer, shared */
	struct bench_hist total;             /* all of them, after the run */
	unsigned char *seen;                 /* per consumer bitmaps, shared */
	unsigned producers, consumers;
	uint64_t t0, t1;                     /* release; last message taken or put returned */
	unsigned long received;              /* messages taken, prefill included */
};

void bench_fleet_init(struct bench_fleet *f, unsigned producers, unsigned consumers,
		      unsigned long count, unsigned long depth);
/*
 * Run the fleet: each producer runs producer(worker), each consumer
 * consumer(worker), with opts in the worker.  The whole run may take
 * limit_ms.  0 if every worker succeeded and the bitmaps check out; -1
 * (after saying why) otherwise.
 */
int bench_fleet_run(struct bench_fleet *f, const void *opts, int (*producer)(void *),
		    int (*consumer)(void *), int limit_ms);
void bench_fleet_free(struct bench_fleet *f);

/* The resident set (VmRSS) of pid in bytes, or -1. */
long long bench_rss(pid_t pid);

/* Raise RLIMIT_NOFILE to at least want descriptors; -1 if the hard limit forbids it. */
int bench_raise_nofile(unsigned long want);

/* Parse a count with an optional k/K (1000) or m/M (1000000) suffix; exits on a bad one. */
unsigned long bench_parse_count(const char *opt, const char *s);

/*
 * The result line: "bench=NAME key=value ..." on stdout.  bench_result_begin
 * starts it, the add calls append, bench_result_end prints the newline.
 */
void bench_result_begin(const char *bench, const char *mode);
void bench_result_str(const char *key, const char *value);
void bench_result_u(const char *key, unsigned long long v);
void bench_result_f(const char *key, double v);
/* msgs/s and MB/s of n messages of size bytes in ns nanoseconds. */
void bench_result_rate(unsigned long long n, size_t size, uint64_t ns);
/* p50, p99 and p999 of h in microseconds. */
void bench_result_hist(const struct bench_hist *h);
void bench_result_end(void);

#endif
