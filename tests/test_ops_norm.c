/* BatchNorm1d/2d kernels vs the double reference (tests/ref_norm.c): train
 * forward with running statistics, eval forward (also in place), backward
 * with accumulate 0 and 1 and optional dgamma/dbeta, at odd sizes with
 * offsets, NaN-filled outputs and guards; bitwise repeatability; central
 * finite differences on the reference; a hand-computed known answer. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_norm.h"
#include "ref_norm.h"

#define XOFF 5 /* x sits at this float offset in its buffer */
#define SOFF 3 /* save_mean at SOFF, save_invstd at SOFF + C */
#define MOM 0.1f
#define EPS 1e-5f

static double max_abs_(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* One forward + backward on the device; every output is read back. */
typedef struct bn_out {
    float *y, *save, *run, *dx, *grads; /* save: mean|invstd, run: rm|rv, grads: dg|db */
} bn_out;

static void bn_free_(bn_out *o)
{
    free(o->y), free(o->save), free(o->run), free(o->dx), free(o->grads);
}

/* grads0: initial dgamma|dbeta (NULL: NaN, used with accumulate 0). */
static bn_out bn_run_(glf_ctx *ctx, const float *x, const float *params, const float *run0,
                      const float *dy, const float *grads0, int accumulate, int B, int C, int L,
                      const char *what)
{
    size_t n = (size_t)B * C * L, c2 = 2 * (size_t)C;
    float *xh = malloc((n + XOFF) * sizeof *xh);
    assert_non_null(xh);
    for (int i = 0; i < XOFF; i++)
        xh[i] = -7.0f; /* must stay as is: the kernels read from offset XOFF */
    memcpy(xh + XOFF, x, n * sizeof *x);
    cl_mem dX = tu_buf_from(ctx, xh, n + XOFF), dP = tu_buf_from(ctx, params, c2);
    cl_mem dR = tu_buf_from(ctx, run0, c2), dY = tu_buf_nan(ctx, n);
    cl_mem dS = tu_buf_nan(ctx, c2 + SOFF), dDY = tu_buf_from(ctx, dy, n);
    cl_mem dDX = tu_buf_nan(ctx, n), dG = tu_buf_from(ctx, grads0, c2);
    glf_dptr gamma = glf_dp(dP, 0), beta = glf_dp(dP, C);
    glf_dptr mean = glf_dp(dS, SOFF), invstd = glf_dp(dS, SOFF + C);
    TU_OK(glf_batchnorm_forward_train(ctx, glf_dp(dY, 0), mean, invstd, glf_dp(dR, 0),
                                      glf_dp(dR, C), glf_dp(dX, XOFF), gamma, beta, B, C, L, MOM,
                                      EPS));
    TU_OK(glf_batchnorm_backward(ctx, glf_dp(dDX, 0), glf_dp(dG, 0), glf_dp(dG, C), glf_dp(dDY, 0),
                                 glf_dp(dX, XOFF), mean, invstd, gamma, B, C, L, accumulate));
    bn_out o;
    o.y = tu_read(ctx, dY, n);
    float *s = tu_read(ctx, dS, c2 + SOFF);
    o.save = malloc(c2 * sizeof(float));
    memcpy(o.save, s + SOFF, c2 * sizeof(float));
    for (int i = 0; i < SOFF; i++)
        assert_true(isnan(s[i])); /* before save_mean: untouched */
    free(s);
    o.run = tu_read(ctx, dR, c2);
    o.dx = tu_read(ctx, dDX, n);
    o.grads = tu_read(ctx, dG, c2);
    float *xb = tu_read(ctx, dX, n + XOFF);
    assert_memory_equal(xb, xh, (n + XOFF) * sizeof(float)); /* x is input only */
    free(xb);
    tu_check_guard(ctx, dY, n, what);
    tu_check_guard(ctx, dS, c2 + SOFF, what);
    tu_check_guard(ctx, dR, c2, what);
    tu_check_guard(ctx, dDX, n, what);
    tu_check_guard(ctx, dG, c2, what);
    free(xh);
    glf_buf_release(dX), glf_buf_release(dP), glf_buf_release(dR), glf_buf_release(dY);
    glf_buf_release(dS), glf_buf_release(dDY), glf_buf_release(dDX), glf_buf_release(dG);
    return o;
}

static void bn_case_(glf_ctx *ctx, int B, int C, int L, uint64_t seed)
{
    size_t n = (size_t)B * C * L, c2 = 2 * (size_t)C;
    char what[96];
    snprintf(what, sizeof what, "bn B=%d C=%d L=%d", B, C, L);
    float *x = tu_rand(n, seed, -2.0f, 3.0f);
    for (size_t i = 0; i < n; i++)
        x[i] += (float)((i / L) % C % 8) * 0.5f; /* channels with different means */
    float *params = tu_rand(c2, seed + 1, -1.5f, 1.5f);
    float *run0 = tu_rand(c2, seed + 2, 0.5f, 2.0f);
    float *dy = tu_rand(n, seed + 3, -1.0f, 1.0f);
    float *g0 = tu_rand(c2, seed + 4, -3.0f, 3.0f);

    /* Reference in double from the same float inputs. */
    double *xd = tu_f64(x, n), *pd = tu_f64(params, c2), *rd = tu_f64(run0, c2), *dyd = tu_f64(dy, n);
    double *y = malloc(n * sizeof *y), *mean = malloc(C * sizeof *mean);
    double *invstd = malloc(C * sizeof *invstd), *dx = malloc(n * sizeof *dx);
    double *grads = malloc(c2 * sizeof *grads), *save = malloc(c2 * sizeof *save);
    ref_bn_forward_train(y, mean, invstd, rd, rd + C, xd, pd, pd + C, B, C, L, MOM, EPS);
    ref_bn_backward(dx, grads, grads + C, dyd, xd, mean, invstd, pd, B, C, L);
    memcpy(save, mean, C * sizeof *save);
    memcpy(save + C, invstd, C * sizeof *save);

    bn_out o = bn_run_(ctx, x, params, run0, dy, NULL, 0, B, C, L, what);
    double npc = (double)B * L; /* values per channel: scales the sums' rounding */
    assert_int_equal(tu_compare("mean|invstd", o.save, save, c2, 1e-5, 1e-4), 0);
    assert_int_equal(tu_compare("y", o.y, y, n, 1e-5, 1e-4), 0);
    assert_int_equal(tu_compare("running mean|var", o.run, rd, c2, 1e-6, 1e-5), 0);
    assert_int_equal(tu_compare("dx", o.dx, dx, n, 1e-5 * (1 + max_abs_(dx, n)), 1e-4), 0);
    assert_int_equal(tu_compare("dgamma|dbeta", o.grads, grads, c2, 1e-6 * npc, 1e-4), 0);

    /* Same again: identical bits. Then accumulate = 1 onto g0. */
    bn_out o2 = bn_run_(ctx, x, params, run0, dy, NULL, 0, B, C, L, what);
    assert_memory_equal(o.y, o2.y, n * sizeof(float));
    assert_memory_equal(o.save, o2.save, c2 * sizeof(float));
    assert_memory_equal(o.run, o2.run, c2 * sizeof(float));
    assert_memory_equal(o.dx, o2.dx, n * sizeof(float));
    assert_memory_equal(o.grads, o2.grads, c2 * sizeof(float));
    bn_out o3 = bn_run_(ctx, x, params, run0, dy, g0, 1, B, C, L, what);
    for (size_t i = 0; i < c2; i++)
        grads[i] += g0[i];
    assert_int_equal(tu_compare("dgamma|dbeta accumulate", o3.grads, grads, c2, 1e-6 * npc, 1e-4),
                     0);
    assert_memory_equal(o.dx, o3.dx, n * sizeof(float)); /* dx never accumulates */

    bn_free_(&o), bn_free_(&o2), bn_free_(&o3);
    free(x), free(params), free(run0), free(dy), free(g0);
    free(xd), free(pd), free(rd), free(dyd), free(y), free(mean), free(invstd), free(dx);
    free(grads), free(save);
}

static void test_bn_odd_sizes(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* BatchNorm2d with one image; BatchNorm1d (L = 1) with B = 2 and 3; odd C, L.
     * Every kernel that loops over positions takes 128 per work-item (the
     * elementwise ones per chunk of 16 rows), then whole vectors, then
     * single lanes: C*L = 323 is two runs, four vectors and three lanes;
     * 153 one run, a vector, 9 lanes. B = 19 and 18: two chunks of rows,
     * the first holding the homes of dx (rows 0 and 1 when L = 1). */
    const int shapes[][3] = {{1, 5, 49},  {1, 3, 2},   {2, 5, 1},   {3, 5, 1},
                             {3, 5, 49},  {7, 17, 9},  {33, 65, 1}, {5, 3, 31},
                             {3, 19, 17}, {2, 300, 1}, {19, 9, 30}, {18, 131, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        bn_case_(ctx, shapes[s][0], shapes[s][1], shapes[s][2], 100 + s);
    glf_ctx_destroy(ctx);
}

static void test_bn_glf_sizes(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* The 28x28 model's BatchNorms at batch 256 (dec.bn2, C = 6272, is the
     * same code path as enc.bn3 and left to the benchmark). */
    bn_case_(ctx, 256, 128, 49, 7); /* enc.bn2 */
    bn_case_(ctx, 256, 64, 196, 6); /* dec.bn3 */
    bn_case_(ctx, 256, 1024, 1, 8); /* enc.bn3 / dec.bn1 */
    bn_case_(ctx, 256, 64, 1, 9);   /* flow MLP bn */
    glf_ctx_destroy(ctx);
}

/* BatchNorm + ReLU in one pass: the bits of the two ops, running statistics
 * included, at odd sizes (a partial vector at the end, one row of L = 1). */
static void test_bn_relu_fused(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int shapes[][3] = {{2, 3, 1}, {5, 7, 3}, {17, 13, 49}, {3, 64, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int B = shapes[i][0], C = shapes[i][1], L = shapes[i][2];
        size_t n = (size_t)B * C * L, off = 5;
        float *x = tu_rand(n, 40 + i, -2, 2), *g = tu_rand((size_t)C, 50 + i, 0.5f, 1.5f);
        float *be = tu_rand((size_t)C, 60 + i, -0.5f, 0.5f), *rm = tu_rand((size_t)C, 61, 0, 1);
        tu_dev X = tu_dev_new(ctx, x, n, off), G = tu_dev_new(ctx, g, (size_t)C, off);
        tu_dev Be = tu_dev_new(ctx, be, (size_t)C, off);
        tu_dev Y[2], M[2], I[2], RM[2], RV[2];
        for (int f = 0; f < 2; f++) {
            Y[f] = tu_dev_new(ctx, NULL, n, off);
            M[f] = tu_dev_new(ctx, NULL, (size_t)C, off);
            I[f] = tu_dev_new(ctx, NULL, (size_t)C, off);
            RM[f] = tu_dev_new(ctx, rm, (size_t)C, off);
            RV[f] = tu_dev_new(ctx, rm, (size_t)C, off);
        }
        TU_OK(glf_batchnorm_forward_train_act(ctx, tu_dp(Y[0]), tu_dp(M[0]), tu_dp(I[0]),
                                              tu_dp(RM[0]), tu_dp(RV[0]), tu_dp(X), tu_dp(G),
                                              tu_dp(Be), B, C, L, 0.1f, 1e-5f, 1));
        TU_OK(glf_batchnorm_forward_train(ctx, tu_dp(Y[1]), tu_dp(M[1]), tu_dp(I[1]),
                                          tu_dp(RM[1]), tu_dp(RV[1]), tu_dp(X), tu_dp(G),
                                          tu_dp(Be), B, C, L, 0.1f, 1e-5f));
        TU_OK(glf_act_forward(ctx, tu_dp(Y[1]), tu_dp(Y[1]), n, GLF_ACT_RELU));
        tu_dev *t[5][2] = {{&Y[0], &Y[1]}, {&M[0], &M[1]}, {&I[0], &I[1]}, {&RM[0], &RM[1]},
                           {&RV[0], &RV[1]}};
        for (int k = 0; k < 5; k++) {
            float *a = tu_dev_read(ctx, *t[k][0], "fused"), *b = tu_dev_read(ctx, *t[k][1], "two ops");
            size_t nn = k == 0 ? n : (size_t)C;
            if (memcmp(a, b, nn * sizeof *a) != 0)
                fail_msg("BN+ReLU B=%d C=%d L=%d: tensor %d differs from BN then ReLU", B, C, L, k);
            if (k == 0)
                for (size_t j = 0; j < nn; j++)
                    assert_true(a[j] >= 0.0f);
            free(a), free(b);
        }
        for (int f = 0; f < 2; f++) {
            glf_buf_release(Y[f].buf), glf_buf_release(M[f].buf), glf_buf_release(I[f].buf);
            glf_buf_release(RM[f].buf), glf_buf_release(RV[f].buf);
        }
        glf_buf_release(X.buf), glf_buf_release(G.buf), glf_buf_release(Be.buf);
        free(x), free(g), free(be), free(rm);
    }
    glf_ctx_destroy(ctx);
}

static void test_bn_eval(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int shapes[][3] = {{1, 5, 1}, {1, 5, 49}, {3, 5, 49}, {3, 7, 1}, {64, 33, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int B = shapes[s][0], C = shapes[s][1], L = shapes[s][2];
        size_t n = (size_t)B * C * L, c2 = 2 * (size_t)C;
        float *x = tu_rand(n, 300 + s, -2.0f, 2.0f);
        float *params = tu_rand(c2, 400 + s, -1.5f, 1.5f);
        float *run = tu_rand(c2, 500 + s, 0.1f, 2.0f);
        double *xd = tu_f64(x, n), *pd = tu_f64(params, c2), *rd = tu_f64(run, c2);
        double *y = malloc(n * sizeof *y);
        ref_bn_forward_eval(y, rd, rd + C, xd, pd, pd + C, B, C, L, EPS);
        cl_mem dX = tu_buf_from(ctx, x, n), dP = tu_buf_from(ctx, params, c2);
        cl_mem dR = tu_buf_from(ctx, run, c2), dY = tu_buf_nan(ctx, n);
        TU_OK(glf_batchnorm_forward_eval(ctx, glf_dp(dY, 0), glf_dp(dR, 0), glf_dp(dR, C),
                                         glf_dp(dX, 0), glf_dp(dP, 0), glf_dp(dP, C), B, C, L,
                                         EPS));
        float *got = tu_read(ctx, dY, n);
        assert_int_equal(tu_compare("bn eval y", got, y, n, 1e-5, 1e-5), 0);
        tu_check_guard(ctx, dY, n, "bn eval y");
        /* In place over x: the same bits. */
        TU_OK(glf_batchnorm_forward_eval(ctx, glf_dp(dX, 0), glf_dp(dR, 0), glf_dp(dR, C),
                                         glf_dp(dX, 0), glf_dp(dP, 0), glf_dp(dP, C), B, C, L,
                                         EPS));
        float *inplace = tu_read(ctx, dX, n);
        assert_memory_equal(got, inplace, n * sizeof(float));
        tu_check_guard(ctx, dX, n, "bn eval in place");
        float *r2 = tu_read(ctx, dR, c2);
        assert_memory_equal(r2, run, c2 * sizeof(float)); /* eval leaves stats alone */
        free(x), free(params), free(run), free(xd), free(pd), free(rd), free(y), free(got);
        free(inplace), free(r2);
        glf_buf_release(dX), glf_buf_release(dP), glf_buf_release(dR), glf_buf_release(dY);
    }
    glf_ctx_destroy(ctx);
}

/* dgamma, dbeta not wanted: dx is still right and nothing else is written. */
static void test_bn_optional_grads(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    int B = 3, C = 5, L = 7;
    size_t n = (size_t)B * C * L;
    float *x = tu_rand(n, 11, -1, 1), *dy = tu_rand(n, 12, -1, 1), *p = tu_rand(2 * C, 13, -1, 1);
    cl_mem dX = tu_buf_from(ctx, x, n), dDY = tu_buf_from(ctx, dy, n);
    cl_mem dP = tu_buf_from(ctx, p, 2 * C), dS = tu_buf_nan(ctx, 2 * C);
    cl_mem dY = tu_buf_nan(ctx, n), dDX = tu_buf_nan(ctx, n), dDX2 = tu_buf_nan(ctx, n);
    cl_mem dG = tu_buf_nan(ctx, 2 * C);
    glf_dptr none = {NULL, 0};
    TU_OK(glf_batchnorm_forward_train(ctx, glf_dp(dY, 0), glf_dp(dS, 0), glf_dp(dS, C), none, none,
                                      glf_dp(dX, 0), glf_dp(dP, 0), glf_dp(dP, C), B, C, L, MOM,
                                      EPS));
    TU_OK(glf_batchnorm_backward(ctx, glf_dp(dDX, 0), none, none, glf_dp(dDY, 0), glf_dp(dX, 0),
                                 glf_dp(dS, 0), glf_dp(dS, C), glf_dp(dP, 0), B, C, L, 0));
    TU_OK(glf_batchnorm_backward(ctx, glf_dp(dDX2, 0), glf_dp(dG, 0), glf_dp(dG, C), glf_dp(dDY, 0),
                                 glf_dp(dX, 0), glf_dp(dS, 0), glf_dp(dS, C), glf_dp(dP, 0), B, C,
                                 L, 0));
    float *a = tu_read(ctx, dDX, n), *b = tu_read(ctx, dDX2, n);
    assert_memory_equal(a, b, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        assert_false(isnan(a[i]));
    tu_check_guard(ctx, dDX, n, "dx without dgamma/dbeta");
    free(x), free(dy), free(p), free(a), free(b);
    glf_buf_release(dX), glf_buf_release(dDY), glf_buf_release(dP), glf_buf_release(dS);
    glf_buf_release(dY), glf_buf_release(dDX), glf_buf_release(dDX2), glf_buf_release(dG);
    glf_ctx_destroy(ctx);
}

/* x = {1, 3} in one channel: mean 2, biased var 1, unbiased var 2. With
 * running (0, 1): rm = 0.2, rv = 0.9 + 0.2 = 1.1 (as torch.nn.BatchNorm1d). */
static void test_bn_known_answer(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const float x[2] = {1.0f, 3.0f}, p[2] = {2.0f, 0.5f}, r[2] = {0.0f, 1.0f};
    cl_mem dX = tu_buf_from(ctx, x, 2), dP = tu_buf_from(ctx, p, 2), dR = tu_buf_from(ctx, r, 2);
    cl_mem dS = tu_buf_nan(ctx, 2), dY = tu_buf_nan(ctx, 2);
    TU_OK(glf_batchnorm_forward_train(ctx, glf_dp(dY, 0), glf_dp(dS, 0), glf_dp(dS, 1),
                                      glf_dp(dR, 0), glf_dp(dR, 1), glf_dp(dX, 0), glf_dp(dP, 0),
                                      glf_dp(dP, 1), 2, 1, 1, MOM, EPS));
    float *y = tu_read(ctx, dY, 2), *s = tu_read(ctx, dS, 2), *rr = tu_read(ctx, dR, 2);
    double is = 1.0 / sqrt(1.0 + 1e-5);
    const double want_y[2] = {-2.0 * is + 0.5, 2.0 * is + 0.5}, want_s[2] = {2.0, is};
    const double want_r[2] = {0.2, 1.1};
    assert_int_equal(tu_compare("known y", y, want_y, 2, 1e-6, 1e-6), 0);
    assert_int_equal(tu_compare("known mean|invstd", s, want_s, 2, 1e-6, 1e-6), 0);
    assert_int_equal(tu_compare("known running", rr, want_r, 2, 1e-6, 1e-6), 0);
    free(y), free(s), free(rr);
    glf_buf_release(dX), glf_buf_release(dP), glf_buf_release(dR), glf_buf_release(dS);
    glf_buf_release(dY);
    glf_ctx_destroy(ctx);
}

/* loss = sum_i w_i * y_i; returns it for the reference forward. */
static double bn_loss_(const double *x, const double *p, const double *w, int B, int C, int L)
{
    size_t n = (size_t)B * C * L;
    double *y = malloc(n * sizeof *y), *m = malloc(C * sizeof *m), *is = malloc(C * sizeof *is);
    ref_bn_forward_train(y, m, is, NULL, NULL, x, p, p + C, B, C, L, 0.1, 1e-5);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += w[i] * y[i];
    free(y), free(m), free(is);
    return s;
}

/* The reference backward is the gradient of the reference forward: central
 * differences in double on inputs, gamma and beta. */
static void test_bn_finite_differences(void **state)
{
    (void)state;
    const int shapes[][3] = {{3, 2, 4}, {4, 3, 1}, {1, 2, 5}, {2, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int B = shapes[s][0], C = shapes[s][1], L = shapes[s][2];
        size_t n = (size_t)B * C * L;
        double *x = tu_rand_f64(n, 40 + s, -2, 2), *p = tu_rand_f64(2 * C, 50 + s, -1.5, 1.5);
        double *w = tu_rand_f64(n, 60 + s, -1, 1);
        double *y = malloc(n * sizeof *y), *m = malloc(C * sizeof *m);
        double *is = malloc(C * sizeof *is), *dx = malloc(n * sizeof *dx);
        double *g = malloc(2 * C * sizeof *g);
        ref_bn_forward_train(y, m, is, NULL, NULL, x, p, p + C, B, C, L, 0.1, 1e-5);
        ref_bn_backward(dx, g, g + C, w, x, m, is, p, B, C, L);
        const double h = 1e-5;
        for (size_t i = 0; i < n + 2 * (size_t)C; i++) {
            double *v = i < n ? &x[i] : &p[i - n];
            double old = *v;
            *v = old + h;
            double lp = bn_loss_(x, p, w, B, C, L);
            *v = old - h;
            double lm = bn_loss_(x, p, w, B, C, L);
            *v = old;
            double fd = (lp - lm) / (2 * h), an = i < n ? dx[i] : g[i - n];
            if (fabs(fd - an) > 1e-7 + 1e-6 * fabs(an))
                fail_msg("bn B=%d C=%d L=%d: d/d%s[%zu] analytic %.12g, finite diff %.12g", B, C, L,
                         i < n ? "x" : (i < n + (size_t)C ? "gamma" : "beta"),
                         i < n ? i : (i - n) % C, an, fd);
        }
        free(x), free(p), free(w), free(y), free(m), free(is), free(dx), free(g);
    }
}

static void test_bn_invalid(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem a = tu_buf_nan(ctx, 64), b = tu_buf_nan(ctx, 64);
    glf_dptr none = {NULL, 0};
    /* One value per channel in training mode (B = 1, L = 1), as PyTorch refuses. */
    assert_int_equal(glf_batchnorm_forward_train(ctx, glf_dp(a, 0), glf_dp(b, 0), glf_dp(b, 4),
                                                 none, none, glf_dp(b, 8), glf_dp(b, 12),
                                                 glf_dp(b, 16), 1, 4, 1, MOM, EPS),
                     GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "n = B*L = 1"));
    /* y overlapping x in training mode. */
    assert_int_equal(glf_batchnorm_forward_train(ctx, glf_dp(a, 0), glf_dp(b, 0), glf_dp(b, 4),
                                                 none, none, glf_dp(a, 4), glf_dp(b, 12),
                                                 glf_dp(b, 16), 2, 4, 1, MOM, EPS),
                     GLF_ERR_INVALID_ARG);
    /* dx == dy in the backward (dx is scratch). */
    assert_int_equal(glf_batchnorm_backward(ctx, glf_dp(a, 0), none, none, glf_dp(a, 0),
                                            glf_dp(b, 0), glf_dp(b, 20), glf_dp(b, 30),
                                            glf_dp(b, 40), 2, 4, 1, 0),
                     GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_batchnorm_backward(ctx, glf_dp(a, 0), none, none, glf_dp(b, 0),
                                            glf_dp(b, 0), glf_dp(b, 20), glf_dp(b, 30),
                                            glf_dp(b, 40), 2, 4, 1, 2),
                     GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_batchnorm_forward_eval(ctx, glf_dp(a, 0), glf_dp(b, 0), glf_dp(b, 4),
                                                glf_dp(a, 0), glf_dp(b, 8), glf_dp(b, 12), 0, 4, 1,
                                                EPS),
                     GLF_ERR_INVALID_ARG);
    glf_buf_release(a), glf_buf_release(b);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_finite_differences),
        cmocka_unit_test(test_bn_known_answer),
        cmocka_unit_test(test_bn_odd_sizes),
        cmocka_unit_test(test_bn_relu_fused),
        cmocka_unit_test(test_bn_glf_sizes),
        cmocka_unit_test(test_bn_eval),
        cmocka_unit_test(test_bn_optional_grads),
        cmocka_unit_test(test_bn_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
