/* Linear kernels vs the double reference (host/ops/ref_conv.c), as rows of
 * the op harness (tests/op_harness.h), at odd shapes and GLF's shapes:
 * NaN-filled outputs, guards after and sentinels before every tensor,
 * accumulate 0/1, skipped dx/bias, bitwise repeatability; Linear + ReLU
 * fused against the two ops; beside the table finite differences on the
 * reference and invalid arguments (buffers too small included). */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_conv.h"
#include "glf/ops_norm.h"
#include "ops/ref_conv.h"

typedef struct lin_shape_ {
    unsigned tags;
    int B, IN, OUT;
    int bias, dx;
    size_t off; /* of every tensor */
} lin_shape_;

static const lin_shape_ lin_shapes_[] = {
    /* odd */
    {OH_X2, 1, 1, 1, 1, 1, 0},
    {OH_X2, 3, 7, 5, 1, 1, 11},
    {OH_X2, 1, 13, 3, 0, 1, 0},
    {OH_X2, 3, 1, 9, 1, 0, 11},
    {OH_X2, 257, 33, 17, 1, 1, 0},
    {OH_X2, 5, 65, 129, 0, 1, 11},
    /* GLF's linears (28x28x1 preset) at batch 1 and 3: encoder, decoder, flow */
    {OH_LARGE, 1, 6272, 1024, 1, 1, 0},
    {0, 1, 1024, 20, 1, 1, 1},
    {0, 1, 20, 1024, 1, 1, 2},
    {OH_LARGE, 1, 1024, 6272, 1, 1, 3},
    {0, 1, 10, 64, 1, 1, 4},
    {0, 1, 64, 64, 1, 1, 0},
    {0, 1, 64, 10, 1, 1, 1},
    {OH_LARGE, 3, 6272, 1024, 1, 1, 0},
    {0, 3, 1024, 20, 1, 1, 3},
    {0, 3, 20, 1024, 1, 1, 1},
    {OH_LARGE, 3, 1024, 6272, 1, 1, 4},
    {0, 3, 10, 64, 1, 1, 2},
    {0, 3, 64, 64, 1, 1, 0},
    {0, 3, 64, 10, 1, 1, 3},
};

enum { X, W, BI, DY, Y, DX, DW, DB };

static void lin_describe_(const void *p, char *buf, size_t n)
{
    const lin_shape_ *s = p;
    snprintf(buf, n, "B=%d IN=%d OUT=%d bias=%d dx=%d off=%zu", s->B, s->IN, s->OUT, s->bias, s->dx,
             s->off);
}

/* fp32 sums of `red` terms of magnitude <= 1: the error grows like sqrt(red) */
static double atol_(double red)
{
    return 1e-5 * sqrt(red);
}

static void lin_setup_(oh_case *c)
{
    const lin_shape_ *s = c->shape;
    size_t nx = (size_t)s->B * s->IN, ny = (size_t)s->B * s->OUT, nw = (size_t)s->OUT * s->IN;
    size_t nb = (size_t)s->OUT, off = s->off;
    oh_in(c, X, "x", nx, off, oh_rand(c, nx, -1, 1));
    oh_in(c, W, "w", nw, off, oh_rand(c, nw, -0.5f, 0.5f));
    oh_in(c, BI, "b", nb, off, oh_rand(c, nb, -1, 1));
    oh_in(c, DY, "dy", ny, off, oh_rand(c, ny, -1, 1));
    oh_out(c, Y, "y", ny, off, atol_(s->IN), 1e-4);
    oh_out(c, DX, "dx", nx, off, atol_(s->OUT), 1e-4)->skip = !s->dx;
    oh_acc(c, DW, "dw", nw, off, NULL, atol_(s->B), 1e-4);
    oh_acc(c, DB, "db", nb, off, NULL, atol_(s->B), 1e-4)->skip = !s->bias;
}

