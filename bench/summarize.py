#!/usr/bin/env python3
"""summarize.py - turn bench/run.sh's result lines into Markdown tables:
the median of each scenario over the rounds with its spread, then the ratios
that issue 7's goals name, each ratio taken within a round (systems measured
side by side) and summarised by its median and range over the rounds.

Usage: summarize.py RESULTS
"""
import statistics
import sys
from collections import defaultdict


def load(path):
    """label -> round -> {key: value} (numbers where they parse)."""
    runs = defaultdict(dict)
    with open(path) as f:
        for line in f:
            kv = {}
            for tok in line.split():
                k, _, v = tok.partition("=")
                try:
                    kv[k] = float(v)
                except ValueError:
                    kv[k] = v
            if "label" in kv:
                runs[kv["label"]][int(kv["round"])] = kv
    return runs


def values(runs, label, key):
    return [r[key] for _, r in sorted(runs.get(label, {}).items()) if key in r]


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if unit == "msgs":
        return "{:,.0f}".format(v) if v < 1e6 else "{:.2f} M".format(v / 1e6)
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    if abs(v) >= 10:
        return "{:.1f}".format(v)
    return "{:.2f}".format(v)


def spread(vs):
    """(max - min) / median, as a percentage."""
    if len(vs) < 2:
        return "-"
    m = statistics.median(vs)
    return "{:.0f}%".format(100 * (max(vs) - min(vs)) / m) if m else "-"


SCENARIOS = [
    ("raw.write1", "raw socketpair, one write per message"),
    ("raw.coalesced", "raw socketpair, frames in 64 KiB writes"),
    ("raw.rtt", "raw Unix-socket round trip (ping-pong)"),
    ("ipcd.rt.1x1", "ipcd put/get, a round trip each, 1x1"),
    ("redis.rt.1x1", "Redis LPUSH/BRPOP, 1x1"),
    ("ipcd.stream.1x1", "ipcd put_async + flush, get_many 256 + prefetch 4096, 1x1"),
    ("redis.pipelined.1x1", "Redis LPUSH pipelined 32 / RPOP 32, 1x1"),
    ("redis.pipelined1024.1x1", "Redis LPUSH pipelined 1024 / RPOP 1024, 1x1"),
    ("python.mp_queue", "Python multiprocessing.Queue, 1x1"),
    ("ipcd.many.1x1", "ipcd put_many 64 per call (a round trip each), get_many 64, 1x1"),
    ("ipcd.rt.4x4", "ipcd put/get, 4x4"),
    ("redis.rt.4x4", "Redis LPUSH/BRPOP, 4x4"),
    ("ipcd.stream.4x4", "ipcd streaming (put_async), 4x4"),
    ("redis.pipelined.4x4", "Redis pipelined, 4x4"),
    ("ipcd.latency", "ipcd one message in flight (put -> get)"),
    ("ipcd.latency.prefetch", "the same, consumer prefetch 16"),
    ("ipcd.pipe.rt.1x1", "ipcd pipe send/recv, a round trip each"),
    ("ipcd.pipe.latency", "ipcd pipe, one message in flight"),
    ("zmq.push.1x1", "ZeroMQ PUSH/PULL, 1x1"),
    ("zmq.reqrep.1x1", "ZeroMQ REQ/REP (a round trip each), 1x1"),
    ("zmq.push.4x4", "ZeroMQ PUSH/PULL, 4x4"),
    ("zmq.latency", "ZeroMQ REQ/REP, one message in flight"),
    ("nng.push.1x1", "nng PUSH/PULL, 1x1"),
    ("nng.reqrep.1x1", "nng REQ/REP (a round trip each), 1x1"),
    ("nng.push.4x4", "nng PUSH/PULL, 4x4"),
    ("nng.latency", "nng REQ/REP, one message in flight"),
    ("ipcd.rt.1x1.deep", "ipcd rt 1x1, queue 1,000,000 deep"),
    ("ipcd.socket.stream.1x1", "ipcd by the socket (--noring): put_async, get_many, 1x1"),
    ("ipcd.socket.rt.1x1", "ipcd by the socket (--noring): put/get, a round trip each, 1x1"),
    ("ipcd.socket.latency", "ipcd by the socket (--noring): one message in flight"),
    ("boost.stream.1x1", "Boost.Interprocess message_queue, 1x1"),
    ("boost.stream.4x4", "Boost.Interprocess message_queue, 4x4"),
    ("boost.rt.1x1", "Boost.Interprocess message_queue, a round trip each, 1x1"),
    ("boost.latency", "Boost.Interprocess message_queue, one message in flight"),
    ("naive.stream.1x1", "naive busy-polling SPSC ring, index published per message, 1x1"),
    ("naive.latency", "naive busy-polling SPSC ring, one message in flight"),
    ("ipcd.stream.1x1.deep", "ipcd streaming 1x1, queue 1,000,000 deep"),
]


