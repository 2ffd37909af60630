#!/usr/bin/env bash
# Packs what bench/gpu_run.sh needs on a GPU machine that has none of glf's
# Debian packages (its own system image, no package registry): the glf
# binary, the kernel and runtime test binaries, and the shared libraries they
# load, except the C and C++ runtimes, which such a machine has (newer than
# Debian 12's). Into .gpu/ (git-ignored through .git/info/exclude); the
# libraries go as one xz archive so that .gpu/ stays small (~28 MB) to copy.
# usage: bench/gpu_pack.sh [BUILD_DIR]   then copy the repository with .gpu/
#        to the GPU machine and run `bash bench/gpu_run.sh` there (done in 500 s).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
dest=.gpu
# The kernel and runtime tests (they need no data outside the repository),
# in the order gpu_run.sh runs them: the kernels first.
tests=(test_runtime test_gemm test_ops_conv test_ops_linear test_ops_norm test_ops_act
       test_ops_flow test_ops_loss test_ops_adam test_ops_reduce test_ops_xent test_golden
       test_gemm_clblast test_gemm_fallback test_gemm_tune test_conv_tune test_model_layout
       test_checkpoint test_bench)
bins=("$build/glf")
for t in "${tests[@]}"; do bins+=("$build/tests/$t"); done
for b in "${bins[@]}"; do
    [ -x "$b" ] || { echo "gpu_pack: $b missing: build first (cmake --build $build)" >&2; exit 1; }
done
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
cp "${bins[@]}" "$dest/bin/"
printf '%s\n' "${tests[@]}" > "$dest/tests.txt"
# Every library the binaries load but the runtimes of glibc and GCC.
ldd "${bins[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libmvec|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$dest/lib/"; done
tar -C "$dest" -cJf "$dest/lib.tar.xz" lib
rm -rf "$dest/lib"
ex=.git/info/exclude
if [ -d .git ] && ! grep -qx '/.gpu/' "$ex" 2>/dev/null; then echo '/.gpu/' >> "$ex"; fi
du -sh "$dest"
