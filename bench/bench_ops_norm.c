/* Times the BatchNorm, activation and reduction ops at GLF's 28x28 shapes,
 * batch 256, on the chosen device, and prints a markdown table. Also times
 * the two ways of reducing per-channel statistics (two-pass fixed order vs
 * one work-item per channel). Usage: bench_ops_norm [reps] (GLF_DEVICE picks
 * the device). Not a test: no thresholds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_norm.h"
#include "glf/rng.h"
#include "glf/util.h"

#define TRIALS 7

static int reps_ = 20;

static void die_(glf_status s, const char *what)
{
    if (s != GLF_OK) {
        fprintf(stderr, "bench_ops_norm: %s: %s: %s\n", what, glf_status_str(s), glf_last_error());
        exit(1);
    }
}
#define CK(expr) die_((expr), #expr)

static cl_mem rand_buf_(glf_ctx *ctx, size_t n, uint64_t seed, float lo, float hi)
{
    float *h = malloc(n * sizeof *h);
    glf_rng r;
    glf_rng_init(&r, seed, 1);
    for (size_t i = 0; i < n; i++)
        h[i] = lo + (hi - lo) * glf_rng_uniform(&r);
    cl_mem b;
    CK(glf_buf_create(ctx, n * sizeof *h, &b));
    CK(glf_buf_write(ctx, b, 0, n * sizeof *h, h));
    free(h);
    return b;
}

typedef glf_status (*op_fn_)(glf_ctx *ctx, void *arg);

static int cmp_d_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best over TRIALS of the mean time per call (ms) of reps back-to-back calls:
 * the machine is shared, and the minimum is the least disturbed figure. */
static double time_ms_(glf_ctx *ctx, op_fn_ fn, void *arg)
{
    for (int i = 0; i < 2; i++) /* warm-up: kernel builds, first launches */
        CK(fn(ctx, arg));
    CK(glf_finish(ctx));
    double t[TRIALS];
    for (int k = 0; k < TRIALS; k++) {
        double t0 = glf_now();
        for (int i = 0; i < reps_; i++)
            CK(fn(ctx, arg));
        CK(glf_finish(ctx));
        t[k] = (glf_now() - t0) * 1e3 / reps_;
    }
    qsort(t, TRIALS, sizeof t[0], cmp_d_);
    return t[0];
}

/* ---- BatchNorm --------------------------------------------------------------- */

typedef struct bn_arg {
    int B, C, L;
    cl_mem x, y, dy, dx, p, g, s, r;
} bn_arg;

static glf_status bn_fwd_(glf_ctx *ctx, void *v)
{
    bn_arg *a = v;
    return glf_batchnorm_forward_train(ctx, glf_dp(a->y, 0), glf_dp(a->s, 0), glf_dp(a->s, a->C),
                                       glf_dp(a->r, 0), glf_dp(a->r, a->C), glf_dp(a->x, 0),
                                       glf_dp(a->p, 0), glf_dp(a->p, a->C), a->B, a->C, a->L, 0.1f,
                                       1e-5f);
}

static glf_status bn_bwd_(glf_ctx *ctx, void *v)
{
    bn_arg *a = v;
    return glf_batchnorm_backward(ctx, glf_dp(a->dx, 0), glf_dp(a->g, 0), glf_dp(a->g, a->C),
                                  glf_dp(a->dy, 0), glf_dp(a->x, 0), glf_dp(a->s, 0),
                                  glf_dp(a->s, a->C), glf_dp(a->p, 0), a->B, a->C, a->L, 1);
}

static glf_status bn_eval_(glf_ctx *ctx, void *v)
{
    bn_arg *a = v;
    return glf_batchnorm_forward_eval(ctx, glf_dp(a->y, 0), glf_dp(a->r, 0), glf_dp(a->r, a->C),
                                      glf_dp(a->x, 0), glf_dp(a->p, 0), glf_dp(a->p, a->C), a->B,
                                      a->C, a->L, 1e-5f);
}

/* Statistics only, one work-item per channel (cl/norm.cl bn_stats_channel). */
static glf_status bn_stats_channel_(glf_ctx *ctx, void *v)
{
    bn_arg *a = v;
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "norm", "bn_stats_channel", "-DBN_VW=16", &k));
    size_t g = (size_t)a->C, l = 16;
    return GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_MEM(a->s), GLF_I32(0), GLF_MEM(a->s), GLF_I32(a->C),
                      GLF_MEM(a->x), GLF_I32(0), GLF_I32(a->B), GLF_I32(a->C), GLF_I32(a->L),
                      GLF_F32(1e-5f));
}

