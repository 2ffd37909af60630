/* Deterministic reductions vs the double reference, as rows of the op
 * harness (tests/op_harness.h): sum_rows (accumulate 0 and 1), sum_all at
 * sizes 1, 2, 1000, both sides of the direct/two-level switch, 100003 and a
 * GLF loss size; axpby incl. b = 0 over NaN, and in place. Offsets,
 * NaN-filled outputs, guards, identical bits twice; invalid arguments. */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_norm.h"
#include "ref_norm.h"

/* ---- sum_rows ---------------------------------------------------------------- */

typedef struct rows_shape_ {
    unsigned tags;
    int M, N;
} rows_shape_;

static const rows_shape_ rows_shapes_[] = {{OH_X2, 1, 1},   {OH_X2, 1, 7},         {OH_X2, 3, 5},
                                           {OH_X2, 3, 1},   {OH_LARGE, 256, 1000}, {OH_X2, 1000, 3},
                                           {OH_X2, 256, 20}};
enum { R_IN, R_OUT };

static void rows_describe_(const void *p, char *buf, size_t n)
{
    const rows_shape_ *s = p;
    snprintf(buf, n, "%dx%d", s->M, s->N);
}

static void rows_setup_(oh_case *c)
{
    const rows_shape_ *s = c->shape;
    size_t n = (size_t)s->M * s->N;
    oh_in(c, R_IN, "in", n, 7, oh_rand(c, n, -1.0f, 1.0f));
    /* M terms of magnitude <= 1 summed in order: the error grows with M */
    oh_acc(c, R_OUT, "out", (size_t)s->N, 2, oh_rand(c, (size_t)s->N, -2.0f, 2.0f), 1e-6 * s->M,
           1e-5);
}

static void rows_reference_(oh_case *c)
{
    const rows_shape_ *s = c->shape;
    if (c->accumulate) {
        oh_add_init(c, R_OUT);
        return;
    }
    ref_sum_rows(c->t[R_OUT].want, oh_f64(c, R_IN), s->M, s->N);
}

static glf_status rows_forward_(oh_case *c)
{
    const rows_shape_ *s = c->shape;
    return glf_sum_rows(c->ctx, oh_dp(c, R_OUT), oh_dp(c, R_IN), s->M, s->N, c->accumulate);
}

static void test_sum_rows(void **state)
{
    (void)state;
    const oh_row row = {.name = "sum_rows",
                        OH_SHAPES(rows_shapes_),
                        .describe = rows_describe_,
                        .setup = rows_setup_,
                        .reference = rows_reference_,
                        .forward = rows_forward_};
    oh_run_row(&row);
}

/* ---- sum_all ------------------------------------------------------------------ */

typedef struct all_shape_ {
    unsigned tags;
    size_t n;
} all_shape_;

/* 2048 is the largest direct sum, 2049 the smallest two-level one;
 * 200704 = 256 * 784, an MNIST batch of pixels. */
static const all_shape_ all_shapes_[] = {{OH_X2, 1},        {OH_X2, 2},    {OH_X2, 1000},
                                         {OH_X2, 2048},     {OH_X2, 2049}, {OH_LARGE, 100003},
                                         {OH_LARGE, 200704}};
enum { A_IN, A_OUT, A_WORK };

static void all_describe_(const void *p, char *buf, size_t n)
{
    snprintf(buf, n, "n=%zu", ((const all_shape_ *)p)->n);
}

static void all_setup_(oh_case *c)
{
    size_t n = ((const all_shape_ *)c->shape)->n;
    float *in = oh_rand(c, n, -1.0f, 3.0f);
    double abs_sum = 0;
    for (size_t i = 0; i < n; i++)
        abs_sum += fabs(in[i]);
    oh_in(c, A_IN, "in", n, 5, in);
    /* a fixed-order tree of n terms: rounding bounded by a few ulp of the sum of |in| */
    oh_out(c, A_OUT, "sum", 1, 2, 1e-6 * abs_sum, 0);
    oh_work(c, A_WORK, "work", glf_sum_all_workspace(n), 0);
}

static void all_reference_(oh_case *c)
{
    c->t[A_OUT].want[0] = ref_sum_all(oh_f64(c, A_IN), c->t[A_IN].n);
}

static glf_status all_forward_(oh_case *c)
{
    glf_dptr work = c->t[A_WORK].n ? oh_dp(c, A_WORK) : glf_dp(NULL, 0);
    return glf_sum_all(c->ctx, oh_dp(c, A_OUT), oh_dp(c, A_IN), c->t[A_IN].n, work);
}