static void lin_reference_(oh_case *c)
{
    const lin_shape_ *s = c->shape;
    if (c->accumulate) {
        oh_add_init(c, DW), oh_add_init(c, DB);
        return;
    }
    double *x = oh_f64(c, X), *w = oh_f64(c, W);
    glf_ref_linear_forward(c->t[Y].want, x, w, s->bias ? oh_f64(c, BI) : NULL, s->B, s->IN, s->OUT);
    glf_ref_linear_backward(c->t[DX].want, c->t[DW].want, c->t[DB].want, oh_f64(c, DY), x, w, s->B,
                            s->IN, s->OUT);
}

static glf_dptr bias_(const oh_case *c)
{
    return ((const lin_shape_ *)c->shape)->bias ? oh_dp(c, BI) : glf_dp(NULL, 0);
}

static glf_status lin_forward_(oh_case *c)
{
    const lin_shape_ *s = c->shape;
    return glf_linear_forward(c->ctx, oh_dp(c, Y), oh_dp(c, X), oh_dp(c, W), bias_(c), s->B, s->IN,
                              s->OUT);
}

static glf_status lin_backward_(oh_case *c)
{
    const lin_shape_ *s = c->shape;
    return glf_linear_backward(c->ctx, oh_dp(c, DX), oh_dp(c, DW), oh_dp(c, DB), oh_dp(c, DY),
                               oh_dp(c, X), oh_dp(c, W), s->B, s->IN, s->OUT, c->accumulate);
}

/* glf's own GEMM kernels: one that fails validation fails the test rather
 * than leaving the op to CLBlast. */
static glf_status glf_gemm_(oh_case *c)
{
    return glf_gemm_set_backend(c->ctx, GLF_GEMM_GLF);
}

static void test_linear(void **state)
{
    (void)state;
    const oh_row row = {.name = "linear",
                        OH_SHAPES(lin_shapes_),
                        .describe = lin_describe_,
                        .setup = lin_setup_,
                        .reference = lin_reference_,
                        .forward = lin_forward_,
                        .backward = lin_backward_,
                        .ctx_setup = glf_gemm_};
    oh_run_row(&row);
}

/* ---- Linear + ReLU fused into the GEMM's store ---------------------------------------- */

/* The reference's relu(x w^T + b), and the same bits as glf_linear_forward
 * followed by glf_act_forward. */
static const lin_shape_ relu_shapes_[] = {{OH_X2, 1, 1, 1, 1, 1, 7},
                                          {OH_X2, 3, 7, 5, 1, 1, 7},
                                          {OH_X2, 257, 33, 17, 0, 1, 7},
                                          {OH_X2, 5, 65, 129, 1, 1, 7},
                                          {OH_X2, 256, 10, 64, 1, 1, 7}};

static void relu_setup_(oh_case *c)
{
    const lin_shape_ *s = c->shape;
    size_t nx = (size_t)s->B * s->IN, ny = (size_t)s->B * s->OUT, nw = (size_t)s->OUT * s->IN;
    oh_in(c, X, "x", nx, s->off, oh_rand(c, nx, -1, 1));
    oh_in(c, W, "w", nw, s->off, oh_rand(c, nw, -0.5f, 0.5f));
    oh_in(c, BI, "b", (size_t)s->OUT, s->off, oh_rand(c, (size_t)s->OUT, -1, 1));
    oh_out(c, Y, "y", ny, s->off, atol_(s->IN), 1e-4);
}

static void relu_reference_(oh_case *c)
{
    const lin_shape_ *s = c->shape;
    double *y = c->t[Y].want;
    glf_ref_linear_forward(y, oh_f64(c, X), oh_f64(c, W), s->bias ? oh_f64(c, BI) : NULL, s->B,
                           s->IN, s->OUT);
    for (size_t k = 0; k < c->t[Y].n; k++)
        y[k] = y[k] < 0 ? 0.0 : y[k];
}

static glf_status relu_forward_(oh_case *c)
{
    const lin_shape_ *s = c->shape;
    return glf_linear_forward_act(c->ctx, oh_dp(c, Y), oh_dp(c, X), oh_dp(c, W), bias_(c), s->B,
                                  s->IN, s->OUT, 1);
}

