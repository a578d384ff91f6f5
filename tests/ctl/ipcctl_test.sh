#!/bin/bash
# ipcctl_test.sh - ipcctl against a real ipcd: commands, output and exit codes.
#
# Usage: ipcctl_test.sh IPCD_BINARY IPCCTL_BINARY
# Starts ipcd on a socket in a fresh temporary directory, runs ipcctl's
# commands against it, and stops at the first check that fails, saying what
# differed.  JSON is compared after `jq -c` when jq is installed, else as
# the exact compact text ipcctl prints.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The JSON text in $1 in the one form both sides are compared in.
norm_json() {
	if command -v jq >/dev/null 2>&1; then
		printf '%s\n' "$1" | jq -c . 2>/dev/null || printf '%s\n' "$1"
	else
		printf '%s\n' "$1"
	fi
}

# check_rc WHAT WANT: the last ctl exited with WANT.
check_rc() {
	[ "$rc" -eq "$2" ] || fail "$1: exit status $rc, expected $2" "stdout: $out" "stderr: $err"
	pass
}

# check_out WHAT WANT: the last ctl printed exactly WANT.
check_out() {
	[ "$out" = "$2" ] || fail "$1: unexpected output" "got:      $out" "expected: $2"
	pass
}

# check_json WHAT WANT: the last ctl printed the JSON value WANT.
check_json() {
	local got want
	got=$(norm_json "$out")
	want=$(norm_json "$2")
	[ "$got" = "$want" ] || fail "$1: unexpected JSON" "got:      $got" "expected: $want"
	pass
}

# check_one_error_line WHAT PATTERN: stderr is one line matching PATTERN (grep -E).
check_one_error_line() {
	local lines
	lines=$(printf '%s\n' "$err" | grep -c .)
	[ "$lines" -eq 1 ] || fail "$1: $lines lines on stderr, expected 1" "stderr: $err"
	printf '%s\n' "$err" | grep -Eq -- "$2" ||
		fail "$1: stderr does not match '$2'" "stderr: $err"
	pass
}

# --- start the daemon ---------------------------------------------------------

start_daemon --state-dir "$dir/state"

# --- without a daemon or a command ----------------------------------------------

ctl --version
check_rc "--version" 0
printf '%s\n' "$out" | grep -Eq '^ipcctl [0-9]+\.[0-9]+' || fail "--version printed '$out'"
pass

ctl frobnicate
check_rc "unknown command" 2
printf '%s\n' "$err" | grep -q "frobnicate" || fail "unknown command: stderr does not name it" "$err"
pass

ctl queue put onlyname
check_rc "queue put with a missing operand" 2

ctl queue create q --maxsize 12x
check_rc "queue create --maxsize 12x" 2

ctl queue get q --mode 600
check_rc "an option the command does not take" 2

"$IPCCTL" -s "$dir/nothing.sock" status >"$dir/out" 2>"$dir/err"
rc=$? out=$(cat "$dir/out") err=$(cat "$dir/err")
check_rc "status with no daemon" 4
check_one_error_line "status with no daemon" "^ipcctl: cannot connect to ipcd: tried $dir/nothing.sock \\(no such socket\\)$"

# --- status -----------------------------------------------------------------------

ctl status
check_rc "status" 0
for key in version uptime clients objects memory; do
	printf '%s\n' "$out" | grep -q "^$key: " || fail "status: no '$key:' line" "$out"
	pass
done

ctl --json status
check_rc "status --json" 0
printf '%s\n' "$out" | grep -q '"version":"' || fail "status --json: no version" "$out"
pass

IPCD_SOCKET=$sock "$IPCCTL" status >/dev/null 2>&1
rc=$? out= err=
check_rc "status on \$IPCD_SOCKET" 0

# --- queue create, put, get, ls, rm ------------------------------------------------

ctl queue create jobs --maxsize 100 --maxbytes 64K --mode 0640
check_rc "queue create jobs" 0

