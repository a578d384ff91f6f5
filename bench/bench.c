/*
 * bench.c - the helpers the benchmark programs share (see bench.h): clock,
 * histograms, message stamps, shared memory, the start gate, workers and
 * the result line.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define HIST_EXACT 128u     /* values below are their own bucket */
#define HIST_SUB_BITS 6     /* 64 buckets per power of two above */

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned hist_index(uint64_t v)
{
	unsigned msb, e;

	if (v < HIST_EXACT)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	e = msb - HIST_SUB_BITS;
	return HIST_EXACT + (e - 1) * (1u << HIST_SUB_BITS) +
	       (unsigned)((v >> e) - (1u << HIST_SUB_BITS));
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
	unsigned e;
	uint64_t m;

	if (i < HIST_EXACT)
		return i;
	e = (i - HIST_EXACT) / (1u << HIST_SUB_BITS) + 1;
	m = (i - HIST_EXACT) % (1u << HIST_SUB_BITS) + (1u << HIST_SUB_BITS);
	return (m << e) + (1ull << (e - 1));
}

void bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->bucket[hist_index(ns)]++;
	h->n++;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->n += src->n;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->n == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return hist_value(i);
	}
	return hist_value(BENCH_HIST_BUCKETS - 1);
}

void bench_stamp_write(void *msg, uint32_t producer, uint32_t seq)
{
	struct bench_stamp st = { bench_now_ns(), producer, seq };

	memcpy(msg, &st, sizeof st);
}

int bench_stamp_read(const void *msg, size_t len, struct bench_stamp *st)
{
	if (len < sizeof *st)
		return -1;
	memcpy(st, msg, sizeof *st);
	return 0;
}

void bench_layout_init(struct bench_layout *lay, unsigned producers, unsigned long count,
		       unsigned long depth)
{
	unsigned long each = count / producers, extra = count % producers;

	lay->producers = producers;
	lay->count = count;
	lay->depth = depth;
	lay->base[0] = 0;
	for (unsigned p = 0; p < producers; p++)
		lay->base[p + 1] = lay->base[p] + each + (p < extra);
	lay->base[producers + 1] = lay->base[producers] + depth;
}

unsigned long bench_layout_count(const struct bench_layout *lay, unsigned p)
{
	return lay->base[p + 1] - lay->base[p];
}

size_t bench_layout_bitmap(const struct bench_layout *lay)
{
	return (lay->base[lay->producers + 1] + 7) / 8;
}

void bench_taken_init(struct bench_taken *t, const struct bench_layout *lay, size_t size,
		      unsigned char *seen, struct bench_hist *hist, unsigned id)
{
	memset(t, 0, sizeof *t);
	t->lay = lay;
	t->size = size;
	t->seen = seen;
	t->hist = hist;
	t->id = id;
	for (unsigned i = 0; i <= BENCH_MAX_WORKERS; i++)
		t->last_seq[i] = -1;
}

int bench_take(struct bench_taken *t, const void *data, size_t len, uint64_t now_ns)
{
	const struct bench_layout *lay = t->lay;
	struct bench_stamp st;
	unsigned long idx;

	if (len != t->size || bench_stamp_read(data, len, &st) < 0) {
		fprintf(stderr, "consumer %u: a message of %zu bytes, not %zu\n", t->id, len,
			t->size);
		return -1;
	}
	if (st.producer > lay->producers || st.seq >= bench_layout_count(lay, st.producer)) {
		fprintf(stderr, "consumer %u: a message from nowhere (producer %u, seq %u)\n",
			t->id, st.producer, st.seq);
		return -1;
	}
	if ((int64_t)st.seq <= t->last_seq[st.producer]) {
		fprintf(stderr, "consumer %u: producer %u's message %u after its %lld\n",
			t->id, st.producer, st.seq, (long long)t->last_seq[st.producer]);
		return -1;
	}
	t->last_seq[st.producer] = st.seq;
	idx = lay->base[st.producer] + st.seq;
	t->seen[idx / 8] |= (unsigned char)(1u << (idx % 8));
	if (t->hist)
		bench_hist_add(t->hist, now_ns > st.ts_ns ? now_ns - st.ts_ns : 0);
	t->n++;
	return 0;
}

