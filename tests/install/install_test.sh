#!/usr/bin/env bash
# What `cmake --install` produces, checked from outside the build:
#
#   install_test.sh setup        install twice: into a staging root (DESTDIR,
#                                the configured prefix) and to a temporary
#                                prefix (cmake --install --prefix)
#   install_test.sh layout       every file where distributions expect it
#   install_test.sh units        systemd-analyze verify and security on the
#                                installed units; sysusers and tmpfiles applied
#                                inside the staging root
#   install_test.sh pkgconfig    a program built with pkg-config against the
#                                temporary prefix, run against the installed ipcd;
#                                and one that defines functions named like the
#                                library's internal ones, linked statically
#                                (pkg-config --static)
#   install_test.sh find_package the same through find_package(ipcclient):
#                                ipcclient::ipcclient and ipcclient::ipcclient_static
#
# The paths come from CMake (tests/install/CMakeLists.txt) in IPCD_* variables.
# Exit 0: passed, 1: failed, 77: skipped (a tool is missing; the reason is printed).
set -euo pipefail

work=$IPCD_WORK
root=$work/root              # DESTDIR staging root
prefix=$work/prefix          # the temporary prefix

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }

# rel DIR: DIR relative to the configured prefix, or DIR when outside it.
rel() {
	case $1 in
	"$IPCD_PREFIX"/*) echo "${1#"$IPCD_PREFIX"/}" ;;
	*) echo "$1" ;;
	esac
}

# Run the installed ipcd on a socket in $work while "$@" runs; stop it after.
with_daemon() {
	local sock=$work/$1.sock pid rc=0
	shift
	rm -f "$sock"
	"$prefix/$(rel "$IPCD_SBINDIR")/ipcd" -s "$sock" -c /dev/null &
	pid=$!
	# Serving once the installed ipcctl gets an answer (within 60 s: the
	# machine may be loaded).
	for _ in $(seq 3000); do
		"$prefix/$(rel "$IPCD_BINDIR")/ipcctl" -s "$sock" status >/dev/null 2>&1 && break
		sleep 0.02
	done
	"$prefix/$(rel "$IPCD_BINDIR")/ipcctl" -s "$sock" status >/dev/null ||
		{ kill $pid; fail "the installed ipcd does not serve"; }
	"$@" "$sock" || rc=$?
	kill $pid
	wait $pid || true
	return $rc
}

# check_static PROGRAM: PROGRAM carries libipcclient rather than loading it.
check_static() {
	local linked symbols
	linked=$(ldd "$1")
	symbols=$(nm "$1")
	! grep -q libipcclient <<< "$linked" || fail "$1 loads the shared libipcclient"
	grep -q ' T ipc_connect$' <<< "$symbols" || fail "$1 does not contain ipc_connect"
}

sanitize_flags=()
[ -n "${IPCD_SAN_FLAGS:-}" ] && read -r -a sanitize_flags <<< "$IPCD_SAN_FLAGS"

case ${1:-} in
setup)
	rm -rf "$work"
	mkdir -p "$work"
	DESTDIR=$root "$CMAKE_COMMAND" --install "$IPCD_BUILD_DIR" >"$work/install-root.log"
	"$CMAKE_COMMAND" --install "$IPCD_BUILD_DIR" --prefix "$prefix" >"$work/install-prefix.log"
	echo "installed into $root (DESTDIR) and $prefix (--prefix)"
	;;

layout)
	r=$root
	for f in "$IPCD_SBINDIR/ipcd" "$IPCD_BINDIR/ipcctl"; do
		[ -x "$r$f" ] || fail "$f is not installed or not executable"
	done
	lib=$r$IPCD_LIBDIR
	[ -f "$lib/libipcclient.so.$IPCD_VERSION" ] || fail "no libipcclient.so.$IPCD_VERSION"
	[ "$(readlink "$lib/libipcclient.so.2")" = "libipcclient.so.$IPCD_VERSION" ] ||
		fail "libipcclient.so.2 does not link to libipcclient.so.$IPCD_VERSION"
	[ "$(readlink "$lib/libipcclient.so")" = "libipcclient.so.2" ] ||
		fail "libipcclient.so does not link to libipcclient.so.2"
	soname=$(objdump -p "$lib/libipcclient.so.$IPCD_VERSION" | awk '$1 == "SONAME" { print $2 }')
	[ "$soname" = "libipcclient.so.2" ] || fail "SONAME is '$soname'"
	for f in "$IPCD_INCLUDEDIR/ipcclient.h" \
		 "$IPCD_LIBDIR/pkgconfig/ipcclient.pc" \
		 "$IPCD_LIBDIR/cmake/ipcclient/ipcclientConfig.cmake" \
		 "$IPCD_LIBDIR/cmake/ipcclient/ipcclientConfigVersion.cmake" \
		 "$IPCD_LIBDIR/cmake/ipcclient/ipcclientTargets.cmake" \
		 "$IPCD_SYSCONFDIR/ipcd/ipcd.conf" \
		 "$IPCD_MANDIR/man8/ipcd.8" "$IPCD_MANDIR/man5/ipcd.conf.5" \
		 "$IPCD_MANDIR/man1/ipcctl.1" "$IPCD_MANDIR/man3/libipcclient.3"; do
		[ -f "$r$f" ] || fail "$f is not installed"
	done
	if [ "$IPCD_SYSTEMD" = ON ]; then
		for f in "$IPCD_UNITDIR/ipcd.service" "$IPCD_UNITDIR/ipcd.socket" \
			 "$IPCD_SYSUSERSDIR/ipcd.conf" "$IPCD_TMPFILESDIR/ipcd.conf"; do
			[ -f "$r$f" ] || fail "$f is not installed"
		done
		grep -qx "ExecStart=$IPCD_SBINDIR/ipcd" "$r$IPCD_UNITDIR/ipcd.service" ||
			fail "ExecStart is not the installed daemon $IPCD_SBINDIR/ipcd"
	fi
	# A page for every function of the header: its family's short page, or a
	# link to it (which names the function).
	for fn in $(sed -n 's/^IPC_API .*[ *]\([a-z_0-9]*\)(.*/\1/p' "$IPCD_SOURCE_DIR/client/ipcclient.h"); do
		page=$r$IPCD_MANDIR/man3/$fn.3
		[ -f "$page" ] || fail "no man page $fn(3)"
		if target=$(sed -n 's|^\.so man3/\(ipc_[a-z_0-9]*\.3\)$|\1|p' "$page") && [ -n "$target" ]; then
			page=$r$IPCD_MANDIR/man3/$target
		fi
		sed -n '/^\.SH NAME/,/^\.SH SYNOPSIS/p' "$page" | grep -qw "$fn" ||
			fail "$fn(3) opens a page that does not name it"
		[ "$(wc -l <"$page")" -lt 200 ] || fail "$fn(3) is not a short page"
	done
	# The --prefix install stays under the prefix (but for a configuration
	# directory configured outside it: /etc for a /usr prefix), and its
	# pkg-config file names it.
	outside=$(sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$work/install-prefix.log" |
		grep -v "^$prefix/" | grep -v "^$IPCD_SYSCONFDIR/" || true)
	[ -z "$outside" ] || fail "cmake --install --prefix wrote outside the prefix: $outside"
	grep -qx "prefix=$prefix" "$prefix/$(rel "$IPCD_LIBDIR")/pkgconfig/ipcclient.pc" ||
		fail "ipcclient.pc does not name the prefix installed to"
	# One version everywhere: the header's, which the build read.
	v=$(sed -n 's/^#define IPC_CLIENT_VERSION "\(.*\)"$/\1/p' "$r$IPCD_INCLUDEDIR/ipcclient.h")
	[ "$v" = "$IPCD_VERSION" ] || fail "ipcclient.h says version '$v', the build $IPCD_VERSION"
	v=$(sed -n 's/^Version: //p' "$r$IPCD_LIBDIR/pkgconfig/ipcclient.pc")
	[ "$v" = "$IPCD_VERSION" ] || fail "ipcclient.pc says version '$v'"
	v=$("$r$IPCD_SBINDIR/ipcd" --version)
	[[ $v == "ipcd $IPCD_VERSION "* ]] || fail "ipcd --version says '$v'"
	grep -q "\"ipcd $IPCD_VERSION\"" "$r$IPCD_MANDIR/man8/ipcd.8" || fail "ipcd.8 does not name $IPCD_VERSION"
	echo "layout: all files in place, version $IPCD_VERSION everywhere"
	;;

units)
	command -v systemd-analyze >/dev/null || skip "systemd-analyze (package systemd) is not installed"
	[ "$IPCD_SYSTEMD" = ON ] || skip "built without IPCD_SYSTEMD: no units"
	# Verify inside the staging root, where ExecStart resolves to the installed
	# daemon; the root gets the system's targets and slices, and kill(1).
	host=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
	mkdir -p "$root/usr/lib/systemd/system" "$root/usr/bin"
	cp "$(readlink -f "$host")"/*.target "$(readlink -f "$host")"/*.slice "$root/usr/lib/systemd/system/"
	cp "$(type -P kill)" "$root/usr/bin/kill"
	man_opt=--man=yes
	if ! command -v man >/dev/null; then
		echo "note: man(1) is missing: Documentation= pages are not checked"
		man_opt=--man=no
	fi
	units=("$root$IPCD_UNITDIR/ipcd.socket" "$root$IPCD_UNITDIR/ipcd.service")
	out=$(MANPATH=$root$IPCD_MANDIR systemd-analyze verify $man_opt --root="$root" "${units[@]}" 2>&1) ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
	echo "verify: ipcd.socket and ipcd.service are clean"

	out=$(systemd-analyze security --offline=yes --root="$root" "$root$IPCD_UNITDIR/ipcd.service" 2>&1) ||
		fail "systemd-analyze security: $out"
	level=$(sed -n 's/.*Overall exposure level for ipcd.service: \([0-9.]*\).*/\1/p' <<< "$out")
	[ -n "$level" ] || fail "no exposure level in: $out"
	echo "security: exposure $level"
	grep '✗' <<< "$out" || true
	awk -v l="$level" 'BEGIN { exit !(l <= 1.0) }' || fail "exposure $level is above 1.0"

	# The user, group and state directory, created inside the root.
	command -v systemd-sysusers >/dev/null || skip "systemd-sysusers is not installed"
	mkdir -p "$root/etc"
	systemd-sysusers --root="$root" "$root$IPCD_SYSUSERSDIR/ipcd.conf" >/dev/null 2>&1 ||
		fail "systemd-sysusers rejected sysusers.d/ipcd.conf"
	grep -q '^ipcd:x:[0-9]*:[0-9]*:.*:/var/lib/ipcd:' "$root/etc/passwd" || fail "no user ipcd"
	grep -q '^ipcd:x:' "$root/etc/group" || fail "no group ipcd"
	if [ "$(id -u)" -eq 0 ]; then
		systemd-tmpfiles --root="$root" --create "$root$IPCD_TMPFILESDIR/ipcd.conf" ||
			fail "systemd-tmpfiles rejected tmpfiles.d/ipcd.conf"
		[ "$(stat -c '%a' "$root/var/lib/ipcd")" = 750 ] || fail "/var/lib/ipcd is not 0750"
		[ "$(stat -c '%u' "$root/var/lib/ipcd")" = "$(awk -F: '$1 == "ipcd" { print $3 }' "$root/etc/passwd")" ] ||
			fail "/var/lib/ipcd is not owned by ipcd"
		echo "sysusers, tmpfiles: user ipcd and /var/lib/ipcd created"
	else
		echo "note: not root: tmpfiles.d/ipcd.conf is not applied (it chowns)"
	fi
	;;

