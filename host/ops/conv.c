/* Conv2d and ConvTranspose2d on im2col/col2im + one GEMM over the whole
 * batch per step; the weight gradients as A*B with the transposed im2col
 * colT (N, R) whose rows run along the result; bias gradients by a
 * two-stage fixed-order sum. With glf's kernels the (B, C, L) tensors go to
 * the GEMMs as column panels (glf_gemm_panels_ex: the C x B*L matrix in
 * panels L wide) and the backward passes write colT as the GEMM's packed
 * panels; otherwise (CLBlast, GLF_PANELS=off) layout permutes make plain
 * copies. Kernels in cl/conv.cl; GEMMs through glf_gemm_run, with the
 * im2col operand materialised or implicit per the context's policy
 * (glf_conv_im2col_policy, kept here). */
#include "glf/ops_conv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/gemm.h"
#include "glf/tune.h"
#include "runtime/slots.h"

/* Work-group size (dim 0) of the kernels here but col2im_fixed: small, so
 * PoCL vectorises along it without barriers; fixed, so each kernel compiles
 * once. */
#define CONV_WG_ 16
#define COL2IM_ROWS_ 64 /* image rows per work-group of col2im_fixed */
#define COL2IM_FIXED_MAX_W_ 64 /* rows up to 64 pixels by col2im_fixed (unrolled) */
#define SIMT_WG_ 64 /* work-group of the SIMT family's im2col, col2im and bias gradient */

int glf_conv2d_out(int in, int K, int S, int P)
{
    if (S < 1)
        return 0;
    int span = in + 2 * P - K;
    return span < 0 ? 0 : span / S + 1;
}

int glf_conv_transpose2d_out(int in, int K, int S, int P)
{
    return (in - 1) * S - 2 * P + K;
}

/* ---- the im2col policy --------------------------------------------------------- */

/* The untuned policy, both orientations: materialised, which measured
 * faster on PoCL's CPU device. */
#define IM2COL_DEFAULT_ 0

struct policy_ {
    int use[2];
};

/* ctx's policy, made on first use from the device's stored choice (an
 * unreadable store leaves the defaults). NULL when out of memory. */
static struct policy_ *policy_(glf_ctx *ctx)
{
    int fresh;
    struct policy_ *p = glf_ctx_slot_(ctx, GLF_SLOT_CONV_, sizeof *p, &fresh);
    if (p && fresh) {
        int use[2], found = 0;
        p->use[0] = p->use[1] = IM2COL_DEFAULT_;
        if (glf_conv_tuned(ctx, use, &found) == GLF_OK && found)
            p->use[0] = use[0], p->use[1] = use[1];
        glf_clear_error();
    }
    return p;
}

const char *glf_conv_im2col_word(int use)
{
    return use ? "implicit" : "materialised";
}

void glf_conv_im2col_policy(glf_ctx *ctx, int use[2])
{
    const struct policy_ *p = policy_(ctx);
    use[0] = p ? p->use[0] : IM2COL_DEFAULT_;
    use[1] = p ? p->use[1] : IM2COL_DEFAULT_;
}

glf_status glf_conv_set_im2col_policy(glf_ctx *ctx, const int use[2])
{
    if ((use[0] != 0 && use[0] != 1) || (use[1] != 0 && use[1] != 1))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_conv_set_im2col_policy: use {%d, %d}, expected 0 or 1 each", use[0],
                        use[1]);
    struct policy_ *p = policy_(ctx);
    if (!p)
        return glf_fail(GLF_ERR_NOMEM, "out of memory for the convolutions' policy");
    p->use[0] = use[0], p->use[1] = use[1];
    return GLF_OK;
}

/* The GEMM problem either op reduces to: a conv over an "image" of C channels
 * (side H x W) whose column grid is Ho x Wo, with R = C*K*K column rows.
 * Conv2d: image = x, grid = y. ConvTranspose2d: image = y, grid = x. */
typedef struct geom_ {
    int B, C, H, W, K, S, P, Ho, Wo;
    size_t L, N, R; /* Ho*Wo, B*L, C*K*K */
} geom_;

