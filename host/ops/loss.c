/* Host side of cl/loss.cl: the four training losses (three launches each:
 * element terms with the gradient, fixed-chunk partial sums, the ordered
 * final sum) and the VAE reparameterisation. */
#include <limits.h>
#include <math.h>

#include "glf/ops_flow.h"

#include "check.h"

#define GLF_LOSS_WG 64
/* Most partial sums: enough work-items to fill a device, few enough that
 * the one-work-item final pass is short. Fixed, so results are the same
 * everywhere. */
#define GLF_LOSS_PARTS 1024

/* Partial sums of n terms: P chunks of `chunk` contiguous terms. */
static size_t parts_(size_t n, size_t *chunk)
{
    size_t P = n < GLF_LOSS_PARTS ? n : GLF_LOSS_PARTS;
    size_t c = P ? (n + P - 1) / P : 1;
    *chunk = c;
    return P ? (n + c - 1) / c : 0;
}

/* work = [n element terms | partial sums]. */
size_t glf_loss_workspace(int B, int N)
{
    size_t n = (B > 0 && N > 0) ? (size_t)B * (size_t)N : 0, c;
    return n + (n ? parts_(n, &c) : 1);
}

/* Validate the common loss arguments. */
static glf_status loss_args_(const char *op, glf_dptr loss, glf_dptr work, int B, int N)
{
    if (B < 1 || N < 1 || B > INT_MAX / N)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: B = %d, N = %d, expected both >= 1, B*N < 2^31",
                        op, B, N);
    GLF_TRY(glf_check_dptr_(op, "loss", loss, 1));
    return glf_check_dptr_(op, "work", work, glf_loss_workspace(B, N));
}

/* Passes 2 and 3 over the n terms at `terms`: partials into work after its
 * first n floats, then loss = coef * ((sum + cst) - sum(sub)), and dl[0..nfill) = fill. */
static glf_status reduce_(glf_ctx *ctx, glf_dptr loss, glf_dptr terms, size_t n, glf_dptr work,
                          glf_dptr sub, int nsub, float cst, float coef, glf_dptr dl, int nfill,
                          float fill)
{
    size_t chunk, P = parts_(n, &chunk), l = GLF_LOSS_WG, one = 1;
    glf_dptr part = glf_dp(work.buf, work.off + n);
    cl_kernel kp, kf;
    GLF_TRY(glf_kernel(ctx, "loss", "loss_partial", NULL, &kp));
    GLF_TRY(glf_kernel(ctx, "loss", "loss_finish", NULL, &kf));
    GLF_TRY(GLF_LAUNCH(ctx, kp, 1, &P, &l, GLF_DP(part), GLF_DP(terms), GLF_I32(n), GLF_I32(P),
                       GLF_I32(chunk)));
    return GLF_LAUNCH(ctx, kf, 1, &one, &one, GLF_DP(loss), GLF_DP(part), GLF_I32(P),
                      GLF_DP(sub.buf ? sub : part), GLF_I32(nsub), GLF_F32(cst), GLF_F32(coef),
                      GLF_DP(dl.buf ? dl : part), GLF_I32(nfill), GLF_F32(fill));
}

/* MSE and BCE share their shape: terms of (xhat, x) plus an optional dxhat. */
static glf_status pair_loss_(glf_ctx *ctx, const char *op, const char *kname, glf_dptr loss,
                             glf_dptr dxhat, glf_dptr xhat, glf_dptr x, int B, int N, float scale,
                             glf_dptr work)
{
    GLF_TRY(loss_args_(op, loss, work, B, N));
    size_t n = (size_t)B * (size_t)N, l = GLF_LOSS_WG;
    GLF_TRY(glf_check_dptr_(op, "xhat", xhat, n));
    GLF_TRY(glf_check_dptr_(op, "x", x, n));
    GLF_TRY(glf_check_dptr_opt_(op, "dxhat", dxhat, n));
    float gs = (float)((double)scale / B);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", kname, NULL, &k));
    GLF_TRY(GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(work), GLF_DP(dxhat.buf ? dxhat : xhat),
                       GLF_DP(xhat), GLF_DP(x), GLF_I32(n), GLF_F32(gs),
                       GLF_I32(dxhat.buf ? 1 : 0)));
    glf_dptr none = {NULL, 0};
    return reduce_(ctx, loss, work, n, work, none, 0, 0.0f, gs, none, 0, 0.0f);
}

