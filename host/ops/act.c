/* Elementwise activations (ReLU, tanh, sigmoid, output map, fused tanh output
 * map, soft clamp) forward and backward on cl/act.cl, PyTorch semantics. */
#include "glf/ops_norm.h"

#include <limits.h>
#include <stdio.h>

#define GLF_ACT_LOCAL 64 /* work-group size; any value works (bounds checked) */

static const char *const act_names_[] = {"relu",   "tanh",        "sigmoid",
                                         "outmap", "tanh_outmap", "softclamp"};
#define GLF_ACT_COUNT ((int)(sizeof act_names_ / sizeof act_names_[0]))

const char *glf_act_name(glf_act a)
{
    return (int)a >= 0 && (int)a < GLF_ACT_COUNT ? act_names_[a] : "unknown";
}

static glf_status check_(const char *op, glf_act a, size_t n)
{
    if ((int)a < 0 || (int)a >= GLF_ACT_COUNT)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: activation %d, expected 0..%d", op, (int)a,
                        GLF_ACT_COUNT - 1);
    if (n > (size_t)INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: n = %zu floats, expected < 2^31", op, n);
    return GLF_OK;
}

/* In place needs the same offset; a partial overlap would race. */
static glf_status alias_ok_(const char *op, const char *what, glf_dptr a, glf_dptr b, size_t n)
{
    if (a.buf == b.buf && a.off != b.off && a.off < b.off + n && b.off < a.off + n)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: %s partly overlap (offsets %zu, %zu, n %zu); "
                        "expected the same tensor or disjoint ones",
                        op, what, a.off, b.off, n);
    return GLF_OK;
}

glf_status glf_act_forward(glf_ctx *ctx, glf_dptr y /* (n) */, glf_dptr x /* (n) */, size_t n,
                           glf_act a)
{
    static const char op[] = "glf_act_forward";
    GLF_TRY(check_(op, a, n));
    if (!y.buf || !x.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s(%s): y and x are required", op, glf_act_name(a));
    GLF_TRY(alias_ok_(op, "y and x", y, x, n));
    char name[64];
    snprintf(name, sizeof name, "act_%s_fwd", act_names_[a]);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "act", name, NULL, &k));
    size_t g = n, l = GLF_ACT_LOCAL;
    return GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_DP(y), GLF_DP(x), GLF_I32(n));
}

glf_status glf_act_backward(glf_ctx *ctx, glf_dptr dx /* (n) */, glf_dptr dy /* (n) */,
                            glf_dptr x /* (n) */, glf_dptr y /* (n) */, size_t n, glf_act a)
{
    static const char op[] = "glf_act_backward";
    GLF_TRY(check_(op, a, n));
    if (!dx.buf || !dy.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s(%s): dx and dy are required", op, glf_act_name(a));
    const char *kname = act_names_[a];
    int need_x = a == GLF_ACT_RELU || a == GLF_ACT_TANH_OUTMAP || a == GLF_ACT_SOFTCLAMP;
    int need_y = a == GLF_ACT_TANH || a == GLF_ACT_SIGMOID;
    if (a == GLF_ACT_RELU && !x.buf) {
        kname = "relu_y";
        need_x = 0;
        need_y = 1;
    }
    if ((need_x && !x.buf) || (need_y && !y.buf))
        return glf_fail(GLF_ERR_INVALID_ARG, "%s(%s): the forward %s is required", op,
                        glf_act_name(a), need_x ? "input x" : "output y");
    GLF_TRY(alias_ok_(op, "dx and dy", dx, dy, n));
    char name[64];
    snprintf(name, sizeof name, "act_%s_bwd", kname);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "act", name, NULL, &k));
    /* Unused inputs are never read; any valid buffer fills their slot. */
    glf_dptr xs = x.buf ? x : dy, ys = y.buf ? y : dy;
    size_t g = n, l = GLF_ACT_LOCAL;
    return GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_DP(dx), GLF_DP(dy), GLF_DP(xs), GLF_DP(ys),
                      GLF_I32(n));
}
