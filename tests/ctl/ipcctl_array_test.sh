#!/bin/bash
# ipcctl_array_test.sh - ipcctl's array commands against a real ipcd: every
# typecode round trips through set and get, and bad input gets a clear
# error while the daemon serves on.
#
# Usage: ipcctl_array_test.sh IPCD_BINARY IPCCTL_BINARY
# Stops at the first check that fails, saying what differed.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ok WHAT ARGS...: ipcctl ARGS succeeds.
ok() {
	local what=$1
	shift
	ctl "$@"
	[ "$rc" -eq 0 ] || fail "$what: exit status $rc" "stdout: $out" "stderr: $err"
	pass
}

# expect_out WHAT WANT ARGS...: ipcctl ARGS succeeds and prints exactly WANT.
expect_out() {
	local what=$1 want=$2
	shift 2
	ok "$what" "$@"
	[ "$out" = "$want" ] || fail "$what: unexpected output" "got:      $out" "expected: $want"
	pass
}

# refused WHAT RC PATTERN ARGS...: ipcctl ARGS exits RC with one line on
# stderr matching PATTERN (grep -E), and nothing on stdout.
refused() {
	local what=$1 want=$2 pattern=$3
	shift 3
	ctl "$@"
	[ "$rc" -eq "$want" ] || fail "$what: exit status $rc, expected $want" "stderr: $err"
	[ -z "$out" ] || fail "$what: printed on stdout" "stdout: $out"
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "$what: not one line on stderr" "$err"
	printf '%s\n' "$err" | grep -Eq -- "$pattern" ||
		fail "$what: unclear error" "got:      $err" "expected: /$pattern/"
	pass
}

start_daemon
ok "daemon answers" status

# Every typecode: its extremes (and for floats, 5.35) round trip exactly.
roundtrip() {
	local tc=$1
	shift
	ok "create '$tc'" array create "a_$tc" "$tc" $#
	local i=0 json=""
	for v in "$@"; do
		ok "set '$tc' $v" array set "a_$tc" "$i" -- "$v"
		json+="${json:+,}$v"
		i=$((i + 1))
	done
	expect_out "get --json '$tc'" "[$json]" --json array get "a_$tc"
}
roundtrip b -128 127
roundtrip B 0 255
roundtrip h -32768 32767
roundtrip H 0 65535
roundtrip i -2147483648 2147483647
roundtrip I 0 4294967295
roundtrip l -9223372036854775808 9223372036854775807
roundtrip L 0 18446744073709551615
roundtrip q -9223372036854775808 9223372036854775807
roundtrip Q 9007199254740993 18446744073709551615
roundtrip f 5.35 3.4028235e+38 -1e-45
roundtrip d 5.35 -1.7976931348623157e+308 5e-324
# Text: one value per line; START and COUNT.
expect_out "get 'd'" "$(printf '5.35\n-1.7976931348623157e+308\n5e-324')" array get a_d
expect_out "get 'Q' from 1" "18446744073709551615" array get a_Q 1
expect_out "get 'b' 0 1" "-128" array get a_b 0 1

# New arrays are zero-filled.
ok "create squares" array create sq i 10
ok "set square 2" array set sq 2 4
ok "set square 5" array set sq 5 25
ok "set square 9" array set sq 9 81
expect_out "zeros and squares" "[0,0,4,0,0,25,0,0,0,81]" --json array get sq
expect_out "get an empty range at the end" "[]" --json array get sq 10 0

# ls shows the array's type, length, bytes, mappings and lock holder.
ok "ls" ls
printf '%s\n' "$out" | grep -Eq '^array +sq +.* +40 +- +i +10 +0 +- +- +-$' ||
	fail "ls: no line for sq with bytes, type, length, mapped, locker" "$out"
pass
ok "stat" array stat sq
printf '%s\n' "$out" | grep -qx 'typecode: i' && printf '%s\n' "$out" | grep -qx 'length: 10' &&
	printf '%s\n' "$out" | grep -qx 'mapped: 0' || fail "stat: keys missing" "$out"
pass

# Bad input: clear errors, and the daemon serves on.
refused "bad typecode" 2 "bad typecode 'x': use one of b B h H i I l L q Q f d" \
	array create bad x 4
refused "two-letter typecode" 2 "bad typecode 'ii'" array create bad ii 4
refused "zero length" 1 "Invalid argument \(creating array 'bad' needs .*length of at least 1\)" \
	array create bad i 0
refused "huge length" 1 "Array larger than ipcd's limit" array create bad d 1000000000000
refused "length not a number" 2 "length '1x' is not a count" array create bad i 1x
refused "exists" 1 "Object exists" array create sq i 10
refused "set past the end" 1 "index 10 is outside the array of length 10" array set sq 10 1
refused "get past the end" 1 "elements 9 to 10 are outside the array of length 10" \
	array get sq 9 2
refused "start past the end" 1 "outside the array of length 10" array get sq 11
refused "value out of range" 2 "'128' is not a value of typecode 'b' \(-128 to 127\)" \
	array set a_b 0 128
refused "negative unsigned" 2 "'-1' is not a value of typecode 'B'" array set a_B 0 -1
refused "float overflow" 2 "'1e39' is not a value of typecode 'f'" array set a_f 0 1e39
refused "not a number" 2 "'abc' is not a value of typecode 'd'" array set a_d 0 abc
refused "missing array" 1 "No such object \(no array named 'nope'\)" array get nope
refused "queue name" 1 "'sq' is an array, not a queue" queue get sq
expect_out "still serving" "81" array get sq 9 1

ok "rm" array rm sq
refused "rm twice" 1 "No such object" array rm sq
refused "get removed" 1 "No such object" array get sq
ok "status after it all" status

kill "$daemon"
wait "$daemon"
status=$?
daemon=
[ "$status" -eq 0 ] || fail "ipcd exited with $status" "$(cat "$dir/ipcd.log")"
echo "$passed passed, 0 failed"
