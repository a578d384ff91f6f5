#!/usr/bin/env bash
# ipcd under a real systemd: the staged install (install.setup) is made
# visible in a container that boots systemd as PID 1 from the host's own
# /usr (systemd-nspawn --volatile=yes), and the installed units are checked
# there, in one boot:
#
#   - the sysusers.d user and group ipcd exist;
#   - ipcd.socket listens and the first ipcctl call starts ipcd.service;
#   - systemctl status shows ipcd's STATUS= line;
#   - the journal carries ipcd's own priorities (info 6, warning 4);
#   - systemctl reload applies a changed live setting, and fails, saying
#     why, on a broken file (ExecReload runs ipcd --check-config), leaving
#     the settings in force;
#   - a member of the group ipcd connects without IPCD_SOCKET (the library
#     finds /run/ipcd/ipcd.sock); a user outside it is refused, and told so;
#   - systemctl stop keeps a durable queue: the next call starts ipcd again
#     and the message is there.
#
# Commands run inside the container with nsenter into its PID 1 (the child
# of systemd-nspawn), which works without registering the machine.  Every
# wait is bounded.  Exit 0: passed, 1: failed, 77: skipped (why is printed).
set -euo pipefail

work=$IPCD_WORK
root=$work/root                      # the DESTDIR staging root of install.setup
box=$work/systemd                    # this test's files
nspawn_pid=""

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "booting a container needs root"
[ "$IPCD_SYSTEMD" = ON ] || skip "built without IPCD_SYSTEMD: no units"
[ -z "${IPCD_SAN_FLAGS:-}" ] || skip "a sanitizer build: the units run the plain build's ipcd"
command -v systemd-nspawn >/dev/null ||
	skip "systemd-nspawn is not installed (package systemd-container, scripts/deps.sh)"
command -v nsenter >/dev/null || skip "nsenter (package util-linux) is not installed"
[ -d /run/systemd/system ] || [ -x /lib/systemd/systemd ] || [ -x /usr/lib/systemd/systemd ] ||
	skip "no systemd on this machine to boot"
case $IPCD_PREFIX in
/usr | /usr/ | /)
	skip "prefix $IPCD_PREFIX: mounting the staged install there would hide the OS" ;;
esac
[ -x "$root$IPCD_SBINDIR/ipcd" ] || fail "no staged install in $root (install.setup)"

rm -rf "$box"
mkdir -p "$box/conf"
# The configuration file, writable from here, read by ipcd and ipcd --check-config there.
conf=$box/conf/ipcd.conf
printf 'log-level = info\n' >"$conf"
chmod 0644 "$conf"

cleanup() {
	[ -n "$nspawn_pid" ] || return 0
	# Asked to power off, nspawn stops the container's systemd; bounded, then killed.
	kill -TERM "$nspawn_pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$nspawn_pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$nspawn_pid" 2>/dev/null || true
}
trap cleanup EXIT

# The units, sysusers.d and tmpfiles.d files go to /etc, which systemd reads
# whatever the prefix; the prefix itself is the staged one, read-only.
binds=(
	--bind-ro=/dev/null:/etc/systemd/system/systemd-firstboot.service
	"--bind-ro=$root$IPCD_PREFIX:$IPCD_PREFIX"
	"--bind=$box/conf:$IPCD_CONFDIR"
	"--bind-ro=$root$IPCD_UNITDIR/ipcd.service:/etc/systemd/system/ipcd.service"
	"--bind-ro=$root$IPCD_UNITDIR/ipcd.socket:/etc/systemd/system/ipcd.socket"
	"--bind-ro=$root$IPCD_SYSUSERSDIR/ipcd.conf:/etc/sysusers.d/ipcd.conf"
	"--bind-ro=$root$IPCD_TMPFILESDIR/ipcd.conf:/etc/tmpfiles.d/ipcd.conf"
)
systemd-nspawn -D / --volatile=yes --register=no --keep-unit -b --console=read-only \
	--machine="ipcd-test-$$" "${binds[@]}" >"$box/boot.log" 2>&1 </dev/null &
nspawn_pid=$!

# The container's PID 1: the child of systemd-nspawn that runs systemd (a
# loaded machine may first show nspawn's short-lived intermediate child).
leader=""
for _ in $(seq 600); do
	for p in $(pgrep -P "$nspawn_pid" || true); do
		case $(cat "/proc/$p/comm" 2>/dev/null) in systemd | init) leader=$p ;; esac
	done
	[ -n "$leader" ] && break
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$leader" ] || skip "systemd-nspawn did not start a container: $(tail -n 5 "$box/boot.log")"

# inside CMD...: run CMD in the container, with a clean environment, bounded.
inside() {
	timeout 60 nsenter -t "$leader" -a env -i \
		PATH="$IPCD_SBINDIR:$IPCD_BINDIR:/usr/sbin:/usr/bin:/sbin:/bin" "$@"
}

# Booted: the system is up (degraded counts: the host's own services may fail there).
# A loaded machine (load 16 on 2 CPUs) boots it in minutes, not seconds.
state=""
boot_by=$((SECONDS + 300))
while [ $SECONDS -lt $boot_by ]; do
	state=$(inside systemctl is-system-running 2>/dev/null || true)
	case $state in running | degraded) break ;; esac
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.5
done
case $state in
running | degraded) echo "booted: $state" ;;
*) skip "the container did not boot in 300 s (state '$state'): $(tail -n 5 "$box/boot.log")" ;;
esac

