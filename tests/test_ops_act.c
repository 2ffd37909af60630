/* Activation kernels vs the double reference: forward and backward for every
 * glf_act at odd sizes with offsets, NaN-filled outputs and guards; in place
 * (same bits); ReLU from its output only; NaN through ReLU as torch.relu;
 * bitwise repeatability; central finite differences on the reference. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_norm.h"
#include "ref_norm.h"

#define NACT 6
#define OFF 3 /* every tensor starts at this float offset in its buffer */

static const size_t sizes_[] = {1, 3, 1000, 100003};

static cl_mem at_off_(glf_ctx *ctx, const float *h, size_t n)
{
    float *t = malloc((n + OFF) * sizeof *t);
    assert_non_null(t);
    for (int i = 0; i < OFF; i++)
        t[i] = tu_sentinel();
    if (h)
        memcpy(t + OFF, h, n * sizeof *h);
    else
        for (size_t i = 0; i < n; i++)
            t[OFF + i] = tu_sentinel();
    cl_mem b = tu_buf_from(ctx, t, n + OFF);
    free(t);
    return b;
}

/* Reads the n floats at OFF; the prefix must still hold the sentinel. */
static float *read_off_(glf_ctx *ctx, cl_mem b, size_t n, const char *what)
{
    float *t = tu_read(ctx, b, n + OFF);
    uint32_t bits;
    for (int i = 0; i < OFF; i++) {
        memcpy(&bits, &t[i], sizeof bits);
        if (bits != TU_SENTINEL_BITS)
            fail_msg("%s: float %d before the tensor was overwritten", what, i);
    }
    tu_check_guard(ctx, b, n + OFF, what);
    float *r = malloc(n * sizeof *r);
    memcpy(r, t + OFF, n * sizeof *r);
    free(t);
    return r;
}

static void act_case_(glf_ctx *ctx, glf_act a, size_t n, uint64_t seed)
{
    char what[96];
    snprintf(what, sizeof what, "%s n=%zu", glf_act_name(a), n);
    float *x = tu_rand(n, seed, -5.0f, 5.0f), *dy = tu_rand(n, seed + 1, -1.0f, 1.0f);
    if (n > 2)
        x[1] = 0.0f; /* ReLU's kink: gradient 0 there, as PyTorch */
    double *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
    for (size_t i = 0; i < n; i++) {
        y[i] = ref_act(a, x[i]);
        dx[i] = (double)dy[i] * ref_act_grad(a, x[i]);
    }
    cl_mem dX = at_off_(ctx, x, n), dY = at_off_(ctx, NULL, n), dDY = at_off_(ctx, dy, n);
    cl_mem dDX = at_off_(ctx, NULL, n);
    TU_OK(glf_act_forward(ctx, glf_dp(dY, OFF), glf_dp(dX, OFF), n, a));
    TU_OK(glf_act_backward(ctx, glf_dp(dDX, OFF), glf_dp(dDY, OFF), glf_dp(dX, OFF),
                           glf_dp(dY, OFF), n, a));
    float *gy = read_off_(ctx, dY, n, what), *gdx = read_off_(ctx, dDX, n, what);
    assert_int_equal(tu_compare("act y", gy, y, n, 1e-6, 1e-5), 0);
    assert_int_equal(tu_compare("act dx", gdx, dx, n, 1e-6, 1e-5), 0);

    /* Again out of place: same bits. */
    cl_mem dY2 = at_off_(ctx, NULL, n), dDX2 = at_off_(ctx, NULL, n);
    TU_OK(glf_act_forward(ctx, glf_dp(dY2, OFF), glf_dp(dX, OFF), n, a));
    TU_OK(glf_act_backward(ctx, glf_dp(dDX2, OFF), glf_dp(dDY, OFF), glf_dp(dX, OFF),
                           glf_dp(dY2, OFF), n, a));
    float *gy2 = read_off_(ctx, dY2, n, what), *gdx2 = read_off_(ctx, dDX2, n, what);
    assert_memory_equal(gy, gy2, n * sizeof(float));
    assert_memory_equal(gdx, gdx2, n * sizeof(float));

    /* In place: backward first (it needs x), dx over dy; then y over x. */
    glf_dptr xin = glf_dp(dX, OFF), yout = glf_dp(dY, OFF);
    if (a == GLF_ACT_RELU) /* from the output only, as after an in-place forward */
        xin.buf = NULL;
    TU_OK(glf_act_backward(ctx, glf_dp(dDY, OFF), glf_dp(dDY, OFF), xin, yout, n, a));
    TU_OK(glf_act_forward(ctx, glf_dp(dX, OFF), glf_dp(dX, OFF), n, a));
    float *ipy = read_off_(ctx, dX, n, what), *ipdx = read_off_(ctx, dDY, n, what);
    assert_memory_equal(gy, ipy, n * sizeof(float));
    assert_memory_equal(gdx, ipdx, n * sizeof(float));

    free(x), free(dy), free(y), free(dx), free(gy), free(gdx), free(gy2), free(gdx2);
    free(ipy), free(ipdx);
    glf_buf_release(dX), glf_buf_release(dY), glf_buf_release(dDY), glf_buf_release(dDX);
    glf_buf_release(dY2), glf_buf_release(dDX2);
}

