#!/usr/bin/env bash
# The communication cost of data parallelism on this machine: bench_dist on
# 1, 2 and 4 ranks (mpirun --oversubscribe: the ranks share the cores), then
# 2 ranks with per-rank BatchNorm statistics, as one markdown table. Each
# rank has its own PoCL cache (below $TMPDIR/glf-bench-dist-cache).
# usage: bash bench/dist_run.sh [BUILD_DIR] [STEPS] [more bench_dist options]
set -euo pipefail
build="${1:-build}"
steps="${2:-10}"
shift $(( $# > 2 ? 2 : $# ))
bench="$(cd "$build" && pwd)/bench_dist"
export GLF_BENCH_CACHE="${TMPDIR:-/tmp}/glf-bench-dist-cache"
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -ne 0 ] || mpirun+=(--allow-run-as-root)
per_rank='POCL_CACHE_DIR="$GLF_BENCH_CACHE/rank$OMPI_COMM_WORLD_RANK" exec "$0" "$@"'
echo "# bench_dist, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $steps timed steps"
POCL_CACHE_DIR="$GLF_BENCH_CACHE/rank0" "$bench" --steps "$steps" --header "$@"
for np in 2 4; do
    "${mpirun[@]}" -np "$np" sh -c "$per_rank" "$bench" --steps "$steps" "$@"
done
"${mpirun[@]}" -np 2 sh -c "$per_rank" "$bench" --steps "$steps" --bn-stats local "$@"
