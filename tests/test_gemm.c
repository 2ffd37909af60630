/* glf_gemm vs a double-precision C reference: all transposes, odd shapes,
 * offsets and padded leading dimensions, beta = 0 over NaN-filled C (NaN
 * must not leak in), beta != 0, and a guard region after C. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row-major reference: C = alpha*op(A)*op(B) + beta*C (beta == 0 ignores C). */
static void ref_gemm_(int ta, int tb, size_t M, size_t N, size_t K, double alpha,
                      const float *A, size_t lda, const float *B, size_t ldb, double beta,
                      const float *C0, size_t ldc, double *out /* M x N, dense */)
{
    double *row = malloc(N * sizeof *row);
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++)
            row[j] = 0.0;
        for (size_t k = 0; k < K; k++) {
            double a = ta ? A[k * lda + i] : A[i * lda + k];
            if (!tb) {
                const float *b = B + k * ldb;
                for (size_t j = 0; j < N; j++)
                    row[j] += a * b[j];
            } else {
                for (size_t j = 0; j < N; j++)
                    row[j] += a * B[j * ldb + k];
            }
        }
        for (size_t j = 0; j < N; j++)
            out[i * N + j] = alpha * row[j] + (beta != 0.0 ? beta * C0[i * ldc + j] : 0.0);
    }
    free(row);
}

static void check_(glf_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, size_t pad,
                   size_t off, float alpha, float beta)
{
    size_t arows = ta ? K : M, acols = ta ? M : K;
    size_t brows = tb ? N : K, bcols = tb ? K : N;
    size_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
    size_t na = off + arows * lda, nb = off + brows * ldb, nc = off + M * ldc;
    float *A = tu_rand(na, M * 31 + K, -1, 1);
    float *B = tu_rand(nb, N * 17 + K, -1, 1);
    float *C0 = tu_rand(nc, M + N + K, -1, 1);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++)
            C0[i] = tu_sentinel(); /* beta = 0: C's old NaNs must not leak */
    double *want = malloc(M * N * sizeof *want);
    ref_gemm_(ta, tb, M, N, K, alpha, A + off, lda, B + off, ldb, beta, C0 + off, ldc, want);

    cl_mem dA = tu_buf_from(ctx, A, na), dB = tu_buf_from(ctx, B, nb), dC = tu_buf_from(ctx, C0, nc);
    TU_OK(glf_gemm(ctx, ta ? GLF_TRANS : GLF_NO_TRANS, tb ? GLF_TRANS : GLF_NO_TRANS, M, N, K,
                   alpha, dA, off, lda, dB, off, ldb, beta, dC, off, ldc));
    float *C = tu_read(ctx, dC, nc);
    float *got = malloc(M * N * sizeof *got);
    for (size_t i = 0; i < M; i++)
        memcpy(got + i * N, C + off + i * ldc, N * sizeof(float));
    char what[128];
    snprintf(what, sizeof what, "gemm %c%c %zux%zux%zu pad %zu off %zu beta %g", ta ? 'T' : 'N',
             tb ? 'T' : 'N', M, N, K, pad, off, (double)beta);
    assert_int_equal(tu_compare(what, got, want, M * N, 2e-6 * (double)K, 1e-4), 0);
    /* Padding columns between rows of C and the prefix before off are untouched. */
    for (size_t i = 0; i < M; i++)
        for (size_t j = N; j < ldc && i * ldc + j + off < nc; j++)
            assert_memory_equal(&C[off + i * ldc + j], &C0[off + i * ldc + j], sizeof(float));
    for (size_t i = 0; i < off; i++)
        assert_memory_equal(&C[i], &C0[i], sizeof(float));
    tu_check_guard(ctx, dC, nc, what);
    free(A), free(B), free(C0), free(C), free(got), free(want);
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
}

static void test_small_shapes(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {3, 1, 9}, {1, 17, 2}, {33, 20, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            check_(ctx, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 0, 0, 1.0f, 0.0f);
            check_(ctx, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 3, 5, -0.75f,
                   0.5f);
        }
    glf_ctx_destroy(ctx);
}

static void test_odd_large(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    for (int t = 0; t < 4; t++)
        check_(ctx, t & 1, t >> 1, 255, 257, 129, t, 7 * (size_t)t, 1.0f, t == 2 ? 1.0f : 0.0f);
    glf_ctx_destroy(ctx);
}

static void test_glf_shape(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* The encoder's widest layer at batch 256: 256 x 1024 x 6272. */
    for (int t = 0; t < 4; t++)
        check_(ctx, t & 1, t >> 1, 256, 1024, 6272, 0, 0, 1.0f, 0.0f);
    glf_ctx_destroy(ctx);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem a = tu_buf_nan(ctx, 16);
    /* lda smaller than the row length: CLBlast's error comes back named. */
    assert_int_equal(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, 4, 4, 4, 1, a, 0, 2, a, 0, 4, 0,
                              a, 0, 4),
                     GLF_ERR_CLBLAST);
    assert_non_null(strstr(glf_last_error(), "CLBlastInvalidLeadDimA"));
    /* A buffer too small for the shape. */
    assert_int_equal(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, 64, 64, 64, 1, a, 0, 64, a, 0, 64,
                              0, a, 0, 64),
                     GLF_ERR_CLBLAST);
    assert_non_null(strstr(glf_last_error(), "InsufficientMemory"));
    assert_int_equal(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, 2, 2, 0, 1, a, 0, 2, a, 0, 2, 0,
                              a, 0, 2),
                     GLF_ERR_INVALID_ARG);
    glf_buf_release(a);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_odd_large),
        cmocka_unit_test(test_glf_shape),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
