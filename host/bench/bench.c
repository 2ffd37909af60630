/* `glf bench` (include/glf/bench.h): microbenchmarks of the device's peaks,
 * GEMM at GLF's shapes through three backends, the ops of one profiled
 * training step (the tuning workload, tune/workload.h) against the net's
 * cost model, and the training step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "glf/bench.h"
#include "glf/gemm.h"
#include "glf/net.h"
#include "glf/ops_conv.h"
#include "glf/rng.h"
#include "glf/tune.h"
#include "glf/util.h"
#include "tune/workload.h"

glf_bench_opts glf_bench_defaults(void)
{
    glf_bench_opts o = {.batch = 256, .steps = 5, .reps = 5};
    return o;
}

static void say_(const glf_bench_opts *o, const char *fmt, const char *what)
{
    if (!o->progress)
        return;
    char line[256];
    snprintf(line, sizeof line, fmt, what);
    o->progress(o->user, line);
}

/* ---- peaks ----------------------------------------------------------------- */

/* FMA GFLOP/s: enough work-items to fill the device (CPU family: a few
 * float16 work-items per core; SIMT family: many scalar ones per compute
 * unit), iterations scaled so one launch takes about 0.2 s; the best of
 * reps launches. */
static glf_status fma_peak_(glf_ctx *ctx, int quick, double *out)
{
    const glf_device_info *d = glf_ctx_device(ctx);
    const int simt = glf_ctx_family(ctx) == GLF_FAMILY_SIMT;
    size_t n = simt ? (size_t)d->compute_units * 2048 : (size_t)d->compute_units * 64;
    if (n < 64)
        n = 64;
    const double flop_per_iter = simt ? 16.0 : 256.0;
    cl_kernel k;
    cl_mem buf;
    GLF_TRY(glf_kernel(ctx, "bench", "fma_peak", simt ? "-DPEAK_VW=1" : "-DPEAK_VW=16", &k));
    GLF_TRY(glf_buf_create(ctx, n * sizeof(float), &buf));
    glf_status s = GLF_OK;
    int iters = 64;
    double best = 0, target = quick ? 0.02 : 0.2;
    for (int r = 0; r < (quick ? 3 : 6) && !s; r++) {
        double t0 = glf_now();
        s = GLF_LAUNCH(ctx, k, 1, &n, NULL, GLF_MEM(buf), GLF_I32(iters), GLF_F32(0.999f));
        if (!s)
            s = glf_finish(ctx);
        double dt = glf_now() - t0;
        double gf = flop_per_iter * (double)iters * (double)n / dt * 1e-9;
        if (r > 0 && gf > best) /* launch 0 builds and warms up */
            best = gf;
        if (dt < target / 2 && iters < (1 << 24)) /* too short to time well: longer */
            iters = (int)fmin((double)(1 << 24), iters * fmax(2.0, target / fmax(dt, 1e-6)));
    }
    glf_buf_release(buf);
    *out = best;
    return s;
}

/* Streaming GB/s over buffers far larger than caches: the faster of a copy
 * (read + write counted) and y += a*x (two reads and a write counted). */
static glf_status bandwidth_(glf_ctx *ctx, int quick, double *out)
{
    const glf_device_info *d = glf_ctx_device(ctx);
    size_t bytes = quick ? (16u << 20) : (128u << 20);
    while (bytes > (1u << 20) && 2 * bytes > d->global_mem / 4)
        bytes /= 2;
    size_t n = bytes / 4, local = 64;
    cl_kernel kc, ka;
    cl_mem a = NULL, b = NULL;
    GLF_TRY(glf_kernel(ctx, "bench", "copy_f32", NULL, &kc));
    GLF_TRY(glf_kernel(ctx, "bench", "axpy_f32", NULL, &ka));
    glf_status s = glf_buf_create(ctx, bytes, &a);
    if (!s)
        s = glf_buf_create(ctx, bytes, &b);
    if (!s)
        s = glf_buf_fill_f32(ctx, a, 0, n, 1.0f);
    if (!s)
        s = glf_buf_fill_f32(ctx, b, 0, n, 0.0f);
    double best = 0;
    for (int r = 0; r < (quick ? 4 : 10) && !s; r++) {
        int axpy = r & 1;
        double t0 = glf_now();
        s = axpy ? GLF_LAUNCH(ctx, ka, 1, &n, &local, GLF_MEM(b), GLF_MEM(a), GLF_F32(1e-3f))
                 : GLF_LAUNCH(ctx, kc, 1, &n, &local, GLF_MEM(b), GLF_MEM(a));
        if (!s)
            s = glf_finish(ctx);
        double gb = (axpy ? 3.0 : 2.0) * (double)bytes / (glf_now() - t0) * 1e-9;
        if (r > 1 && gb > best) /* launches 0 and 1 warm up */
            best = gb;
    }
    glf_buf_release(a), glf_buf_release(b);
    *out = best;
    return s;
}

