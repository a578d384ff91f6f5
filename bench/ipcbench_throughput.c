/*
 * ipcbench_throughput.c - modes rt, many and stream: forked producers put
 * stamped messages (one put each, put_many, or put_async and a flush) and
 * forked consumers get them (get, or get_many with prefetch) through one
 * queue or pipe; every message taken exactly once, in order per producer,
 * and the queue left holding what it should.  Also the prefill and the
 * checks and result head the other modes reuse.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

#include <ipcclient.h>

#include "bench.h"
#include "ipcbench.h"

#define GET_POLL_MS 200          /* a consumer rechecks whether the run is over this often */

/* Put the k messages of buf stamped as producer p from seq on, with put_many. */
static int put_batch(ipc_queue *q, char *buf, size_t size, unsigned k, unsigned p,
		     unsigned long seq)
{
	struct iovec iov[k];
	int rc;

	for (unsigned i = 0; i < k; i++) {
		iov[i].iov_base = buf + (size_t)i * size;
		iov[i].iov_len = size;
		bench_stamp_write(iov[i].iov_base, p, (uint32_t)(seq + i));
	}
	for (unsigned done = 0; done < k; done += (unsigned)rc) {
		rc = ipc_queue_put_many(q, iov + done, k - done, IPC_FOREVER);
		if (rc == 0)
			rc = -EIO;   /* no progress without a timeout breaks the contract */
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Put count messages stamped as producer p, from seq 0, with put, put_many or put_async. */
static int produce(const struct opts *o, struct chan *ch, unsigned p, unsigned long count,
		   struct bench_run *r)
{
	unsigned batch = o->batched && !o->async ? o->batch : 1;
	char *buf = message_buffer(o->size, batch);
	int rc = 0;

	for (unsigned long seq = 0; seq < count && rc >= 0; ) {
		if (r && __atomic_load_n(&r->failed, __ATOMIC_RELAXED))
			break;
		if (o->async) {
			bench_stamp_write(buf, p, (uint32_t)seq);
			rc = ipc_queue_put_async(ch->q, buf, o->size);
			seq++;
			continue;
		}
		if (o->batched) {
			unsigned k = count - seq < batch ? (unsigned)(count - seq) : batch;

			rc = put_batch(ch->q, buf, o->size, k, p, seq);
			seq += k;
			continue;
		}
		bench_stamp_write(buf, p, (uint32_t)seq);
		rc = chan_put(ch, buf, o->size);
		seq++;
	}
	if (o->async && rc >= 0)
		rc = ipc_queue_flush(ch->q, IPC_FOREVER);
	free(buf);
	if (rc < 0)
		fprintf(stderr, "ipcbench: producer %u: put: %s\n", p, ipc_strerror(rc));
	return rc < 0 ? rc : 0;
}

static int producer_main(void *arg)
{
	struct bench_worker *w = arg;
	const struct opts *o = w->opts;
	struct chan ch;
	int rc;

	chan_open(o, END_SEND, &ch);
	if (bench_gate_pass(w->gate) < 0)
		return 1;
	rc = produce(o, &ch, w->id, bench_layout_count(w->lay, w->id), w->run);
	w->run->put_ns[w->id] = bench_now_ns();
	if (rc < 0)
		bench_run_fail(w->run);
	chan_close(&ch);
	return rc < 0;
}

/*
 * Take what one get (or get_many) returns, at *now: how many messages, -1
 * if one broke the rules, or the negative errno of the get.
 */
static int consume_some(const struct opts *o, struct bench_taken *t, struct chan *ch,
			struct iovec *iov, uint64_t *now)
{
	void *data;
	size_t len;
	int rc;

	if (o->batched) {
		int n = ipc_queue_get_many(ch->q, iov, o->batch, GET_POLL_MS);

		*now = bench_now_ns();
		if (n == 0) {
			fprintf(stderr, "ipcbench: get_many returned no message\n");
			return -1;
		}
		rc = n;
		for (int i = 0; i < n; i++) {
			if (rc > 0 && bench_take(t, iov[i].iov_base, iov[i].iov_len, *now) < 0)
				rc = -1;
			free(iov[i].iov_base);
		}
		return rc;
	}
	rc = chan_get(ch, &data, &len, GET_POLL_MS);
	*now = bench_now_ns();
	if (rc < 0)
		return rc;
	rc = bench_take(t, data, len, *now) < 0 ? -1 : 1;
	free(data);
	return rc;
}

static int consumer_main(void *arg)
{
	struct bench_worker *w = arg;
	const struct opts *o = w->opts;
	struct bench_taken t;
	struct iovec *iov = calloc(o->batch, sizeof *iov);
	uint64_t now, last = bench_now_ns();
	struct chan ch;
	int rc = 0;

	if (!iov)
		return 1;
	bench_taken_init(&t, w->lay, o->size, w->seen, w->hist, w->id);
	chan_open(o, END_RECV, &ch);
	if (o->prefetch && (rc = ipc_queue_set_prefetch(ch.q, o->prefetch)) < 0)
		die("set_prefetch", rc);
	if (bench_gate_pass(w->gate) < 0)
		return 1;
	while (!bench_run_over(w->run, o->count)) {
		rc = consume_some(o, &t, &ch, iov, &now);
		if (rc == -ETIMEDOUT || rc == -EAGAIN) {
			if (now - last > (uint64_t)STALL_MS * 1000000u) {
				fprintf(stderr, "ipcbench: consumer %u: no message for %d s\n",
					w->id, STALL_MS / 1000);
				rc = -1;
				break;
			}
			rc = 0;
			continue;
		}
		if (rc < 0) {
			if (rc != -1)
				fprintf(stderr, "ipcbench: consumer %u: get: %s\n", w->id,
					ipc_strerror(rc));
			break;
		}
		last = now;
		w->run->last_ns[w->id] = now;
		__atomic_fetch_add(&w->run->consumed, (uint64_t)rc, __ATOMIC_RELAXED);
	}
	w->run->received[w->id] = t.n;
	if (rc < 0)
		bench_run_fail(w->run);
	chan_close(&ch);
	free(iov);
	return rc < 0;
}

int expect_size(ipc_queue *q, long want)
{
	uint64_t end = bench_now_ns() + 5000000000ull;
	long n;

	for (;;) {
		n = ipc_queue_size(q);
		if (n == want)
			return 0;
		if (n < 0 || bench_now_ns() > end)
			break;
		poll(NULL, 0, 10);
	}
	fprintf(stderr, "ipcbench: the queue holds %ld messages at the end, not %ld\n", n, want);
	return -1;
}

void fill(const struct opts *o, struct chan *ch, unsigned producer, unsigned long n)
{
	struct opts f = *o;
	int rc;

	f.batched = true;
	f.async = false;
	rc = produce(&f, ch, producer, n, NULL);
	if (rc < 0)
		exit(1);
}

void print_head(const struct opts *o, const char *mode)
{
	bench_result_begin("ipcd", mode);
	bench_result_str("kind", o->pipe ? "pipe" : "queue");
	if (o->durable)
		bench_result_str("durable", o->durable);
	if (o->noring)
		bench_result_str("path", "socket");
	bench_result_u("p", o->producers);
	bench_result_u("c", o->consumers);
	bench_result_u("size", o->size);
	bench_result_u("count", o->count);
}

int run_throughput(const struct opts *o)
{
	struct bench_fleet f;
	uint64_t fill_ns;
	struct chan ch;
	int failed;

	bench_fleet_init(&f, o->producers, o->consumers, o->count, o->depth);
	chan_create(o, &ch);
	fill_ns = bench_now_ns();
	fill(o, &ch, o->producers, o->depth);
	fill_ns = bench_now_ns() - fill_ns;
	failed = bench_fleet_run(&f, o, producer_main, consumer_main, RUN_LIMIT_MS) < 0;
	if (!failed && !o->pipe)
		failed = expect_size(ch.q, (long)(o->count + o->depth - f.received)) < 0;
	if (!failed) {
		print_head(o, o->async ? "stream" : o->batched ? "many" : "rt");
		bench_result_u("depth", o->depth);
		if (o->batched) {
			bench_result_u("batch", o->batch);
			bench_result_u("prefetch", o->prefetch);
		}
		bench_result_u("received", f.received);
		bench_result_rate(f.received, o->size, f.t1 - f.t0);
		bench_result_hist(&f.total);
		if (o->depth)
			bench_result_f("fill_secs", (double)fill_ns / 1e9);
		bench_result_end();
	}
	chan_remove(o, &ch);
	bench_fleet_free(&f);
	return failed;
}