static void test_sum_all(void **state)
{
    (void)state;
    const oh_row row = {.name = "sum_all",
                        OH_SHAPES(all_shapes_),
                        .describe = all_describe_,
                        .setup = all_setup_,
                        .reference = all_reference_,
                        .forward = all_forward_};
    oh_run_row(&row);
}

/* ---- axpby ---------------------------------------------------------------------- */

typedef struct axpby_shape_ {
    unsigned tags;
    size_t n;
    float a, b;
} axpby_shape_;

#define AXPBY_AB_(tags, n)                                                                         \
    {tags, n, 1.0f, 1.0f}, {tags, n, 0.5f, -2.0f},                                                 \
    {                                                                                              \
        tags, n, 3.0f, 0.0f                                                                        \
    }
static const axpby_shape_ axpby_shapes_[] = {AXPBY_AB_(OH_X2, 1), AXPBY_AB_(OH_X2, 3),
                                             AXPBY_AB_(OH_X2, 1000), AXPBY_AB_(OH_LARGE, 100003)};
enum { X, Y };

static void axpby_describe_(const void *p, char *buf, size_t n)
{
    const axpby_shape_ *s = p;
    snprintf(buf, n, "n=%zu a=%g b=%g", s->n, (double)s->a, (double)s->b);
}

static void axpby_setup_(oh_case *c)
{
    const axpby_shape_ *s = c->shape;
    float *y0 = oh_rand(c, s->n, -1, 1);
    if (s->b == 0.0f)
        for (size_t i = 0; i < s->n; i++)
            y0[i] = tu_sentinel(); /* b = 0: the old y must not leak */
    size_t odd = c->index % 2;     /* every other case at offset 0 (aligned) */
    oh_in(c, X, "x", s->n, odd * 1, oh_rand(c, s->n, -1, 1));
    /* one multiply-add per element: a few ulp */
    oh_inout(c, Y, "y", s->n, odd * 4, y0, 1e-6, 1e-6);
}

static void axpby_reference_(oh_case *c)
{
    const axpby_shape_ *s = c->shape;
    double *y = c->t[Y].want;
    for (size_t i = 0; i < s->n; i++)
        y[i] = c->t[Y].host[i];
    ref_axpby(y, oh_f64(c, X), s->n, s->a, s->b);
}

static glf_status axpby_forward_(oh_case *c)
{
    const axpby_shape_ *s = c->shape;
    return glf_axpby(c->ctx, oh_dp(c, Y), oh_dp(c, X), s->n, s->a, s->b);
}

static void test_axpby(void **state)
{
    (void)state;
    const oh_row row = {.name = "axpby",
                        OH_SHAPES(axpby_shapes_),
                        .describe = axpby_describe_,
                        .setup = axpby_setup_,
                        .reference = axpby_reference_,
                        .forward = axpby_forward_};
    oh_run_row(&row);
}

/* In place: x = a*x + b*x. */
static void axpby_ip_setup_(oh_case *c)
{
    const axpby_shape_ *s = c->shape;
    oh_inout(c, X, "x", s->n, c->index % 2 * 3, oh_rand(c, s->n, -1, 1), 1e-6, 1e-6);
}

static void axpby_ip_reference_(oh_case *c)
{
    const axpby_shape_ *s = c->shape;
    for (size_t i = 0; i < s->n; i++)
        c->t[X].want[i] = (double)s->a * c->t[X].host[i] + (double)s->b * c->t[X].host[i];
}

static glf_status axpby_ip_forward_(oh_case *c)
{
    const axpby_shape_ *s = c->shape;
    return glf_axpby(c->ctx, oh_dp(c, X), oh_dp(c, X), s->n, s->a, s->b);
}

static void test_axpby_in_place(void **state)
{
    (void)state;
    const oh_row row = {.name = "axpby in place",
                        OH_SHAPES(axpby_shapes_),
                        .describe = axpby_describe_,
                        .setup = axpby_ip_setup_,
                        .reference = axpby_ip_reference_,
                        .forward = axpby_ip_forward_};
    oh_run_row(&row);
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
        cmocka_unit_test(test_sum_rows),       cmocka_unit_test(test_sum_all),
        cmocka_unit_test(test_axpby),          cmocka_unit_test(test_axpby_in_place),
        cmocka_unit_test(test_reduce_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