static glf_status check_shape_(const char *op, const glf_conv_shape *s, int transpose, geom_ *g,
                               int *Ho, int *Wo)
{
    if (!s)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: shape is NULL", op);
    if (s->B < 1 || s->Cin < 1 || s->H < 1 || s->W < 1 || s->Cout < 1 || s->K < 1 || s->S < 1 ||
        s->P < 0)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: shape B=%d Cin=%d H=%d W=%d Cout=%d K=%d S=%d P=%d, expected "
                        "B, Cin, H, W, Cout, K, S >= 1 and P >= 0",
                        op, s->B, s->Cin, s->H, s->W, s->Cout, s->K, s->S, s->P);
    if (!transpose) {
        if (s->H + 2 * s->P < s->K || s->W + 2 * s->P < s->K)
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "%s: kernel K=%d larger than the padded input %dx%d (P=%d)", op, s->K,
                            s->H, s->W, s->P);
        *Ho = glf_conv2d_out(s->H, s->K, s->S, s->P);
        *Wo = glf_conv2d_out(s->W, s->K, s->S, s->P);
        *g = (geom_){s->B, s->Cin, s->H, s->W, s->K, s->S, s->P, *Ho, *Wo, 0, 0, 0};
    } else {
        *Ho = glf_conv_transpose2d_out(s->H, s->K, s->S, s->P);
        *Wo = glf_conv_transpose2d_out(s->W, s->K, s->S, s->P);
        if (*Ho < 1 || *Wo < 1)
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "%s: output %dx%d from input %dx%d (K=%d S=%d P=%d), expected >= 1", op,
                            *Ho, *Wo, s->H, s->W, s->K, s->S, s->P);
        *g = (geom_){s->B, s->Cout, *Ho, *Wo, s->K, s->S, s->P, s->H, s->W, 0, 0, 0};
    }
    g->L = (size_t)g->Ho * (size_t)g->Wo;
    g->N = (size_t)g->B * g->L;
    g->R = (size_t)g->C * (size_t)g->K * (size_t)g->K;
    /* Kernels index with int: every tensor and the column matrix must fit. */
    size_t cmax = (size_t)(s->Cin > s->Cout ? s->Cin : s->Cout);
    size_t biggest = g->R * g->N;
    size_t img =
        (size_t)s->B * cmax * (size_t)(*Ho > s->H ? *Ho : s->H) * (size_t)(*Wo > s->W ? *Wo : s->W);
    if (cmax * g->N > biggest)
        biggest = cmax * g->N;
    if (img > biggest)
        biggest = img;
    if (biggest > (size_t)INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: %zu floats in one tensor (B=%d), expected <= %d; use a smaller "
                        "batch",
                        op, biggest, s->B, INT_MAX);
    return GLF_OK;
}

