/* Conv2d and ConvTranspose2d kernels vs the double reference
 * (host/ops/ref_conv.c), as rows of the op harness (tests/op_harness.h), at
 * odd shapes and GLF's shapes: NaN-filled outputs and workspace, guards
 * after and sentinels before every tensor (non-zero offsets), accumulate
 * 0/1, skipped dx/dw/bias, bitwise repeatability; both im2col operands and
 * CLBlast; and the settings that promise the same bits as the default:
 * col2im fixed vs generic, colT in panels vs not, non-temporal stores.
 * Beside the table finite differences on the reference, invalid arguments. */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/gemm.h"
#include "glf/ops_conv.h"
#include "ops/ref_conv.h"

enum { X, W, BI, DY, Y, DX, DW, DB, WK, NTENS };

/* Tags of the row's own variants. */
enum {
    T_IMPLICIT = OH_TAG1, /* glf's GEMM with the implicit im2col operand for both orientations */
    T_CLBLAST = OH_TAG2,  /* CLBlast (materialised only) */
    T_COL2IM = OH_TAG3,   /* GLF_COL2IM=generic: the same bits */
    T_PANELS = OH_TAG4,   /* GLF_PANELS=off: the same bits */
    T_NT = OH_TAG5,       /* GLF_NT_STORES=all, with and without (T_NT | T_PANELS) panels */
};

typedef struct conv_case_ {
    unsigned tags;
    int tr; /* ConvTranspose2d */
    glf_conv_shape s;
    int bias, dx, dw, db;      /* which optional tensors the case passes */
    size_t off;                /* of every tensor, unless offs */
    const unsigned char *offs; /* per tensor (X .. WK) */
} conv_case_;

/* The offsets of the old same-bits tests: every tensor somewhere else. */
static const unsigned char col2im_offs_[NTENS] = {3, 0, 1, 5, 2, 7, 4, 6, 0};
static const unsigned char panels_offs_[NTENS] = {3, 1, 6, 5, 4, 2, 7, 3, 0};

static int ho_(const conv_case_ *c, int side)
{
    const glf_conv_shape *s = &c->s;
    return c->tr ? glf_conv_transpose2d_out(side, s->K, s->S, s->P)
                 : glf_conv2d_out(side, s->K, s->S, s->P);
}

static void conv_describe_(const void *p, char *buf, size_t n)
{
    const conv_case_ *c = p;
    const glf_conv_shape *s = &c->s;
    int k =
        snprintf(buf, n, "B=%d Cin=%d %dx%d Cout=%d K=%d S=%d P=%d bias=%d dx=%d dw=%d db=%d", s->B,
                 s->Cin, s->H, s->W, s->Cout, s->K, s->S, s->P, c->bias, c->dx, c->dw, c->db);
    if (k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, c->offs ? " offsets mixed" : " off=%zu", c->off);
}

/* fp32 sums of `red` terms of magnitude <= 1: the error grows like sqrt(red) */
static double atol_(double red)
{
    return 1e-5 * sqrt(red);
}

static void conv_setup_(oh_case *c)
{
    const conv_case_ *cc = c->shape;
    const glf_conv_shape *s = &cc->s;
    int Ho = ho_(cc, s->H), Wo = ho_(cc, s->W);
    size_t nx = (size_t)s->B * s->Cin * s->H * s->W, ny = (size_t)s->B * s->Cout * Ho * Wo;
    size_t nw = (size_t)s->Cout * s->Cin * s->K * s->K, nb = (size_t)s->Cout;
    size_t ws = cc->tr ? glf_conv_transpose2d_workspace(s) : glf_conv2d_workspace(s);
    assert_true(ws > 0);
    size_t off[NTENS];
    for (int i = 0; i < NTENS; i++)
        off[i] = cc->offs ? cc->offs[i] : cc->off;
    oh_in(c, X, "x", nx, off[X], oh_rand(c, nx, -1, 1));
    oh_in(c, W, "w", nw, off[W], oh_rand(c, nw, -0.5f, 0.5f));
    oh_in(c, BI, "b", nb, off[BI], oh_rand(c, nb, -1, 1));
    oh_in(c, DY, "dy", ny, off[DY], oh_rand(c, ny, -1, 1));
    /* reduction lengths: window taps for y and dx, pixels for dw and db */
    double red_dw = (double)s->B * (cc->tr ? (double)s->H * s->W : (double)Ho * Wo);
    oh_out(c, Y, "y", ny, off[Y], atol_((double)s->Cin * s->K * s->K), 1e-4);
    oh_out(c, DX, "dx", nx, off[DX], atol_((double)s->Cout * s->K * s->K), 1e-4)->skip = !cc->dx;
    oh_acc(c, DW, "dw", nw, off[DW], NULL, atol_(red_dw), 1e-4)->skip = !cc->dw;
    oh_acc(c, DB, "db", nb, off[DB], NULL, atol_((double)s->B * Ho * Wo), 1e-4)->skip = !cc->db;
    oh_work(c, WK, "workspace", ws, off[WK]);
}

