/*
 * ipcbench_capacity.c - what the daemon holds: memory mode (its resident
 * memory per queued message, read from /proc through the socket's peer
 * credentials) and clients mode (many clients connected at once, one thread
 * each, every message received exactly once).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <ipcclient.h>

#include "bench.h"
#include "ipcbench.h"

#define CLIENT_STACK (256 * 1024)

pid_t server_pid(const char *path)
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

int run_memory(const struct opts *o)
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

int run_clients(const struct opts *o)
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