/* Statistics only, the two-pass scheme the op uses (y as scratch). */
static glf_status bn_stats_twopass_(glf_ctx *ctx, void *v)
{
    bn_arg *a = v;
    cl_kernel k1, k2, k3, k4;
    GLF_TRY(glf_kernel(ctx, "norm", "bn_colsum", "-DBN_VW=16", &k1));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_mean", "-DBN_VW=16", &k2));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_colsq", "-DBN_VW=16", &k3));
    GLF_TRY(glf_kernel(ctx, "norm", "bn_var", "-DBN_VW=16", &k4));
    int CL = a->C * a->L, n = a->B * a->L;
    size_t gj = ((size_t)CL + 15) / 16, gc = (size_t)a->C, l = 16;
    GLF_TRY(GLF_LAUNCH(ctx, k1, 1, &gj, &l, GLF_MEM(a->y), GLF_I32(0), GLF_MEM(a->x), GLF_I32(0),
                       GLF_I32(a->B), GLF_I32(CL)));
    GLF_TRY(GLF_LAUNCH(ctx, k2, 1, &gc, &l, GLF_MEM(a->s), GLF_I32(0), GLF_MEM(a->y), GLF_I32(0),
                       GLF_I32(a->C), GLF_I32(a->L), GLF_I32(n)));
    GLF_TRY(GLF_LAUNCH(ctx, k3, 1, &gj, &l, GLF_MEM(a->y), GLF_I32(0), GLF_MEM(a->x), GLF_I32(0),
                       GLF_MEM(a->s), GLF_I32(0), GLF_I32(a->B), GLF_I32(a->C), GLF_I32(a->L)));
    return GLF_LAUNCH(ctx, k4, 1, &gc, &l, GLF_MEM(a->s), GLF_I32(a->C), GLF_MEM(a->s), GLF_I32(0),
                      GLF_MEM(a->s), GLF_I32(0), GLF_MEM(a->s), GLF_I32(0), GLF_MEM(a->y),
                      GLF_I32(0), GLF_I32(a->C), GLF_I32(a->L), GLF_I32(n), GLF_I32(0),
                      GLF_F32(0.1f), GLF_F32(1e-5f));
}