static void conv_reference_(oh_case *c)
{
    const conv_case_ *cc = c->shape;
    if (c->accumulate) {
        oh_add_init(c, DW), oh_add_init(c, DB);
        return;
    }
    double *x = oh_f64(c, X), *w = oh_f64(c, W), *b = cc->bias ? oh_f64(c, BI) : NULL;
    double *dy = oh_f64(c, DY);
    if (cc->tr) {
        glf_ref_conv_transpose2d_forward(c->t[Y].want, x, w, b, &cc->s);
        glf_ref_conv_transpose2d_backward(c->t[DX].want, c->t[DW].want, c->t[DB].want, dy, x, w,
                                          &cc->s);
    } else {
        glf_ref_conv2d_forward(c->t[Y].want, x, w, b, &cc->s);
        glf_ref_conv2d_backward(c->t[DX].want, c->t[DW].want, c->t[DB].want, dy, x, w, &cc->s);
    }
}

static glf_status conv_forward_(oh_case *c)
{
    const conv_case_ *cc = c->shape;
    glf_dptr b = cc->bias ? oh_dp(c, BI) : glf_dp(NULL, 0);
    return (cc->tr ? glf_conv_transpose2d_forward : glf_conv2d_forward)(
        c->ctx, oh_dp(c, Y), oh_dp(c, X), oh_dp(c, W), b, &cc->s, oh_dp(c, WK));
}

static glf_status conv_backward_(oh_case *c)
{
    const conv_case_ *cc = c->shape;
    return (cc->tr ? glf_conv_transpose2d_backward : glf_conv2d_backward)(
        c->ctx, oh_dp(c, DX), oh_dp(c, DW), oh_dp(c, DB), oh_dp(c, DY), oh_dp(c, X), oh_dp(c, W),
        &cc->s, oh_dp(c, WK), c->accumulate);
}

/* The shapes the panels variant runs must really hand colT in panels
 * (glf's tile width divides R, a whole number of windows per panel). */
static void conv_check_(oh_case *c)
{
    const conv_case_ *cc = c->shape;
    if (c->vindex != OH_BASE || !(cc->tags & T_PANELS))
        return;
    const glf_conv_shape *s = &cc->s;
    size_t R = (size_t)(cc->tr ? s->Cout : s->Cin) * s->K * s->K;
    size_t tn = glf_gemm_panel_width(c->ctx, R);
    if (!(tn > 0 && R % tn == 0 && tn % ((size_t)s->K * s->K) == 0))
        fail_msg("%s: R = %zu is not in panels of glf's tile width (%zu): GLF_PANELS=off would "
                 "compare plain with plain",
                 c->label, R, tn);
}

/* ---- variants ---------------------------------------------------------------------- */

/* Every case starts on glf's kernels (a validation failure fails the test
 * instead of falling back to CLBlast) with both im2col operands
 * materialised: the path on which the convolutions write a colT. */
static glf_status materialised_(oh_case *c)
{
    static const int use[2] = {0, 0};
    GLF_TRY(glf_gemm_set_backend(c->ctx, GLF_GEMM_GLF));
    return glf_conv_set_im2col_policy(c->ctx, use);
}

static glf_status implicit_(oh_case *c)
{
    static const int use[2] = {1, 1};
    return glf_conv_set_im2col_policy(c->ctx, use);
}

static glf_status clblast_(oh_case *c)
{
    return glf_gemm_set_backend(c->ctx, GLF_GEMM_CLBLAST);
}

/* GLF_NT_STORES=all writes the column matrices (im2col_t, a 4x4 window as
 * one float16 per channel) and GEMM outputs non-temporally at every size
 * (by default only from GLF_NT_MIN_FLOATS on, which no test shape
 * reaches), where the device can: a CPU-family device whose probe accepted
 * the builtin must then do so. Elsewhere the variant checks the plain path. */
static glf_status nt_(oh_case *c)
{
    static int told;
    if (glf_ctx_family(c->ctx) == GLF_FAMILY_CPU && glf_ctx_features(c->ctx).nt_store) {
        if (!glf_nt_stores(c->ctx))
            fail_msg("%s: no non-temporal stores on a CPU-family device whose probe accepted "
                     "them",
                     c->label);
    } else if (!told++) {
        print_message("  (no non-temporal stores on this device: GLF_NT_STORES=all changes "
                      "nothing here)\n");
    }
    return GLF_OK;
}

