/* Losses and reparameterisation: the double references vs central finite
 * differences, then the kernels vs the references at odd sizes (and one
 * larger than the partial-sum count), with offsets, NaN pre-fill, guards,
 * optional gradients, accumulate/overwrite, and bitwise repeatability. */
#include "testutil.h"

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

static int is_sentinel_(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u == TU_SENTINEL_BITS;
}

static void expect_(const char *what, const float *got, const double *want, size_t n, double atol,
                    double rtol)
{
    if (tu_compare(what, got, want, n, atol, rtol))
        fail_msg("%s: kernel and reference differ", what);
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

typedef struct loss_out_ {
    float loss, *ga, *gb;
} loss_out_;

/* Run loss k on the device; want_grad 0 passes NULL gradients. */
static void loss_dev_(glf_ctx *ctx, int k, int B, int N, size_t off, const float *a, const float *b,
                      float scale, int want_grad, loss_out_ *o)
{
    size_t n = (size_t)B * N, nb = k == GAUSS ? (size_t)B : n, P = glf_loss_workspace(B, N);
    glf_dptr none = {NULL, 0};
    cl_mem ba = dev_in_(ctx, a, n, off), bb = k == ENT ? NULL : dev_in_(ctx, b, nb, off);
    cl_mem bl = tu_buf_at(ctx, NULL, 1, off), bw = tu_buf_at(ctx, NULL, P, off);
    cl_mem bga = tu_buf_at(ctx, NULL, n, off), bgb = tu_buf_at(ctx, NULL, B, off);
    glf_dptr L = glf_dp(bl, off), A = glf_dp(ba, off), Bb = glf_dp(bb, off), W = glf_dp(bw, off);
    glf_dptr GA = want_grad ? glf_dp(bga, off) : none, GB = want_grad ? glf_dp(bgb, off) : none;
    switch (k) {
    case MSE:
        TU_OK(glf_mse_loss(ctx, L, GA, A, Bb, B, N, scale, W));
        break;
    case BCE:
        TU_OK(glf_bce_loss(ctx, L, GA, A, Bb, B, N, scale, W));
        break;
    case GAUSS:
        TU_OK(glf_gauss_nll(ctx, L, GA, GB, A, Bb, B, N, scale, W));
        break;
    default:
        TU_OK(glf_vae_entropy(ctx, L, GA, A, B, N, scale, W));
        break;
    }
    float *l = tu_read_at(ctx, bl, 1, off, "loss");
    o->loss = l[0];
    free(l);
    free(tu_read_at(ctx, bw, P, off, "loss workspace"));
    o->ga = tu_read_at(ctx, bga, n, off, "loss gradient");
    o->gb = tu_read_at(ctx, bgb, B, off, "loss gradient (ldj)");
    glf_buf_release(ba), glf_buf_release(bb), glf_buf_release(bl), glf_buf_release(bw);
    glf_buf_release(bga), glf_buf_release(bgb);
}

static void loss_case_(glf_ctx *ctx, int k, int B, int N, size_t off, float scale, uint64_t seed)
{
    size_t n = (size_t)B * N, nb = k == GAUSS ? (size_t)B : n;
    float *a = tu_rand(n, seed, k == BCE ? 0.001f : -2, k == BCE ? 0.999f : 2);
    float *b = tu_rand(nb, seed + 1, k == BCE ? 0 : -3, k == BCE ? 1 : 3);
    if (k == BCE && n >= 4) { /* PyTorch's clamp of the log at -100, and its 1e-12 */
        a[0] = 0, b[0] = 1, a[1] = 1, b[1] = 0, a[2] = 0, b[2] = 0, a[3] = 1, b[3] = 1;
    }
    double *A = tu_f64(a, n), *Bd = tu_f64(b, nb), *ga = calloc(n, 8), *gb = calloc(B, 8);
    double L = ref_loss_(k, B, N, A, Bd, scale, ga, gb);
    char w[96];
    snprintf(w, sizeof w, "%s B%d N%d off%zu scale %g", kind_name_[k], B, N, off, (double)scale);
    print_message("  %s\n", w);

    loss_out_ o, o2, o3;
    loss_dev_(ctx, k, B, N, off, a, b, scale, 1, &o);
    loss_dev_(ctx, k, B, N, off, a, b, scale, 1, &o2);
    loss_dev_(ctx, k, B, N, off, a, b, scale, 0, &o3);
    expect_(w, &o.loss, &L, 1, 1e-5, 1e-5);
    expect_(w, o.ga, ga, n, 1e-7, 1e-5);
    if (k == GAUSS)
        expect_(w, o.gb, gb, B, 1e-7, 1e-6);
    else
        for (int i = 0; i < B; i++) /* no ldj gradient: the buffer stays untouched */
            assert_true(is_sentinel_(o.gb[i]));
    for (size_t i = 0; i < n; i++) /* gradients not wanted: nothing written */
        assert_true(is_sentinel_(o3.ga[i]));
    if (memcmp(&o.loss, &o2.loss, 4) || memcmp(&o.loss, &o3.loss, 4) ||
        memcmp(o.ga, o2.ga, n * 4) || memcmp(o.gb, o2.gb, (size_t)B * 4))
        fail_msg("%s: runs differ (loss %.9g, %.9g, %.9g without gradients)", w, (double)o.loss,
                 (double)o2.loss, (double)o3.loss);
    free(o.ga), free(o.gb), free(o2.ga), free(o2.gb), free(o3.ga), free(o3.gb);
    free(a), free(b), free(A), free(Bd), free(ga), free(gb);
}

static void test_losses(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    /* 256 x 784 and 67 x 20: more terms than partial sums (chunks > 1, the
     * last one partial) */
    const int sizes[][2] = {{1, 1}, {1, 5}, {3, 7}, {3, 784}, {67, 20}, {256, 784}};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            loss_case_(ctx, k, sizes[i][0], sizes[i][1], i % 2 ? 7 : 0, i % 3 ? 0.5f : 1.0f,
                       100 * (uint64_t)k + i);
    glf_ctx_destroy(ctx);
}

/* The strided entropy on the logvar half of a (B, 2D) buffer: same bits as
 * the dense op on a copy, gradient written only into the logvar half. */
static void test_vae_entropy_strided(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int sizes[][2] = {{1, 1}, {3, 5}, {67, 13}, {256, 20}};
    for (int si = 0; si < 4; si++) {
        int B = sizes[si][0], D = sizes[si][1], ld = 2 * D;
        size_t n = (size_t)B * D, ne = (size_t)B * ld, W = glf_loss_workspace(B, D);
        float *enc = tu_rand(ne, 77 + (uint64_t)si, -2, 2), *lv = malloc(n * sizeof *lv);
        for (int b = 0; b < B; b++)
            memcpy(lv + (size_t)b * D, enc + (size_t)b * ld + D, (size_t)D * sizeof(float));
        cl_mem be = dev_in_(ctx, enc, ne, 0), bl = dev_in_(ctx, lv, n, 0);
        cl_mem bg = tu_buf_at(ctx, NULL, ne, 0), bgd = tu_buf_at(ctx, NULL, n, 0);
        cl_mem bo = tu_buf_at(ctx, NULL, 2, 0), bw = tu_buf_at(ctx, NULL, W, 0);
        TU_OK(glf_vae_entropy_ld(ctx, glf_dp(bo, 0), glf_dp(bg, D), glf_dp(be, D), B, D, ld, 0.5f,
                                 glf_dp(bw, 0)));
        TU_OK(glf_vae_entropy(ctx, glf_dp(bo, 1), glf_dp(bgd, 0), glf_dp(bl, 0), B, D, 0.5f,
                              glf_dp(bw, 0)));
        float *o = tu_read_at(ctx, bo, 2, 0, "entropy"), *g = tu_read_at(ctx, bg, ne, 0, "dlogvar");
        float *gd = tu_read_at(ctx, bgd, n, 0, "dlogvar dense");
        double *LV = tu_f64(lv, n), L, *want = calloc(n, sizeof *want);
        ref_vae_entropy(B, D, LV, 0.5, &L, want);
        expect_("strided entropy", &o[0], &L, 1, 1e-5, 1e-5);
        if (memcmp(&o[0], &o[1], sizeof(float)))
            fail_msg("entropy B%d D%d: strided %.9g and dense %.9g differ", B, D, (double)o[0],
                     (double)o[1]);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < ld; j++) {
                float x = g[(size_t)b * ld + j];
                if (j < D ? !is_sentinel_(x) : x != gd[(size_t)b * D + j - D])
                    fail_msg("entropy B%d D%d: dlogvar[%d, %d] = %g", B, D, b, j, (double)x);
            }
        free(enc), free(lv), free(o), free(g), free(gd), free(LV), free(want);
        cl_mem all[] = {be, bl, bg, bgd, bo, bw};
        for (int i = 0; i < 6; i++)
            glf_buf_release(all[i]);
    }
    glf_ctx_destroy(ctx);
}

