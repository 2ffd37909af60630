/* Conv2d and ConvTranspose2d kernels vs the double reference (tests/ref_conv.c)
 * at odd shapes and GLF's shapes: NaN-filled outputs and workspace, guards
 * after and sentinels before every output (non-zero offsets), accumulate 0/1,
 * skipped dx/bias, bitwise repeatability, and finite differences on the reference. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/gemm.h"
#include "glf/ops_conv.h"
#include "ops/ref_conv.h"

static void expect_same_bits_(const char *tag, const char *what, const float *a, const float *b,
                              size_t n)
{
    if (memcmp(a, b, n * sizeof *a) != 0)
        fail_msg("%s %s: two runs differ in their bits", tag, what);
}

typedef glf_status (*fwd_fn_)(glf_ctx *, glf_dptr, glf_dptr, glf_dptr, glf_dptr,
                              const glf_conv_shape *, glf_dptr);
typedef glf_status (*bwd_fn_)(glf_ctx *, glf_dptr, glf_dptr, glf_dptr, glf_dptr, glf_dptr,
                              glf_dptr, const glf_conv_shape *, glf_dptr, int);

/* One shape of Conv2d (tr = 0) or ConvTranspose2d (tr = 1) end to end. */
static void check_case_(glf_ctx *ctx, int tr, glf_conv_shape s, int bias, int want_dx,
                        size_t off)
{
    int Ho = tr ? glf_conv_transpose2d_out(s.H, s.K, s.S, s.P) : glf_conv2d_out(s.H, s.K, s.S, s.P);
    int Wo = tr ? glf_conv_transpose2d_out(s.W, s.K, s.S, s.P) : glf_conv2d_out(s.W, s.K, s.S, s.P);
    char tag[256];
    int use[2];
    glf_conv_im2col_policy(ctx, use);
    snprintf(tag, sizeof tag,
             "%s B=%d Cin=%d %dx%d Cout=%d K=%d S=%d P=%d bias=%d dx=%d off=%zu gemm=%s "
             "implicit=%d%d",
             tr ? "convT" : "conv", s.B, s.Cin, s.H, s.W, s.Cout, s.K, s.S, s.P, bias, want_dx,
             off, glf_gemm_backend_name(ctx), use[0], use[1]);
    size_t nx = (size_t)s.B * s.Cin * s.H * s.W, ny = (size_t)s.B * s.Cout * Ho * Wo;
    size_t nw = (size_t)s.Cout * s.Cin * s.K * s.K, nb = (size_t)s.Cout;
    size_t ws = tr ? glf_conv_transpose2d_workspace(&s) : glf_conv2d_workspace(&s);
    assert_true(ws > 0);
    fwd_fn_ fwd = tr ? glf_conv_transpose2d_forward : glf_conv2d_forward;
    bwd_fn_ bwd = tr ? glf_conv_transpose2d_backward : glf_conv2d_backward;

    uint64_t seed = (uint64_t)(s.B * 1000003 + s.Cin * 10007 + s.H * 101 + s.K * 7 + tr);
    float *x = tu_rand(nx, seed, -1, 1), *w = tu_rand(nw, seed + 1, -0.5f, 0.5f);
    float *b = tu_rand(nb, seed + 2, -1, 1), *dy = tu_rand(ny, seed + 3, -1, 1);
    double *xd = tu_f64(x, nx), *wd = tu_f64(w, nw), *bd = tu_f64(b, nb);
    double *dyd = tu_f64(dy, ny);
    double *ry = malloc(ny * sizeof *ry), *rdx = malloc(nx * sizeof *rdx);
    double *rdw = malloc(nw * sizeof *rdw), *rdb = malloc(nb * sizeof *rdb);
    if (tr) {
        glf_ref_conv_transpose2d_forward(ry, xd, wd, bias ? bd : NULL, &s);
        glf_ref_conv_transpose2d_backward(rdx, rdw, rdb, dyd, xd, wd, &s);
    } else {
        glf_ref_conv2d_forward(ry, xd, wd, bias ? bd : NULL, &s);
        glf_ref_conv2d_backward(rdx, rdw, rdb, dyd, xd, wd, &s);
    }
    /* Reduction lengths, for the tolerances. */
    double red_y = tr ? (double)s.Cin * s.K * s.K : (double)s.Cin * s.K * s.K;
    double red_dx = (double)s.Cout * s.K * s.K;
    double red_dw = (double)s.B * (tr ? (double)s.H * s.W : (double)Ho * Wo);
    double red_db = (double)s.B * Ho * Wo;

    tu_dev X = tu_dev_new(ctx, x, nx, off), Wt = tu_dev_new(ctx, w, nw, off);
    tu_dev Bi = tu_dev_new(ctx, b, nb, off), DY = tu_dev_new(ctx, dy, ny, off);
    tu_dev WK = tu_dev_new(ctx, NULL, ws, off);
    glf_dptr none = glf_dp(NULL, 0);
    float *got[2][4] = {{0}}; /* run, {y, dx, dw, db} */
    for (int run = 0; run < 2; run++) {
        tu_dev Y = tu_dev_new(ctx, NULL, ny, off), DX = tu_dev_new(ctx, NULL, nx, off);
        tu_dev DW = tu_dev_new(ctx, NULL, nw, off), DB = tu_dev_new(ctx, NULL, nb, off);
        TU_OK(fwd(ctx, tu_dp(Y), tu_dp(X), tu_dp(Wt), bias ? tu_dp(Bi) : none, &s, tu_dp(WK)));
        TU_OK(bwd(ctx, want_dx ? tu_dp(DX) : none, tu_dp(DW), bias ? tu_dp(DB) : none, tu_dp(DY),
                  tu_dp(X), tu_dp(Wt), &s, tu_dp(WK), 0));
        got[run][0] = tu_dev_read(ctx, Y, "y");
        got[run][1] = tu_dev_read(ctx, DX, "dx");
        got[run][2] = tu_dev_read(ctx, DW, "dw");
        got[run][3] = tu_dev_read(ctx, DB, "db");
        if (run == 0) {
            tu_expect_close(tag, "y", got[0][0], ry, ny, red_y, 1.0);
            tu_expect_close(tag, "dw", got[0][2], rdw, nw, red_dw, 1.0);
            if (want_dx)
                tu_expect_close(tag, "dx", got[0][1], rdx, nx, red_dx, 1.0);
            else /* skipped: must stay all sentinel */
                for (size_t i = 0; i < nx; i++)
                    assert_true(isnan(got[0][1][i]));
            if (bias)
                tu_expect_close(tag, "db", got[0][3], rdb, nb, red_db, 1.0);
            else
                for (size_t i = 0; i < nb; i++)
                    assert_true(isnan(got[0][3][i]));
            /* accumulate = 1 on top: dw, db double; dx is overwritten again. */
            TU_OK(bwd(ctx, want_dx ? tu_dp(DX) : none, tu_dp(DW), bias ? tu_dp(DB) : none, tu_dp(DY),
                      tu_dp(X), tu_dp(Wt), &s, tu_dp(WK), 1));
            float *dx2 = tu_dev_read(ctx, DX, "dx acc"), *dw2 = tu_dev_read(ctx, DW, "dw acc");
            float *db2 = tu_dev_read(ctx, DB, "db acc");
            tu_expect_close(tag, "dw accumulate", dw2, rdw, nw, red_dw, 2.0);
            if (bias)
                tu_expect_close(tag, "db accumulate", db2, rdb, nb, red_db, 2.0);
            expect_same_bits_(tag, "dx after accumulate", dx2, got[0][1], nx);
            free(dx2), free(dw2), free(db2);
        }
        glf_buf_release(Y.buf), glf_buf_release(DX.buf);
        glf_buf_release(DW.buf), glf_buf_release(DB.buf);
    }
    const char *names[4] = {"y", "dx", "dw", "db"};
    const size_t ns[4] = {ny, nx, nw, nb};
    for (int t = 0; t < 4; t++) {
        expect_same_bits_(tag, names[t], got[0][t], got[1][t], ns[t]);
        free(got[0][t]), free(got[1][t]);
    }
    glf_buf_release(X.buf), glf_buf_release(Wt.buf), glf_buf_release(Bi.buf);
    glf_buf_release(DY.buf), glf_buf_release(WK.buf);
    free(x), free(w), free(b), free(dy), free(xd), free(wd), free(bd), free(dyd);
    free(ry), free(rdx), free(rdw), free(rdb);
}