static glf_status need_(const char *op, const char *what, glf_dptr p)
{
    if (!p.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: %s.buf is NULL, expected a buffer", op, what);
    return GLF_OK;
}

static glf_status kern_(glf_ctx *ctx, const char *name, cl_kernel *k)
{
    return glf_kernel(ctx, "conv", name, NULL, k);
}

/* im2col_t, col2im built with the window as constants (cl/conv.cl):
 * one more program per distinct (K, S, P), whose loops the compiler unrolls. */
static glf_status kern_win_(glf_ctx *ctx, const char *name, const geom_ *g, cl_kernel *k)
{
    char opt[96];
    snprintf(opt, sizeof opt, "-DCONV_K=%d -DCONV_S=%d -DCONV_P=%d -DGLF_NT=%d", g->K, g->S,
             g->P, glf_nt_stores(ctx));
    return glf_kernel(ctx, "conv", name, opt, k);
}

/* Whether the GEMMs take the convolutions' tensors as column panels
 * (glf_gemm_panels): a (B, C, L) tensor is the C x B*L matrix in panels L
 * wide, so dy and x go to the weight gradients' and input gradients' GEMMs
 * as they are, without the layout permutes (bcl_to_cbl, bcl_to_blc) that
 * made plain copies; and the backward passes write colT in panels (see
 * panel_width_). Only with glf's own kernels; GLF_PANELS=off makes plain
 * copies as before (same bits: each element is the same fma chain; for
 * tests and benchmarks; the option panels). */
static int panels_on_(glf_ctx *ctx)
{
    return glf_ctx_options(ctx)->panels && glf_gemm_takes(ctx, GLF_GEMM_PANELS);
}

/* The width of the column panels the backward passes have colT written in:
 * they are the panels glf's kernels would pack for the weight gradient
 * from a plain colT, so that pass goes (enc.conv2's 12544 x 1024 colT:
 * 8-12 ms a step, bench_train --by-op); ConvTranspose2d's input gradient
 * then reads the same colT as A a panel at a time. Not in Conv2d's
 * forward, whose GEMM reads colT only as A: from panels it was slower than
 * from a plain colT (29.9 -> 38.1 ms, enc.conv2, alternated). 0: a plain
 * colT (panels off; R not a multiple of the tile set's width; the width
 * not a multiple of K*K). */
static size_t panel_width_(glf_ctx *ctx, const geom_ *g)
{
    if (!panels_on_(ctx))
        return 0;
    size_t tn = glf_gemm_panel_width(ctx, g->R), kk = (size_t)g->K * (size_t)g->K;
    return tn && g->R % tn == 0 && tn % kk == 0 ? tn : 0;
}

/* C (M, N) = op(A) op(B) + beta C, C plain (ldc) or in panels L wide (L
 * != 0: a (B, C, L) tensor), plus the bias b by row (b.buf NULL: none). */
static glf_status gemm_(glf_ctx *ctx, size_t M, size_t N, size_t K, const glf_gemm_operand *A,
                        const glf_gemm_operand *B, float beta, glf_dptr C, size_t ldc, size_t L,
                        glf_dptr b)
{
    glf_gemm_operand c = L ? glf_gemm_panels(C, L, GLF_NO_TRANS)
                           : glf_gemm_plain(C, ldc, GLF_NO_TRANS);
    glf_gemm_epilogue ep = {b, GLF_GEMM_ACT_NONE, 1};
    return glf_gemm_run(ctx, M, N, K, 1.0f, A, B, beta, &c, b.buf ? &ep : NULL);
}

/* colT (N, R) as im2col_t_ wrote it, as op(X) = colT or colT^T (t): in
 * panels tn wide, or plain (tn 0). */
static glf_gemm_operand colt_(glf_dptr col, const geom_ *g, size_t tn, glf_trans t)
{
    return tn ? glf_gemm_panels(col, tn, t) : glf_gemm_plain(col, g->R, t);
}

/* colT (N, R) = the transpose of im2col(img): row n holds pixel n's window;
 * in column panels tn wide (tn != 0) or plain (0). */
static glf_status im2col_t_(glf_ctx *ctx, glf_dptr col, glf_dptr img, const geom_ *g, size_t tn)
{
    cl_kernel k;
    if (glf_ctx_family(ctx) == GLF_FAMILY_SIMT) { /* a work-item per float of colT */
        GLF_TRY(kern_win_(ctx, "im2col_t_elem", g, &k));
        size_t gl = g->N * g->R, lo = SIMT_WG_;
        return GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(col), GLF_DP(img), GLF_I32(g->B),
                          GLF_I32(g->C), GLF_I32(g->H), GLF_I32(g->W), GLF_I32(g->K),
                          GLF_I32(g->S), GLF_I32(g->P), GLF_I32(g->Ho), GLF_I32(g->Wo),
                          GLF_I32(tn ? tn : g->R));
    }
    GLF_TRY(kern_win_(ctx, "im2col_t", g, &k));
    size_t gl = g->N, lo = CONV_WG_;
    return GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(col), GLF_DP(img), GLF_I32(g->B), GLF_I32(g->C),
                      GLF_I32(g->H), GLF_I32(g->W), GLF_I32(g->K), GLF_I32(g->S), GLF_I32(g->P),
                      GLF_I32(g->Ho), GLF_I32(g->Wo), GLF_I32(tn ? tn : g->R),
                      GLF_I32(glf_nt_output(ctx, g->N * g->R)));
}