glf_status glf_bench_peaks(glf_ctx *ctx, int quick, double *gflops, double *gbs)
{
    GLF_TRY(fma_peak_(ctx, quick, gflops));
    return bandwidth_(ctx, quick, gbs);
}

/* ---- GEMM ------------------------------------------------------------------ */

struct shape_ {
    const char *what;
    int ta, tb;
    long M, N, K;
};

/* GLF at batch 256 (glf-method.md): forward X W^T (NT), weight gradients
 * dY^T X (TN), input gradients dY W (NN), the convolutions as im2col
 * products, the flow's small layers; and a square reference. */
static const struct shape_ shapes_[] = {
    {"enc fc fwd", 0, 1, 256, 1024, 6272},    {"dec fc fwd", 0, 1, 256, 6272, 1024},
    {"latent fwd", 0, 1, 256, 20, 1024},      {"enc fc dW", 1, 0, 1024, 6272, 256},
    {"dec fc dX", 0, 0, 256, 6272, 1024},     {"conv im2col", 0, 0, 256 * 196, 64, 16},
    {"conv dW", 1, 0, 16, 64, 256 * 196},     {"conv dX", 0, 1, 256 * 196, 16, 64},
    {"flow 64x10", 0, 1, 256, 64, 10},        {"flow 64x64", 0, 1, 256, 64, 64},
    {"flow 10x64", 0, 1, 256, 10, 64},        {"square", 0, 0, 1024, 1024, 1024},
};
static const struct shape_ quick_shapes_[] = {
    {"small NT", 0, 1, 64, 96, 80}, {"small TN", 1, 0, 96, 64, 48}};

/* Seconds per call over `inner` back-to-back calls and one clFinish: small
 * GEMMs run that way inside a training step (the queue stays asynchronous). */
static glf_status time_gemm_(glf_ctx *ctx, const struct shape_ *s, int inner, cl_mem A, cl_mem B,
                             cl_mem C, double *sec)
{
    double t0 = glf_now();
    for (int i = 0; i < inner; i++)
        GLF_TRY(glf_gemm(ctx, s->ta ? GLF_TRANS : GLF_NO_TRANS, s->tb ? GLF_TRANS : GLF_NO_TRANS,
                         (size_t)s->M, (size_t)s->N, (size_t)s->K, 1.0f, A, 0,
                         (size_t)(s->ta ? s->M : s->K), B, 0, (size_t)(s->tb ? s->K : s->N), 0.0f,
                         C, 0, (size_t)s->N));
    GLF_TRY(glf_finish(ctx));
    *sec = (glf_now() - t0) / inner;
    return GLF_OK;
}

/* The slower backend's GFLOP/s on a 128^3 product (after a warm-up call
 * each), and glf's: whether the device is slow (GLF_BENCH_SLOW_GFLOPS). */
