/* Losses and reparameterisation: the double references vs central finite
 * differences, then the kernels vs the references as rows of the op harness
 * (tests/op_harness.h) at odd sizes (and one larger than the partial-sum
 * count), with offsets, NaN pre-fill, guards (finite poison after the
 * inputs), optional gradients, accumulate/overwrite, strided against dense,
 * and bitwise repeatability; BCE's own logarithm element by element. */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_flow.h"
#include "ref_flow.h"

/* Pure inputs: a finite poison guard, so reads past the end show up. */
static cl_mem dev_in_(glf_ctx *ctx, const float *host, size_t n, size_t off)
{
    cl_mem b = tu_buf_at(ctx, host, n, off);
    TU_OK(glf_buf_fill_f32(ctx, b, off + n, TU_GUARD, -3.5e7f));
    return b;
}

/* An input of the harness with the finite poison before and after it. */
static void in_(oh_case *c, int i, const char *name, size_t n, size_t off, float *host)
{
    oh_in(c, i, name, n, off, host)->poison = 1;
}

/* ---- references vs finite differences ----------------------------------------- */

enum { MSE, BCE, GAUSS, ENT };
static const char *kind_name_[] = {"mse", "bce", "gauss_nll", "vae_entropy"};

/* Reference loss of kind k over (a, b) with gradients ga (of a), gb (of b: ldj). */
static double ref_loss_(int k, int B, int N, const double *a, const double *b, double scale,
                        double *ga, double *gb)
{
    double L = 0;
    switch (k) {
    case MSE:
        ref_mse_loss(B, N, a, b, scale, &L, ga);
        break;
    case BCE:
        ref_bce_loss(B, N, a, b, scale, &L, ga);
        break;
    case GAUSS:
        ref_gauss_nll(B, N, a, b, scale, &L, ga, gb);
        break;
    default:
        ref_vae_entropy(B, N, a, scale, &L, ga);
        break;
    }
    return L;
}

static void fd_(const char *what, int k, int B, int N, double *a, double *b, double scale,
                double *x, size_t n, const double *g)
{
    const double h = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + h;
        double lp = ref_loss_(k, B, N, a, b, scale, NULL, NULL);
        x[i] = x0 - h;
        double lm = ref_loss_(k, B, N, a, b, scale, NULL, NULL);
        x[i] = x0;
        double fd = (lp - lm) / (2 * h);
        if (!(fabs(fd - g[i]) <= 1e-6 + 1e-5 * fabs(fd)))
            fail_msg("%s[%zu]: analytic %.10g, finite difference %.10g", what, i, g[i], fd);
    }
}

static void test_ref_losses_fd(void **state)
{
    (void)state;
    int B = 3, N = 7;
    size_t n = (size_t)B * N;
    for (int k = 0; k < 4; k++) {
        /* BCE away from 0 and 1, where the clamp would make it non-smooth */
        double *a = tu_rand_f64(n, 11 + (uint64_t)k, k == BCE ? 0.05 : -2, k == BCE ? 0.95 : 2);
        double *b = tu_rand_f64(n, 21 + (uint64_t)k, k == BCE ? 0 : -2, k == BCE ? 1 : 2);
        double *ga = calloc(n, 8), *gb = calloc(n, 8);
        ref_loss_(k, B, N, a, b, 0.75, ga, gb);
        char w[64];
        snprintf(w, sizeof w, "%s d/dinput", kind_name_[k]);
        fd_(w, k, B, N, a, b, 0.75, a, n, ga);
        if (k == GAUSS) {
            snprintf(w, sizeof w, "%s d/dldj", kind_name_[k]);
            fd_(w, k, B, N, a, b, 0.75, b, (size_t)B, gb);
        }
        free(a), free(b), free(ga), free(gb);
    }
}

static void test_ref_reparam_fd(void **state)
{
    (void)state;
    int B = 3, D = 5, ld = 2 * D;
    size_t n = (size_t)B * D;
    double *enc = tu_rand_f64((size_t)B * ld, 1, -1.5, 1.5), *eps = tu_rand_f64(n, 2, -2, 2);
    double *dz = tu_rand_f64(n, 3, -1, 1), *z = calloc(n, 8), *g = calloc((size_t)B * ld, 8);
    ref_reparam_backward(B, D, ld, dz, enc + D, eps, NULL, g, g + D);
    const double h = 1e-6;
    for (size_t i = 0; i < (size_t)B * ld; i++) {
        double x0 = enc[i], lp = 0, lm = 0;
        enc[i] = x0 + h;
        ref_reparam_forward(B, D, ld, enc, enc + D, eps, z);
        for (size_t j = 0; j < n; j++)
            lp += dz[j] * z[j];
        enc[i] = x0 - h;
        ref_reparam_forward(B, D, ld, enc, enc + D, eps, z);
        for (size_t j = 0; j < n; j++)
            lm += dz[j] * z[j];
        enc[i] = x0;
        double fd = (lp - lm) / (2 * h);
        if (!(fabs(fd - g[i]) <= 1e-6 + 1e-5 * fabs(fd)))
            fail_msg("reparam d(mu|logvar)[%zu]: analytic %.10g, finite difference %.10g", i, g[i],
                     fd);
    }
    free(enc), free(eps), free(dz), free(z), free(g);
}

