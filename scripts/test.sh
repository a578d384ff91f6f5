#!/usr/bin/env bash
# The whole test suite: install dependencies, build twice (plain, and with
# AddressSanitizer + UBSan), warnings as errors, and run every test in both;
# then build the fuzz targets with clang and run each for 30 s: any crash,
# leak or undefined behaviour fails.
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
echo "== fuzz: the frame reader and decoders, the daemon, the queue log reader, a queue's shared ring, 30 s each (clang, libFuzzer)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DIPCD_FUZZ=ON -DIPCD_BUILD_TESTS=OFF \
	-DIPCD_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_codec fuzz_daemon fuzz_qlog fuzz_ring
root=$PWD
fuzz_dir=$(mktemp -d)
trap 'rm -rf "$fuzz_dir"' EXIT
for t in codec daemon qlog ring; do
	# New inputs go to a scratch directory; the seeds in the tree stay as they are.
	mkdir -p "$fuzz_dir/$t"
	if ! (cd "$fuzz_dir" && ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$root/build-fuzz/tests/fuzz/fuzz_$t" -max_total_time=30 -max_len=65536 \
		-artifact_prefix="$root/build-fuzz/crash-$t-" -print_final_stats=1 \
		"$fuzz_dir/$t" "$root/tests/fuzz/corpus/$t" >"$fuzz_dir/$t.log" 2>&1); then
		tail -n 120 "$fuzz_dir/$t.log"
		echo "== fuzz_$t failed; the input is in build-fuzz/crash-$t-*"
		exit 1
	fi
	grep -E "^(Done|stat::number_of_executed_units)" "$fuzz_dir/$t.log" | sed "s/^/fuzz_$t: /"
done
echo "== all tests passed"