static glf_status relu_two_ops_(oh_case *c)
{
    GLF_TRY(lin_forward_(c));
    return glf_act_forward(c->ctx, oh_dp(c, Y), oh_dp(c, Y), c->t[Y].n, GLF_ACT_RELU);
}

static void test_linear_relu(void **state)
{
    (void)state;
    const oh_row row = {.name = "linear+relu",
                        OH_SHAPES(relu_shapes_),
                        .describe = lin_describe_,
                        .setup = relu_setup_,
                        .reference = relu_reference_,
                        .forward = relu_forward_,
                        .ctx_setup = glf_gemm_,
                        .twins = {{"linear, then ReLU", relu_two_ops_, 1u << Y}}};
    oh_run_row(&row);
}

/* ---- beside the table ------------------------------------------------------------------------ */

static double loss_(const double *x, const double *w, const double *b, const double *dy, int B,
                    int IN, int OUT, double *y)
{
    glf_ref_linear_forward(y, x, w, b, B, IN, OUT);
    double l = 0;
    for (size_t i = 0; i < (size_t)B * OUT; i++)
        l += dy[i] * y[i];
    return l;
}

static void test_reference_finite_differences(void **state)
{
    (void)state;
    const int B = 3, IN = 7, OUT = 5;
    size_t n[3] = {(size_t)B * IN, (size_t)OUT * IN, (size_t)OUT};
    double *p[3], *g[3];
    for (int t = 0; t < 3; t++) {
        p[t] = tu_rand_f64(n[t], 200 + t, -1, 1);
        g[t] = malloc(n[t] * sizeof(double));
    }
    double *dy = tu_rand_f64((size_t)B * OUT, 77, -1, 1), *y = malloc(B * OUT * sizeof *y);
    glf_ref_linear_backward(g[0], g[1], g[2], dy, p[0], p[1], B, IN, OUT);
    glf_rng r;
    glf_rng_init(&r, 9, 1);
    const double h = 1e-3;
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 6; k++) {
            size_t i = glf_rng_below(&r, n[t]);
            double keep = p[t][i];
            p[t][i] = keep + h;
            double lp = loss_(p[0], p[1], p[2], dy, B, IN, OUT, y);
            p[t][i] = keep - h;
            double lm = loss_(p[0], p[1], p[2], dy, B, IN, OUT, y);
            p[t][i] = keep;
            double fd = (lp - lm) / (2 * h);
            if (fabs(fd - g[t][i]) > 1e-7 * (1 + fabs(g[t][i])))
                fail_msg("linear finite differences: tensor %d [%zu]: fd %.12g vs %.12g", t, i, fd,
                         g[t][i]);
        }
    for (int t = 0; t < 3; t++)
        free(p[t]), free(g[t]);
    free(dy), free(y);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem m = tu_buf_nan(ctx, 16);
    glf_dptr d = glf_dp(m, 0), none = glf_dp(NULL, 0);
    assert_int_equal(glf_linear_forward(ctx, d, d, d, none, 0, 2, 2), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "B=0"));
    assert_int_equal(glf_linear_forward(ctx, d, none, d, none, 2, 2, 2), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "x.buf"));
    assert_int_equal(glf_linear_backward(ctx, d, d, d, none, d, d, 2, 2, 2, 0),
                     GLF_ERR_INVALID_ARG);
    /* Buffers too small: refused by glf_gemm's checks, naming the buffer. */
    assert_int_equal(glf_linear_forward(ctx, d, d, d, none, 64, 64, 64), GLF_ERR_INVALID_ARG);
    print_message("  %s\n", glf_last_error());
    assert_non_null(strstr(glf_last_error(), "buffer holds"));
    assert_int_not_equal(glf_linear_backward(ctx, d, d, none, d, d, d, 64, 64, 64, 0), GLF_OK);
    assert_int_equal(glf_linear_forward(ctx, d, d, d, none, 2, 64, 2), GLF_ERR_INVALID_ARG);
    glf_buf_release(m);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_finite_differences),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_linear_relu),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
