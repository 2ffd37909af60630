/* Host side of cl/loss.cl: the four training losses (two launches each: the
 * partial sums with the gradient, then the ordered final sum) and the VAE
 * reparameterisation. */
#include <limits.h>
#include <math.h>

#include "glf/ops_flow.h"

#define GLF_LOSS_WG 64
/* Number of partial sums: enough work-items to fill a device, few enough
 * that the one-work-item final pass is short. Fixed, so results are
 * reproducible everywhere. */
#define GLF_LOSS_PARTS 1024

size_t glf_loss_workspace(int B, int N)
{
    size_t n = (B > 0 && N > 0) ? (size_t)B * (size_t)N : 0;
    return n == 0 ? 1 : (n < GLF_LOSS_PARTS ? n : GLF_LOSS_PARTS);
}

static glf_status check_ptr_(const char *op, const char *name, glf_dptr p, size_t n)
{
    if (!p.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: %s.buf is NULL, expected a device buffer", op,
                        name);
    if (p.off > (size_t)INT_MAX || n > (size_t)INT_MAX - p.off)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: %s offset %zu + %zu floats exceeds INT_MAX, the kernels' index range",
                        op, name, p.off, n);
    return GLF_OK;
}

static glf_status check_opt_(const char *op, const char *name, glf_dptr p, size_t n)
{
    return p.buf ? check_ptr_(op, name, p, n) : GLF_OK;
}

static glf_status check_bn_(const char *op, int B, int N)
{
    if (B < 1 || N < 1 || B > INT_MAX / N)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: B = %d, N = %d, expected both >= 1, B*N < 2^31",
                        op, B, N);
    return GLF_OK;
}

/* Validate the common loss arguments; *P = partial count. */
static glf_status loss_args_(const char *op, glf_dptr loss, glf_dptr work, int B, int N,
                             size_t *P)
{
    GLF_TRY(check_bn_(op, B, N));
    GLF_TRY(check_ptr_(op, "loss", loss, 1));
    *P = glf_loss_workspace(B, N);
    return check_ptr_(op, "work", work, *P);
}

static glf_status finish_(glf_ctx *ctx, glf_dptr loss, glf_dptr work, size_t P, glf_dptr sub,
                          int nsub, float cst, float coef)
{
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", "loss_finish", NULL, &k));
    size_t g = 1, l = 1;
    return GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_DP(loss), GLF_DP(work), GLF_I32(P),
                      GLF_DP(sub.buf ? sub : work), GLF_I32(nsub), GLF_F32(cst), GLF_F32(coef));
}

/* MSE and BCE share their shape: partials over (xhat, x) plus an optional dxhat. */
static glf_status pair_loss_(glf_ctx *ctx, const char *op, const char *kname, glf_dptr loss,
                             glf_dptr dxhat, glf_dptr xhat, glf_dptr x, int B, int N, float scale,
                             glf_dptr work)
{
    size_t P;
    GLF_TRY(loss_args_(op, loss, work, B, N, &P));
    size_t n = (size_t)B * (size_t)N;
    GLF_TRY(check_ptr_(op, "xhat", xhat, n));
    GLF_TRY(check_ptr_(op, "x", x, n));
    GLF_TRY(check_opt_(op, "dxhat", dxhat, n));
    float gs = (float)((double)scale / B);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", kname, NULL, &k));
    size_t l = GLF_LOSS_WG;
    GLF_TRY(GLF_LAUNCH(ctx, k, 1, &P, &l, GLF_DP(work), GLF_DP(dxhat.buf ? dxhat : xhat),
                       GLF_DP(xhat), GLF_DP(x), GLF_I32(n), GLF_I32(P), GLF_F32(gs),
                       GLF_I32(dxhat.buf ? 1 : 0)));
    glf_dptr none = {NULL, 0};
    return finish_(ctx, loss, work, P, none, 0, 0.0f, gs);
}

glf_status glf_mse_loss(glf_ctx *ctx, glf_dptr loss, glf_dptr dxhat, glf_dptr xhat, glf_dptr x,
                        int B, int N, float scale, glf_dptr work)
{
    return pair_loss_(ctx, "glf_mse_loss", "loss_mse_partial", loss, dxhat, xhat, x, B, N, scale,
                      work);
}

glf_status glf_bce_loss(glf_ctx *ctx, glf_dptr loss, glf_dptr dxhat, glf_dptr xhat, glf_dptr x,
                        int B, int N, float scale, glf_dptr work)
{
    return pair_loss_(ctx, "glf_bce_loss", "loss_bce_partial", loss, dxhat, xhat, x, B, N, scale,
                      work);
}

