#!/usr/bin/env bash
# The benchmark's smallest configuration, run once by the test suite for
# correctness only (no figure is judged): each ipcbench mode against a real
# ipcd that ipcbench starts itself, which must exit 0 having received every
# message it sent.  Then, when they were built, zmq_bench and nng_bench in
# each mode, and multiprocessing.Queue's script 1x1 and 2x2.
# Usage: smoke.sh IPCBENCH IPCD [ZMQ_BENCH|-] [NNG_BENCH|-]
set -euo pipefail
ipcbench=$1 ipcd=$2 zmq_bench=${3:--} nng_bench=${4:--}
here=$(dirname "$0")

# run WANT ARGS...: run ipcbench; its result line must contain WANT.
run() {
	local want=$1 out
	shift
	if ! out=$("$ipcbench" --ipcd "$ipcd" "$@"); then
		echo "FAIL: ipcbench $* exited non-zero" >&2
		exit 1
	fi
	echo "$out"
	if [[ " $out " != *" $want "* ]]; then
		echo "FAIL: ipcbench $*: no '$want' in its result" >&2
		exit 1
	fi
}

run received=3000 -m rt -n 3000
run received=4000 -m rt -n 4000 -p 2 -c 2
run received=1000 -m rt -n 1000 -d 2000
run received=3000 -m many -n 3000
run received=4000 -m many -n 4000 -p 2 -c 2 -b 16 -f 32
run received=3000 -m stream -n 3000
run received=4000 -m stream -n 4000 -p 2 -c 2 -b 8 -f 16
run received=500 -m latency -n 500
run received=500 -m latency -n 500 -f 4
run received=2000 --kind pipe -m rt -n 2000
run received=300 --kind pipe -m latency -n 300
run ok=50 -m clients -k 50
run count=2000 -m memory -n 2000
run received=200 -m latency -n 200 --cdf "${TMPDIR:-/tmp}/ipcbench-cdf.$$"
[ -s "${TMPDIR:-/tmp}/ipcbench-cdf.$$" ] || { echo "FAIL: ipcbench --cdf wrote nothing" >&2; exit 1; }
rm -f "${TMPDIR:-/tmp}/ipcbench-cdf.$$"

# other BENCH WANT ARGS...: run a benchmark program; its result must contain WANT.
other() {
	local bench=$1 want=$2 out
	shift 2
	if ! out=$("$bench" "$@"); then
		echo "FAIL: $bench $* exited non-zero" >&2
		exit 1
	fi
	echo "$out"
	if [[ " $out " != *" $want "* ]]; then
		echo "FAIL: $bench $*: no '$want' in its result" >&2
		exit 1
	fi
}

for b in "$zmq_bench" "$nng_bench"; do
	[ "$b" = - ] && continue
	other "$b" received=2000 -m push -n 2000
	other "$b" received=2000 -m push -n 2000 -p 2 -c 2 -z 4096
	other "$b" received=500 -m reqrep -n 500 -p 2 -c 2
	other "$b" received=300 -m latency -n 300
done
other python3 received=2000 "$here/mp_queue.py" -n 2000
other python3 received=2000 "$here/mp_queue.py" -n 2000 -p 2 -c 2 -z 1024
echo "bench smoke: all passed"
