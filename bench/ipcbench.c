/*
 * ipcbench.c - the ipcd benchmark: forked producers and consumers move
 * stamped messages through one queue (or a pipe) and report msgs/s, MB/s
 * and the put-to-get latency; other modes measure low-load latency, the
 * daemon's memory per queued message, and many concurrent clients.
 *
 * Every run checks what it measured: each message is received exactly once,
 * in order per producer and consumer, and the queue holds what it should at
 * the end.  A failed check, like any error, makes ipcbench exit non-zero, so
 * the test suite can run its smallest configuration for correctness.
 *
 * Output: one line of key=value pairs on stdout (see bench.h), read by
 * bench/run.sh.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ipcclient.h>

#include "bench.h"

#define GET_POLL_MS 200          /* a consumer rechecks whether the run is over this often */
#define STALL_MS 30000           /* no message for this long fails the run */
#define RUN_LIMIT_MS (15 * 60 * 1000)
#define CLIENT_STACK (256 * 1024)

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

/* The attributes of the queue made for the run: durable with --durable, --noring. */
static const ipc_queue_attr *queue_attr(const struct opts *o)
{
	static const ipc_queue_attr durable = { .durable = 1 }, socket = { .noring = 1 };

	return o->durable ? &durable : o->noring ? &socket : NULL;
}

/* A latency run's worker: a fleet's, and the consumer's acknowledgements to the producer. */
struct latency_worker {
	struct bench_worker w;
	int ack[2];
};

static pid_t spawned_pid, spawner_pid;   /* the daemon we started, and who started it */
static char spawned_dir[64], spawned_sock[128];

static void die(const char *what, int rc)
{
	fprintf(stderr, "ipcbench: %s: %s\n", what, ipc_strerror(rc));
	exit(1);
}

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

/* Connect and open the queue, or end of the pipe, that the parent made. */
static void chan_open(const struct opts *o, int end, struct chan *ch)
{
	int rc = ipc_connect(o->sock, &ch->c);

	if (rc < 0)
		die("connect", rc);
	ch->q = NULL;
	ch->p = NULL;
	if (o->pipe)
		rc = ipc_pipe_open(ch->c, o->name, end, 0, &ch->p);
	else
		rc = ipc_queue_open(ch->c, o->name, IPC_CREATE, queue_attr(o), &ch->q);
	if (rc < 0)
		die(o->pipe ? "open the pipe" : "open the queue", rc);
}

static void chan_close(struct chan *ch)
{
	if (ch->q)
		ipc_queue_close(ch->q);
	if (ch->p)
		ipc_pipe_close(ch->p);
	ipc_disconnect(ch->c);
}

/*
 * In the parent, before the workers start: an emptied queue, or a new
 * one-way pipe (the parent's handle never uses its end, so the end stays
 * free for the consumer).
 */
static void chan_create(const struct opts *o, struct chan *ch)
{
	long rc = ipc_connect(o->sock, &ch->c);

	if (rc < 0)
		die("connect", (int)rc);
	ch->q = NULL;
	ch->p = NULL;
	if (o->pipe) {
		rc = ipc_pipe_open(ch->c, o->name, END_RECV,
				   IPC_CREATE | IPC_EXCLUSIVE | IPC_ONEWAY, &ch->p);
		if (rc < 0)
			die("create the pipe", (int)rc);
		return;
	}
	rc = ipc_queue_open(ch->c, o->name, IPC_CREATE, queue_attr(o), &ch->q);
	if (rc == 0)
		rc = ipc_queue_purge(ch->q);
	if (rc < 0)
		die("open and purge the queue", (int)rc);
}

/* In the parent, at the end: remove the queue or pipe. */
static void chan_remove(const struct opts *o, struct chan *ch)
{
	if (o->pipe)
		ipc_pipe_unlink(ch->c, o->name);
	else
		ipc_queue_unlink(ch->c, o->name);
	chan_close(ch);
}

static int chan_put(struct chan *ch, const void *data, size_t len)
{
	if (ch->p)
		return ipc_pipe_send(ch->p, data, len, IPC_FOREVER);
	return ipc_queue_put(ch->q, data, len, IPC_FOREVER);
}

static int chan_get(struct chan *ch, void **data, size_t *len, int timeout_ms)
{
	if (ch->p)
		return ipc_pipe_recv(ch->p, data, len, timeout_ms);
	return ipc_queue_get(ch->q, data, len, timeout_ms);
}

