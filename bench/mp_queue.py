#!/usr/bin/env python3
"""mp_queue.py - Python's multiprocessing.Queue as the yardstick of a queue
with no broker at all: PRODUCERS processes put COUNT messages of SIZE bytes
(bytes objects) in all, CONSUMERS processes get them (one of each by
default).

Each consumer checks that the messages of each producer arrive in order; the
run checks that every message arrived once.  A consumer reads the send time
stamped in every 16th message for the latency figures (reading it in every
message would slow Python's loop more than the queue itself does).
Prints one line of key=value pairs, like the C benchmarks.
"""
import argparse
import multiprocessing as mp
import struct
import sys
import time

STAMP = struct.Struct("<QII")   # send time (ns, CLOCK_MONOTONIC), producer, seq
SAMPLE = 16


def producer(q, p, count, size, ready, go):
    pad = b"x" * (size - STAMP.size)
    pack = STAMP.pack
    now = time.monotonic_ns
    ready.release()
    go.wait()
    for i in range(count):
        q.put(pack(now(), p, i) + pad)


def consumer(q, size, ready, go, out):
    """Take messages until None; report (status, time of the last, latencies, per-producer counts)."""
    unpack = STAMP.unpack_from
    now = time.monotonic_ns
    lat, last_seq, n, t = [], {}, 0, 0
    ready.release()
    go.wait()
    while True:
        m = q.get()
        if m is None:
            break
        t_take = now()
        ts, p, seq = unpack(m)
        if seq <= last_seq.get(p, -1) or len(m) != size:
            out.put(("error", "producer %d message %d after %d, %d bytes"
                     % (p, seq, last_seq.get(p, -1), len(m)), 0, None))
            return
        last_seq[p] = seq
        if n % SAMPLE == 0:
            lat.append(t_take - ts)
        n += 1
        t = t_take
    out.put(("ok", t, lat, n))


def quantile(xs, q):
    return xs[min(len(xs) - 1, max(0, int(q * len(xs) + 0.999999) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--count", type=int, default=1000000)
    ap.add_argument("-z", "--size", type=int, default=64)
    ap.add_argument("-p", "--producers", type=int, default=1)
    ap.add_argument("-c", "--consumers", type=int, default=1)
    a = ap.parse_args()
    if a.count < a.producers or a.size < STAMP.size or a.producers < 1 or a.consumers < 1:
        ap.error("count >= producers >= 1, consumers >= 1 and size >= %d" % STAMP.size)

    ctx = mp.get_context("fork")
    q, out = ctx.Queue(), ctx.Queue()
    ready, go = ctx.Semaphore(0), ctx.Event()
    share = [a.count // a.producers + (i < a.count % a.producers) for i in range(a.producers)]
    prods = [ctx.Process(target=producer, args=(q, i, share[i], a.size, ready, go))
             for i in range(a.producers)]
    cons = [ctx.Process(target=consumer, args=(q, a.size, ready, go, out))
            for i in range(a.consumers)]
    for p in prods + cons:
        p.start()
    for _ in prods + cons:
        ready.acquire()
    t0 = time.monotonic_ns()
    go.set()
    for p in prods:
        p.join(600)
    # Every message is in the queue ahead of these: one end mark per consumer.
    for _ in cons:
        q.put(None)
    res = [out.get(timeout=600) for _ in cons]
    for p in cons:
        p.join(60)
    bad = [r for r in res if r[0] != "ok"]
    if bad or any(p.exitcode != 0 for p in prods + cons):
        print("mp_queue: %s" % (bad[0][1] if bad else "a worker failed"), file=sys.stderr)
        return 1
    got = sum(r[3] for r in res)
    if got != a.count:
        print("mp_queue: %d of %d messages received" % (got, a.count), file=sys.stderr)
        return 1
    secs = (max(r[1] for r in res) - t0) / 1e9
    lat = sorted(x for r in res for x in r[2])
    print("bench=python mode=mp_queue p=%d c=%d size=%d count=%d received=%d secs=%.6g"
          " msgs_s=%.6g mb_s=%.6g p50_us=%.6g p99_us=%.6g p999_us=%.6g python=%s"
          % (a.producers, a.consumers, a.size, a.count, got, secs, a.count / secs,
             a.count * a.size / secs / 1e6,
             quantile(lat, 0.5) / 1e3, quantile(lat, 0.99) / 1e3,
             quantile(lat, 0.999) / 1e3, sys.version.split()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