static glf_status probe_rate_(glf_ctx *ctx, double *slowest, double *glf_rate)
{
    const struct shape_ p = {"probe", 0, 0, 128, 128, 128};
    const size_t n = 128 * 128;
    cl_mem A = NULL, B = NULL, C = NULL;
    glf_status s = glf_buf_create(ctx, n * 4, &A);
    if (!s)
        s = glf_buf_create(ctx, n * 4, &B);
    if (!s)
        s = glf_buf_create(ctx, n * 4, &C);
    if (!s)
        s = glf_buf_fill_f32(ctx, A, 0, n, 0.25f);
    if (!s)
        s = glf_buf_fill_f32(ctx, B, 0, n, 0.5f);
    glf_gemm_backend was = strcmp(glf_gemm_backend_name(ctx), "glf") ? GLF_GEMM_CLBLAST
                                                                     : GLF_GEMM_GLF;
    double rate[2] = {0, 0};
    for (int v = 0; v < 2 && !s; v++) {
        double sec = 0;
        s = glf_gemm_set_backend(ctx, v ? GLF_GEMM_GLF : GLF_GEMM_CLBLAST);
        if (!s)
            s = time_gemm_(ctx, &p, 1, A, B, C, &sec); /* builds */
        if (!s)
            s = time_gemm_(ctx, &p, 1, A, B, C, &sec);
        rate[v] = 2.0 * 128 * 128 * 128 / sec * 1e-9;
    }
    glf_status s2 = glf_gemm_set_backend(ctx, was);
    glf_buf_release(A), glf_buf_release(B), glf_buf_release(C);
    *slowest = fmin(rate[0], rate[1]);
    *glf_rate = rate[1];
    return s ? s : s2;
}

/* variant 0: CLBlast as set up now; 1: glf's kernels. The first pass
 * fills r->gemm (scaled down on a slow device: the largest dimension
 * halved until a call at the probe's rate takes GLF_BENCH_CALL_S); the
 * tuned pass times the same shapes. */
static glf_status gemm_rows_(glf_ctx *ctx, const glf_bench_opts *o, glf_bench_result *r,
                             int tuned_pass)
{
    const struct shape_ *base = o->quick ? quick_shapes_ : shapes_;
    int ns = o->quick ? (int)(sizeof quick_shapes_ / sizeof quick_shapes_[0])
                      : (int)(sizeof shapes_ / sizeof shapes_[0]);
    struct shape_ sh[GLF_BENCH_MAX_GEMM];
    for (int i = 0; i < ns; i++) {
        sh[i] = base[i];
        if (tuned_pass) { /* as the first pass timed them */
            sh[i].M = r->gemm[i].M, sh[i].N = r->gemm[i].N, sh[i].K = r->gemm[i].K;
            continue;
        }
        while (r->scaled && 2.0 * (double)sh[i].M * (double)sh[i].N * (double)sh[i].K >
                                GLF_BENCH_CALL_S * r->probe_gflops * 1e9) {
            long *d = sh[i].M >= sh[i].N && sh[i].M >= sh[i].K ? &sh[i].M
                      : sh[i].N >= sh[i].K                       ? &sh[i].N
                                                                 : &sh[i].K;
            if (*d < 16)
                break;
            *d = (*d + 1) / 2;
        }
    }
    size_t big = 0;
    for (int i = 0; i < ns; i++) {
        size_t a = (size_t)(sh[i].M * sh[i].K), b = (size_t)(sh[i].K * sh[i].N),
               c = (size_t)(sh[i].M * sh[i].N);
        big = a > big ? a : big, big = b > big ? b : big, big = c > big ? c : big;
    }
    cl_mem A = NULL, B = NULL, C = NULL;
    glf_status s = glf_buf_create(ctx, big * 4, &A);
    if (!s)
        s = glf_buf_create(ctx, big * 4, &B);
    if (!s)
        s = glf_buf_create(ctx, big * 4, &C);
    if (!s)
        s = glf_buf_fill_f32(ctx, A, 0, big, 0.25f);
    if (!s)
        s = glf_buf_fill_f32(ctx, B, 0, big, 0.5f);
    glf_gemm_backend was = strcmp(glf_gemm_backend_name(ctx), "glf") ? GLF_GEMM_CLBLAST
                                                                     : GLF_GEMM_GLF;
    int reps = o->reps < 1 ? 1 : o->reps;
    double *t = malloc(2 * (size_t)reps * sizeof *t);
    if (!t && !s)
        s = glf_fail(GLF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < ns && !s; i++) {
        glf_bench_gemm *g = &r->gemm[i];
        const struct shape_ *x = &sh[i];
        double flop = 2.0 * (double)x->M * (double)x->N * (double)x->K;
        int inner = flop < 50e6 ? (int)fmin(100, fmax(1, 50e6 / flop)) : 1;
        say_(o, tuned_pass ? "bench: GEMM %s, CLBlast tuned" : "bench: GEMM %s", x->what);
        if (!tuned_pass) {
            snprintf(g->what, sizeof g->what, "%s", x->what);
            g->ta = x->ta, g->tb = x->tb, g->M = x->M, g->N = x->N, g->K = x->K;
            g->M0 = base[i].M, g->N0 = base[i].N, g->K0 = base[i].K;
            g->clblast_tuned = -1;
        }
        int nv = tuned_pass ? 1 : 2;
        for (int v = 0; v < nv && !s; v++) { /* warm-up: builds */
            double sec;
            s = glf_gemm_set_backend(ctx, v ? GLF_GEMM_GLF : GLF_GEMM_CLBLAST);
            if (!s)
                s = time_gemm_(ctx, x, 1, A, B, C, &sec);
        }
        for (int rep = 0; rep < reps && !s; rep++) /* alternated call by call */
            for (int v = 0; v < nv && !s; v++) {
                s = glf_gemm_set_backend(ctx, v ? GLF_GEMM_GLF : GLF_GEMM_CLBLAST);
                if (!s)
                    s = time_gemm_(ctx, x, inner, A, B, C, &t[v * reps + rep]);
            }
        if (s)
            break;
        double cb = flop / glf_median(t, reps) * 1e-9;
        if (tuned_pass)
            g->clblast_tuned = cb;
        else {
            g->clblast_default = cb;
            g->glf = flop / glf_median(t + reps, reps) * 1e-9;
        }
    }
    r->ngemm = ns;
    glf_status s2 = glf_gemm_set_backend(ctx, was);
    free(t);
    glf_buf_release(A), glf_buf_release(B), glf_buf_release(C);
    return s ? s : s2;
}

