/* Softmax cross-entropy and row argmax (cl/xent.cl) vs the double reference
 * (tests/ref_xent.c): odd shapes with batch 1 and 3, offsets, NaN-filled
 * outputs with guards, huge logits, bad labels, in-place gradient, bitwise
 * repeatability, finite differences on the reference, PyTorch golden values. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_xent.h"
#include "ref_xent.h"

static double *to_f64_(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

static cl_mem labels_buf_(glf_ctx *ctx, const int *y, int B)
{
    cl_mem b;
    TU_OK(glf_buf_create(ctx, (size_t)B * sizeof(cl_int), &b));
    TU_OK(glf_buf_write(ctx, b, 0, (size_t)B * sizeof(cl_int), y));
    return b;
}

static int *rand_labels_(int B, int K, uint64_t seed)
{
    glf_rng r;
    glf_rng_init(&r, seed, 99);
    int *y = malloc((size_t)B * sizeof *y);
    assert_non_null(y);
    for (int b = 0; b < B; b++)
        y[b] = (int)glf_rng_below(&r, (uint64_t)K);
    return y;
}

/* Runs the op with logits at offset 5, dlogits at 3, loss at 2, work at 7 (or
 * in place when inplace != 0); returns the loss and fills dx (B*K) if given. */
static float run_xent_(glf_ctx *ctx, const float *x, const int *y, int B, int K, int want_dx,
                       int inplace, float *dx, const char *what)
{
    size_t n = (size_t)B * K;
    const size_t ox = 5, od = 3, ol = 2, ow = 7;
    float *hx = malloc((ox + n) * sizeof *hx);
    assert_non_null(hx);
    for (size_t i = 0; i < ox; i++)
        hx[i] = tu_sentinel();
    memcpy(hx + ox, x, n * sizeof *x);
    cl_mem dX = tu_buf_from(ctx, hx, ox + n);
    cl_mem dD = inplace ? dX : tu_buf_nan(ctx, od + n);
    cl_mem dL = tu_buf_nan(ctx, ol + 1);
    cl_mem dW = tu_buf_nan(ctx, ow + glf_softmax_xent_workspace(B, K));
    cl_mem dY = labels_buf_(ctx, y, B);
    glf_dptr dl = want_dx ? glf_dp(dD, inplace ? ox : od) : glf_dp(NULL, 0);
    TU_OK(glf_softmax_xent(ctx, glf_dp(dL, ol), dl, glf_dp(dX, ox), dY, B, K, glf_dp(dW, ow)));
    float *L = tu_read(ctx, dL, ol + 1);
    float loss = L[ol];
    for (size_t i = 0; i < ol; i++)
        assert_true(isnan(L[i])); /* prefix before the offset untouched */
    tu_check_guard(ctx, dL, ol + 1, what);
    tu_check_guard(ctx, dW, ow + (size_t)B, what);
    if (want_dx) {
        size_t o = inplace ? ox : od;
        float *D = tu_read(ctx, dD, o + n);
        memcpy(dx, D + o, n * sizeof *dx);
        tu_check_guard(ctx, dD, o + n, what);
        free(D);
    } else {
        float *D = tu_read(ctx, dD, od + n); /* skipped gradient: buffer untouched */
        for (size_t i = 0; i < od + n; i++)
            assert_true(isnan(D[i]));
        free(D);
    }
    free(hx), free(L);
    glf_buf_release(dX), glf_buf_release(dL), glf_buf_release(dW), glf_buf_release(dY);
    if (!inplace)
        glf_buf_release(dD);
    return loss;
}

