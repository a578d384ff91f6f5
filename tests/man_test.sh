#!/usr/bin/env bash
# The manual keeps up with the code: every function of <ipcclient.h> is in
# libipcclient(3), every setting of ipcd in ipcd(8), ipcd.conf(5) and the
# example configuration, every ipcctl command in ipcctl(1); and every page
# renders without a groff warning.
# Usage: man_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
failed=0

fail() { echo "FAIL: $*" >&2; failed=1; }

# troff spells a '-' in a name as '\-'.
troff() { sed 's/-/\\-/g' <<< "$1"; }

lib=$src/man/libipcclient.3
name_section=$(sed -n '/^\.SH NAME/,/^\.SH SYNOPSIS/p' "$lib")
synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$lib")
body=$(sed -n '/^\.SH DESCRIPTION/,$p' "$lib")
fns=$(sed -n 's/^IPC_API .*[ *]\([a-z_0-9]*\)(.*/\1/p' "$src/client/ipcclient.h")
[ -n "$fns" ] || fail "no IPC_API functions found in ipcclient.h"
for fn in $fns; do
	grep -qw "$fn" <<< "$name_section" || fail "libipcclient(3): $fn is not in NAME"
	grep -q "$fn(" <<< "$synopsis" || fail "libipcclient(3): $fn is not in SYNOPSIS"
	grep -q "^\.BR $fn ()" <<< "$body" || fail "libipcclient(3): $fn is not described"
done

settings=$("$build/daemon/ipcd" --help | sed -n 's/^ *\(-., \)\?--\([a-z-]*\).*/\2/p' |
	   grep -vx 'config\|verbose\|help\|version\|check-config')
[ -n "$settings" ] || fail "no settings in ipcd --help"
for key in $settings; do
	t=$(troff "$key")
	grep -qF -- "\\-\\-$t" "$src/man/ipcd.8.in" || fail "ipcd(8): --$key is not documented"
	grep -qF -- ".BI \"$t = " "$src/man/ipcd.conf.5.in" || fail "ipcd.conf(5): $key is not documented"
	grep -q "^#$key = " "$src/daemon/ipcd.conf" || fail "the example ipcd.conf lacks $key"
done

commands=$("$build/ctl/ipcctl" --help | sed -n '/^Commands:/,/^Options:/s/^  \([a-z]\+\( [a-z]\+\)\?\)\( .*\)\?$/\1/p')
[ -n "$commands" ] || fail "no commands in ipcctl --help"
while read -r cmd; do
	grep -q "^\.BI\? \"\?$cmd\( \|\"\|$\)" "$src/man/ipcctl.1" || fail "ipcctl(1): '$cmd' is not documented"
done <<< "$commands"

# Each function has a short page of its family, with an example.
for fn in $fns; do
	found=""
	for page in "$src"/man/ipc_*.3; do
		sed -n '/^\.SH NAME/,/^\.SH SYNOPSIS/p' "$page" | grep -qw "$fn" && found=$page
	done
	[ -n "$found" ] || { fail "$fn has no page of its family (man/ipc_*.3)"; continue; }
	grep -q "$fn(" "$found" || fail "$(basename "$found"): no synopsis of $fn"
	grep -q '^\.SH EXAMPLES' "$found" || fail "$(basename "$found"): no example"
done

if command -v groff >/dev/null; then
	for page in "$build/man/ipcd.8" "$build/man/ipcd.conf.5" "$src/man/ipcctl.1" "$lib" \
		    "$src"/man/ipc_*.3; do
		out=$(groff -man -ww -z -Tutf8 "$page" 2>&1)
		[ -z "$out" ] || fail "$(basename "$page") renders with warnings: $out"
	done
else
	echo "note: groff is missing: the pages were not rendered"
fi
[ $failed -eq 0 ] && echo "man pages: $(wc -w <<< "$fns") functions, $(wc -w <<< "$settings") settings, $(wc -l <<< "$commands") commands documented"
exit $failed
