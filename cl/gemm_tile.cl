// Register-blocked SGEMM for PoCL's CPU device (see pocl-notes.md: no local
// memory, no barriers, several outputs per work-item, float16 along the
// contiguous dimension): C (M, N) = alpha * op(A) (M, K) * B (K, N) + beta * C,
// row-major, B never transposed. A work-item owns a GT_M x 32 tile of C and
// runs k = 0..K-1 in order, so results are deterministic.

#define GT_M 8 // rows per work-item (the accumulators below are written out for 8)

__kernel void gemm_tile(__global float *C, int offC, int ldc, __global const float *A, int offA,
                        int lda, int transA, __global const float *Bm, int offB, int ldb, int M,
                        int N, int K, float alpha, float beta)
{
    int j0 = get_global_id(0) * 32;
    int i0 = get_global_id(1) * GT_M;
    if (i0 >= M || j0 >= N)
        return;
    // Element (i, k) of op(A) is A[i*sai + k*sak].
    int sai = transA ? 1 : lda, sak = transA ? lda : 1;
    __global const float *a = A + offA + i0 * sai;
    __global const float *b = Bm + offB + j0;
    if (i0 + 8 <= M && j0 + 32 <= N) {
        // Sixteen named float16 accumulators (8 rows x 32 columns): named, not
        // an array, so PoCL keeps them in vector registers.
        float16 c00 = 0.0f, c01 = 0.0f, c02 = 0.0f, c03 = 0.0f, c04 = 0.0f, c05 = 0.0f,
                c06 = 0.0f, c07 = 0.0f, c10 = 0.0f, c11 = 0.0f, c12 = 0.0f, c13 = 0.0f,
                c14 = 0.0f, c15 = 0.0f, c16 = 0.0f, c17 = 0.0f;
        for (int k = 0; k < K; k++) {
            __global const float *bk = b + k * ldb;
            __global const float *ak = a + k * sak;
            float16 b0 = vload16(0, bk), b1 = vload16(0, bk + 16);
#define GT_ROW_(r)                                                                        \
    {                                                                                     \
        float av = ak[r * sai];                                                           \
        c0##r = fma((float16)(av), b0, c0##r);                                            \
        c1##r = fma((float16)(av), b1, c1##r);                                            \
    }
            GT_ROW_(0) GT_ROW_(1) GT_ROW_(2) GT_ROW_(3)
            GT_ROW_(4) GT_ROW_(5) GT_ROW_(6) GT_ROW_(7)
#undef GT_ROW_
        }
#define GT_STORE_(r)                                                                      \
    {                                                                                     \
        __global float *c = C + offC + (i0 + r) * ldc + j0;                               \
        if (beta == 0.0f) {                                                               \
            vstore16(alpha * c0##r, 0, c);                                                \
            vstore16(alpha * c1##r, 0, c + 16);                                           \
        } else {                                                                          \
            vstore16(alpha * c0##r + beta * vload16(0, c), 0, c);                         \
            vstore16(alpha * c1##r + beta * vload16(0, c + 16), 0, c + 16);               \
        }                                                                                 \
    }
        // beta == 0: C may hold NaN, never read it.
        GT_STORE_(0) GT_STORE_(1) GT_STORE_(2) GT_STORE_(3)
        GT_STORE_(4) GT_STORE_(5) GT_STORE_(6) GT_STORE_(7)
#undef GT_STORE_
        return;
    }
    // Edge tile: scalar, same k order.
    for (int r = 0; r < GT_M && i0 + r < M; r++)
        for (int jj = 0; jj < 32 && j0 + jj < N; jj++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s = fma(a[r * sai + k * sak], b[k * ldb + jj], s);
            __global float *c = C + offC + (i0 + r) * ldc + j0 + jj;
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
        }
}