static void check_case_(glf_ctx *ctx, int B, int K, float scale, int inplace)
{
    size_t n = (size_t)B * K;
    char what[128];
    snprintf(what, sizeof what, "xent B=%d K=%d scale %g%s", B, K, (double)scale,
             inplace ? " in place" : "");
    float *x = tu_rand(n, (uint64_t)(B * 1000 + K), -scale, scale);
    int *y = rand_labels_(B, K, (uint64_t)(B + K));
    double *xd = to_f64_(x, n);
    double *want_dx = malloc(n * sizeof *want_dx);
    double want = ref_softmax_xent(want_dx, xd, y, B, K);
    float *dx = malloc(n * sizeof *dx);
    float loss = run_xent_(ctx, x, y, B, K, 1, inplace, dx, what);
    /* Row losses carry the float rounding of logits of size `scale`. */
    double tol_l = 1e-6 * (1.0 + fabs(want)) + 2e-7 * scale;
    if (!(fabs(loss - want) <= tol_l))
        fail_msg("%s: loss %.9g, want %.9g (tol %.3g)", what, (double)loss, want, tol_l);
    assert_int_equal(tu_compare(what, dx, want_dx, n, 1e-7, 1e-5), 0);
    /* Without the gradient: the same loss bits. */
    float loss2 = run_xent_(ctx, x, y, B, K, 0, 0, NULL, what);
    assert_memory_equal(&loss, &loss2, sizeof loss);
    free(x), free(y), free(xd), free(want_dx), free(dx);
}

static void test_reference_finite_differences(void **state)
{
    (void)state;
    const int shapes[][2] = {{1, 1}, {1, 10}, {3, 7}, {5, 13}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int B = shapes[s][0], K = shapes[s][1];
        size_t n = (size_t)B * K;
        double *x = tu_rand_f64(n, 17 + s, -3, 3);
        int *y = rand_labels_(B, K, 5 + s);
        double *g = malloc(n * sizeof *g);
        ref_softmax_xent(g, x, y, B, K);
        for (size_t i = 0; i < n; i++) {
            const double h = 1e-5, x0 = x[i];
            x[i] = x0 + h;
            double lp = ref_softmax_xent(NULL, x, y, B, K);
            x[i] = x0 - h;
            double lm = ref_softmax_xent(NULL, x, y, B, K);
            x[i] = x0;
            double fd = (lp - lm) / (2 * h);
            if (!(fabs(fd - g[i]) <= 1e-8 + 1e-6 * fabs(g[i])))
                fail_msg("B=%d K=%d element %zu: finite difference %.12g vs gradient %.12g", B,
                         K, i, fd, g[i]);
        }
        free(x), free(y), free(g);
    }
}

static void test_kernel_vs_reference(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int shapes[][2] = {{1, 1}, {1, 10}, {3, 10}, {3, 1}, {37, 13}, {129, 10}, {17, 1001}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        check_case_(ctx, shapes[s][0], shapes[s][1], 5.0f, 0);
        check_case_(ctx, shapes[s][0], shapes[s][1], 5.0f, 1);
    }
    /* Logits in the thousands: a naive exp overflows; log-sum-exp does not. */
    check_case_(ctx, 3, 10, 3000.0f, 0);
    check_case_(ctx, 41, 7, 80.0f, 0);
    glf_ctx_destroy(ctx);
}

static void test_pytorch_golden(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* torch.nn.functional.cross_entropy(x, y) and x.grad, PyTorch 1.13, float32. */
    const float x[12] = {1.5f, -2.0f, 0.25f, 3.0f, 100.0f, -50.0f, 99.0f, 0.0f, 0, 0, 0, 0};
    const int y[3] = {3, 2, 1};
    const double want = 0.9857121109962463;
    const double want_dx[12] = {0.057487212121486664, 0.001735963742248714,
                                0.01647036150097847,  -0.0756935328245163,
                                0.24368619918823242,  0.0,
                                -0.24368619918823242, 8.407790785948902e-45,
                                0.0833333358168602,   -0.25,
                                0.0833333358168602,   0.0833333358168602};
    float dx[12];
    float loss = run_xent_(ctx, x, y, 3, 4, 1, 0, dx, "golden");
    assert_true(fabs(loss - want) <= 1e-6);
    assert_int_equal(tu_compare("golden dx", dx, want_dx, 12, 1e-7, 1e-6), 0);
    glf_ctx_destroy(ctx);
}

static void test_bad_label_gives_nan(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    float *x = tu_rand(3 * 10, 3, -1, 1);
    const int bad[2][3] = {{1, 10, 2}, {-1, 0, 0}};
    for (int c = 0; c < 2; c++) {
        float dx[30];
        float loss = run_xent_(ctx, x, bad[c], 3, 10, 1, 0, dx, "bad label");
        assert_true(isnan(loss));
        int row = c == 0 ? 1 : 0;
        for (int k = 0; k < 10; k++)
            assert_true(isnan(dx[row * 10 + k]));
    }
    free(x);
    /* Sizes are checked before anything is enqueued. */
    cl_mem m = tu_buf_nan(ctx, 4);
    assert_int_equal(glf_softmax_xent(ctx, glf_dp(m, 0), glf_dp(NULL, 0), glf_dp(m, 0), m, 0, 4,
                                      glf_dp(m, 0)),
                     GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "B = 0"));
    assert_int_equal(glf_argmax_rows(ctx, m, 0, glf_dp(m, 0), 2, 0), GLF_ERR_INVALID_ARG);
    glf_buf_release(m);
    glf_ctx_destroy(ctx);
}

