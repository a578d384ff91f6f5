#!/usr/bin/env bash
# Install what building and testing ipcd needs, from Debian's packages.
# Does nothing when everything is already installed.
set -euo pipefail

# python3-dev, python3-setuptools, python3-pip: the Python module (pip install ./python);
# libpython3.11-testsuite: CPython's multiprocessing tests, run on ipcd.
# libsystemd-dev: socket activation and sd_notify; systemd: systemd-analyze,
# systemd-socket-activate, sysusers and tmpfiles for the tests; man-db: man(1),
# which systemd-analyze verify uses to check the units' Documentation=;
# systemd-container: systemd-nspawn, which boots systemd in a container for the
# test of the installed units under a real service manager (install.systemd).
# clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) build the
# fuzz targets.  prometheus: promtool, which checks ipcd's /metrics in the
# tests; curl fetches it in the documentation's examples; tmux runs
# ipcctl top in a real terminal for its test.  libnats-dev: the NATS client
# that cluster queues use; nats-server: the JetStream cluster the tests start.
# g++ and libboost-dev build the Boost.Interprocess message_queue beside the
# queue ring in bench/.
#
# scripts/deps.sh --build installs only what building ipcd, ipcctl, the library
# and the examples needs (scripts/demo.sh uses it); without it, the tests' and
# fuzzers' tools too.
build_packages=(build-essential cmake pkg-config libevent-dev libmsgpack-dev libjansson-dev libnats-dev
		libsystemd-dev)
packages=("${build_packages[@]}" check systemd systemd-container man-db clang libclang-rt-14-dev
	  python3-dev python3-setuptools python3-pip libpython3.11-testsuite prometheus curl tmux
	  nats-server g++ libboost-dev)
if [ "${1:-}" = --build ]; then
	packages=("${build_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
