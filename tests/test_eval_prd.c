/* Improved precision/recall (host/eval/prd.c) with device-GEMM distances:
 * k-NN radii on a grid with known answers, identical sets -> 1/1, disjoint
 * far clusters -> 0/0, a constructed partial overlap with a known answer,
 * block sizes that do not divide the sets, repeatability, bad input. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/eval.h"

static float *gauss_(size_t n, int d, uint64_t seed, double shift)
{
    glf_rng r;
    glf_rng_init(&r, seed, 2);
    float *x = malloc(n * (size_t)d * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n * (size_t)d; i++)
        x[i] = (float)(shift + glf_rng_normal(&r));
    return x;
}

/* Two orthonormal directions e, f in R^d (fixed, not axis-aligned). */
static void directions_(int d, double *e, double *f)
{
    double ne = 0, nf = 0, dot = 0;
    for (int i = 0; i < d; i++) {
        e[i] = 1.0 + 0.1 * i;
        f[i] = (i % 2 ? 1.0 : -1.0) * (1.0 + 0.05 * i);
        ne += e[i] * e[i];
    }
    for (int i = 0; i < d; i++) {
        e[i] /= sqrt(ne);
        dot += e[i] * f[i];
    }
    for (int i = 0; i < d; i++) {
        f[i] -= dot * e[i];
        nf += f[i] * f[i];
    }
    for (int i = 0; i < d; i++)
        f[i] /= sqrt(nf);
}

/* Point s*e + t*f into row i of x. */
static void put_(float *x, size_t i, int d, const double *e, const double *f, double s,
                 double t)
{
    for (int j = 0; j < d; j++)
        x[i * d + j] = (float)(s * e[j] + t * f[j] + 7.0); /* offset: centring must cope */
}

static void test_knn_radii_grid(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* Points 0, 1, ..., n-1 on a line: the 3rd nearest other point is 2 away
     * inside, 3 away at both ends (squared: 4 and 9). */
    const int d = 16;
    const size_t n = 101;
    double e[16], f[16];
    directions_(d, e, f);
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++)
        put_(x, i, d, e, f, (double)i, 0);
    double *r = malloc(n * sizeof *r);
    const size_t blocks[] = {0, 1, 7, 100};
    for (size_t b = 0; b < 4; b++) {
        for (size_t i = 0; i < n; i++)
            r[i] = NAN;
        TU_OK(glf_knn_radii(ctx, x, n, d, 3, blocks[b], r));
        for (size_t i = 0; i < n; i++) {
            double want = (i == 0 || i == n - 1) ? 9.0 : 4.0;
            if (!(fabs(r[i] - want) <= 0.01))
                fail_msg("block %zu: radius^2 of point %zu is %g, want %g", blocks[b], i, r[i],
                         want);
        }
    }
    /* k = 1 with duplicated points: the duplicate is the nearest (distance 0). */
    for (size_t i = 0; i < n; i++)
        put_(x, i, d, e, f, (double)(i / 2), 0);
    TU_OK(glf_knn_radii(ctx, x, n - 1, d, 1, 13, r));
    for (size_t i = 0; i < n - 1; i++)
        if (!(r[i] <= 1e-3))
            fail_msg("duplicate pair: radius^2 of point %zu is %g, want 0", i, r[i]);
    free(x), free(r);
    glf_ctx_destroy(ctx);
}

static glf_prd prd_(glf_ctx *ctx, const float *real, size_t nr, const float *fake, size_t nf,
                    int d, size_t block)
{
    glf_prd p;
    memset(&p, 0xff, sizeof p);
    TU_OK(glf_prd_compute(ctx, real, nr, fake, nf, d, 3, block, &p));
    assert_int_equal(p.k, 3);
    assert_int_equal(p.n_real, nr), assert_int_equal(p.n_fake, nf);
    return p;
}