/* A message buffer: the stamp, then a fixed pattern. */
static char *message_buffer(size_t size, unsigned n)
{
	char *buf = malloc(size * n);

	if (!buf) {
		fprintf(stderr, "ipcbench: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < size * n; i++)
		buf[i] = (char)('a' + i % 26);
	return buf;
}

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

/* Wait up to 5 s for q to hold want messages (consumers' prefetch is handed back on close). */
static int expect_size(ipc_queue *q, long want)
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

/* Queue n messages stamped as producer, with put_many (the parent's prefill). */
static void fill(const struct opts *o, struct chan *ch, unsigned producer, unsigned long n)
{
	struct opts f = *o;
	int rc;

	f.batched = true;
	f.async = false;
	rc = produce(&f, ch, producer, n, NULL);
	if (rc < 0)
		exit(1);
}

static void print_head(const struct opts *o, const char *mode)
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

static int run_throughput(const struct opts *o)
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

static int run_latency(const struct opts *o)
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

/* The pid of whoever serves the Unix socket path (SO_PEERCRED), or -1. */
static pid_t server_pid(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid = -1;

	if (fd < 0 || strlen(path) >= sizeof sa.sun_path)
		goto out;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		pid = cred.pid;
out:
	if (fd >= 0)
		close(fd);
	return pid;
}

static int run_memory(const struct opts *o)
{
	long long rss0, rss1, rss2;
	uint64_t t0;
	struct chan ch;
	pid_t pid;
	void *data;
	size_t len;
	char *one = message_buffer(o->size, 1);
	int rc;

	if (!o->sock) {
		fprintf(stderr, "ipcbench: memory mode needs the daemon's socket (-s or --ipcd)\n");
		return 1;
	}
	pid = server_pid(o->sock);
	if (pid <= 0 || bench_rss(pid) < 0) {
		fprintf(stderr, "ipcbench: cannot read the memory of the daemon on %s\n", o->sock);
		return 1;
	}
	chan_create(o, &ch);
	/* One message through first, so buffers that exist anyway are counted out. */
	if ((rc = chan_put(&ch, one, o->size)) < 0 ||
	    (rc = chan_get(&ch, &data, &len, IPC_FOREVER)) < 0)
		die("warm-up", rc);
	free(data);
	free(one);
	rss0 = bench_rss(pid);
	t0 = bench_now_ns();
	fill(o, &ch, 0, o->count);
	t0 = bench_now_ns() - t0;
	rss1 = bench_rss(pid);
	if (ipc_queue_size(ch.q) != (long)o->count) {
		fprintf(stderr, "ipcbench: memory: the queue holds %ld, not %lu\n",
			ipc_queue_size(ch.q), o->count);
		return 1;
	}
	chan_remove(o, &ch);
	rss2 = bench_rss(pid);
	bench_result_begin("ipcd", "memory");
	bench_result_u("size", o->size);
	bench_result_u("count", o->count);
	bench_result_f("fill_secs", (double)t0 / 1e9);
	bench_result_u("rss_before", (unsigned long long)rss0);
	bench_result_u("rss_full", (unsigned long long)rss1);
	bench_result_u("rss_after_unlink", (unsigned long long)rss2);
	bench_result_f("bytes_per_msg", (double)(rss1 - rss0) / (double)o->count);
	bench_result_end();
	return 0;
}

/* Clients mode: one thread and one connection per client, all connected at once. */
struct client_thread {
	const struct opts *o;
	pthread_barrier_t *barrier;
	unsigned char *seen;     /* per client x message: times received (atomic) */
	unsigned id;
	int rc;
	const char *what;
};

static void *client_thread_main(void *arg)
{
	struct client_thread *t = arg;
	const struct opts *o = t->o;
	char buf[BENCH_STAMP_SIZE];
	ipc_client *c = NULL;
	ipc_queue *q = NULL;
	int rc;

	rc = ipc_connect(o->sock, &c);
	t->what = "connect";
	if (rc == 0) {
		rc = ipc_queue_open(c, o->name, IPC_CREATE, queue_attr(o), &q);
		t->what = "open";
	}
	/* Everyone reaches the barrier, failed or not, so no one waits forever. */
	pthread_barrier_wait(t->barrier);
	for (unsigned i = 0; rc == 0 && i < o->per_client; i++) {
		bench_stamp_write(buf, t->id, i);
		rc = ipc_queue_put(q, buf, sizeof buf, IPC_FOREVER);
		t->what = "put";
	}
	for (unsigned i = 0; rc == 0 && i < o->per_client; i++) {
		struct bench_stamp st;
		void *data;
		size_t len;

		t->what = "get";
		rc = ipc_queue_get(q, &data, &len, STALL_MS);
		if (rc < 0)
			break;
		if (bench_stamp_read(data, len, &st) < 0 || st.producer >= o->clients ||
		    st.seq >= o->per_client)
			rc = -EBADMSG;
		else
			__atomic_fetch_add(&t->seen[(size_t)st.producer * o->per_client + st.seq],
					   1, __ATOMIC_RELAXED);
		free(data);
	}
	if (q)
		ipc_queue_close(q);
	if (c)
		ipc_disconnect(c);
	t->rc = rc;
	return NULL;
}

static int run_clients(const struct opts *o)
{
	struct client_thread *ts = calloc(o->clients, sizeof *ts);
	pthread_t *tids = calloc(o->clients, sizeof *tids);
	unsigned char *seen = calloc((size_t)o->clients * o->per_client, 1);
	pthread_barrier_t barrier;
	pthread_attr_t attr;
	uint64_t tc, t0, t1;
	unsigned ok = 0, started = 0;
	struct chan ch;
	int failed = 0;

	if (!ts || !tids || !seen)
		exit(1);
	if (bench_raise_nofile(o->clients + 64) < 0) {
		fprintf(stderr, "ipcbench: cannot raise the descriptor limit to %u\n", o->clients + 64);
		return 1;
	}
	chan_create(o, &ch);
	pthread_barrier_init(&barrier, NULL, o->clients + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CLIENT_STACK);
	tc = bench_now_ns();
	for (unsigned i = 0; i < o->clients; i++) {
		ts[i] = (struct client_thread){ .o = o, .barrier = &barrier, .seen = seen, .id = i };
		if (pthread_create(&tids[i], &attr, client_thread_main, &ts[i]) != 0) {
			fprintf(stderr, "ipcbench: cannot start client thread %u\n", i);
			exit(1);
		}
		started++;
	}
	pthread_barrier_wait(&barrier);
	t0 = bench_now_ns();
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	t1 = bench_now_ns();
	for (unsigned i = 0; i < o->clients; i++) {
		if (ts[i].rc == 0) {
			ok++;
		} else if (!failed) {
			fprintf(stderr, "ipcbench: client %u: %s: %s\n", i, ts[i].what,
				ipc_strerror(ts[i].rc));
			failed = 1;
		}
	}
	for (size_t i = 0; !failed && i < (size_t)o->clients * o->per_client; i++)
		if (seen[i] != 1) {
			fprintf(stderr, "ipcbench: client %zu's message %zu received %u times\n",
				i / o->per_client, i % o->per_client, seen[i]);
			failed = 1;
		}
	if (!failed)
		failed = expect_size(ch.q, 0) < 0;
	if (!failed) {
		bench_result_begin("ipcd", "clients");
		bench_result_u("clients", o->clients);
		bench_result_u("per_client", o->per_client);
		bench_result_u("ok", ok);
		bench_result_f("connect_secs", (double)(t0 - tc) / 1e9);
		bench_result_f("secs", (double)(t1 - t0) / 1e9);
		bench_result_end();
	}
	chan_remove(o, &ch);
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&barrier);
	free(seen);
	free(tids);
	free(ts);
	return failed;
}

/* Remove dir and what is in it (the socket, and whatever ipcd keeps beside it: its state). */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char sub[512];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno == EISDIR) {
			snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
			remove_dir(sub);
		}
	}
	closedir(d);
	rmdir(dir);
}