static glf_status col2im_(glf_ctx *ctx, glf_dptr img, glf_dptr col, glf_dptr bias, const geom_ *g)
{
    cl_kernel k;
    if (glf_ctx_family(ctx) == GLF_FAMILY_SIMT) { /* a work-item per image pixel */
        GLF_TRY(kern_win_(ctx, "col2im_px", g, &k));
        size_t gl = (size_t)g->B * g->C * g->H * g->W, lo = SIMT_WG_;
        return GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(img), GLF_DP(col), GLF_DP(bias),
                          GLF_I32(bias.buf != NULL), GLF_I32(g->B), GLF_I32(g->C), GLF_I32(g->H),
                          GLF_I32(g->W), GLF_I32(g->K), GLF_I32(g->S), GLF_I32(g->P),
                          GLF_I32(g->Ho), GLF_I32(g->Wo));
    }
    /* The image side as constants too (col2im_fixed, ~4x faster on PoCL),
     * unless the rows are long (the loops unroll over a row) or the
     * option col2im_fixed is off (GLF_COL2IM=generic: the generic kernel,
     * same bits; for tests and benchmarks). */
    if (g->W <= COL2IM_FIXED_MAX_W_ && glf_ctx_options(ctx)->col2im_fixed) {
        char opt[128];
        snprintf(opt, sizeof opt, "-DCONV_K=%d -DCONV_S=%d -DCONV_P=%d -DCONV_H=%d -DCONV_W=%d",
                 g->K, g->S, g->P, g->H, g->W);
        GLF_TRY(glf_kernel(ctx, "conv", "col2im_fixed", opt, &k));
        /* one work-item along dimension 0 (see the kernel) */
        size_t rows = (size_t)g->B * g->C * g->H;
        size_t gp[2] = {1, (rows + COL2IM_ROWS_ - 1) / COL2IM_ROWS_ * COL2IM_ROWS_},
               lp[2] = {1, COL2IM_ROWS_};
        return GLF_LAUNCH(ctx, k, 2, gp, lp, GLF_DP(img), GLF_DP(col), GLF_DP(bias),
                          GLF_I32(bias.buf != NULL), GLF_I32(g->B), GLF_I32(g->C));
    }
    GLF_TRY(kern_win_(ctx, "col2im", g, &k));
    size_t gl = (size_t)g->B * g->C * g->H, lo = CONV_WG_;
    return GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(img), GLF_DP(col), GLF_DP(bias),
                      GLF_I32(bias.buf != NULL), GLF_I32(g->B), GLF_I32(g->C), GLF_I32(g->H),
                      GLF_I32(g->W), GLF_I32(g->K), GLF_I32(g->S), GLF_I32(g->P), GLF_I32(g->Ho),
                      GLF_I32(g->Wo));
}

/* The im2col of img under g as a GEMM operand: op(B) = col (R, N), or
 * col^T (N, R) when transposed. */
static glf_gemm_operand ib_(glf_dptr img, const geom_ *g, int transposed)
{
    glf_gemm_im2col im = {g->B, g->C, g->H, g->W, g->K, g->S, g->P, g->Ho, g->Wo};
    return glf_gemm_image(img, im, transposed ? GLF_TRANS : GLF_NO_TRANS);
}

/* Whether the GEMM takes op(B) as the implicit im2col rather than a
 * materialised column matrix, for op(B) along the taps (pixels 0: Conv2d
 * forward, ConvTranspose2d input gradient) or along the pixels (1: weight
 * gradients): glf's kernels and the context's policy (tuned by
 * glf_conv_tune). */
static int implicit_(glf_ctx *ctx, int pixels)
{
    int use[2];
    if (!glf_gemm_takes(ctx, GLF_GEMM_IM2COL))
        return 0;
    glf_conv_im2col_policy(ctx, use);
    return use[pixels];
}

/* out (C, B*L) <- in (B, C, L). */
static glf_status to_cbl_(glf_ctx *ctx, glf_dptr out, glf_dptr in, int B, int C, size_t L)
{
    cl_kernel k;
    GLF_TRY(kern_(ctx, "bcl_to_cbl", &k));
    size_t gl = (size_t)B * C, lo = CONV_WG_;
    return GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(out), GLF_DP(in), GLF_I32(B), GLF_I32(C),
                      GLF_I32(L));
}