/* ---- the training step ----------------------------------------------------- */

static glf_status train_rows_(glf_ctx *ctx, const glf_bench_opts *o, glf_bench_result *r)
{
    int B = o->quick || r->scaled ? 16 : o->batch;
    r->batch_asked = o->quick ? 16 : o->batch;
    glf_step_work w;
    glf_status s = glf_step_work_make(ctx, B, &w);
    glf_net *net = w.net;
    int warm = o->quick || r->scaled ? 1 : 2;
    int steps = o->quick ? 1 : r->scaled ? 2 : (o->steps < 1 ? 1 : o->steps);
    say_(o, "bench: training step%s", "");
    for (int i = 0; i < warm && !s; i++)
        s = glf_step_work_run(&w);
    double t0 = glf_now();
    for (int i = 0; i < steps && !s; i++)
        s = glf_step_work_run(&w);
    double dt = (glf_now() - t0) / steps;
    r->batch = B;
    r->step_ms = dt * 1e3;
    r->images_per_s = B / dt;

    /* The ops: profiled steps, device time per (op, direction), averaged. */
    glf_net_cost cost[GLF_BENCH_MAX_OPS];
    int ncost = net ? glf_net_costs(net, B, cost, GLF_BENCH_MAX_OPS) : 0;
    if (ncost > GLF_BENCH_MAX_OPS)
        ncost = GLF_BENCH_MAX_OPS;
    r->step_flop = 0;
    r->nops = 0;
    for (int i = 0; i < ncost; i++) {
        glf_bench_op *op = &r->ops[r->nops++];
        memset(op, 0, sizeof *op);
        memcpy(op->op, cost[i].op, sizeof op->op); /* both char[32], terminated */
        op->op[sizeof op->op - 1] = 0;
        op->flop = cost[i].flop_fwd + cost[i].flop_bwd;
        op->bytes = cost[i].bytes_fwd + cost[i].bytes_bwd;
        r->step_flop += op->flop;
    }
    int prof = o->quick || r->scaled ? 1 : 2;
    r->kernel_ms = 0;
    say_(o, "bench: profiled steps (per-op times)%s", "");
    for (int p = 0; p < prof && !s; p++) {
        glf_profile_entry *e = NULL;
        int ne = 0;
        s = glf_profile_start(ctx);
        if (!s)
            s = glf_step_work_run(&w);
        glf_status s2 = glf_profile_stop(ctx, &e, &ne);
        s = s ? s : s2;
        for (int i = 0; i < ne && !s; i++) {
            const char *name = e[i].op[0] ? e[i].op : "other";
            int j = 0;
            while (j < r->nops && strcmp(r->ops[j].op, name))
                j++;
            if (j == r->nops) {
                if (r->nops == GLF_BENCH_MAX_OPS)
                    continue;
                memset(&r->ops[j], 0, sizeof r->ops[j]);
                snprintf(r->ops[j].op, sizeof r->ops[j].op, "%s", name);
                r->nops++;
            }
            double ms = e[i].ms / prof;
            if (e[i].backward)
                r->ops[j].bwd_ms += ms;
            else
                r->ops[j].fwd_ms += ms;
            r->kernel_ms += ms;
        }
        free(e);
    }
    glf_step_work_free(&w);
    return s;
}