/* Odd shapes: batch 1 and 3, non-square images, K 1/3/4, S 1/2/3, P 0/1/2,
 * kernels smaller than the stride (pixels no window reaches), uneven fits. */
static const glf_conv_shape odd_[] = {
    {1, 3, 7, 7, 5, 3, 1, 0}, {3, 3, 9, 9, 5, 3, 2, 1}, {3, 3, 7, 9, 5, 4, 2, 1},
    {1, 3, 9, 7, 5, 4, 1, 0}, {3, 2, 8, 8, 3, 3, 2, 1}, {3, 3, 7, 7, 5, 1, 2, 0},
    {3, 3, 5, 6, 5, 3, 1, 2}, {1, 1, 1, 1, 1, 1, 1, 0}, {3, 5, 11, 10, 7, 4, 3, 2},
    {2, 2, 3, 67, 3, 3, 2, 1}, /* rows over 64 pixels: the generic col2im */
    {3, 16, 9, 9, 5, 4, 2, 1}, /* Conv2d's R = 256: colT's rows 1 KiB apart */
    {3, 5, 5, 7, 16, 4, 2, 1}, /* ConvTranspose2d's R = 256, the same */
};
#define NODD_ (sizeof odd_ / sizeof odd_[0])

/* Each odd case runs on glf's kernels with both variants of each
 * orientation of the im2col operand (the default policy, materialised for
 * both, and implicit for both) and on CLBlast (materialised only). */
