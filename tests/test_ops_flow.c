/* Flow ops: the coupling-block reference (inverse, log-det vs a brute-force
 * Jacobian, backward vs finite differences), then the affine and shuffle
 * kernels vs that reference at odd sizes, with offsets, NaN pre-fill, guard
 * regions and bitwise repeatability. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_flow.h"
#include "ref_flow.h"

/* An input tensor: like dev_at_, but the guard holds a finite poison value,
 * so a kernel reading past the end produces a value that cannot pass for
 * the sentinel (NaN payloads propagate through arithmetic). */
static cl_mem dev_in_(glf_ctx *ctx, const float *host, size_t n, size_t off)
{
    cl_mem b = tu_buf_at(ctx, host, n, off);
    TU_OK(glf_buf_fill_f32(ctx, b, off + n, TU_GUARD, -3.5e7f));
    return b;
}

static void expect_(const char *what, const float *got, const double *want, size_t n, double atol,
                    double rtol)
{
    if (tu_compare(what, got, want, n, atol, rtol))
        fail_msg("%s: kernel and reference differ", what);
}

/* ---- the coupling reference ---------------------------------------------------- */

typedef struct block_ {
    ref_coupling p;
    double *params[4], *state[4];
} block_;

/* Weights large enough that s and t are O(1) (the real 0.05 init would
 * make the block nearly the identity and the tests weak). */
static void block_init_(block_ *b, int d, int h, uint64_t seed, int with_state)
{
    memset(b, 0, sizeof *b);
    for (int k = 0; k < 4; k++) {
        size_t n = ref_coupling_mlp_size(d, h, k);
        b->params[k] = tu_rand_f64(n, seed + (uint64_t)k, -0.6, 0.6);
        ref_mlp_layout l =
            ref_mlp_layout_of(k < 2 ? d / 2 : d - d / 2, h, k < 2 ? d - d / 2 : d / 2);
        for (int j = 0; j < h; j++) /* BN gammas near 1 */
            b->params[k][l.g1 + j] += 1.0, b->params[k][l.g2 + j] += 1.0;
        b->state[k] = tu_rand_f64(4 * (size_t)h, seed + 10 + (uint64_t)k, -0.5, 0.5);
        for (int j = 0; j < 2 * h; j++) /* variances in [0.5, 1.5] */
            b->state[k][h + (j / h) * 2 * h + j % h] += 1.0;
        b->p.mlp[k] = b->params[k];
        b->p.state[k] = with_state ? b->state[k] : NULL;
    }
    b->p.momentum = 0.1;
    b->p.eps = 1e-5;
}

static void block_free_(block_ *b)
{
    for (int k = 0; k < 4; k++)
        free(b->params[k]), free(b->state[k]);
}

static void test_ref_coupling_inverse(void **state)
{
    (void)state;
    const int ds[] = {1, 4, 5, 20};
    for (int di = 0; di < 4; di++)
        for (int train = 0; train < 2; train++) {
            int B = 7, d = ds[di], h = 9;
            block_ bl;
            block_init_(&bl, d, h, 100 + (uint64_t)d, 1);
            double *z = tu_rand_f64((size_t)B * d, 7 + (uint64_t)d, -2, 2);
            double *v = calloc((size_t)B * d, sizeof *v), *z2 = calloc((size_t)B * d, sizeof *z2);
            double *ld = calloc(B, sizeof *ld);
            ref_coupling_cache *c = ref_coupling_cache_new(B, d, h);
            ref_coupling_forward(&bl.p, B, d, h, z, v, ld, train, c);
            ref_coupling_inverse(&bl.p, B, d, h, v, z2, train, c);
            double worst = 0, moved = 0;
            for (size_t i = 0; i < (size_t)B * d; i++) {
                worst = fmax(worst, fabs(z2[i] - z[i]));
                moved = fmax(moved, fabs(v[i] - z[i]));
            }
            if (!(worst <= 1e-5))
                fail_msg("coupling d=%d train=%d: |inverse(forward(z)) - z| = %g > 1e-5", d, train,
                         worst);
            if (d > 1 && !(moved > 0.1)) /* the block must actually transform z */
                fail_msg("coupling d=%d: forward barely moved z (%g)", d, moved);
            ref_coupling_cache_free(c);
            free(z), free(v), free(z2), free(ld);
            block_free_(&bl);
        }
}

/* log|det A| of an n x n matrix by LU with partial pivoting. */
static double logabsdet_(double *a, int n)
{
    double s = 0.0;
    for (int k = 0; k < n; k++) {
        int piv = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[piv * n + k]))
                piv = i;
        if (piv != k)
            for (int j = 0; j < n; j++) {
                double t = a[k * n + j];
                a[k * n + j] = a[piv * n + j], a[piv * n + j] = t;
            }
        s += log(fabs(a[k * n + k]));
        for (int i = k + 1; i < n; i++) {
            double f = a[i * n + k] / a[k * n + k];
            for (int j = k; j < n; j++)
                a[i * n + j] -= f * a[k * n + j];
        }
    }
    return s;
}

/* Eval-mode BatchNorm keeps samples independent, so column j of sample b's
 * Jacobian is the central difference of row b when z[b, j] moves. */