/* ---- everything ------------------------------------------------------------- */

glf_status glf_bench_run(glf_ctx *ctx, const glf_bench_opts *o, glf_bench_result *r)
{
    memset(r, 0, sizeof *r);
    glf_ctx_describe(ctx, r->device, sizeof r->device);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r->date, sizeof r->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* What glf runs with on this device, and whether that is the stored
     * tuning (a stored tile set that failed validation is not in use). */
    glf_gemm_params gp = glf_gemm_get_params(ctx), sp;
    int use[2], su[2], gt = 0, ct = 0;
    glf_conv_im2col_policy(ctx, use);
    if (glf_gemm_tuned(ctx, &sp, &gt) != GLF_OK)
        glf_clear_error(), gt = 0;
    if (glf_conv_tuned(ctx, su, &ct) != GLF_OK)
        glf_clear_error(), ct = 0;
    gt = gt && !memcmp(&sp, &gp, sizeof sp);
    ct = ct && su[0] == use[0] && su[1] == use[1];
    char set[96];
    glf_gemm_params_format(&gp, set, sizeof set);
    snprintf(r->glf_set, sizeof r->glf_set, "%s (%s)", set, gt ? "tuned" : "defaults");
    snprintf(r->conv_set, sizeof r->conv_set, "taps=%s pixels=%s (%s)",
             glf_conv_im2col_word(use[0]), glf_conv_im2col_word(use[1]),
             ct ? "tuned" : "defaults");
    say_(o, "bench: FMA peak and bandwidth%s", "");
    GLF_TRY(glf_bench_peaks(ctx, o->quick, &r->peak_runs[0], &r->bandwidth_runs[0]));
    double glf_rate = 0;
    GLF_TRY(probe_rate_(ctx, &r->probe_gflops, &glf_rate));
    r->scaled = glf_rate < GLF_BENCH_SLOW_GFLOPS;
    if (r->scaled)
        say_(o, "bench: a slow device (glf's GEMM below 5 GFLOP/s): GEMM shapes scaled down, "
                "batch 16%s", "");
    GLF_TRY(gemm_rows_(ctx, o, r, 0));
    /* CLBlast with the stored tuned set: after the default pass, because
     * CLBlast cannot go back to its defaults within a process. */
    glf_clblast_params cb;
    int found = 0;
    glf_status s = glf_clblast_tuned(ctx, &cb, &found);
    if (s) { /* no cache folder, or an unreadable file: no tuned column */
        say_(o, "bench: no tuned CLBlast set: %s", glf_last_error());
        glf_clear_error();
        found = 0;
    }
    if (found) {
        if (glf_clblast_apply(ctx, &cb) == GLF_OK) {
            glf_clblast_format(&cb, r->clblast_set, sizeof r->clblast_set);
            GLF_TRY(gemm_rows_(ctx, o, r, 1));
        } else {
            say_(o, "bench: the stored CLBlast set failed validation: %s", glf_last_error());
            glf_clear_error();
        }
    }
    GLF_TRY(train_rows_(ctx, o, r));
    say_(o, "bench: FMA peak and bandwidth again%s", "");
    GLF_TRY(glf_bench_peaks(ctx, o->quick, &r->peak_runs[1], &r->bandwidth_runs[1]));
    r->peak_gflops = fmax(r->peak_runs[0], r->peak_runs[1]);
    r->bandwidth_gbs = fmax(r->bandwidth_runs[0], r->bandwidth_runs[1]);
    return GLF_OK;
}

/* ---- reports ---------------------------------------------------------------- */