static void variant_(glf_ctx *ctx, int v)
{
    static const int use_[2][2] = {{0, 0}, {1, 1}};
    TU_OK(glf_gemm_set_backend(ctx, v == 2 ? GLF_GEMM_CLBLAST : GLF_GEMM_GLF));
    TU_OK(glf_conv_set_im2col_policy(ctx, use_[v == 1]));
}

static void test_conv2d_odd(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    for (int v = 0; v < 3; v++) {
        variant_(ctx, v);
        for (size_t i = 0; i < NODD_; i++)
            check_case_(ctx, 0, odd_[i], (int)(i % 3 != 2), (int)(i % 4 != 3), (i % 2) * 7);
    }
    glf_ctx_destroy(ctx);
}

static void test_conv_transpose2d_odd(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    for (int v = 0; v < 3; v++) {
        variant_(ctx, v);
        for (size_t i = 0; i < NODD_; i++) {
            glf_conv_shape s = odd_[i];
            if (glf_conv_transpose2d_out(s.H, s.K, s.S, s.P) < 1 ||
                glf_conv_transpose2d_out(s.W, s.K, s.S, s.P) < 1)
                continue;
            check_case_(ctx, 1, s, (int)(i % 3 != 1), (int)(i % 4 != 2), (i % 2) * 5);
        }
    }
    glf_ctx_destroy(ctx);
}

/* GLF's 28x28x1 layers at batch 1 and 3 (enc.conv1/2, dec.deconv1/2). */
static void test_glf_shapes(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    for (int B = 1; B <= 3; B += 2) {
        variant_(ctx, B == 3); /* batch 3 with the opposite variants */
        check_case_(ctx, 0, (glf_conv_shape){B, 1, 28, 28, 64, 4, 2, 1}, 1, 0, 0);
        check_case_(ctx, 0, (glf_conv_shape){B, 64, 14, 14, 128, 4, 2, 1}, 1, 1, 3);
        check_case_(ctx, 1, (glf_conv_shape){B, 128, 7, 7, 64, 4, 2, 1}, 1, 1, 0);
        check_case_(ctx, 1, (glf_conv_shape){B, 64, 14, 14, 1, 4, 2, 1}, 1, 1, 5);
    }
    glf_ctx_destroy(ctx);
}

/* Loss sum(dy * y): central differences of the reference forward against the
 * reference backward, at a few random coordinates of x, w and b. */
static double loss_(int tr, const double *x, const double *w, const double *b, const double *dy,
                    const glf_conv_shape *s, double *y, size_t ny)
{
    if (tr)
        glf_ref_conv_transpose2d_forward(y, x, w, b, s);
    else
        glf_ref_conv2d_forward(y, x, w, b, s);
    double l = 0;
    for (size_t i = 0; i < ny; i++)
        l += dy[i] * y[i];
    return l;
}

