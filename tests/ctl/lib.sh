# lib.sh - what the ipcctl shell tests share; sourced, never run.
#
# Checks the arguments (IPCD_BINARY IPCCTL_BINARY, set as IPCD and IPCCTL),
# makes a fresh temporary directory $dir with the socket path $sock in it
# and removes it on exit, stopping the daemon that start_daemon started.
# Provides fail (stop at the first failing check, saying what differed),
# pass (count a passed check in $passed), wait_exit (a bounded wait for a
# child), ctl (run ipcctl on $sock) and start_daemon.

set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 IPCD_BINARY IPCCTL_BINARY" >&2
	exit 2
fi
IPCD=$1
IPCCTL=$2
unset IPCD_SOCKET

dir=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX") || exit 1
sock=$dir/ipcd.sock
daemon=
passed=0

cleanup() {
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# fail WHAT [LINE...]: say what failed, with the lines that show it, and exit 1.
fail() {
	echo "FAIL: $1" >&2
	shift
	for line in "$@"; do
		echo "  $line" >&2
	done
	echo "$passed passed, 1 failed" >&2
	exit 1
}

pass() {
	passed=$((passed + 1))
}

# wait_exit PID WHAT [SECONDS]: until process PID (a child) exits, within the
# bound (default 60 s); its status in exit_rc.  Fails, naming WHAT, if not.
wait_exit() {
	local i
	for i in $(seq $((${3:-60} * 20))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && fail "$2: still running after ${3:-60} s"
	wait "$1" 2>/dev/null
	exit_rc=$?
}

# ctl ARGS...: run ipcctl on the test socket; sets rc, out and err.
ctl() {
	"$IPCCTL" -s "$sock" "$@" >"$dir/out" 2>"$dir/err"
	rc=$?
	out=$(cat "$dir/out")
	err=$(cat "$dir/err")
}

# start_daemon [OPTION...]: start ipcd on $sock (its output in $dir/ipcd.log)
# and wait up to 60 s (a bound for a loaded machine) until it answers ipcctl status.
start_daemon() {
	"$IPCD" -s "$sock" "$@" >"$dir/ipcd.log" 2>&1 &
	daemon=$!
	for _ in $(seq 1200); do
		"$IPCCTL" -s "$sock" status >/dev/null 2>&1 && return
		kill -0 "$daemon" 2>/dev/null || fail "ipcd exited at start-up" "$(cat "$dir/ipcd.log")"
		sleep 0.05
	done
	fail "ipcd did not answer ipcctl status on $sock within 60 s" "$(cat "$dir/ipcd.log")"
}
