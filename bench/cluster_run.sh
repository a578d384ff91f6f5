#!/usr/bin/env bash
# Cluster queues against libnats directly: starts a 3-node nats-server
# cluster with JetStream on loopback and two ipcds (A and B, as two hosts
# would run them), runs cluster_bench once, and stops everything.
#   bench/cluster_run.sh BUILD_DIR [cluster_bench options: -n N -s SIZE -r R -l K]
set -euo pipefail
build=${1:?usage: cluster_run.sh BUILD_DIR [options]}
shift
dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ports=() cports=()
for i in 0 1 2; do ports+=("$(free_port)"); cports+=("$(free_port)"); done
routes="nats://127.0.0.1:${cports[0]},nats://127.0.0.1:${cports[1]},nats://127.0.0.1:${cports[2]}"
urls="nats://127.0.0.1:${ports[0]},nats://127.0.0.1:${ports[1]},nats://127.0.0.1:${ports[2]}"
for i in 0 1 2; do
	nats-server -a 127.0.0.1 -p "${ports[$i]}" -js -sd "$dir/n$i" -n "n$i" --cluster_name bench \
		--cluster "nats://127.0.0.1:${cports[$i]}" --routes "$routes" -l "$dir/n$i.log" &
	pids+=($!)
done
# JetStream is ready once a metadata leader is elected.
for _ in $(seq 600); do
	grep -q "metadata leader" "$dir"/n*.log 2>/dev/null && break
	sleep 0.1
done
for h in a b; do
	"$build/daemon/ipcd" -s "$dir/$h.sock" --cluster "$urls" --state-dir "$dir/$h" &
	pids+=($!)
done
for _ in $(seq 600); do
	[ -S "$dir/a.sock" ] && [ -S "$dir/b.sock" ] && break
	sleep 0.1
done
sleep 1  # the ipcds connect in the background
"$build/bench/cluster_bench" -c "$urls" -a "$dir/a.sock" -b "$dir/b.sock" "$@"