ctl queue create jobs
check_rc "queue create jobs twice" 1
check_one_error_line "queue create jobs twice" "^ipcctl: queue create jobs: "

ctl queue put jobs '[42, null, "hello"]'
check_rc "queue put jobs" 0

ctl --json queue peek jobs
check_rc "queue peek jobs" 0
check_json "queue peek jobs" '[42,null,"hello"]'

ctl --json ls
check_rc "ls --json" 0
if command -v jq >/dev/null 2>&1; then
	depth=$(printf '%s\n' "$out" | jq '.[] | select(.name == "jobs") | .depth')
	[ "$depth" = 1 ] || fail "ls --json: depth of jobs is '$depth', expected 1" "$out"
else
	printf '%s\n' "$out" | grep -q '"name":"jobs"[^}]*"depth":1[,}]' ||
		fail "ls --json: no jobs of depth 1" "$out"
fi
pass

ctl ls
check_rc "ls" 0
printf '%s\n' "$out" | grep -Eq '^KIND +NAME +OWNER +MODE +CREATED +DEPTH +BYTES +WHERE +TYPE +LENGTH +MAPPED +LOCKER +END0 +END1$' ||
	fail "ls: no title line" "$out"
pass
# A queue has no pipe ends nor array columns: '-' in those.
printf '%s\n' "$out" | grep -Eq '^queue +jobs +[^ ]+:[^ ]+ +0640 +[0-9-]+ [0-9:]+ +1 +[0-9]+ +local +- +- +- +- +- +-$' ||
	fail "ls: no row for jobs" "$out"
pass

ctl --json queue stat jobs
check_rc "queue stat jobs" 0
printf '%s\n' "$out" | grep -q '"maxbytes":65536' || fail "queue stat: maxbytes is not 64K" "$out"
pass

ctl --json queue get jobs
check_rc "queue get jobs" 0
check_out "queue get jobs" '[42,null,"hello"]'

ctl queue get jobs
check_rc "queue get on an empty queue" 3
check_one_error_line "queue get on an empty queue" "^ipcctl: queue get jobs: "

ctl queue get jobs --timeout 100
check_rc "queue get --timeout 100 on an empty queue" 3

ctl queue peek jobs
check_rc "queue peek on an empty queue" 3

# The put once the get waits (the queue counts it as a getter).
(
	for _ in $(seq 1200); do
		"$IPCCTL" -s "$sock" queue stat jobs | grep -q '^getters: *1$' && break
		sleep 0.05
	done
	"$IPCCTL" -s "$sock" queue put jobs '{"late": true}'
) &
ctl queue get jobs --timeout 60000
wait $!
check_rc "queue get waiting for a put" 0
check_json "queue get waiting for a put" '{"late":true}'

ctl queue put jobs -- -5
check_rc "queue put of a negative number" 0
ctl queue get jobs
check_out "queue get of a negative number" '-5'

ctl queue put jobs 'hello'
check_rc "queue put of invalid JSON" 2
check_one_error_line "queue put of invalid JSON" "invalid JSON value"

# --- errors on a missing queue --------------------------------------------------------

ctl queue stat nosuch
check_rc "queue stat of a missing queue" 1
check_one_error_line "queue stat of a missing queue" "^ipcctl: queue stat nosuch: "

ctl queue put nosuch 1
check_rc "queue put to a missing queue" 1
check_one_error_line "queue put to a missing queue" "^ipcctl: queue put nosuch: "

ctl queue put made 1 --create
check_rc "queue put --create" 0
ctl queue get made
check_out "queue get after put --create" '1'

# --- purge and rm ----------------------------------------------------------------------

for v in 1 2 3; do
	ctl queue put jobs "$v"
	check_rc "queue put jobs $v" 0
done
ctl queue purge jobs
check_rc "queue purge" 0
check_out "queue purge" "purged 3 messages"

ctl queue put jobs '"x"'
ctl --json queue purge jobs
check_rc "queue purge --json" 0
check_json "queue purge --json" '{"purged":1}'