static void stop_daemon(void)
{
	int status;

	/* Forked workers inherit the exit handler; only the starter stops the daemon. */
	if (spawned_pid <= 0 || getpid() != spawner_pid)
		return;
	kill(spawned_pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(spawned_pid, &status, WNOHANG) == spawned_pid) {
			spawned_pid = 0;
			break;
		}
		poll(NULL, 0, 10);
	}
	if (spawned_pid > 0) {
		kill(spawned_pid, SIGKILL);
		waitpid(spawned_pid, &status, 0);
		spawned_pid = 0;
	}
	remove_dir(spawned_dir);
}

/* Start ipcd on a socket in a fresh temporary directory; it is stopped at exit. */
static void start_daemon(struct opts *o)
{
	const char *tmp = getenv("TMPDIR");
	char clients[32];
	uint64_t end;

	if (!tmp || !*tmp || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(spawned_dir, sizeof spawned_dir, "%s/ipcbench.XXXXXX", tmp);
	if (!mkdtemp(spawned_dir)) {
		fprintf(stderr, "ipcbench: mkdtemp in %s: %s\n", tmp, strerror(errno));
		exit(1);
	}
	snprintf(spawned_sock, sizeof spawned_sock, "%s/ipcd.sock", spawned_dir);
	snprintf(clients, sizeof clients, "%u", o->clients + 64);
	fflush(NULL);
	spawned_pid = fork();
	if (spawned_pid < 0) {
		fprintf(stderr, "ipcbench: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (spawned_pid == 0) {
		/* No configuration file: one installed on the machine must not change the run. */
		char state[sizeof spawned_dir + 8];

		snprintf(state, sizeof state, "%s/state", spawned_dir);
		if (o->durable)
			execl(o->ipcd, o->ipcd, "-c", "/dev/null", "-s", spawned_sock,
			      "--max-clients", clients, "--max-memory", "0", "--state-dir", state,
			      "--fsync", o->durable, (char *)NULL);
		else
			execl(o->ipcd, o->ipcd, "-c", "/dev/null", "-s", spawned_sock,
			      "--max-clients", clients, "--max-memory", "0", (char *)NULL);
		fprintf(stderr, "ipcbench: exec %s: %s\n", o->ipcd, strerror(errno));
		_exit(127);
	}
	spawner_pid = getpid();
	atexit(stop_daemon);
	o->sock = spawned_sock;
	end = bench_now_ns() + 5000000000ull;
	while (server_pid(spawned_sock) <= 0) {
		if (waitpid(spawned_pid, NULL, WNOHANG) == spawned_pid || bench_now_ns() > end) {
			fprintf(stderr, "ipcbench: %s did not start serving %s\n", o->ipcd,
				spawned_sock);
			exit(1);
		}
		poll(NULL, 0, 10);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ipcbench [OPTION]...\n"
		"Benchmark ipcd's queues and pipes; prints one line of key=value results.\n\n"
		"  -s, --socket PATH     the daemon's socket (default: libipcclient's)\n"
		"      --ipcd PATH       start this ipcd for the run on a temporary socket\n"
		"  -m, --mode MODE       rt (a round trip per put and get, the default),\n"
		"                        many (put_many / get_many of --batch per call, with\n"
		"                        prefetch), stream (put_async and a flush; consumers\n"
		"                        as many),\n"
		"                        latency (one message in flight), memory (daemon RSS\n"
		"                        growth per queued message), clients (many at once)\n"
		"  -p, --producers N     producer processes (default 1)\n"
		"  -c, --consumers N     consumer processes (default 1)\n"
		"  -n, --count N         messages (default 100k; k and m suffixes)\n"
		"  -z, --size BYTES      bytes per message (default 64, at least %zu)\n"
		"  -b, --batch N         many: messages per put_many and get_many (default 64);\n"
		"                        stream: per get_many (default 256)\n"
		"  -f, --prefetch N      consumer prefetch (many and stream default 4096, else 0)\n"
		"  -d, --depth N         messages queued before the run starts (default 0)\n"
		"  -k, --clients N       clients mode: concurrent clients (default 1000)\n"
		"      --per-client N    clients mode: messages each puts and gets (default 4)\n"
		"      --pace-us N       latency mode: pause between messages instead of\n"
		"                        waiting for the consumer (default 0)\n"
		"      --kind KIND       queue (the default) or pipe (a one-way pipe: modes rt\n"
		"                        and latency, one producer and one consumer)\n"
		"      --durable POLICY  durable queues; with --ipcd, the daemon keeps its state\n"
		"                        in the run's directory with --fsync POLICY\n"
		"      --noring          queues without a shared-memory ring: every message\n"
		"                        by the socket\n"
		"      --cdf FILE        latency mode: write the latency distribution, lines of\n"
		"                        \"microseconds fraction\"\n"
		"  -q, --name NAME       queue or pipe to use (default bench.PID; it is removed)\n"
		"  -h, --help            show this help\n", BENCH_STAMP_SIZE);
}

int main(int argc, char **argv)
{
	enum { OPT_IPCD = 256, OPT_PER_CLIENT, OPT_PACE, OPT_KIND, OPT_DURABLE, OPT_CDF, OPT_NORING };
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "ipcd", required_argument, NULL, OPT_IPCD },
		{ "mode", required_argument, NULL, 'm' },
		{ "producers", required_argument, NULL, 'p' },
		{ "consumers", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'z' },
		{ "batch", required_argument, NULL, 'b' },
		{ "prefetch", required_argument, NULL, 'f' },
		{ "depth", required_argument, NULL, 'd' },
		{ "clients", required_argument, NULL, 'k' },
		{ "per-client", required_argument, NULL, OPT_PER_CLIENT },
		{ "pace-us", required_argument, NULL, OPT_PACE },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "durable", required_argument, NULL, OPT_DURABLE },
		{ "noring", no_argument, NULL, OPT_NORING },
		{ "cdf", required_argument, NULL, OPT_CDF },
		{ "name", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct opts o = { .mode = "rt", .producers = 1, .consumers = 1, .count = 100000,
			  .size = 64, .clients = 1000, .per_client = 4 };
	long batch = -1;
	int prefetch = -1, opt;

	while ((opt = getopt_long(argc, argv, "s:m:p:c:n:z:b:f:d:k:q:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 's': o.sock = optarg; break;
		case OPT_IPCD: o.ipcd = optarg; break;
		case 'm': o.mode = optarg; break;
		case 'p': o.producers = (unsigned)bench_parse_count("--producers", optarg); break;
		case 'c': o.consumers = (unsigned)bench_parse_count("--consumers", optarg); break;
		case 'n': o.count = bench_parse_count("--count", optarg); break;
		case 'z': o.size = bench_parse_count("--size", optarg); break;
		case 'b': batch = (long)bench_parse_count("--batch", optarg); break;
		case 'f': prefetch = (int)bench_parse_count("--prefetch", optarg); break;
		case 'd': o.depth = bench_parse_count("--depth", optarg); break;
		case 'k': o.clients = (unsigned)bench_parse_count("--clients", optarg); break;
		case OPT_PER_CLIENT:
			o.per_client = (unsigned)bench_parse_count("--per-client", optarg);
			break;
		case OPT_PACE: o.pace_us = (unsigned)bench_parse_count("--pace-us", optarg); break;
		case OPT_CDF: o.cdf = optarg; break;
		case OPT_KIND:
			if (strcmp(optarg, "queue") && strcmp(optarg, "pipe")) {
				fprintf(stderr, "ipcbench: --kind: queue or pipe, not '%s'\n", optarg);
				return 2;
			}
			o.pipe = strcmp(optarg, "pipe") == 0;
			break;
		case OPT_DURABLE:
			if (strcmp(optarg, "always") && strcmp(optarg, "everysec") &&
			    strcmp(optarg, "no")) {
				fprintf(stderr, "ipcbench: --durable: always, everysec or no\n");
				return 2;
			}
			o.durable = optarg;
			break;
		case OPT_NORING:
			o.noring = true;
			break;
		case 'q':
			if (strlen(optarg) >= sizeof o.name) {
				fprintf(stderr, "ipcbench: --name: too long\n");
				return 2;
			}
			strcpy(o.name, optarg);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipcbench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	o.async = strcmp(o.mode, "stream") == 0;
	o.batched = o.async || strcmp(o.mode, "many") == 0;
	o.batch = batch >= 0 ? (unsigned)batch : o.async ? 256 : 64;
	o.prefetch = prefetch >= 0 ? (unsigned)prefetch : o.batched ? 4096 : 0;
	if (o.producers < 1 || o.producers > BENCH_MAX_WORKERS || o.consumers < 1 ||
	    o.consumers > BENCH_MAX_WORKERS || o.count < 1 || o.size < BENCH_STAMP_SIZE ||
	    o.batch < 1 || batch > 4096 || o.clients < 1 || o.per_client < 1) {
		fprintf(stderr, "ipcbench: producers and consumers 1..%d, count >= 1, size >= %zu,"
			" batch 1..4096, clients and per-client >= 1\n", BENCH_MAX_WORKERS,
			BENCH_STAMP_SIZE);
		return 2;
	}
	/* A pipe has one sender and one receiver, and no batch calls, prefetch or depth. */
	if (o.pipe && ((strcmp(o.mode, "rt") && strcmp(o.mode, "latency")) ||
		       o.producers != 1 || o.consumers != 1 || o.prefetch || o.depth)) {
		fprintf(stderr, "ipcbench: --kind pipe: modes rt and latency only, one producer"
			" and one consumer, no prefetch or depth\n");
		return 2;
	}
	if (!o.name[0])
		snprintf(o.name, sizeof o.name, "bench.%d", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	if (o.ipcd)
		start_daemon(&o);

	if (strcmp(o.mode, "rt") == 0 || o.batched)
		return run_throughput(&o);
	if (strcmp(o.mode, "latency") == 0)
		return run_latency(&o);
	if (strcmp(o.mode, "memory") == 0)
		return run_memory(&o);
	if (strcmp(o.mode, "clients") == 0)
		return run_clients(&o);
	fprintf(stderr, "ipcbench: unknown mode '%s' (rt, many, stream, latency, memory,"
		" clients)\n",
		o.mode);
	return 2;
}
