/* Benchmark of the flow, loss and optimizer ops at GLF's 28x28x1 shapes
 * (batch 256, latent d = 20, flow width 64): median time of each op's forward
 * and backward, printed as a markdown table. No thresholds: figures only.
 * Usage: bench_ops_flow [device-spec] [repetitions] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_flow.h"
#include "glf/util.h"

enum { B = 256, D = 20, D1 = 10, D2 = 10, NPIX = 784 };
/* Parameter counts of the 28x28 GLF model: the auto-encoder and the flow
 * (4 blocks x 4 MLPs of 10 -> 64 -> 64 -> 10 with two BatchNorms). */
#define N_AE 13175829u
#define N_FLOW 92320u

typedef struct bench_ {
    glf_ctx *ctx;
    int reps;
    cl_mem buf; /* one arena for every tensor */
    size_t used;
} bench_;

static glf_dptr take_(bench_ *b, size_t n)
{
    glf_dptr p = glf_dp(b->buf, b->used);
    b->used += (n + 63) / 64 * 64;
    return p;
}

static int cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef glf_status (*op_fn_)(bench_ *, void *);

/* Median milliseconds of one op (enqueue + finish), after two warm-ups
 * that build the kernels and generate code for the launch sizes. */
static double time_(bench_ *b, op_fn_ f, void *arg)
{
    double *t = malloc((size_t)b->reps * sizeof *t);
    for (int r = -2; r < b->reps; r++) {
        double t0 = glf_now();
        glf_status s = f(b, arg);
        if (s == GLF_OK)
            s = glf_finish(b->ctx);
        if (s != GLF_OK) {
            fprintf(stderr, "bench_ops_flow: %s: %s\n", glf_status_str(s), glf_last_error());
            exit(1);
        }
        if (r >= 0)
            t[r] = (glf_now() - t0) * 1e3;
    }
    qsort(t, (size_t)b->reps, sizeof *t, cmp_);
    double m = t[b->reps / 2];
    free(t);
    return m;
}

typedef struct t_ {
    glf_dptr a, b, c, d, e, f, g, h, work;
    cl_mem perm, p, gr, m, v;
    size_t n;
    int which;
} t_;

static glf_status aff_f_(bench_ *b, void *x)
{
    t_ *t = x;
    return glf_affine_forward(b->ctx, t->a, t->b, t->c, t->d, t->e, B, D1, 0);
}
static glf_status aff_i_(bench_ *b, void *x)
{
    t_ *t = x;
    return glf_affine_inverse(b->ctx, t->c, t->a, t->d, t->e, B, D1);
}
static glf_status aff_b_(bench_ *b, void *x)
{
    t_ *t = x;
    return glf_affine_backward(b->ctx, t->f, t->g, t->h, t->a, t->b, t->c, t->d, B, D1);
}
static glf_status shuf_f_(bench_ *b, void *x)
{
    t_ *t = x;
    return glf_shuffle_cols(b->ctx, t->a, t->b, t->c, t->d, t->perm, B, D1, D2, 0);
}
static glf_status shuf_i_(bench_ *b, void *x)
{
    t_ *t = x;
    return glf_shuffle_cols(b->ctx, t->c, t->d, t->a, t->b, t->perm, B, D1, D2, 1);
}
static glf_status loss_(bench_ *b, void *x)
{
    t_ *t = x;
    glf_dptr none = {NULL, 0};
    glf_dptr g = t->which >= 10 ? none : t->c; /* which >= 10: loss only */
    switch (t->which % 10) {
    case 0:
        return glf_mse_loss(b->ctx, t->a, g, t->b, t->e, B, NPIX, 1.0f, t->work);
    case 1:
        return glf_bce_loss(b->ctx, t->a, g, t->b, t->e, B, NPIX, 1.0f, t->work);
    case 2:
        return glf_gauss_nll(b->ctx, t->a, g, t->which >= 10 ? none : t->d, t->f, t->g, B, D, 1.0f,
                             t->work);
    default:
        return glf_vae_entropy(b->ctx, t->a, g, t->f, B, D, 1.0f, t->work);
    }
}
static glf_status rep_f_(bench_ *b, void *x)
{
    t_ *t = x;
    return glf_reparam_forward_ld(b->ctx, t->a, t->b, glf_dp(t->b.buf, t->b.off + D), t->c, B, D,
                                  2 * D);
}
static glf_status rep_b_(bench_ *b, void *x)
{
    t_ *t = x;
    return glf_reparam_backward_ld(b->ctx, t->d, glf_dp(t->d.buf, t->d.off + D), t->a,
                                   glf_dp(t->b.buf, t->b.off + D), t->c, B, D, 2 * D, 0);
}
static glf_status adam_(bench_ *b, void *x)
{
    t_ *t = x;
    glf_adam_hp hp = {1e-3f, 0.8f, 0.9f, 1e-6f, 2e-5f};
    return glf_adam_step(b->ctx, t->p, t->gr, t->m, t->v, 0, t->n, &hp, 7);
}

/* Baseline: the foundation's y += a*x (cl/util.cl) over the same n floats,
 * 2 reads + 1 write each: what streaming memory allows on this machine. */
static glf_status axpy_(bench_ *b, void *x)
{
    t_ *t = x;
    cl_kernel k;
    GLF_TRY(glf_kernel(b->ctx, "util", "axpy_f32", NULL, &k));
    size_t g = t->n, l = 64;
    return GLF_LAUNCH(b->ctx, k, 1, &g, &l, GLF_MEM(t->m), GLF_I32(0), GLF_MEM(t->gr), GLF_I32(0),
                      GLF_I32(t->n), GLF_F32(0.5f));
}

