#!/usr/bin/env python3
"""mp_queue.py - Python's multiprocessing.Queue as the yardstick of a queue
with no broker at all: one producer process puts COUNT messages of SIZE bytes
(bytes objects), one consumer process gets them.

The consumer checks that every message arrives, in order; it reads the send
time stamped in every 16th message for the latency figures (reading it in
every message would slow Python's loop more than the queue itself does).
Prints one line of key=value pairs, like the C benchmarks.
"""
import argparse
import multiprocessing as mp
import struct
import sys
import time

STAMP = struct.Struct("<QII")   # send time (ns, CLOCK_MONOTONIC), producer, seq
SAMPLE = 16


def producer(q, count, size, ready, go):
    pad = b"x" * (size - STAMP.size)
    pack = STAMP.pack
    now = time.monotonic_ns
    ready.release()
    go.wait()
    for i in range(count):
        q.put(pack(now(), 0, i) + pad)


def consumer(q, count, size, ready, go, out):
    unpack = STAMP.unpack_from
    now = time.monotonic_ns
    lat = []
    ready.release()
    go.wait()
    for i in range(count):
        m = q.get()
        if i % SAMPLE == 0 or i == count - 1:
            t = now()
            ts, _, seq = unpack(m)
            if seq != i or len(m) != size:
                out.put(("error", "message %d: seq %d, %d bytes" % (i, seq, len(m))))
                return
            lat.append(t - ts)
    out.put(("ok", now(), lat))


def quantile(xs, q):
    return xs[min(len(xs) - 1, max(0, int(q * len(xs) + 0.999999) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--count", type=int, default=1000000)
    ap.add_argument("-z", "--size", type=int, default=64)
    a = ap.parse_args()
    if a.count < 1 or a.size < STAMP.size:
        ap.error("count >= 1 and size >= %d" % STAMP.size)

    ctx = mp.get_context("fork")
    q, out = ctx.Queue(), ctx.Queue()
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=producer, args=(q, a.count, a.size, ready, go)),
             ctx.Process(target=consumer, args=(q, a.count, a.size, ready, go, out))]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    t0 = time.monotonic_ns()
    go.set()
    res = out.get(timeout=600)
    for p in procs:
        p.join(60)
    if res[0] != "ok" or any(p.exitcode != 0 for p in procs):
        print("mp_queue: %s" % (res[1] if res[0] != "ok" else "a worker failed"),
              file=sys.stderr)
        return 1
    secs = (res[1] - t0) / 1e9
    lat = sorted(res[2])
    print("bench=python mode=mp_queue p=1 c=1 size=%d count=%d received=%d secs=%.6g"
          " msgs_s=%.6g mb_s=%.6g p50_us=%.6g p99_us=%.6g p999_us=%.6g python=%s"
          % (a.size, a.count, a.count, secs, a.count / secs, a.count * a.size / secs / 1e6,
             quantile(lat, 0.5) / 1e3, quantile(lat, 0.99) / 1e3,
             quantile(lat, 0.999) / 1e3, sys.version.split()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