int bench_verify(const struct bench_layout *lay, unsigned nconsumers,
		 const unsigned char *seen, unsigned long *received)
{
	size_t bmbytes = bench_layout_bitmap(lay);
	unsigned long total = 0;

	for (unsigned p = 0; p <= lay->producers; p++) {
		unsigned long n = bench_layout_count(lay, p), prefix = n;
		bool gap = false;

		for (unsigned long s = 0; s < n; s++) {
			unsigned long idx = lay->base[p] + s;
			unsigned hits = 0;

			for (unsigned c = 0; c < nconsumers; c++)
				hits += (seen[c * bmbytes + idx / 8] >> (idx % 8)) & 1;
			if (hits > 1) {
				fprintf(stderr, "producer %u's message %lu was received %u times\n",
					p, s, hits);
				return -1;
			}
			if (hits == 0 && !gap) {
				gap = true;
				prefix = s;
			} else if (hits == 1 && gap) {
				fprintf(stderr, "producer %u's message %lu was received, %lu was lost\n",
					p, s, prefix);
				return -1;
			}
		}
		total += prefix;
		if (lay->depth == 0 && prefix != n) {
			fprintf(stderr, "producer %u: %lu of %lu messages received\n", p, prefix, n);
			return -1;
		}
		if (p == lay->producers && prefix < (lay->count < n ? lay->count : n)) {
			fprintf(stderr, "only %lu prefilled messages were received\n", prefix);
			return -1;
		}
	}
	*received = total;
	if (total < lay->count) {
		fprintf(stderr, "%lu of %lu messages received\n", total, lay->count);
		return -1;
	}
	return 0;
}

void *bench_shared(size_t size)
{
	void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "bench: cannot map %zu shared bytes: %s\n", size, strerror(errno));
		exit(1);
	}
	return p;
}

void bench_shared_free(void *p, size_t size)
{
	munmap(p, size ? size : 1);
}

void bench_gate_init(struct bench_gate *g)
{
	if (pipe(g->ready) < 0 || pipe(g->go) < 0) {
		fprintf(stderr, "bench: pipe: %s\n", strerror(errno));
		exit(1);
	}
}

int bench_gate_pass(struct bench_gate *g)
{
	char b = 'r';
	ssize_t n;

	close(g->ready[0]);
	close(g->go[1]);
	if (write(g->ready[1], &b, 1) != 1)
		return -1;
	close(g->ready[1]);
	/* The parent closes its end of go to start everyone: read sees EOF. */
	do
		n = read(g->go[0], &b, 1);
	while (n < 0 && errno == EINTR);
	close(g->go[0]);
	return n == 0 ? 0 : -1;
}

