/* Double-precision references of the flow, loss and Adam ops and of a whole
 * affine coupling block (see ref_flow.h). Plain loops, no cleverness: these
 * are what the kernels and the model's composed block are judged against. */
#include "ref_flow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REF_CLAMP (2.0 * 0.636)

double ref_soft_clamp(double s)
{
    return REF_CLAMP * atan(s);
}
double ref_soft_clamp_grad(double s)
{
    return REF_CLAMP / (1.0 + s * s);
}

void ref_affine_forward(int B, int D, const double *u, const double *s, const double *t,
                        const double *ldj_in, double *v, double *ldj)
{
    for (int b = 0; b < B; b++) {
        double sum = ldj_in ? ldj_in[b] : 0.0;
        for (int j = 0; j < D; j++) {
            size_t i = (size_t)b * D + j;
            double c = ref_soft_clamp(s[i]);
            sum += c;
            v[i] = u[i] * exp(c) + t[i];
        }
        ldj[b] = sum;
    }
}

void ref_affine_inverse(int B, int D, const double *v, const double *s, const double *t, double *u)
{
    for (size_t i = 0; i < (size_t)B * D; i++)
        u[i] = (v[i] - t[i]) * exp(-ref_soft_clamp(s[i]));
}

void ref_affine_backward(int B, int D, const double *dv, const double *dldj, const double *u,
                         const double *s, double *du, double *ds, double *dt)
{
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            size_t i = (size_t)b * D + j;
            double e = exp(ref_soft_clamp(s[i]));
            if (du)
                du[i] = dv[i] * e;
            if (ds)
                ds[i] = (dv[i] * u[i] * e + (dldj ? dldj[b] : 0.0)) * ref_soft_clamp_grad(s[i]);
            if (dt)
                dt[i] = dv[i];
        }
}

void ref_shuffle_cols(int B, int D1, int D2, const int *perm, int inverse, const double *in1,
                      const double *in2, double *out1, double *out2)
{
    int D = D1 + D2;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            int src = inverse ? j : perm[j], dst = inverse ? perm[j] : j;
            double x = src < D1 ? in1[(size_t)b * D1 + src] : in2[(size_t)b * D2 + src - D1];
            if (dst < D1)
                out1[(size_t)b * D1 + dst] = x;
            else
                out2[(size_t)b * D2 + dst - D1] = x;
        }
}

void ref_mse_loss(int B, int N, const double *xhat, const double *x, double scale, double *loss,
                  double *dxhat)
{
    double sum = 0.0, k = scale / B;
    for (size_t i = 0; i < (size_t)B * N; i++) {
        double d = xhat[i] - x[i];
        sum += d * d;
        if (dxhat)
            dxhat[i] = k * 2.0 * d;
    }
    *loss = k * sum;
}

void ref_bce_loss(int B, int N, const double *xhat, const double *x, double scale, double *loss,
                  double *dxhat)
{
    double sum = 0.0, k = scale / B;
    for (size_t i = 0; i < (size_t)B * N; i++) {
        double a = xhat[i], y = x[i];
        sum -= y * fmax(log(a), -100.0) + (1.0 - y) * fmax(log(1.0 - a), -100.0);
        if (dxhat)
            dxhat[i] = k * (a - y) / fmax(a * (1.0 - a), 1e-12);
    }
    *loss = k * sum;
}

void ref_gauss_nll(int B, int D, const double *z, const double *ldj, double scale, double *loss,
                   double *dz, double *dldj)
{
    double sum = 0.0, k = scale / B;
    for (int b = 0; b < B; b++) {
        double sq = 0.0;
        for (int j = 0; j < D; j++) {
            double a = z[(size_t)b * D + j];
            sq += a * a;
            if (dz)
                dz[(size_t)b * D + j] = k * a;
        }
        sum += 0.5 * sq + 0.5 * D * log(2.0 * 3.14159265358979323846) - ldj[b];
        if (dldj)
            dldj[b] = -k;
    }
    *loss = k * sum;
}

void ref_vae_entropy(int B, int D, const double *logvar, double scale, double *loss,
                     double *dlogvar)
{
    double sum = 0.0, k = scale / B;
    for (size_t i = 0; i < (size_t)B * D; i++) {
        sum += logvar[i];
        if (dlogvar)
            dlogvar[i] = -0.5 * k;
    }
    *loss = -0.5 * k * sum;
}