static void test_ref_coupling_logdet(void **state)
{
    (void)state;
    const int ds[] = {4, 20, 7};
    for (int di = 0; di < 3; di++) {
        int B = 3, d = ds[di], h = 11;
        block_ bl;
        block_init_(&bl, d, h, 300 + (uint64_t)d, 1);
        size_t n = (size_t)B * d;
        double *z = tu_rand_f64(n, 31 + (uint64_t)d, -1.5, 1.5);
        double *v = calloc(n, sizeof *v), *vp = calloc(n, sizeof *vp), *vm = calloc(n, sizeof *vm);
        double *ld = calloc(B, sizeof *ld), *tmp = calloc(B, sizeof *tmp);
        double *J = calloc((size_t)d * d, sizeof *J);
        ref_coupling_cache *c = ref_coupling_cache_new(B, d, h);
        ref_coupling_forward(&bl.p, B, d, h, z, v, ld, 0, c);
        const double hstep = 1e-5;
        for (int b = 0; b < B; b++) {
            for (int j = 0; j < d; j++) {
                double z0 = z[(size_t)b * d + j];
                z[(size_t)b * d + j] = z0 + hstep;
                ref_coupling_forward(&bl.p, B, d, h, z, vp, tmp, 0, c);
                z[(size_t)b * d + j] = z0 - hstep;
                ref_coupling_forward(&bl.p, B, d, h, z, vm, tmp, 0, c);
                z[(size_t)b * d + j] = z0;
                for (int i = 0; i < d; i++)
                    J[i * d + j] = (vp[(size_t)b * d + i] - vm[(size_t)b * d + i]) / (2 * hstep);
            }
            double want = logabsdet_(J, d);
            if (!(fabs(ld[b] - want) <= 1e-6 * (1.0 + fabs(want))))
                fail_msg("coupling d=%d sample %d: logdet %.12g, brute-force log|det J| %.12g", d,
                         b, ld[b], want);
        }
        ref_coupling_cache_free(c);
        free(z), free(v), free(vp), free(vm), free(ld), free(tmp), free(J);
        block_free_(&bl);
    }
}

/* L = sum dv.v + sum dl.logdet; analytic gradients vs central differences. */
static double objective_(block_ *bl, int B, int d, int h, const double *z, const double *dv,
                         const double *dl, int train, ref_coupling_cache *c, double *v, double *ld)
{
    ref_coupling_forward(&bl->p, B, d, h, z, v, ld, train, c);
    double L = 0;
    for (size_t i = 0; i < (size_t)B * d; i++)
        L += dv[i] * v[i];
    for (int b = 0; b < B; b++)
        L += dl[b] * ld[b];
    return L;
}

static void fd_check_(const char *what, double *x, size_t n, double analytic_at(size_t, void *),
                      void *ctx, double (*eval)(void *))
{
    const double hstep = 1e-6;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + hstep;
        double lp = eval(ctx);
        x[i] = x0 - hstep;
        double lm = eval(ctx);
        x[i] = x0;
        double fd = (lp - lm) / (2 * hstep), an = analytic_at(i, ctx);
        if (!(fabs(fd - an) <= 1e-6 + 1e-5 * fabs(fd))) {
            if (bad < 10)
                print_message("  %s[%zu]: analytic %.10g, finite difference %.10g\n", what, i, an,
                              fd);
            bad++;
        }
    }
    if (bad)
        fail_msg("%s: %zu of %zu gradients disagree with finite differences", what, bad, n);
}

typedef struct fdctx_ {
    block_ *bl;
    int B, d, h, train;
    double *z, *dv, *dl, *v, *ld, *grad;
    ref_coupling_cache *c;
} fdctx_;

static double fd_eval_(void *p)
{
    fdctx_ *f = p;
    return objective_(f->bl, f->B, f->d, f->h, f->z, f->dv, f->dl, f->train, f->c, f->v, f->ld);
}

static double fd_grad_(size_t i, void *p)
{
    return ((fdctx_ *)p)->grad[i];
}