/* BCE's own logarithm, element by element: the element terms sit in the
 * first B*N floats of work (ops_flow.h). Targets x = 1, so term = -max(log
 * xhat, -100), over xhat from denormals to 1. */
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

/* ld = 2D: mu and logvar are the halves of one (B, 2D) encoder output. */
static void reparam_case_(glf_ctx *ctx, int B, int D, int strided, size_t off, uint64_t seed)
{
    int ld = strided ? 2 * D : D;
    size_t n = (size_t)B * D, ne = (size_t)B * ld * (strided ? 1 : 2);
    float *enc = tu_rand(ne, seed, -1.5f, 1.5f), *eps = tu_rand(n, seed + 1, -2, 2);
    float *dz = tu_rand(n, seed + 2, -1, 1), *old = tu_rand(ne, seed + 3, -1, 1);
    size_t lvo = strided ? (size_t)D : n; /* logvar's offset within enc */
    double *E = tu_f64(enc, ne), *EPS = tu_f64(eps, n), *DZ = tu_f64(dz, n);
    double *OLD = tu_f64(old, ne), *z = calloc(n, 8), *g = calloc(ne, 8), *ga = calloc(ne, 8);
    ref_reparam_forward(B, D, ld, E, E + lvo, EPS, z);
    ref_reparam_backward(B, D, ld, DZ, E + lvo, EPS, NULL, g, g + lvo);
    ref_reparam_backward(B, D, ld, DZ, E + lvo, EPS, OLD + lvo, ga, ga + lvo);
    cl_mem be = dev_in_(ctx, enc, ne, off), bep = dev_in_(ctx, eps, n, off);
    cl_mem bdz = dev_in_(ctx, dz, n, off), bz = tu_buf_at(ctx, NULL, n, off);
    cl_mem bg = tu_buf_at(ctx, NULL, ne, off), bga = tu_buf_at(ctx, old, ne, off);
    glf_dptr mu = glf_dp(be, off), lv = glf_dp(be, off + lvo), Z = glf_dp(bz, off);
    glf_dptr EP = glf_dp(bep, off), DZd = glf_dp(bdz, off);
    if (strided) {
        TU_OK(glf_reparam_forward_ld(ctx, Z, mu, lv, EP, B, D, ld));
        TU_OK(glf_reparam_backward_ld(ctx, glf_dp(bg, off), glf_dp(bg, off + lvo), DZd, lv, EP, B,
                                      D, ld, 0));
        TU_OK(glf_reparam_backward_ld(ctx, glf_dp(bga, off), glf_dp(bga, off + lvo), DZd, lv, EP, B,
                                      D, ld, 1));
    } else {
        TU_OK(glf_reparam_forward(ctx, Z, mu, lv, EP, B, D));
        TU_OK(glf_reparam_backward(ctx, glf_dp(bg, off), glf_dp(bg, off + lvo), DZd, lv, EP, B, D,
                                   0));
        TU_OK(glf_reparam_backward(ctx, glf_dp(bga, off), glf_dp(bga, off + lvo), DZd, lv, EP, B, D,
                                   1));
    }
    char w[64];
    snprintf(w, sizeof w, "reparam B%d D%d ld%d", B, D, ld);
    print_message("  %s\n", w);
    float *gz = tu_read_at(ctx, bz, n, off, w), *gg = tu_read_at(ctx, bg, ne, off, w);
    float *gga = tu_read_at(ctx, bga, ne, off, w);
    expect_("reparam z", gz, z, n, 1e-6, 1e-6);
    expect_("reparam d(mu, logvar) overwrite", gg, g, ne, 1e-7, 1e-6);
    expect_("reparam d(mu, logvar) accumulate", gga, ga, ne, 1e-6, 1e-6);
    /* repeat the forward: same bits */
    TU_OK(glf_reparam_forward_ld(ctx, Z, mu, lv, EP, B, D, ld));
    float *gz2 = tu_read_at(ctx, bz, n, off, w);
    if (memcmp(gz, gz2, n * 4))
        fail_msg("%s: two runs differ", w);
    cl_mem all[] = {be, bep, bdz, bz, bg, bga};
    for (size_t i = 0; i < 6; i++)
        glf_buf_release(all[i]);
    free(enc), free(eps), free(dz), free(old), free(E), free(EPS), free(DZ), free(OLD), free(z);
    free(g), free(ga), free(gz), free(gg), free(gga), free(gz2);
}

static void test_reparam(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const int sizes[][2] = {{1, 1}, {3, 5}, {3, 20}, {67, 13}, {256, 20}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int strided = 0; strided < 2; strided++)
            reparam_case_(ctx, sizes[i][0], sizes[i][1], strided, i % 2 ? 3 : 0, 40 + i);
    glf_ctx_destroy(ctx);
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
