/* Forward+backward time of the conv/linear ops at batch 256 at GLF's shapes
 * (28x28x1 preset), as a markdown table; then the conv GEMM strategies side
 * by side (one GEMM over the batch vs per-sample GEMMs). Usage:
 *   bench_ops_conv [reps (default 5)] [batch (default 256)] */
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>

#include "glf/gemm.h"
#include "glf/ops_conv.h"
#include "glf/rng.h"
#include "glf/util.h"

#define CHECK_(expr)                                                                     \
    do {                                                                                 \
        glf_status s_ = (expr);                                                          \
        if (s_ != GLF_OK) {                                                              \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr,          \
                    glf_status_str(s_), glf_last_error());                               \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static glf_ctx *ctx_;

static cl_mem rand_buf_(size_t n, uint64_t seed)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    glf_rng r;
    glf_rng_init(&r, seed, 3);
    for (size_t i = 0; i < n; i++)
        h[i] = glf_rng_uniform(&r) - 0.5f;
    cl_mem b;
    CHECK_(glf_buf_create(ctx_, (n ? n : 1) * sizeof(float), &b));
    CHECK_(glf_buf_write(ctx_, b, 0, n * sizeof(float), h));
    free(h);
    return b;
}

static int cmp_d_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* An op under test: forward and backward closures over fixed buffers. */
typedef struct op_ {
    const char *name, *shape;
    int kind; /* 0 conv, 1 conv transpose, 2 linear */
    glf_conv_shape cs;
    int B, IN, OUT;
    int skip_dx; /* the model's first layer needs no dx */
    cl_mem x, w, b, y, dy, dx, dw, db, work;
} op_;

static void fwd_(op_ *o)
{
    glf_dptr y = glf_dp(o->y, 0), x = glf_dp(o->x, 0), w = glf_dp(o->w, 0);
    glf_dptr b = glf_dp(o->b, 0), wk = glf_dp(o->work, 0);
    if (o->kind == 0)
        CHECK_(glf_conv2d_forward(ctx_, y, x, w, b, &o->cs, wk));
    else if (o->kind == 1)
        CHECK_(glf_conv_transpose2d_forward(ctx_, y, x, w, b, &o->cs, wk));
    else
        CHECK_(glf_linear_forward(ctx_, y, x, w, b, o->B, o->IN, o->OUT));
}

static void bwd_(op_ *o)
{
    glf_dptr dx = glf_dp(o->skip_dx ? NULL : o->dx, 0), dw = glf_dp(o->dw, 0);
    glf_dptr db = glf_dp(o->db, 0), dy = glf_dp(o->dy, 0), x = glf_dp(o->x, 0);
    glf_dptr w = glf_dp(o->w, 0), wk = glf_dp(o->work, 0);
    if (o->kind == 0)
        CHECK_(glf_conv2d_backward(ctx_, dx, dw, db, dy, x, w, &o->cs, wk, 1));
    else if (o->kind == 1)
        CHECK_(glf_conv_transpose2d_backward(ctx_, dx, dw, db, dy, x, w, &o->cs, wk, 1));
    else
        CHECK_(glf_linear_backward(ctx_, dx, dw, db, dy, x, w, o->B, o->IN, o->OUT, 1));
}

/* Median seconds of `reps` timed calls after one untimed warm-up (compiles). */
static double time_(void (*f)(op_ *), op_ *o, int reps)
{
    double *t = malloc((size_t)reps * sizeof *t);
    f(o);
    CHECK_(glf_finish(ctx_));
    for (int i = 0; i < reps; i++) {
        double t0 = glf_now();
        f(o);
        CHECK_(glf_finish(ctx_));
        t[i] = glf_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_d_);
    double m = t[reps / 2];
    free(t);
    return m;
}

static void setup_(op_ *o)
{
    size_t nx, ny, nw, nb, ws = 1;
    if (o->kind == 2) {
        nx = (size_t)o->B * o->IN, ny = (size_t)o->B * o->OUT;
        nw = (size_t)o->OUT * o->IN, nb = (size_t)o->OUT;
    } else {
        const glf_conv_shape *s = &o->cs;
        int tr = o->kind == 1;
        int Ho = tr ? glf_conv_transpose2d_out(s->H, s->K, s->S, s->P)
                    : glf_conv2d_out(s->H, s->K, s->S, s->P);
        nx = (size_t)s->B * s->Cin * s->H * s->W, ny = (size_t)s->B * s->Cout * Ho * Ho;
        nw = (size_t)s->Cout * s->Cin * s->K * s->K, nb = (size_t)s->Cout;
        ws = tr ? glf_conv_transpose2d_workspace(s) : glf_conv2d_workspace(s);
    }
    o->x = rand_buf_(nx, 1), o->w = rand_buf_(nw, 2), o->b = rand_buf_(nb, 3);
    o->dy = rand_buf_(ny, 4), o->y = rand_buf_(ny, 5), o->dx = rand_buf_(nx, 6);
    o->dw = rand_buf_(nw, 7), o->db = rand_buf_(nb, 8), o->work = rand_buf_(ws, 9);
}