/* ---- device losses ---------------------------------------------------------------- */

typedef struct loss_shape_ {
    unsigned tags;
    int kind, B, N;
} loss_shape_;

/* 256 x 784 and 67 x 20: more terms than partial sums (chunks > 1, the last
 * one partial) */
#define LOSS_SIZES_(k)                                                                             \
    {OH_X2, k, 1, 1}, {OH_X2, k, 1, 5}, {OH_X2, k, 3, 7}, {0, k, 3, 784}, {OH_X2, k, 67, 20},      \
    {                                                                                              \
        OH_LARGE, k, 256, 784                                                                      \
    }
static const loss_shape_ loss_shapes_[] = {LOSS_SIZES_(MSE), LOSS_SIZES_(BCE), LOSS_SIZES_(GAUSS),
                                           LOSS_SIZES_(ENT)};
enum { LA, LB, LOSS, LWORK, GA, GB };

/* Offsets and scales as the sizes go: every other one at offset 7, two in
 * three with scale 0.5. */
static size_t loss_off_(size_t index)
{
    return index % 6 % 2 ? 7 : 0;
}
static float loss_scale_(size_t index)
{
    return index % 6 % 3 ? 0.5f : 1.0f;
}

static void loss_describe_(const void *p, char *buf, size_t n)
{
    const loss_shape_ *s = p;
    snprintf(buf, n, "%s B%d N%d", kind_name_[s->kind], s->B, s->N);
}

static void loss_setup_(oh_case *c)
{
    const loss_shape_ *s = c->shape;
    int k = s->kind;
    size_t n = (size_t)s->B * s->N, nb = k == GAUSS ? (size_t)s->B : n, off = loss_off_(c->index);
    float *a = oh_rand(c, n, k == BCE ? 0.001f : -2, k == BCE ? 0.999f : 2);
    float *b = oh_rand(c, nb, k == BCE ? 0 : -3, k == BCE ? 1 : 3);
    if (k == BCE && n >= 4) { /* PyTorch's clamp of the log at -100, and its 1e-12 */
        a[0] = 0, b[0] = 1, a[1] = 1, b[1] = 0, a[2] = 0, b[2] = 0, a[3] = 1, b[3] = 1;
    }
    in_(c, LA, k == GAUSS ? "z" : k == ENT ? "logvar" : "xhat", n, off, a);
    if (k != ENT)
        in_(c, LB, k == GAUSS ? "ldj" : "x", nb, off, b);
    /* fixed-order float sums of B*N terms, glf's own log for BCE */
    oh_out(c, LOSS, "loss", 1, off, 1e-5, 1e-5);
    oh_work(c, LWORK, "work", glf_loss_workspace(s->B, s->N), off);
    oh_out(c, GA, "gradient", n, off, 1e-7, 1e-5);
    oh_out(c, GB, "gradient (ldj)", (size_t)s->B, off, 1e-7, 1e-6)->skip = k != GAUSS;
}

static void loss_reference_(oh_case *c)
{
    const loss_shape_ *s = c->shape;
    double *b = s->kind == ENT ? NULL : oh_f64(c, LB);
    c->t[LOSS].want[0] = ref_loss_(s->kind, s->B, s->N, oh_f64(c, LA), b, loss_scale_(c->index),
                                   c->t[GA].want, c->t[GB].want);
}

