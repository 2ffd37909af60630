/* The GEMM backend choice: GLF_GEMM selects CLBlast or glf's kernels (and an
 * unknown value is an error), and glf kernels that fail validation (here a
 * deliberately wrong cl/gemm.cl loaded through GLF_KERNEL_DIR) are never
 * used: the context falls back to CLBlast, says so once through the note
 * callback, and still computes the right product. A separate executable
 * because GLF_KERNEL_DIR sources stay loaded for the whole process. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* C = A*B for a 9x21x13 problem through glf_gemm; returns max |error|. */
static double small_product_(glf_ctx *ctx, glf_status *st)
{
    const size_t M = 9, N = 21, K = 13;
    float *A = tu_rand(M * K, 1, -1, 1), *B = tu_rand(K * N, 2, -1, 1);
    cl_mem dA = tu_buf_from(ctx, A, M * K), dB = tu_buf_from(ctx, B, K * N);
    cl_mem dC = tu_buf_nan(ctx, M * N);
    double worst = 0;
    *st = glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, M, N, K, 1.0f, dA, 0, K, dB, 0, N, 0.0f, dC,
                   0, N);
    if (*st == GLF_OK) {
        float *C = tu_read(ctx, dC, M * N);
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                double w = 0;
                for (size_t k = 0; k < K; k++)
                    w += (double)A[i * K + k] * B[k * N + j];
                double e = C[i * N + j] - w;
                e = e < 0 ? -e : e;
                if (!(e <= worst)) /* NaN counts as the worst */
                    worst = e != e ? 1e30 : e;
            }
        free(C);
        tu_check_guard(ctx, dC, M * N, "fallback product");
    }
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
    free(A), free(B);
    return worst;
}

static void test_env_selects_backend(void **state)
{
    (void)state;
    glf_status st;
    assert_int_equal(setenv("GLF_GEMM", "clblast", 1), 0);
    glf_ctx *ctx = tu_ctx();
    assert_int_equal(glf_ctx_options(ctx)->gemm_clblast, 1);
    assert_string_equal(glf_gemm_backend_name(ctx), "clblast");
    assert_true(small_product_(ctx, &st) < 1e-5);
    TU_OK(st);
    glf_ctx_destroy(ctx);

    assert_int_equal(setenv("GLF_GEMM", "glf", 1), 0);
    ctx = tu_ctx();
    assert_string_equal(glf_gemm_backend_name(ctx), "glf");
    assert_true(small_product_(ctx, &st) < 1e-5);
    TU_OK(st);
    glf_ctx_destroy(ctx);

    /* An unknown value fails the context's creation, naming the variable. */
    assert_int_equal(setenv("GLF_GEMM", "cublas", 1), 0);
    ctx = NULL;
    tu_expect_status(glf_ctx_create(NULL, &ctx), GLF_ERR_INVALID_ARG, "GLF_GEMM='cublas'",
                     "clblast");
    assert_null(ctx);
    assert_int_equal(unsetenv("GLF_GEMM"), 0);

    /* The environment is read once, when the context is made. */
    ctx = tu_ctx();
    assert_int_equal(setenv("GLF_GEMM", "clblast", 1), 0);
    assert_string_equal(glf_gemm_backend_name(ctx), "glf");
    glf_ctx_destroy(ctx);
    assert_int_equal(unsetenv("GLF_GEMM"), 0);
}

struct notes_ {
    int count;
    char last[512];
};

static void note_(void *user, const char *line)
{
    struct notes_ *n = user;
    n->count++;
    snprintf(n->last, sizeof n->last, "%s", line);
}

static void test_failed_validation_falls_back(void **state)
{
    (void)state;
    /* A kernel source that is wrong by one part in a thousand. */
    char *dir = tu_broken_kernel_dir("gemm-broken", "gemm.cl", "VT out = alpha * acc[r][v];",
                                     "VT out = alpha * acc[r][v] * 1.001f;");
    assert_int_equal(setenv("GLF_KERNEL_DIR", dir, 1), 0);
    glf_ctx *ctx = tu_ctx();
    struct notes_ notes = {0, ""};
    glf_gemm_set_note(ctx, note_, &notes);
    assert_string_equal(glf_gemm_backend_name(ctx), "glf"); /* not yet validated */
    glf_status st;
    double err = small_product_(ctx, &st);
    TU_OK(st);
    assert_true(err < 1e-5); /* CLBlast computed it */
    assert_string_equal(glf_gemm_backend_name(ctx), "clblast");
    assert_int_equal(notes.count, 1);
    assert_non_null(strstr(notes.last, "failed validation, using CLBlast"));
    /* Asking for glf's kernels explicitly is refused, with the reason. */
    assert_int_equal(glf_gemm_set_backend(ctx, GLF_GEMM_GLF), GLF_ERR_NUMERIC);
    assert_non_null(strstr(glf_last_error(), "gemm validation"));
    assert_string_equal(glf_gemm_backend_name(ctx), "clblast");
    /* A second product neither re-validates nor notes again. */
    small_product_(ctx, &st);
    TU_OK(st);
    assert_int_equal(notes.count, 1);
    glf_ctx_destroy(ctx);
    unsetenv("GLF_KERNEL_DIR");
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_selects_backend),
        cmocka_unit_test(test_failed_validation_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