static void test_act_vs_reference(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    for (int a = 0; a < NACT; a++)
        for (size_t s = 0; s < sizeof sizes_ / sizeof sizes_[0]; s++)
            act_case_(ctx, (glf_act)a, sizes_[s], 1000 * (uint64_t)a + s);
    glf_ctx_destroy(ctx);
}

/* torch.relu keeps NaN (clamp_min); its gradient there is 0 (NaN > 0 is false). */
static void test_relu_nan(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const float x[3] = {NAN, -1.0f, 2.0f}, dy[3] = {1.0f, 1.0f, 1.0f};
    cl_mem dX = tu_buf_from(ctx, x, 3), dY = tu_buf_nan(ctx, 3), dDY = tu_buf_from(ctx, dy, 3);
    cl_mem dDX = tu_buf_nan(ctx, 3);
    TU_OK(glf_act_forward(ctx, glf_dp(dY, 0), glf_dp(dX, 0), 3, GLF_ACT_RELU));
    TU_OK(glf_act_backward(ctx, glf_dp(dDX, 0), glf_dp(dDY, 0), glf_dp(dX, 0), glf_dp(dY, 0), 3,
                           GLF_ACT_RELU));
    float *y = tu_read(ctx, dY, 3), *dx = tu_read(ctx, dDX, 3);
    assert_true(isnan(y[0]));
    assert_true(y[1] == 0.0f && y[2] == 2.0f);
    assert_true(dx[0] == 0.0f && dx[1] == 0.0f && dx[2] == 1.0f);
    free(y), free(dx);
    glf_buf_release(dX), glf_buf_release(dY), glf_buf_release(dDY), glf_buf_release(dDX);
    glf_ctx_destroy(ctx);
}

/* ref_act_grad is the derivative of ref_act: central differences in double. */
static void test_act_finite_differences(void **state)
{
    (void)state;
    double *x = tu_rand_f64(200, 77, -5, 5);
    const double h = 1e-6;
    for (int a = 0; a < NACT; a++)
        for (int i = 0; i < 200; i++) {
            double v = x[i];
            if (a == GLF_ACT_RELU && fabs(v) < 1e-3)
                continue; /* not differentiable at 0 */
            double fd = (ref_act((glf_act)a, v + h) - ref_act((glf_act)a, v - h)) / (2 * h);
            double an = ref_act_grad((glf_act)a, v);
            if (fabs(fd - an) > 1e-8 + 1e-7 * fabs(an))
                fail_msg("%s'(%.9g): analytic %.12g, finite diff %.12g", glf_act_name((glf_act)a),
                         v, an, fd);
        }
    free(x);
}

static void test_act_invalid(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem b = tu_buf_nan(ctx, 16);
    glf_dptr none = {NULL, 0};
    assert_int_equal(glf_act_forward(ctx, glf_dp(b, 0), glf_dp(b, 0), 4, (glf_act)17),
                     GLF_ERR_INVALID_ARG);
    /* tanh's backward needs the output. */
    assert_int_equal(
        glf_act_backward(ctx, glf_dp(b, 0), glf_dp(b, 0), glf_dp(b, 4), none, 4, GLF_ACT_TANH),
        GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "output y"));
    /* Partial overlap would race. */
    assert_int_equal(glf_act_forward(ctx, glf_dp(b, 1), glf_dp(b, 0), 4, GLF_ACT_TANH),
                     GLF_ERR_INVALID_ARG);
    glf_buf_release(b);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_act_finite_differences),
        cmocka_unit_test(test_act_vs_reference),
        cmocka_unit_test(test_relu_nan),
        cmocka_unit_test(test_act_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
