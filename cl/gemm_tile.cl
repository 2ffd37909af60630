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
#define GT_FMA_(r, av)                                                                    \
    c0##r = fma((float16)(av), b0, c0##r);                                                \
    c1##r = fma((float16)(av), b1, c1##r);
        int k = 0;
        if (!transA) {
            // A's rows run along k: load 16 k of each of the 8 rows as vectors
            // (scalar loads of A held this kernel back), then step through them.
            for (; k + 16 <= K; k += 16) {
                float16 a0 = vload16(0, a + 0 * sai + k), a1 = vload16(0, a + 1 * sai + k);
                float16 a2 = vload16(0, a + 2 * sai + k), a3 = vload16(0, a + 3 * sai + k);
                float16 a4 = vload16(0, a + 4 * sai + k), a5 = vload16(0, a + 5 * sai + k);
                float16 a6 = vload16(0, a + 6 * sai + k), a7 = vload16(0, a + 7 * sai + k);
#define GT_STEP_(j, sj)                                                                   \
    {                                                                                     \
        __global const float *bk = b + (k + j) * ldb;                                     \
        float16 b0 = vload16(0, bk), b1 = vload16(0, bk + 16);                            \
        GT_FMA_(0, a0.sj) GT_FMA_(1, a1.sj) GT_FMA_(2, a2.sj) GT_FMA_(3, a3.sj)           \
        GT_FMA_(4, a4.sj) GT_FMA_(5, a5.sj) GT_FMA_(6, a6.sj) GT_FMA_(7, a7.sj)           \
    }
                GT_STEP_(0, s0) GT_STEP_(1, s1) GT_STEP_(2, s2) GT_STEP_(3, s3)
                GT_STEP_(4, s4) GT_STEP_(5, s5) GT_STEP_(6, s6) GT_STEP_(7, s7)
                GT_STEP_(8, s8) GT_STEP_(9, s9) GT_STEP_(10, sa) GT_STEP_(11, sb)
                GT_STEP_(12, sc) GT_STEP_(13, sd) GT_STEP_(14, se) GT_STEP_(15, sf)
#undef GT_STEP_
            }
        }
        for (; k < K; k++) { // transposed A (8 contiguous rows per k), or the k tail
            __global const float *bk = b + k * ldb;
            float16 b0 = vload16(0, bk), b1 = vload16(0, bk + 16);
            float8 av;
            if (transA)
                av = vload8(0, a + k * sak);
            else
                av = (float8)(a[k], a[sai + k], a[2 * sai + k], a[3 * sai + k],
                              a[4 * sai + k], a[5 * sai + k], a[6 * sai + k], a[7 * sai + k]);
            GT_FMA_(0, av.s0) GT_FMA_(1, av.s1) GT_FMA_(2, av.s2) GT_FMA_(3, av.s3)
            GT_FMA_(4, av.s4) GT_FMA_(5, av.s5) GT_FMA_(6, av.s6) GT_FMA_(7, av.s7)
        }
#undef GT_FMA_
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

// C (M, N) = alpha * A (M, K) * B (N, K)^T + beta * C: both operands run
// along k (Linear's forward, y = x w^T). A work-item owns a 4 x 4 tile and
// keeps float16 partial sums along k, folded by a fixed tree at the end,
// then the k tail in order. Edge tiles clamp their row pointers so every load
// stays inside A and B, and store only what lies inside C.
__kernel void gemm_tile_nt(__global float *C, int offC, int ldc, __global const float *A,
                           int offA, int lda, __global const float *Bm, int offB, int ldb, int M,
                           int N, int K, float alpha, float beta)
{
    int j0 = get_global_id(0) * 4;
    int i0 = get_global_id(1) * 4;
    if (i0 >= M || j0 >= N)
        return;
    __global const float *a0 = A + offA + min(i0 + 0, M - 1) * lda;
    __global const float *a1 = A + offA + min(i0 + 1, M - 1) * lda;
    __global const float *a2 = A + offA + min(i0 + 2, M - 1) * lda;
    __global const float *a3 = A + offA + min(i0 + 3, M - 1) * lda;
    __global const float *b0 = Bm + offB + min(j0 + 0, N - 1) * ldb;
    __global const float *b1 = Bm + offB + min(j0 + 1, N - 1) * ldb;
    __global const float *b2 = Bm + offB + min(j0 + 2, N - 1) * ldb;
    __global const float *b3 = Bm + offB + min(j0 + 3, N - 1) * ldb;
    float16 c00 = 0.0f, c01 = 0.0f, c02 = 0.0f, c03 = 0.0f, c10 = 0.0f, c11 = 0.0f, c12 = 0.0f,
            c13 = 0.0f, c20 = 0.0f, c21 = 0.0f, c22 = 0.0f, c23 = 0.0f, c30 = 0.0f, c31 = 0.0f,
            c32 = 0.0f, c33 = 0.0f;
    int K16 = K & ~15;
    for (int k = 0; k < K16; k += 16) {
        float16 x0 = vload16(0, a0 + k), x1 = vload16(0, a1 + k);
        float16 x2 = vload16(0, a2 + k), x3 = vload16(0, a3 + k);
        float16 y0 = vload16(0, b0 + k), y1 = vload16(0, b1 + k);
        float16 y2 = vload16(0, b2 + k), y3 = vload16(0, b3 + k);
        c00 = fma(x0, y0, c00), c01 = fma(x0, y1, c01), c02 = fma(x0, y2, c02);
        c03 = fma(x0, y3, c03), c10 = fma(x1, y0, c10), c11 = fma(x1, y1, c11);
        c12 = fma(x1, y2, c12), c13 = fma(x1, y3, c13), c20 = fma(x2, y0, c20);
        c21 = fma(x2, y1, c21), c22 = fma(x2, y2, c22), c23 = fma(x2, y3, c23);
        c30 = fma(x3, y0, c30), c31 = fma(x3, y1, c31), c32 = fma(x3, y2, c32);
        c33 = fma(x3, y3, c33);
    }
#define GT_FOLD_(v) ((v.lo.lo + v.lo.hi) + (v.hi.lo + v.hi.hi))
#define GT_OUT_(r, s)                                                                         \
    if (i0 + r < M && j0 + s < N) {                                                           \
        float4 f = GT_FOLD_(c##r##s);                                                         \
        float acc = (f.x + f.y) + (f.z + f.w);                                                \
        for (int k = K16; k < K; k++)                                                         \
            acc = fma(a##r[k], b##s[k], acc);                                                 \
        __global float *c = C + offC + (i0 + r) * ldc + j0 + s;                               \
        *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;                            \
    }
    GT_OUT_(0, 0) GT_OUT_(0, 1) GT_OUT_(0, 2) GT_OUT_(0, 3)
    GT_OUT_(1, 0) GT_OUT_(1, 1) GT_OUT_(1, 2) GT_OUT_(1, 3)
    GT_OUT_(2, 0) GT_OUT_(2, 1) GT_OUT_(2, 2) GT_OUT_(2, 3)
    GT_OUT_(3, 0) GT_OUT_(3, 1) GT_OUT_(3, 2) GT_OUT_(3, 3)
#undef GT_OUT_
#undef GT_FOLD_
}