static void tr_(const char *s, int ta, int tb, char *out)
{
    (void)s;
    out[0] = ta ? 'T' : 'N', out[1] = tb ? 'T' : 'N', out[2] = 0;
}

static double best_gemm_(const glf_bench_gemm *g)
{
    return fmax(g->glf, fmax(g->clblast_default, g->clblast_tuned));
}

/* "MxNxK", or "MxNxK (scaled from M0xN0xK0)". */
static void shape_text_(const glf_bench_gemm *g, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%ldx%ldx%ld", g->M, g->N, g->K);
    if ((g->M != g->M0 || g->N != g->N0 || g->K != g->K0) && k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, " (scaled from %ldx%ldx%ld)", g->M0, g->N0, g->K0);
}

static void one_(FILE *f, const glf_bench_result *r)
{
    fprintf(f, "## %s\n\n%s. FMA peak %.1f GFLOP/s, stream bandwidth %.1f GB/s: the higher "
               "of two measurements, before the rest (%.1f, %.1f) and after (%.1f, %.1f).\n\n",
            r->device, r->date, r->peak_gflops, r->bandwidth_gbs, r->peak_runs[0],
            r->bandwidth_runs[0], r->peak_runs[1], r->bandwidth_runs[1]);
    fprintf(f, "### GEMM at GLF's shapes (GFLOP/s, medians)\n\n");
    if (r->clblast_set[0])
        fprintf(f, "CLBlast tuned: %s\n\n", r->clblast_set);
    else
        fprintf(f, "CLBlast tuned: no stored set for this device (run `glf tune`).\n\n");
    fprintf(f, "glf's tile set: %s. Convolutions: %s.\n\n", r->glf_set, r->conv_set);
    fprintf(f, "| shape | op | M x N x K | CLBlast default | CLBlast tuned | glf | glf %% of peak "
               "| glf / CLBlast default |\n|---|---|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r->ngemm; i++) {
        const glf_bench_gemm *g = &r->gemm[i];
        char op[3], tuned[32];
        tr_(g->what, g->ta, g->tb, op);
        if (g->clblast_tuned >= 0)
            snprintf(tuned, sizeof tuned, "%.1f", g->clblast_tuned);
        else
            snprintf(tuned, sizeof tuned, "-");
        char shape[96];
        shape_text_(g, shape, sizeof shape);
        fprintf(f, "| %s | %s | %s | %.1f | %s | %.1f | %.0f%% | %.1f |\n", g->what, op, shape,
                g->clblast_default, tuned, g->glf, 100 * g->glf / r->peak_gflops,
                g->glf / g->clblast_default);
    }
    if (r->scaled)
        fprintf(f, "\nA slow device (glf's GEMM at %.2f GFLOP/s on a 128^3 product, below "
                   "%.0f): GEMM shapes scaled down as marked, the training step at batch %d "
                   "(not %d), 2 timed steps.\n", r->probe_gflops, GLF_BENCH_SLOW_GFLOPS,
                r->batch, r->batch_asked);
    fprintf(f, "\n### Ops of one training step (batch %d, device time, forward + backward)\n\n",
            r->batch);
    fprintf(f, "| op | fwd ms | bwd ms | %% of step | achieved | %% of peak |\n"
               "|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r->nops; i++) {
        const glf_bench_op *op = &r->ops[i];
        double ms = op->fwd_ms + op->bwd_ms;
        char ach[48] = "-", pct[16] = "-";
        if (op->flop > 0 && ms > 0) {
            double gf = op->flop / (ms * 1e-3) * 1e-9;
            snprintf(ach, sizeof ach, "%.1f GFLOP/s", gf);
            snprintf(pct, sizeof pct, "%.0f%%", 100 * gf / r->peak_gflops);
        } else if (op->bytes > 0 && ms > 0) {
            double gb = op->bytes / (ms * 1e-3) * 1e-9;
            snprintf(ach, sizeof ach, "%.1f GB/s", gb);
            snprintf(pct, sizeof pct, "%.0f%%", 100 * gb / r->bandwidth_gbs);
        }
        fprintf(f, "| %s | %.2f | %.2f | %.1f | %s | %s |\n", op->op, op->fwd_ms, op->bwd_ms,
                r->kernel_ms > 0 ? 100 * ms / r->kernel_ms : 0.0, ach, pct);
    }
    double gf = r->step_flop / (r->step_ms * 1e-3) * 1e-9;
    fprintf(f, "\nKernels of the profiled step: %.1f ms. %% of peak: GFLOP/s against the FMA "
               "peak, GB/s (minimum traffic) against the bandwidth.\n\n",
            r->kernel_ms);
    fprintf(f, "### Training step\n\n| batch | ms/step | images/s | GFLOP/step | GFLOP/s | %% of "
               "peak |\n|---:|---:|---:|---:|---:|---:|\n| %d | %.1f | %.1f | %.2f | %.1f | "
               "%.0f%% |\n",
            r->batch, r->step_ms, r->images_per_s, r->step_flop * 1e-9, gf,
            100 * gf / r->peak_gflops);
}

