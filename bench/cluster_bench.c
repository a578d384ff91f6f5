/*
 * cluster_bench.c - cluster queues through two ipcds against the NATS C
 * client used directly, in one run, on the same JetStream cluster with the
 * same replicas and message size.
 *
 *   cluster_bench -c URLS -a SOCK_A -b SOCK_B [-n MESSAGES] [-s SIZE] [-r REPLICAS]
 *                 [-l ROUND_TRIPS]
 *
 * Throughput: a producer puts N messages through ipcd A (ipc_queue_put_async,
 * then flush) while a consumer process gets them through ipcd B
 * (ipc_queue_get_many, 256 at most); against js_PublishAsync and a pull
 * subscription's Fetch(256) + Ack on a connection of its own (a thread).  From the first
 * put to the last get.  Latency: one message at a time, from the put's
 * start to the get's return: ipc_queue_put (answered once stored) then
 * ipc_queue_get on the other ipcd, against js_Publish (which waits for its
 * acknowledgement) then Fetch(1) + Ack.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "ipcclient.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "cluster_bench: %s: %s\n", what, why);
	exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, long n, int64_t ns, int64_t *lat, int k)
{
	qsort(lat, (size_t)k, sizeof *lat, cmp_i64);
	printf("%-8s %10.0f msgs/s   put-to-get p50 %7.1f us  p99 %7.1f us\n", what,
	       n / (ns / 1e9), lat[k / 2] / 1e3, lat[k * 99 / 100] / 1e3);
}

/* ---- through ipcd ---- */

static ipc_queue *ipcd_open(const char *sock, const char *name, unsigned replicas, int flags)
{
	ipc_queue_attr attr = { .replicas = replicas };
	ipc_client *c;
	ipc_queue *q;
	int r = ipc_connect(sock, &c);

	if (r < 0)
		die(sock, ipc_strerror(r));
	r = ipc_queue_open(c, name, flags, flags ? &attr : NULL, &q);
	if (r < 0)
		die(name, ipc_strerror(r));
	return q;
}

static int64_t ipcd_throughput(const char *a, const char *b, const char *name, long n,
			       size_t size, unsigned replicas)
{
	ipc_queue *qa = ipcd_open(a, name, replicas, IPC_CREATE);
	char *msg = calloc(1, size);
	int fds[2];
	int64_t t0, end;
	pid_t pid;

	if (!msg || pipe(fds) < 0)
		die("setup", strerror(errno));
	pid = fork();
	if (pid == 0) {
		ipc_queue *qb = ipcd_open(b, name, 0, 0);
		struct iovec v[256];
		long got = 0;
		int64_t t;

		while (got < n) {
			int k = ipc_queue_get_many(qb, v, 256, 60000);

			if (k < 0)
				die("get_many", ipc_strerror(k));
			for (int i = 0; i < k; i++)
				free(v[i].iov_base);
			got += k;
		}
		t = now_ns();
		if (write(fds[1], &t, sizeof t) != sizeof t)
			_exit(1);
		_exit(0);
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int r = ipc_queue_put_async(qa, msg, size);

		if (r < 0)
			die("put_async", ipc_strerror(r));
	}
	if (ipc_queue_flush(qa, 60000) < 0)
		die("flush", "failed");
	if (read(fds[0], &end, sizeof end) != sizeof end)
		die("consumer", "no end time");
	waitpid(pid, NULL, 0);
	free(msg);
	return end - t0;
}

static void ipcd_latency(const char *a, const char *b, const char *name, size_t size,
			 int64_t *lat, int k)
{
	ipc_queue *qa = ipcd_open(a, name, 0, 0), *qb = ipcd_open(b, name, 0, 0);
	char *msg = calloc(1, size);

	for (int i = 0; i < k; i++) {
		int64_t t0 = now_ns();
		void *data;
		size_t len;
		int r = ipc_queue_put(qa, msg, size, 60000);

		if (r == 0)
			r = ipc_queue_get(qb, &data, &len, 60000);
		if (r < 0)
			die("put/get", ipc_strerror(r));
		lat[i] = now_ns() - t0;
		free(data);
	}
	free(msg);
}

/* ---- libnats directly ---- */

static jsCtx *raw_js(const char *urls, natsConnection **nc)
{
	jsCtx *js;

	if (natsConnection_ConnectTo(nc, urls) != NATS_OK)
		die(urls, "cannot connect");
	if (natsConnection_JetStream(&js, *nc, NULL) != NATS_OK)
		die("JetStream", "no context");
	return js;
}

static void raw_stream(jsCtx *js, const char *stream, const char *subject, unsigned replicas)
{
	jsStreamConfig cfg;
	const char *subjects[] = { subject };
	jsErrCode jerr = 0;

	jsStreamConfig_Init(&cfg);
	cfg.Name = stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Retention = js_WorkQueuePolicy;
	cfg.Discard = js_DiscardNew;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = (int64_t)replicas;
	js_DeleteStream(js, stream, NULL, &jerr);
	if (js_AddStream(NULL, js, &cfg, NULL, &jerr) != NATS_OK)
		die("add stream", nats_GetLastError(NULL));
}