static void test_ref_coupling_backward(void **state)
{
    (void)state;
    const int cfg[][3] = {{5, 5, 6}, {3, 4, 5}, {4, 7, 3}}; /* B, d, h */
    for (int ci = 0; ci < 3; ci++)
        for (int train = 0; train < 2; train++) {
            int B = cfg[ci][0], d = cfg[ci][1], h = cfg[ci][2];
            block_ bl;
            /* train mode: no running-stat updates, so every evaluation is the same function */
            block_init_(&bl, d, h, 500 + (uint64_t)ci, !train);
            size_t n = (size_t)B * d;
            fdctx_ f = {&bl,
                        B,
                        d,
                        h,
                        train,
                        tu_rand_f64(n, 41, -1.5, 1.5),
                        tu_rand_f64(n, 42, -1, 1),
                        tu_rand_f64(B, 43, -1, 1),
                        calloc(n, sizeof(double)),
                        calloc(B, sizeof(double)),
                        NULL,
                        ref_coupling_cache_new(B, d, h)};
            double *dz = calloc(n, sizeof *dz), *dp[4];
            for (int k = 0; k < 4; k++)
                dp[k] = calloc(ref_coupling_mlp_size(d, h, k), sizeof(double));
            fd_eval_(&f);
            ref_coupling_backward(&bl.p, f.c, f.dv, f.dl, dz, dp);
            char what[96];
            snprintf(what, sizeof what, "coupling B%d d%d h%d train%d dz", B, d, h, train);
            f.grad = dz;
            fd_check_(what, f.z, n, fd_grad_, &f, fd_eval_);
            static const char *names[4] = {"s1", "t1", "s2", "t2"};
            for (int k = 0; k < 4; k++) {
                snprintf(what, sizeof what, "coupling B%d d%d h%d train%d d%s", B, d, h, train,
                         names[k]);
                f.grad = dp[k];
                fd_check_(what, bl.params[k], ref_coupling_mlp_size(d, h, k), fd_grad_, &f,
                          fd_eval_);
            }
            for (int k = 0; k < 4; k++)
                free(dp[k]);
            free(dz), free(f.z), free(f.dv), free(f.dl), free(f.v), free(f.ld);
            ref_coupling_cache_free(f.c);
            block_free_(&bl);
        }
}

/* Train mode updates running stats as torch does: momentum 0.1, unbiased
 * variance; checked against statistics recomputed from the cached fc1 output. */
static void test_ref_running_stats(void **state)
{
    (void)state;
    int B = 6, in = 3, h = 5, out = 2;
    ref_mlp_layout l = ref_mlp_layout_of(in, h, out);
    double *p = tu_rand_f64(l.total, 61, -0.8, 0.8), *st = tu_rand_f64(4 * (size_t)h, 62, 0.5, 1.5);
    double *old = malloc(4 * (size_t)h * sizeof *old), *x = tu_rand_f64((size_t)B * in, 63, -2, 2);
    double *y = calloc((size_t)B * out, sizeof *y);
    memcpy(old, st, 4 * (size_t)h * sizeof *old);
    ref_mlp_cache c;
    ref_mlp_cache_init(&c, B, in, h, out);
    ref_mlp_forward(p, st, B, in, h, out, x, y, 1, 0.1, 1e-5, &c);
    for (int j = 0; j < h; j++) {
        double mu = 0, var = 0;
        for (int b = 0; b < B; b++)
            mu += fmax(c.a1[b * h + j], 0.0) / B;
        for (int b = 0; b < B; b++)
            var += pow(fmax(c.a1[b * h + j], 0.0) - mu, 2) / (B - 1);
        assert_true(fabs(st[j] - (0.9 * old[j] + 0.1 * mu)) < 1e-12);
        assert_true(fabs(st[h + j] - (0.9 * old[h + j] + 0.1 * var)) < 1e-12);
        assert_true(fabs(c.invstd1[j] - 1.0 / sqrt(var * (B - 1) / B + 1e-5)) < 1e-9);
    }
    ref_mlp_cache_free(&c);
    free(p), free(st), free(old), free(x), free(y);
}

/* ---- the coupling reference vs PyTorch ------------------------------------------ */

typedef struct fixture_ {
    int n;
    char name[160][64];
    int count[160];
    double *val[160];
} fixture_;

static const double *fx_get_(const fixture_ *f, const char *name, int count)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->name[i], name)) {
            if (f->count[i] != count)
                fail_msg("coupling fixture: %s has %d values, expected %d", name, f->count[i],
                         count);
            return f->val[i];
        }
    fail_msg("coupling fixture: no entry '%s'", name);
    return NULL;
}

static void fx_expect_(const fixture_ *f, const char *name, const double *got, int count)
{
    const double *want = fx_get_(f, name, count);
    for (int i = 0; i < count; i++)
        if (!(fabs(got[i] - want[i]) <= 1e-10 * (1.0 + fabs(want[i]))))
            fail_msg("coupling vs PyTorch: %s[%d] = %.17g, torch %.17g", name, i, got[i], want[i]);
}

static const char *const mlp_names_[4] = {"s1", "t1", "s2", "t2"};
static const char *const param_names_[10] = {"fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias",
                                             "fc2.weight", "fc2.bias", "bn2.weight", "bn2.bias",
                                             "fc3.weight", "fc3.bias"};
static const char *const state_names_[4] = {"bn1.running_mean", "bn1.running_var",
                                            "bn2.running_mean", "bn2.running_var"};

/* Sizes of the ten parameter tensors of MLP k, in layout order. */
static void param_sizes_(int d, int h, int k, int *sz)
{
    int in = k < 2 ? d / 2 : d - d / 2, out = k < 2 ? d - d / 2 : d / 2;
    int v[10] = {h * in, h, h, h, h * h, h, h, h, out * h, out};
    memcpy(sz, v, sizeof v);
}

/* Gather MLP k's tensors (prefix "" or "grad.") into the flat layout. */
static void gather_(const fixture_ *f, const char *prefix, int d, int h, int k, double *flat)
{
    int sz[10];
    param_sizes_(d, h, k, sz);
    size_t o = 0;
    for (int j = 0; j < 10; j++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s.%s", prefix, mlp_names_[k], param_names_[j]);
        memcpy(flat + o, fx_get_(f, name, sz[j]), (size_t)sz[j] * sizeof(double));
        o += (size_t)sz[j];
    }
}