ctl() { inside ipcctl "$@"; }

# --- the sysusers.d user -----------------------------------------------------------
pw=$(inside getent passwd ipcd) || fail "no user ipcd after boot (sysusers.d)"
[ "$(cut -d: -f6 <<<"$pw")" = /var/lib/ipcd ] || fail "user ipcd: $pw"
gid=$(inside getent group ipcd | cut -d: -f3)
[ -n "$gid" ] || fail "no group ipcd after boot"
echo "sysusers: $pw"

# --- socket activation -------------------------------------------------------------
inside systemctl start ipcd.socket || fail "systemctl start ipcd.socket"
[ "$(inside systemctl is-active ipcd.service || true)" = inactive ] ||
	fail "ipcd.service runs before any client came"
ctl status >/dev/null || fail "the first ipcctl call was not served"
[ "$(inside systemctl is-active ipcd.service || true)" = active ] ||
	fail "the first ipcctl call did not start ipcd.service"
echo "activation: ipcd.service started by the first call"

# --- the STATUS= line --------------------------------------------------------------
status=$(inside systemctl status --no-pager ipcd.service || true)
grep -q 'Status: ".*serving /run/ipcd/ipcd.sock"' <<<"$status" ||
	fail "systemctl status shows no STATUS line of ipcd: $status"
main=$(inside systemctl show -P MainPID ipcd.service)
[ "$(inside stat -c %U "/proc/$main")" = ipcd ] || fail "ipcd does not run as the user ipcd"
echo "status: $(grep 'Status:' <<<"$status" | sed 's/^ *//')"

# --- a member of the group ipcd, and a user outside it ------------------------------
out=$(inside setpriv --reuid=65534 --regid=65534 --groups="$gid" ipcctl status 2>&1) ||
	fail "a member of the group ipcd cannot connect without IPCD_SOCKET: $out"
set +e
out=$(inside setpriv --reuid=65534 --regid=65534 --clear-groups ipcctl status 2>&1)
rc=$?
set -e
[ $rc -eq 4 ] || fail "a user outside the group ipcd: exit $rc, want 4: $out"
grep -q "tried .*/run/ipcd/ipcd.sock (permission denied" <<<"$out" ||
	fail "a user outside the group ipcd is not told why: $out"
echo "group: a member connects; others are told: $out"

# --- reload: a changed setting, then a broken file ----------------------------------
printf 'log-level = info\nmax-clients = 77\nfsync = no\n' >"$conf"
inside systemctl reload ipcd.service || fail "systemctl reload of a valid file failed"
cfg=$(ctl --json config)
grep -q '{"name":"max-clients","value":"77","source":"file [^"]*","live":true}' <<<"$cfg" ||
	fail "the reload did not apply max-clients = 77: $cfg"

printf 'log-level = info\nmax-clients = lots\n' >"$conf"
if out=$(inside systemctl reload ipcd.service 2>&1); then
	fail "systemctl reload of a broken file succeeded: $out"
fi
journal=$(inside journalctl --no-pager -u ipcd.service -o cat)
grep -q "ipcd.conf:2: max-clients: 'lots' is not" <<<"$journal" ||
	fail "the failed reload does not say why: $journal"
cfg=$(ctl --json config)
grep -q '"name":"max-clients","value":"77"' <<<"$cfg" ||
	fail "a broken file changed the settings: $cfg"
[ "$(inside systemctl is-active ipcd.service || true)" = active ] ||
	fail "a broken file stopped ipcd"
echo "reload: applied a change; refused a broken file with its reason"

# --- the journal carries ipcd's priorities ------------------------------------------
json=$(inside journalctl --no-pager -u ipcd.service -o json --output-fields=PRIORITY,MESSAGE)
grep -q '"PRIORITY":"4".*needs a restart\|needs a restart.*"PRIORITY":"4"' <<<"$json" ||
	fail "no warning (priority 4) in the journal: $json"
grep -q '"PRIORITY":"6".*reloaded\|reloaded.*"PRIORITY":"6"' <<<"$json" ||
	fail "no info line (priority 6) in the journal: $json"
echo "journal: warnings at priority 4, information at 6"

# --- stop, and a durable queue kept --------------------------------------------------
printf 'log-level = info\n' >"$conf"
ctl queue create kept --durable || fail "queue create --durable"
ctl queue put kept '"across a restart"' || fail "queue put"
inside systemctl stop ipcd.service || fail "systemctl stop ipcd.service"
[ "$(inside systemctl is-active ipcd.service || true)" != active ] || fail "ipcd still runs"
got=$(ctl --json queue get kept) || fail "queue get after the restart"
[ "$got" = '"across a restart"' ] || fail "after systemctl stop the queue holds: $got"
[ "$(inside systemctl show -P MainPID ipcd.service)" != "$main" ] ||
	fail "ipcd was not started again"
echo "stop: the durable queue was kept across the restart"
echo "passed"
