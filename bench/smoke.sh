#!/usr/bin/env bash
# The benchmark's smallest configuration, run once by the test suite for
# correctness only (no figure is judged): each ipcbench mode against a real
# ipcd that ipcbench starts itself, which must exit 0 having received every
# message it sent.
# Usage: smoke.sh IPCBENCH IPCD
set -euo pipefail
ipcbench=$1 ipcd=$2

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
echo "bench smoke: all passed"
