#!/usr/bin/env bash
# plot.sh - draw bench/run.sh's size sweep and latency distributions with
# gnuplot: throughput against message size (16 B to 1 MiB, log scales), one
# picture for 1 producer x 1 consumer and one for 4 x 4, each with messages/s
# and MB/s side by side; and the latency CDF of one message in flight.
#
# Usage: bench/plot.sh RESULTS_DIR PICTURES_DIR
#   RESULTS_DIR holds sweep.txt (result lines with config= and label=) and
#   cdf-*.txt (from --cdf); the PNGs go to PICTURES_DIR.
set -euo pipefail
res=$1 pics=$2
mkdir -p "$pics"
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is missing (Debian: gnuplot-nox)" >&2; exit 1; }

# The systems, in legend order: label, title (docs/BENCHMARKS.md says what each runs).
systems=(
	"ipcd.stream|ipcd streaming"
	"ipcd.rt|ipcd round trips"
	"zmq.push|ZeroMQ PUSH/PULL"
	"zmq.reqrep|ZeroMQ REQ/REP"
	"nng.push|nng PUSH/PULL"
	"nng.reqrep|nng REQ/REP"
	"redis.pipelined|Redis pipelined 32"
	"python.mp_queue|multiprocessing.Queue"
)

# data CONFIG LABEL: "size msgs_s mb_s" lines of that system, by size.
data() {
	awk -v c="config=$1" -v l="label=$2" '
		{ has_c = has_l = 0; size = msgs = mb = "" }
		{ for (i = 1; i <= NF; i++) {
			if ($i == c) has_c = 1
			if ($i == l) has_l = 1
			if ($i ~ /^size=/) size = substr($i, 6)
			if ($i ~ /^msgs_s=/) msgs = substr($i, 8)
			if ($i ~ /^mb_s=/) mb = substr($i, 6)
		} }
		has_c && has_l && size != "" { print size, msgs, mb }' "$res/sweep.txt" | sort -n
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stamp=$(cat "$res/sweep-stamp.txt" 2>/dev/null || echo "")

for config in 1x1 4x4; do
	plots_msgs=() plots_mb=()
	n=0
	for entry in "${systems[@]}"; do
		label=${entry%%|*} title=${entry#*|}
		n=$((n + 1))
		data "$config" "$label" >"$tmp/$config-$label.dat"
		[ -s "$tmp/$config-$label.dat" ] || continue
		plots_msgs+=("'$tmp/$config-$label.dat' using 1:2 with linespoints ls $n title '$title' noenhanced")
		plots_mb+=("'$tmp/$config-$label.dat' using 1:3 with linespoints ls $n notitle")
	done
	[ ${#plots_msgs[@]} -gt 0 ] || { echo "plot.sh: no $config results in $res/sweep.txt" >&2; exit 1; }
	who=$([ "$config" = 1x1 ] && echo "1 producer, 1 consumer" || echo "4 producers, 4 consumers")
	gnuplot <<EOF
set terminal pngcairo size 1400,680 font "sans,11"
set output '$pics/bench-throughput-$config.png'
set multiplot layout 1,2 title "Queue throughput against message size, $who (all on one machine, Unix sockets)\n{/*0.8 $stamp}"
set logscale xy
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set xtics ("16 B" 16, "64 B" 64, "256 B" 256, "1 KiB" 1024, "4 KiB" 4096, "16 KiB" 16384, "64 KiB" 65536, "256 KiB" 262144, "1 MiB" 1048576)
set xrange [12:1400000]
set xlabel "message size (bytes, log scale)"
set format y "10^{%L}"
set style line 1 lc rgb '#d62728' lw 3 pt 7 ps 1.1
set style line 2 lc rgb '#ff9896' lw 2 pt 7 ps 0.9 dt 2
set style line 3 lc rgb '#1f77b4' lw 2 pt 5 ps 0.9
set style line 4 lc rgb '#aec7e8' lw 2 pt 5 ps 0.9 dt 2
set style line 5 lc rgb '#2ca02c' lw 2 pt 9 ps 1.0
set style line 6 lc rgb '#98df8a' lw 2 pt 9 ps 1.0 dt 2
set style line 7 lc rgb '#9467bd' lw 2 pt 11 ps 1.0
set style line 8 lc rgb '#8c564b' lw 2 pt 13 ps 1.0
set bmargin 7
set key at screen 0.5,0.01 center bottom horizontal maxcols 4 width 2 font ",10" samplen 3
set ylabel "messages per second (log scale)"
set title "messages/s"
plot $(IFS=,; echo "${plots_msgs[*]}")
set ylabel "megabytes per second (10^6 B/s, log scale)"
set title "MB/s"
set key off
plot $(IFS=,; echo "${plots_mb[*]}")
unset multiplot
EOF
done

# The latency CDF: one message in flight, 64-byte messages.
cdfs=()
n=0
for entry in "ipcd|ipcd queue: put, then get in another process" \
	     "ipcd-pipe|ipcd pipe: send, then recv" \
	     "zmq|ZeroMQ REQ/REP: send, then receive at REP" \
	     "nng|nng REQ/REP: send, then receive at REP"; do
	name=${entry%%|*} title=${entry#*|}
	n=$((n + 1))
	[ -s "$res/cdf-$name.txt" ] || continue
	cdfs+=("'$res/cdf-$name.txt' using 1:2 with steps ls $n title '$title' noenhanced")
done
[ ${#cdfs[@]} -gt 0 ] || { echo "plot.sh: no cdf-*.txt in $res" >&2; exit 1; }
gnuplot <<EOF
set terminal pngcairo size 1000,620 font "sans,11"
set output '$pics/bench-latency-cdf.png'
set title "Latency of one message in flight (64 B), from send to receive in another process\n{/*0.8 $stamp}"
set logscale x
set grid xtics ytics mxtics lc rgb '#dddddd'
set xlabel "latency (microseconds, log scale)"
set format x "10^{%L}"
set ylabel "fraction of messages at or below"
set yrange [0:1.02]
set ytics 0.1
set xrange [5:*]
set style line 1 lc rgb '#d62728' lw 3
set style line 2 lc rgb '#ff7f0e' lw 2 dt 2
set style line 3 lc rgb '#1f77b4' lw 2
set style line 4 lc rgb '#2ca02c' lw 2
set key bottom right
plot $(IFS=,; echo "${cdfs[*]}")
EOF
echo "plot.sh: $pics/bench-throughput-1x1.png, bench-throughput-4x4.png, bench-latency-cdf.png"
