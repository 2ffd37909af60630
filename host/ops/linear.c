/* Linear (PyTorch nn.Linear): y = x w^T + b as one GEMM (A B^T form) whose
 * store adds the bias (and optionally ReLU); backward as two GEMMs (glf_gemm) plus a fixed-order bias
 * sum; cl/linear.cl. */
#include "glf/ops_conv.h"

#include <limits.h>

#include "glf/gemm.h"

#define LIN_WG_ 64

static glf_status check_(const char *op, int B, int IN, int OUT)
{
    if (B < 1 || IN < 1 || OUT < 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: B=%d IN=%d OUT=%d, expected all >= 1", op, B, IN,
                        OUT);
    size_t big = (size_t)(IN > B ? IN : B) * (size_t)OUT;
    if ((size_t)B * IN > big)
        big = (size_t)B * IN;
    if (big > (size_t)INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: B=%d IN=%d OUT=%d give %zu floats in one tensor, expected <= %d", op,
                        B, IN, OUT, big, INT_MAX);
    return GLF_OK;
}

static glf_status need_(const char *op, const char *what, glf_dptr p)
{
    if (!p.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: %s.buf is NULL, expected a buffer", op, what);
    return GLF_OK;
}

glf_status glf_linear_forward_act(glf_ctx *ctx, glf_dptr y, glf_dptr x, glf_dptr w, glf_dptr b,
                                  int B, int IN, int OUT, int relu)
{
    static const char *op = "glf_linear_forward";
    GLF_TRY(check_(op, B, IN, OUT));
    GLF_TRY(need_(op, "y", y));
    GLF_TRY(need_(op, "x", x));
    GLF_TRY(need_(op, "w", w));
    /* y (B, OUT) = x (B, IN) * w^T (IN, OUT) + b, the bias (and ReLU) added
     * as the GEMM writes y: the bits of a bias-filled y with beta = 1. */
    glf_gemm_epilogue ep = {b, relu ? GLF_GEMM_ACT_RELU : GLF_GEMM_ACT_NONE, 0};
    glf_gemm_operand xa = glf_gemm_plain(x, (size_t)IN, GLF_NO_TRANS);
    glf_gemm_operand wb = glf_gemm_plain(w, (size_t)IN, GLF_TRANS);
    glf_gemm_operand yc = glf_gemm_plain(y, (size_t)OUT, GLF_NO_TRANS);
    return glf_gemm_run(ctx, (size_t)B, (size_t)OUT, (size_t)IN, 1.0f, &xa, &wb, 0.0f, &yc,
                        (b.buf || relu) ? &ep : NULL);
}

glf_status glf_linear_forward(glf_ctx *ctx, glf_dptr y, glf_dptr x, glf_dptr w, glf_dptr b, int B,
                              int IN, int OUT)
{
    return glf_linear_forward_act(ctx, y, x, w, b, B, IN, OUT, 0);
}

glf_status glf_linear_backward(glf_ctx *ctx, glf_dptr dx, glf_dptr dw, glf_dptr db, glf_dptr dy,
                               glf_dptr x, glf_dptr w, int B, int IN, int OUT, int accumulate)
{
    static const char *op = "glf_linear_backward";
    GLF_TRY(check_(op, B, IN, OUT));
    GLF_TRY(need_(op, "dy", dy));
    if (db.buf) {
        cl_kernel k;
        GLF_TRY(glf_kernel(ctx, "linear", "bias_grad", NULL, &k));
        size_t gl = (size_t)OUT, lo = LIN_WG_;
        GLF_TRY(GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(db), GLF_DP(dy), GLF_I32(B), GLF_I32(OUT),
                           GLF_I32(accumulate != 0)));
    }
    if (dw.buf) {
        GLF_TRY(need_(op, "x", x));
        /* dw (OUT, IN) (+)= dy^T (OUT, B) * x (B, IN) */
        GLF_TRY(glf_gemm(ctx, GLF_TRANS, GLF_NO_TRANS, OUT, IN, B, 1.0f, dy.buf, dy.off, OUT,
                         x.buf, x.off, IN, accumulate ? 1.0f : 0.0f, dw.buf, dw.off, IN));
    }
    if (dx.buf) {
        GLF_TRY(need_(op, "w", w));
        /* dx (B, IN) = dy (B, OUT) * w (OUT, IN) */
        GLF_TRY(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, B, IN, OUT, 1.0f, dy.buf, dy.off, OUT,
                         w.buf, w.off, IN, 0.0f, dx.buf, dx.off, IN));
    }
    return GLF_OK;
}
