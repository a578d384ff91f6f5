/*
 * ipcbench_latency.c - latency mode: one producer and one consumer with
 * one message in flight (the consumer acknowledges each over a pipe, or the
 * producer paces itself), through a queue or a one-way pipe; the
 * put-to-get latency's distribution, optionally written as a CDF.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <ipcclient.h>

#include "bench.h"
#include "ipcbench.h"

/* A latency run's worker: a fleet's, and the consumer's acknowledgements to the producer. */
struct latency_worker {
	struct bench_worker w;
	int ack[2];
};

/* Latency mode: one message in flight; the consumer acks each over a pipe (or paced). */
static int latency_consumer(void *arg)
{
	struct latency_worker *lw = arg;
	struct bench_worker *w = &lw->w;
	const struct opts *o = w->opts;
	unsigned long warm = o->count / 10 < 100 ? o->count / 10 : 100;
	struct bench_taken t;
	struct chan ch;
	int rc = 0;

	bench_taken_init(&t, w->lay, o->size, w->seen, NULL, 0);
	close(lw->ack[0]);
	chan_open(o, END_RECV, &ch);
	if (o->prefetch && (rc = ipc_queue_set_prefetch(ch.q, o->prefetch)) < 0)
		die("set_prefetch", rc);
	if (bench_gate_pass(w->gate) < 0)
		return 1;
	for (unsigned long i = 0; i < o->count; i++) {
		void *data;
		size_t len;
		char b = 'a';

		rc = chan_get(&ch, &data, &len, STALL_MS);
		if (rc < 0) {
			fprintf(stderr, "ipcbench: latency: get: %s\n", ipc_strerror(rc));
			break;
		}
		/* The first messages warm caches and connections; they are checked, not timed. */
		t.hist = i < warm ? NULL : w->hist;
		rc = bench_take(&t, data, len, bench_now_ns());
		free(data);
		if (rc < 0 || (o->pace_us == 0 && write(lw->ack[1], &b, 1) != 1)) {
			rc = -1;
			break;
		}
	}
	w->run->received[0] = t.n;
	close(lw->ack[1]);
	chan_close(&ch);
	return rc < 0;
}

static int latency_producer(void *arg)
{
	struct latency_worker *lw = arg;
	struct bench_worker *w = &lw->w;
	const struct opts *o = w->opts;
	char *buf = message_buffer(o->size, 1);
	struct chan ch;
	int rc = 0;

	close(lw->ack[1]);
	chan_open(o, END_SEND, &ch);
	if (bench_gate_pass(w->gate) < 0)
		return 1;
	for (unsigned long i = 0; i < o->count; i++) {
		char b;

		bench_stamp_write(buf, 0, (uint32_t)i);
		rc = chan_put(&ch, buf, o->size);
		if (rc < 0) {
			fprintf(stderr, "ipcbench: latency: put: %s\n", ipc_strerror(rc));
			break;
		}
		if (o->pace_us) {
			struct timespec ts = { o->pace_us / 1000000, (long)(o->pace_us % 1000000) * 1000 };

			nanosleep(&ts, NULL);
		} else if (read(lw->ack[0], &b, 1) != 1) {
			rc = -1;
			break;
		}
	}
	free(buf);
	chan_close(&ch);
	return rc < 0;
}

int run_latency(const struct opts *o)
{
	struct bench_layout lay;
	struct bench_run *r = bench_shared(sizeof *r);
	struct bench_hist *hist = bench_shared(sizeof *hist);
	struct opts one = *o;
	size_t bmbytes;
	unsigned char *seen;
	struct latency_worker ws[2];
	struct bench_gate gate;
	pid_t pids[2];
	int ack[2], failed;
	uint64_t t0;
	struct chan ch;

	one.producers = one.consumers = 1;
	one.depth = 0;
	bench_layout_init(&lay, 1, o->count, 0);
	bmbytes = bench_layout_bitmap(&lay);
	seen = bench_shared(bmbytes);
	chan_create(o, &ch);
	if (pipe(ack) < 0)
		die("pipe", -errno);
	bench_gate_init(&gate);
	for (int i = 0; i < 2; i++) {
		ws[i] = (struct latency_worker){
			.w = { .opts = &one, .lay = &lay, .run = r, .hist = hist, .seen = seen,
			       .gate = &gate },
			.ack = { ack[0], ack[1] } };
		pids[i] = bench_fork(i ? latency_consumer : latency_producer, &ws[i]);
	}
	close(ack[0]);
	close(ack[1]);
	failed = bench_gate_wait(&gate, 2) < 0;
	t0 = bench_now_ns();
	bench_gate_open(&gate);
	failed |= bench_wait_all(pids, 2, RUN_LIMIT_MS) < 0;
	t0 = bench_now_ns() - t0;
	bench_gate_close(&gate);
	if (!failed && r->received[0] != o->count) {
		fprintf(stderr, "ipcbench: latency: %llu of %lu messages received\n",
			(unsigned long long)r->received[0], o->count);
		failed = 1;
	}
	if (!failed && !o->pipe)
		failed = expect_size(ch.q, 0) < 0;
	if (!failed) {
		one.count = o->count;
		print_head(&one, "latency");
		bench_result_u("pace_us", o->pace_us);
		bench_result_u("prefetch", o->prefetch);
		bench_result_u("received", r->received[0]);
		bench_result_rate(o->count, o->size, t0);
		bench_result_hist(hist);
		bench_result_end();
		if (o->cdf && bench_hist_write_cdf(hist, o->cdf) < 0) {
			fprintf(stderr, "ipcbench: cannot write %s\n", o->cdf);
			failed = 1;
		}
	}
	chan_remove(o, &ch);
	bench_shared_free(seen, bmbytes);
	bench_shared_free(hist, sizeof *hist);
	bench_shared_free(r, sizeof *r);
	return failed;
}