/* out (B, C, L) <- in (C, B*L) + bias. */
static glf_status to_bcl_(glf_ctx *ctx, glf_dptr out, glf_dptr in, glf_dptr bias, int B, int C,
                          size_t L)
{
    cl_kernel k;
    GLF_TRY(kern_(ctx, "cbl_to_bcl", &k));
    size_t gl = (size_t)B * C, lo = CONV_WG_;
    return GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(out), GLF_DP(in), GLF_DP(bias),
                      GLF_I32(bias.buf != NULL), GLF_I32(B), GLF_I32(C), GLF_I32(L));
}

/* out (B, L, C) <- in (B, C, L); B = 1 transposes a matrix (C, L). */
static glf_status to_blc_(glf_ctx *ctx, glf_dptr out, glf_dptr in, int B, int C, size_t L)
{
    cl_kernel k;
    GLF_TRY(kern_(ctx, "bcl_to_blc", &k));
    size_t gl = (size_t)B * L, lo = CONV_WG_;
    return GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(out), GLF_DP(in), GLF_I32(B), GLF_I32(C),
                      GLF_I32(L));
}

/* db (C) (+)= sum over b and l of dy (B, C, L); part: B*C floats of scratch. */
static glf_status bias_grad_(glf_ctx *ctx, glf_dptr db, glf_dptr dy, glf_dptr part, int B, int C,
                             size_t L, int accumulate)
{
    cl_kernel k1, k2;
    if (glf_ctx_family(ctx) == GLF_FAMILY_SIMT) { /* one work-group reduction per channel */
        char opt[32];
        snprintf(opt, sizeof opt, "-DCONV_WG_SUM=%d", SIMT_WG_);
        GLF_TRY(glf_kernel(ctx, "conv", "bias_grad_wg", opt, &k1));
        size_t gl = (size_t)C * SIMT_WG_, lo = SIMT_WG_;
        return GLF_LAUNCH(ctx, k1, 1, &gl, &lo, GLF_DP(db), GLF_DP(dy), GLF_I32(B), GLF_I32(C),
                          GLF_I32(L), GLF_I32(accumulate != 0));
    }
    GLF_TRY(kern_(ctx, "bias_grad_partial", &k1));
    GLF_TRY(kern_(ctx, "bias_grad_final", &k2));
    size_t g1 = (size_t)B * C, g2 = (size_t)C, lo = CONV_WG_;
    GLF_TRY(GLF_LAUNCH(ctx, k1, 1, &g1, &lo, GLF_DP(part), GLF_DP(dy), GLF_I32(B), GLF_I32(C),
                       GLF_I32(L)));
    return GLF_LAUNCH(ctx, k2, 1, &g2, &lo, GLF_DP(db), GLF_DP(part), GLF_I32(B), GLF_I32(C),
                      GLF_I32(accumulate != 0));
}

static glf_dptr at_(glf_dptr p, size_t floats)
{
    return glf_dp(p.buf, p.off + floats);
}

/* ---- Conv2d ---------------------------------------------------------------- */

/* Every GEMM is in the A B^T form (both operands contiguous along the
 * reduction), the fastest tile kernel on PoCL (see bench_ops_conv).
 * Layout of `work`: col (R*N: colT (N, R), col (R, N) or dcol (R, N)) |
 * yT/dyT (Cout, N), reused for dy as (N, Cout) | wT (R, Cout) | bias
 * partials (Cout, B). */
size_t glf_conv2d_workspace(const glf_conv_shape *s)
{
    geom_ g;
    int Ho, Wo;
    if (check_shape_("glf_conv2d_workspace", s, 0, &g, &Ho, &Wo) != GLF_OK)
        return 0;
    return g.R * g.N + (size_t)s->Cout * g.N + g.R * s->Cout + (size_t)s->Cout * s->B;
}