static glf_status loss_run_(oh_case *c, int want_grad)
{
    const loss_shape_ *s = c->shape;
    glf_dptr none = {NULL, 0}, L = oh_dp(c, LOSS), A = oh_dp(c, LA), W = oh_dp(c, LWORK);
    glf_dptr Bb = s->kind == ENT ? none : oh_dp(c, LB);
    glf_dptr G = want_grad ? oh_dp(c, GA) : none, GL = want_grad ? oh_dp(c, GB) : none;
    float scale = loss_scale_(c->index);
    switch (s->kind) {
    case MSE:
        return glf_mse_loss(c->ctx, L, G, A, Bb, s->B, s->N, scale, W);
    case BCE:
        return glf_bce_loss(c->ctx, L, G, A, Bb, s->B, s->N, scale, W);
    case GAUSS:
        return glf_gauss_nll(c->ctx, L, G, GL, A, Bb, s->B, s->N, scale, W);
    default:
        return glf_vae_entropy(c->ctx, L, G, A, s->B, s->N, scale, W);
    }
}

static glf_status loss_forward_(oh_case *c)
{
    return loss_run_(c, 1);
}
static glf_status loss_no_grad_(oh_case *c)
{
    return loss_run_(c, 0);
}

static void test_losses(void **state)
{
    (void)state;
    const oh_row row = {.name = "loss",
                        OH_SHAPES(loss_shapes_),
                        .describe = loss_describe_,
                        .setup = loss_setup_,
                        .reference = loss_reference_,
                        .forward = loss_forward_,
                        .twins = {{"without gradients", loss_no_grad_, 1u << LOSS}}};
    oh_run_row(&row);
}

/* ---- the strided entropy ------------------------------------------------------------- */

/* On the logvar half of a (B, 2D) buffer: the reference's loss and
 * gradient, the same bits as the dense op on a copy, and the gradient
 * written only into the logvar half. */
typedef struct ent_shape_ {
    unsigned tags;
    int B, D;
} ent_shape_;

static const ent_shape_ ent_shapes_[] = {
    {OH_X2, 1, 1}, {OH_X2, 3, 5}, {OH_X2, 67, 13}, {0, 256, 20}};
enum { EENC, ELV, ELOSS, ELOSS_D, EG, EG_D, EWORK };

static void ent_describe_(const void *p, char *buf, size_t n)
{
    const ent_shape_ *s = p;
    snprintf(buf, n, "B%d D%d ld%d", s->B, s->D, 2 * s->D);
}

static void ent_setup_(oh_case *c)
{
    const ent_shape_ *s = c->shape;
    int B = s->B, D = s->D, ld = 2 * D;
    size_t n = (size_t)B * D, ne = (size_t)B * ld;
    float *enc = oh_rand(c, ne, -2, 2), *lv = oh_rand(c, n, 0, 1);
    for (int b = 0; b < B; b++)
        memcpy(lv + (size_t)b * D, enc + (size_t)b * ld + D, (size_t)D * sizeof(float));
    in_(c, EENC, "encoder output", ne, 0, enc);
    in_(c, ELV, "logvar (dense copy)", n, 0, lv);
    oh_out(c, ELOSS, "loss", 1, 0, 1e-5, 1e-5);
    oh_out(c, ELOSS_D, "loss (dense)", 1, 1, 1e-5, 1e-5);
    oh_out(c, EG, "dlogvar (strided)", ne, 0, 1e-7, 1e-5);
    oh_out(c, EG_D, "dlogvar (dense)", n, 0, 1e-7, 1e-5);
    oh_work(c, EWORK, "work", glf_loss_workspace(B, D), 0);
}

static void ent_reference_(oh_case *c)
{
    const ent_shape_ *s = c->shape;
    double L;
    ref_vae_entropy(s->B, s->D, oh_f64(c, ELV), 0.5, &L, c->t[EG_D].want);
    c->t[ELOSS].want[0] = c->t[ELOSS_D].want[0] = L;
    for (int b = 0; b < s->B; b++) /* the mu half stays NaN (the check wants its bits) */
        for (int j = 0; j < s->D; j++)
            c->t[EG].want[(size_t)b * 2 * s->D + s->D + j] = c->t[EG_D].want[(size_t)b * s->D + j];
}

static glf_status ent_forward_(oh_case *c)
{
    const ent_shape_ *s = c->shape;
    GLF_TRY(glf_vae_entropy_ld(c->ctx, oh_dp(c, ELOSS), oh_dpat(c, EG, (size_t)s->D),
                               oh_dpat(c, EENC, (size_t)s->D), s->B, s->D, 2 * s->D, 0.5f,
                               oh_dp(c, EWORK)));
    return glf_vae_entropy(c->ctx, oh_dp(c, ELOSS_D), oh_dp(c, EG_D), oh_dp(c, ELV), s->B, s->D,
                           0.5f, oh_dp(c, EWORK));
}

