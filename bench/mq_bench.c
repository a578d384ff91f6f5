/*
 * mq_bench.c - ipcbench's queue scenarios over a brokerless messaging
 * library (ZeroMQ or nng, see mq.h) on ipc:// endpoints, that is Unix
 * sockets, so that bench/run.sh can set them beside ipcd, Redis and
 * multiprocessing.Queue in one run:
 *
 *   push     PUSH/PULL: producers stream, consumers take (throughput)
 *   reqrep   REQ/REP: each message a request, answered by the consumer
 *            before the producer sends the next (throughput)
 *   latency  REQ/REP, one producer and one consumer, one message in flight:
 *            the time from the send to the consumer's receive
 *
 * Each consumer binds its own endpoint and every producer connects to all
 * of them; the libraries spread a producer's messages over its peers.
 * Messages carry bench.h's stamp and are checked like ipcbench's (each
 * exactly once, in order per producer and consumer).  Output: one line of
 * key=value pairs; --cdf FILE also writes the latency distribution.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "mq.h"

#define POLL_MS 200              /* a receive waits this long before rechecking the run */
#define STALL_NS 30000000000ull  /* no message for this long fails the run */
#define RUN_LIMIT_MS (15 * 60 * 1000)

struct opts {
	const char *mode;
	const char *dir;             /* the endpoints' directory */
	const char *cdf;             /* --cdf FILE, or NULL */
	unsigned producers, consumers;
	unsigned long count;
	size_t size;
	bool reqrep;                 /* REQ/REP rather than PUSH/PULL */
	bool latency;                /* latency mode: the first messages are not timed */
};

static void url_of(const struct opts *o, unsigned consumer, char *buf, size_t len)
{
	snprintf(buf, len, "ipc://%s/c%u", o->dir, consumer);
}

/* "zmq_bench" or "nng_bench", for messages. */
static const char *prog(void)
{
	return strncmp(mq_library(), "zmq", 3) == 0 ? "zmq_bench" : "nng_bench";
}

static void die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog(), what, strerror(-err));
	exit(1);
}

/* Wait until the consumers took everything (or the run failed): only then may a sender close. */
static void wait_taken(struct bench_run *run, unsigned long count)
{
	uint64_t t0 = bench_now_ns();

	while (!bench_run_over(run, count) && bench_now_ns() - t0 < STALL_NS)
		usleep(1000);
}

/*
 * In a consumer: wait until every producer is done (or the run failed), so
 * that closing drops no answer a REQ producer still waits for.
 */
static void wait_producers(struct bench_run *run, unsigned producers)
{
	uint64_t t0 = bench_now_ns();

	for (unsigned i = 0; i < producers; i++)
		while (!__atomic_load_n(&run->put_ns[i], __ATOMIC_ACQUIRE) && !run->failed &&
		       bench_now_ns() - t0 < STALL_NS)
			usleep(1000);
}

static int producer_main(void *arg)
{
	struct bench_worker *w = arg;
	const struct opts *o = w->opts;
	unsigned long count = bench_layout_count(w->lay, w->id);
	char *buf = malloc(o->size), url[256];
	struct mq_sock *s;
	int rc;

	if (!buf)
		die("malloc", -ENOMEM);
	memset(buf, 'x', o->size);
	rc = mq_open(o->reqrep ? MQ_REQ : MQ_PUSH, &s);
	if (rc < 0)
		die("socket", rc);
	for (unsigned i = 0; i < o->consumers; i++) {
		uint64_t t0 = bench_now_ns();

		/*
		 * Connect once the consumer is bound: a connection refused is retried
		 * only after the library's reconnect interval, which would be timed.
		 */
		url_of(o, i, url, sizeof url);
		while (access(url + strlen("ipc://"), F_OK) < 0 && bench_now_ns() - t0 < STALL_NS)
			usleep(1000);
		/* The file comes with bind(), a moment before listen(). */
		while ((rc = mq_connect(s, url)) == -ECONNREFUSED && bench_now_ns() - t0 < STALL_NS)
			usleep(1000);
		if (rc < 0)
			die(url, rc);
	}
	if (bench_gate_pass(w->gate) < 0)
		return 1;
	for (unsigned long seq = 0; seq < count && rc == 0; seq++) {
		struct mq_msg m;

		bench_stamp_write(buf, w->id, (uint32_t)seq);
		rc = mq_send(s, buf, o->size);
		if (rc < 0 || !o->reqrep)
			continue;
		/*
		 * The consumer's answer, in one receive: nng's REQ socket gives up
		 * its request when a receive times out.  The consumers stay until
		 * every producer had its last answer (wait_producers).
		 */
		rc = mq_recv(s, &m, STALL_NS / 1000000);
		if (rc == 0)
			mq_msg_free(&m);
		else if (rc == -EAGAIN)
			rc = -ETIMEDOUT;
	}
	__atomic_store_n(&w->run->put_ns[w->id], bench_now_ns(), __ATOMIC_RELEASE);
	if (rc < 0) {
		fprintf(stderr, "%s: producer %u: %s\n", prog(), w->id, strerror(-rc));
		bench_run_fail(w->run);
	}
	wait_taken(w->run, o->count);
	mq_close(s);
	free(buf);
	return rc < 0;
}