static void fd_case_(int tr, glf_conv_shape s)
{
    int Ho = tr ? glf_conv_transpose2d_out(s.H, s.K, s.S, s.P) : glf_conv2d_out(s.H, s.K, s.S, s.P);
    int Wo = tr ? glf_conv_transpose2d_out(s.W, s.K, s.S, s.P) : glf_conv2d_out(s.W, s.K, s.S, s.P);
    size_t n[3] = {(size_t)s.B * s.Cin * s.H * s.W, (size_t)s.Cout * s.Cin * s.K * s.K,
                   (size_t)s.Cout};
    size_t ny = (size_t)s.B * s.Cout * Ho * Wo;
    double *p[3], *g[3];
    for (int t = 0; t < 3; t++) {
        p[t] = tu_rand_f64(n[t], 100 + t + 10 * tr, -1, 1);
        g[t] = malloc(n[t] * sizeof(double));
    }
    double *dy = tu_rand_f64(ny, 99, -1, 1), *y = malloc(ny * sizeof *y);
    if (tr)
        glf_ref_conv_transpose2d_backward(g[0], g[1], g[2], dy, p[0], p[1], &s);
    else
        glf_ref_conv2d_backward(g[0], g[1], g[2], dy, p[0], p[1], &s);
    glf_rng r;
    glf_rng_init(&r, 5 + tr, 1);
    const double h = 1e-3;
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 6; k++) {
            size_t i = glf_rng_below(&r, n[t]);
            double keep = p[t][i];
            p[t][i] = keep + h;
            double lp = loss_(tr, p[0], p[1], p[2], dy, &s, y, ny);
            p[t][i] = keep - h;
            double lm = loss_(tr, p[0], p[1], p[2], dy, &s, y, ny);
            p[t][i] = keep;
            double fd = (lp - lm) / (2 * h);
            if (fabs(fd - g[t][i]) > 1e-7 * (1 + fabs(g[t][i])))
                fail_msg("%s finite differences: tensor %d [%zu]: fd %.12g vs backward %.12g",
                         tr ? "convT" : "conv", t, i, fd, g[t][i]);
        }
    for (int t = 0; t < 3; t++)
        free(p[t]), free(g[t]);
    free(dy), free(y);
}

static void test_reference_finite_differences(void **state)
{
    (void)state;
    for (int tr = 0; tr < 2; tr++) {
        fd_case_(tr, (glf_conv_shape){3, 3, 7, 9, 5, 4, 2, 1});
        fd_case_(tr, (glf_conv_shape){1, 3, 7, 7, 5, 3, 1, 0});
        fd_case_(tr, (glf_conv_shape){3, 2, 8, 8, 3, 3, 2, 1});
        fd_case_(tr, (glf_conv_shape){3, 3, 5, 6, 5, 1, 2, 0});
    }
}

/* col2im (Conv2d's input gradient, ConvTranspose2d's forward) has a
 * kernel with the image side as constants and a generic one; both must give
 * the same bits (GLF_COL2IM=generic selects the generic one). */
