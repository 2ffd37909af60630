/* Deterministic reductions vs the double reference: sum_rows (accumulate 0
 * and 1), sum_all at sizes 1, 2, 1000, both sides of the direct/two-level
 * switch, 100003 and a GLF loss size; axpby incl. b = 0 over NaN and in
 * place. Offsets, NaN-filled outputs, guards, and identical bits twice. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_norm.h"
#include "ref_norm.h"

static double *f64_(const float *a, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

static void sum_rows_case_(glf_ctx *ctx, int M, int N, int accumulate, uint64_t seed)
{
    size_t n = (size_t)M * N;
    const size_t ioff = 7, ooff = 2;
    float *in = tu_rand(n + ioff, seed, -1.0f, 1.0f);
    float *out0 = tu_rand(N + ooff, seed + 1, -2.0f, 2.0f);
    if (!accumulate)
        for (int j = 0; j < N; j++)
            out0[ooff + j] = tu_sentinel();
    double *ind = f64_(in + ioff, n), *want = malloc(N * sizeof *want);
    ref_sum_rows(want, ind, M, N);
    if (accumulate)
        for (int j = 0; j < N; j++)
            want[j] += out0[ooff + j];
    cl_mem dIn = tu_buf_from(ctx, in, n + ioff), dOut = tu_buf_from(ctx, out0, N + ooff);
    cl_mem dOut2 = tu_buf_from(ctx, out0, N + ooff);
    TU_OK(glf_sum_rows(ctx, glf_dp(dOut, ooff), glf_dp(dIn, ioff), M, N, accumulate));
    TU_OK(glf_sum_rows(ctx, glf_dp(dOut2, ooff), glf_dp(dIn, ioff), M, N, accumulate));
    float *got = tu_read(ctx, dOut, N + ooff), *got2 = tu_read(ctx, dOut2, N + ooff);
    char what[64];
    snprintf(what, sizeof what, "sum_rows %dx%d acc %d", M, N, accumulate);
    assert_int_equal(tu_compare(what, got + ooff, want, N, 1e-6 * M, 1e-5), 0);
    assert_memory_equal(got, out0, ooff * sizeof(float)); /* before out: untouched */
    assert_memory_equal(got, got2, (N + ooff) * sizeof(float));
    tu_check_guard(ctx, dOut, N + ooff, what);
    free(in), free(out0), free(ind), free(want), free(got), free(got2);
    glf_buf_release(dIn), glf_buf_release(dOut), glf_buf_release(dOut2);
}

static void test_sum_rows(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int shapes[][2] = {{1, 1}, {1, 7}, {3, 5}, {3, 1}, {256, 1000}, {1000, 3}, {256, 20}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int acc = 0; acc < 2; acc++)
            sum_rows_case_(ctx, shapes[s][0], shapes[s][1], acc, 10 * s + acc);
    glf_ctx_destroy(ctx);
}

static float sum_all_once_(glf_ctx *ctx, cl_mem dIn, size_t ioff, size_t n)
{
    const size_t ooff = 2;
    size_t nw = glf_sum_all_workspace(n);
    cl_mem dOut = tu_buf_nan(ctx, 1 + ooff), dW = nw ? tu_buf_nan(ctx, nw) : NULL;
    TU_OK(glf_sum_all(ctx, glf_dp(dOut, ooff), glf_dp(dIn, ioff), n, glf_dp(dW, 0)));
    float *o = tu_read(ctx, dOut, 1 + ooff);
    assert_true(isnan(o[0]) && isnan(o[1]));
    float r = o[ooff];
    tu_check_guard(ctx, dOut, 1 + ooff, "sum_all out");
    if (dW)
        tu_check_guard(ctx, dW, nw, "sum_all work");
    free(o);
    glf_buf_release(dOut), glf_buf_release(dW);
    return r;
}

