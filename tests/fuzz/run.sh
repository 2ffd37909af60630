#!/usr/bin/env bash
# Build the libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined)
# and run each for SECONDS from the seed corpus in tests/fuzz/corpus_*.
# Exits non-zero on any crash, leak, timeout or sanitizer report; the input
# that caused it is left in BUILD_DIR/fuzz-<name>/artifacts/.
# Usage: tests/fuzz/run.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="${1:-build-fuzz}"
secs="${2:-60}"
CC=clang cmake -S . -B "$dir" -DGLF_FUZZ=ON -DGLF_BUILD_TESTS=OFF -DGLF_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz_idx fuzz_archive
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in idx archive; do
    work="$dir/fuzz-$t"
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp tests/fuzz/corpus_$t/* "$work/corpus/"
    echo "== fuzz_$t for ${secs} s"
    if ! "$dir/fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
            -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
            "$work/corpus" 2>"$work/log.txt"; then
        tail -n 60 "$work/log.txt"
        echo "fuzz_$t FAILED; reproducer(s): $(ls "$work/artifacts")" >&2
        status=1
    else
        grep -E "^(stat::number_of_executed_units|stat::new_units_added)" "$work/log.txt" || true
        echo "fuzz_$t: no crash in ${secs} s"
    fi
done
exit $status