void glf_bench_markdown(FILE *f, const glf_bench_result *r, int n)
{
    if (n == 1) {
        one_(f, r);
        return;
    }
    fprintf(f, "| | ");
    for (int d = 0; d < n; d++)
        fprintf(f, "%s | ", r[d].device);
    fprintf(f, "\n|---|");
    for (int d = 0; d < n; d++)
        fprintf(f, "---:|");
    fprintf(f, "\n| FMA peak, GFLOP/s |");
    for (int d = 0; d < n; d++)
        fprintf(f, " %.1f |", r[d].peak_gflops);
    fprintf(f, "\n| bandwidth, GB/s |");
    for (int d = 0; d < n; d++)
        fprintf(f, " %.1f |", r[d].bandwidth_gbs);
    /* GEMM rows: the best backend's GFLOP/s (% of that device's peak). */
    for (int i = 0; i < r[0].ngemm; i++) {
        fprintf(f, "\n| GEMM %s, best GFLOP/s (%% of peak) |", r[0].gemm[i].what);
        for (int d = 0; d < n; d++) {
            double b = i < r[d].ngemm ? best_gemm_(&r[d].gemm[i]) : 0;
            const char *who = i >= r[d].ngemm                       ? "-"
                              : b == r[d].gemm[i].glf               ? "glf"
                              : b == r[d].gemm[i].clblast_tuned     ? "CLBlast tuned"
                                                                    : "CLBlast";
            const glf_bench_gemm *g = &r[d].gemm[i];
            int sc = i < r[d].ngemm && (g->M != g->M0 || g->N != g->N0 || g->K != g->K0);
            fprintf(f, " %.1f (%.0f%%, %s)%s |", b, 100 * b / r[d].peak_gflops, who,
                    sc ? " scaled*" : "");
        }
    }
    fprintf(f, "\n| glf's tile set |");
    for (int d = 0; d < n; d++)
        fprintf(f, " %s |", r[d].glf_set);
    fprintf(f, "\n| convolutions |");
    for (int d = 0; d < n; d++)
        fprintf(f, " %s |", r[d].conv_set);
    fprintf(f, "\n| training step, images/s (batch) |");
    for (int d = 0; d < n; d++)
        fprintf(f, " %.1f (%d%s) |", r[d].images_per_s, r[d].batch,
                r[d].batch != r[d].batch_asked ? ", scaled*" : "");
    fprintf(f, "\n| training step, %% of peak |");
    for (int d = 0; d < n; d++)
        fprintf(f, " %.0f%% |",
                100 * r[d].step_flop / (r[d].step_ms * 1e-3) * 1e-9 / r[d].peak_gflops);
    fprintf(f, "\n");
    int any = 0;
    for (int d = 0; d < n; d++)
        any |= r[d].scaled;
    if (any) {
        fprintf(f, "\n\\* scaled down for a slow device (glf's GEMM below %.0f GFLOP/s on a "
                   "128^3 product): the shapes timed there:", GLF_BENCH_SLOW_GFLOPS);
        for (int d = 0; d < n; d++) {
            if (!r[d].scaled)
                continue;
            fprintf(f, "\n- %s: batch %d;", r[d].device, r[d].batch);
            for (int i = 0; i < r[d].ngemm; i++) {
                char shape[96];
                shape_text_(&r[d].gemm[i], shape, sizeof shape);
                fprintf(f, " %s %s%s", r[d].gemm[i].what, shape, i + 1 < r[d].ngemm ? "," : "");
            }
        }
        fprintf(f, "\n");
    }
}