ctl queue rm jobs
check_rc "queue rm jobs" 0

ctl queue stat jobs
check_rc "queue stat after rm" 1

ctl queue rm jobs
check_rc "queue rm twice" 1
check_one_error_line "queue rm twice" "^ipcctl: queue rm jobs: "

ctl --json ls
check_rc "ls --json after rm" 0
printf '%s\n' "$out" | grep -q '"name":"jobs"' && fail "ls --json: jobs still listed" "$out"
pass

# --- budgets, permissions, ack and durable queues -------------------------------------

ctl status
check_rc "status (budgets)" 0
for key in "memory" "clients" "objects"; do
	printf '%s\n' "$out" | grep -Eq "^  $key +[0-9]+ of [0-9]+" ||
		fail "status: no budget line for $key" "$out"
	pass
done

ctl queue create perm --mode 0600
ctl chmod 0640 perm
check_rc "chmod 0640 perm" 0
ctl --json queue stat perm
printf '%s\n' "$out" | grep -q '"mode":416' || fail "chmod: mode is not 0640" "$out"
pass
ctl chown 4242:4343 perm
check_rc "chown 4242:4343 perm" 0
ctl --json queue stat perm
printf '%s\n' "$out" | grep -q '"uid":4242' && printf '%s\n' "$out" | grep -q '"gid":4343' ||
	fail "chown: owner is not 4242:4343" "$out"
pass
ctl chown :0 perm
check_rc "chown :0 perm" 0
ctl chmod 9999 perm
check_rc "chmod 9999" 2
ctl chown nosuchuser-here perm
check_rc "chown to an unknown user" 2
ctl chmod 0600 nothing-by-that-name
check_rc "chmod of a missing object" 1
check_one_error_line "chmod of a missing object" "^ipcctl: chmod nothing-by-that-name: "
ctl queue rm perm
check_rc "queue rm perm" 0

ctl queue create acked --ack --durable
check_rc "queue create --ack --durable" 0
ctl --json queue stat acked
printf '%s\n' "$out" | grep -q '"ack":1' && printf '%s\n' "$out" | grep -q '"durable":1' ||
	fail "queue create --ack --durable: stat" "$out"
pass
[ -n "$(ls "$dir/state"/q-*.log 2>/dev/null)" ] || fail "no log in the state directory"
pass
ctl queue put acked '"job"'
ctl queue join acked --timeout 10
check_rc "queue join with a message queued" 3
ctl queue get acked
check_rc "queue get on an ack queue" 0
check_json "queue get on an ack queue" '"job"'
ctl queue join acked --timeout 1000
check_rc "queue join after get (acknowledged by ipcctl)" 0
ctl queue rm acked
check_rc "queue rm acked" 0
[ -z "$(ls "$dir/state"/q-*.log 2>/dev/null)" ] || fail "the log outlived its queue"
pass

ctl array create darr i 4 --durable --mode 0640
check_rc "array create --durable --mode 0640" 0
[ -n "$(ls "$dir/state"/a-*.arr 2>/dev/null)" ] || fail "no saved array in the state directory"
pass
ctl --json ls
printf '%s\n' "$out" | grep -q '"name":"darr"[^}]*"mode":416\|"mode":416[^}]*"name":"darr"' ||
	fail "array create --mode 0640: mode" "$out"
pass
ctl array create darr2 i 4 --maxsize 3
check_rc "array create --maxsize" 2
ctl array rm darr
check_rc "array rm darr" 0

# --- pipes: a leaked named pipe is seen, looked at and removed ----------------------
ctl pipe send leak 1 '"left"' --timeout 1000
check_rc "pipe send to a missing pipe" 1
check_one_error_line "pipe send to a missing pipe" "no pipe named 'leak'"
# (A leaked pipe removed by ipcctl pipe rm: test_admin.words, which can make one.)
ctl queue create notapipe
ctl pipe rm notapipe
check_rc "pipe rm of a queue" 1
check_one_error_line "pipe rm of a queue" "no pipe named 'notapipe': 'notapipe' is a queue"
ctl pipe stat notapipe
check_rc "pipe stat of a queue" 1
check_one_error_line "pipe stat of a queue" "'notapipe' is a queue, not a pipe"
ctl queue rm notapipe
check_rc "queue rm notapipe" 0

