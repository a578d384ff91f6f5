#!/bin/bash
# ipcctl_top_test.sh - ipcctl top as a person uses it, in a real terminal
# under tmux (keys typed with send-keys, the screen read with capture-pane),
# and ipcctl stat's rolling lines, against a real ipcd.
#
# Usage: ipcctl_top_test.sh IPCD_BINARY IPCCTL_BINARY
# Every wait is for a state of the screen or of a file, with a bound.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v tmux >/dev/null || fail "tmux is missing: scripts/deps.sh installs it"

tmux_sock=$dir/tmux.sock
producer=
t() { tmux -S "$tmux_sock" "$@"; }
stop_all() {
	[ -n "$producer" ] && kill "$producer" 2>/dev/null && wait "$producer" 2>/dev/null
	producer=
	t kill-server 2>/dev/null
	cleanup
}
trap stop_all EXIT

# screen: what the pane shows now; screen_esc: with its attributes as escapes.
screen() { t capture-pane -p -t top; }
screen_esc() { t capture-pane -p -e -t top; }

# wait_screen WHAT PATTERN [SECONDS]: until a line of the pane matches the
# extended regular expression PATTERN (default bound 20 s).
wait_screen() {
	local what=$1 pattern=$2 bound=${3:-20} i
	for i in $(seq $((bound * 20))); do
		screen | grep -Eq -- "$pattern" && { pass; return; }
		sleep 0.05
	done
	fail "$what: no line matching '$pattern' within $bound s" "$(screen)"
}

# pane_flag NAME: a tmux format flag of the pane (cursor_flag, alternate_on).
pane_flag() { t display-message -p -t top "#{$1}"; }

# wait_prompt WHAT: until the shell's prompt is back on the last non-empty line.
wait_prompt() {
	local i
	for i in $(seq 400); do
		[ "$(screen | grep -v '^$' | tail -1)" = 'PROMPT$' ] && { pass; return; }
		sleep 0.05
	done
	fail "$1: the shell's prompt did not come back within 20 s" "$(screen)"
}

# terminal_restored WHAT: the modes as saved before top, the cursor shown, the main screen.
terminal_restored() {
	rm -f "$dir/after"
	t send-keys -t top "stty -g > '$dir/after'" Enter
	for _ in $(seq 400); do
		[ -s "$dir/after" ] && break
		sleep 0.05
	done
	cmp -s "$dir/before" "$dir/after" ||
		fail "$1: the terminal's modes were not restored" "before: $(cat "$dir/before")" \
			"after:  $(cat "$dir/after" 2>/dev/null)"
	[ "$(pane_flag cursor_flag)" = 1 ] || fail "$1: the cursor is still hidden"
	[ "$(pane_flag alternate_on)" = 0 ] || fail "$1: still on the alternate screen"
	pass
}

start_daemon
ctl queue create alpha
for i in 1 2 3; do ctl queue put alpha "$i"; done
ctl queue create beta

# --- top in a terminal -----------------------------------------------------------
t new-session -d -s top -x 100 -y 20 "env PS1='PROMPT\$ ' bash --norc --noprofile" ||
	fail "tmux could not start a session"
wait_prompt "the shell in tmux"
# Screens 2 s apart: on a loaded machine the producer below (one ipcctl
# process per put) may put nothing for a shorter while, and in/s reads 0.
t send-keys -t top "stty -g > '$dir/before'; '$IPCCTL' -s '$sock' top -i 2" Enter
wait_screen "top's header" '^QUEUE +IN/S +OUT/S +DEPTH +IN FLIGHT +CONSUMERS +REDELIV/S'
wait_screen "queue alpha with its depth" '^alpha +[0-9.k-]+ +[0-9.k-]+ +3 +0 +0 '
wait_screen "the keys' line at the bottom" 'q quit'
[ "$(pane_flag alternate_on)" = 1 ] || fail "top is not on the alternate screen"
pass

# A producer on beta: by in/s (the default order) beta comes first.
( while :; do "$IPCCTL" -s "$sock" queue put beta 1 >/dev/null 2>&1 || exit; done ) &
producer=$!
wait_screen "beta busy, first by in/s" '^beta +[1-9][0-9.k]* ' 30
first_row() { screen | grep -A1 '^QUEUE' | tail -1 | awk '{print $1}'; }
for _ in $(seq 400); do [ "$(first_row)" = beta ] && break; sleep 0.05; done
[ "$(first_row)" = beta ] || fail "beta is not first by in/s" "$(screen)"
pass

# n sorts by name: alpha first, the QUEUE title in reverse video.
t send-keys -t top n
for _ in $(seq 400); do [ "$(first_row)" = alpha ] && break; sleep 0.05; done
[ "$(first_row)" = alpha ] || fail "n did not sort by name" "$(screen)"
screen_esc | grep -q $'\e\\[7mQUEUE' || fail "the sorted column is not highlighted" "$(screen_esc | head -6)"
pass
# d sorts by depth: beta, filling up, passes alpha's 3.
t send-keys -t top d
for _ in $(seq 600); do [ "$(first_row)" = beta ] && break; sleep 0.05; done
[ "$(first_row)" = beta ] || fail "d did not sort by depth" "$(screen)"
screen_esc | grep -q $'\e\\[7m *DEPTH' || fail "DEPTH is not highlighted" "$(screen_esc | head -6)"
pass
kill "$producer" 2>/dev/null
wait "$producer" 2>/dev/null
producer=

