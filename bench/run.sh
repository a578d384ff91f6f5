#!/usr/bin/env bash
# The queue benchmark, in one go: ipcd's queues (through their shared-memory
# ring, and by the socket with --noring) and pipes (ipcbench), the shared-memory
# peers of the ring (Boost.Interprocess message_queue, a naive busy-polling
# SPSC ring: boost_mq, naive_ring), Redis
# as a queue (redis_bench, against a redis-server started here on a Unix
# socket), ZeroMQ and nng (zmq_bench, nng_bench: PUSH/PULL and REQ/REP on
# ipc:// endpoints), Python's multiprocessing.Queue (mp_queue.py) and the
# kernel's own limits (anchors), interleaved over ROUNDS rounds so that a
# change in the machine's load hits every system alike.  Prints a table of
# medians and of the ratios issue 7's goals name, and keeps the raw result
# lines.  Then, once, the size sweep: every system's throughput for messages
# of 16 B to 1 MiB, 1x1 and 4x4, each size measured for all systems side by
# side, and the latency distribution of one message in flight; bench/plot.sh
# draws them (gnuplot) into docs/.
#
# Usage: bench/run.sh [ROUNDS]      (default 3)
#        bench/run.sh sweep         the size sweep and the pictures only
#   BENCH_SCALE=F   multiply every message count by F (default 1; 0.1 for a
#                   quick check of the tooling)
#   BENCH_OUT=DIR   where results.txt, table.md, sweep.txt and the latency
#                   distributions go (default build-bench/)
#   BENCH_SWEEP=0   skip the size sweep and the pictures
#   BENCH_PICS=DIR  where the pictures go (default docs/)
#
# It installs what only the benchmark needs (redis-server, libhiredis-dev,
# libzmq3-dev, libnng-dev, gnuplot-nox, python3) with apt-get; the project's
# own build dependencies come from scripts/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
sweep=${BENCH_SWEEP:-1}
if [ "$rounds" = sweep ]; then
	rounds=0 sweep=1
fi
scale=${BENCH_SCALE:-1}
pics=${BENCH_PICS:-docs}
build="build-bench"
out=${BENCH_OUT:-$build}
python=/usr/bin/python3

# --- what the benchmark needs -------------------------------------------------
scripts/deps.sh
missing=()
for p in redis-server libhiredis-dev libzmq3-dev libnng-dev gnuplot-nox python3; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "bench: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- build (optimised, no tests) ----------------------------------------------
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DIPCD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target ipcd ipcbench anchors redis_bench zmq_bench nng_bench \
	naive_ring boost_mq >/dev/null
ipcbench=$build/bench/ipcbench
anchors=$build/bench/anchors
redis_bench=$build/bench/redis_bench
zmq_bench=$build/bench/zmq_bench
nng_bench=$build/bench/nng_bench
naive_ring=$build/bench/naive_ring
boost_mq=$build/bench/boost_mq

