/*
 * boost_mq.cpp - Boost.Interprocess message_queue (a queue in shared memory
 * guarded by a process-shared mutex and condition variables) in ipcbench's
 * scenarios, so that bench/run.sh can set it beside ipcd's ring:
 *
 *   stream   P producers, C consumers (forked), each message sent once
 *   rt       1x1, the consumer answers each message on a second queue
 *            before the producer sends the next (round trips per second)
 *   latency  1x1, one message in flight: the time from the send to the
 *            consumer's receive, answered as in rt
 *
 * Output: one line of key=value pairs as ipcbench's (bench.h).
 */
#include <boost/interprocess/ipc/message_queue.hpp>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern "C" {
#include "bench.h"
}

namespace bip = boost::interprocess;

struct shared {
	struct bench_hist hist;
	unsigned long received[BENCH_MAX_WORKERS];
};

static std::string qname(const char *what)
{
	return std::string("ipcd-bench-") + what + "-" + std::to_string(getpid());
}

static void die(const char *what)
{
	fprintf(stderr, "boost_mq: %s\n", what);
	_exit(1);
}

int main(int argc, char **argv)
{
	const char *mode = "stream";
	unsigned producers = 1, consumers = 1;
	unsigned long count = 1000000;
	size_t size = 64, depth = 4096;
	int c;

	while ((c = getopt(argc, argv, "m:p:c:n:z:")) != -1) {
		switch (c) {
		case 'm': mode = optarg; break;
		case 'p': producers = (unsigned)atoi(optarg); break;
		case 'c': consumers = (unsigned)atoi(optarg); break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'z': size = strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: boost_mq [-m stream|rt|latency] [-p P] [-c C] [-n N] [-z SIZE]\n");
			return 2;
		}
	}
	bool stream = strcmp(mode, "stream") == 0, latency = strcmp(mode, "latency") == 0;
	if (!stream)
		producers = consumers = 1;
	if (size < BENCH_STAMP_SIZE)
		size = BENCH_STAMP_SIZE;
	std::string data = qname("data"), back = qname("back");
	bip::message_queue::remove(data.c_str());
	bip::message_queue::remove(back.c_str());
	bip::message_queue dq(bip::create_only, data.c_str(), depth, size);
	bip::message_queue bq(bip::create_only, back.c_str(), 16, 1);
	struct shared *sh = (struct shared *)bench_shared(sizeof *sh);
	/* The gate's descriptors are each process's own: never in shared memory. */
	struct bench_gate gate;
	bench_gate_init(&gate);
	std::vector<pid_t> pids;
	unsigned long warm = latency ? (count / 10 < 100 ? count / 10 : 100) : 0;

	for (unsigned i = 0; i < producers + consumers; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid > 0) {
			pids.push_back(pid);
			continue;
		}
		std::vector<char> buf(size);
		if (bench_gate_pass(&gate) < 0)
			_exit(1);
		if (i < producers) {
			unsigned long n = count / producers + (i < count % producers);
			for (unsigned long k = 0; k < n; k++) {
				bench_stamp_write(buf.data(), i, (uint32_t)k);
				dq.send(buf.data(), size, 0);
				if (!stream) {
					char b;
					size_t got;
					unsigned prio;

					bq.receive(&b, 1, got, prio);
				}
			}
			_exit(0);
		}
		unsigned w = i - producers;
		unsigned long n = count / consumers + (w < count % consumers);
		struct bench_hist *h = NULL;
		if (latency)
			h = (struct bench_hist *)calloc(1, sizeof *h);
		for (unsigned long k = 0; k < n; k++) {
			size_t got;
			unsigned prio;

			dq.receive(buf.data(), size, got, prio);
			if (h && k >= warm) {
				struct bench_stamp st;

				if (bench_stamp_read(buf.data(), got, &st) == 0)
					bench_hist_add(h, bench_now_ns() - st.ts_ns);
			}
			if (!stream) {
				char b = 'a';

				bq.send(&b, 1, 0);
			}
		}
		sh->received[w] = n;
		if (h)
			bench_hist_merge(&sh->hist, h);
		_exit(0);
	}
	if (bench_gate_wait(&gate, (int)pids.size()) < 0)
		die("workers did not start");
	uint64_t t0 = bench_now_ns();
	bench_gate_open(&gate);
	int failed = bench_wait_all(pids.data(), (int)pids.size(), 15 * 60 * 1000) < 0;
	uint64_t ns = bench_now_ns() - t0;
	bench_gate_close(&gate);
	bip::message_queue::remove(data.c_str());
	bip::message_queue::remove(back.c_str());
	if (failed)
		die("a worker failed");
	unsigned long received = 0;
	for (unsigned w = 0; w < consumers; w++)
		received += sh->received[w];
	bench_result_begin("boost_mq", mode);
	bench_result_str("lib", "boost-" BOOST_LIB_VERSION);
	bench_result_u("p", producers);
	bench_result_u("c", consumers);
	bench_result_u("size", size);
	bench_result_u("count", count);
	bench_result_u("received", received);
	bench_result_rate(received, size, ns);
	if (latency)
		bench_result_hist(&sh->hist);
	bench_result_end();
	return 0;
}