glf_status glf_conv2d_forward(glf_ctx *ctx, glf_dptr y, glf_dptr x, glf_dptr w, glf_dptr b,
                              const glf_conv_shape *s, glf_dptr work)
{
    static const char *op = "glf_conv2d_forward";
    geom_ g;
    int Ho, Wo;
    GLF_TRY(check_shape_(op, s, 0, &g, &Ho, &Wo));
    GLF_TRY(need_(op, "y", y));
    GLF_TRY(need_(op, "x", x));
    GLF_TRY(need_(op, "w", w));
    GLF_TRY(need_(op, "work", work));
    glf_dptr col = work, yT = at_(work, g.R * g.N);
    const int imp = implicit_(ctx, 0), tp = panels_on_(ctx);
    if (imp) { /* yT (Cout, N) = w (Cout, R) * col (R, N), implicit */
        glf_gemm_operand a = glf_gemm_plain(w, g.R, GLF_NO_TRANS), bo = ib_(x, &g, 0);
        GLF_TRY(gemm_(ctx, s->Cout, g.N, g.R, &a, &bo, 0.0f, yT, g.N, 0, glf_dp(NULL, 0)));
    } else {
        GLF_TRY(im2col_t_(ctx, col, x, &g, 0));
        /* y (B, Cout, L) = w (Cout, R) * colT (N, R)^T + b, colT plain (see
         * panel_width_): y is the Cout x N matrix in panels L wide, the bias
         * by row (or yT (Cout, N), then permuted with the bias) */
        glf_gemm_operand a = glf_gemm_plain(w, g.R, GLF_NO_TRANS);
        glf_gemm_operand bo = glf_gemm_plain(col, g.R, GLF_TRANS);
        GLF_TRY(gemm_(ctx, s->Cout, g.N, g.R, &a, &bo, 0.0f, tp ? y : yT, g.N, tp ? g.L : 0,
                      tp ? b : glf_dp(NULL, 0)));
    }
    if (imp || !tp) /* yT (Cout, N): permuted into y, with the bias */
        GLF_TRY(to_bcl_(ctx, y, yT, b, s->B, s->Cout, g.L));
    return GLF_OK;
}

glf_status glf_conv2d_backward(glf_ctx *ctx, glf_dptr dx, glf_dptr dw, glf_dptr db, glf_dptr dy,
                               glf_dptr x, glf_dptr w, const glf_conv_shape *s, glf_dptr work,
                               int accumulate)
{
    static const char *op = "glf_conv2d_backward";
    geom_ g;
    int Ho, Wo;
    GLF_TRY(check_shape_(op, s, 0, &g, &Ho, &Wo));
    GLF_TRY(need_(op, "dy", dy));
    GLF_TRY(need_(op, "work", work));
    size_t Co = (size_t)s->Cout;
    glf_dptr col = work, dyT = at_(work, g.R * g.N), wT = at_(work, g.R * g.N + Co * g.N);
    glf_dptr part = at_(work, g.R * g.N + Co * g.N + g.R * Co);
    if (db.buf)
        GLF_TRY(bias_grad_(ctx, db, dy, part, s->B, s->Cout, g.L, accumulate));
    const int tp = panels_on_(ctx);
    if (dw.buf) {
        GLF_TRY(need_(op, "x", x));
        const int imp = implicit_(ctx, 1);
        if (imp || !tp) /* dyT (Cout, N), unless dy goes in as panels */
            GLF_TRY(to_cbl_(ctx, dyT, dy, s->B, s->Cout, g.L));
        if (imp) { /* dw (Cout, R) (+)= dyT (Cout, N) * col^T, implicit */
            glf_gemm_operand a = glf_gemm_plain(dyT, g.N, GLF_NO_TRANS), b = ib_(x, &g, 1);
            GLF_TRY(gemm_(ctx, Co, g.R, g.N, &a, &b, accumulate ? 1.0f : 0.0f, dw, g.R, 0,
                          glf_dp(NULL, 0)));
        } else {
            /* dw (Cout, R) (+)= dyT (Cout, N) * colT (N, R): the transposed
             * im2col makes op(B) untransposed (a transposing pack of col (R, N)
             * cost ~3x more), written straight into the GEMM's panels where
             * the tile width allows (panel_width_), else packed by rows; dyT
             * is dy itself in panels L wide */
            size_t tn = panel_width_(ctx, &g);
            GLF_TRY(im2col_t_(ctx, col, x, &g, tn));
            glf_gemm_operand a = tp ? glf_gemm_panels(dy, g.L, GLF_NO_TRANS)
                                    : glf_gemm_plain(dyT, g.N, GLF_NO_TRANS);
            glf_gemm_operand b = colt_(col, &g, tn, GLF_NO_TRANS);
            GLF_TRY(gemm_(ctx, Co, g.R, g.N, &a, &b, accumulate ? 1.0f : 0.0f, dw, g.R, 0,
                          glf_dp(NULL, 0)));
        }
    }
    if (dx.buf) {
        GLF_TRY(need_(op, "w", w));
        GLF_TRY(to_blc_(ctx, wT, w, 1, s->Cout, g.R));
        /* dcol (R, N) = wT (R, Cout) * dyT (Cout, N), into col's space: dyT
         * as dy in panels, or op(B) = dyP^T with dyP = dy as (N, Cout) in
         * dyT's space (dw is done with it) */
        glf_dptr dyP = dyT;
        if (!tp)
            GLF_TRY(to_blc_(ctx, dyP, dy, s->B, s->Cout, g.L));
        glf_gemm_operand a = glf_gemm_plain(wT, Co, GLF_NO_TRANS);
        glf_gemm_operand b = tp ? glf_gemm_panels(dy, g.L, GLF_NO_TRANS)
                                : glf_gemm_plain(dyP, Co, GLF_TRANS);
        GLF_TRY(gemm_(ctx, g.R, g.N, Co, &a, &b, 0.0f, col, g.N, 0, glf_dp(NULL, 0)));
        GLF_TRY(col2im_(ctx, dx, col, glf_dp(NULL, 0), &g));
    }
    return GLF_OK;
}

