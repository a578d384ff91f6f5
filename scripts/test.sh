#!/usr/bin/env bash
# The whole test suite: install dependencies, build twice (plain, and with
# AddressSanitizer + UBSan), warnings as errors, and run every test in both.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
jobs=$(nproc)

run_build() {
	local dir=$1; shift
	cmake -S . -B "$dir" -DIPCD_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs"
	ctest --test-dir "$dir" --output-on-failure -j"$jobs"
}

echo "== build and test: plain"
run_build build
echo "== build and test: AddressSanitizer + UBSan"
# Instrumented code runs several times slower: give Check's per-test limits room.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
CK_TIMEOUT_MULTIPLIER=5 \
	run_build build-asan -DIPCD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
echo "== all tests passed"
