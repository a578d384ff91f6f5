/*
 * ipcbench.c - the ipcd benchmark's driver: options, the daemon started
 * for the run with --ipcd, and the mode run.  Forked producers and
 * consumers move stamped messages through one queue or pipe and report
 * msgs/s, MB/s and the put-to-get latency (ipcbench_throughput.c); other
 * modes measure low-load latency (ipcbench_latency.c), and the daemon's
 * memory per queued message and many concurrent clients
 * (ipcbench_capacity.c).  ipcbench_chan.c is the queue or pipe.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipcclient.h>

#include "bench.h"
#include "ipcbench.h"

static pid_t spawned_pid, spawner_pid;   /* the daemon we started, and who started it */
static char spawned_dir[64], spawned_sock[128];

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