static void test_identical_and_disjoint(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int d = 128;
    const size_t n = 301;
    float *real = gauss_(n, d, 1, 0.0), *far = gauss_(n - 24, d, 2, 50.0);
    const size_t blocks[] = {0, 7};
    for (int b = 0; b < 2; b++) {
        glf_prd p = prd_(ctx, real, n, real, n, d, blocks[b]);
        if (p.precision != 1.0 || p.recall != 1.0)
            fail_msg("identical sets: precision %g recall %g, want 1 and 1", p.precision,
                     p.recall);
        p = prd_(ctx, real, n, far, n - 24, d, blocks[b]);
        if (p.precision != 0.0 || p.recall != 0.0)
            fail_msg("disjoint clusters: precision %g recall %g, want 0 and 0", p.precision,
                     p.recall);
    }
    free(real), free(far);
    glf_ctx_destroy(ctx);
}

static void test_partial_overlap(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* Real: 101 points at 0, 1, ..., 100 on a line (radii 2, ends 3).
     * Fake: 40 points at 0.5, 1.5, ..., 39.5 (radii 2, ends 3) and 23 points
     * 100 away across the line. Each near fake lies 0.5 from a real point:
     * inside; far ones are not: precision = 40/63. Real points 0..39 lie 0.5
     * from a fake; 40, 41, 42 lie 0.5, 1.5, 2.5 from the last fake (radius 3);
     * 43 is 3.5 away: recall = 43/101. No distance is near a ball's edge. */
    const int d = 16;
    const size_t nr = 101, nnear = 40, nfar = 23, nf = nnear + nfar;
    double e[16], f[16];
    directions_(d, e, f);
    float *real = malloc(nr * d * sizeof *real), *fake = malloc(nf * d * sizeof *fake);
    for (size_t i = 0; i < nr; i++)
        put_(real, i, d, e, f, (double)i, 0);
    for (size_t i = 0; i < nnear; i++)
        put_(fake, i, d, e, f, i + 0.5, 0);
    for (size_t i = 0; i < nfar; i++)
        put_(fake, nnear + i, d, e, f, (double)i, 100);
    const size_t blocks[] = {0, 1, 11};
    for (int b = 0; b < 3; b++) {
        glf_prd p = prd_(ctx, real, nr, fake, nf, d, blocks[b]);
        if (p.precision != 40.0 / 63.0 || p.recall != 43.0 / 101.0)
            fail_msg("partial overlap, block %zu: precision %.6f recall %.6f, want %.6f and "
                     "%.6f", blocks[b], p.precision, p.recall, 40.0 / 63.0, 43.0 / 101.0);
    }
    /* Swapping the roles swaps the answers' meaning: real<->fake. */
    glf_prd q = prd_(ctx, fake, nf, real, nr, d, 0);
    if (q.precision != 43.0 / 101.0 || q.recall != 40.0 / 63.0)
        fail_msg("swapped: precision %.6f recall %.6f", q.precision, q.recall);
    free(real), free(fake);
    glf_ctx_destroy(ctx);
}

static void test_repeatable_and_bad_input(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int d = 128;
    float *a = gauss_(257, d, 3, 0.0), *b = gauss_(199, d, 4, 0.3);
    glf_prd p1 = prd_(ctx, a, 257, b, 199, d, 0), p2 = prd_(ctx, a, 257, b, 199, d, 0);
    assert_memory_equal(&p1.precision, &p2.precision, sizeof p1.precision);
    assert_memory_equal(&p1.recall, &p2.recall, sizeof p1.recall);
    assert_true(p1.precision > 0.0 && p1.precision < 1.0);
    assert_true(p1.recall > 0.0 && p1.recall < 1.0);
    glf_prd p;
    assert_int_equal(glf_prd_compute(ctx, a, 3, b, 199, d, 3, 0, &p), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "real set"));
    a[5 * d + 9] = NAN;
    assert_int_equal(glf_prd_compute(ctx, a, 257, b, 199, d, 3, 0, &p), GLF_ERR_NUMERIC);
    assert_non_null(strstr(glf_last_error(), "row 5"));
    double r[4];
    assert_int_equal(glf_knn_radii(ctx, b, 4, d, 0, 0, r), GLF_ERR_INVALID_ARG);
    free(a), free(b);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_radii_grid),
        cmocka_unit_test(test_identical_and_disjoint),
        cmocka_unit_test(test_partial_overlap),
        cmocka_unit_test(test_repeatable_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