#define CONV_VARIANTS_                                                                             \
    {                                                                                              \
        {"implicit im2col", {NULL}, implicit_, T_IMPLICIT, 0},                                     \
            {"CLBlast", {NULL}, clblast_, T_CLBLAST, 0},                                           \
            {"GLF_COL2IM=generic", {"GLF_COL2IM", "generic", NULL}, NULL, T_COL2IM, 1},            \
            {"GLF_PANELS=off", {"GLF_PANELS", "off", NULL}, NULL, T_PANELS, 1},                    \
            {"GLF_NT_STORES=all", {"GLF_NT_STORES", "all", NULL}, nt_, T_NT, 1},                   \
        {                                                                                          \
            "GLF_NT_STORES=all GLF_PANELS=off",                                                    \
                {"GLF_NT_STORES", "all", "GLF_PANELS", "off", NULL}, nt_, T_NT | T_PANELS, 1       \
        }                                                                                          \
    }

/* ---- shapes ---------------------------------------------------------------------------- */

/* Odd shapes: batch 1 and 3, non-square images, K 1/3/4, S 1/2/3, P 0/1/2,
 * kernels smaller than the stride (pixels no window reaches), uneven fits. */
static const glf_conv_shape odd_[] = {
    {1, 3, 7, 7, 5, 3, 1, 0},  {3, 3, 9, 9, 5, 3, 2, 1}, {3, 3, 7, 9, 5, 4, 2, 1},
    {1, 3, 9, 7, 5, 4, 1, 0},  {3, 2, 8, 8, 3, 3, 2, 1}, {3, 3, 7, 7, 5, 1, 2, 0},
    {3, 3, 5, 6, 5, 3, 1, 2},  {1, 1, 1, 1, 1, 1, 1, 0}, {3, 5, 11, 10, 7, 4, 3, 2},
    {2, 2, 3, 67, 3, 3, 2, 1}, /* rows over 64 pixels: the generic col2im */
    {3, 16, 9, 9, 5, 4, 2, 1}, /* Conv2d's R = 256: colT's rows 1 KiB apart */
    {3, 5, 5, 7, 16, 4, 2, 1}, /* ConvTranspose2d's R = 256, the same */
};
#define NODD_ (sizeof odd_ / sizeof odd_[0])
/* The odd shapes that also run under the other kernel family: every K, S
 * and P above, batch 1, 2 and 3, both offsets, pixels no window reaches,
 * the generic col2im and R = 256 (the other family's kernels are built
 * once per window, so not all twelve). */
static const int odd_x2_[NODD_] = {0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1};

enum { MAXCASES_ = 40 };

typedef struct case_list_ {
    conv_case_ c[MAXCASES_];
    size_t n;
} case_list_;

/* db follows bias, but for the panel and non-temporal shapes: a forward
 * with a bias and a backward without db there. */
static void add_(case_list_ *l, unsigned tags, int tr, glf_conv_shape s, int bias, int dx, int dw,
                 size_t off, const unsigned char *offs)
{
    assert_true(l->n < MAXCASES_);
    conv_case_ c = {tags, tr, s, bias, dx, dw, offs == panels_offs_ ? 0 : bias, off, offs};
    l->c[l->n++] = c;
}

/* The cases of one orientation: the odd shapes (with the flags of the old
 * tests: bias, dx and the offset vary with the index), GLF's 28x28x1 layers
 * at batch 1 and 3 (enc.conv1/2, dec.deconv1/2), and the shapes of the
 * same-bits settings. */