static void row_(const char *op, const char *shape, double f, double bw)
{
    if (bw < 0)
        printf("| %s | %s | %.3f | - | %.3f |\n", op, shape, f, f);
    else
        printf("| %s | %s | %.3f | %.3f | %.3f |\n", op, shape, f, bw, f + bw);
}

int main(int argc, char **argv)
{
    bench_ b = {NULL, argc > 2 ? atoi(argv[2]) : 50, NULL, 0};
    if (b.reps < 1)
        b.reps = 1;
    glf_status s = glf_ctx_create(argc > 1 ? argv[1] : NULL, &b.ctx);
    if (s != GLF_OK) {
        fprintf(stderr, "bench_ops_flow: %s: %s\n", glf_status_str(s), glf_last_error());
        return 1;
    }
    char desc[512];
    glf_ctx_describe(b.ctx, desc, sizeof desc);
    /* arena: room for a few (B, 784) tensors plus small ones; filled with 0.5 */
    size_t arena = 8 * (size_t)B * NPIX + 64 * 1024;
    if (glf_buf_create(b.ctx, arena * 4, &b.buf) ||
        glf_buf_fill_f32(b.ctx, b.buf, 0, arena, 0.5f)) {
        fprintf(stderr, "bench_ops_flow: %s\n", glf_last_error());
        return 1;
    }
    t_ t;
    memset(&t, 0, sizeof t);
    t.a = take_(&b, B * NPIX), t.b = take_(&b, B * NPIX), t.c = take_(&b, B * NPIX);
    t.d = take_(&b, B * 2 * D), t.e = take_(&b, B * NPIX), t.f = take_(&b, B * 2 * D);
    t.g = take_(&b, B * 2 * D), t.h = take_(&b, B * 2 * D);
    t.work = take_(&b, glf_loss_workspace(B, NPIX));
    int perm[D];
    for (int j = 0; j < D; j++)
        perm[j] = (7 * j + 3) % D;
    if (glf_buf_create(b.ctx, sizeof perm, &t.perm) ||
        glf_buf_write(b.ctx, t.perm, 0, sizeof perm, perm)) {
        fprintf(stderr, "bench_ops_flow: %s\n", glf_last_error());
        return 1;
    }

    printf("Flow, loss and optimizer ops on %s; batch %d, d = %d (halves %d + %d), "
           "%d pixels; median of %d runs, each enqueue + clFinish, in ms.\n\n",
           desc, B, D, D1, D2, NPIX, b.reps);
    printf("| op | shape | forward | backward | total |\n|---|---|---|---|---|\n");
    char sh[64];
    snprintf(sh, sizeof sh, "(%d, %d)", B, D1);
    row_("affine half-coupling", sh, time_(&b, aff_f_, &t), time_(&b, aff_b_, &t));
    row_("affine inverse", sh, time_(&b, aff_i_, &t), -1);
    snprintf(sh, sizeof sh, "(%d, %d+%d)", B, D1, D2);
    row_("shuffle (inverse = backward)", sh, time_(&b, shuf_f_, &t), time_(&b, shuf_i_, &t));
    static const char *names[4] = {"MSE loss", "BCE loss", "Gaussian NLL", "VAE entropy"};
    for (int k = 0; k < 4; k++) {
        /* forward = loss only; backward = the extra cost of also writing gradients */
        t.which = 10 + k;
        double f = time_(&b, loss_, &t);
        t.which = k;
        double fb = time_(&b, loss_, &t);
        snprintf(sh, sizeof sh, "(%d, %d)", B, k < 2 ? NPIX : D);
        row_(names[k], sh, f, fb - f > 0 ? fb - f : 0);
    }
    snprintf(sh, sizeof sh, "(%d, %d), ld %d", B, D, 2 * D);
    row_("reparameterisation", sh, time_(&b, rep_f_, &t), time_(&b, rep_b_, &t));

    const size_t sizes[2] = {N_FLOW, N_AE};
    static const char *an[2] = {"Adam step (flow params)", "Adam step (AE params)"};
    for (int k = 0; k < 2; k++) {
        t.n = sizes[k];
        cl_mem *bufs[4] = {&t.p, &t.gr, &t.m, &t.v};
        for (int i = 0; i < 4; i++)
            if (glf_buf_create(b.ctx, t.n * 4, bufs[i]) ||
                glf_buf_fill_f32(b.ctx, *bufs[i], 0, t.n, 0.25f)) {
                fprintf(stderr, "bench_ops_flow: %s\n", glf_last_error());
                return 1;
            }
        snprintf(sh, sizeof sh, "%zu floats", t.n);
        double ms = time_(&b, adam_, &t);
        row_(an[k], sh, ms, -1);
        double ax = time_(&b, axpy_, &t);
        printf("|  | %.1f GB/s (4 reads + 3 writes per float); baseline y += a*x over the same "
               "n: %.3f ms, %.1f GB/s | | | |\n",
               7.0 * 4.0 * (double)t.n / (ms * 1e-3) * 1e-9, ax,
               3.0 * 4.0 * (double)t.n / (ax * 1e-3) * 1e-9);
        for (int i = 0; i < 4; i++)
            glf_buf_release(*bufs[i]);
    }
    printf("\nLoss rows: forward = loss only (gradient pointers NULL), backward = the extra "
           "time when the gradient is written in the same pass.\n");
    glf_buf_release(t.perm);
    glf_buf_release(b.buf);
    glf_ctx_destroy(b.ctx);
    return 0;
}