static void col2im_bits_(glf_ctx *ctx, glf_conv_shape s)
{
    int Ho = glf_conv2d_out(s.H, s.K, s.S, s.P), Wo = glf_conv2d_out(s.W, s.K, s.S, s.P);
    int tHo = glf_conv_transpose2d_out(s.H, s.K, s.S, s.P);
    int tWo = glf_conv_transpose2d_out(s.W, s.K, s.S, s.P);
    size_t nx = (size_t)s.B * s.Cin * s.H * s.W, ny = (size_t)s.B * s.Cout * Ho * Wo;
    size_t nty = (size_t)s.B * s.Cout * tHo * tWo, nw = (size_t)s.Cout * s.Cin * s.K * s.K;
    size_t ws = glf_conv2d_workspace(&s), wst = glf_conv_transpose2d_workspace(&s);
    float *x = tu_rand(nx, 11, -1, 1), *w = tu_rand(nw, 12, -1, 1);
    float *dy = tu_rand(ny, 13, -1, 1), *b = tu_rand((size_t)s.Cout, 14, -1, 1);
    tu_dev X = tu_dev_new(ctx, x, nx, 3), Wt = tu_dev_new(ctx, w, nw, 0);
    tu_dev DY = tu_dev_new(ctx, dy, ny, 5), Bi = tu_dev_new(ctx, b, (size_t)s.Cout, 1);
    tu_dev WK = tu_dev_new(ctx, NULL, ws > wst ? ws : wst, 0);
    glf_dptr none = glf_dp(NULL, 0);
    float *got[2][2];
    const glf_options given = *glf_ctx_options(ctx);
    for (int v = 0; v < 2; v++) {
        if (v)
            TU_OK(glf_options_set(glf_ctx_options(ctx), "GLF_COL2IM", "generic"));
        tu_dev DX = tu_dev_new(ctx, NULL, nx, 7), TY = tu_dev_new(ctx, NULL, nty, 2);
        TU_OK(glf_conv2d_backward(ctx, tu_dp(DX), none, none, tu_dp(DY), tu_dp(X), tu_dp(Wt), &s,
                                  tu_dp(WK), 0));
        TU_OK(glf_conv_transpose2d_forward(ctx, tu_dp(TY), tu_dp(X), tu_dp(Wt), tu_dp(Bi), &s,
                                           tu_dp(WK)));
        got[v][0] = tu_dev_read(ctx, DX, "conv dx"); /* checks the guards too */
        got[v][1] = tu_dev_read(ctx, TY, "convT y");
        glf_buf_release(DX.buf), glf_buf_release(TY.buf);
        *glf_ctx_options(ctx) = given;
    }
    char tag[128];
    snprintf(tag, sizeof tag, "col2im fixed vs generic B=%d Cin=%d %dx%d Cout=%d K=%d S=%d P=%d",
             s.B, s.Cin, s.H, s.W, s.Cout, s.K, s.S, s.P);
    expect_same_bits_(tag, "conv dx", got[0][0], got[1][0], nx);
    expect_same_bits_(tag, "convT y", got[0][1], got[1][1], nty);
    for (int v = 0; v < 2; v++)
        free(got[v][0]), free(got[v][1]);
    glf_buf_release(X.buf), glf_buf_release(Wt.buf), glf_buf_release(DY.buf);
    glf_buf_release(Bi.buf), glf_buf_release(WK.buf);
    free(x), free(w), free(dy), free(b);
}

static void test_col2im_variants_same_bits(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    col2im_bits_(ctx, (glf_conv_shape){3, 64, 14, 14, 128, 4, 2, 1}); /* GLF's enc.conv2 */
    col2im_bits_(ctx, (glf_conv_shape){2, 3, 9, 7, 5, 4, 2, 1});
    col2im_bits_(ctx, (glf_conv_shape){2, 3, 7, 9, 5, 3, 1, 0});
    col2im_bits_(ctx, (glf_conv_shape){3, 5, 11, 10, 7, 4, 3, 2});
    col2im_bits_(ctx, (glf_conv_shape){2, 2, 8, 8, 3, 1, 2, 0}); /* pixels no tap reaches */
    glf_ctx_destroy(ctx);
}

/* A convolution (tr: transposed) run with the context's options as they
 * are, then with the option var=val (glf_options_set), must give the same bits: the forward with a bias and the
 * backward with accumulate 0 and 1. */
