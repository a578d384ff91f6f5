#!/bin/bash
# array_examples_test.sh - the shared-array examples against a real ipcd:
# each program's output, less its timing lines, is exactly what the seed
# tutorial shows for multiprocessing.Array and Value.
#
# Usage: array_examples_test.sh IPCD_BINARY ARRAY_SQUARES VALUE_DOUBLE IPCCTL_BINARY

set -u

if [ $# -ne 4 ]; then
	echo "usage: $0 IPCD_BINARY ARRAY_SQUARES VALUE_DOUBLE IPCCTL_BINARY" >&2
	exit 2
fi
IPCD=$1
SQUARES=$2
VALUE=$3
IPCCTL=$4

dir=$(mktemp -d "${TMPDIR:-/tmp}/array_examples_test.XXXXXX") || exit 1
export IPCD_SOCKET=$dir/ipcd.sock
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

fail() {
	echo "FAIL: $1" >&2
	shift
	for line in "$@"; do
		echo "  $line" >&2
	done
	echo "$passed passed, 1 failed" >&2
	exit 1
}

# check NAME WANT PROGRAM ARGS...: PROGRAM exits 0 and prints WANT, timing lines aside.
check() {
	local name=$1 want=$2 got rc
	shift 2
	"$@" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "$name: exit status $rc" "$(cat "$dir/err")"
	grep -q '^Execution time: [0-9.]* s$' "$dir/out" || fail "$name: no timing line" "$(cat "$dir/out")"
	got=$(grep -v '^Execution time: ' "$dir/out")
	if [ "$got" != "$want" ]; then
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") >&2
		fail "$name: unexpected output (diff above: - expected, + got)"
	fi
	passed=$((passed + 1))
}

"$IPCD" -s "$IPCD_SOCKET" 2>"$dir/ipcd.log" &
daemon=$!
for _ in $(seq 1 500); do
	"$IPCCTL" status >/dev/null 2>&1 && break
	sleep 0.01
done

squares="[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"

check array_squares "Processes do not share memory: the child fills a plain global array.
square:  0
square:  1
square:  4
square:  9
square:  16
square:  25
square:  36
square:  49
square:  64
square:  81
Result of the operation:  []
Done

The same through an 'i' array of 10 held by ipcd:
Result in the process:  $squares
Result outside the process $squares
Read through ipcd: $squares
Done" "$SQUARES"

check value_double "Result in the process:  $squares
Result outside the process $squares
Result outside the process 5.35
Done" "$VALUE"

# Both removed what they made, so they run again.
check "value_double again" "Result in the process:  $squares
Result outside the process $squares
Result outside the process 5.35
Done" "$VALUE"
[ -z "$("$IPCCTL" --json ls | tr -d '[]')" ] || fail "objects left behind" "$("$IPCCTL" ls)"
passed=$((passed + 1))

echo "$passed passed, 0 failed"