glf_status glf_mse_loss(glf_ctx *ctx, glf_dptr loss, glf_dptr dxhat, glf_dptr xhat, glf_dptr x,
                        int B, int N, float scale, glf_dptr work)
{
    return pair_loss_(ctx, "glf_mse_loss", "loss_mse_elem", loss, dxhat, xhat, x, B, N, scale,
                      work);
}

glf_status glf_bce_loss(glf_ctx *ctx, glf_dptr loss, glf_dptr dxhat, glf_dptr xhat, glf_dptr x,
                        int B, int N, float scale, glf_dptr work)
{
    return pair_loss_(ctx, "glf_bce_loss", "loss_bce_elem", loss, dxhat, xhat, x, B, N, scale,
                      work);
}

glf_status glf_gauss_nll(glf_ctx *ctx, glf_dptr loss, glf_dptr dz, glf_dptr dldj, glf_dptr z,
                         glf_dptr ldj, int B, int D, float scale, glf_dptr work)
{
    static const char *op = "glf_gauss_nll";
    GLF_TRY(loss_args_(op, loss, work, B, D));
    size_t n = (size_t)B * (size_t)D, l = GLF_LOSS_WG;
    GLF_TRY(glf_check_dptr_(op, "z", z, n));
    GLF_TRY(glf_check_dptr_(op, "ldj", ldj, (size_t)B));
    GLF_TRY(glf_check_dptr_opt_(op, "dz", dz, n));
    GLF_TRY(glf_check_dptr_opt_(op, "dldj", dldj, (size_t)B));
    float gs = (float)((double)scale / B);
    /* The constant of all B samples, summed in double once. */
    float cst = (float)((double)B * (double)D * 0.5 * log(2.0 * 3.14159265358979323846));
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", "loss_gauss_elem", NULL, &k));
    GLF_TRY(GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(work), GLF_DP(dz.buf ? dz : z), GLF_DP(z),
                       GLF_I32(n), GLF_F32(gs), GLF_I32(dz.buf ? 1 : 0)));
    return reduce_(ctx, loss, work, n, work, ldj, B, cst, gs, dldj, dldj.buf ? B : 0, -gs);
}

glf_status glf_vae_entropy(glf_ctx *ctx, glf_dptr loss, glf_dptr dlogvar, glf_dptr logvar, int B,
                           int D, float scale, glf_dptr work)
{
    static const char *op = "glf_vae_entropy";
    GLF_TRY(loss_args_(op, loss, work, B, D));
    size_t n = (size_t)B * (size_t)D, l = GLF_LOSS_WG;
    GLF_TRY(glf_check_dptr_(op, "logvar", logvar, n));
    GLF_TRY(glf_check_dptr_opt_(op, "dlogvar", dlogvar, n));
    float coef = (float)(-0.5 * (double)scale / B);
    if (dlogvar.buf) {
        cl_kernel k;
        GLF_TRY(glf_kernel(ctx, "loss", "loss_fill", NULL, &k));
        GLF_TRY(GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(dlogvar), GLF_I32(n), GLF_F32(coef)));
    }
    glf_dptr none = {NULL, 0};
    /* the terms are logvar itself */
    return reduce_(ctx, loss, logvar, n, work, none, 0, 0.0f, coef, none, 0, 0.0f);
}

glf_status glf_vae_entropy_ld(glf_ctx *ctx, glf_dptr loss, glf_dptr dlogvar, glf_dptr logvar, int B,
                              int D, int ld, float scale, glf_dptr work)
{
    static const char *op = "glf_vae_entropy_ld";
    GLF_TRY(loss_args_(op, loss, work, B, D));
    if (ld < D || B > INT_MAX / ld)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: ld = %d, expected D = %d <= ld, B*ld < 2^31", op,
                        ld, D);
    size_t n = (size_t)B * (size_t)D, l = GLF_LOSS_WG;
    size_t span = (size_t)(B - 1) * (size_t)ld + (size_t)D;
    GLF_TRY(glf_check_dptr_(op, "logvar", logvar, span));
    GLF_TRY(glf_check_dptr_opt_(op, "dlogvar", dlogvar, span));
    float coef = (float)(-0.5 * (double)scale / B);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", "loss_strided_elem", NULL, &k));
    GLF_TRY(GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(work), GLF_DP(dlogvar.buf ? dlogvar : logvar),
                       GLF_DP(logvar), GLF_I32(B), GLF_I32(D), GLF_I32(ld), GLF_F32(coef),
                       GLF_I32(dlogvar.buf ? 1 : 0)));
    glf_dptr none = {NULL, 0};
    /* same terms in the same order as glf_vae_entropy: same bits when ld == D */
    return reduce_(ctx, loss, work, n, work, none, 0, 0.0f, coef, none, 0, 0.0f);
}