# --- messages as bytes ---------------------------------------------------------------
ctl queue create bytes
ctl queue put bytes --raw 'AB'
ctl queue get bytes --hex
check_rc "queue get --hex" 0
check_out "queue get --hex" "4142"
ctl queue put bytes --hex 'a2 68 69'
ctl queue get bytes
check_out "a msgpack string put as hex reads as JSON" '"hi"'
ctl queue put bytes '"hi"'
ctl queue get bytes --raw --hex
check_rc "--raw with --hex" 2
ctl queue get bytes --hex
check_out "ipcctl stores JSON as msgpack" "a26869"
ctl queue put bytes --hex 'zz'
check_rc "queue put --hex of non-hex" 2
ctl status --raw
check_rc "--raw where no message is" 2
ctl queue rm bytes

# --- one exit status per kind of failure, JSON under --json -------------------------
ctl quue ls
check_rc "a mistyped command" 2
printf '%s\n' "$err" | grep -q "unknown command 'quue'; did you mean 'queue'?" ||
	fail "no suggestion for a mistyped command" "$err"
pass
ctl queue gte jobs
check_rc "a mistyped subcommand" 2
printf '%s\n' "$err" | grep -q "did you mean 'queue get'?" ||
	fail "no suggestion for a mistyped subcommand" "$err"
pass
ctl --json queue get nosuch
check_rc "--json: a refused request" 1
[ -z "$out" ] || fail "--json: a failure printed on stdout" "$out"
printf '%s\n' "$err" | grep -Eq '^\{"error":"queue get nosuch","exit":1,"errno":"ENOENT","reason":"No such object","detail":"no queue named .nosuch."\}$' ||
	fail "--json: the failure is not one JSON object" "$err"
pass
ctl --json frobnicate
check_rc "--json: a usage error" 2
printf '%s\n' "$err" | grep -Eq '^\{"error":"unknown command .frobnicate.","exit":2\}$' ||
	fail "--json: the usage error is not one JSON object" "$err"
pass
"$IPCCTL" --json -s "$dir/nothing.sock" ls >"$dir/out" 2>"$dir/err"
rc=$? err=$(cat "$dir/err")
check_rc "--json: no daemon" 4
printf '%s\n' "$err" | grep -q '"exit":4' || fail "--json: no daemon" "$err"
pass
ctl help queue put
check_rc "help queue put" 0
printf '%s\n' "$out" | grep -q "^usage: ipcctl .* queue put NAME MESSAGE" || fail "help queue put" "$out"
pass
ctl help
printf '%s\n' "$out" | grep -q "^Exit status: 0 done" || fail "help: no exit statuses" "$out"
pass

# --- administration -------------------------------------------------------------------
ctl config
check_rc "config" 0
printf '%s\n' "$out" | grep -Eq '^log-level +[a-z]+ +true +(default|command line|file .*)$' ||
	fail "config: no line for log-level" "$out"
pass
ctl config set max-clients 100
check_rc "config set" 0
ctl --json config
printf '%s\n' "$out" | grep -q '{"name":"max-clients","value":"100","source":"config.set","live":true}' ||
	fail "config set: not in force" "$out"
pass
ctl config set socket /elsewhere
check_rc "config set of a setting that needs a restart" 1
ctl client kill 999999
check_rc "client kill of no client" 1
check_one_error_line "client kill of no client" "No such client"
ctl client kill me
check_rc "client kill of a non-number" 2
ctl monitor --timeout 300
check_rc "monitor with a timeout" 0

echo "$passed passed, 0 failed"
