/* Softmax cross-entropy and row argmax (cl/xent.cl) vs the double reference
 * (tests/ref_xent.c), as rows of the op harness (tests/op_harness.h): odd
 * shapes with batch 1 and 3, offsets, NaN-filled outputs with guards, huge
 * logits, bad labels, PyTorch's values, in place and without the gradient
 * (same bits), bitwise repeatability; beside the table finite differences
 * on the reference, argmax's golden rule on the reference, and invalid
 * arguments. */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_xent.h"
#include "ref_xent.h"

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

/* ---- softmax cross-entropy ------------------------------------------------------ */

enum { RANDOM, GOLDEN, BAD_HIGH, BAD_LOW };

typedef struct xent_shape_ {
    unsigned tags;
    int B, K;
    float scale; /* logits uniform in [-scale, scale) */
    int kind;
} xent_shape_;

static const xent_shape_ xent_shapes_[] = {
    {OH_X2, 1, 1, 5, RANDOM},
    {OH_X2, 1, 10, 5, RANDOM},
    {OH_X2, 3, 10, 5, RANDOM},
    {OH_X2, 3, 1, 5, RANDOM},
    {OH_X2, 37, 13, 5, RANDOM},
    {0, 129, 10, 5, RANDOM},
    {0, 17, 1001, 5, RANDOM},
    {0, 257, 10, 4, RANDOM},
    /* logits in the thousands: a naive exp overflows; log-sum-exp does not */
    {OH_X2, 3, 10, 3000, RANDOM},
    {0, 41, 7, 80, RANDOM},
    /* torch.nn.functional.cross_entropy(x, y) and x.grad, PyTorch 1.13, float32 */
    {OH_X2, 3, 4, 0, GOLDEN},
    /* a label outside [0, K): that row's loss and gradient are NaN, so the mean is */
    {OH_X2, 3, 10, 1, BAD_HIGH},
    {0, 3, 10, 1, BAD_LOW}};

enum { X, LAB, LOSS, DX, WORK };

static const float golden_x_[12] = {1.5f,  -2.0f, 0.25f, 3.0f, 100.0f, -50.0f,
                                    99.0f, 0.0f,  0,     0,    0,      0};
static const int golden_y_[3] = {3, 2, 1};
static const double golden_loss_ = 0.9857121109962463;
static const double golden_dx_[12] = {0.057487212121486664, 0.001735963742248714,
                                      0.01647036150097847,  -0.0756935328245163,
                                      0.24368619918823242,  0.0,
                                      -0.24368619918823242, 8.407790785948902e-45,
                                      0.0833333358168602,   -0.25,
                                      0.0833333358168602,   0.0833333358168602};

static void xent_describe_(const void *p, char *buf, size_t n)
{
    const xent_shape_ *s = p;
    static const char *kind[] = {"", " (PyTorch's values)", " (label K)", " (label -1)"};
    snprintf(buf, n, "B=%d K=%d scale %g%s", s->B, s->K, (double)s->scale, kind[s->kind]);
}

static void xent_setup_(oh_case *c)
{
    const xent_shape_ *s = c->shape;
    size_t n = (size_t)s->B * s->K;
    float *x = oh_rand(c, n, -s->scale, s->scale);
    int *y = oh_keep(c, rand_labels_(s->B, s->K, (uint64_t)(s->B + s->K)));
    if (s->kind == GOLDEN)
        memcpy(x, golden_x_, sizeof golden_x_), memcpy(y, golden_y_, sizeof golden_y_);
    if (s->kind == BAD_HIGH)
        y[0] = 1, y[1] = 10, y[2] = 2;
    if (s->kind == BAD_LOW)
        y[0] = -1, y[1] = 0, y[2] = 0;
    oh_in(c, X, "logits", n, 5, x);
    oh_in_i32(c, LAB, "labels", (size_t)s->B, y);
    /* loss: the tolerance is set by the reference (it scales with the value);
     * dlogits: softmax through the driver's exp (3 ulp allowed): 1e-5 relative */
    oh_out(c, LOSS, "loss", 1, 2, 0, 0);
    oh_out(c, DX, "dlogits", n, 3, 1e-7, s->kind == GOLDEN ? 1e-6 : 1e-5);
    oh_work(c, WORK, "work", glf_softmax_xent_workspace(s->B, s->K), 7);
}

static void xent_reference_(oh_case *c)
{
    const xent_shape_ *s = c->shape;
    oh_tensor *L = &c->t[LOSS];
    if (s->kind == GOLDEN) {
        L->want[0] = golden_loss_, L->atol = 1e-6;
        memcpy(c->t[DX].want, golden_dx_, sizeof golden_dx_);
        return;
    }
    L->want[0] =
        ref_softmax_xent(c->t[DX].want, oh_f64(c, X), (const int *)c->t[LAB].host, s->B, s->K);
    /* row losses carry the float rounding of logits of size `scale` */
    L->atol = 1e-6 * (1.0 + fabs(L->want[0])) + 2e-7 * s->scale;
}

static glf_status xent_run_(oh_case *c, glf_dptr dx, glf_dptr x)
{
    const xent_shape_ *s = c->shape;
    return glf_softmax_xent(c->ctx, oh_dp(c, LOSS), dx, x, oh_mem(c, LAB), s->B, s->K,
                            oh_dp(c, WORK));
}