# --- servers ------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipcd-bench.XXXXXX")
ipcd_pid="" redis_pid=""
cleanup() {
	[ -n "$ipcd_pid" ] && kill "$ipcd_pid" 2>/dev/null && wait "$ipcd_pid" 2>/dev/null
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_socket PATH PID: until PATH is a socket, or fail if PID died.
wait_socket() {
	for _ in $(seq 500); do
		[ -S "$1" ] && sleep 0.1 && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.01
	done
	echo "bench: nothing serves $1" >&2
	exit 1
}

# No configuration file: one installed on the machine must not change the figures.
"$build/daemon/ipcd" -c /dev/null -s "$tmp/ipcd.sock" --max-clients 1100 --max-memory 0 &
ipcd_pid=$!
redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 \
	--save '' --appendonly no --dir "$tmp" --logfile "$tmp/redis.log" &
redis_pid=$!
wait_socket "$tmp/ipcd.sock" "$ipcd_pid"
wait_socket "$tmp/redis.sock" "$redis_pid"

# server_gone NAME PID: if the server died, say how (true), else false.
server_gone() {
	local status=0
	kill -0 "$2" 2>/dev/null && return 1
	wait "$2" || status=$?
	if [ "$status" -gt 128 ]; then
		echo "bench: $1 died of signal $(kill -l $((status - 128)))" >&2
	else
		echo "bench: $1 exited with status $status" >&2
	fi
	return 0
}

# --- the rounds ---------------------------------------------------------------
mkdir -p "$out"
results=$out/results.txt
: >"$results"
n() { awk -v n="$1" -v s="$scale" 'BEGIN { v = int(n * s); print v < 1 ? 1 : v }'; }

# one LABEL COMMAND...: run it, keep its result line under LABEL.
one() {
	local label=$1 line
	shift
	printf '  %-22s' "$label" >&2
	if ! line=$("$@"); then
		echo "bench: $label failed: $*" >&2
		server_gone ipcd "$ipcd_pid" && ipcd_pid=""
		server_gone redis-server "$redis_pid" && redis_pid=""
		exit 1
	fi
	echo "round=$round label=$label $line" >>"$results"
	echo " $line" | grep -o ' \(msgs_s\|p50_us\|bytes_per_msg\|secs\)=[^ ]*' | tr -d '\n' >&2
	echo >&2
}

I=(-s "$tmp/ipcd.sock")
R=(-s "$tmp/redis.sock")
start=$(date +%s)
for round in $(seq 1 "$rounds"); do
	echo "round $round of $rounds" >&2
	if [ "$round" = 1 ]; then
		# Memory varies little from round to round: measured once, first, and
		# ipcd's in a fresh daemon, so no heap freed by earlier runs hides growth.
		one ipcd.memory "$ipcbench" --ipcd "$build/daemon/ipcd" -m memory -n "$(n 1000000)"
		one redis.memory "$redis_bench" "${R[@]}" -m memory -n "$(n 1000000)"
	fi
	one raw.write1 "$anchors" -m write1 -n "$(n 1000000)"
	one raw.coalesced "$anchors" -m coalesced -n "$(n 20000000)"
	# Each 1x1 run right after the same on a queue kept 1,000,000 deep, and
	# right before its Redis anchor: the ratios compare neighbours.
	one ipcd.rt.1x1.deep "$ipcbench" "${I[@]}" -m rt -n "$(n 100000)" -d "$(n 1000000)"
	one ipcd.rt.1x1 "$ipcbench" "${I[@]}" -m rt -n "$(n 100000)"
	one redis.rt.1x1 "$redis_bench" "${R[@]}" -m rt -n "$(n 100000)"
	one ipcd.stream.1x1.deep "$ipcbench" "${I[@]}" -m stream -n "$(n 16000000)" -d "$(n 1000000)"
	one ipcd.stream.1x1 "$ipcbench" "${I[@]}" -m stream -n "$(n 16000000)"
	# The queue's shared-memory ring (above) beside its peers in shared memory,
	# and the socket path of the same queue (--noring).
	one boost.stream.1x1 "$boost_mq" -m stream -n "$(n 4000000)"
	one naive.stream.1x1 "$naive_ring" -m stream -n "$(n 16000000)"
	one ipcd.socket.stream.1x1 "$ipcbench" "${I[@]}" --noring -m stream -n "$(n 16000000)"
	one ipcd.socket.rt.1x1 "$ipcbench" "${I[@]}" --noring -m rt -n "$(n 100000)"
	one boost.rt.1x1 "$boost_mq" -m rt -n "$(n 100000)"
	one redis.pipelined.1x1 "$redis_bench" "${R[@]}" -m pipelined -n "$(n 1000000)"
	one redis.pipelined1024.1x1 "$redis_bench" "${R[@]}" -m pipelined -b 1024 -n "$(n 1000000)"
	one python.mp_queue "$python" bench/mp_queue.py -n "$(n 500000)"
	one ipcd.rt.4x4 "$ipcbench" "${I[@]}" -m rt -p 4 -c 4 -n "$(n 100000)"
	one redis.rt.4x4 "$redis_bench" "${R[@]}" -m rt -p 4 -c 4 -n "$(n 100000)"
	one ipcd.many.1x1 "$ipcbench" "${I[@]}" -m many -n "$(n 2000000)"
	one ipcd.stream.4x4 "$ipcbench" "${I[@]}" -m stream -p 4 -c 4 -n "$(n 16000000)"
	one boost.stream.4x4 "$boost_mq" -m stream -p 4 -c 4 -n "$(n 4000000)"
	one redis.pipelined.4x4 "$redis_bench" "${R[@]}" -m pipelined -p 4 -c 4 -n "$(n 1000000)"
	one zmq.push.1x1 "$zmq_bench" -m push -n "$(n 2000000)"
	one zmq.reqrep.1x1 "$zmq_bench" -m reqrep -n "$(n 100000)"
	one zmq.push.4x4 "$zmq_bench" -m push -p 4 -c 4 -n "$(n 2000000)"
	one nng.push.1x1 "$nng_bench" -m push -n "$(n 200000)"
	one nng.reqrep.1x1 "$nng_bench" -m reqrep -n "$(n 100000)"
	one nng.push.4x4 "$nng_bench" -m push -p 4 -c 4 -n "$(n 200000)"
	one raw.rtt "$anchors" -m rtt -n "$(n 20000)"
	one ipcd.latency "$ipcbench" "${I[@]}" -m latency -n "$(n 20000)"
	one ipcd.socket.latency "$ipcbench" "${I[@]}" --noring -m latency -n "$(n 20000)"
	one boost.latency "$boost_mq" -m latency -n "$(n 20000)"
	one naive.latency "$naive_ring" -m latency -n "$(n 20000)"
	one ipcd.latency.prefetch "$ipcbench" "${I[@]}" -m latency -f 16 -n "$(n 20000)"
	one zmq.latency "$zmq_bench" -m latency -n "$(n 20000)"
	one nng.latency "$nng_bench" -m latency -n "$(n 20000)"
	one ipcd.pipe.rt.1x1 "$ipcbench" "${I[@]}" --kind pipe -m rt -n "$(n 100000)"
	one ipcd.pipe.latency "$ipcbench" "${I[@]}" --kind pipe -m latency -n "$(n 20000)"
	one ipcd.clients "$ipcbench" "${I[@]}" -m clients -k 1000
done
secs=$(($(date +%s) - start))

if [ "$rounds" -gt 0 ]; then
	{
		echo "command: bench/run.sh $rounds (BENCH_SCALE=$scale)"
		echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
			"$(uname -r), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "versions: ipcd $(git describe --always --dirty 2>/dev/null || echo '?')," \
			"$(redis-server --version | grep -o 'v=[^ ]*' | sed 's/v=/redis /')," \
			"$("$zmq_bench" -m push -n 1 | grep -o 'lib=zmq [^ ]*' | sed 's/lib=//')," \
			"$("$nng_bench" -m push -n 1 | grep -o 'lib=nng [^ ]*' | sed 's/lib=//')," \
			"$($python --version)"
		echo "rounds took ${secs} s"
		echo
		$python bench/summarize.py "$results"
	} | tee "$out/table.md"
fi
[ "$sweep" = 1 ] || exit 0

# --- the size sweep -----------------------------------------------------------
# Each size is measured for every system in turn, so the systems at one size
# are neighbours in time.  A run moves about 64 MiB, between 64 messages and
# a per-system cap that keeps the slow ones short.
sweep_out=$out/sweep.txt
: >"$sweep_out"
load_before=$(cut -d' ' -f1 /proc/loadavg)
sweep_start=$(date +%s)
sweep_failed=0
sizes=(16 64 256 1024 4096 16384 65536 262144 1048576)
sweep_n() {
	awk -v cap="$1" -v z="$2" -v s="$scale" 'BEGIN { v = int(67108864 / z); if (v > cap) v = cap
		v = int(v * s); print v < 64 ? 64 : v }'
}