/* ---- ConvTranspose2d --------------------------------------------------------- */

/* Layout of `work`: col (R*N, R = Cout*K*K over the N = B*H*W input pixels:
 * col (R, N) or colT (N, R)) | x as (N, Cin) or (Cin, N), reused for dxT
 * (Cin, N) | wT (R, Cin) | bias partials (Cout, B). */
size_t glf_conv_transpose2d_workspace(const glf_conv_shape *s)
{
    geom_ g;
    int Ho, Wo;
    if (check_shape_("glf_conv_transpose2d_workspace", s, 1, &g, &Ho, &Wo) != GLF_OK)
        return 0;
    return g.R * g.N + (size_t)s->Cin * g.N + g.R * s->Cin + (size_t)s->Cout * s->B;
}

glf_status glf_conv_transpose2d_forward(glf_ctx *ctx, glf_dptr y, glf_dptr x, glf_dptr w,
                                        glf_dptr b, const glf_conv_shape *s, glf_dptr work)
{
    static const char *op = "glf_conv_transpose2d_forward";
    geom_ g;
    int Ho, Wo;
    GLF_TRY(check_shape_(op, s, 1, &g, &Ho, &Wo));
    GLF_TRY(need_(op, "y", y));
    GLF_TRY(need_(op, "x", x));
    GLF_TRY(need_(op, "w", w));
    GLF_TRY(need_(op, "work", work));
    size_t Ci = (size_t)s->Cin;
    glf_dptr col = work, xP = at_(work, g.R * g.N), wT = at_(work, g.R * g.N + Ci * g.N);
    const int tp = panels_on_(ctx);
    if (!tp)
        GLF_TRY(to_blc_(ctx, xP, x, s->B, s->Cin, g.L));
    GLF_TRY(to_blc_(ctx, wT, w, 1, s->Cin, g.R));
    /* col (R, N) = wT (R, Cin) * xT (Cin, N): xT as x in panels L wide, or
     * op(B) = xP^T with xP = x as (N, Cin) */
    glf_gemm_operand a = glf_gemm_plain(wT, Ci, GLF_NO_TRANS);
    glf_gemm_operand bo = tp ? glf_gemm_panels(x, g.L, GLF_NO_TRANS)
                             : glf_gemm_plain(xP, Ci, GLF_TRANS);
    GLF_TRY(gemm_(ctx, g.R, g.N, Ci, &a, &bo, 0.0f, col, g.N, 0, glf_dp(NULL, 0)));
    return col2im_(ctx, y, col, b, &g);
}

