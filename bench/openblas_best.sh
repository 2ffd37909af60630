#!/usr/bin/env bash
# Prints the OPENBLAS_CORETYPE under which OpenBLAS (through PyTorch) runs
# sgemm fastest on this machine: "auto" (the variable unset: OpenBLAS's own
# detection) or a core name. On the 2-core Xeon CI machine on 2026-11-28 the
# detection picked a slow kernel (34-40 GFLOP/s at 1024^3) where SkylakeX gave
# 211-222: PyTorch is only measured "at its best" with the right one. The
# probe's figures go to stderr.
set -euo pipefail
threads="${1:-$(nproc)}"
best=auto; bestg=0
for ct in auto SkylakeX Haswell; do
  if [ "$ct" = auto ]; then e=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
  else e=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$ct"); fi
  g=$("${e[@]}" OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 -c "
import time, torch
torch.set_num_threads($threads)
a = torch.rand(1024, 1024); b = torch.rand(1024, 1024); c = torch.mm(a, b)
best = 0
for _ in range(3):
    t = time.perf_counter(); torch.mm(a, b, out=c); torch.mm(a, b, out=c)
    best = max(best, 4 * 1024**3 / (time.perf_counter() - t) * 1e-9)
print(f'{best:.1f}')")
  echo "OPENBLAS_CORETYPE=$ct: sgemm 1024^3 $g GFLOP/s" >&2
  if awk -v a="$g" -v b="$bestg" 'BEGIN{exit !(a > b)}'; then best=$ct; bestg=$g; fi
done
echo "$best"