static void test_repeatable_bits(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int B = 257, K = 10;
    float *x = tu_rand((size_t)B * K, 8, -4, 4);
    int *y = rand_labels_(B, K, 8);
    float *d1 = malloc((size_t)B * K * sizeof *d1), *d2 = malloc((size_t)B * K * sizeof *d2);
    float l1 = run_xent_(ctx, x, y, B, K, 1, 0, d1, "run 1");
    float l2 = run_xent_(ctx, x, y, B, K, 1, 0, d2, "run 2");
    assert_memory_equal(&l1, &l2, sizeof l1);
    assert_memory_equal(d1, d2, (size_t)B * K * sizeof *d1);
    free(x), free(y), free(d1), free(d2);
    glf_ctx_destroy(ctx);
}

static void check_argmax_(glf_ctx *ctx, const float *x, int B, int K, const char *what)
{
    const size_t po = 3, xo = 2;
    float *hx = malloc((xo + (size_t)B * K) * sizeof *hx);
    assert_non_null(hx);
    hx[0] = hx[1] = 0.0f;
    memcpy(hx + xo, x, (size_t)B * K * sizeof *x);
    cl_mem dX = tu_buf_from(ctx, hx, xo + (size_t)B * K);
    cl_mem dP = tu_buf_nan(ctx, po + (size_t)B); /* cl_int and float share a size */
    TU_OK(glf_argmax_rows(ctx, dP, po, glf_dp(dX, xo), B, K));
    int *got = malloc((po + (size_t)B) * sizeof *got), *want = malloc((size_t)B * sizeof *want);
    TU_OK(glf_buf_read(ctx, dP, 0, (po + (size_t)B) * sizeof(int), got));
    tu_check_guard(ctx, dP, po + (size_t)B, what);
    for (size_t i = 0; i < po; i++)
        assert_int_equal((unsigned)got[i], TU_SENTINEL_BITS);
    ref_argmax_rows(want, x, B, K);
    for (int b = 0; b < B; b++)
        if (got[po + b] != want[b])
            fail_msg("%s: row %d argmax %d, want %d", what, b, got[po + b], want[b]);
    assert_int_equal(glf_count_correct(got + po, want, (size_t)B), (size_t)B);
    free(hx), free(got), free(want);
    glf_buf_release(dX), glf_buf_release(dP);
}

static void test_argmax(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* torch.argmax golden: ties -> first, NaN wins (first NaN). Result [1, 0, 1]. */
    const float g[9] = {1, 3, 3, NAN, 5, NAN, 2, NAN, 9};
    check_argmax_(ctx, g, 3, 3, "argmax golden");
    int gp[3];
    ref_argmax_rows(gp, g, 3, 3);
    assert_int_equal(gp[0], 1), assert_int_equal(gp[1], 0), assert_int_equal(gp[2], 1);
    const int shapes[][2] = {{1, 1}, {1, 10}, {3, 10}, {53, 7}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int B = shapes[s][0], K = shapes[s][1];
        float *x = tu_rand((size_t)B * K, 40 + s, 0, 4);
        for (size_t i = 0; i < (size_t)B * K; i++)
            x[i] = floorf(x[i]); /* many ties */
        check_argmax_(ctx, x, B, K, "argmax ties");
        free(x);
    }
    const int p[4] = {1, 2, 3, 4}, l[4] = {1, 0, 3, 5};
    assert_int_equal(glf_count_correct(p, l, 4), 2);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_finite_differences),
        cmocka_unit_test(test_kernel_vs_reference),
        cmocka_unit_test(test_pytorch_golden),
        cmocka_unit_test(test_bad_label_gives_nan),
        cmocka_unit_test(test_repeatable_bits),
        cmocka_unit_test(test_argmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
