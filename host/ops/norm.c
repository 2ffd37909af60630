/* BatchNorm1d/2d forward (train and eval) and backward on cl/norm.cl.
 * Scratch for the two-pass statistics lives in the output itself (y in the
 * forward, dx in the backward), so the contract needs no workspace. With
 * the context's allreduce hook set, the per-channel sums are summed across
 * processes between the kernels' stages (statistics of the global batch). */
#include "glf/ops_norm.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The kernels' shape per kernel family. CPU: positions j = c*L + l per
 * work-item as explicit vectors of BN_VW (BN_NV of them in the kernels that
 * reduce over the batch, BN_ENV in the elementwise ones), measured with
 * bench_ops_norm and bench_train. SIMT: one position per work-item (BN_VW =
 * BN_NV = BN_ENV = 1), work-groups of 64 along the positions, and the
 * per-channel sums over l as work-group reductions (bn_chan_sum_wg). Both:
 * work-items per work-group and batch rows per work-item in the elementwise
 * kernels. */
typedef struct bn_geo_ {
    int vw, nv, env, local, rows, simt;
    char opts[64]; /* the kernels' build options, from the same numbers */
} bn_geo_;

#define GLF_BN_WG 64 /* BN_WG in cl/norm.cl: bn_chan_sum_wg's work-group */

static bn_geo_ geo_(glf_ctx *ctx)
{
    bn_geo_ g = {16, 8, 8, 16, 16, 0, ""};
    if (glf_ctx_family(ctx) == GLF_FAMILY_SIMT)
        g = (bn_geo_){1, 1, 1, 64, 16, 1, ""};
    snprintf(g.opts, sizeof g.opts, "-DBN_VW=%d -DBN_NV=%d -DBN_ENV=%d -DBN_WG=%d", g.vw, g.nv,
             g.env, GLF_BN_WG);
    return g;
}

static int overlaps_(glf_dptr a, size_t na, glf_dptr b, size_t nb)
{
    return a.buf == b.buf && a.off < b.off + nb && b.off < a.off + na;
}

static glf_status check_shape_(const char *op, int B, int C, int L)
{
    if (B < 1 || C < 1 || L < 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: shape B=%d C=%d L=%d, expected all >= 1", op, B,
                        C, L);
    if ((long long)B * C * L > INT_MAX - 1024)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: B*C*L = %lld floats, expected < 2^31", op,
                        (long long)B * C * L);
    return GLF_OK;
}

