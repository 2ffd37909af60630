/* Linear kernels vs the double reference (tests/ref_conv.c) at odd shapes and
 * GLF's shapes: NaN-filled outputs, guards after and sentinels before every
 * output, accumulate 0/1, skipped dx/bias, bitwise repeatability, and
 * finite differences on the reference; the tile GEMM under conv and linear
 * at odd shapes (both edges, transposed A, beta 0 over NaN and beta != 0). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_conv.h"
#include "glf/ops_norm.h"
#include "ops/ref_conv.h"

static void check_case_(glf_ctx *ctx, int B, int IN, int OUT, int bias, int want_dx, size_t off)
{
    char tag[128];
    snprintf(tag, sizeof tag, "linear B=%d IN=%d OUT=%d bias=%d dx=%d off=%zu", B, IN, OUT,
             bias, want_dx, off);
    size_t nx = (size_t)B * IN, ny = (size_t)B * OUT, nw = (size_t)OUT * IN, nb = (size_t)OUT;
    uint64_t seed = (uint64_t)B * 7919 + (uint64_t)IN * 31 + (uint64_t)OUT;
    float *x = tu_rand(nx, seed, -1, 1), *w = tu_rand(nw, seed + 1, -0.5f, 0.5f);
    float *b = tu_rand(nb, seed + 2, -1, 1), *dy = tu_rand(ny, seed + 3, -1, 1);
    double *xd = tu_f64(x, nx), *wd = tu_f64(w, nw), *bd = tu_f64(b, nb);
    double *dyd = tu_f64(dy, ny);
    double *ry = malloc(ny * sizeof *ry), *rdx = malloc(nx * sizeof *rdx);
    double *rdw = malloc(nw * sizeof *rdw), *rdb = malloc(nb * sizeof *rdb);
    glf_ref_linear_forward(ry, xd, wd, bias ? bd : NULL, B, IN, OUT);
    glf_ref_linear_backward(rdx, rdw, rdb, dyd, xd, wd, B, IN, OUT);

    tu_dev X = tu_dev_new(ctx, x, nx, off), Wt = tu_dev_new(ctx, w, nw, off);
    tu_dev Bi = tu_dev_new(ctx, b, nb, off), DY = tu_dev_new(ctx, dy, ny, off);
    glf_dptr none = glf_dp(NULL, 0);
    float *got[2][4];
    for (int run = 0; run < 2; run++) {
        tu_dev Y = tu_dev_new(ctx, NULL, ny, off), DX = tu_dev_new(ctx, NULL, nx, off);
        tu_dev DW = tu_dev_new(ctx, NULL, nw, off), DB = tu_dev_new(ctx, NULL, nb, off);
        TU_OK(glf_linear_forward(ctx, tu_dp(Y), tu_dp(X), tu_dp(Wt), bias ? tu_dp(Bi) : none, B, IN,
                                 OUT));
        TU_OK(glf_linear_backward(ctx, want_dx ? tu_dp(DX) : none, tu_dp(DW),
                                  bias ? tu_dp(DB) : none, tu_dp(DY), tu_dp(X), tu_dp(Wt), B, IN, OUT,
                                  0));
        got[run][0] = tu_dev_read(ctx, Y, "y");
        got[run][1] = tu_dev_read(ctx, DX, "dx");
        got[run][2] = tu_dev_read(ctx, DW, "dw");
        got[run][3] = tu_dev_read(ctx, DB, "db");
        if (run == 0) {
            tu_expect_close(tag, "y", got[0][0], ry, ny, IN, 1.0);
            tu_expect_close(tag, "dw", got[0][2], rdw, nw, B, 1.0);
            if (want_dx)
                tu_expect_close(tag, "dx", got[0][1], rdx, nx, OUT, 1.0);
            else
                for (size_t i = 0; i < nx; i++)
                    assert_true(isnan(got[0][1][i]));
            if (bias)
                tu_expect_close(tag, "db", got[0][3], rdb, nb, B, 1.0);
            else
                for (size_t i = 0; i < nb; i++)
                    assert_true(isnan(got[0][3][i]));
            TU_OK(glf_linear_backward(ctx, want_dx ? tu_dp(DX) : none, tu_dp(DW),
                                      bias ? tu_dp(DB) : none, tu_dp(DY), tu_dp(X), tu_dp(Wt), B, IN,
                                      OUT, 1));
            float *dx2 = tu_dev_read(ctx, DX, "dx acc"), *dw2 = tu_dev_read(ctx, DW, "dw acc");
            float *db2 = tu_dev_read(ctx, DB, "db acc");
            tu_expect_close(tag, "dw accumulate", dw2, rdw, nw, B, 2.0);
            if (bias)
                tu_expect_close(tag, "db accumulate", db2, rdb, nb, B, 2.0);
            if (memcmp(dx2, got[0][1], nx * sizeof *dx2) != 0)
                fail_msg("%s: dx changed bits under accumulate = 1 (must be overwritten)", tag);
            free(dx2), free(dw2), free(db2);
        }
        glf_buf_release(Y.buf), glf_buf_release(DX.buf);
        glf_buf_release(DW.buf), glf_buf_release(DB.buf);
    }
    const size_t ns[4] = {ny, nx, nw, nb};
    for (int t = 0; t < 4; t++) {
        if (memcmp(got[0][t], got[1][t], ns[t] * sizeof(float)) != 0)
            fail_msg("%s: tensor %d differs in its bits between two runs", tag, t);
        free(got[0][t]), free(got[1][t]);
    }
    glf_buf_release(X.buf), glf_buf_release(Wt.buf), glf_buf_release(Bi.buf);
    glf_buf_release(DY.buf);
    free(x), free(w), free(b), free(dy), free(xd), free(wd), free(bd), free(dyd);
    free(ry), free(rdx), free(rdw), free(rdb);
}

static void test_linear_odd(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int shapes[][3] = {{1, 1, 1}, {3, 7, 5}, {1, 13, 3}, {3, 1, 9},
                             {257, 33, 17}, {5, 65, 129}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_case_(ctx, shapes[i][0], shapes[i][1], shapes[i][2], (int)(i % 3 != 2),
                    (int)(i % 4 != 3), (i % 2) * 11);
    glf_ctx_destroy(ctx);
}

/* Linear + ReLU fused into the GEMM's store: the reference's relu(x w^T + b)
 * at odd shapes (NaN-filled output, sentinels before it, guard after), and
 * the same bits as glf_linear_forward followed by glf_act_forward. */
