#!/usr/bin/env python3
"""py_ipcd.py - ipcd's Python module beside multiprocessing, in one run.

Queues: one producer process puts COUNT small objects (a pickled int, or a
64-byte bytes), one consumer process gets them and checks their order;
msgs/s from releasing both to the last get, and the CPU time per message
of the producer, the consumer and (for ipcd, when this program started it)
the daemon: on a loaded machine msgs/s follow the CPU share each process
gets, and CPU per message is the steadier figure.  multiprocessing.Queue
and ipcd.Queue are measured in turns, ROUNDS times, so the machine's load
hits both alike; each ratio is taken within a round.

Arrays: arr[:] of a 1M-int Array (lock=False: the ctypes object), and a
loop of element writes and reads; ipcd's against multiprocessing's.

Needs ipcd: --ipcd BIN starts one on a temporary socket, else $IPCD_SOCKET.
"""
import argparse
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import ipcd


def producer(q, count, kind, ready, go):
    payload = b"x" * 64
    ready.release()
    go.wait()
    if kind == "int":
        for i in range(count):
            q.put(i)
    else:
        for i in range(count):
            q.put(payload)


def consumer(q, count, kind, ready, go, out):
    ready.release()
    go.wait()
    get = q.get
    if kind == "int":
        for i in range(count):
            if get() != i:
                out.put(("error", i))
                return
    else:
        for i in range(count):
            if len(get()) != 64:
                out.put(("error", i))
                return
    out.put(("ok", time.monotonic()))


def cpu_seconds(daemon):
    """CPU time of the children joined so far, and of the daemon if started here."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = ru.ru_utime + ru.ru_stime
    if daemon is not None:
        with open("/proc/%d/stat" % daemon.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        t += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return t


def run_queue(make, count, kind, daemon=None):
    """msgs/s, and CPU microseconds per message (producer, consumer, daemon)."""
    ctx = mp.get_context("fork")
    cpu0 = cpu_seconds(daemon)
    q = make()
    out = ctx.Queue()
    ready, go = ctx.Semaphore(0), ctx.Event()
    ps = [ctx.Process(target=producer, args=(q, count, kind, ready, go)),
          ctx.Process(target=consumer, args=(q, count, kind, ready, go, out))]
    for p in ps:
        p.start()
    for _ in ps:
        ready.acquire()
    t0 = time.monotonic()
    go.set()
    res = out.get(timeout=600)
    for p in ps:
        p.join(60)
    if res[0] != "ok" or any(p.exitcode for p in ps):
        raise SystemExit("py_ipcd: a queue run failed: %r" % (res,))
    return count / (res[1] - t0), (cpu_seconds(daemon) - cpu0) / count * 1e6


def best(f, n=5):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def run_arrays(n):
    ma = mp.Array('i', n, lock=False)
    ia = ipcd.Array('i', n, lock=False)
    slice_mp = best(lambda: ma[:])
    slice_ipcd = best(lambda: ia[:])

    def touch(a):
        for i in range(0, n, 16):
            a[i] = a[i] + 1
    touch_mp = best(lambda: touch(ma), 3)
    touch_ipcd = best(lambda: touch(ia), 3)
    return slice_mp, slice_ipcd, touch_mp, touch_ipcd


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--count", type=int, default=200000)
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("--ipcd", help="the ipcd binary to start on a temporary socket")
    a = ap.parse_args()
    daemon = None
    if a.ipcd:
        d = tempfile.mkdtemp()
        sock = os.path.join(d, "ipcd.sock")
        daemon = subprocess.Popen([a.ipcd, "-s", sock, "-c", "/dev/null", "--max-memory", "0"])
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        ipcd.set_socket(sock)
    try:
        ratios = {"int": [], "bytes64": []}
        cpu_ratios = {"int": [], "bytes64": []}
        print("load average %.2f %.2f %.2f" % os.getloadavg())
        for r in range(a.rounds):
            for kind in ("int", "bytes64"):
                m, mc = run_queue(mp.get_context("fork").Queue, a.count, kind)
                i, ic = run_queue(ipcd.Queue, a.count, kind, daemon)
                ratios[kind].append(i / m)
                cpu_ratios[kind].append(mc / ic)
                print("round %d %-7s mp.Queue %9.0f msgs/s %5.1f us/msg  ipcd.Queue %9.0f msgs/s "
                      "%5.1f us/msg  ratio %.2f" % (r + 1, kind, m, mc, i, ic, i / m), flush=True)
        for kind, rs in ratios.items():
            cs = cpu_ratios[kind]
            print("queue %-7s ratio ipcd/mp: median %.2f (range %.2f - %.2f); CPU per message "
                  "mp/ipcd: median %.2f (range %.2f - %.2f)" % (kind, statistics.median(rs), min(rs),
                                                             max(rs), statistics.median(cs),
                                                             min(cs), max(cs)))
        print("load average %.2f %.2f %.2f" % os.getloadavg())
        for r in range(a.rounds):
            sm, si, tm, ti = run_arrays(1 << 20)
            print("round %d arr[:] of 1M ints: mp %.1f ms  ipcd %.1f ms  ratio %.2f;  "
                  "element loop: mp %.1f ms  ipcd %.1f ms  ratio %.2f"
                  % (r + 1, sm * 1e3, si * 1e3, si / sm, tm * 1e3, ti * 1e3, ti / tm))
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
