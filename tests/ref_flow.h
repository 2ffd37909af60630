/* Double-precision plain-C references of the flow, loss and optimizer ops
 * (include/glf/ops_flow.h), and of one whole affine coupling block with its
 * four MLP sub-networks: forward, inverse and backward. All row-major with
 * PyTorch layouts; inputs and outputs in double (tests convert the device's
 * floats). */
#ifndef GLF_REF_FLOW_H
#define GLF_REF_FLOW_H

#include <stddef.h>

/* ---- elementwise and loss references (mirror ops_flow.h) ---------------- */

double ref_soft_clamp(double s);      /* c(s) = 2.0*0.636*atan(s) */
double ref_soft_clamp_grad(double s); /* c'(s) = 1.272/(1+s^2) */

/* v = u*exp(c(s)) + t; ldj[b] = (ldj_in ? ldj_in[b] : 0) + sum_j c(s[b,j]). */
void ref_affine_forward(int B, int D, const double *u, const double *s, const double *t,
                        const double *ldj_in, double *v, double *ldj);
void ref_affine_inverse(int B, int D, const double *v, const double *s, const double *t, double *u);
/* dldj may be NULL (zero). */
void ref_affine_backward(int B, int D, const double *dv, const double *dldj, const double *u,
                         const double *s, double *du, double *ds, double *dt);
/* x = [in1 | in2] (B, D1+D2); inverse 0: out[:, j] = x[:, perm[j]];
 * inverse 1: out[:, perm[j]] = x[:, j]. */
void ref_shuffle_cols(int B, int D1, int D2, const int *perm, int inverse, const double *in1,
                      const double *in2, double *out1, double *out2);

/* Losses: *loss and (if non-NULL) gradients, as documented in ops_flow.h. */
void ref_mse_loss(int B, int N, const double *xhat, const double *x, double scale, double *loss,
                  double *dxhat);
void ref_bce_loss(int B, int N, const double *xhat, const double *x, double scale, double *loss,
                  double *dxhat);
void ref_gauss_nll(int B, int D, const double *z, const double *ldj, double scale, double *loss,
                   double *dz, double *dldj);
void ref_vae_entropy(int B, int D, const double *logvar, double scale, double *loss,
                     double *dlogvar);
/* mu, logvar (and dmu, dlogvar) rows have stride ld; z, eps, dz dense (B, D).
 * Backward: dlogvar_in NULL overwrites, else dlogvar = dlogvar_in + term. */
void ref_reparam_forward(int B, int D, int ld, const double *mu, const double *logvar,
                         const double *eps, double *z);
void ref_reparam_backward(int B, int D, int ld, const double *dz, const double *logvar,
                          const double *eps, const double *dlogvar_in, double *dmu,
                          double *dlogvar);

/* One torch.optim.Adam step (L2 weight decay into the gradient) on n
 * elements, in double, step t >= 1. */
void ref_adam_step(size_t n, double *p, const double *g, double *m, double *v, double lr,
                   double beta1, double beta2, double eps, double weight_decay, long t);

/* ---- one MLP sub-network ---------------------------------------------------
 * fc1 (in->h) -> ReLU -> bn1 -> fc2 (h->h) -> ReLU -> bn2 -> fc3 (h->out).
 * Parameters live in ONE flat double array in PyTorch state_dict order:
 * fc1.weight (h, in), fc1.bias (h), bn1.weight (h), bn1.bias (h),
 * fc2.weight (h, h), fc2.bias (h), bn2.weight (h), bn2.bias (h),
 * fc3.weight (out, h), fc3.bias (out). Gradients use the same layout.
 * BatchNorm state (running stats) is a second flat array of 4h doubles:
 * bn1.running_mean, bn1.running_var, bn2.running_mean, bn2.running_var. */
typedef struct ref_mlp_layout {
    size_t w1, b1, g1, be1, w2, b2, g2, be2, w3, b3; /* offsets */
    size_t total;                                    /* doubles */
} ref_mlp_layout;
ref_mlp_layout ref_mlp_layout_of(int in, int h, int out);