static void cases_(case_list_ *l, int tr)
{
    l->n = 0;
    for (size_t i = 0; i < NODD_; i++) {
        glf_conv_shape s = odd_[i];
        if (tr && (glf_conv_transpose2d_out(s.H, s.K, s.S, s.P) < 1 ||
                   glf_conv_transpose2d_out(s.W, s.K, s.S, s.P) < 1))
            continue;
        unsigned tags = T_IMPLICIT | T_CLBLAST | (odd_x2_[i] ? OH_X2 : 0);
        if (tr)
            add_(l, tags, 1, s, i % 3 != 1, i % 4 != 2, 1, (i % 2) * 5, NULL);
        else
            add_(l, tags, 0, s, i % 3 != 2, i % 4 != 3, 1, (i % 2) * 7, NULL);
    }
    for (int B = 1; B <= 3; B += 2) { /* batch 3 with the implicit operand too */
        unsigned tags = OH_LARGE | (B == 3 ? T_IMPLICIT : 0);
        if (tr) {
            add_(l, tags, 1, (glf_conv_shape){B, 128, 7, 7, 64, 4, 2, 1}, 1, 1, 1, 0, NULL);
            add_(l, tags, 1, (glf_conv_shape){B, 64, 14, 14, 1, 4, 2, 1}, 1, 1, 1, 5, NULL);
        } else {
            add_(l, tags, 0, (glf_conv_shape){B, 1, 28, 28, 64, 4, 2, 1}, 1, 0, 1, 0, NULL);
            add_(l, tags, 0, (glf_conv_shape){B, 64, 14, 14, 128, 4, 2, 1}, 1, 1, 1, 3, NULL);
        }
    }
    /* col2im (Conv2d's input gradient, ConvTranspose2d's forward) has a
     * kernel with the image side as constants and a generic one: GLF's
     * enc.conv2, odd images, windows over the stride, pixels no tap reaches.
     * Conv2d's dx alone there (dw and db skipped), ConvTranspose2d with a bias. */
    const glf_conv_shape col2im[] = {{3, 64, 14, 14, 128, 4, 2, 1},
                                     {2, 3, 9, 7, 5, 4, 2, 1},
                                     {2, 3, 7, 9, 5, 3, 1, 0},
                                     {3, 5, 11, 10, 7, 4, 3, 2},
                                     {2, 2, 8, 8, 3, 1, 2, 0}};
    for (int i = 0; i < 5; i++)
        add_(l, T_COL2IM | (i == 0 ? OH_LARGE : 0), tr, col2im[i], tr, 1, tr, 0, col2im_offs_);
    /* Panels (glf_gemm_panels): dy, x, y and dx go to the GEMMs as they are
     * and colT is written in panels where glf's tile width divides R;
     * GLF_PANELS=off makes the plain copies and column matrix that the GEMM
     * packs or reads by rows. Both must give the same bits (each element is
     * the same fma chain, the bias added once). Conv2d writes y in panels,
     * ConvTranspose2d takes x as panels and writes dx in panels. R = 256 at
     * batch 3 (Conv2d) and at batch 1 (ConvTranspose2d: a partial row
     * block of pixels, A packed from panels), GLF's enc.conv2 and
     * dec.deconv1 at batch 2, and a batch whose K = B*Ho*Wo = 2107 is split,
     * with a partial row block (Cout 13). The same shapes but the split ones
     * (and a 3x3 window: R = 288, no panel width, the scalar loop) with
     * non-temporal stores. */
    if (tr) {
        add_(l, T_PANELS | T_NT, 1, (glf_conv_shape){1, 5, 5, 7, 16, 4, 2, 1}, 1, 1, 1, 0,
             panels_offs_);
        add_(l, T_PANELS | T_NT | OH_LARGE, 1, (glf_conv_shape){2, 128, 7, 7, 64, 4, 2, 1}, 1, 1, 1,
             0, panels_offs_);
        add_(l, T_PANELS, 1, (glf_conv_shape){43, 13, 7, 7, 16, 4, 2, 1}, 1, 1, 1, 0, panels_offs_);
    } else {
        add_(l, T_PANELS | T_NT, 0, (glf_conv_shape){3, 16, 9, 9, 5, 4, 2, 1}, 1, 1, 1, 0,
             panels_offs_);
        add_(l, T_PANELS | T_NT | OH_LARGE, 0, (glf_conv_shape){2, 64, 14, 14, 128, 4, 2, 1}, 1, 1,
             1, 0, panels_offs_);
        add_(l, T_PANELS, 0, (glf_conv_shape){43, 16, 14, 14, 13, 4, 2, 1}, 1, 1, 1, 0,
             panels_offs_);
        add_(l, T_NT, 0, (glf_conv_shape){2, 32, 9, 7, 8, 3, 1, 1}, 1, 1, 1, 0, panels_offs_);
    }
}

static void run_conv_row_(int tr)
{
    static case_list_ l;
    cases_(&l, tr);
    const oh_row row = {
        .name = tr ? "conv_transpose2d" : "conv2d",
        .shapes = l.c,
        .nshapes = l.n,
        .shape_size = sizeof l.c[0],
        .describe = conv_describe_,
        .setup = conv_setup_,
        .reference = conv_reference_,
        .forward = conv_forward_,
        .backward = conv_backward_,
        .check = conv_check_,
        .ctx_setup = materialised_,
        .variants = CONV_VARIANTS_,
    };
    oh_run_row(&row);
}

static void test_conv2d(void **state)
{
    (void)state;
    run_conv_row_(0);
}

static void test_conv_transpose2d(void **state)
{
    (void)state;
    run_conv_row_(1);
}

/* ---- beside the table --------------------------------------------------------------------- */

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
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv_transpose2d),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
