#!/usr/bin/env bash
# Build ipcd and run it in the foreground, with a producer and a consumer
# exchanging messages while ipcctl watches.  Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

dir=$(mktemp -d)
export IPCD_SOCKET=$dir/ipcd.sock
ctl=build/ctl/ipcctl

(
	for _ in $(seq 50); do [ -S "$IPCD_SOCKET" ] && break; sleep 0.1; done
	echo "demo: ipcd is up on $IPCD_SOCKET"
	$ctl queue create demo --maxsize 100
	$ctl queue put demo '{"job": 1, "args": [42, null, "hello"]}'
	$ctl queue put demo '{"job": 2, "args": []}'
	echo "demo: two messages put with ipcctl; the queue as ipcctl sees it:"
	$ctl ls
	echo "demo: ipcctl takes one back: $($ctl --json queue get demo)"
	$ctl queue purge demo
	echo "demo: a forked producer and consumer exchange 10 messages:"
	build/examples/producer_consumer demo 10
	$ctl ls
	$ctl status
	echo "demo: ipcd keeps serving; try: IPCD_SOCKET=$IPCD_SOCKET $ctl ls   (Ctrl-C to stop)"
) &

trap 'rm -rf "$dir"' EXIT
build/daemon/ipcd -s "$IPCD_SOCKET" --log-level info