static glf_status need_(const char *op, const char *name, glf_dptr p)
{
    if (!p.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: %s.buf is NULL, expected a tensor", op, name);
    return GLF_OK;
}

/* Work-items of the kernels that reduce over the batch: one per run of
 * nv vectors of C*L positions. */
static size_t runs_(const bn_geo_ *g, int C, int L)
{
    const size_t run = (size_t)g->vw * (size_t)g->nv;
    return ((size_t)C * L + run - 1) / run;
}

/* Launch geometry of the (j, batch chunk) kernels. */
static void grid2_(const bn_geo_ *geo, int B, int C, int L, size_t g[2], size_t l[2])
{
    const size_t run = (size_t)geo->vw * (size_t)geo->env;
    g[0] = ((size_t)C * L + run - 1) / run;
    g[1] = (size_t)(B + geo->rows - 1) / (size_t)geo->rows;
    l[0] = (size_t)geo->local;
    l[1] = 1;
}

/* out[c] = sum_l part[c*L + l] (C floats): the SIMT family's work-group
 * reduction, or bn_mean with n = 1 (a loop over l per channel). */
static glf_status chan_sums_(glf_ctx *ctx, const bn_geo_ *g, cl_kernel kmean, glf_dptr out,
                             glf_dptr part, int C, int L)
{
    if (g->simt) {
        cl_kernel k;
        GLF_TRY(glf_kernel(ctx, "norm", "bn_chan_sum_wg", g->opts, &k));
        size_t gl = (size_t)C * GLF_BN_WG, lo = GLF_BN_WG;
        return GLF_LAUNCH(ctx, k, 1, &gl, &lo, GLF_DP(out), GLF_DP(part), GLF_I32(C),
                          GLF_I32(L));
    }
    size_t gc = (size_t)C, lj = (size_t)g->local;
    return GLF_LAUNCH(ctx, kmean, 1, &gc, &lj, GLF_DP(out), GLF_DP(part), GLF_I32(C), GLF_I32(L),
                      GLF_I32(1));
}

/* The context's allreduce over per-channel sums held on the device: `rows`
 * runs of `run` floats, `pitch` floats apart, from p (the backward's two
 * sums sit at stride L in dx). With count > 0 the process's value count n
 * travels with them and the global n comes back in *n_all. */
static glf_status allreduce_(glf_ctx *ctx, const char *op, glf_dptr p, size_t rows, size_t run,
                             size_t pitch, int count, int *n_all)
{
    size_t m = rows * run;
    float *h = malloc((m + 1) * sizeof *h);
    if (!h)
        return glf_fail(GLF_ERR_NOMEM, "%s: out of memory for %zu channel sums", op, m);
    size_t org[3] = {p.off * sizeof(float), 0, 0}, zero[3] = {0, 0, 0};
    size_t reg[3] = {run * sizeof(float), rows, 1};
    cl_command_queue q = glf_ctx_queue(ctx);
    cl_int err = clEnqueueReadBufferRect(q, p.buf, CL_TRUE, org, zero, reg, pitch * sizeof(float),
                                         0, run * sizeof(float), 0, h, 0, NULL, NULL);
    glf_status s = GLF_OK;
    if (err != CL_SUCCESS)
        s = glf_fail(GLF_ERR_OPENCL, "%s: reading %zu channel sums: %s", op, m,
                     glf_cl_error_name(err));
    h[m] = (float)count;
    if (!s)
        s = glf_ctx_allreduce(ctx, h, count > 0 ? m + 1 : m);
    /* n must be an exact count: floats hold integers exactly below 2^24. */
    if (!s && count > 0 && !(h[m] >= 2.0f && h[m] < 16777216.0f && h[m] == floorf(h[m])))
        s = glf_fail(GLF_ERR_INVALID_ARG, "%s: %g values per channel over all processes, "
                     "expected an integer count in [2, 2^24)", op, (double)h[m]);
    if (!s && count > 0)
        *n_all = (int)h[m];
    if (!s && (err = clEnqueueWriteBufferRect(q, p.buf, CL_TRUE, org, zero, reg,
                                              pitch * sizeof(float), 0, run * sizeof(float), 0,
                                              h, 0, NULL, NULL)) != CL_SUCCESS)
        s = glf_fail(GLF_ERR_OPENCL, "%s: writing %zu channel sums: %s", op, m,
                     glf_cl_error_name(err));
    free(h);
    return s;
}

glf_status glf_batchnorm_forward_train(glf_ctx *ctx, glf_dptr y, glf_dptr save_mean,
                                       glf_dptr save_invstd, glf_dptr running_mean,
                                       glf_dptr running_var, glf_dptr x, glf_dptr gamma,
                                       glf_dptr beta, int B, int C, int L, float momentum,
                                       float eps)
{
    return glf_batchnorm_forward_train_act(ctx, y, save_mean, save_invstd, running_mean,
                                           running_var, x, gamma, beta, B, C, L, momentum, eps,
                                           0);
}

glf_status glf_batchnorm_forward_train_act(glf_ctx *ctx, glf_dptr y /* (B, C, L) */,
                                           glf_dptr save_mean /* (C) */,
                                           glf_dptr save_invstd /* (C) */,
                                           glf_dptr running_mean /* (C) or NULL */,
                                           glf_dptr running_var /* (C) or NULL */,
                                           glf_dptr x /* (B, C, L) */, glf_dptr gamma /* (C) */,
                                           glf_dptr beta /* (C) */, int B, int C, int L,
                                           float momentum, float eps, int relu)
{
    static const char op[] = "glf_batchnorm_forward_train";
    GLF_TRY(check_shape_(op, B, C, L));
    if ((long long)B * L < 2)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: n = B*L = %d, expected >= 2 values per "
                        "channel in training mode (as PyTorch)",
                        op, B * L);
    GLF_TRY(need_(op, "y", y));
    GLF_TRY(need_(op, "save_mean", save_mean));
    GLF_TRY(need_(op, "save_invstd", save_invstd));
    GLF_TRY(need_(op, "x", x));
    GLF_TRY(need_(op, "gamma", gamma));
    GLF_TRY(need_(op, "beta", beta));
    if (running_mean.buf && !running_var.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: running_mean given without running_var", op);
    size_t nx = (size_t)B * C * L;
    if (overlaps_(y, nx, x, nx))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: y overlaps x (offsets %zu and %zu, %zu "
                        "floats); training mode needs x kept for backward",
                        op, y.off, x.off, nx);
    const bn_geo_ geo = geo_(ctx);
    cl_kernel kcol, kmean, ksq, kvar, knorm;
    GLF_TRY(glf_kernel(ctx, "norm", "bn_colsum", geo.opts, &kcol));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_mean", geo.opts, &kmean));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_colsq", geo.opts, &ksq));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_var", geo.opts, &kvar));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_norm", geo.opts, &knorm));
    int CL = C * L, n = B * L, has_run = running_mean.buf != NULL;
    size_t gj = runs_(&geo, C, L);
    size_t gc = (size_t)C, lj = (size_t)geo.local;
    glf_dptr rm = has_run ? running_mean : save_mean, rv = has_run ? running_var : save_invstd;
    /* Per channel: the mean from the column sums, the variance from the
     * sums of squares about it. Across processes (the hook), and in the
     * SIMT family (work-group reductions), each stage's per-channel sums
     * are formed first (chan_sums_), summed between the kernels when
     * across processes, and the next kernel takes them as a part of width
     * L = 1; otherwise bn_mean and bn_var sum over l themselves. */
    int sync = glf_ctx_has_allreduce(ctx), staged = sync || geo.simt;
    glf_dptr sq = y; /* the sums of squares bn_var reads */
    int Lv = L;
    GLF_TRY(GLF_LAUNCH(ctx, kcol, 1, &gj, &lj, GLF_DP(y), GLF_DP(x), GLF_I32(B), GLF_I32(CL)));
    if (staged) {
        GLF_TRY(chan_sums_(ctx, &geo, kmean, save_mean, y, C, L));
        if (sync)
            GLF_TRY(allreduce_(ctx, op, save_mean, 1, (size_t)C, (size_t)C, n, &n));
        GLF_TRY(GLF_LAUNCH(ctx, kmean, 1, &gc, &lj, GLF_DP(save_mean), GLF_DP(save_mean),
                           GLF_I32(C), GLF_I32(1), GLF_I32(n)));
    } else {
        GLF_TRY(GLF_LAUNCH(ctx, kmean, 1, &gc, &lj, GLF_DP(save_mean), GLF_DP(y), GLF_I32(C),
                           GLF_I32(L), GLF_I32(n)));
    }
    GLF_TRY(GLF_LAUNCH(ctx, ksq, 1, &gj, &lj, GLF_DP(y), GLF_DP(x), GLF_DP(save_mean), GLF_I32(B),
                       GLF_I32(C), GLF_I32(L)));
    if (staged) {
        GLF_TRY(chan_sums_(ctx, &geo, kmean, save_invstd, y, C, L));
        if (sync)
            GLF_TRY(allreduce_(ctx, op, save_invstd, 1, (size_t)C, (size_t)C, 0, NULL));
        sq = save_invstd;
        Lv = 1;
    }
    GLF_TRY(GLF_LAUNCH(ctx, kvar, 1, &gc, &lj, GLF_DP(save_invstd), GLF_DP(rm), GLF_DP(rv),
                       GLF_DP(save_mean), GLF_DP(sq), GLF_I32(C), GLF_I32(Lv), GLF_I32(n),
                       GLF_I32(has_run), GLF_F32(momentum), GLF_F32(eps)));
    size_t g[2], l[2];
    grid2_(&geo, B, C, L, g, l);
    return GLF_LAUNCH(ctx, knorm, 2, g, l, GLF_DP(y), GLF_DP(x), GLF_DP(save_mean),
                      GLF_DP(save_invstd), GLF_DP(gamma), GLF_DP(beta), GLF_I32(B), GLF_I32(C),
                      GLF_I32(L), GLF_I32(geo.rows), GLF_I32(relu != 0));
}

