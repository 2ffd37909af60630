/* Row-major single-precision GEMM on device buffers:
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
 * Offsets and leading dimensions are in floats (elements), as in BLAS. */
#ifndef GLF_GEMM_H
#define GLF_GEMM_H

#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum glf_trans { GLF_NO_TRANS = 0, GLF_TRANS = 1 } glf_trans;

/* With beta == 0, C is overwritten (NaN in C does not propagate).
 * lda is the row stride of A as stored: >= K (no trans) or >= M (trans). */
glf_status glf_gemm(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M,
                    size_t N, size_t K, float alpha, cl_mem A, size_t offA,
                    size_t lda, cl_mem B, size_t offB, size_t ldb, float beta,
                    cl_mem C, size_t offC, size_t ldc);

#ifdef __cplusplus
}
#endif
#endif