# A resize redraws at the new size: the keys' line on the new last row.
t resize-window -t top -x 60 -y 12
for _ in $(seq 400); do
	[ "$(screen | sed -n 12p | cut -c1-5)" = "sort:" ] && break
	sleep 0.05
done
[ "$(screen | sed -n 12p | cut -c1-5)" = "sort:" ] || fail "no redraw after shrinking to 60x12" "$(screen)"
[ "$(screen | awk '{ if (length($0) > 60) n++ } END { print n + 0 }')" = 0 ] ||
	fail "lines wider than 60 columns" "$(screen)"
pass
t resize-window -t top -x 110 -y 30
for _ in $(seq 400); do
	[ "$(screen | sed -n 30p | cut -c1-5)" = "sort:" ] && break
	sleep 0.05
done
[ "$(screen | sed -n 30p | cut -c1-5)" = "sort:" ] || fail "no redraw after growing to 110x30" "$(screen)"
pass

# q quits, and the terminal is as it was.
t send-keys -t top q
wait_prompt "after q"
terminal_restored "after q"

# Ctrl-C quits as cleanly.
t send-keys -t top "'$IPCCTL' -s '$sock' top -i 0.3" Enter
wait_screen "top again" '^QUEUE +IN/S'
t send-keys -t top C-c
wait_prompt "after Ctrl-C"
terminal_restored "after Ctrl-C"

# The daemon going away is shown, and top carries on.
t send-keys -t top "'$IPCCTL' -s '$sock' top -i 0.3" Enter
wait_screen "top once more" '^alpha '
kill "$daemon"
wait_exit "$daemon" "ipcd after SIGTERM"
daemon=
wait_screen "the daemon's absence" 'ipcd does not answer'
t send-keys -t top q
wait_prompt "after q without a daemon"
terminal_restored "after q without a daemon"
t kill-server
start_daemon
# By the socket: its messages count in ipcd's memory (a ring's are in shared memory).
ctl queue create alpha --noring
for i in 1 2 3; do ctl queue put alpha "$i"; done

# Without a terminal top says so.
"$IPCCTL" -s "$sock" top </dev/null >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 2 ] && grep -q 'top needs a terminal' "$dir/err" ||
	fail "top without a terminal: status $rc" "$(cat "$dir/err")"
pass

# --- stat ---------------------------------------------------------------------
ctl stat -i 0.2 -n 3
[ $rc -eq 0 ] || fail "stat: status $rc" "$err"
[ "$(printf '%s\n' "$out" | wc -l)" = 4 ] || fail "stat -n 3: not a header and 3 lines" "$out"
printf '%s\n' "$out" | head -1 | grep -Eq '^clients +memory +objects +queues +messages +in flight +in/s +out/s +redeliv/s' ||
	fail "stat's header" "$out"
# clients 1 (stat itself), 1 object, 1 queue of 3 messages; no rate on the first line.
printf '%s\n' "$out" | sed -n 2p | grep -Eq '^1 +3 +1 +1 +3 +0 +- +- +-' || fail "stat's first line" "$out"
printf '%s\n' "$out" | sed -n 4p | grep -Eq '^1 +3 +1 +1 +3 +0 +0 +0 +0' || fail "stat's third line" "$out"
pass

# Its rates: gets while it watches.
( for i in $(seq 200); do "$IPCCTL" -s "$sock" queue put alpha "$i" >/dev/null || exit; done ) &
producer=$!
ctl --json stat -i 1 -n 4
# Its puts were for stat to see; the rest would only take time (each ipcctl
# is a process, slow to start under AddressSanitizer on a loaded machine).
kill "$producer" 2>/dev/null
wait "$producer" 2>/dev/null
producer=
[ $rc -eq 0 ] || fail "stat --json: status $rc" "$err"
[ "$(printf '%s\n' "$out" | wc -l)" = 4 ] || fail "stat --json -n 4: not 4 lines" "$out"
printf '%s\n' "$out" | head -1 | grep -q '"clients":' || fail "stat --json: no clients" "$out"
printf '%s\n' "$out" | head -1 | grep -q 'in_per_s' && fail "stat --json: a rate on the first line" "$out"
printf '%s\n' "$out" | tail -n 3 | grep -Eq '"in_per_s":[1-9]' || fail "stat --json: no puts seen" "$out"
pass

# Interrupted, it stops and exits 0.
"$IPCCTL" -s "$sock" stat -i 0.2 >"$dir/out" 2>"$dir/err" &
stat_pid=$!
for _ in $(seq 400); do [ "$(wc -l <"$dir/out")" -ge 3 ] && break; sleep 0.05; done
kill -INT "$stat_pid"
wait_exit "$stat_pid" "ipcctl stat after SIGINT"
rc=$exit_rc
[ $rc -eq 0 ] || fail "stat after SIGINT: status $rc" "$(cat "$dir/err")"
pass

ctl stat -i 0.01
[ $rc -eq 2 ] || fail "stat -i 0.01: status $rc, expected 2" "$err"
ctl stat -n 2 -t 5
[ $rc -eq 2 ] || fail "stat with --timeout: status $rc, expected 2" "$err"
pass

echo "$passed passed, 0 failed"