glf_status glf_batchnorm_forward_eval(glf_ctx *ctx, glf_dptr y /* (B, C, L) */,
                                      glf_dptr running_mean /* (C) */,
                                      glf_dptr running_var /* (C) */, glf_dptr x /* (B, C, L) */,
                                      glf_dptr gamma /* (C) */, glf_dptr beta /* (C) */, int B,
                                      int C, int L, float eps)
{
    static const char op[] = "glf_batchnorm_forward_eval";
    GLF_TRY(check_shape_(op, B, C, L));
    GLF_TRY(need_(op, "y", y));
    GLF_TRY(need_(op, "running_mean", running_mean));
    GLF_TRY(need_(op, "running_var", running_var));
    GLF_TRY(need_(op, "x", x));
    GLF_TRY(need_(op, "gamma", gamma));
    GLF_TRY(need_(op, "beta", beta));
    size_t nx = (size_t)B * C * L;
    if (overlaps_(y, nx, x, nx) && y.off != x.off)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: y (offset %zu) partly overlaps x (offset "
                        "%zu); expected the same tensor or disjoint ones",
                        op, y.off, x.off);
    const bn_geo_ geo = geo_(ctx);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "norm", "bn_norm_eval", geo.opts, &k));
    size_t g[2], l[2];
    grid2_(&geo, B, C, L, g, l);
    return GLF_LAUNCH(ctx, k, 2, g, l, GLF_DP(y), GLF_DP(x), GLF_DP(running_mean),
                      GLF_DP(running_var), GLF_DP(gamma), GLF_DP(beta), GLF_I32(B), GLF_I32(C),
                      GLF_I32(L), GLF_I32(geo.rows), GLF_F32(eps));
}