static void release_(op_ *o)
{
    cl_mem *m[] = {&o->x, &o->w, &o->b, &o->y, &o->dy, &o->dx, &o->dw, &o->db, &o->work};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        glf_buf_release(*m[i]), *m[i] = NULL;
}

static double flops_fwd_(const op_ *o)
{
    const glf_conv_shape *s = &o->cs;
    if (o->kind == 2)
        return 2.0 * o->B * o->IN * o->OUT;
    if (o->kind == 1)
        return 2.0 * s->B * s->Cin * s->H * s->W * s->Cout * s->K * s->K;
    int Ho = glf_conv2d_out(s->H, s->K, s->S, s->P);
    return 2.0 * s->B * s->Cout * Ho * Ho * s->Cin * s->K * s->K;
}

/* ---- strategy comparison for Conv2d (forward and dw) --------------------- */

/* colT_b (L, R) of one sample (im2col_t, the kernel the ops use). */
static void im2col_one_(cl_mem col, size_t col_off, cl_mem x, size_t x_off,
                        const glf_conv_shape *s, int Ho)
{
    cl_kernel k;
    CHECK_(glf_kernel(ctx_, "conv", "im2col_t", NULL, &k));
    size_t gl = (size_t)Ho * Ho, lo = 16;
    CHECK_(GLF_LAUNCH(ctx_, k, 1, &gl, &lo, GLF_MEM(col), GLF_I32(col_off), GLF_MEM(x),
                      GLF_I32(x_off), GLF_I32(1), GLF_I32(s->Cin), GLF_I32(s->H),
                      GLF_I32(s->W), GLF_I32(s->K), GLF_I32(s->S), GLF_I32(s->P), GLF_I32(Ho),
                      GLF_I32(Ho), GLF_I32(s->Cin * s->K * s->K), /* plain colT */
                      GLF_I32(0)));
}

static int strategy_; /* 1: a glf_gemm (CLBlast) per sample, 2: CLBlast strided batched */

/* Forward without bias by per-sample CLBlast GEMMs: y_b (Cout, L) = w (Cout, R) colT_b^T. */
static void fwd_per_sample_(op_ *o)
{
    const glf_conv_shape *s = &o->cs;
    int Ho = glf_conv2d_out(s->H, s->K, s->S, s->P);
    size_t R = (size_t)s->Cin * s->K * s->K, L = (size_t)Ho * Ho;
    for (int b = 0; b < s->B; b++)
        im2col_one_(o->work, b * R * L, o->x, (size_t)b * s->Cin * s->H * s->W, s, Ho);
    if (strategy_ == 1) {
        for (int b = 0; b < s->B; b++)
            CHECK_(glf_gemm(ctx_, GLF_NO_TRANS, GLF_TRANS, s->Cout, L, R, 1.0f, o->w, 0, R,
                            o->work, b * R * L, R, 0.0f, o->y, b * s->Cout * L, L));
    } else {
        cl_command_queue q = glf_ctx_queue(ctx_);
        CLBlastStatusCode st = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, s->Cout, L, R, 1.0f,
            o->w, 0, R, 0, o->work, 0, R, R * L, 0.0f, o->y, 0, L, s->Cout * L, s->B, &q,
            NULL);
        if (st != CLBlastSuccess) {
            fprintf(stderr, "CLBlastSgemmStridedBatched failed: %d\n", (int)st);
            exit(1);
        }
    }
}

/* dw (Cout, R) += sum_b dy_b (Cout, L) colT_b, one CLBlast GEMM per sample. */
static void dw_per_sample_(op_ *o)
{
    const glf_conv_shape *s = &o->cs;
    int Ho = glf_conv2d_out(s->H, s->K, s->S, s->P);
    size_t R = (size_t)s->Cin * s->K * s->K, L = (size_t)Ho * Ho;
    for (int b = 0; b < s->B; b++)
        im2col_one_(o->work, b * R * L, o->x, (size_t)b * s->Cin * s->H * s->W, s, Ho);
    for (int b = 0; b < s->B; b++)
        CHECK_(glf_gemm(ctx_, GLF_NO_TRANS, GLF_NO_TRANS, s->Cout, R, L, 1.0f, o->dy,
                        b * s->Cout * L, L, o->work, b * R * L, R, 1.0f, o->dw, 0, R));
}