void ref_reparam_forward(int B, int D, int ld, const double *mu, const double *logvar,
                         const double *eps, double *z)
{
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            size_t r = (size_t)b * ld + j, i = (size_t)b * D + j;
            z[i] = mu[r] + exp(0.5 * logvar[r]) * eps[i];
        }
}

void ref_reparam_backward(int B, int D, int ld, const double *dz, const double *logvar,
                          const double *eps, const double *dlogvar_in, double *dmu, double *dlogvar)
{
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            size_t r = (size_t)b * ld + j, i = (size_t)b * D + j;
            if (dmu)
                dmu[r] = dz[i];
            if (dlogvar)
                dlogvar[r] = (dlogvar_in ? dlogvar_in[r] : 0.0) +
                             dz[i] * eps[i] * 0.5 * exp(0.5 * logvar[r]);
        }
}

void ref_adam_step(size_t n, double *p, const double *g, double *m, double *v, double lr,
                   double beta1, double beta2, double eps, double weight_decay, long t)
{
    double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + weight_decay * p[i];
        m[i] = beta1 * m[i] + (1.0 - beta1) * gi;
        v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi;
        p[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + eps);
    }
}

/* ---- MLP ------------------------------------------------------------------ */

ref_mlp_layout ref_mlp_layout_of(int in, int h, int out)
{
    ref_mlp_layout l;
    size_t o = 0;
    l.w1 = o, o += (size_t)h * in;
    l.b1 = o, o += h;
    l.g1 = o, o += h;
    l.be1 = o, o += h;
    l.w2 = o, o += (size_t)h * h;
    l.b2 = o, o += h;
    l.g2 = o, o += h;
    l.be2 = o, o += h;
    l.w3 = o, o += (size_t)out * h;
    l.b3 = o, o += out;
    l.total = o;
    return l;
}

/* y (B, O) = x (B, I) w^T + b, w (O, I). */
static void linear_(int B, int I, int O, const double *x, const double *w, const double *b,
                    double *y)
{
    for (int n = 0; n < B; n++)
        for (int o = 0; o < O; o++) {
            double s = b[o];
            for (int i = 0; i < I; i++)
                s += x[(size_t)n * I + i] * w[(size_t)o * I + i];
            y[(size_t)n * O + o] = s;
        }
}

/* dx = dy w (skip if NULL); dw = dy^T x; db = sum dy. */
static void linear_back_(int B, int I, int O, const double *x, const double *w, const double *dy,
                         double *dx, double *dw, double *db)
{
    if (dx)
        for (int n = 0; n < B; n++)
            for (int i = 0; i < I; i++) {
                double s = 0.0;
                for (int o = 0; o < O; o++)
                    s += dy[(size_t)n * O + o] * w[(size_t)o * I + i];
                dx[(size_t)n * I + i] = s;
            }
    if (dw)
        for (int o = 0; o < O; o++) {
            for (int i = 0; i < I; i++) {
                double s = 0.0;
                for (int n = 0; n < B; n++)
                    s += dy[(size_t)n * O + o] * x[(size_t)n * I + i];
                dw[(size_t)o * I + i] = s;
            }
            double s = 0.0;
            for (int n = 0; n < B; n++)
                s += dy[(size_t)n * O + o];
            db[o] = s;
        }
}

/* BatchNorm1d over r (B, H) -> xh, y; mean/invstd written (train) or taken
 * from the running stats rm/rv (eval). */
static void bn_(int B, int H, const double *r, const double *g, const double *be, double *rm,
                double *rv, int train, double momentum, double eps, double *mean, double *invstd,
                double *xh, double *y)
{
    for (int j = 0; j < H; j++) {
        double mu, var;
        if (train) {
            mu = 0.0;
            for (int n = 0; n < B; n++)
                mu += r[(size_t)n * H + j];
            mu /= B;
            var = 0.0;
            for (int n = 0; n < B; n++) {
                double d = r[(size_t)n * H + j] - mu;
                var += d * d;
            }
            var /= B;
            if (rm && rv) {
                rm[j] = (1.0 - momentum) * rm[j] + momentum * mu;
                rv[j] = (1.0 - momentum) * rv[j] + momentum * (B > 1 ? var * B / (B - 1) : var);
            }
        } else {
            mu = rm[j];
            var = rv[j];
        }
        mean[j] = mu;
        invstd[j] = 1.0 / sqrt(var + eps);
        for (int n = 0; n < B; n++) {
            size_t i = (size_t)n * H + j;
            xh[i] = (r[i] - mu) * invstd[j];
            y[i] = g[j] * xh[i] + be[j];
        }
    }
}