static void ent_check_(oh_case *c)
{
    const ent_shape_ *s = c->shape;
    int D = s->D, ld = 2 * D;
    oh_same_bits(c, "loss strided against dense", c->t[ELOSS].got, c->t[ELOSS_D].got, 1);
    const float *g = c->t[EG].got, *gd = c->t[EG_D].got;
    float nan = tu_sentinel();
    for (int b = 0; b < s->B; b++) {
        for (int j = 0; j < D; j++)
            oh_same_bits(c, "dlogvar's mu half (untouched)", g + (size_t)b * ld + j, &nan, 1);
        oh_same_bits(c, "dlogvar strided against dense", g + (size_t)b * ld + D, gd + (size_t)b * D,
                     (size_t)D);
    }
}

static void test_vae_entropy_strided(void **state)
{
    (void)state;
    const oh_row row = {.name = "vae_entropy_ld",
                        OH_SHAPES(ent_shapes_),
                        .describe = ent_describe_,
                        .setup = ent_setup_,
                        .reference = ent_reference_,
                        .forward = ent_forward_,
                        .check = ent_check_};
    oh_run_row(&row);
}

static void test_bce_log_accuracy(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    enum { N = 6002 };
    float *a = malloc(N * sizeof *a), *x = malloc(N * sizeof *x);
    float *u = tu_rand(N, 5, 0, 1);
    for (int i = 0; i < N; i++) {
        a[i] = i < 3000 ? (float)pow(10.0, -45.0 + 45.0 * i / 2999.0) : u[i];
        x[i] = 1.0f;
    }
    a[N - 2] = 0.0f, a[N - 1] = 1.0f;
    size_t W = glf_loss_workspace(1, N);
    cl_mem ba = dev_in_(ctx, a, N, 0), bx = dev_in_(ctx, x, N, 0), bl = tu_buf_at(ctx, NULL, 1, 0);
    cl_mem bw = tu_buf_at(ctx, NULL, W, 0);
    glf_dptr none = {NULL, 0};
    TU_OK(glf_bce_loss(ctx, glf_dp(bl, 0), none, glf_dp(ba, 0), glf_dp(bx, 0), 1, N, 1.0f,
                       glf_dp(bw, 0)));
    float *w = tu_read_at(ctx, bw, W, 0, "bce workspace");
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double want = -fmax(log((double)a[i]), -100.0);
        double err = fabs(w[i] - want) / fmax(fabs(want), 1e-30);
        if (want == 0.0)
            err = fabs(w[i]);
        if (!(err <= 2.4e-7)) /* two float ulps */
            fail_msg("bce log(%.9g): term %.9g, want %.9g (relative error %.3g)", (double)a[i],
                     (double)w[i], want, err);
        worst = fmax(worst, err);
    }
    print_message("  bce log: worst relative error %.3g over %d values\n", worst, N);
    free(a), free(x), free(u), free(w);
    glf_buf_release(ba), glf_buf_release(bx), glf_buf_release(bl), glf_buf_release(bw);
    glf_ctx_destroy(ctx);
}

/* ---- device reparameterisation ---------------------------------------------------- */

/* ld = 2D (strided): mu and logvar are the halves of one (B, 2D) encoder
 * output; else mu (B, D) then logvar (B, D) in one buffer. */
typedef struct rep_shape_ {
    unsigned tags;
    int B, D, strided;
} rep_shape_;

#define REP_(B, D)                                                                                 \
    {OH_X2, B, D, 0},                                                                              \
    {                                                                                              \
        OH_X2, B, D, 1                                                                             \
    }
static const rep_shape_ rep_shapes_[] = {REP_(1, 1),   REP_(3, 5),      REP_(3, 20),
                                         REP_(67, 13), {0, 256, 20, 0}, {0, 256, 20, 1}};
enum { RENC, REPS, RDZ, RZ, RG };

static void rep_describe_(const void *p, char *buf, size_t n)
{
    const rep_shape_ *s = p;
    snprintf(buf, n, "B%d D%d ld%d", s->B, s->D, s->strided ? 2 * s->D : s->D);
}

static size_t rep_lvo_(const rep_shape_ *s) /* logvar's offset within enc */
{
    return s->strided ? (size_t)s->D : (size_t)s->B * s->D;
}

