/*
 * naive_ring.c - the simplest shared-memory queue, for reference beside
 * ipcd's ring in bench/run.sh: one producer and one consumer (forked) on a
 * ring of fixed slots in anonymous shared memory, each side busy-polling
 * the other's index and publishing its own after every message, with no
 * sleeping, no bounds but the ring's and no owner.
 *
 *   stream   1x1 throughput
 *   latency  one message in flight: the time from the put to the get; the
 *            consumer answers on a second ring before the next is put
 *
 * Output: one line of key=value pairs as ipcbench's (bench.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define SLOTS 4096u
#define SLOT_BYTES 256u

struct ring {
	_Alignas(64) uint64_t head;    /* next to read: the consumer's */
	_Alignas(64) uint64_t tail;    /* next to write: the producer's */
	_Alignas(64) unsigned char slot[SLOTS][SLOT_BYTES];
};

static void put(struct ring *r, const void *msg, size_t len)
{
	uint64_t t = r->tail;

	while (t - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == SLOTS)
		;
	memcpy(r->slot[t % SLOTS], msg, len);
	__atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
}

static void get(struct ring *r, void *msg, size_t len)
{
	uint64_t h = r->head;

	while (__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) == h)
		;
	memcpy(msg, r->slot[h % SLOTS], len);
	__atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
}

struct shared {
	struct ring data, back;
	struct bench_hist hist;
	int bad;
};

int main(int argc, char **argv)
{
	const char *mode = "stream";
	unsigned long count = 10000000;
	size_t size = 64;
	struct shared *sh;
	struct bench_gate gate;   /* each process's own descriptors: not shared */
	int c, latency;
	pid_t pids[2];
	uint64_t t0;

	while ((c = getopt(argc, argv, "m:n:z:")) != -1) {
		switch (c) {
		case 'm': mode = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'z': size = strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: naive_ring [-m stream|latency] [-n N] [-z SIZE]\n");
			return 2;
		}
	}
	if (size < BENCH_STAMP_SIZE)
		size = BENCH_STAMP_SIZE;
	if (size > SLOT_BYTES) {
		fprintf(stderr, "naive_ring: messages of at most %u bytes\n", SLOT_BYTES);
		return 2;
	}
	latency = strcmp(mode, "latency") == 0;
	sh = bench_shared(sizeof *sh);
	bench_gate_init(&gate);
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return 1;
		if (pids[i] > 0)
			continue;
		unsigned char buf[SLOT_BYTES] = { 0 };
		unsigned long warm = latency ? (count / 10 < 100 ? count / 10 : 100) : 0;
		struct bench_hist *h = latency ? calloc(1, sizeof *h) : NULL;

		if (bench_gate_pass(&gate) < 0)
			_exit(1);
		for (unsigned long k = 0; k < count; k++) {
			struct bench_stamp st;
			char b = 'a';

			if (i == 0) {
				bench_stamp_write(buf, 0, (uint32_t)k);
				put(&sh->data, buf, size);
				if (latency)
					get(&sh->back, &b, 1);
				continue;
			}
			get(&sh->data, buf, size);
			if (bench_stamp_read(buf, size, &st) < 0 || st.seq != (uint32_t)k)
				__atomic_store_n(&sh->bad, 1, __ATOMIC_RELAXED);
			if (h && k >= warm)
				bench_hist_add(h, bench_now_ns() - st.ts_ns);
			if (latency)
				put(&sh->back, &b, 1);
		}
		if (h)
			bench_hist_merge(&sh->hist, h);
		_exit(0);
	}
	if (bench_gate_wait(&gate, 2) < 0)
		return 1;
	t0 = bench_now_ns();
	bench_gate_open(&gate);
	if (bench_wait_all(pids, 2, 15 * 60 * 1000) < 0 || sh->bad) {
		fprintf(stderr, "naive_ring: a worker failed or a message came out of order\n");
		return 1;
	}
	t0 = bench_now_ns() - t0;
	bench_gate_close(&gate);
	bench_result_begin("naive_ring", mode);
	bench_result_u("p", 1);
	bench_result_u("c", 1);
	bench_result_u("size", size);
	bench_result_u("count", count);
	bench_result_rate(count, size, t0);
	if (latency)
		bench_result_hist(&sh->hist);
	bench_result_end();
	return 0;
}