static void bench_bn_(glf_ctx *ctx, const char *name, int B, int C, int L)
{
    size_t n = (size_t)B * C * L;
    bn_arg a = {B, C, L, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    a.x = rand_buf_(ctx, n, 1, -2, 2);
    a.dy = rand_buf_(ctx, n, 2, -1, 1);
    a.p = rand_buf_(ctx, 2 * (size_t)C, 3, 0.5f, 1.5f);
    a.r = rand_buf_(ctx, 2 * (size_t)C, 4, 0.5f, 1.5f);
    a.g = rand_buf_(ctx, 2 * (size_t)C, 5, 0, 0);
    a.s = rand_buf_(ctx, 2 * (size_t)C, 6, 0, 0);
    CK(glf_buf_create(ctx, n * sizeof(float), &a.y));
    CK(glf_buf_create(ctx, n * sizeof(float), &a.dx));
    double f = time_ms_(ctx, bn_fwd_, &a), b = time_ms_(ctx, bn_bwd_, &a);
    double e = time_ms_(ctx, bn_eval_, &a);
    double s2 = time_ms_(ctx, bn_stats_twopass_, &a), s1 = time_ms_(ctx, bn_stats_channel_, &a);
    /* Bytes the op must move at least: forward reads x twice for the stats,
     * once more to normalise, writes y; backward reads dy, x twice, writes dx. */
    double gbf = 4.0 * n * sizeof(float) / (f * 1e6), gbb = 5.0 * n * sizeof(float) / (b * 1e6);
    printf("| %-28s | (%d, %d, %d) | %7.3f | %7.3f | %7.3f | %6.1f / %5.1f | %7.3f | %7.3f | "
           "%7.3f |\n",
           name, B, C, L, f, b, f + b, gbf, gbb, e, s2, s1);
    glf_buf_release(a.x), glf_buf_release(a.dy), glf_buf_release(a.p), glf_buf_release(a.r);
    glf_buf_release(a.g), glf_buf_release(a.s), glf_buf_release(a.y), glf_buf_release(a.dx);
}

/* ---- activations and reductions ---------------------------------------------- */

typedef struct ew_arg {
    size_t n;
    int M, N;
    glf_act act;
    cl_mem x, y, dy, dx, w;
} ew_arg;

static glf_status act_fwd_(glf_ctx *ctx, void *v)
{
    ew_arg *a = v;
    return glf_act_forward(ctx, glf_dp(a->y, 0), glf_dp(a->x, 0), a->n, a->act);
}

static glf_status act_bwd_(glf_ctx *ctx, void *v)
{
    ew_arg *a = v;
    return glf_act_backward(ctx, glf_dp(a->dx, 0), glf_dp(a->dy, 0), glf_dp(a->x, 0),
                            glf_dp(a->y, 0), a->n, a->act);
}

static glf_status sum_rows_(glf_ctx *ctx, void *v)
{
    ew_arg *a = v;
    return glf_sum_rows(ctx, glf_dp(a->y, 0), glf_dp(a->x, 0), a->M, a->N, 1);
}

static glf_status sum_all_(glf_ctx *ctx, void *v)
{
    ew_arg *a = v;
    return glf_sum_all(ctx, glf_dp(a->y, 0), glf_dp(a->x, 0), a->n, glf_dp(a->w, 0));
}

static glf_status axpby_(glf_ctx *ctx, void *v)
{
    ew_arg *a = v;
    return glf_axpby(ctx, glf_dp(a->y, 0), glf_dp(a->x, 0), a->n, 1.0f, 1.0f);
}

static ew_arg ew_alloc_(glf_ctx *ctx, size_t n)
{
    ew_arg a;
    memset(&a, 0, sizeof a);
    a.n = n;
    a.x = rand_buf_(ctx, n, 7, -3, 3);
    a.dy = rand_buf_(ctx, n, 8, -1, 1);
    a.y = rand_buf_(ctx, n, 9, -1, 1);
    a.w = rand_buf_(ctx, 4096, 10, 0, 0);
    CK(glf_buf_create(ctx, n * sizeof(float), &a.dx));
    return a;
}

static void ew_free_(ew_arg *a)
{
    glf_buf_release(a->x), glf_buf_release(a->dy), glf_buf_release(a->y);
    glf_buf_release(a->w), glf_buf_release(a->dx);
}

static void bench_act_(glf_ctx *ctx, const char *where, glf_act act, size_t n)
{
    ew_arg a = ew_alloc_(ctx, n);
    a.act = act;
    double f = time_ms_(ctx, act_fwd_, &a), b = time_ms_(ctx, act_bwd_, &a);
    printf("| %-11s | %-28s | %9zu | %7.3f | %7.3f | %7.3f | %6.1f |\n", glf_act_name(act), where,
           n, f, b, f + b, 5.0 * n * sizeof(float) / ((f + b) * 1e6));
    ew_free_(&a);
}

static void bench_reduce_(glf_ctx *ctx, const char *what, op_fn_ fn, size_t n, int M, int N,
                          double bytes_per_elem)
{
    ew_arg a = ew_alloc_(ctx, n);
    a.M = M, a.N = N;
    double t = time_ms_(ctx, fn, &a);
    printf("| %-34s | %9zu | %7.3f | %6.1f |\n", what, n, t, bytes_per_elem * n / (t * 1e6));
    ew_free_(&a);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        reps_ = atoi(argv[1]) > 0 ? atoi(argv[1]) : reps_;
    glf_ctx *ctx;
    CK(glf_ctx_create(NULL, &ctx));
    char dev[512];
    glf_ctx_describe(ctx, dev, sizeof dev);
    printf("Device: %s. Batch 256, best of %d trials of %d back-to-back calls; ms per "
           "call.\n\n",
           dev, TRIALS, reps_);
    printf("| BatchNorm (train) | (B, C, L) | fwd | bwd | fwd+bwd | GB/s fwd / bwd | eval fwd "
           "| stats 2-pass | stats 1 WI/channel |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    bench_bn_(ctx, "enc.bn2 BatchNorm2d", 256, 128, 49);
    bench_bn_(ctx, "dec.bn3 BatchNorm2d", 256, 64, 196);
    bench_bn_(ctx, "enc.bn3/dec.bn1 BatchNorm1d", 256, 1024, 1);
    bench_bn_(ctx, "dec.bn2 BatchNorm1d", 256, 6272, 1);
    bench_bn_(ctx, "flow MLP BatchNorm1d", 256, 64, 1);
    printf("\n| activation | where | n | fwd | bwd | fwd+bwd | GB/s |\n");
    printf("|---|---|---:|---:|---:|---:|---:|\n");
    bench_act_(ctx, "enc conv1 out (256,64,14,14)", GLF_ACT_RELU, 256 * 64 * 196);
    bench_act_(ctx, "enc fc1 out (256,1024)", GLF_ACT_RELU, 256 * 1024);
    bench_act_(ctx, "decoder output (256,1,28,28)", GLF_ACT_TANH_OUTMAP, 256 * 784);
    bench_act_(ctx, "flow s-net out (256,10)", GLF_ACT_SOFTCLAMP, 256 * 10);
    bench_act_(ctx, "(256,1024)", GLF_ACT_TANH, 256 * 1024);
    bench_act_(ctx, "(256,1024)", GLF_ACT_SIGMOID, 256 * 1024);
    printf("\n| reduction | n | ms | GB/s |\n|---|---:|---:|---:|\n");
    bench_reduce_(ctx, "sum_rows (256, 1024) accumulate", sum_rows_, 256 * 1024, 256, 1024, 4);
    bench_reduce_(ctx, "sum_rows (256, 20) accumulate", sum_rows_, 256 * 20, 256, 20, 4);
    bench_reduce_(ctx, "sum_all 256*784", sum_all_, 256 * 784, 0, 0, 4);
    bench_reduce_(ctx, "sum_all 100003", sum_all_, 100003, 0, 0, 4);
    bench_reduce_(ctx, "axpby 256*6272", axpby_, 256 * 6272, 0, 0, 12);
    glf_ctx_destroy(ctx);
    return 0;
}
