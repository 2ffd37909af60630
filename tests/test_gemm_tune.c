/* GEMM tuning: a quick tune stores its winner in the (fresh, per-test)
 * cache folder, later contexts start from it, and a stored set that fails
 * validation is replaced by the defaults with a note, never used. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void note_(void *user, const char *line)
{
    int *count = user;
    (*count)++;
    (void)line;
}

/* 17x45x23 NT product through glf_gemm, checked against a double reference. */
static void product_ok_(glf_ctx *ctx)
{
    const size_t M = 17, N = 45, K = 23;
    float *A = tu_rand(M * K, 3, -1, 1), *B = tu_rand(N * K, 4, -1, 1);
    double *want = malloc(M * N * sizeof *want);
    assert_non_null(want);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double w = 0;
            for (size_t k = 0; k < K; k++)
                w += (double)A[i * K + k] * B[j * K + k];
            want[i * N + j] = w;
        }
    cl_mem dA = tu_buf_from(ctx, A, M * K), dB = tu_buf_from(ctx, B, N * K);
    cl_mem dC = tu_buf_nan(ctx, M * N);
    TU_OK(glf_gemm(ctx, GLF_NO_TRANS, GLF_TRANS, M, N, K, 1.0f, dA, 0, K, dB, 0, K, 0.0f, dC, 0,
                   N));
    float *C = tu_read(ctx, dC, M * N);
    assert_int_equal(tu_compare("tuned gemm NT 17x45x23", C, want, M * N, 1e-4, 1e-4), 0);
    tu_check_guard(ctx, dC, M * N, "tuned gemm");
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
    free(A), free(B), free(C), free(want);
}

static void test_tune_stores_and_reuses(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    assert_non_null(glf_ctx_cache_dir(ctx)); /* ctest gives every test its own folder */
    glf_gemm_params best, got;
    int found = 1;
    TU_OK(glf_gemm_tuned(ctx, &got, &found));
    assert_int_equal(found, 0);
    TU_OK(glf_gemm_tune(ctx, 1, &best));
    TU_OK(glf_gemm_tuned(ctx, &got, &found));
    assert_int_equal(found, 1);
    assert_memory_equal(&got, &best, sizeof got);
    got = glf_gemm_get_params(ctx);
    assert_memory_equal(&got, &best, sizeof got);
    glf_ctx_destroy(ctx);

    ctx = tu_ctx(); /* a later context on the same device starts from it */
    got = glf_gemm_get_params(ctx);
    assert_memory_equal(&got, &best, sizeof got);
    product_ok_(ctx);
    assert_string_equal(glf_gemm_backend_name(ctx), "glf");
    glf_ctx_destroy(ctx);
}

/* Overwrite the stored set (whatever its file is called) with text. */
static void store_text_(glf_ctx *ctx, const char *text)
{
    glf_gemm_params p;
    int found;
    TU_OK(glf_gemm_tuned(ctx, &p, &found));
    assert_int_equal(found, 1); /* runs after test_tune_stores_and_reuses */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls %s/gemm-tune-*.txt", glf_ctx_cache_dir(ctx));
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    char path[4096];
    assert_non_null(fgets(path, sizeof path, ls));
    pclose(ls);
    path[strcspn(path, "\n")] = '\0';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_bad_stored_set_is_not_used(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    store_text_(ctx, "glf-gemm-tune 1\nsome device\nrm=99 vw=16 nv=2 lx=1 ly=16\n");
    glf_ctx_destroy(ctx);
    ctx = tu_ctx();
    int notes = 0;
    glf_gemm_set_note(ctx, note_, &notes);
    product_ok_(ctx);
    assert_int_equal(notes, 1);
    glf_gemm_params got = glf_gemm_get_params(ctx), def = glf_gemm_default_params();
    assert_memory_equal(&got, &def, sizeof got);
    assert_string_equal(glf_gemm_backend_name(ctx), "glf");
    glf_ctx_destroy(ctx);

    ctx = tu_ctx(); /* a malformed file: defaults, and glf_gemm_tuned names the file */
    store_text_(ctx, "not a tuning file\n");
    glf_gemm_params p;
    int found;
    assert_int_equal(glf_gemm_tuned(ctx, &p, &found), GLF_ERR_FORMAT);
    assert_non_null(strstr(glf_last_error(), "gemm-tune-"));
    glf_ctx_destroy(ctx);
    ctx = tu_ctx();
    got = glf_gemm_get_params(ctx);
    assert_memory_equal(&got, &def, sizeof got);
    product_ok_(ctx);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tune_stores_and_reuses),
        cmocka_unit_test(test_bad_stored_set_is_not_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