/* tests/data/coupling_torch_1_13.txt, written by tests/gen_coupling_fixture.py
 * from torch.nn.Linear/BatchNorm1d/ReLU in float64: forward (train and eval
 * BatchNorm), running-stat updates and every gradient agree to 1e-10. */
static void test_ref_coupling_vs_pytorch(void **state)
{
    (void)state;
    const char *path = tu_src_path("tests/data/coupling_torch_1_13.txt");
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("cannot open %s (GLF_SOURCE_DIR must point at the source tree)", path);
    int ver = 0, B = 0, d = 0, h = 0;
    if (fscanf(fp, "glf-coupling-fixture %d %d %d %d", &ver, &B, &d, &h) != 4 || ver != 1)
        fail_msg("%s: not a version-1 coupling fixture", path);
    fixture_ *f = calloc(1, sizeof *f);
    while (f->n < 160 && fscanf(fp, "%63s %d", f->name[f->n], &f->count[f->n]) == 2) {
        int c = f->count[f->n];
        assert_true(c > 0 && c < 100000);
        f->val[f->n] = malloc((size_t)c * sizeof(double));
        for (int i = 0; i < c; i++)
            if (fscanf(fp, "%lf", &f->val[f->n][i]) != 1)
                fail_msg("%s: entry %s is short", path, f->name[f->n]);
        f->n++;
    }
    fclose(fp);
    size_t n = (size_t)B * d;
    ref_coupling p = {{NULL}, {NULL}, 0.1, 1e-5};
    double *init_state[4], *grads[4];
    for (int k = 0; k < 4; k++) {
        size_t np = ref_coupling_mlp_size(d, h, k);
        p.mlp[k] = malloc(np * sizeof(double));
        grads[k] = malloc(np * sizeof(double));
        gather_(f, "", d, h, k, p.mlp[k]);
        p.state[k] = malloc(4 * (size_t)h * sizeof(double));
        init_state[k] = malloc(4 * (size_t)h * sizeof(double));
        for (int j = 0; j < 4; j++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%s", mlp_names_[k], state_names_[j]);
            memcpy(init_state[k] + (size_t)j * h, fx_get_(f, name, h), (size_t)h * sizeof(double));
        }
        memcpy(p.state[k], init_state[k], 4 * (size_t)h * sizeof(double));
    }
    double *v = malloc(n * sizeof *v), *ld = malloc((size_t)B * sizeof *ld);
    double *dz = malloc(n * sizeof *dz);
    ref_coupling_cache *c = ref_coupling_cache_new(B, d, h);
    ref_coupling_forward(&p, B, d, h, fx_get_(f, "z", (int)n), v, ld, 1, c);
    fx_expect_(f, "v", v, (int)n);
    fx_expect_(f, "logdet", ld, B);
    ref_coupling_backward(&p, c, fx_get_(f, "dv", (int)n), fx_get_(f, "dlogdet", B), dz, grads);
    fx_expect_(f, "dz", dz, (int)n);
    for (int k = 0; k < 4; k++) {
        size_t np = ref_coupling_mlp_size(d, h, k);
        double *want = malloc(np * sizeof *want);
        gather_(f, "grad.", d, h, k, want);
        char name[32];
        snprintf(name, sizeof name, "grad.%s (flat)", mlp_names_[k]);
        for (size_t i = 0; i < np; i++)
            if (!(fabs(grads[k][i] - want[i]) <= 1e-10 * (1.0 + fabs(want[i]))))
                fail_msg("coupling vs PyTorch: %s[%zu] = %.17g, torch %.17g", name, i, grads[k][i],
                         want[i]);
        free(want);
        for (int j = 0; j < 4; j++) {
            snprintf(name, sizeof name, "%s.%s", mlp_names_[k], state_names_[j]);
            /* the LAST entry of that name: running stats after the forward */
            for (int e = f->n - 1; e >= 0; e--)
                if (!strcmp(f->name[e], name)) {
                    for (int i = 0; i < h; i++)
                        if (!(fabs(p.state[k][j * h + i] - f->val[e][i]) <= 1e-10))
                            fail_msg("coupling vs PyTorch: %s[%d] after train forward = %.17g, "
                                     "torch %.17g",
                                     name, i, p.state[k][j * h + i], f->val[e][i]);
                    break;
                }
        }
        memcpy(p.state[k], init_state[k], 4 * (size_t)h * sizeof(double));
    }
    ref_coupling_forward(&p, B, d, h, fx_get_(f, "z", (int)n), v, ld, 0, c);
    fx_expect_(f, "v_eval", v, (int)n);
    fx_expect_(f, "logdet_eval", ld, B);
    ref_coupling_cache_free(c);
    for (int k = 0; k < 4; k++)
        free(p.mlp[k]), free(p.state[k]), free(init_state[k]), free(grads[k]);
    for (int i = 0; i < f->n; i++)
        free(f->val[i]);
    free(f), free(v), free(ld), free(dz);
}

/* ---- elementwise references vs finite differences ---------------------------- */