int bench_gate_wait(struct bench_gate *g, int n)
{
	char buf[64];

	if (g->ready[1] >= 0) {
		close(g->ready[1]);
		g->ready[1] = -1;
	}
	while (n > 0) {
		ssize_t r = read(g->ready[0], buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n -= (int)r;
	}
	return 0;
}

void bench_gate_open(struct bench_gate *g)
{
	if (g->go[1] >= 0) {
		close(g->go[1]);
		g->go[1] = -1;
	}
}

void bench_gate_close(struct bench_gate *g)
{
	int *fds[] = { &g->ready[0], &g->ready[1], &g->go[0], &g->go[1] };

	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

void bench_run_fail(struct bench_run *r)
{
	__atomic_store_n(&r->failed, 1, __ATOMIC_RELAXED);
}

int bench_run_over(struct bench_run *r, unsigned long count)
{
	return __atomic_load_n(&r->consumed, __ATOMIC_RELAXED) >= count ||
	       __atomic_load_n(&r->failed, __ATOMIC_RELAXED);
}

void bench_fleet_init(struct bench_fleet *f, unsigned producers, unsigned consumers,
		      unsigned long count, unsigned long depth)
{
	memset(f, 0, sizeof *f);
	f->producers = producers;
	f->consumers = consumers;
	bench_layout_init(&f->lay, producers, count, depth);
	f->run = bench_shared(sizeof *f->run);
	f->hists = bench_shared(consumers * sizeof *f->hists);
	f->seen = bench_shared(bench_layout_bitmap(&f->lay) * consumers);
}

int bench_fleet_run(struct bench_fleet *f, const void *opts, int (*producer)(void *),
		    int (*consumer)(void *), int limit_ms)
{
	unsigned nw = f->producers + f->consumers;
	size_t bmbytes = bench_layout_bitmap(&f->lay);
	struct bench_worker *ws = calloc(nw, sizeof *ws);
	pid_t pids[2 * BENCH_MAX_WORKERS];
	struct bench_gate gate;
	int failed;

	if (!ws) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	bench_gate_init(&gate);
	for (unsigned i = 0; i < nw; i++) {
		struct bench_worker *w = &ws[i];
		bool cons = i >= f->producers;

		*w = (struct bench_worker){ .opts = opts, .lay = &f->lay, .run = f->run,
					    .gate = &gate, .id = cons ? i - f->producers : i };
		if (cons) {
			w->hist = &f->hists[w->id];
			w->seen = f->seen + (size_t)w->id * bmbytes;
		}
		pids[i] = bench_fork(cons ? consumer : producer, w);
	}
	if (bench_gate_wait(&gate, (int)nw) < 0) {
		fprintf(stderr, "bench: a worker failed to start\n");
		bench_run_fail(f->run);
	}
	f->t0 = bench_now_ns();
	bench_gate_open(&gate);
	failed = bench_wait_all(pids, (int)nw, limit_ms) < 0 || f->run->failed;
	bench_gate_close(&gate);
	free(ws);

	/*
	 * The run ends when every message is in and count are out: on a deep
	 * queue the consumers may finish before the producers do.
	 */
	for (unsigned i = 0; i < f->consumers; i++) {
		if (f->run->last_ns[i] > f->t1)
			f->t1 = f->run->last_ns[i];
		bench_hist_merge(&f->total, &f->hists[i]);
	}
	for (unsigned i = 0; i < f->producers; i++)
		if (f->run->put_ns[i] > f->t1)
			f->t1 = f->run->put_ns[i];
	if (f->t1 <= f->t0)
		f->t1 = f->t0 + 1;
	if (!failed)
		failed = bench_verify(&f->lay, f->consumers, f->seen, &f->received) < 0;
	return failed ? -1 : 0;
}

void bench_fleet_free(struct bench_fleet *f)
{
	bench_shared_free(f->seen, bench_layout_bitmap(&f->lay) * f->consumers);
	bench_shared_free(f->hists, f->consumers * sizeof *f->hists);
	bench_shared_free(f->run, sizeof *f->run);
}

pid_t bench_fork(int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "bench: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int bench_wait_all(const pid_t *pids, int n, int timeout_ms)
{
	uint64_t end = timeout_ms < 0 ? UINT64_MAX :
		       bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int left = n, failed = 0;
	char *done = calloc((size_t)n, 1);

	if (!done)
		exit(1);
	while (left > 0) {
		int progressed = 0;

		for (int i = 0; i < n; i++) {
			int status;

			if (done[i])
				continue;
			if (waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			done[i] = 1;
			left--;
			progressed = 1;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed = 1;
		}
		if (left == 0)
			break;
		if (bench_now_ns() >= end) {
			fprintf(stderr, "bench: %d worker(s) did not finish in time\n", left);
			for (int i = 0; i < n; i++)
				if (!done[i]) {
					kill(pids[i], SIGKILL);
					waitpid(pids[i], NULL, 0);
				}
			failed = 1;
			break;
		}
		if (!progressed)
			poll(NULL, 0, 2);
	}
	free(done);
	return failed ? -1 : 0;
}

long long bench_rss(pid_t pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

int bench_raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		return -1;
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

unsigned long bench_parse_count(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		goto bad;
	if (*end == 'k' || *end == 'K') {
		v *= 1000;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v *= 1000000;
		end++;
	}
	if (*end || v > 0xffffffffull)
		goto bad;
	return (unsigned long)v;
bad:
	fprintf(stderr, "%s: '%s' is not a count\n", opt, s);
	exit(2);
}

void bench_result_begin(const char *bench, const char *mode)
{
	printf("bench=%s mode=%s", bench, mode);
}

void bench_result_str(const char *key, const char *value)
{
	printf(" %s=%s", key, value);
}

void bench_result_u(const char *key, unsigned long long v)
{
	printf(" %s=%llu", key, v);
}

void bench_result_f(const char *key, double v)
{
	printf(" %s=%.6g", key, v);
}

void bench_result_rate(unsigned long long n, size_t size, uint64_t ns)
{
	double secs = (double)ns / 1e9;

	bench_result_f("secs", secs);
	bench_result_f("msgs_s", secs > 0 ? (double)n / secs : 0);
	bench_result_f("mb_s", secs > 0 ? (double)n * (double)size / secs / 1e6 : 0);
}

int bench_hist_write_cdf(const struct bench_hist *h, const char *path)
{
	FILE *f = fopen(path, "w");
	uint64_t seen = 0;

	if (!f)
		return -1;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS && h->n; i++) {
		if (!h->bucket[i])
			continue;
		seen += h->bucket[i];
		fprintf(f, "%.3f %.6f\n", (double)hist_value(i) / 1e3, (double)seen / (double)h->n);
	}
	return fclose(f) == 0 ? 0 : -1;
}

void bench_result_hist(const struct bench_hist *h)
{
	bench_result_f("p50_us", (double)bench_hist_quantile(h, 0.50) / 1e3);
	bench_result_f("p99_us", (double)bench_hist_quantile(h, 0.99) / 1e3);
	bench_result_f("p999_us", (double)bench_hist_quantile(h, 0.999) / 1e3);
}

void bench_result_end(void)
{
	printf("\n");
	fflush(stdout);
}