/* ---- reparameterisation ------------------------------------------------- */

static glf_status reparam_check_(const char *op, int B, int D, int ld)
{
    if (B < 0 || D < 0 || ld < D || (ld > 0 && B > INT_MAX / ld))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: B = %d, D = %d, ld = %d, expected B, D >= 0, ld >= D, B*ld < 2^31", op,
                        B, D, ld);
    return GLF_OK;
}

/* Floats spanned by a (B, D) tensor with row stride ld. */
static size_t span_(int B, int D, int ld)
{
    return B > 0 ? (size_t)(B - 1) * (size_t)ld + (size_t)D : 0;
}

glf_status glf_reparam_forward_ld(glf_ctx *ctx, glf_dptr z, glf_dptr mu, glf_dptr logvar,
                                  glf_dptr eps, int B, int D, int ld)
{
    static const char *op = "glf_reparam_forward";
    GLF_TRY(reparam_check_(op, B, D, ld));
    size_t n = (size_t)B * (size_t)D, s = span_(B, D, ld);
    GLF_TRY(glf_check_dptr_(op, "z", z, n));
    GLF_TRY(glf_check_dptr_(op, "mu", mu, s));
    GLF_TRY(glf_check_dptr_(op, "logvar", logvar, s));
    GLF_TRY(glf_check_dptr_(op, "eps", eps, n));
    if (n == 0)
        return GLF_OK;
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", "reparam_forward", NULL, &k));
    size_t l = GLF_LOSS_WG;
    return GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(z), GLF_DP(mu), GLF_DP(logvar), GLF_DP(eps),
                      GLF_I32(B), GLF_I32(D), GLF_I32(ld));
}

glf_status glf_reparam_backward_ld(glf_ctx *ctx, glf_dptr dmu, glf_dptr dlogvar, glf_dptr dz,
                                   glf_dptr logvar, glf_dptr eps, int B, int D, int ld,
                                   int accumulate)
{
    static const char *op = "glf_reparam_backward";
    GLF_TRY(reparam_check_(op, B, D, ld));
    size_t n = (size_t)B * (size_t)D, s = span_(B, D, ld);
    GLF_TRY(glf_check_dptr_opt_(op, "dmu", dmu, s));
    GLF_TRY(glf_check_dptr_opt_(op, "dlogvar", dlogvar, s));
    GLF_TRY(glf_check_dptr_(op, "dz", dz, n));
    GLF_TRY(glf_check_dptr_(op, "logvar", logvar, s));
    GLF_TRY(glf_check_dptr_(op, "eps", eps, n));
    int want = (dmu.buf ? 1 : 0) | (dlogvar.buf ? 2 : 0);
    if (n == 0 || want == 0)
        return GLF_OK;
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", "reparam_backward", NULL, &k));
    size_t l = GLF_LOSS_WG;
    return GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_DP(dmu.buf ? dmu : dz),
                      GLF_DP(dlogvar.buf ? dlogvar : dz), GLF_DP(dz), GLF_DP(logvar), GLF_DP(eps),
                      GLF_I32(B), GLF_I32(D), GLF_I32(ld), GLF_I32(want),
                      GLF_I32(accumulate ? 1 : 0));
}

glf_status glf_reparam_forward(glf_ctx *ctx, glf_dptr z, glf_dptr mu, glf_dptr logvar, glf_dptr eps,
                               int B, int D)
{
    return glf_reparam_forward_ld(ctx, z, mu, logvar, eps, B, D, D);
}

glf_status glf_reparam_backward(glf_ctx *ctx, glf_dptr dmu, glf_dptr dlogvar, glf_dptr dz,
                                glf_dptr logvar, glf_dptr eps, int B, int D, int accumulate)
{
    return glf_reparam_backward_ld(ctx, dmu, dlogvar, dz, logvar, eps, B, D, D, accumulate);
}