glf_status glf_batchnorm_backward(glf_ctx *ctx, glf_dptr dx /* (B, C, L) */,
                                  glf_dptr dgamma /* (C) or NULL */,
                                  glf_dptr dbeta /* (C) or NULL */, glf_dptr dy /* (B, C, L) */,
                                  glf_dptr x /* (B, C, L) */, glf_dptr save_mean /* (C) */,
                                  glf_dptr save_invstd /* (C) */, glf_dptr gamma /* (C) */, int B,
                                  int C, int L, int accumulate)
{
    static const char op[] = "glf_batchnorm_backward";
    GLF_TRY(check_shape_(op, B, C, L));
    if ((long long)B * L < 2)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: n = B*L = %d, expected >= 2", op, B * L);
    if (accumulate != 0 && accumulate != 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: accumulate = %d, expected 0 or 1", op,
                        accumulate);
    GLF_TRY(need_(op, "dx", dx));
    GLF_TRY(need_(op, "dy", dy));
    GLF_TRY(need_(op, "x", x));
    GLF_TRY(need_(op, "save_mean", save_mean));
    GLF_TRY(need_(op, "save_invstd", save_invstd));
    GLF_TRY(need_(op, "gamma", gamma));
    size_t nx = (size_t)B * C * L;
    if (overlaps_(dx, nx, dy, nx) || overlaps_(dx, nx, x, nx))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: dx (offset %zu, %zu floats) overlaps dy or "
                        "x; it is used as scratch and must be separate",
                        op, dx.off, nx);
    const bn_geo_ geo = geo_(ctx);
    cl_kernel kpart, kred, kdx, khome;
    GLF_TRY(glf_kernel(ctx, "norm", "bn_bwd_partial", geo.opts, &kpart));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_bwd_reduce", geo.opts, &kred));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_bwd_dx", geo.opts, &kdx));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_bwd_home", geo.opts, &khome));
    size_t gj = runs_(&geo, C, L);
    size_t gc = (size_t)C, lj = (size_t)geo.local;
    int raw = B == 1; /* partials need 2*C*L floats of dx: with one row, read dy, x directly */
    if (!raw)
        GLF_TRY(GLF_LAUNCH(ctx, kpart, 1, &gj, &lj, GLF_DP(dx), GLF_DP(dy), GLF_DP(x),
                           GLF_DP(save_mean), GLF_I32(B), GLF_I32(C), GLF_I32(L)));
    glf_dptr dg = dgamma.buf ? dgamma : dx, db = dbeta.buf ? dbeta : dx;
    GLF_TRY(GLF_LAUNCH(ctx, kred, 1, &gc, &lj, GLF_DP(dx), GLF_DP(dg), GLF_DP(db), GLF_DP(dy),
                       GLF_DP(x), GLF_DP(save_mean), GLF_DP(save_invstd), GLF_I32(B), GLF_I32(C),
                       GLF_I32(L), GLF_I32(raw), GLF_I32(dgamma.buf != NULL),
                       GLF_I32(dbeta.buf != NULL), GLF_I32(accumulate)));
    /* dgamma and dbeta above are this process's share (summed with the
     * other gradients later); dx needs the global sums and n: across
     * processes the two sums parked at the channel's homes (dx[c*L] and
     * the next one, or dx[c] and dx[C + c] when L = 1) are summed in place. */
    int n = B * L;
    if (glf_ctx_has_allreduce(ctx)) {
        if (L == 1)
            GLF_TRY(allreduce_(ctx, op, dx, 1, 2 * (size_t)C, 2 * (size_t)C, n, &n));
        else
            GLF_TRY(allreduce_(ctx, op, dx, (size_t)C, 2, (size_t)L, n, &n));
    }
    size_t g[2], l[2];
    grid2_(&geo, B, C, L, g, l);
    GLF_TRY(GLF_LAUNCH(ctx, kdx, 2, g, l, GLF_DP(dx), GLF_DP(dy), GLF_DP(x), GLF_DP(save_mean),
                       GLF_DP(save_invstd), GLF_DP(gamma), GLF_I32(B), GLF_I32(C), GLF_I32(L),
                       GLF_I32(geo.rows), GLF_I32(n)));
    return GLF_LAUNCH(ctx, khome, 1, &gc, &lj, GLF_DP(dx), GLF_DP(dy), GLF_DP(x), GLF_DP(save_mean),
                      GLF_DP(save_invstd), GLF_DP(gamma), GLF_I32(B), GLF_I32(C), GLF_I32(L),
                      GLF_I32(n));
}
