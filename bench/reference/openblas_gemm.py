#!/usr/bin/python3
"""SGEMM GFLOP/s of PyTorch's CPU BLAS (OpenBLAS on Debian with
libopenblas0-pthread) at GLF's shapes, the same list and transposes as
build/bench_gemm: one line per shape, "M x N x K  GFLOP/s" (median of reps).
usage: /usr/bin/python3 bench/reference/openblas_gemm.py [--threads N] [--reps N]"""
import argparse
import time

import torch

SHAPES = [  # what, transA, transB, M, N, K (as bench/bench_gemm.c)
    ("enc fc fwd", 0, 1, 256, 1024, 6272), ("dec fc fwd", 0, 1, 256, 6272, 1024),
    ("latent fwd", 0, 1, 256, 20, 1024), ("enc fc dW", 1, 0, 1024, 6272, 256),
    ("dec fc dX", 0, 0, 256, 6272, 1024), ("conv im2col", 0, 0, 256 * 196, 64, 16),
    ("conv dW", 1, 0, 16, 64, 256 * 196), ("conv dX", 0, 1, 256 * 196, 16, 64),
    ("flow 64x10", 0, 1, 256, 64, 10), ("flow 64x64", 0, 1, 256, 64, 64),
    ("flow 10x64", 0, 1, 256, 10, 64), ("square", 0, 0, 1024, 1024, 1024),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(1)
    for what, ta, tb, m, n, k in SHAPES:
        # Stored as row-major A (m x k, or k x m when transposed), B likewise;
        # .t() gives the transposed view without a copy, as BLAS would see it.
        A = torch.rand((k, m) if ta else (m, k), generator=g)
        B = torch.rand((n, k) if tb else (k, n), generator=g)
        opa, opb = (A.t() if ta else A), (B.t() if tb else B)
        flop = 2.0 * m * n * k
        inner = max(1, min(100, int(50e6 / flop)))  # small GEMMs: a stream of calls
        C = torch.mm(opa, opb)  # warm-up
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            for _ in range(inner):
                torch.mm(opa, opb, out=C)
            times.append((time.perf_counter() - t0) / inner)
        times.sort()
        print(f"{what}\t{m}x{n}x{k}\t{flop / times[len(times) // 2] * 1e-9:.1f}")


if __name__ == "__main__":
    main()