static void rep_setup_(oh_case *c)
{
    const rep_shape_ *s = c->shape;
    size_t n = (size_t)s->B * s->D, ne = 2 * n, off = c->index / 2 % 2 ? 3 : 0;
    in_(c, RENC, "mu|logvar", ne, off, oh_rand(c, ne, -1.5f, 1.5f));
    in_(c, REPS, "eps", n, off, oh_rand(c, n, -2, 2));
    in_(c, RDZ, "dz", n, off, oh_rand(c, n, -1, 1));
    /* exp(0.5 logvar) of the driver's library (3 ulp allowed): below 1e-6 */
    oh_out(c, RZ, "z", n, off, 1e-6, 1e-6);
    oh_tensor *g = oh_acc(c, RG, "d(mu, logvar)", ne, off, oh_rand(c, ne, -1, 1), 1e-7, 1e-6);
    g->acc_atol = 1e-6; /* dlogvar added to values of size 1 */
}

static void rep_reference_(oh_case *c)
{
    const rep_shape_ *s = c->shape;
    int ld = s->strided ? 2 * s->D : s->D;
    size_t lvo = rep_lvo_(s);
    double *E = oh_f64(c, RENC), *EPS = oh_f64(c, REPS), *DZ = oh_f64(c, RDZ);
    double *g = c->t[RG].want, *old = c->accumulate ? oh_f64(c, RG) + lvo : NULL;
    if (!c->accumulate)
        ref_reparam_forward(s->B, s->D, ld, E, E + lvo, EPS, c->t[RZ].want);
    ref_reparam_backward(s->B, s->D, ld, DZ, E + lvo, EPS, old, g, g + lvo);
}

static glf_status rep_forward_(oh_case *c)
{
    const rep_shape_ *s = c->shape;
    glf_dptr mu = oh_dp(c, RENC), lv = oh_dpat(c, RENC, rep_lvo_(s));
    if (s->strided)
        return glf_reparam_forward_ld(c->ctx, oh_dp(c, RZ), mu, lv, oh_dp(c, REPS), s->B, s->D,
                                      2 * s->D);
    return glf_reparam_forward(c->ctx, oh_dp(c, RZ), mu, lv, oh_dp(c, REPS), s->B, s->D);
}

static glf_status rep_backward_(oh_case *c)
{
    const rep_shape_ *s = c->shape;
    glf_dptr lv = oh_dpat(c, RENC, rep_lvo_(s)), dmu = oh_dp(c, RG);
    glf_dptr dlv = oh_dpat(c, RG, rep_lvo_(s));
    if (s->strided)
        return glf_reparam_backward_ld(c->ctx, dmu, dlv, oh_dp(c, RDZ), lv, oh_dp(c, REPS), s->B,
                                       s->D, 2 * s->D, c->accumulate);
    return glf_reparam_backward(c->ctx, dmu, dlv, oh_dp(c, RDZ), lv, oh_dp(c, REPS), s->B, s->D,
                                c->accumulate);
}

/* The strided forward at ld = D is the dense one. */
static glf_status rep_forward_ld_(oh_case *c)
{
    const rep_shape_ *s = c->shape;
    return glf_reparam_forward_ld(c->ctx, oh_dp(c, RZ), oh_dp(c, RENC),
                                  oh_dpat(c, RENC, rep_lvo_(s)), oh_dp(c, REPS), s->B, s->D,
                                  s->strided ? 2 * s->D : s->D);
}

static void test_reparam(void **state)
{
    (void)state;
    const oh_row row = {.name = "reparam",
                        OH_SHAPES(rep_shapes_),
                        .describe = rep_describe_,
                        .setup = rep_setup_,
                        .reference = rep_reference_,
                        .forward = rep_forward_,
                        .backward = rep_backward_,
                        .twins = {{"the forward with a row stride", rep_forward_ld_, 1u << RZ}}};
    oh_run_row(&row);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem b = tu_buf_nan(ctx, 64);
    glf_dptr p = glf_dp(b, 0), none = {NULL, 0};
    assert_int_equal(glf_loss_workspace(256, 784), 256 * 784 + 1024);
    assert_int_equal(glf_loss_workspace(3, 7), 21 + 21);
    assert_int_equal(glf_mse_loss(ctx, p, none, p, p, 0, 5, 1, p), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_bce_loss(ctx, none, none, p, p, 2, 5, 1, p), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "loss"));
    assert_int_equal(glf_gauss_nll(ctx, p, none, none, p, none, 2, 5, 1, p), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "ldj"));
    assert_int_equal(glf_reparam_forward_ld(ctx, p, p, p, p, 2, 5, 4), GLF_ERR_INVALID_ARG);
    glf_buf_release(b);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_losses_fd),
        cmocka_unit_test(test_ref_reparam_fd),
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_bce_log_accuracy),
        cmocka_unit_test(test_vae_entropy_strided),
        cmocka_unit_test(test_reparam),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
