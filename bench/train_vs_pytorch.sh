#!/usr/bin/env bash
# Training images/s of glf (bench_train) and of the PyTorch reference, same
# model, batch 256, same thread count, alternated ROUNDS times in one run;
# prints each figure, the medians and the ratio glf/PyTorch.
# usage: bench/train_vs_pytorch.sh [BUILD_DIR] [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"; rounds="${2:-3}"; steps="${3:-5}"
threads=$(nproc)
# PyTorch at its best: the fastest OpenBLAS core type here (bench/openblas_best.sh),
# OpenBLAS's L2 override unset, passive OpenMP waiting (../shared/docs/pocl-notes.md).
ct=$(bash bench/openblas_best.sh "$threads")
if [ "$ct" = auto ]; then penv=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
else penv=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$ct"); fi
echo "PyTorch runs with OPENBLAS_CORETYPE=$ct OMP_WAIT_POLICY=PASSIVE"
g=(); p=()
for r in $(seq "$rounds"); do
  out=$("$build/bench_train" --steps "$steps")
  echo "round $r: $out"
  g+=("$(sed -n 's/.*, \([0-9.]*\) images\/s/\1/p' <<<"$out")")
  out=$("${penv[@]}" OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/reference/glf_reference.py --bench --threads "$threads" --steps "$steps")
  echo "round $r: $out"
  p+=("$(sed -n 's/.*, \([0-9.]*\) images\/s/\1/p' <<<"$out")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mg=$(median "${g[@]}"); mp=$(median "${p[@]}")
echo "median images/s: glf $mg, PyTorch $mp (threads $threads); glf/PyTorch = $(awk -v a="$mg" -v b="$mp" 'BEGIN{printf "%.2f", a/b}')"
