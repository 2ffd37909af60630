/* Activation kernels vs the double reference, as rows of the op harness
 * (tests/op_harness.h): forward and backward for every glf_act at odd sizes
 * with offsets, NaN-filled outputs and guards, bitwise repeatability, in
 * place (same bits; ReLU's backward from its output only); beside the table
 * NaN through ReLU as torch.relu, central finite differences on the
 * reference, and invalid arguments. */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_norm.h"
#include "ref_norm.h"

#define NACT 6
#define OFF 3 /* every tensor starts at this float offset in its buffer */

typedef struct act_shape_ {
    unsigned tags;
    glf_act a;
    size_t n;
} act_shape_;

#define ACT_SIZES_(a)                                                                              \
    {OH_X2, a, 1}, {OH_X2, a, 3}, {OH_X2, a, 1000},                                                \
    {                                                                                              \
        OH_LARGE, a, 100003                                                                        \
    }
static const act_shape_ act_shapes_[] = {
    ACT_SIZES_(GLF_ACT_RELU),   ACT_SIZES_(GLF_ACT_TANH),        ACT_SIZES_(GLF_ACT_SIGMOID),
    ACT_SIZES_(GLF_ACT_OUTMAP), ACT_SIZES_(GLF_ACT_TANH_OUTMAP), ACT_SIZES_(GLF_ACT_SOFTCLAMP)};

enum { X, DY, Y, DX };

static void act_describe_(const void *p, char *buf, size_t n)
{
    const act_shape_ *s = p;
    snprintf(buf, n, "%s n=%zu", glf_act_name(s->a), s->n);
}

static void act_setup_(oh_case *c)
{
    const act_shape_ *s = c->shape;
    float *x = oh_rand(c, s->n, -5.0f, 5.0f);
    if (s->n > 2)
        x[1] = 0.0f; /* ReLU's kink: gradient 0 there, as PyTorch */
    oh_in(c, X, "x", s->n, OFF, x);
    oh_in(c, DY, "dy", s->n, OFF, oh_rand(c, s->n, -1.0f, 1.0f));
    /* tanh, exp and atan come from the driver's library, which OpenCL allows
     * 3-5 ulp (~6e-7 relative): 1e-5 relative holds on any conforming
     * driver; 1e-6 absolute covers 1 - tanh^2 near |x| = 5, where a few ulp
     * of tanh (~1) cancel. */
    oh_out(c, Y, "y", s->n, OFF, 1e-6, 1e-5);
    oh_out(c, DX, "dx", s->n, OFF, 1e-6, 1e-5);
}

static void act_reference_(oh_case *c)
{
    const act_shape_ *s = c->shape;
    for (size_t i = 0; i < s->n; i++) {
        double x = c->t[X].host[i];
        c->t[Y].want[i] = ref_act(s->a, x);
        c->t[DX].want[i] = (double)c->t[DY].host[i] * ref_act_grad(s->a, x);
    }
}

static glf_status act_forward_(oh_case *c)
{
    const act_shape_ *s = c->shape;
    return glf_act_forward(c->ctx, oh_dp(c, Y), oh_dp(c, X), s->n, s->a);
}

static glf_status act_backward_(oh_case *c)
{
    const act_shape_ *s = c->shape;
    return glf_act_backward(c->ctx, oh_dp(c, DX), oh_dp(c, DY), oh_dp(c, X), oh_dp(c, Y), s->n,
                            s->a);
}

/* y over a copy of x, then dx over a copy of dy; ReLU's backward from its
 * output only, as after an in-place forward. */
static glf_status act_in_place_(oh_case *c)
{
    const act_shape_ *s = c->shape;
    GLF_TRY(oh_copy_in(c, Y, X));
    GLF_TRY(glf_act_forward(c->ctx, oh_dp(c, Y), oh_dp(c, Y), s->n, s->a));
    GLF_TRY(oh_copy_in(c, DX, DY));
    glf_dptr x = s->a == GLF_ACT_RELU ? glf_dp(NULL, 0) : oh_dp(c, X);
    return glf_act_backward(c->ctx, oh_dp(c, DX), oh_dp(c, DX), x, oh_dp(c, Y), s->n, s->a);
}

static const oh_row act_row_ = {
    .name = "act",
    OH_SHAPES(act_shapes_),
    .describe = act_describe_,
    .setup = act_setup_,
    .reference = act_reference_,
    .forward = act_forward_,
    .backward = act_backward_,
    .twins = {{"in place", act_in_place_, 1u << Y | 1u << DX}},
};

static void test_act_vs_reference(void **state)
{
    (void)state;
    oh_run_row(&act_row_);
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