glf_status glf_gauss_nll(glf_ctx *ctx, glf_dptr loss, glf_dptr dz, glf_dptr dldj, glf_dptr z,
                         glf_dptr ldj, int B, int D, float scale, glf_dptr work)
{
    static const char *op = "glf_gauss_nll";
    size_t P;
    GLF_TRY(loss_args_(op, loss, work, B, D, &P));
    size_t n = (size_t)B * (size_t)D;
    GLF_TRY(check_ptr_(op, "z", z, n));
    GLF_TRY(check_ptr_(op, "ldj", ldj, (size_t)B));
    GLF_TRY(check_opt_(op, "dz", dz, n));
    GLF_TRY(check_opt_(op, "dldj", dldj, (size_t)B));
    float gs = (float)((double)scale / B);
    /* The constant of all B samples, summed in double once. */
    float cst = (float)((double)B * (double)D * 0.5 * log(2.0 * 3.14159265358979323846));
    int want = (dz.buf ? 1 : 0) | (dldj.buf ? 2 : 0);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", "loss_gauss_partial", NULL, &k));
    size_t l = GLF_LOSS_WG;
    GLF_TRY(GLF_LAUNCH(ctx, k, 1, &P, &l, GLF_DP(work), GLF_DP(dz.buf ? dz : z),
                       GLF_DP(dldj.buf ? dldj : ldj), GLF_DP(z), GLF_I32(n), GLF_I32(P),
                       GLF_I32(B), GLF_F32(gs), GLF_F32(-gs), GLF_I32(want)));
    return finish_(ctx, loss, work, P, ldj, B, cst, gs);
}

glf_status glf_vae_entropy(glf_ctx *ctx, glf_dptr loss, glf_dptr dlogvar, glf_dptr logvar,
                           int B, int D, float scale, glf_dptr work)
{
    static const char *op = "glf_vae_entropy";
    size_t P;
    GLF_TRY(loss_args_(op, loss, work, B, D, &P));
    size_t n = (size_t)B * (size_t)D;
    GLF_TRY(check_ptr_(op, "logvar", logvar, n));
    GLF_TRY(check_opt_(op, "dlogvar", dlogvar, n));
    float coef = (float)(-0.5 * (double)scale / B);
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "loss", "loss_sum_partial", NULL, &k));
    size_t l = GLF_LOSS_WG;
    GLF_TRY(GLF_LAUNCH(ctx, k, 1, &P, &l, GLF_DP(work), GLF_DP(dlogvar.buf ? dlogvar : logvar),
                       GLF_DP(logvar), GLF_I32(n), GLF_I32(P), GLF_F32(coef),
                       GLF_I32(dlogvar.buf ? 1 : 0)));
    glf_dptr none = {NULL, 0};
    return finish_(ctx, loss, work, P, none, 0, 0.0f, coef);
}

/* ---- reparameterisation ------------------------------------------------- */

static glf_status reparam_check_(const char *op, int B, int D, int ld)
{
    if (B < 0 || D < 0 || ld < D || (ld > 0 && B > INT_MAX / ld))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: B = %d, D = %d, ld = %d, expected B, D >= 0, ld >= D, B*ld < 2^31",
                        op, B, D, ld);
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
    GLF_TRY(check_ptr_(op, "z", z, n));
    GLF_TRY(check_ptr_(op, "mu", mu, s));
    GLF_TRY(check_ptr_(op, "logvar", logvar, s));
    GLF_TRY(check_ptr_(op, "eps", eps, n));
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
    GLF_TRY(check_opt_(op, "dmu", dmu, s));
    GLF_TRY(check_opt_(op, "dlogvar", dlogvar, s));
    GLF_TRY(check_ptr_(op, "dz", dz, n));
    GLF_TRY(check_ptr_(op, "logvar", logvar, s));
    GLF_TRY(check_ptr_(op, "eps", eps, n));
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

glf_status glf_reparam_forward(glf_ctx *ctx, glf_dptr z, glf_dptr mu, glf_dptr logvar,
                               glf_dptr eps, int B, int D)
{
    return glf_reparam_forward_ld(ctx, z, mu, logvar, eps, B, D, D);
}

glf_status glf_reparam_backward(glf_ctx *ctx, glf_dptr dmu, glf_dptr dlogvar, glf_dptr dz,
                                glf_dptr logvar, glf_dptr eps, int B, int D, int accumulate)
{
    return glf_reparam_backward_ld(ctx, dmu, dlogvar, dz, logvar, eps, B, D, D, accumulate);
}