typedef struct affctx_ {
    int B, D;
    double *u, *s, *t, *dv, *dl, *v, *ld, *grad;
} affctx_;

static double aff_eval_(void *p)
{
    affctx_ *a = p;
    ref_affine_forward(a->B, a->D, a->u, a->s, a->t, NULL, a->v, a->ld);
    double L = 0;
    for (size_t i = 0; i < (size_t)a->B * a->D; i++)
        L += a->dv[i] * a->v[i];
    for (int b = 0; b < a->B; b++)
        L += a->dl[b] * a->ld[b];
    return L;
}

static double aff_grad_(size_t i, void *p)
{
    return ((affctx_ *)p)->grad[i];
}

static void test_ref_affine_fd(void **state)
{
    (void)state;
    int B = 3, D = 7;
    size_t n = (size_t)B * D;
    affctx_ a = {B,
                 D,
                 tu_rand_f64(n, 1, -2, 2),
                 tu_rand_f64(n, 2, -3, 3),
                 tu_rand_f64(n, 3, -1, 1),
                 tu_rand_f64(n, 4, -1, 1),
                 tu_rand_f64(B, 5, -1, 1),
                 calloc(n, sizeof(double)),
                 calloc(B, sizeof(double)),
                 NULL};
    double *du = calloc(n, sizeof *du), *ds = calloc(n, sizeof *ds), *dt = calloc(n, sizeof *dt);
    ref_affine_backward(B, D, a.dv, a.dl, a.u, a.s, du, ds, dt);
    a.grad = du;
    fd_check_("affine du", a.u, n, aff_grad_, &a, aff_eval_);
    a.grad = ds;
    fd_check_("affine ds", a.s, n, aff_grad_, &a, aff_eval_);
    a.grad = dt;
    fd_check_("affine dt", a.t, n, aff_grad_, &a, aff_eval_);
    free(a.u), free(a.s), free(a.t), free(a.dv), free(a.dl), free(a.v), free(a.ld);
    free(du), free(ds), free(dt);
}

/* ---- device: affine -------------------------------------------------------------- */

typedef struct aff_out_ {
    float *v, *ldj, *ldj_acc, *u, *du, *ds, *dt, *ds_only;
} aff_out_;

static void aff_out_free_(aff_out_ *o)
{
    free(o->v), free(o->ldj), free(o->ldj_acc), free(o->u), free(o->du), free(o->ds);
    free(o->dt), free(o->ds_only);
}