static int consumer_main(void *arg)
{
	struct bench_worker *w = arg;
	const struct opts *o = w->opts;
	uint64_t last = bench_now_ns();
	unsigned long warm = !o->latency ? 0 : o->count / 10 < 100 ? o->count / 10 : 100;
	struct bench_taken t;
	struct mq_sock *s;
	char url[256];
	int rc;

	bench_taken_init(&t, w->lay, o->size, w->seen, w->hist, w->id);
	rc = mq_open(o->reqrep ? MQ_REP : MQ_PULL, &s);
	if (rc < 0)
		die("socket", rc);
	url_of(o, w->id, url, sizeof url);
	if ((rc = mq_bind(s, url)) < 0)
		die(url, rc);
	if (bench_gate_pass(w->gate) < 0)
		return 1;
	while (!bench_run_over(w->run, o->count)) {
		struct mq_msg m;
		uint64_t now;

		rc = mq_recv(s, &m, POLL_MS);
		now = bench_now_ns();
		if (rc == -EAGAIN) {
			rc = 0;
			if (now - last > STALL_NS) {
				fprintf(stderr, "%s: consumer %u: no message for 30 s\n", prog(),
					w->id);
				rc = -ETIMEDOUT;
				break;
			}
			continue;
		}
		if (rc < 0)
			break;
		/* In latency runs the first messages warm caches and connections: checked, not timed. */
		t.hist = t.n < warm ? NULL : w->hist;
		rc = bench_take(&t, m.data, m.len, now) < 0 ? -EPROTO : 0;
		mq_msg_free(&m);
		if (rc == 0 && o->reqrep)
			rc = mq_send(s, "", 0);
		if (rc < 0)
			break;
		last = now;
		w->run->last_ns[w->id] = now;
		__atomic_fetch_add(&w->run->consumed, 1, __ATOMIC_RELAXED);
	}
	w->run->received[w->id] = t.n;
	if (rc < 0)
		bench_run_fail(w->run);
	wait_taken(w->run, o->count);
	wait_producers(w->run, o->producers);
	mq_close(s);
	return rc < 0;
}

static void write_cdf(const struct opts *o, const struct bench_hist *h)
{
	if (o->cdf && bench_hist_write_cdf(h, o->cdf) < 0) {
		fprintf(stderr, "%s: cannot write %s\n", prog(), o->cdf);
		exit(1);
	}
}

static int run(const struct opts *o)
{
	struct bench_fleet f;
	int failed;

	bench_fleet_init(&f, o->producers, o->consumers, o->count, 0);
	failed = bench_fleet_run(&f, o, producer_main, consumer_main, RUN_LIMIT_MS) < 0;
	if (!failed) {
		const char *lib = mq_library();

		bench_result_begin(strncmp(lib, "zmq", 3) == 0 ? "zmq" : "nng", o->mode);
		bench_result_u("p", o->producers);
		bench_result_u("c", o->consumers);
		bench_result_u("size", o->size);
		bench_result_u("count", o->count);
		bench_result_u("received", f.received);
		bench_result_rate(f.received, o->size, f.t1 - f.t0);
		bench_result_hist(&f.total);
		bench_result_str("lib", lib);
		bench_result_end();
		write_cdf(o, &f.total);
	}
	bench_fleet_free(&f);
	return failed;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTION]...\n"
		"Queue scenarios over %s on ipc:// endpoints; prints one line of results.\n\n"
		"  -m, --mode MODE       push (PUSH/PULL, the default), reqrep (REQ/REP, a\n"
		"                        round trip per message), latency (REQ/REP 1x1, one\n"
		"                        message in flight)\n"
		"  -p, --producers N     producer processes (default 1)\n"
		"  -c, --consumers N     consumer processes (default 1)\n"
		"  -n, --count N         messages (default 100k; k and m suffixes)\n"
		"  -z, --size BYTES      bytes per message (default 64, at least %zu)\n"
		"      --cdf FILE        write the latency distribution: lines of\n"
		"                        \"microseconds fraction\"\n",
		prog(), mq_library(), BENCH_STAMP_SIZE);
}

int main(int argc, char **argv)
{
	enum { OPT_CDF = 256 };
	static const struct option lopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "producers", required_argument, NULL, 'p' },
		{ "consumers", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'z' },
		{ "cdf", required_argument, NULL, OPT_CDF },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct opts o = { .mode = "push", .producers = 1, .consumers = 1, .count = 100000,
			  .size = 64 };
	char dir[] = "/tmp/mqbench.XXXXXX";
	int opt, failed;

	while ((opt = getopt_long(argc, argv, "m:p:c:n:z:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'm': o.mode = optarg; break;
		case 'p': o.producers = (unsigned)bench_parse_count("--producers", optarg); break;
		case 'c': o.consumers = (unsigned)bench_parse_count("--consumers", optarg); break;
		case 'n': o.count = bench_parse_count("--count", optarg); break;
		case 'z': o.size = bench_parse_count("--size", optarg); break;
		case OPT_CDF: o.cdf = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || o.producers < 1 || o.producers > BENCH_MAX_WORKERS ||
	    o.consumers < 1 || o.consumers > BENCH_MAX_WORKERS || o.count < 1 ||
	    o.size < BENCH_STAMP_SIZE) {
		usage(stderr);
		return 2;
	}
	if (strcmp(o.mode, "latency") == 0) {
		o.producers = o.consumers = 1;
		o.reqrep = o.latency = true;
	} else if (strcmp(o.mode, "reqrep") == 0) {
		o.reqrep = true;
	} else if (strcmp(o.mode, "push") != 0) {
		fprintf(stderr, "unknown mode '%s' (push, reqrep, latency)\n", o.mode);
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	o.dir = dir;
	failed = run(&o);
	for (unsigned i = 0; i < o.consumers; i++) {
		char path[sizeof dir + 16];

		snprintf(path, sizeof path, "%s/c%u", dir, i);
		unlink(path);
	}
	rmdir(dir);
	return failed;
}
