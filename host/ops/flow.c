/* Host side of cl/flow.cl: the affine half-coupling (forward, inverse,
 * backward) and the column shuffle between coupling blocks. Arguments are
 * checked here; the kernels only check bounds. */
#include <limits.h>

#include "glf/ops_flow.h"

#include "check.h"

/* One fixed local size for every launch: PoCL generates code once per local
 * size, and small groups without barriers suit its CPU device. */
#define GLF_FLOW_WG 64

static glf_status check_bd_(const char *op, int B, int D)
{
    if (B < 0 || D < 0 || (D > 0 && B > INT_MAX / D))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: B = %d, D = %d, expected B, D >= 0 and B*D < 2^31", op, B, D);
    return GLF_OK;
}

/* A dummy for optional tensors that are not wanted (never dereferenced). */
static glf_dptr or_(glf_dptr p, glf_dptr fallback)
{
    return p.buf ? p : fallback;
}

glf_status glf_affine_forward(glf_ctx *ctx, glf_dptr v, glf_dptr ldj, glf_dptr u, glf_dptr s_raw,
                              glf_dptr t, int B, int D, int ldj_accumulate)
{
    static const char *op = "glf_affine_forward";
    GLF_TRY(check_bd_(op, B, D));
    size_t n = (size_t)B * (size_t)D;
    GLF_TRY(glf_check_dptr_(op, "v", v, n));
    GLF_TRY(glf_check_dptr_(op, "ldj", ldj, (size_t)B));
    GLF_TRY(glf_check_dptr_(op, "u", u, n));
    GLF_TRY(glf_check_dptr_(op, "s_raw", s_raw, n));
    GLF_TRY(glf_check_dptr_(op, "t", t, n));
    if (B == 0)
        return GLF_OK;
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "flow", "affine_forward", NULL, &k));
    size_t g = (size_t)B, l = GLF_FLOW_WG;
    return GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_DP(v), GLF_DP(ldj), GLF_DP(u), GLF_DP(s_raw),
                      GLF_DP(t), GLF_I32(B), GLF_I32(D), GLF_I32(ldj_accumulate ? 1 : 0));
}

glf_status glf_affine_inverse(glf_ctx *ctx, glf_dptr u, glf_dptr v, glf_dptr s_raw, glf_dptr t,
                              int B, int D)
{
    static const char *op = "glf_affine_inverse";
    GLF_TRY(check_bd_(op, B, D));
    size_t n = (size_t)B * (size_t)D;
    GLF_TRY(glf_check_dptr_(op, "u", u, n));
    GLF_TRY(glf_check_dptr_(op, "v", v, n));
    GLF_TRY(glf_check_dptr_(op, "s_raw", s_raw, n));
    GLF_TRY(glf_check_dptr_(op, "t", t, n));
    if (n == 0)
        return GLF_OK;
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "flow", "affine_inverse", NULL, &k));
    size_t l = GLF_FLOW_WG;
    return GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(u), GLF_DP(v), GLF_DP(s_raw), GLF_DP(t),
                      GLF_I32(n));
}

glf_status glf_affine_backward(glf_ctx *ctx, glf_dptr du, glf_dptr ds_raw, glf_dptr dt, glf_dptr dv,
                               glf_dptr dldj, glf_dptr u, glf_dptr s_raw, int B, int D)
{
    static const char *op = "glf_affine_backward";
    GLF_TRY(check_bd_(op, B, D));
    size_t n = (size_t)B * (size_t)D;
    GLF_TRY(glf_check_dptr_opt_(op, "du", du, n));
    GLF_TRY(glf_check_dptr_opt_(op, "ds_raw", ds_raw, n));
    GLF_TRY(glf_check_dptr_opt_(op, "dt", dt, n));
    GLF_TRY(glf_check_dptr_opt_(op, "dldj", dldj, (size_t)B));
    GLF_TRY(glf_check_dptr_(op, "dv", dv, n));
    GLF_TRY(glf_check_dptr_(op, "u", u, n));
    GLF_TRY(glf_check_dptr_(op, "s_raw", s_raw, n));
    int want = (du.buf ? 1 : 0) | (ds_raw.buf ? 2 : 0) | (dt.buf ? 4 : 0) | (dldj.buf ? 8 : 0);
    if (n == 0 || (want & 7) == 0)
        return GLF_OK;
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "flow", "affine_backward", NULL, &k));
    size_t l = GLF_FLOW_WG;
    return GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(or_(du, dv)), GLF_DP(or_(ds_raw, dv)),
                      GLF_DP(or_(dt, dv)), GLF_DP(dv), GLF_DP(or_(dldj, dv)), GLF_DP(u),
                      GLF_DP(s_raw), GLF_I32(B), GLF_I32(D), GLF_I32(want));
}

glf_status glf_shuffle_cols(glf_ctx *ctx, glf_dptr out1, glf_dptr out2, glf_dptr in1, glf_dptr in2,
                            cl_mem perm, int B, int D1, int D2, int inverse)
{
    static const char *op = "glf_shuffle_cols";
    if (D1 < 0 || D2 < 0 || D1 > INT_MAX - D2)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: D1 = %d, D2 = %d, expected both >= 0", op, D1,
                        D2);
    GLF_TRY(check_bd_(op, B, D1 + D2));
    if (!perm)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: perm is NULL, expected %d cl_int", op, D1 + D2);
    size_t n1 = (size_t)B * (size_t)D1, n2 = (size_t)B * (size_t)D2;
    if (D1 > 0) {
        GLF_TRY(glf_check_dptr_(op, "out1", out1, n1));
        GLF_TRY(glf_check_dptr_(op, "in1", in1, n1));
    }
    if (D2 > 0) {
        GLF_TRY(glf_check_dptr_(op, "out2", out2, n2));
        GLF_TRY(glf_check_dptr_(op, "in2", in2, n2));
    }
    size_t n = n1 + n2;
    if (n == 0)
        return GLF_OK;
    /* An empty half is never dereferenced; pass the other half's buffer. */
    if (D1 == 0)
        out1 = out2, in1 = in2;
    if (D2 == 0)
        out2 = out1, in2 = in1;
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "flow", inverse ? "shuffle_scatter" : "shuffle_gather", NULL, &k));
    size_t l = GLF_FLOW_WG;
    return GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(out1), GLF_DP(out2), GLF_DP(in1), GLF_DP(in2),
                      GLF_MEM(perm), GLF_I32(B), GLF_I32(D1), GLF_I32(D2));
}
