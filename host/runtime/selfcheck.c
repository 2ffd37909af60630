/* GEMM self-check: device result vs a double-precision host reference,
 * plus a timing (`glf check`). */
#include <math.h>
#include <stdlib.h>

#include "glf/gemm.h"
#include "glf/rng.h"
#include "glf/util.h"

glf_status glf_gemm_selfcheck(glf_ctx *ctx, size_t M, size_t N, size_t K, int reps,
                              glf_gemm_check *out)
{
    glf_status s = GLF_OK;
    float *A = malloc(M * K * sizeof *A), *B = malloc(K * N * sizeof *B);
    float *C = malloc(M * N * sizeof *C);
    double *row = malloc(N * sizeof *row);
    cl_mem dA = NULL, dB = NULL, dC = NULL;
    glf_rng r;
    if (!A || !B || !C || !row) {
        s = glf_fail(GLF_ERR_NOMEM, "self-check %zux%zux%zu: out of memory", M, N, K);
        goto done;
    }
    glf_rng_init(&r, 1234, 0);
    for (size_t i = 0; i < M * K; i++)
        A[i] = 2.0f * glf_rng_uniform(&r) - 1.0f;
    for (size_t i = 0; i < K * N; i++)
        B[i] = 2.0f * glf_rng_uniform(&r) - 1.0f;
    if ((s = glf_buf_create(ctx, M * K * 4, &dA)) || (s = glf_buf_create(ctx, K * N * 4, &dB)) ||
        (s = glf_buf_create(ctx, M * N * 4, &dC)) || (s = glf_buf_write(ctx, dA, 0, M * K * 4, A)) ||
        (s = glf_buf_write(ctx, dB, 0, K * N * 4, B)))
        goto done;
    out->M = M, out->N = N, out->K = K;
    out->seconds = INFINITY;
    for (int rep = 0; rep < (reps < 1 ? 1 : reps) + 1; rep++) {
        double t0 = glf_now();
        if ((s = glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, M, N, K, 1.0f, dA, 0, K, dB, 0, N, 0.0f,
                          dC, 0, N)) ||
            (s = glf_finish(ctx)))
            goto done;
        double t = glf_now() - t0;
        if (rep > 0 && t < out->seconds) /* rep 0 compiles and warms up */
            out->seconds = t;
    }
    out->gflops = 2.0 * (double)M * (double)N * (double)K / out->seconds * 1e-9;
    if ((s = glf_buf_read(ctx, dC, 0, M * N * 4, C)))
        goto done;
    out->max_rel_err = 0;
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++)
            row[j] = 0;
        for (size_t k = 0; k < K; k++)
            for (size_t j = 0; j < N; j++)
                row[j] += (double)A[i * K + k] * B[k * N + j];
        for (size_t j = 0; j < N; j++) {
            double e = fabs(C[i * N + j] - row[j]) / (1.0 + fabs(row[j]));
            if (!(e <= out->max_rel_err)) /* also catches NaN */
                out->max_rel_err = isnan(e) ? INFINITY : e;
        }
    }
    if (!(out->max_rel_err <= 1e-6 * (double)K + 1e-5))
        s = glf_fail(GLF_ERR_NUMERIC,
                     "GEMM self-check %zux%zux%zu: max relative error %.3g exceeds %.3g",
                     M, N, K, out->max_rel_err, 1e-6 * (double)K + 1e-5);
done:
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
    free(A), free(B), free(C), free(row);
    return s;
}