# sweep_one CONFIG LABEL COMMAND...: run it, keep its result line; a failure is
# reported and counted, and the sweep goes on (the point is missing in the plot).
sweep_one() {
	local config=$1 label=$2 line
	shift 2
	printf '  %-4s %-16s' "$config" "$label" >&2
	if ! line=$("$@"); then
		echo " FAILED: $*" >&2
		sweep_failed=$((sweep_failed + 1))
		server_gone ipcd "$ipcd_pid" && exit 1
		server_gone redis-server "$redis_pid" && exit 1
		return 0
	fi
	echo "config=$config label=$label $line" >>"$sweep_out"
	echo " $line" | grep -o ' \(size\|msgs_s\|mb_s\)=[^ ]*' | tr -d '\n' >&2
	echo >&2
}

for config in 1x1 4x4; do
	k=${config%x*}
	for z in "${sizes[@]}"; do
		echo "sweep $config, $z bytes" >&2
		sweep_one "$config" ipcd.stream "$ipcbench" "${I[@]}" -m stream -p "$k" -c "$k" -z "$z" \
			-n "$(sweep_n 2000000 "$z")"
		sweep_one "$config" ipcd.rt "$ipcbench" "${I[@]}" -m rt -p "$k" -c "$k" -z "$z" \
			-n "$(sweep_n 10000 "$z")"
		sweep_one "$config" zmq.push "$zmq_bench" -m push -p "$k" -c "$k" -z "$z" \
			-n "$(sweep_n 500000 "$z")"
		sweep_one "$config" zmq.reqrep "$zmq_bench" -m reqrep -p "$k" -c "$k" -z "$z" \
			-n "$(sweep_n 10000 "$z")"
		sweep_one "$config" nng.push "$nng_bench" -m push -p "$k" -c "$k" -z "$z" \
			-n "$(sweep_n 30000 "$z")"
		sweep_one "$config" nng.reqrep "$nng_bench" -m reqrep -p "$k" -c "$k" -z "$z" \
			-n "$(sweep_n 10000 "$z")"
		sweep_one "$config" redis.pipelined "$redis_bench" "${R[@]}" -m pipelined -p "$k" -c "$k" \
			-z "$z" -n "$(sweep_n 300000 "$z")"
		sweep_one "$config" python.mp_queue "$python" bench/mp_queue.py -p "$k" -c "$k" -z "$z" \
			-n "$(sweep_n 30000 "$z")"
	done