/* What the MLP's backward needs; arrays sized for (B, in, h, out). */
typedef struct ref_mlp_cache {
    int B, in, h, out, bn_train;
    double *x;               /* (B, in) input */
    double *a1, *xh1, *y1;   /* (B, h): fc1 out (pre-ReLU), normalised, bn1 out */
    double *a2, *xh2, *y2;   /* (B, h): same for layer 2 */
    double *o;               /* (B, out) output */
    double *mean1, *invstd1; /* (h): statistics used by bn1 (batch or running) */
    double *mean2, *invstd2; /* (h) */
} ref_mlp_cache;

/* Allocate (zeroed) / free the arrays of a cache for these sizes. */
void ref_mlp_cache_init(ref_mlp_cache *c, int B, int in, int h, int out);
void ref_mlp_cache_free(ref_mlp_cache *c);

/* bn_train 1: batch statistics (biased variance); if state != NULL the
 * running stats are updated with momentum (unbiased variance, B >= 2).
 * bn_train 0: running stats from state (required). c may be NULL. */
void ref_mlp_forward(const double *p, double *state, int B, int in, int h, int out, const double *x,
                     double *y, int bn_train, double momentum, double eps, ref_mlp_cache *c);
/* dy (B, out) -> dx (B, in) [NULL: skip], dp (layout) [NULL: skip]; overwrite.
 * Uses the cache of the forward (train or eval mode BatchNorm). */
void ref_mlp_backward(const double *p, const ref_mlp_cache *c, const double *dy, double *dx,
                      double *dp);

/* ---- one affine coupling block ------------------------------------------
 * z (B, d) = [u1 | u2], d1 = floor(d/2), d2 = d - d1.
 *   v1 = u1*exp(c(s2(u2))) + t2(u2);  v2 = u2*exp(c(s1(v1))) + t1(v1)
 *   logdet = sum c(s2(u2)) + sum c(s1(v1));  v = [v1 | v2]
 * s2, t2: MLP d2 -> d1; s1, t1: MLP d1 -> d2 (FrEIA GLOWCouplingBlock-style
 * with separate s and t nets, as glf-method.md describes). */
enum { REF_S1 = 0, REF_T1 = 1, REF_S2 = 2, REF_T2 = 3 };
typedef struct ref_coupling {
    double *mlp[4];   /* flat parameters of s1, t1, s2, t2 (ref_mlp_layout_of) */
    double *state[4]; /* running stats (4h each); NULL allowed in train mode */
    double momentum;  /* 0.1 */
    double eps;       /* 1e-5 */
} ref_coupling;

typedef struct ref_coupling_cache {
    int B, d, h, bn_train;
    double *u1, *u2; /* (B, d1), (B, d2) */
    double *s2, *t2; /* raw s2(u2), t2(u2): (B, d1) */
    double *v1;      /* (B, d1) */
    double *s1, *t1; /* raw s1(v1), t1(v1): (B, d2) */
    double *v2;      /* (B, d2) */
    ref_mlp_cache mlp[4];
} ref_coupling_cache;

ref_coupling_cache *ref_coupling_cache_new(int B, int d, int h);
void ref_coupling_cache_free(ref_coupling_cache *c);
/* Parameter count of one sub-network of a block (s1/t1: d1 -> d2, s2/t2: d2 -> d1). */
size_t ref_coupling_mlp_size(int d, int h, int which);

/* Forward z -> v (B, d), logdet (B). bn_train as in ref_mlp_forward (train
 * mode updates the running stats where state[k] != NULL). cache required. */
void ref_coupling_forward(const ref_coupling *p, int B, int d, int h, const double *z, double *v,
                          double *logdet, int bn_train, ref_coupling_cache *cache);
/* Inverse v -> z. Never updates running stats. In train mode the batch
 * statistics are those of the recovered inputs, which equal the forward's,
 * so the inverse is exact either way. cache required (it is overwritten). */
void ref_coupling_inverse(const ref_coupling *p, int B, int d, int h, const double *v, double *z,
                          int bn_train, ref_coupling_cache *cache);
/* Backward of the forward whose cache is given: dv (B, d), dlogdet (B)
 * [NULL: zero] -> dz (B, d) [NULL: skip] and dparams[k] (layout of MLP k,
 * overwritten; NULL entries skipped). */
void ref_coupling_backward(const ref_coupling *p, const ref_coupling_cache *cache, const double *dv,
                           const double *dlogdet, double *dz, double *const dparams[4]);

#endif