static void env_bits_(glf_ctx *ctx, int tr, glf_conv_shape s, const char *var, const char *val)
{
    int Ho = tr ? glf_conv_transpose2d_out(s.H, s.K, s.S, s.P) : glf_conv2d_out(s.H, s.K, s.S, s.P);
    int Wo = tr ? glf_conv_transpose2d_out(s.W, s.K, s.S, s.P) : glf_conv2d_out(s.W, s.K, s.S, s.P);
    size_t nx = (size_t)s.B * s.Cin * s.H * s.W, ny = (size_t)s.B * s.Cout * Ho * Wo;
    size_t nw = (size_t)s.Cout * s.Cin * s.K * s.K;
    size_t ws = tr ? glf_conv_transpose2d_workspace(&s) : glf_conv2d_workspace(&s);
    bwd_fn_ bwd = tr ? glf_conv_transpose2d_backward : glf_conv2d_backward;
    float *x = tu_rand(nx, 21, -1, 1), *dy = tu_rand(ny, 22, -1, 1);
    float *w0 = tu_rand(nw, 23, -1, 1);
    tu_dev X = tu_dev_new(ctx, x, nx, 3), DY = tu_dev_new(ctx, dy, ny, 5);
    tu_dev Wt = tu_dev_new(ctx, w0, nw, 1), WK = tu_dev_new(ctx, NULL, ws, 0);
    glf_dptr none = glf_dp(NULL, 0);
    fwd_fn_ fwd = tr ? glf_conv_transpose2d_forward : glf_conv2d_forward;
    float *got[2][4];
    const glf_options given = *glf_ctx_options(ctx);
    for (int v = 0; v < 2; v++) {
        if (v)
            TU_OK(glf_options_set(glf_ctx_options(ctx), var, val));
        tu_dev Y = tu_dev_new(ctx, NULL, ny, 4), Bi = tu_dev_new(ctx, dy, (size_t)s.Cout, 6);
        TU_OK(fwd(ctx, tu_dp(Y), tu_dp(X), tu_dp(Wt), tu_dp(Bi), &s, tu_dp(WK)));
        glf_buf_release(Bi.buf);
        got[v][3] = tu_dev_read(ctx, Y, "y");
        glf_buf_release(Y.buf);
        for (int acc = 0; acc < 2; acc++) {
            tu_dev DW = tu_dev_new(ctx, acc ? w0 : NULL, nw, 7), DX = tu_dev_new(ctx, NULL, nx, 2);
            TU_OK(bwd(ctx, !acc ? tu_dp(DX) : none, tu_dp(DW), none, tu_dp(DY), tu_dp(X),
                      tu_dp(Wt), &s, tu_dp(WK), acc));
            got[v][acc] = tu_dev_read(ctx, DW, "dw"); /* checks the guards too */
            if (!acc)
                got[v][2] = tu_dev_read(ctx, DX, "dx");
            glf_buf_release(DW.buf), glf_buf_release(DX.buf);
        }
        *glf_ctx_options(ctx) = given;
    }
    char tag[160];
    snprintf(tag, sizeof tag, "%s default vs %s=%s B=%d Cin=%d %dx%d Cout=%d K=%d S=%d P=%d",
             tr ? "convT" : "conv", var, val, s.B, s.Cin, s.H, s.W, s.Cout, s.K, s.S, s.P);
    expect_same_bits_(tag, "dw", got[0][0], got[1][0], nw);
    expect_same_bits_(tag, "dw accumulate", got[0][1], got[1][1], nw);
    expect_same_bits_(tag, "dx", got[0][2], got[1][2], nx);
    expect_same_bits_(tag, "y", got[0][3], got[1][3], ny);
    for (int v = 0; v < 2; v++)
        free(got[v][0]), free(got[v][1]), free(got[v][2]), free(got[v][3]);
    glf_buf_release(X.buf), glf_buf_release(DY.buf), glf_buf_release(Wt.buf);
    glf_buf_release(WK.buf);
    free(x), free(dy), free(w0);
}

/* A context on glf's kernels with both im2col operands materialised: the
 * path on which the convolutions write a colT. */
static glf_ctx *colt_ctx_(void)
{
    glf_ctx *ctx = tu_ctx();
    TU_OK(glf_gemm_set_backend(ctx, GLF_GEMM_GLF));
    int use[2] = {0, 0};
    TU_OK(glf_conv_set_im2col_policy(ctx, use));
    return ctx;
}

/* With glf's kernels the convolutions hand their tensors to the GEMMs as
 * column panels (glf_gemm_panels: dy, x, y and dx as they are, colT
 * written in panels where glf's tile width divides R); GLF_PANELS=off makes
 * the plain copies and column matrix that the GEMM packs or reads by rows.
 * Both must give the same bits (each element is the same fma chain, the
 * bias added once), for the forward with a bias (Conv2d's writes y in
 * panels, ConvTranspose2d's takes x as panels) and the backward with
 * accumulate 0 and 1 (ConvTranspose2d's writes dx in panels). Shapes: R =
 * 256 at batch 3 (Conv2d) and at batch 1 (ConvTranspose2d, a partial row
 * block of pixels: A packed from panels), GLF's enc.conv2 and dec.deconv1
 * at batch 2, and a batch whose K = B*Ho*Wo is split, with a partial row
 * block (Cout 13). */
