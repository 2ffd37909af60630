#!/bin/sh
# Fixture of the data-parallel tests: fills one PoCL and one glf kernel
# cache (POCL_CACHE_DIR, GLF_CACHE_DIR as ctest sets them) with the tiny
# model's kernels at the batches those tests' ranks run (24 = one process,
# 12 and 8 = a part of 24 on 2 and 3 ranks). Each rank then starts from its
# own copy, so the tests spend their time on the ranks, not on compiling
# the same kernels N times. Usage: dist_warm.sh GLF_CLI SAMPLE OUT
set -eu
cli="$1" sample="$2" out="$3"
rm -rf "$out"
for b in 24 12 8; do
    "$cli" train --data "$sample" --conv1 4 --conv2 8 --fc 32 --latent 4 --flow-width 8 \
        --batch "$b" --max-steps 1 --no-images --out "$out/b$b"
done