pkgconfig)
	command -v pkg-config >/dev/null || skip "pkg-config is not installed"
	export PKG_CONFIG_PATH=$prefix/$(rel "$IPCD_LIBDIR")/pkgconfig
	read -r -a flags <<< "$(pkg-config --cflags --libs ipcclient)"
	"$IPCD_CC" "${sanitize_flags[@]}" -o "$work/consumer-pc" \
		"$IPCD_SOURCE_DIR/tests/install/consumer/consumer.c" \
		"$IPCD_SOURCE_DIR/tests/install/consumer/round_trip.c" "${flags[@]}"
	export LD_LIBRARY_PATH=$prefix/$(rel "$IPCD_LIBDIR")
	linked=$(ldd "$work/consumer-pc")
	grep -q "libipcclient.so.2 => $LD_LIBRARY_PATH/" <<< "$linked" ||
		fail "consumer-pc does not use the installed library: $linked"
	with_daemon pc sh -c '"$0" "$1" pkg-config' "$work/consumer-pc"

	# The static archive, named so that the shared library beside it is not taken.
	read -r -a flags <<< "$(pkg-config --static --cflags --libs ipcclient)"
	flags=("${flags[@]/#-lipcclient/-l:libipcclient.a}")
	"$IPCD_CC" "${sanitize_flags[@]}" -o "$work/static-pc" \
		"$IPCD_SOURCE_DIR/tests/install/consumer/static_names.c" \
		"$IPCD_SOURCE_DIR/tests/install/consumer/round_trip.c" "${flags[@]}" ||
		fail "static_names.c does not link with libipcclient.a (pkg-config --static)"
	check_static "$work/static-pc"
	with_daemon spc sh -c '"$0" "$1" pkg-config-static' "$work/static-pc"
	;;

find_package)
	build=$work/consumer-build
	rm -rf "$build"
	"$CMAKE_COMMAND" -S "$IPCD_SOURCE_DIR/tests/install/consumer" -B "$build" \
		-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$IPCD_CC" \
		-DCMAKE_C_FLAGS="${IPCD_SAN_FLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${IPCD_SAN_FLAGS:-}" \
		>"$work/consumer-configure.log" || fail "configure: $(cat "$work/consumer-configure.log")"
	grep -q "ipcclient_DIR:PATH=$prefix/" "$build/CMakeCache.txt" ||
		fail "find_package did not find the installed ipcclient"
	"$CMAKE_COMMAND" --build "$build" >"$work/consumer-build.log" ||
		fail "build: $(cat "$work/consumer-build.log")"
	# ipcclient::ipcclient and ipcclient::ipcclient_static, each on its own.
	with_daemon fp sh -c '"$0" "$1" find_package' "$build/consumer"
	check_static "$build/static_names"
	with_daemon fps sh -c '"$0" "$1" find_package-static' "$build/static_names"
	;;

*)
	echo "usage: $0 setup|layout|units|pkgconfig|find_package" >&2
	exit 2
	;;
esac