/* Backward of bn_ and the ReLU before it: dy (B, H) -> da (B, H) w.r.t. the
 * pre-ReLU input a; dg, dbe (H) if non-NULL. */
static void bn_relu_back_(int B, int H, int train, const double *a, const double *xh,
                          const double *g, const double *invstd, const double *dy, double *da,
                          double *dg, double *dbe)
{
    for (int j = 0; j < H; j++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < B; n++) {
            size_t i = (size_t)n * H + j;
            sdy += dy[i];
            sdyx += dy[i] * xh[i];
        }
        if (dg)
            dg[j] = sdyx, dbe[j] = sdy;
        for (int n = 0; n < B; n++) {
            size_t i = (size_t)n * H + j;
            double dr = train ? g[j] * invstd[j] * (dy[i] - sdy / B - xh[i] * sdyx / B)
                              : g[j] * invstd[j] * dy[i];
            da[i] = a[i] > 0.0 ? dr : 0.0;
        }
    }
}

static double *zalloc_(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

void ref_mlp_cache_init(ref_mlp_cache *c, int B, int in, int h, int out)
{
    c->B = B, c->in = in, c->h = h, c->out = out, c->bn_train = 0;
    size_t bh = (size_t)B * h;
    c->x = zalloc_((size_t)B * in);
    c->a1 = zalloc_(bh), c->xh1 = zalloc_(bh), c->y1 = zalloc_(bh);
    c->a2 = zalloc_(bh), c->xh2 = zalloc_(bh), c->y2 = zalloc_(bh);
    c->o = zalloc_((size_t)B * out);
    c->mean1 = zalloc_(h), c->invstd1 = zalloc_(h), c->mean2 = zalloc_(h), c->invstd2 = zalloc_(h);
}

void ref_mlp_cache_free(ref_mlp_cache *c)
{
    free(c->x), free(c->a1), free(c->xh1), free(c->y1), free(c->a2), free(c->xh2), free(c->y2);
    free(c->o), free(c->mean1), free(c->invstd1), free(c->mean2), free(c->invstd2);
}

void ref_mlp_forward(const double *p, double *state, int B, int in, int h, int out, const double *x,
                     double *y, int bn_train, double momentum, double eps, ref_mlp_cache *c)
{
    ref_mlp_cache tmp;
    ref_mlp_cache *k = c;
    if (!k) {
        ref_mlp_cache_init(&tmp, B, in, h, out);
        k = &tmp;
    }
    ref_mlp_layout l = ref_mlp_layout_of(in, h, out);
    size_t bh = (size_t)B * h;
    double *r = zalloc_(bh);
    k->bn_train = bn_train;
    memcpy(k->x, x, (size_t)B * in * sizeof(double));
    double *rm1 = state ? state : NULL, *rv1 = state ? state + h : NULL;
    double *rm2 = state ? state + 2 * h : NULL, *rv2 = state ? state + 3 * h : NULL;

    linear_(B, in, h, x, p + l.w1, p + l.b1, k->a1);
    for (size_t i = 0; i < bh; i++)
        r[i] = k->a1[i] > 0.0 ? k->a1[i] : 0.0;
    bn_(B, h, r, p + l.g1, p + l.be1, rm1, rv1, bn_train, momentum, eps, k->mean1, k->invstd1,
        k->xh1, k->y1);
    linear_(B, h, h, k->y1, p + l.w2, p + l.b2, k->a2);
    for (size_t i = 0; i < bh; i++)
        r[i] = k->a2[i] > 0.0 ? k->a2[i] : 0.0;
    bn_(B, h, r, p + l.g2, p + l.be2, rm2, rv2, bn_train, momentum, eps, k->mean2, k->invstd2,
        k->xh2, k->y2);
    linear_(B, h, out, k->y2, p + l.w3, p + l.b3, k->o);
    memcpy(y, k->o, (size_t)B * out * sizeof(double));
    free(r);
    if (!c)
        ref_mlp_cache_free(&tmp);
}

void ref_mlp_backward(const double *p, const ref_mlp_cache *c, const double *dy, double *dx,
                      double *dp)
{
    int B = c->B, in = c->in, h = c->h, out = c->out;
    ref_mlp_layout l = ref_mlp_layout_of(in, h, out);
    size_t bh = (size_t)B * h;
    double *dy2 = zalloc_(bh), *da2 = zalloc_(bh), *dy1 = zalloc_(bh), *da1 = zalloc_(bh);
    double *scratch = dp ? NULL : zalloc_(l.total);
    double *g = dp ? dp : scratch; /* parameter grads are needed for nothing else */

    linear_back_(B, h, out, c->y2, p + l.w3, dy, dy2, g + l.w3, g + l.b3);
    bn_relu_back_(B, h, c->bn_train, c->a2, c->xh2, p + l.g2, c->invstd2, dy2, da2, g + l.g2,
                  g + l.be2);
    linear_back_(B, h, h, c->y1, p + l.w2, da2, dy1, g + l.w2, g + l.b2);
    bn_relu_back_(B, h, c->bn_train, c->a1, c->xh1, p + l.g1, c->invstd1, dy1, da1, g + l.g1,
                  g + l.be1);
    linear_back_(B, in, h, c->x, p + l.w1, da1, dx, g + l.w1, g + l.b1);
    free(dy2), free(da2), free(dy1), free(da1), free(scratch);
}

/* ---- coupling block ---------------------------------------------------------- */

static int in_of_(int d, int which)
{
    return which == REF_S1 || which == REF_T1 ? d / 2 : d - d / 2;
}
static int out_of_(int d, int which)
{
    return which == REF_S1 || which == REF_T1 ? d - d / 2 : d / 2;
}

size_t ref_coupling_mlp_size(int d, int h, int which)
{
    return ref_mlp_layout_of(in_of_(d, which), h, out_of_(d, which)).total;
}

ref_coupling_cache *ref_coupling_cache_new(int B, int d, int h)
{
    ref_coupling_cache *c = calloc(1, sizeof *c);
    int d1 = d / 2, d2 = d - d1;
    c->B = B, c->d = d, c->h = h;
    c->u1 = zalloc_((size_t)B * d1), c->u2 = zalloc_((size_t)B * d2);
    c->s2 = zalloc_((size_t)B * d1), c->t2 = zalloc_((size_t)B * d1),
    c->v1 = zalloc_((size_t)B * d1);
    c->s1 = zalloc_((size_t)B * d2), c->t1 = zalloc_((size_t)B * d2),
    c->v2 = zalloc_((size_t)B * d2);
    for (int k = 0; k < 4; k++)
        ref_mlp_cache_init(&c->mlp[k], B, in_of_(d, k), h, out_of_(d, k));
    return c;
}

void ref_coupling_cache_free(ref_coupling_cache *c)
{
    if (!c)
        return;
    free(c->u1), free(c->u2), free(c->s2), free(c->t2), free(c->v1);
    free(c->s1), free(c->t1), free(c->v2);
    for (int k = 0; k < 4; k++)
        ref_mlp_cache_free(&c->mlp[k]);
    free(c);
}

static void split_(int B, int d1, int d2, const double *z, double *a, double *b)
{
    for (int n = 0; n < B; n++) {
        memcpy(a + (size_t)n * d1, z + (size_t)n * (d1 + d2), (size_t)d1 * sizeof(double));
        memcpy(b + (size_t)n * d2, z + (size_t)n * (d1 + d2) + d1, (size_t)d2 * sizeof(double));
    }
}

static void join_(int B, int d1, int d2, const double *a, const double *b, double *z)
{
    for (int n = 0; n < B; n++) {
        memcpy(z + (size_t)n * (d1 + d2), a + (size_t)n * d1, (size_t)d1 * sizeof(double));
        memcpy(z + (size_t)n * (d1 + d2) + d1, b + (size_t)n * d2, (size_t)d2 * sizeof(double));
    }
}

/* Run sub-network k of the block on x; update_state selects whether train
 * mode touches the running stats. */
static void sub_(const ref_coupling *p, int k, int B, int d, int h, const double *x, double *y,
                 int bn_train, int update_state, ref_coupling_cache *c)
{
    double *state = p->state[k];
    double *copy = NULL;
    if (bn_train && !update_state && state) {
        /* train mode reads no running stats: work on a throwaway copy */
        copy = malloc(4 * (size_t)h * sizeof(double));
        memcpy(copy, state, 4 * (size_t)h * sizeof(double));
        state = copy;
    }
    ref_mlp_forward(p->mlp[k], state, B, in_of_(d, k), h, out_of_(d, k), x, y, bn_train,
                    p->momentum, p->eps, &c->mlp[k]);
    free(copy);
}

void ref_coupling_forward(const ref_coupling *p, int B, int d, int h, const double *z, double *v,
                          double *logdet, int bn_train, ref_coupling_cache *c)
{
    int d1 = d / 2, d2 = d - d1;
    c->bn_train = bn_train;
    split_(B, d1, d2, z, c->u1, c->u2);
    double *l2 = zalloc_(B);
    sub_(p, REF_S2, B, d, h, c->u2, c->s2, bn_train, 1, c);
    sub_(p, REF_T2, B, d, h, c->u2, c->t2, bn_train, 1, c);
    ref_affine_forward(B, d1, c->u1, c->s2, c->t2, NULL, c->v1, l2);
    sub_(p, REF_S1, B, d, h, c->v1, c->s1, bn_train, 1, c);
    sub_(p, REF_T1, B, d, h, c->v1, c->t1, bn_train, 1, c);
    ref_affine_forward(B, d2, c->u2, c->s1, c->t1, l2, c->v2, logdet);
    join_(B, d1, d2, c->v1, c->v2, v);
    free(l2);
}

void ref_coupling_inverse(const ref_coupling *p, int B, int d, int h, const double *v, double *z,
                          int bn_train, ref_coupling_cache *c)
{
    int d1 = d / 2, d2 = d - d1;
    c->bn_train = bn_train;
    split_(B, d1, d2, v, c->v1, c->v2);
    sub_(p, REF_S1, B, d, h, c->v1, c->s1, bn_train, 0, c);
    sub_(p, REF_T1, B, d, h, c->v1, c->t1, bn_train, 0, c);
    ref_affine_inverse(B, d2, c->v2, c->s1, c->t1, c->u2);
    sub_(p, REF_S2, B, d, h, c->u2, c->s2, bn_train, 0, c);
    sub_(p, REF_T2, B, d, h, c->u2, c->t2, bn_train, 0, c);
    ref_affine_inverse(B, d1, c->v1, c->s2, c->t2, c->u1);
    join_(B, d1, d2, c->u1, c->u2, z);
}

void ref_coupling_backward(const ref_coupling *p, const ref_coupling_cache *c, const double *dv,
                           const double *dlogdet, double *dz, double *const dparams[4])
{
    int B = c->B, d = c->d, d1 = d / 2, d2 = d - d1;
    size_t n1 = (size_t)B * d1, n2 = (size_t)B * d2;
    double *dv1 = zalloc_(n1), *dv2 = zalloc_(n2), *du1 = zalloc_(n1), *du2 = zalloc_(n2);
    double *ds1 = zalloc_(n2), *dt1 = zalloc_(n2), *ds2 = zalloc_(n1), *dt2 = zalloc_(n1);
    double *tmp1 = zalloc_(n1), *tmp2 = zalloc_(n2);
    split_(B, d1, d2, dv, dv1, dv2);

    /* second half: v2 = u2*exp(c(s1(v1))) + t1(v1) */
    ref_affine_backward(B, d2, dv2, dlogdet, c->u2, c->s1, du2, ds1, dt1);
    ref_mlp_backward(p->mlp[REF_S1], &c->mlp[REF_S1], ds1, tmp1, dparams[REF_S1]);
    for (size_t i = 0; i < n1; i++)
        dv1[i] += tmp1[i];
    ref_mlp_backward(p->mlp[REF_T1], &c->mlp[REF_T1], dt1, tmp1, dparams[REF_T1]);
    for (size_t i = 0; i < n1; i++)
        dv1[i] += tmp1[i];

    /* first half: v1 = u1*exp(c(s2(u2))) + t2(u2) */
    ref_affine_backward(B, d1, dv1, dlogdet, c->u1, c->s2, du1, ds2, dt2);
    ref_mlp_backward(p->mlp[REF_S2], &c->mlp[REF_S2], ds2, tmp2, dparams[REF_S2]);
    for (size_t i = 0; i < n2; i++)
        du2[i] += tmp2[i];
    ref_mlp_backward(p->mlp[REF_T2], &c->mlp[REF_T2], dt2, tmp2, dparams[REF_T2]);
    for (size_t i = 0; i < n2; i++)
        du2[i] += tmp2[i];

    if (dz)
        join_(B, d1, d2, du1, du2, dz);
    free(dv1), free(dv2), free(du1), free(du2), free(ds1), free(dt1), free(ds2), free(dt2);
    free(tmp1), free(tmp2);
}