static void jstr_(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

glf_status glf_bench_json(const char *path, const glf_bench_result *r, int n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return glf_fail(GLF_ERR_IO, "%s: cannot create", tmp);
    fprintf(f, "[\n");
    for (int d = 0; d < n; d++) {
        const glf_bench_result *x = &r[d];
        fprintf(f, "  {\"device\": ");
        jstr_(f, x->device);
        fprintf(f, ", \"date\": ");
        jstr_(f, x->date);
        fprintf(f, ",\n   \"peak_gflops\": %.3f, \"bandwidth_gbs\": %.3f, \"peak_gflops_runs\": "
                   "[%.3f, %.3f], \"bandwidth_gbs_runs\": [%.3f, %.3f], \"clblast_tuned_set\": ",
                x->peak_gflops, x->bandwidth_gbs, x->peak_runs[0], x->peak_runs[1],
                x->bandwidth_runs[0], x->bandwidth_runs[1]);
        jstr_(f, x->clblast_set);
        fprintf(f, ", \"glf_set\": ");
        jstr_(f, x->glf_set);
        fprintf(f, ", \"conv_set\": ");
        jstr_(f, x->conv_set);
        fprintf(f, ", \"scaled\": %s, \"probe_gflops\": %.4f, \"batch_asked\": %d",
                x->scaled ? "true" : "false", x->probe_gflops, x->batch_asked);
        fprintf(f, ",\n   \"gemm\": [");
        for (int i = 0; i < x->ngemm; i++) {
            const glf_bench_gemm *g = &x->gemm[i];
            fprintf(f, "%s\n    {\"shape\": ", i ? "," : "");
            jstr_(f, g->what);
            fprintf(f, ", \"ta\": %d, \"tb\": %d, \"M\": %ld, \"N\": %ld, \"K\": %ld, "
                       "\"glf_shape\": [%ld, %ld, %ld], "
                       "\"clblast_default_gflops\": %.3f, \"clblast_tuned_gflops\": ",
                    g->ta, g->tb, g->M, g->N, g->K, g->M0, g->N0, g->K0, g->clblast_default);
            if (g->clblast_tuned >= 0)
                fprintf(f, "%.3f", g->clblast_tuned);
            else
                fprintf(f, "null");
            fprintf(f, ", \"glf_gflops\": %.3f, \"glf_pct_of_peak\": %.2f}", g->glf,
                    100 * g->glf / x->peak_gflops);
        }
        fprintf(f, "],\n   \"ops\": [");
        for (int i = 0; i < x->nops; i++) {
            const glf_bench_op *op = &x->ops[i];
            double ms = op->fwd_ms + op->bwd_ms;
            double pct = op->flop > 0 && ms > 0
                             ? 100 * op->flop / (ms * 1e-3) * 1e-9 / x->peak_gflops
                         : op->bytes > 0 && ms > 0
                             ? 100 * op->bytes / (ms * 1e-3) * 1e-9 / x->bandwidth_gbs
                             : 0;
            fprintf(f, "%s\n    {\"op\": ", i ? "," : "");
            jstr_(f, op->op);
            fprintf(f, ", \"fwd_ms\": %.4f, \"bwd_ms\": %.4f, \"flop\": %.6g, \"bytes\": %.6g, "
                       "\"pct_of_peak\": %.2f}",
                    op->fwd_ms, op->bwd_ms, op->flop, op->bytes, pct);
        }
        double gf = x->step_flop / (x->step_ms * 1e-3) * 1e-9;
        fprintf(f, "],\n   \"kernel_ms\": %.3f,\n   \"step\": {\"batch\": %d, \"ms\": %.3f, "
                   "\"images_per_s\": %.3f, \"flop\": %.6g, \"gflops\": %.3f, "
                   "\"pct_of_peak\": %.2f}}%s\n",
                x->kernel_ms, x->batch, x->step_ms, x->images_per_s, x->step_flop, gf,
                100 * gf / x->peak_gflops, d + 1 < n ? "," : "");
    }
    fprintf(f, "]\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return glf_fail(GLF_ERR_IO, "%s: cannot write", path);
    }
    return GLF_OK;
}
