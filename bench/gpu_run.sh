#!/usr/bin/env bash
# One prepared run on a GPU machine without glf's Debian packages, from the
# repository root, with .gpu/ copied along (bench/gpu_pack.sh makes it on a
# machine that has them):
#   1. whether the NVIDIA driver exposes OpenCL: ICD files, libnvidia-opencl;
#   2. glf devices (with an ICD file of our own if the driver's library is
#      there but no ICD file names it);
#   3. the kernel and runtime tests on the GPU (the GEMM and the ops, each
#      against its plain-C reference, first);
#   4. glf tune, then glf bench (the README's GPU table).
# Everything goes to $OUT (default /tmp/glf-gpu-out); the steps stop
# early enough to end within DEADLINE seconds (default 500), each later one
# skipped when too little time is left. GLF_GPU_RUN_DEVICE picks the device
# (default gpu; cpu lets this script be tried on PoCL).
set -u
start=$(date +%s)
deadline=${DEADLINE:-500}
dev=${GLF_GPU_RUN_DEVICE:-gpu}
out=${OUT:-/tmp/glf-gpu-out}
work=/tmp/glf-gpu
mkdir -p "$out" "$work/icd" "$work/cache"
left() { echo $((deadline - ($(date +%s) - start))); }
log() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$out/summary.txt"; }

log "== 1. OpenCL on this machine ($(date -u +%FT%TZ), $(uname -r))"
{
    nvidia-smi -L 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
    echo "--- /etc/OpenCL/vendors"
    ls -la /etc/OpenCL/vendors 2>&1
    for f in /etc/OpenCL/vendors/*.icd; do [ -e "$f" ] && echo "$f: $(cat "$f")"; done
    echo "--- libnvidia-opencl and ICD files (ldconfig, then a search of the library folders)"
    ldconfig -p 2>/dev/null | grep -i -E 'opencl'
    find /usr/local/nvidia /usr/lib /usr/lib64 /usr/local/lib /lib /lib64 /etc /opt -xdev \
        \( -name 'libnvidia-opencl.so*' -o -name '*.icd' \) 2>/dev/null | sort -u
} > "$out/opencl.txt" 2>&1
# the driver's OpenCL library: .so.1 if there, else any version of it
nvlib=$(grep -o -E '/[^ ]*/libnvidia-opencl\.so\.1$' "$out/opencl.txt" | head -n 1)
[ -n "$nvlib" ] || nvlib=$(grep -o -E '/[^ ]*/libnvidia-opencl\.so[.0-9]*$' "$out/opencl.txt" | head -n 1)
log "libnvidia-opencl.so.1: ${nvlib:-not found}; ICD files: $(ls /etc/OpenCL/vendors 2>/dev/null | tr '\n' ' ')"

log "== 2. glf devices"
if [ ! -f .gpu/lib.tar.xz ]; then
    log "no .gpu/lib.tar.xz: run bench/gpu_pack.sh here and carry .gpu"
    exit 1
fi
tar -C "$work" -xJf .gpu/lib.tar.xz
export LD_LIBRARY_PATH="$work/lib${nvlib:+:$(dirname "$nvlib")}:/usr/local/nvidia/lib64:/usr/local/nvidia/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -n "$nvlib" ] && ! grep -qs libnvidia-opencl /etc/OpenCL/vendors/*.icd; then
    echo "$nvlib" > "$work/icd/nvidia.icd"
    export OCL_ICD_VENDORS="$work/icd"
    log "no ICD file names the driver's library: using $work/icd/nvidia.icd ($nvlib)"
fi
export GLF_CACHE_DIR="$work/cache" GLF_SOURCE_DIR="$PWD" GLF_DEVICE="$dev"
.gpu/bin/glf devices > "$out/devices.txt" 2>&1
rc=$?
tee -a "$out/summary.txt" < "$out/devices.txt"
if [ $rc -ne 0 ]; then
    log "glf devices failed (rc $rc): no OpenCL device to measure; stopping"
    exit 0
fi

log "== 3. kernel and runtime tests on GLF_DEVICE=$dev"
while read -r t; do
    [ "$(left)" -gt 200 ] || { log "skipped $t and later tests: $(left) s left"; break; }
    timeout 120 ".gpu/bin/$t" > "$out/$t.log" 2>&1
    rc=$?
    log "$t: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (rc $rc)")"
done < .gpu/tests.txt
# one file for the logs, so that $OUT holds a few files to copy back
logs=$(cd "$out" && ls test_*.log 2>/dev/null)
[ -z "$logs" ] || { tar -C "$out" -czf "$out/test-logs.tar.gz" $logs && (cd "$out" && rm -f $logs); }

log "== 4. glf tune, glf bench"
if [ "$(left)" -gt 150 ]; then
    timeout $(($(left) - 120)) .gpu/bin/glf tune > "$out/tune.txt" 2>&1
    log "glf tune: rc $? (tail:)"
    tail -n 5 "$out/tune.txt" | tee -a "$out/summary.txt"
else
    log "glf tune skipped: $(left) s left"
fi
if [ "$(left)" -gt 40 ]; then
    timeout $(($(left) - 10)) .gpu/bin/glf bench --json "$out/bench-gpu.json" > "$out/bench-gpu.md" \
        2> "$out/bench-gpu.err"
    log "glf bench: rc $?"
else
    log "glf bench skipped: $(left) s left"
fi
log "done"