glf_status glf_conv_transpose2d_backward(glf_ctx *ctx, glf_dptr dx, glf_dptr dw, glf_dptr db,
                                         glf_dptr dy, glf_dptr x, glf_dptr w,
                                         const glf_conv_shape *s, glf_dptr work, int accumulate)
{
    static const char *op = "glf_conv_transpose2d_backward";
    geom_ g;
    int Ho, Wo;
    GLF_TRY(check_shape_(op, s, 1, &g, &Ho, &Wo));
    GLF_TRY(need_(op, "dy", dy));
    GLF_TRY(need_(op, "work", work));
    size_t Ci = (size_t)s->Cin;
    glf_dptr col = work, xT = at_(work, g.R * g.N);
    glf_dptr part = at_(work, g.R * g.N + Ci * g.N + g.R * Ci);
    int have_colT = 0; /* col holds colT = im2col_t(dy) */
    const size_t tn = panel_width_(ctx, &g); /* colT's layout, for both gradients */
    const int tp = panels_on_(ctx);
    if (db.buf)
        GLF_TRY(bias_grad_(ctx, db, dy, part, s->B, s->Cout, (size_t)Ho * Wo, accumulate));
    if (dw.buf) {
        GLF_TRY(need_(op, "x", x));
        const int imp = implicit_(ctx, 1);
        if (imp || !tp) /* xT (Cin, N), unless x goes in as panels */
            GLF_TRY(to_cbl_(ctx, xT, x, s->B, s->Cin, g.L));
        if (imp) { /* dw (Cin, R) (+)= xT (Cin, N) * col^T, implicit */
            glf_gemm_operand a = glf_gemm_plain(xT, g.N, GLF_NO_TRANS), b = ib_(dy, &g, 1);
            GLF_TRY(gemm_(ctx, Ci, g.R, g.N, &a, &b, accumulate ? 1.0f : 0.0f, dw, g.R, 0,
                          glf_dp(NULL, 0)));
        } else {
            /* dw (Cin, R) (+)= xT (Cin, N) * colT (N, R), as in Conv2d */
            GLF_TRY(im2col_t_(ctx, col, dy, &g, tn));
            have_colT = 1;
            glf_gemm_operand a = tp ? glf_gemm_panels(x, g.L, GLF_NO_TRANS)
                                    : glf_gemm_plain(xT, g.N, GLF_NO_TRANS);
            glf_gemm_operand b = colt_(col, &g, tn, GLF_NO_TRANS);
            GLF_TRY(gemm_(ctx, Ci, g.R, g.N, &a, &b, accumulate ? 1.0f : 0.0f, dw, g.R, 0,
                          glf_dp(NULL, 0)));
        }
    }
    if (dx.buf) {
        GLF_TRY(need_(op, "w", w));
        const int imp = implicit_(ctx, 0);
        if (imp) { /* dxT (Cin, N) = w (Cin, R) * col (R, N), implicit */
            glf_gemm_operand a = glf_gemm_plain(w, g.R, GLF_NO_TRANS), b = ib_(dy, &g, 0);
            GLF_TRY(gemm_(ctx, Ci, g.N, g.R, &a, &b, 0.0f, xT, g.N, 0, glf_dp(NULL, 0)));
        } else {
            if (!have_colT) /* the weight gradient's colT is this one: made once */
                GLF_TRY(im2col_t_(ctx, col, dy, &g, tn));
            /* dx (B, Cin, L) = w (Cin, R) * colT (N, R)^T: dx is the Cin x N
             * matrix in panels L wide (or dxT (Cin, N) into xT's space, then
             * permuted) */
            glf_gemm_operand a = glf_gemm_plain(w, g.R, GLF_NO_TRANS);
            glf_gemm_operand b = colt_(col, &g, tn, GLF_TRANS);
            GLF_TRY(gemm_(ctx, Ci, g.N, g.R, &a, &b, 0.0f, tp ? dx : xT, g.N, tp ? g.L : 0,
                          glf_dp(NULL, 0)));
        }
        if (imp || !tp) /* dxT (Cin, N): permuted into dx */
            GLF_TRY(to_bcl_(ctx, dx, xT, glf_dp(NULL, 0), s->B, s->Cin, g.L));
    }
    return GLF_OK;
}
