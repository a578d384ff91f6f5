#!/usr/bin/env bash
# Build ipcd and run it in the foreground, with a producer and a consumer
# exchanging messages while ipcctl watches.  Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Only what the demo needs: the daemon, ipcctl and the examples, no tests
# nor benchmarks (scripts/test.sh builds those), in a build tree of its own.
echo "demo: checking the build dependencies (scripts/deps.sh --build)"
scripts/deps.sh --build
echo "demo: configuring build-demo/"
cmake -S . -B build-demo -DIPCD_BUILD_TESTS=OFF -DIPCD_BUILD_BENCH=OFF >/dev/null
echo "demo: building ipcd, ipcctl, libipcclient and the examples (a minute or two)"
if ! cmake --build build-demo -j"$(nproc)" 2>&1 |
	{ grep --line-buffered -E '^\[ *[0-9]+%\] (Built target|Linking)|: (error|warning):' || true; }; then
	echo "demo: the build failed; see: cmake --build build-demo" >&2
	exit 1
fi
echo "demo: built"

dir=$(mktemp -d)
export IPCD_SOCKET=$dir/ipcd.sock
ctl=build-demo/ctl/ipcctl

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
	build-demo/examples/producer_consumer demo 10
	$ctl ls
	$ctl status
	echo "demo: ipcd keeps serving; try: IPCD_SOCKET=$IPCD_SOCKET $ctl ls   (Ctrl-C to stop)"
) &

trap 'rm -rf "$dir"' EXIT
build-demo/daemon/ipcd -s "$IPCD_SOCKET" --log-level info
