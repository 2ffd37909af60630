#!/usr/bin/env bash
# Checks the FMA peak that `glf bench` measures (and divides every "% of
# peak" by) against the same measurement in plain C (bench/fma_peak.c,
# -march=native), alternated in ROUNDS rounds because a shared machine's
# speed drifts. Usage: bench/peak_check.sh BUILD_DIR [ROUNDS]
set -euo pipefail
build="${1:?usage: bench/peak_check.sh BUILD_DIR [ROUNDS]}"
rounds="${2:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
threads="$(nproc)"
cc -O2 -march=native -pthread -o "$build/fma_peak_c" "$here/fma_peak.c"
for r in $(seq "$rounds"); do
  glf=$("$build/bench_gemm" --only glf --reps 1 --shape 0,0,8,32,8 | sed -n 's/^FMA peak.*: \([0-9.]*\) GFLOP\/s$/\1/p')
  c8=$("$build/fma_peak_c" "$threads" 8)
  c12=$("$build/fma_peak_c" "$threads" 12)
  c16=$("$build/fma_peak_c" "$threads" 16)
  echo "round $r: glf fma_peak $glf GFLOP/s; C, $threads threads: 8 chains $c8, 12 chains $c12, 16 chains $c16"
done