done

# The latency distributions of one 64-byte message in flight.
echo "latency distributions" >&2
sweep_one 1x1 latency.ipcd "$ipcbench" "${I[@]}" -m latency -n "$(n 20000)" --cdf "$out/cdf-ipcd.txt"
sweep_one 1x1 latency.ipcd-pipe "$ipcbench" "${I[@]}" --kind pipe -m latency -n "$(n 20000)" \
	--cdf "$out/cdf-ipcd-pipe.txt"
sweep_one 1x1 latency.zmq "$zmq_bench" -m latency -n "$(n 20000)" --cdf "$out/cdf-zmq.txt"
sweep_one 1x1 latency.nng "$nng_bench" -m latency -n "$(n 20000)" --cdf "$out/cdf-nng.txt"

sweep_secs=$(($(date +%s) - sweep_start))
stamp="bench/run.sh sweep, $(date -u '+%Y-%m-%d %H:%M UTC'), ipcd $(git describe --always --dirty 2>/dev/null || echo '?'), $(nproc) CPUs, load average $load_before before and $(cut -d' ' -f1 /proc/loadavg) after, $sweep_secs s"
echo "$stamp" >"$out/sweep-stamp.txt"
echo "$stamp" >&2
bench/plot.sh "$out" "$pics"
if [ "$sweep_failed" -gt 0 ]; then
	echo "bench: $sweep_failed sweep runs failed (see above)" >&2
	exit 1
fi