static void test_linear_relu(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int shapes[][3] = {{1, 1, 1}, {3, 7, 5}, {257, 33, 17}, {5, 65, 129}, {256, 10, 64}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int B = shapes[i][0], IN = shapes[i][1], OUT = shapes[i][2], bias = i != 2;
        size_t nx = (size_t)B * IN, ny = (size_t)B * OUT, nw = (size_t)OUT * IN, off = 7;
        float *x = tu_rand(nx, 100 + i, -1, 1), *w = tu_rand(nw, 200 + i, -0.5f, 0.5f);
        float *b = tu_rand((size_t)OUT, 300 + i, -1, 1);
        double *xd = tu_f64(x, nx), *wd = tu_f64(w, nw), *bd = tu_f64(b, (size_t)OUT);
        double *ry = malloc(ny * sizeof *ry);
        glf_ref_linear_forward(ry, xd, wd, bias ? bd : NULL, B, IN, OUT);
        for (size_t k = 0; k < ny; k++)
            ry[k] = ry[k] < 0 ? 0.0 : ry[k];
        tu_dev X = tu_dev_new(ctx, x, nx, off), W = tu_dev_new(ctx, w, nw, off);
        tu_dev Bi = tu_dev_new(ctx, b, (size_t)OUT, off), Y = tu_dev_new(ctx, NULL, ny, off);
        tu_dev Y2 = tu_dev_new(ctx, NULL, ny, off);
        glf_dptr bb = bias ? tu_dp(Bi) : glf_dp(NULL, 0);
        TU_OK(glf_linear_forward_act(ctx, tu_dp(Y), tu_dp(X), tu_dp(W), bb, B, IN, OUT, 1));
        TU_OK(glf_linear_forward(ctx, tu_dp(Y2), tu_dp(X), tu_dp(W), bb, B, IN, OUT));
        TU_OK(glf_act_forward(ctx, tu_dp(Y2), tu_dp(Y2), ny, GLF_ACT_RELU));
        float *y = tu_dev_read(ctx, Y, "y"), *y2 = tu_dev_read(ctx, Y2, "y unfused");
        char tag[96];
        snprintf(tag, sizeof tag, "linear+relu B=%d IN=%d OUT=%d bias=%d", B, IN, OUT, bias);
        tu_expect_close(tag, "y", y, ry, ny, IN, 1.0);
        if (memcmp(y, y2, ny * sizeof *y) != 0)
            fail_msg("%s: fused and unfused ReLU differ in their bits", tag);
        glf_buf_release(X.buf), glf_buf_release(W.buf), glf_buf_release(Bi.buf);
        glf_buf_release(Y.buf), glf_buf_release(Y2.buf);
        free(x), free(w), free(b), free(xd), free(wd), free(bd), free(ry), free(y), free(y2);
    }
    glf_ctx_destroy(ctx);
}

/* GLF's linears (28x28x1 preset) at batch 1 and 3: encoder, decoder, flow. */
static void test_glf_shapes(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int io[][2] = {{6272, 1024}, {1024, 20}, {20, 1024}, {1024, 6272},
                         {10, 64},     {64, 64},   {64, 10}};
    for (int B = 1; B <= 3; B += 2)
        for (size_t i = 0; i < sizeof io / sizeof io[0]; i++)
            check_case_(ctx, B, io[i][0], io[i][1], 1, 1, (size_t)B * i % 5);
    glf_ctx_destroy(ctx);
}

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
                fail_msg("linear finite differences: tensor %d [%zu]: fd %.12g vs %.12g", t, i,
                         fd, g[t][i]);
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
        cmocka_unit_test(test_linear_odd),
        cmocka_unit_test(test_linear_relu),
        cmocka_unit_test(test_glf_shapes),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