static natsSubscription *raw_pull(jsCtx *js, const char *subject)
{
	natsSubscription *sub;
	jsErrCode jerr = 0;

	if (js_PullSubscribe(&sub, js, subject, "bench", NULL, NULL, &jerr) != NATS_OK)
		die("pull subscribe", nats_GetLastError(NULL));
	return sub;
}

struct raw_consumer {
	const char *urls;
	long n;
	int64_t end;
};

/* The consumer, on a connection of its own in a thread of its own. */
static void *raw_consume(void *arg)
{
	struct raw_consumer *rc = arg;
	natsConnection *cnc;
	jsCtx *cjs = raw_js(rc->urls, &cnc);
	natsSubscription *sub = raw_pull(cjs, "raw.tp");
	long got = 0;

	while (got < rc->n) {
		natsMsgList list = { 0 };
		jsErrCode jerr = 0;

		if (natsSubscription_Fetch(&list, sub, 256, 5000, &jerr) != NATS_OK)
			continue;
		for (int i = 0; i < list.Count; i++)
			natsMsg_Ack(list.Msgs[i], NULL);
		got += list.Count;
		natsMsgList_Destroy(&list);
	}
	rc->end = now_ns();
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(cjs);
	natsConnection_Destroy(cnc);
	return NULL;
}

static int64_t raw_throughput(const char *urls, long n, size_t size, unsigned replicas)
{
	natsConnection *nc;
	jsCtx *js = raw_js(urls, &nc);
	char *msg = calloc(1, size);
	struct raw_consumer rc = { urls, n, 0 };
	pthread_t t;
	int64_t t0;

	raw_stream(js, "RAWTP", "raw.tp", replicas);
	if (!msg || pthread_create(&t, NULL, raw_consume, &rc) != 0)
		die("setup", strerror(errno));
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (js_PublishAsync(js, "raw.tp", msg, (int)size, NULL) != NATS_OK)
			die("js_PublishAsync", nats_GetLastError(NULL));
	if (js_PublishAsyncComplete(js, NULL) != NATS_OK)
		die("js_PublishAsyncComplete", nats_GetLastError(NULL));
	pthread_join(t, NULL);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	free(msg);
	return rc.end - t0;
}

static void raw_latency(const char *urls, size_t size, unsigned replicas, int64_t *lat, int k)
{
	natsConnection *pnc, *cnc;
	jsCtx *pjs = raw_js(urls, &pnc), *cjs = raw_js(urls, &cnc);
	natsSubscription *sub;
	char *msg = calloc(1, size);

	raw_stream(pjs, "RAWLAT", "raw.lat", replicas);
	sub = raw_pull(cjs, "raw.lat");
	for (int i = 0; i < k; i++) {
		int64_t t0 = now_ns();
		natsMsgList list = { 0 };
		jsErrCode jerr = 0;

		if (js_Publish(NULL, pjs, "raw.lat", msg, (int)size, NULL, &jerr) != NATS_OK)
			die("js_Publish", nats_GetLastError(NULL));
		while (list.Count == 0)
			natsSubscription_Fetch(&list, sub, 1, 5000, &jerr);
		natsMsg_Ack(list.Msgs[0], NULL);
		lat[i] = now_ns() - t0;
		natsMsgList_Destroy(&list);
	}
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(pjs);
	jsCtx_Destroy(cjs);
	natsConnection_Destroy(pnc);
	natsConnection_Destroy(cnc);
	free(msg);
}

int main(int argc, char **argv)
{
	const char *urls = NULL, *a = NULL, *b = NULL;
	long n = 100000;
	size_t size = 64;
	unsigned replicas = 3;
	int k = 2000, opt;
	int64_t *lat, ns;
	char name[64];

	while ((opt = getopt(argc, argv, "c:a:b:n:s:r:l:")) != -1) {
		switch (opt) {
		case 'c': urls = optarg; break;
		case 'a': a = optarg; break;
		case 'b': b = optarg; break;
		case 'n': n = atol(optarg); break;
		case 's': size = (size_t)atol(optarg); break;
		case 'r': replicas = (unsigned)atoi(optarg); break;
		case 'l': k = atoi(optarg); break;
		default: die("usage", "-c URLS -a SOCK_A -b SOCK_B [-n N] [-s SIZE] [-r R] [-l K]");
		}
	}
	if (!urls || !a || !b || n <= 0 || k <= 0)
		die("usage", "-c URLS -a SOCK_A -b SOCK_B [-n N] [-s SIZE] [-r R] [-l K]");
	lat = calloc((size_t)k, sizeof *lat);
	if (!lat)
		die("calloc", strerror(errno));
	printf("%ld messages of %zu bytes, R%u; latency over %d round trips\n", n, size, replicas, k);
	snprintf(name, sizeof name, "bench-%d", (int)getpid());
	ns = ipcd_throughput(a, b, name, n, size, replicas);
	ipcd_latency(a, b, name, size, lat, k);
	report("ipcd", n, ns, lat, k);
	ns = raw_throughput(urls, n, size, replicas);
	raw_latency(urls, size, replicas, lat, k);
	report("libnats", n, ns, lat, k);
	free(lat);
	nats_CloseAndWait(0);
	return 0;
}