static void test_colt_panels_same_bits(void **state)
{
    (void)state;
    glf_ctx *ctx = colt_ctx_();
    const glf_conv_shape shapes[] = {
        {3, 16, 9, 9, 5, 4, 2, 1},
        {2, 64, 14, 14, 128, 4, 2, 1}, /* GLF's enc.conv2 */
        {43, 16, 14, 14, 13, 4, 2, 1}, /* K = 2107: split */
        {1, 5, 5, 7, 16, 4, 2, 1},     /* 35 pixels (ConvTranspose2d) */
        {2, 128, 7, 7, 64, 4, 2, 1},   /* GLF's dec.deconv1 */
        {43, 13, 7, 7, 16, 4, 2, 1}};  /* K = 2107: split */
    for (int i = 0; i < 6; i++) {
        const glf_conv_shape *c = &shapes[i];
        size_t R = (size_t)(i >= 3 ? c->Cout : c->Cin) * c->K * c->K;
        size_t tn = glf_gemm_panel_width(ctx, R);
        assert_true(tn > 0 && R % tn == 0 && tn % ((size_t)c->K * c->K) == 0); /* in panels */
        env_bits_(ctx, i >= 3, shapes[i], "GLF_PANELS", "off");
    }
    glf_ctx_destroy(ctx);
}

/* GLF_NT_STORES=all: the column matrices (im2col_t, a 4x4 window as one
 * float16 per channel) and large GEMM outputs go out with non-temporal
 * stores at every size (by default only from GLF_NT_MIN_FLOATS on, so the
 * test shapes would never take that path): the same bits as plain stores,
 * with colT in panels and (GLF_PANELS=off) plain, on the shapes above and
 * one with a 3x3 window (the scalar loop). */
static void test_nt_stores_same_bits(void **state)
{
    (void)state;
    glf_ctx *ctx = colt_ctx_();
    assert_int_equal(glf_nt_stores(ctx), 1); /* a CPU device */
    const glf_conv_shape shapes[] = {
        {3, 16, 9, 9, 5, 4, 2, 1}, {2, 64, 14, 14, 128, 4, 2, 1}, {1, 5, 5, 7, 16, 4, 2, 1},
        {2, 128, 7, 7, 64, 4, 2, 1}, {2, 32, 9, 7, 8, 3, 1, 1}};
    for (int p = 0; p < 2; p++) {
        glf_ctx_options(ctx)->panels = !p;
        for (int i = 0; i < 5; i++)
            if (!p || i != 4) /* (3x3: R = 288 has no panel width, plain either way) */
                env_bits_(ctx, i == 2 || i == 3, shapes[i], "GLF_NT_STORES", "all");
    }
    glf_ctx_options(ctx)->panels = 1;
    glf_ctx_destroy(ctx);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem m = tu_buf_nan(ctx, 64);
    glf_dptr d = glf_dp(m, 0), none = glf_dp(NULL, 0);
    glf_conv_shape bad_k = {1, 1, 4, 4, 1, 0, 1, 0};
    assert_int_equal(glf_conv2d_forward(ctx, d, d, d, none, &bad_k, d), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "K=0"));
    assert_int_equal(glf_conv2d_workspace(&bad_k), 0);
    glf_conv_shape too_big = {1, 1, 2, 2, 1, 5, 1, 1}; /* kernel 5 > padded 4 */
    assert_int_equal(glf_conv2d_forward(ctx, d, d, d, none, &too_big, d), GLF_ERR_INVALID_ARG);
    glf_conv_shape no_out = {1, 1, 1, 1, 1, 1, 1, 1}; /* (1-1)*1 - 2 + 1 = -1 */
    assert_int_equal(glf_conv_transpose2d_forward(ctx, d, d, d, none, &no_out, d),
                     GLF_ERR_INVALID_ARG);
    glf_conv_shape ok = {1, 1, 4, 4, 1, 3, 1, 1};
    assert_int_equal(glf_conv2d_forward(ctx, none, d, d, none, &ok, d), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "y.buf"));
    assert_int_equal(glf_conv2d_backward(ctx, d, d, none, d, d, d, NULL, d, 0),
                     GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_conv2d_out(28, 4, 2, 1), 14);
    assert_int_equal(glf_conv_transpose2d_out(7, 4, 2, 1), 14);
    glf_buf_release(m);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_finite_differences),
        cmocka_unit_test(test_conv2d_odd),
        cmocka_unit_test(test_conv_transpose2d_odd),
        cmocka_unit_test(test_glf_shapes),
        cmocka_unit_test(test_colt_panels_same_bits),
        cmocka_unit_test(test_nt_stores_same_bits),
        cmocka_unit_test(test_col2im_variants_same_bits),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
