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
	build/examples/producer_consumer demo 10
	echo "demo: the queue as ipcctl sees it:"
	$ctl ls
	$ctl status
	echo "demo: ipcd keeps serving; try: IPCD_SOCKET=$IPCD_SOCKET $ctl ls   (Ctrl-C to stop)"
) &

trap 'rm -rf "$dir"' EXIT
build/daemon/ipcd -s "$IPCD_SOCKET" --log-level info