static void affine_run_(glf_ctx *ctx, int B, int D, size_t off, const float *u, const float *s,
                        const float *t, const float *l0, const float *dv, const float *dl,
                        aff_out_ *o)
{
    size_t n = (size_t)B * D;
    cl_mem bu = dev_in_(ctx, u, n, off), bs = dev_in_(ctx, s, n, off), bt = dev_in_(ctx, t, n, off);
    cl_mem bdv = dev_in_(ctx, dv, n, off), bdl = dev_in_(ctx, dl, B, off);
    cl_mem bv = tu_buf_at(ctx, NULL, n, off), bl = tu_buf_at(ctx, NULL, B, off);
    cl_mem bla = tu_buf_at(ctx, l0, B, off), bur = tu_buf_at(ctx, NULL, n, off);
    cl_mem bdu = tu_buf_at(ctx, NULL, n, off), bds = tu_buf_at(ctx, NULL, n, off);
    cl_mem bdt = tu_buf_at(ctx, NULL, n, off), bds2 = tu_buf_at(ctx, NULL, n, off);
    glf_dptr none = {NULL, 0};
    /* ldj over NaN with accumulate 0 must not read the old value */
    TU_OK(glf_affine_forward(ctx, glf_dp(bv, off), glf_dp(bl, off), glf_dp(bu, off),
                             glf_dp(bs, off), glf_dp(bt, off), B, D, 0));
    TU_OK(glf_affine_forward(ctx, glf_dp(bv, off), glf_dp(bla, off), glf_dp(bu, off),
                             glf_dp(bs, off), glf_dp(bt, off), B, D, 1));
    TU_OK(glf_affine_inverse(ctx, glf_dp(bur, off), glf_dp(bv, off), glf_dp(bs, off),
                             glf_dp(bt, off), B, D));
    TU_OK(glf_affine_backward(ctx, glf_dp(bdu, off), glf_dp(bds, off), glf_dp(bdt, off),
                              glf_dp(bdv, off), glf_dp(bdl, off), glf_dp(bu, off), glf_dp(bs, off),
                              B, D));
    /* only ds, no dldj */
    TU_OK(glf_affine_backward(ctx, none, glf_dp(bds2, off), none, glf_dp(bdv, off), none,
                              glf_dp(bu, off), glf_dp(bs, off), B, D));
    o->v = tu_read_at(ctx, bv, n, off, "affine v");
    o->ldj = tu_read_at(ctx, bl, B, off, "affine ldj");
    o->ldj_acc = tu_read_at(ctx, bla, B, off, "affine ldj (accumulate)");
    o->u = tu_read_at(ctx, bur, n, off, "affine inverse u");
    o->du = tu_read_at(ctx, bdu, n, off, "affine du");
    o->ds = tu_read_at(ctx, bds, n, off, "affine ds");
    o->dt = tu_read_at(ctx, bdt, n, off, "affine dt");
    o->ds_only = tu_read_at(ctx, bds2, n, off, "affine ds (no dldj)");
    cl_mem all[] = {bu, bs, bt, bdv, bdl, bv, bl, bla, bur, bdu, bds, bdt, bds2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        glf_buf_release(all[i]);
}

static void affine_case_(glf_ctx *ctx, int B, int D, size_t off, uint64_t seed)
{
    size_t n = (size_t)B * D;
    float *u = tu_rand(n, seed, -2, 2), *s = tu_rand(n, seed + 1, -3, 3);
    float *t = tu_rand(n, seed + 2, -1, 1), *l0 = tu_rand(B, seed + 3, -5, 5);
    float *dv = tu_rand(n, seed + 4, -1, 1), *dl = tu_rand(B, seed + 5, -1, 1);
    double *U = tu_f64(u, n), *S = tu_f64(s, n), *T = tu_f64(t, n), *L0 = tu_f64(l0, B);
    double *DV = tu_f64(dv, n), *DL = tu_f64(dl, B);
    double *v = calloc(n + 1, 8), *ld = calloc(B, 8), *lda = calloc(B, 8), *ur = calloc(n + 1, 8);
    double *du = calloc(n + 1, 8), *ds = calloc(n + 1, 8), *dt = calloc(n + 1, 8);
    double *ds2 = calloc(n + 1, 8);
    ref_affine_forward(B, D, U, S, T, NULL, v, ld);
    ref_affine_forward(B, D, U, S, T, L0, v, lda);
    ref_affine_backward(B, D, DV, DL, U, S, du, ds, dt);
    ref_affine_backward(B, D, DV, NULL, U, S, NULL, ds2, NULL);

    aff_out_ o, o2;
    affine_run_(ctx, B, D, off, u, s, t, l0, dv, dl, &o);
    double *VD = tu_f64(o.v, n);
    ref_affine_inverse(B, D, VD, S, T, ur); /* inverse of what the device produced */
    char w[64];
    snprintf(w, sizeof w, "B%d D%d off%zu", B, D, off);
    print_message("  affine %s\n", w);
    expect_("affine v", o.v, v, n, 1e-6, 1e-5);
    expect_("affine ldj", o.ldj, ld, B, 1e-6 * D, 1e-5);
    expect_("affine ldj accumulate", o.ldj_acc, lda, B, 1e-6 * D, 1e-5);
    expect_("affine inverse", o.u, ur, n, 1e-6, 1e-5);
    expect_("affine inverse vs original u", o.u, U, n, 1e-5, 1e-5);
    expect_("affine du", o.du, du, n, 1e-6, 1e-5);
    expect_("affine ds", o.ds, ds, n, 1e-6, 1e-5);
    expect_("affine dt", o.dt, dt, n, 0, 0);
    expect_("affine ds (no dldj)", o.ds_only, ds2, n, 1e-6, 1e-5);

    affine_run_(ctx, B, D, off, u, s, t, l0, dv, dl, &o2);
    float *a[] = {o.v, o.ldj, o.ldj_acc, o.u, o.du, o.ds, o.dt, o.ds_only};
    float *b[] = {o2.v, o2.ldj, o2.ldj_acc, o2.u, o2.du, o2.ds, o2.dt, o2.ds_only};
    size_t len[] = {n, (size_t)B, (size_t)B, n, n, n, n, n};
    for (int i = 0; i < 8; i++)
        if (memcmp(a[i], b[i], len[i] * sizeof(float)))
            fail_msg("affine %s: output %d differs between two identical runs", w, i);
    aff_out_free_(&o), aff_out_free_(&o2);
    free(u), free(s), free(t), free(l0), free(dv), free(dl), free(U), free(S), free(T), free(L0);
    free(DV), free(DL), free(v), free(ld), free(lda), free(ur), free(du), free(ds), free(dt);
    free(ds2), free(VD);
}

static void test_affine(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int sizes[][2] = {{1, 1}, {1, 10}, {3, 5}, {3, 10}, {67, 13}, {257, 10}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        affine_case_(ctx, sizes[i][0], sizes[i][1], i % 2 ? 5 : 0, 70 + i);
    glf_ctx_destroy(ctx);
}

/* The kernels' own atan, through ldj = c(s) at D = 1: within 3 float ulps
 * of 1.272f*atan(s) in double (one denormal step absolute), from denormals
 * to +-inf, NaN passed through. */
static void test_soft_clamp_accuracy(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    enum { N = 8003 };
    float *s = tu_rand(N, 17, -6, 6), *z = calloc(N, sizeof *z);
    for (int i = 0; i < 4000; i++) /* |s| from 1e-40 to 1e30, both signs */
        s[i] = (i % 2 ? -1.0f : 1.0f) * (float)pow(10.0, -40.0 + 70.0 * i / 3999.0);
    s[N - 3] = INFINITY, s[N - 2] = -INFINITY, s[N - 1] = NAN;
    double *want = malloc(N * sizeof *want);
    for (int i = 0; i < N; i++)
        want[i] = (double)1.272f * atan((double)s[i]);
    cl_mem bs = dev_in_(ctx, s, N, 0), bz = dev_in_(ctx, z, N, 0);
    cl_mem bv = tu_buf_at(ctx, NULL, N, 0), bl = tu_buf_at(ctx, NULL, N, 0);
    TU_OK(glf_affine_forward(ctx, glf_dp(bv, 0), glf_dp(bl, 0), glf_dp(bz, 0), glf_dp(bs, 0),
                             glf_dp(bz, 0), N, 1, 0));
    float *got = tu_read_at(ctx, bl, N, 0, "soft clamp");
    double worst = 0;
    for (int i = 0; i < N - 1; i++)
        if (fabs(want[i]) > 1.2e-38) /* normal results; denormals round to 1.4e-45 */
            worst = fmax(worst, fabs(got[i] - want[i]) / fabs(want[i]));
    expect_("soft clamp c(s)", got, want, N, 1.5e-45, 3.6e-7);
    print_message("  soft clamp: worst relative error %.3g over %d values\n", worst, N);
    free(s), free(z), free(want), free(got);
    glf_buf_release(bs), glf_buf_release(bz), glf_buf_release(bv), glf_buf_release(bl);
    glf_ctx_destroy(ctx);
}

/* ---- device: shuffle ----------------------------------------------------------- */

static cl_mem perm_buf_(glf_ctx *ctx, int d, uint64_t seed, int *perm)
{
    glf_rng r;
    uint32_t *idx = malloc((size_t)d * sizeof *idx);
    assert_non_null(idx);
    glf_rng_init(&r, seed, 0);
    for (int j = 0; j < d; j++)
        idx[j] = (uint32_t)j;
    glf_rng_shuffle_u32(&r, idx, (size_t)d);
    for (int j = 0; j < d; j++)
        perm[j] = (int)idx[j];
    free(idx);
    cl_mem b;
    TU_OK(glf_buf_create(ctx, (size_t)d * sizeof(cl_int), &b));
    TU_OK(glf_buf_write(ctx, b, 0, (size_t)d * sizeof(cl_int), perm));
    return b;
}

/* out halves after one shuffle of (in1, in2); a D of 0 passes a NULL half. */
static void shuffle_dev_(glf_ctx *ctx, cl_mem perm, int B, int D1, int D2, size_t off,
                         const float *in1, const float *in2, int inverse, float **o1, float **o2)
{
    size_t n1 = (size_t)B * D1, n2 = (size_t)B * D2;
    glf_dptr none = {NULL, 0};
    cl_mem bi1 = D1 ? dev_in_(ctx, in1, n1, off) : NULL, bi2 = dev_in_(ctx, in2, n2, off);
    cl_mem bo1 = D1 ? tu_buf_at(ctx, NULL, n1, off) : NULL, bo2 = tu_buf_at(ctx, NULL, n2, off);
    TU_OK(glf_shuffle_cols(ctx, D1 ? glf_dp(bo1, off) : none, glf_dp(bo2, off),
                           D1 ? glf_dp(bi1, off) : none, glf_dp(bi2, off), perm, B, D1, D2,
                           inverse));
    *o1 = D1 ? tu_read_at(ctx, bo1, n1, off, "shuffle out1") : malloc(1);
    *o2 = tu_read_at(ctx, bo2, n2, off, "shuffle out2");
    glf_buf_release(bi1), glf_buf_release(bi2), glf_buf_release(bo1), glf_buf_release(bo2);
}

static void shuffle_case_(glf_ctx *ctx, int B, int d, size_t off, uint64_t seed)
{
    int D1 = d / 2, D2 = d - D1;
    size_t n1 = (size_t)B * D1, n2 = (size_t)B * D2;
    int *perm = malloc((size_t)d * sizeof *perm);
    cl_mem bp = perm_buf_(ctx, d, seed, perm);
    float *in1 = tu_rand(n1, seed + 1, -1, 1), *in2 = tu_rand(n2, seed + 2, -1, 1);
    double *I1 = tu_f64(in1, n1), *I2 = tu_f64(in2, n2);
    double *r1 = calloc(n1 + 1, 8), *r2 = calloc(n2 + 1, 8);
    for (int inverse = 0; inverse < 2; inverse++) {
        float *o1, *o2, *p1, *p2, *b1, *b2;
        ref_shuffle_cols(B, D1, D2, perm, inverse, I1, I2, r1, r2);
        shuffle_dev_(ctx, bp, B, D1, D2, off, in1, in2, inverse, &o1, &o2);
        expect_("shuffle out1", o1, r1, n1, 0, 0);
        expect_("shuffle out2", o2, r2, n2, 0, 0);
        shuffle_dev_(ctx, bp, B, D1, D2, off, in1, in2, inverse, &p1, &p2);
        if (memcmp(o1, p1, n1 * 4) || memcmp(o2, p2, n2 * 4))
            fail_msg("shuffle B%d d%d: two identical runs differ", B, d);
        /* the other direction undoes this one, bit for bit */
        shuffle_dev_(ctx, bp, B, D1, D2, off, o1, o2, !inverse, &b1, &b2);
        if (memcmp(b1, in1, n1 * 4) || memcmp(b2, in2, n2 * 4))
            fail_msg("shuffle B%d d%d inverse %d: the opposite shuffle did not restore the input",
                     B, d, inverse);
        free(o1), free(o2), free(p1), free(p2), free(b1), free(b2);
    }
    print_message("  shuffle B%d d%d off%zu\n", B, d, off);
    glf_buf_release(bp);
    free(perm), free(in1), free(in2), free(I1), free(I2), free(r1), free(r2);
}

static void test_shuffle(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int sizes[][2] = {{1, 1}, {1, 2}, {3, 5}, {3, 20}, {67, 13}, {257, 20}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        shuffle_case_(ctx, sizes[i][0], sizes[i][1], i % 2 ? 0 : 3, 90 + i);
    glf_ctx_destroy(ctx);
}

/* ---- device pieces composed into the reference block ------------------------------ */

static float *to_f32_(const double *x, size_t n)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)x[i];
    return y;
}

/* Feed the reference's sub-network outputs to the device's two affine halves
 * and compare v and logdet with the reference block: the contract's ldj
 * accumulation composes to the block's log-determinant. */
static void test_affine_composes_block(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    int B = 5, d = 21, h = 16, d1 = d / 2, d2 = d - d1;
    block_ bl;
    block_init_(&bl, d, h, 900, 1);
    double *z = tu_rand_f64((size_t)B * d, 901, -2, 2), *v = calloc((size_t)B * d, 8);
    double *ld = calloc(B, 8);
    ref_coupling_cache *c = ref_coupling_cache_new(B, d, h);
    ref_coupling_forward(&bl.p, B, d, h, z, v, ld, 1, c);
    size_t n1 = (size_t)B * d1, n2 = (size_t)B * d2;
    float *u1 = to_f32_(c->u1, n1), *u2 = to_f32_(c->u2, n2), *s2 = to_f32_(c->s2, n1);
    float *t2 = to_f32_(c->t2, n1), *s1 = to_f32_(c->s1, n2), *t1 = to_f32_(c->t1, n2);
    cl_mem bu1 = dev_in_(ctx, u1, n1, 0), bu2 = dev_in_(ctx, u2, n2, 0);
    cl_mem bs2 = dev_in_(ctx, s2, n1, 0), bt2 = dev_in_(ctx, t2, n1, 0);
    cl_mem bs1 = dev_in_(ctx, s1, n2, 0), bt1 = dev_in_(ctx, t1, n2, 0);
    cl_mem bv1 = tu_buf_at(ctx, NULL, n1, 0), bv2 = tu_buf_at(ctx, NULL, n2, 0);
    cl_mem bl_ = tu_buf_at(ctx, NULL, B, 0);
    TU_OK(glf_affine_forward(ctx, glf_dp(bv1, 0), glf_dp(bl_, 0), glf_dp(bu1, 0), glf_dp(bs2, 0),
                             glf_dp(bt2, 0), B, d1, 0));
    TU_OK(glf_affine_forward(ctx, glf_dp(bv2, 0), glf_dp(bl_, 0), glf_dp(bu2, 0), glf_dp(bs1, 0),
                             glf_dp(bt1, 0), B, d2, 1));
    float *gv1 = tu_read_at(ctx, bv1, n1, 0, "v1"), *gv2 = tu_read_at(ctx, bv2, n2, 0, "v2");
    float *gl = tu_read_at(ctx, bl_, B, 0, "logdet");
    expect_("block v1", gv1, c->v1, n1, 1e-5, 1e-5);
    expect_("block v2", gv2, c->v2, n2, 1e-5, 1e-5);
    expect_("block logdet", gl, ld, B, 1e-5 * d, 1e-5);
    cl_mem all[] = {bu1, bu2, bs2, bt2, bs1, bt1, bv1, bv2, bl_};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        glf_buf_release(all[i]);
    free(u1), free(u2), free(s2), free(t2), free(s1), free(t1), free(gv1), free(gv2), free(gl);
    free(z), free(v), free(ld);
    ref_coupling_cache_free(c);
    block_free_(&bl);
    glf_ctx_destroy(ctx);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem b = tu_buf_nan(ctx, 64);
    glf_dptr p = glf_dp(b, 0), none = {NULL, 0};
    assert_int_equal(glf_affine_forward(ctx, p, none, p, p, p, 2, 3, 0), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "ldj"));
    assert_int_equal(glf_affine_inverse(ctx, p, p, p, p, -1, 3), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_shuffle_cols(ctx, p, p, p, p, NULL, 2, 1, 1, 0), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "perm"));
    glf_buf_release(b);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_coupling_inverse),
        cmocka_unit_test(test_ref_coupling_logdet),
        cmocka_unit_test(test_ref_coupling_backward),
        cmocka_unit_test(test_ref_running_stats),
        cmocka_unit_test(test_ref_coupling_vs_pytorch),
        cmocka_unit_test(test_ref_affine_fd),
        cmocka_unit_test(test_affine),
        cmocka_unit_test(test_soft_clamp_accuracy),
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_affine_composes_block),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