def per_round(runs, a, akey, b, bkey):
    """The ratio a/b within each round both ran in."""
    ra, rb = runs.get(a, {}), runs.get(b, {})
    return [ra[r][akey] / rb[r][bkey] for r in sorted(ra)
            if r in rb and akey in ra[r] and bkey in rb[r] and rb[r][bkey]]


def main():
    runs = load(sys.argv[1])

    print("| scenario | msgs/s (median) | spread | p50 µs | p99 µs | p99.9 µs |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, what in SCENARIOS:
        vs = values(runs, label, "msgs_s")
        if not vs:
            continue
        med = {k: statistics.median(values(runs, label, k)) if values(runs, label, k) else None
               for k in ("p50_us", "p99_us", "p999_us")}
        print("| {} (`{}`) | {} | {} | {} | {} | {} |".format(
            what, label, fmt(statistics.median(vs), "msgs"), spread(vs),
            fmt(med["p50_us"]), fmt(med["p99_us"]), fmt(med["p999_us"])))
    print()
    print("Spread: (max - min) / median over the rounds.  Latency is from the put to the get;"
          " in throughput runs it includes the time a message waits in the queue.")
    print()

    goals = [
        ("streaming 1x1 vs Redis pipelined 1x1", "ipcd.stream.1x1", "msgs_s",
         "redis.pipelined.1x1", "msgs_s", ">=", 5),
        ("streaming 1x1 vs Redis pipelined 1024 (Redis batching as much as ipcd)",
         "ipcd.stream.1x1", "msgs_s", "redis.pipelined1024.1x1", "msgs_s", "info", None),
        ("streaming 1x1 vs multiprocessing.Queue", "ipcd.stream.1x1", "msgs_s",
         "python.mp_queue", "msgs_s", ">=", 8),
        ("rt 1x1 vs Redis rt 1x1", "ipcd.rt.1x1", "msgs_s", "redis.rt.1x1", "msgs_s", ">=", 1),
        ("streaming 4x4 vs Redis pipelined 4x4", "ipcd.stream.4x4", "msgs_s",
         "redis.pipelined.4x4", "msgs_s", ">=", 5),
        ("latency p50 vs raw round trip p50", "ipcd.latency", "p50_us", "raw.rtt", "p50_us",
         "<=", 2),
        ("latency p50 with prefetch 16 vs raw round trip p50 (each get also writes a credit)",
         "ipcd.latency.prefetch", "p50_us", "raw.rtt", "p50_us", "info", None),
        ("pipe latency p50 vs raw round trip p50", "ipcd.pipe.latency", "p50_us", "raw.rtt",
         "p50_us", "<=", 2),
        ("streaming 1x1 vs ZeroMQ PUSH/PULL 1x1", "ipcd.stream.1x1", "msgs_s", "zmq.push.1x1",
         "msgs_s", "info", None),
        ("streaming 4x4 vs ZeroMQ PUSH/PULL 4x4", "ipcd.stream.4x4", "msgs_s", "zmq.push.4x4",
         "msgs_s", "info", None),
        ("streaming 1x1 vs nng PUSH/PULL 1x1", "ipcd.stream.1x1", "msgs_s", "nng.push.1x1",
         "msgs_s", "info", None),
        ("rt 1x1 vs ZeroMQ REQ/REP 1x1", "ipcd.rt.1x1", "msgs_s", "zmq.reqrep.1x1", "msgs_s",
         "info", None),
        ("latency p50 vs ZeroMQ REQ/REP latency p50", "ipcd.latency", "p50_us", "zmq.latency",
         "p50_us", "info", None),
        ("latency p50 vs nng REQ/REP latency p50", "ipcd.latency", "p50_us", "nng.latency",
         "p50_us", "info", None),
        ("ring stream 1x1 vs Boost message_queue 1x1", "ipcd.stream.1x1", "msgs_s",
         "boost.stream.1x1", "msgs_s", ">=", 1.5),
        ("ring stream 1x1 vs naive busy-polling ring", "ipcd.stream.1x1", "msgs_s",
         "naive.stream.1x1", "msgs_s", "info", None),
        ("ring stream 1x1 vs the socket path", "ipcd.stream.1x1", "msgs_s",
         "ipcd.socket.stream.1x1", "msgs_s", "info", None),
        ("ring latency p50 vs socket path latency p50", "ipcd.latency", "p50_us",
         "ipcd.socket.latency", "p50_us", "info", None),
        ("flatness rt: 1M deep vs empty", "ipcd.rt.1x1.deep", "msgs_s", "ipcd.rt.1x1", "msgs_s",
         "within", 0.2),
        ("flatness streaming: 1M deep vs empty", "ipcd.stream.1x1.deep", "msgs_s",
         "ipcd.stream.1x1", "msgs_s", "within", 0.2),
    ]
    print("| goal | ratio (median of rounds) | range over rounds | target | met |")
    print("|---|---:|---:|---|---|")
    for name, a, ak, b, bk, op, target in goals:
        rs = per_round(runs, a, ak, b, bk)
        if op == "info":
            tgt = "not a goal"
        elif op == "within":
            tgt = "within {:.0f}%".format(target * 100)
        else:
            tgt = "{} {}".format(op, target)
        if not rs:
            print("| {} | n/a | | {} | not measured |".format(name, tgt))
            continue
        m = statistics.median(rs)
        if op == "info":
            print("| {} | {:.2f} | {:.2f} – {:.2f} | {} | |".format(name, m, min(rs), max(rs), tgt))
            continue
        ok = {">=": m >= target, "<=": m <= target, "within": abs(m - 1) <= target}[op]
        met = "yes" if ok else "no"
        if op == "within" and m > 1 + target:
            met = "no (faster when deep)"
        print("| {} | {:.2f} | {:.2f} – {:.2f} | {} | {} |".format(
            name, m, min(rs), max(rs), tgt, met))

    stream = values(runs, "ipcd.stream.1x1", "msgs_s")
    if stream:
        m = statistics.median(stream)
        print("| streaming 1x1 absolute | {} msgs/s | | >= 2 M | {} |".format(
            fmt(m, "msgs"), "yes" if m >= 2e6 else "no"))
    for label, key, op, target, unit in (
            ("ipcd.stream.1x1", "msgs_s", ">=", 20e6, "msgs/s"),
            ("ipcd.stream.4x4", "msgs_s", ">=", 10e6, "msgs/s"),
            ("ipcd.rt.1x1", "msgs_s", ">=", 100e3, "round trips/s"),
            ("ipcd.latency", "p50_us", "<=", 5, "µs p50"),
            ("ipcd.latency", "p99_us", "<=", 50, "µs p99")):
        vs = values(runs, label, key)
        if vs:
            m = statistics.median(vs)
            ok = m >= target if op == ">=" else m <= target
            print("| ring `{}` absolute ({}) | {} | | {} {} | {} |".format(
                label, unit, fmt(m, "msgs" if key == "msgs_s" else ""), op,
                fmt(target, "msgs" if key == "msgs_s" else ""), "yes" if ok else "no"))
    ib = values(runs, "ipcd.memory", "bytes_per_msg")
    rb = values(runs, "redis.memory", "bytes_per_msg")
    rr = values(runs, "redis.memory", "rss_bytes_per_msg")
    if ib:
        print("| bytes per queued 64-byte message (ipcd RSS growth) | {:.1f} | Redis: {} used_memory, "
              "{} RSS | <= 72 | {} |".format(
                  ib[0], fmt(rb[0]) if rb else "n/a", fmt(rr[0]) if rr else "n/a",
                  "yes" if ib[0] <= 72 else "no"))
    cl = runs.get("ipcd.clients", {})
    if cl:
        secs = [r["secs"] for r in cl.values()]
        oks = {int(r["ok"]) for r in cl.values()}
        n = {int(r["clients"]) for r in cl.values()}
        print("| {} concurrent clients, each put and got {} | {:.2f} s (median) | "
              "{:.2f} – {:.2f} s | all succeed | {} |".format(
                  "/".join(map(str, sorted(n))),
                  int(next(iter(cl.values()))["per_client"]), statistics.median(secs),
                  min(secs), max(secs), "yes" if oks == n else "no"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