/* The library's dw path alone (dx and db skipped). */
static void dw_batched_(op_ *o)
{
    CHECK_(glf_conv2d_backward(ctx_, glf_dp(NULL, 0), glf_dp(o->dw, 0), glf_dp(NULL, 0),
                               glf_dp(o->dy, 0), glf_dp(o->x, 0), glf_dp(o->w, 0), &o->cs,
                               glf_dp(o->work, 0), 1));
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5, B = argc > 2 ? atoi(argv[2]) : 256;
    if (reps < 1 || B < 1) {
        fprintf(stderr, "usage: %s [reps >= 1] [batch >= 1]\n", argv[0]);
        return 2;
    }
    CHECK_(glf_ctx_create(NULL, &ctx_));
    char dev[512];
    glf_ctx_describe(ctx_, dev, sizeof dev);
#define CONV_(n, sh, k, cin, h, cout, skip)                                           \
    {.name = n, .shape = sh, .kind = k, .cs = {B, cin, h, h, cout, 4, 2, 1}, .skip_dx = skip}
#define LIN_(n, sh, in, out) {.name = n, .shape = sh, .kind = 2, .B = B, .IN = in, .OUT = out}
    op_ ops[] = {
        CONV_("enc.conv1", "1x28x28 -> 64x14x14, k4 s2 p1", 0, 1, 28, 64, 1),
        CONV_("enc.conv2", "64x14x14 -> 128x7x7, k4 s2 p1", 0, 64, 14, 128, 0),
        CONV_("dec.deconv1", "128x7x7 -> 64x14x14, k4 s2 p1", 1, 128, 7, 64, 0),
        CONV_("dec.deconv2", "64x14x14 -> 1x28x28, k4 s2 p1", 1, 64, 14, 1, 0),
        LIN_("enc.fc1", "6272 -> 1024", 6272, 1024),
        LIN_("enc.fc2", "1024 -> 20", 1024, 20),
        LIN_("dec.fc1", "20 -> 1024", 20, 1024),
        LIN_("dec.fc2", "1024 -> 6272", 1024, 6272),
        LIN_("flow fc1", "10 -> 64", 10, 64),
        LIN_("flow fc2", "64 -> 64", 64, 64),
        LIN_("flow fc3", "64 -> 10", 64, 10),
    };
#undef CONV_
#undef LIN_
    printf("Device: %s; batch %d; median of %d after one warm-up; backward with "
           "accumulate = 1%s.\n\n",
           dev, B, reps, " (enc.conv1 skips dx, as the model does)");
    printf("| op | shape | forward ms | backward ms | fwd+bwd ms | GFLOP/s | fwd+bwd ms, "
           "CLBlast only |\n");
    printf("|---|---|---:|---:|---:|---:|---:|\n");
    double total = 0, total_cb = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        op_ *o = &ops[i];
        setup_(o);
        CHECK_(glf_gemm_set_backend(ctx_, GLF_GEMM_GLF));
        double tf = time_(fwd_, o, reps), tb = time_(bwd_, o, reps);
        CHECK_(glf_gemm_set_backend(ctx_, GLF_GEMM_CLBLAST)); /* the same ops on CLBlast */
        double cf = time_(fwd_, o, reps), cb = time_(bwd_, o, reps);
        CHECK_(glf_gemm_set_backend(ctx_, GLF_GEMM_GLF));
        double fl = flops_fwd_(o) * (o->skip_dx ? 2.0 : 3.0);
        printf("| %s | %s | %.2f | %.2f | %.2f | %.1f | %.2f |\n", o->name, o->shape, tf * 1e3,
               tb * 1e3, (tf + tb) * 1e3, fl / (tf + tb) * 1e-9, (cf + cb) * 1e3);
        fflush(stdout);
        total += tf + tb, total_cb += cf + cb;
        release_(o);
    }
    printf("| **all** | | | | **%.1f** | | **%.1f** |\n\n", total * 1e3, total_cb * 1e3);

    /* Strategies on enc.conv2: forward and dw. */
    op_ *o = &ops[1];
    setup_(o);
    double fl = flops_fwd_(o);
    double t_lib = time_(fwd_, o, reps), t_dwlib = time_(dw_batched_, o, reps);
    CHECK_(glf_gemm_set_backend(ctx_, GLF_GEMM_CLBLAST));
    double t_cb = time_(fwd_, o, reps), t_dwcb = time_(dw_batched_, o, reps);
    strategy_ = 1;
    double t_loop = time_(fwd_per_sample_, o, reps);
    strategy_ = 2;
    double t_sb = time_(fwd_per_sample_, o, reps);
    double t_dwl = time_(dw_per_sample_, o, reps);
    CHECK_(glf_gemm_set_backend(ctx_, GLF_GEMM_GLF));
    printf("Conv GEMM strategies on enc.conv2 (batch %d; forward includes im2col and the "
           "permute/bias; the per-sample rows skip the bias):\n\n", B);
    printf("| strategy | forward ms | GFLOP/s | dw ms |\n|---|---:|---:|---:|\n");
    printf("| one im2col + one glf_gemm (A*B^T) over the batch + permute (used) | %.2f | "
           "%.1f | %.2f |\n", t_lib * 1e3, fl / t_lib * 1e-9, t_dwlib * 1e3);
    printf("| same, GEMM on CLBlast | %.2f | %.1f | %.2f |\n", t_cb * 1e3, fl / t_cb * 1e-9,
           t_dwcb * 1e3);
    printf("| per-sample im2col + %d CLBlast GEMMs | %.2f | %.1f | %.2f |\n", B, t_loop * 1e3,
           fl / t_loop * 1e-9, t_dwl * 1e3);
    printf("| per-sample im2col + CLBlastSgemmStridedBatched | %.2f | %.1f | - |\n",
           t_sb * 1e3, fl / t_sb * 1e-9);
    release_(o);
    glf_ctx_destroy(ctx_);
    return 0;
}
