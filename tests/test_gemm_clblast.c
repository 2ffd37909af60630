/* CLBlast's tuned parameters: every candidate set glf_clblast_tune can pick
 * computes GEMM correctly through CLBlast (checked here against a double
 * reference at odd shapes on both of CLBlast's paths, NaN-filled C, guard
 * regions); a set that breaks CLBlast's constraints is rejected and the last
 * good set stays; the tuner stores and reads back its winner; a corrupt
 * stored set is an error naming the file. */
#include "testutil.h"

#include "glf/tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* C = op(A) op(B) through CLBlast at M x N x K, against the reference. */
static void product_ok_(glf_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K,
                        const char *what)
{
    float *A = tu_rand(M * K, 11 + M, -1, 1), *B = tu_rand(N * K, 12 + N, -1, 1);
    double *want = malloc(M * N * sizeof *want);
    assert_non_null(want);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double w = 0;
            for (size_t k = 0; k < K; k++)
                w += (double)A[ta ? k * M + i : i * K + k] * B[tb ? j * K + k : k * N + j];
            want[i * N + j] = w;
        }
    cl_mem dA = tu_buf_from(ctx, A, M * K), dB = tu_buf_from(ctx, B, N * K);
    cl_mem dC = tu_buf_nan(ctx, M * N);
    TU_OK(glf_gemm_set_backend(ctx, GLF_GEMM_CLBLAST));
    TU_OK(glf_gemm(ctx, ta ? GLF_TRANS : GLF_NO_TRANS, tb ? GLF_TRANS : GLF_NO_TRANS, M, N, K,
                   1.0f, dA, 0, ta ? M : K, dB, 0, tb ? K : N, 0.0f, dC, 0, N));
    float *C = tu_read(ctx, dC, M * N);
    assert_int_equal(tu_compare(what, C, want, M * N, 1e-4, 1e-4), 0);
    tu_check_guard(ctx, dC, M * N, what);
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
    free(A), free(B), free(C), free(want);
}

/* Both of CLBlast's paths: 401x397x389 is above the direct/indirect switch
 * (384^3) and runs the tuned Xgemm kernel; 17x45x23 runs the direct one. */
static void both_paths_ok_(glf_ctx *ctx, const char *set)
{
    char what[400];
    snprintf(what, sizeof what, "CLBlast NN 401x397x389 with %s", set);
    product_ok_(ctx, 0, 0, 401, 397, 389, what);
    snprintf(what, sizeof what, "CLBlast TN 389x401x397 with %s", set);
    product_ok_(ctx, 1, 0, 389, 401, 397, what);
    snprintf(what, sizeof what, "CLBlast NT 17x45x23 with %s", set);
    product_ok_(ctx, 0, 1, 17, 45, 23, what);
}

static void test_every_candidate(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    size_t n;
    const glf_clblast_params *c = glf_clblast_candidates(&n);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        char set[256];
        glf_clblast_format(&c[i], set, sizeof set);
        TU_OK(glf_clblast_apply(ctx, &c[i]));
        both_paths_ok_(ctx, set);
    }
    glf_ctx_destroy(ctx);
}

static void test_bad_set_rejected(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    size_t n;
    const glf_clblast_params *c = glf_clblast_candidates(&n);
    TU_OK(glf_clblast_apply(ctx, &c[0]));
    glf_clblast_params bad = c[0];
    bad.v[6] = 60; /* MWG not a multiple of MDIMC * VWM */
    assert_string_equal(glf_clblast_param_name(6), "MWG");
    glf_status s = glf_clblast_apply(ctx, &bad);
    assert_int_not_equal(s, GLF_OK);
    assert_non_null(strstr(glf_last_error(), "MWG=60"));
    glf_clear_error();
    bad = c[0];
    bad.v[2] = -1;
    tu_expect_status(glf_clblast_apply(ctx, &bad), GLF_ERR_INVALID_ARG, "KWG", ">= 0");
    char set[256];
    glf_clblast_format(&c[0], set, sizeof set);
    both_paths_ok_(ctx, set); /* the good set is back */
    glf_ctx_destroy(ctx);
}

static void test_tune_stores(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    glf_clblast_params best, got;
    int found = 1;
    TU_OK(glf_clblast_tuned(ctx, &got, &found));
    assert_int_equal(found, 0);
    TU_OK(glf_clblast_tune(ctx, 1, &best));
    TU_OK(glf_clblast_tuned(ctx, &got, &found));
    assert_int_equal(found, 1);
    assert_memory_equal(&got, &best, sizeof got);
    size_t n;
    const glf_clblast_params *c = glf_clblast_candidates(&n);
    assert_true(!memcmp(&best, &c[0], sizeof best) || !memcmp(&best, &c[1], sizeof best));

    /* A corrupt stored set is an error naming the file, never used. */
    char path[4096];
    TU_OK(glf_tune_store_path(ctx, path, sizeof path));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("glf tune store 1\ndevice x\nclblast = GEMMK=0 KREG=oops\n", f);
    fclose(f);
    tu_expect_status(glf_clblast_tuned(ctx, &got, &found), GLF_ERR_FORMAT, path, "KREG");
    assert_int_equal(found, 0);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_candidate),
        cmocka_unit_test(test_bad_set_rejected),
        cmocka_unit_test(test_tune_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
