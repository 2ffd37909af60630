/* Flow ops: the coupling-block reference (inverse, log-det vs a brute-force
 * Jacobian, backward vs finite differences, PyTorch's values), then the
 * affine and shuffle kernels vs that reference as rows of the op harness
 * (tests/op_harness.h) at odd sizes, with offsets, NaN pre-fill, guard
 * regions (finite poison after inputs) and bitwise repeatability; the
 * kernels' own atan; the affine halves composed into the reference block. */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_flow.h"
#include "ref_flow.h"

/* An input tensor: like tu_buf_at, but the guard holds a finite poison
 * value, so a kernel reading past the end produces a value that cannot
 * pass for the sentinel (NaN payloads propagate through arithmetic). */
static cl_mem dev_in_(glf_ctx *ctx, const float *host, size_t n, size_t off)
{
    cl_mem b = tu_buf_at(ctx, host, n, off);
    TU_OK(glf_buf_fill_f32(ctx, b, off + n, TU_GUARD, -3.5e7f));
    return b;
}

/* The same for an input of the harness (prefix and guard). */
static void in_(oh_case *c, int i, const char *name, size_t n, size_t off, float *host)
{
    oh_in(c, i, name, n, off, host)->poison = 1;
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

typedef struct flow_shape_ {
    unsigned tags;
    int B, D;
    int inverse; /* shuffle: the direction */
} flow_shape_;

static void flow_describe_(const void *p, char *buf, size_t n)
{
    const flow_shape_ *s = p;
    snprintf(buf, n, "B%d D%d", s->B, s->D);
}

static const flow_shape_ aff_shapes_[] = {{OH_X2, 1, 1, 0},  {OH_X2, 1, 10, 0},  {OH_X2, 3, 5, 0},
                                          {OH_X2, 3, 10, 0}, {OH_X2, 67, 13, 0}, {0, 257, 10, 0}};
enum { AU, AS, AT, ADV, ADL, AV, ALDJ, AUI, ADU, ADS, ADT, ADS2 };

static void aff_setup_(oh_case *c)
{
    const flow_shape_ *s = c->shape;
    size_t n = (size_t)s->B * s->D, B = (size_t)s->B, off = c->index % 2 ? 5 : 0;
    in_(c, AU, "u", n, off, oh_rand(c, n, -2, 2));
    in_(c, AS, "s", n, off, oh_rand(c, n, -3, 3));
    in_(c, AT, "t", n, off, oh_rand(c, n, -1, 1));
    in_(c, ADV, "dv", n, off, oh_rand(c, n, -1, 1));
    in_(c, ADL, "dldj", B, off, oh_rand(c, B, -1, 1));
    /* exp of the driver's library (3 ulp allowed) and glf's own atan (~2
     * ulp): 1e-5 relative; the log-determinant sums D terms */
    oh_out(c, AV, "v", n, off, 1e-6, 1e-5);
    oh_acc(c, ALDJ, "ldj", B, off, oh_rand(c, B, -5, 5), 1e-6 * s->D, 1e-5);
    oh_out(c, AUI, "inverse of v (against u)", n, off, 1e-5, 1e-5);
    oh_out(c, ADU, "du", n, off, 1e-6, 1e-5);
    oh_out(c, ADS, "ds", n, off, 1e-6, 1e-5);
    oh_out(c, ADT, "dt", n, off, 0, 0); /* dt = dv */
    oh_out(c, ADS2, "ds (no dldj)", n, off, 1e-6, 1e-5);
}

static void aff_reference_(oh_case *c)
{
    const flow_shape_ *s = c->shape;
    if (c->accumulate) {
        oh_add_init(c, ALDJ);
        return;
    }
    double *U = oh_f64(c, AU), *S = oh_f64(c, AS), *T = oh_f64(c, AT), *DV = oh_f64(c, ADV);
    ref_affine_forward(s->B, s->D, U, S, T, NULL, c->t[AV].want, c->t[ALDJ].want);
    memcpy(c->t[AUI].want, U, c->t[AU].n * sizeof *U);
    ref_affine_backward(s->B, s->D, DV, oh_f64(c, ADL), U, S, c->t[ADU].want, c->t[ADS].want,
                        c->t[ADT].want);
    ref_affine_backward(s->B, s->D, DV, NULL, U, S, NULL, c->t[ADS2].want, NULL);
}

/* v and ldj (over NaN with accumulate 0: the old value must not be read),
 * then the inverse of that v. */
static glf_status aff_forward_(oh_case *c)
{
    const flow_shape_ *s = c->shape;
    GLF_TRY(glf_affine_forward(c->ctx, oh_dp(c, AV), oh_dp(c, ALDJ), oh_dp(c, AU), oh_dp(c, AS),
                               oh_dp(c, AT), s->B, s->D, c->accumulate));
    return glf_affine_inverse(c->ctx, oh_dp(c, AUI), oh_dp(c, AV), oh_dp(c, AS), oh_dp(c, AT), s->B,
                              s->D);
}

static glf_status aff_backward_(oh_case *c)
{
    const flow_shape_ *s = c->shape;
    glf_dptr none = {NULL, 0};
    GLF_TRY(glf_affine_backward(c->ctx, oh_dp(c, ADU), oh_dp(c, ADS), oh_dp(c, ADT), oh_dp(c, ADV),
                                oh_dp(c, ADL), oh_dp(c, AU), oh_dp(c, AS), s->B, s->D));
    /* only ds, no dldj */
    return glf_affine_backward(c->ctx, none, oh_dp(c, ADS2), none, oh_dp(c, ADV), none,
                               oh_dp(c, AU), oh_dp(c, AS), s->B, s->D);
}

/* The inverse against the reference's inverse of what the device produced. */
static void aff_check_(oh_case *c)
{
    const flow_shape_ *s = c->shape;
    double *ur = oh_zeros(c, c->t[AU].n);
    ref_affine_inverse(s->B, s->D, oh_keep(c, tu_f64(c->t[AV].got, c->t[AV].n)), oh_f64(c, AS),
                       oh_f64(c, AT), ur);
    oh_close(c, "inverse of v (against the reference's inverse)", c->t[AUI].got, ur, c->t[AU].n,
             1e-6, 1e-5);
}

static void test_affine(void **state)
{
    (void)state;
    const oh_row row = {.name = "affine",
                        OH_SHAPES(aff_shapes_),
                        .describe = flow_describe_,
                        .setup = aff_setup_,
                        .reference = aff_reference_,
                        .forward = aff_forward_,
                        .backward = aff_backward_,
                        .check = aff_check_};
    oh_run_row(&row);
}

/* The kernels' own atan, through ldj = c(s) at D = 1: within 3 float ulps
 * of 1.272f*atan(s) in double (one denormal step absolute), from denormals
 * to +-inf, NaN passed through. */
enum { CLAMP_N = 8003 };
static const flow_shape_ clamp_shapes_[] = {{OH_X2, CLAMP_N, 1, 0}};
enum { CS, CZ, CV, CL };

static void clamp_setup_(oh_case *c)
{
    float *s = oh_rand(c, CLAMP_N, -6, 6);
    for (int i = 0; i < 4000; i++) /* |s| from 1e-40 to 1e30, both signs */
        s[i] = (i % 2 ? -1.0f : 1.0f) * (float)pow(10.0, -40.0 + 70.0 * i / 3999.0);
    s[CLAMP_N - 3] = INFINITY, s[CLAMP_N - 2] = -INFINITY, s[CLAMP_N - 1] = NAN;
    float *z = oh_keep(c, calloc(CLAMP_N, sizeof *z));
    in_(c, CS, "s", CLAMP_N, 0, s);
    in_(c, CZ, "zeros (u and t)", CLAMP_N, 0, z);
    oh_out(c, CV, "v", CLAMP_N, 0, 1e-6, 1e-5);
    oh_out(c, CL, "ldj = c(s)", CLAMP_N, 0, 1.5e-45, 3.6e-7);
}

static void clamp_reference_(oh_case *c)
{
    double *z = oh_f64(c, CZ), *ld = oh_zeros(c, CLAMP_N);
    ref_affine_forward(CLAMP_N, 1, z, oh_f64(c, CS), z, NULL, c->t[CV].want, ld);
    for (int i = 0; i < CLAMP_N; i++)
        c->t[CL].want[i] = (double)1.272f * atan((double)c->t[CS].host[i]);
}

static glf_status clamp_forward_(oh_case *c)
{
    return glf_affine_forward(c->ctx, oh_dp(c, CV), oh_dp(c, CL), oh_dp(c, CZ), oh_dp(c, CS),
                              oh_dp(c, CZ), CLAMP_N, 1, 0);
}

static void clamp_check_(oh_case *c)
{
    double worst = 0;
    const double *want = c->t[CL].want0;
    for (int i = 0; i < CLAMP_N - 1; i++)
        if (fabs(want[i]) > 1.2e-38) /* normal results; denormals round to 1.4e-45 */
            worst = fmax(worst, fabs(c->t[CL].got[i] - want[i]) / fabs(want[i]));
    print_message("  %s: worst relative error %.3g over %d values\n", c->label, worst, CLAMP_N);
}

static void test_soft_clamp_accuracy(void **state)
{
    (void)state;
    const oh_row row = {.name = "soft clamp",
                        OH_SHAPES(clamp_shapes_),
                        .describe = flow_describe_,
                        .setup = clamp_setup_,
                        .reference = clamp_reference_,
                        .forward = clamp_forward_,
                        .check = clamp_check_};
    oh_run_row(&row);
}

/* ---- device: shuffle ----------------------------------------------------------- */

/* d = D columns in two halves D1 = d/2 and d - D1 (d = 1: no first half);
 * both directions; the opposite shuffle of the output restores the input
 * bit for bit. */
#define SHUF_(B, d)                                                                                \
    {OH_X2, B, d, 0},                                                                              \
    {                                                                                              \
        OH_X2, B, d, 1                                                                             \
    }
static const flow_shape_ shuf_shapes_[] = {SHUF_(1, 1),  SHUF_(1, 2),   SHUF_(3, 5),
                                           SHUF_(3, 20), SHUF_(67, 13), SHUF_(257, 20)};
enum { SI1, SI2, SPERM, SO1, SO2, SB1, SB2 };

static void shuf_describe_(const void *p, char *buf, size_t n)
{
    const flow_shape_ *s = p;
    snprintf(buf, n, "B%d d%d inverse %d", s->B, s->D, s->inverse);
}

static void shuf_setup_(oh_case *c)
{
    const flow_shape_ *s = c->shape;
    int d = s->D, D1 = d / 2, D2 = d - D1;
    size_t n1 = (size_t)s->B * D1, n2 = (size_t)s->B * D2, off = c->index / 2 % 2 ? 0 : 3;
    glf_rng r;
    uint32_t *idx = oh_keep(c, malloc((size_t)d * sizeof *idx));
    int *perm = oh_keep(c, malloc((size_t)d * sizeof *perm));
    glf_rng_init(&r, 90 + c->index / 2, 0);
    for (int j = 0; j < d; j++)
        idx[j] = (uint32_t)j;
    glf_rng_shuffle_u32(&r, idx, (size_t)d);
    for (int j = 0; j < d; j++)
        perm[j] = (int)idx[j];
    in_(c, SI1, "in1", n1, off, oh_rand(c, n1, -1, 1));
    in_(c, SI2, "in2", n2, off, oh_rand(c, n2, -1, 1));
    oh_in_i32(c, SPERM, "perm", (size_t)d, perm);
    oh_out(c, SO1, "out1", n1, off, 0, 0); /* a copy: exact */
    oh_out(c, SO2, "out2", n2, off, 0, 0);
    oh_out(c, SB1, "in1 restored by the opposite shuffle", n1, off, 0, 0);
    oh_out(c, SB2, "in2 restored by the opposite shuffle", n2, off, 0, 0);
}

static void shuf_reference_(oh_case *c)
{
    const flow_shape_ *s = c->shape;
    int D1 = s->D / 2;
    double *I1 = oh_f64(c, SI1), *I2 = oh_f64(c, SI2);
    ref_shuffle_cols(s->B, D1, s->D - D1, (const int *)c->t[SPERM].host, s->inverse, I1, I2,
                     c->t[SO1].want, c->t[SO2].want);
    memcpy(c->t[SB1].want, I1, c->t[SI1].n * sizeof *I1);
    memcpy(c->t[SB2].want, I2, c->t[SI2].n * sizeof *I2);
}

static glf_status shuf_forward_(oh_case *c)
{
    const flow_shape_ *s = c->shape;
    int D1 = s->D / 2, D2 = s->D - D1;
    glf_dptr none = {NULL, 0};
    GLF_TRY(glf_shuffle_cols(c->ctx, D1 ? oh_dp(c, SO1) : none, oh_dp(c, SO2),
                             D1 ? oh_dp(c, SI1) : none, oh_dp(c, SI2), oh_mem(c, SPERM), s->B, D1,
                             D2, s->inverse));
    return glf_shuffle_cols(c->ctx, D1 ? oh_dp(c, SB1) : none, oh_dp(c, SB2),
                            D1 ? oh_dp(c, SO1) : none, oh_dp(c, SO2), oh_mem(c, SPERM), s->B, D1,
                            D2, !s->inverse);
}

static void test_shuffle(void **state)
{
    (void)state;
    const oh_row row = {.name = "shuffle_cols",
                        OH_SHAPES(shuf_shapes_),
                        .describe = shuf_describe_,
                        .setup = shuf_setup_,
                        .reference = shuf_reference_,
                        .forward = shuf_forward_};
    oh_run_row(&row);
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
