/* Private to host/ops: the register-blocked SGEMM of cl/gemm_tile.cl, used by
 * the conv and linear ops where B is not transposed (3-5x faster than
 * CLBlast's untuned kernels on PoCL's CPU device, see bench_ops_conv). */
#ifndef GLF_OPS_GEMM_TILE_H
#define GLF_OPS_GEMM_TILE_H

#include "glf/gemm.h"

/* C (M, N) = alpha * op(A) * B + beta * C, row-major, offsets and leading
 * dimensions in floats; beta == 0 never reads C. Uses the tile kernel, or
 * glf_gemm (CLBlast) where too few tiles would leave cores idle. The
 * environment variable GLF_CONV_GEMM=clblast forces CLBlast, =tile forces the
 * tile kernels (benchmarks and tests). */
glf_status glf_gemm_tile(glf_ctx *ctx, glf_trans ta, size_t M, size_t N, size_t K, float alpha,
                         glf_dptr A, size_t lda, glf_dptr B, size_t ldb, float beta, glf_dptr C,
                         size_t ldc);

/* The same, always on the tile kernel (tests call it at odd shapes). */
glf_status glf_gemm_tile_kernel(glf_ctx *ctx, glf_trans ta, size_t M, size_t N, size_t K,
                                float alpha, glf_dptr A, size_t lda, glf_dptr B, size_t ldb,
                                float beta, glf_dptr C, size_t ldc);

/* C (M, N) = alpha * A (M, K) * B^T (B stored (N, K)) + beta * C, same
 * conventions; the _kernel form always uses cl/gemm_tile.cl. */
glf_status glf_gemm_tile_nt(glf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                            glf_dptr A, size_t lda, glf_dptr B, size_t ldb, float beta,
                            glf_dptr C, size_t ldc);
glf_status glf_gemm_tile_nt_kernel(glf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                                   glf_dptr A, size_t lda, glf_dptr B, size_t ldb, float beta,
                                   glf_dptr C, size_t ldc);

#endif