static glf_status xent_forward_(oh_case *c)
{
    return xent_run_(c, oh_dp(c, DX), oh_dp(c, X));
}

static glf_status xent_in_place_(oh_case *c)
{
    GLF_TRY(oh_copy_in(c, DX, X));
    return xent_run_(c, oh_dp(c, DX), oh_dp(c, DX));
}

static glf_status xent_no_grad_(oh_case *c)
{
    return xent_run_(c, glf_dp(NULL, 0), oh_dp(c, X));
}

static void test_softmax_xent(void **state)
{
    (void)state;
    const oh_row row = {
        .name = "softmax_xent",
        OH_SHAPES(xent_shapes_),
        .describe = xent_describe_,
        .setup = xent_setup_,
        .reference = xent_reference_,
        .forward = xent_forward_,
        .twins = {{"in place", xent_in_place_, 1u << LOSS | 1u << DX},
                  {"without the gradient", xent_no_grad_, 1u << LOSS}},
    };
    oh_run_row(&row);
}

/* ---- argmax ----------------------------------------------------------------------- */

typedef struct argmax_shape_ {
    unsigned tags;
    int B, K;
    int golden;
} argmax_shape_;

static const argmax_shape_ argmax_shapes_[] = {
    {OH_X2, 3, 3, 1}, {OH_X2, 1, 1, 0}, {OH_X2, 1, 10, 0}, {OH_X2, 3, 10, 0}, {OH_X2, 53, 7, 0}};

/* torch.argmax golden: ties -> first, NaN wins (the first NaN): [1, 0, 1]. */
static const float argmax_golden_[9] = {1, 3, 3, NAN, 5, NAN, 2, NAN, 9};

enum { AX, APRED };

static void argmax_describe_(const void *p, char *buf, size_t n)
{
    const argmax_shape_ *s = p;
    snprintf(buf, n, "B=%d K=%d%s", s->B, s->K, s->golden ? " (ties and NaN)" : " (many ties)");
}

static void argmax_setup_(oh_case *c)
{
    const argmax_shape_ *s = c->shape;
    size_t n = (size_t)s->B * s->K;
    float *x = oh_rand(c, n, 0, 4);
    for (size_t i = 0; i < n; i++)
        x[i] = floorf(x[i]); /* many ties */
    if (s->golden)
        memcpy(x, argmax_golden_, sizeof argmax_golden_);
    oh_in(c, AX, "logits", n, 2, x);
    oh_out_i32(c, APRED, "argmax", (size_t)s->B, 3);
}

static void argmax_reference_(oh_case *c)
{
    const argmax_shape_ *s = c->shape;
    int *p = oh_keep(c, malloc((size_t)s->B * sizeof *p));
    ref_argmax_rows(p, c->t[AX].host, s->B, s->K);
    for (int b = 0; b < s->B; b++)
        c->t[APRED].want[b] = p[b];
}

static glf_status argmax_forward_(oh_case *c)
{
    const argmax_shape_ *s = c->shape;
    return glf_argmax_rows(c->ctx, oh_mem(c, APRED), c->t[APRED].off, oh_dp(c, AX), s->B, s->K);
}

/* The host-side count over what the device predicted. */
static void argmax_check_(oh_case *c)
{
    const argmax_shape_ *s = c->shape;
    int *want = oh_keep(c, malloc((size_t)s->B * sizeof *want));
    ref_argmax_rows(want, c->t[AX].host, s->B, s->K);
    if (glf_count_correct((const int *)c->t[APRED].got, want, (size_t)s->B) != (size_t)s->B)
        fail_msg("%s: glf_count_correct of the device's argmax against the reference < B",
                 c->label);
}

static void test_argmax(void **state)
{
    (void)state;
    const oh_row row = {.name = "argmax_rows",
                        OH_SHAPES(argmax_shapes_),
                        .describe = argmax_describe_,
                        .setup = argmax_setup_,
                        .reference = argmax_reference_,
                        .forward = argmax_forward_,
                        .check = argmax_check_};
    oh_run_row(&row);
}

/* ---- beside the table ----------------------------------------------------------------- */

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
                fail_msg("B=%d K=%d element %zu: finite difference %.12g vs gradient %.12g", B, K,
                         i, fd, g[i]);
        }
        free(x), free(y), free(g);
    }
}

/* The reference follows torch.argmax on its golden rows; the count. */
static void test_argmax_reference(void **state)
{
    (void)state;
    int gp[3];
    ref_argmax_rows(gp, argmax_golden_, 3, 3);
    assert_int_equal(gp[0], 1), assert_int_equal(gp[1], 0), assert_int_equal(gp[2], 1);
    const int p[4] = {1, 2, 3, 4}, l[4] = {1, 0, 3, 5};
    assert_int_equal(glf_count_correct(p, l, 4), 2);
}

/* Sizes are checked before anything is enqueued. */
static void test_invalid_arguments(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem m = tu_buf_nan(ctx, 4);
    assert_int_equal(
        glf_softmax_xent(ctx, glf_dp(m, 0), glf_dp(NULL, 0), glf_dp(m, 0), m, 0, 4, glf_dp(m, 0)),
        GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "B = 0"));
    assert_int_equal(glf_argmax_rows(ctx, m, 0, glf_dp(m, 0), 2, 0), GLF_ERR_INVALID_ARG);
    glf_buf_release(m);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_finite_differences),
        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_argmax_reference),
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