static void test_sum_all(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* 2048 is the largest direct sum, 2049 the smallest two-level one;
     * 200704 = 256 * 784, an MNIST batch of pixels. */
    const size_t sizes[] = {1, 2, 1000, 2048, 2049, 100003, 200704};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], ioff = 5;
        float *in = tu_rand(n + ioff, 900 + s, -1.0f, 3.0f);
        double *ind = f64_(in + ioff, n), abs_sum = 0;
        for (size_t i = 0; i < n; i++)
            abs_sum += fabs(ind[i]);
        double want = ref_sum_all(ind, n);
        cl_mem dIn = tu_buf_from(ctx, in, n + ioff);
        float a = sum_all_once_(ctx, dIn, ioff, n), b = sum_all_once_(ctx, dIn, ioff, n);
        char what[64];
        snprintf(what, sizeof what, "sum_all n=%zu", n);
        assert_int_equal(tu_compare(what, &a, &want, 1, 1e-6 * abs_sum, 0), 0);
        assert_memory_equal(&a, &b, sizeof a);
        free(in), free(ind);
        glf_buf_release(dIn);
    }
    glf_ctx_destroy(ctx);
}

static void test_axpby(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const size_t sizes[] = {1, 3, 1000, 100003};
    const float ab[][2] = {{1.0f, 1.0f}, {0.5f, -2.0f}, {3.0f, 0.0f}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t k = 0; k < 3; k++) {
            size_t n = sizes[s];
            float a = ab[k][0], b = ab[k][1];
            float *x = tu_rand(n, 50 + s, -1, 1), *y0 = tu_rand(n, 60 + s, -1, 1);
            if (b == 0.0f)
                for (size_t i = 0; i < n; i++)
                    y0[i] = tu_sentinel(); /* b = 0: old y must not leak */
            double *xd = f64_(x, n), *want = f64_(y0, n);
            ref_axpby(want, xd, n, a, b);
            cl_mem dX = tu_buf_from(ctx, x, n), dY = tu_buf_from(ctx, y0, n);
            TU_OK(glf_axpby(ctx, glf_dp(dY, 0), glf_dp(dX, 0), n, a, b));
            float *got = tu_read(ctx, dY, n);
            char what[64];
            snprintf(what, sizeof what, "axpby n=%zu a=%g b=%g", n, (double)a, (double)b);
            assert_int_equal(tu_compare(what, got, want, n, 1e-6, 1e-6), 0);
            tu_check_guard(ctx, dY, n, what);
            /* In place: x = a*x + b*x. */
            TU_OK(glf_axpby(ctx, glf_dp(dX, 0), glf_dp(dX, 0), n, a, b));
            float *xi = tu_read(ctx, dX, n);
            for (size_t i = 0; i < n; i++)
                want[i] = (double)a * x[i] + (double)b * x[i];
            assert_int_equal(tu_compare("axpby in place", xi, want, n, 1e-6, 1e-6), 0);
            free(x), free(y0), free(xd), free(want), free(got), free(xi);
            glf_buf_release(dX), glf_buf_release(dY);
        }
    glf_ctx_destroy(ctx);
}

static void test_reduce_invalid(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem b = tu_buf_nan(ctx, 4096);
    glf_dptr none = {NULL, 0};
    assert_int_equal(glf_sum_rows(ctx, glf_dp(b, 0), glf_dp(b, 8), 0, 3, 0), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_sum_rows(ctx, glf_dp(b, 0), glf_dp(b, 8), 2, 3, 5), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_sum_all(ctx, glf_dp(b, 0), glf_dp(b, 8), 0, none), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_sum_all(ctx, glf_dp(b, 0), glf_dp(b, 8), 4000, none), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "workspace"));
    assert_int_equal(glf_axpby(ctx, glf_dp(b, 1), glf_dp(b, 0), 4, 1, 1), GLF_ERR_INVALID_ARG);
    glf_buf_release(b);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_rows),
        cmocka_unit_test(test_sum_all),
        cmocka_unit_test(test_axpby),
        cmocka_unit_test(test_reduce_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
