/* Host side of cl/gemm_tile.cl: shape checks, the launch, and the choice
 * between it and CLBlast (glf_gemm) by the number of tiles. */
#include "ops/gemm_tile.h"

#include <limits.h>
#include <stdlib.h>

/* Rows (GT_M in the kernel) and columns (two float16) per work-item. */
#define TILE_M_ 8
#define TILE_N_ 32
/* Work-group: 8 work-items down M sharing one 32-column strip of B, which
 * then stays in cache (measured 1.3-1.6x faster than 16 along N). */
#define WG_M_ 8
/* Below this many tiles, the long-K GEMMs (weight gradients of thin
 * layers) run on too few work-items: CLBlast is faster there. */
#define MIN_TILES_ 64

/* The kernels cannot see buffer sizes: refuse a matrix that would run past
 * its buffer's end (end = one past the last float used, offset included). */
static glf_status fits_(const char *op, const char *what, glf_dptr p, size_t end)
{
    size_t bytes = 0;
    if (!p.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: %s.buf is NULL", op, what);
    cl_int e = clGetMemObjectInfo(p.buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    if (e != CL_SUCCESS)
        return glf_fail(GLF_ERR_OPENCL, "%s: clGetMemObjectInfo(%s) failed: %s", op, what,
                        glf_cl_error_name(e));
    if (end > bytes / sizeof(float))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: matrix %s needs floats up to %zu, its buffer holds %zu", op, what,
                        end, bytes / sizeof(float));
    return GLF_OK;
}

glf_status glf_gemm_tile_kernel(glf_ctx *ctx, glf_trans ta, size_t M, size_t N, size_t K,
                                float alpha, glf_dptr A, size_t lda, glf_dptr B, size_t ldb,
                                float beta, glf_dptr C, size_t ldc)
{
    if (M == 0 || N == 0)
        return GLF_OK;
    if (K == 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_tile: K = 0, expected K >= 1");
    if ((ta ? lda < M : lda < K) || ldb < N || ldc < N)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm_tile: lda=%zu ldb=%zu ldc=%zu too small for M=%zu N=%zu "
                        "K=%zu (A %s)", lda, ldb, ldc, M, N, K, ta ? "transposed" : "plain");
    size_t endA = A.off + (ta ? (K - 1) * lda + M : (M - 1) * lda + K);
    size_t endB = B.off + (K - 1) * ldb + N, endC = C.off + (M - 1) * ldc + N;
    if (endA > INT_MAX || endB > INT_MAX || endC > INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm_tile: M=%zu N=%zu K=%zu reach float %zu/%zu/%zu, expected "
                        "<= %d", M, N, K, endA, endB, endC, INT_MAX);
    GLF_TRY(fits_("glf_gemm_tile", "A", A, endA));
    GLF_TRY(fits_("glf_gemm_tile", "B", B, endB));
    GLF_TRY(fits_("glf_gemm_tile", "C", C, endC));
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "gemm_tile", "gemm_tile", NULL, &k));
    size_t gl[2] = {(N + TILE_N_ - 1) / TILE_N_, (M + TILE_M_ - 1) / TILE_M_};
    size_t lo[2] = {1, WG_M_};
    return GLF_LAUNCH(ctx, k, 2, gl, lo, GLF_DP(C), GLF_I32(ldc), GLF_DP(A), GLF_I32(lda),
                      GLF_I32(ta == GLF_TRANS), GLF_DP(B), GLF_I32(ldb), GLF_I32(M), GLF_I32(N),
                      GLF_I32(K), GLF_F32(alpha), GLF_F32(beta));
}

glf_status glf_gemm_tile(glf_ctx *ctx, glf_trans ta, size_t M, size_t N, size_t K, float alpha,
                         glf_dptr A, size_t lda, glf_dptr B, size_t ldb, float beta, glf_dptr C,
                         size_t ldc)
{
    size_t tiles = ((M + TILE_M_ - 1) / TILE_M_) * ((N + TILE_N_ - 1) / TILE_N_);
    const char *env = getenv("GLF_CONV_GEMM");
    /* N < 32: every tile would take the kernel's slow scalar edge path. */
    if ((env && env[0] == 'c') || ((tiles < MIN_TILES_ || N < TILE_N_) && !(env && env[0] == 't')))
        return glf_gemm(ctx, ta, GLF_NO_TRANS, M, N, K, alpha, A.buf, A.off, lda, B.buf, B.off,
                        ldb, beta, C.buf, C.off, ldc);
    return glf_gemm_tile_kernel(ctx, ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- C = alpha A B^T + beta C (cl/gemm_tile.cl: gemm_tile_nt) ------------- */

#define NT_TILE_ 4

glf_status glf_gemm_tile_nt_kernel(glf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                                   glf_dptr A, size_t lda, glf_dptr B, size_t ldb, float beta,
                                   glf_dptr C, size_t ldc)
{
    if (M == 0 || N == 0)
        return GLF_OK;
    if (K == 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_tile_nt: K = 0, expected K >= 1");
    if (lda < K || ldb < K || ldc < N)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm_tile_nt: lda=%zu ldb=%zu ldc=%zu too small for M=%zu N=%zu "
                        "K=%zu", lda, ldb, ldc, M, N, K);
    size_t endA = A.off + (M - 1) * lda + K, endB = B.off + (N - 1) * ldb + K;
    size_t endC = C.off + (M - 1) * ldc + N;
    if (endA > INT_MAX || endB > INT_MAX || endC > INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm_tile_nt: M=%zu N=%zu K=%zu reach float %zu/%zu/%zu, "
                        "expected <= %d", M, N, K, endA, endB, endC, INT_MAX);
    GLF_TRY(fits_("glf_gemm_tile_nt", "A", A, endA));
    GLF_TRY(fits_("glf_gemm_tile_nt", "B", B, endB));
    GLF_TRY(fits_("glf_gemm_tile_nt", "C", C, endC));
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "gemm_tile", "gemm_tile_nt", NULL, &k));
    size_t gl[2] = {(N + NT_TILE_ - 1) / NT_TILE_, (M + NT_TILE_ - 1) / NT_TILE_};
    size_t lo[2] = {1, WG_M_};
    return GLF_LAUNCH(ctx, k, 2, gl, lo, GLF_DP(C), GLF_I32(ldc), GLF_DP(A), GLF_I32(lda),
                      GLF_DP(B), GLF_I32(ldb), GLF_I32(M), GLF_I32(N), GLF_I32(K),
                      GLF_F32(alpha), GLF_F32(beta));
}

glf_status glf_gemm_tile_nt(glf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                            glf_dptr A, size_t lda, glf_dptr B, size_t ldb, float beta,
                            glf_dptr C, size_t ldc)
{
    size_t tiles = ((M + NT_TILE_ - 1) / NT_TILE_) * ((N + NT_TILE_ - 1) / NT_TILE_);
    const char *env = getenv("GLF_CONV_GEMM");
    if ((env && env[0] == 'c') || (tiles < MIN_TILES_ && !(env && env[0] == 't')))
        return glf_gemm(ctx, GLF_NO_TRANS, GLF_TRANS, M, N, K, alpha, A.buf, A.off, lda, B.buf,
                        B.off, ldb, beta, C.buf, C.off, ldc);
    return glf_gemm_tile_nt_kernel(ctx, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
