/* GEMM tuning: a quick tune stores its winner in the (fresh, per-test)
 * cache folder, later contexts start from it, a stored set that fails
 * validation is replaced by the defaults with a note, never used, and a
 * workload's timings decide the second stage. */
#include "testutil.h"

#include "glf/tune.h"

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

/* Overwrite the device's tuning store with text. */
static void store_text_(glf_ctx *ctx, const char *text)
{
    char path[4096];
    TU_OK(glf_tune_store_path(ctx, path, sizeof path));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_bad_stored_set_is_not_used(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    store_text_(ctx, "glf tune store 1\ndevice some device\ngemm = rm=99 vw=16 nv=2 lx=1 ly=16\n");
    glf_ctx_destroy(ctx);
    ctx = tu_ctx();
    int notes = 0;
    glf_gemm_set_note(ctx, note_, &notes);
    product_ok_(ctx);
    assert_int_equal(notes, 1);
    glf_gemm_params got = glf_gemm_get_params(ctx);
    const glf_gemm_params def = glf_gemm_default_params_for(glf_ctx_family(ctx));
    assert_memory_equal(&got, &def, sizeof got);
    assert_string_equal(glf_gemm_backend_name(ctx), "glf");
    glf_ctx_destroy(ctx);

    ctx = tu_ctx(); /* a malformed file: defaults, and glf_gemm_tuned names the file */
    store_text_(ctx, "not a tuning file\n");
    glf_gemm_params p;
    int found;
    char path[4096];
    TU_OK(glf_tune_store_path(ctx, path, sizeof path));
    tu_expect_status(glf_gemm_tuned(ctx, &p, &found), GLF_ERR_FORMAT, path, "glf tune store 1");
    glf_ctx_destroy(ctx);
    ctx = tu_ctx(); /* a store whose tile set is not one: named too */
    store_text_(ctx, "glf tune store 1\ndevice x\ngemm = rm=8 vw=sixteen\n");
    tu_expect_status(glf_gemm_tuned(ctx, &p, &found), GLF_ERR_FORMAT, path, "key 'gemm'");
    glf_ctx_destroy(ctx);
    ctx = tu_ctx();
    got = glf_gemm_get_params(ctx);
    assert_memory_equal(&got, &def, sizeof got);
    product_ok_(ctx);
    glf_ctx_destroy(ctx);
}

/* A stand-in workload for glf_gemm_tune_ex's second stage: a time per tile
 * set chosen by the test (the default's, everyone else's), a record of the
 * sets it ran with, and a failure at call fail_at (0: never). */
struct fake_work_ {
    double t_default, t_other;
    int calls, fail_at;
    glf_gemm_params seen[8];
};

static glf_status fake_work_(glf_ctx *ctx, void *user, double *seconds)
{
    struct fake_work_ *w = user;
    glf_gemm_params p = glf_gemm_get_params(ctx);
    const glf_gemm_params def = glf_gemm_default_params_for(glf_ctx_family(ctx));
    if (w->calls < 8)
        w->seen[w->calls] = p;
    if (++w->calls == w->fail_at)
        return glf_fail(GLF_ERR_IO, "fake workload: failing at call %d", w->calls);
    *seconds = memcmp(&p, &def, sizeof p) ? w->t_other : w->t_default;
    return GLF_OK;
}

static void stored_is_(glf_ctx *ctx, const glf_gemm_params *want)
{
    glf_gemm_params got;
    int found = 0;
    TU_OK(glf_gemm_tuned(ctx, &got, &found));
    assert_int_equal(found, 1);
    assert_memory_equal(&got, want, sizeof got);
}

/* The second stage decides: a set the workload runs 2x faster than the
 * default wins whatever the plain products said; a failing workload
 * stores nothing and leaves the tile set in use as it was; a set only 2%
 * faster there does not displace the default. The quick tune times the
 * default and one other set, once each, default first. */
static void test_tune_workload_decides(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    glf_gemm_params best, def = glf_gemm_default_params_for(glf_ctx_family(ctx));
    struct fake_work_ w = {1.0, 0.5, 0, 0, {{0}}};
    glf_gemm_tune_opts o = {1, 0, fake_work_, &w};
    TU_OK(glf_gemm_tune_ex(ctx, &o, &best));
    assert_int_equal(w.calls, 2);
    assert_memory_equal(&w.seen[0], &def, sizeof def);
    assert_memory_not_equal(&w.seen[1], &def, sizeof def);
    assert_memory_equal(&best, &w.seen[1], sizeof best);
    stored_is_(ctx, &best);
    glf_gemm_params in_use = glf_gemm_get_params(ctx);
    assert_memory_equal(&in_use, &best, sizeof best);

    struct fake_work_ bad = {1.0, 0.5, 0, 1, {{0}}}; /* fails on the default */
    glf_gemm_params other;
    o.user = &bad;
    tu_expect_status(glf_gemm_tune_ex(ctx, &o, &other), GLF_ERR_IO,
                     "fake workload", "call 1");
    stored_is_(ctx, &best);
    in_use = glf_gemm_get_params(ctx);
    assert_memory_equal(&in_use, &best, sizeof best);
    product_ok_(ctx);

    struct fake_work_ close = {1.0, 0.98, 0, 0, {{0}}};
    o.user = &close;
    TU_OK(glf_gemm_tune_ex(ctx, &o, &best));
    assert_int_equal(close.calls, 2);
    assert_memory_equal(&best, &def, sizeof best);
    stored_is_(ctx, &def);
    in_use = glf_gemm_get_params(ctx);
    assert_memory_equal(&in_use, &def, sizeof def);
    product_ok_(ctx);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tune_stores_and_reuses),
        cmocka_unit_test(test_bad_stored_set_is_not_used),
        cmocka_unit_test(test_tune_workload_decides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
