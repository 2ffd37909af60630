#!/usr/bin/env bash
# glf's GEMM kernels (build/bench_gemm --only glf) against OpenBLAS (through
# PyTorch, bench/reference/openblas_gemm.py) at GLF's shapes, same thread
# count, alternated ROUNDS times in one run; per shape the median GFLOP/s of
# each and the ratio glf/OpenBLAS.
# usage: bench/gemm_vs_openblas.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"; rounds="${2:-3}"
threads=$(nproc)
ct=$(bash bench/openblas_best.sh "$threads") # OpenBLAS at its best: see that script
if [ "$ct" = auto ]; then benv=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
else benv=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$ct"); fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  "$build/bench_gemm" --only glf --no-peak --reps 3 |
    awk -F'|' '/^\| [a-z]/ && $4 ~ /[0-9]x[0-9]/ {gsub(/ /, "", $4); gsub(/ /, "", $6); print $4 "\t" $6}' >> "$tmp/glf"
  "${benv[@]}" OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/reference/openblas_gemm.py --threads "$threads" --reps 3 |
    awk -F'\t' '{print $2 "\t" $3}' >> "$tmp/blas"
done
echo "glf vs OpenBLAS (through PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), OPENBLAS_CORETYPE=$ct, threads $threads), medians of $rounds alternated rounds, GFLOP/s"
echo
echo "| M x N x K | glf | OpenBLAS | glf/OpenBLAS |"
echo "|---|---:|---:|---:|"
awk -F'\t' '
  function median(s,   n, a, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  FNR == NR { g[$1] = g[$1] " " $2; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } next }
  { b[$1] = b[$1] " " $2 }
  END { for (i = 1; i <= k; i++) { s = order[i]; mg = median(g[s]); mb = median(b[s]);
        printf "| %s | %.1f | %.1f | %.2f |\n", s, mg, mb, mg / mb } }' "$tmp/glf" "$tmp/blas"
