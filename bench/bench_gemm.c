/* GEMM benchmark: GFLOP/s of CLBlast (default parameters) vs glf's own
 * kernels at GLF's layer shapes, alternated call by call in one run, medians,
 * and the device's FMA peak from a kernel of independent FMAs; a markdown
 * table on stdout.
 * usage: bench_gemm [--reps N] [--params SET] [--only glf|clblast]
 *                   [--vs SET]... [--shape TA,TB,M,N,K] [--no-peak]
 *                   [--device SPEC]
 * SET: a tile set as glf tune writes it ("rm=8 vw=16 nv=2 lx=1 ly=16", "simt
 * rm=32 vw=4 nv=8 lx=8 ly=8 tk=16") or, for the CPU family, rm,vw,nv,lx,ly.
 * --params replaces the context's default set; --vs adds columns for other
 * sets, alternated with the rest.
 * GEMMs under 50 MFLOP are timed as a stream of calls with one clFinish. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/bench.h"
#include "glf/gemm.h"
#include "glf/rng.h"
#include "glf/util.h"

/* A tile set from its text form or CPU-family "rm,vw,nv,lx,ly". */
static int parse_set_(const char *text, glf_gemm_params *q)
{
    glf_gemm_params p = glf_gemm_default_params();
    if (sscanf(text, "%d,%d,%d,%d,%d", &p.rm, &p.vw, &p.nv, &p.lx, &p.ly) == 5) {
        *q = p;
        return 1;
    }
    if (glf_gemm_params_parse(text, q) == GLF_OK)
        return 1;
    fprintf(stderr, "bench_gemm: %s\n", glf_last_error());
    return 0;
}

struct shape_ {
    const char *what;
    int ta, tb;
    size_t M, N, K;
};

/* GLF at batch 256 (see glf-method.md): forward X W^T (NT), weight
 * gradients dY^T X (TN), input gradients dY W (NN), im2col convolutions,
 * the flow's small layers. */
static const struct shape_ shapes_[] = {
    {"enc fc fwd", 0, 1, 256, 1024, 6272},
    {"dec fc fwd", 0, 1, 256, 6272, 1024},
    {"latent fwd", 0, 1, 256, 20, 1024},
    {"enc fc dW", 1, 0, 1024, 6272, 256},
    {"dec fc dX", 0, 0, 256, 6272, 1024},
    {"conv im2col", 0, 0, 256 * 196, 64, 16},
    {"conv dW", 1, 0, 16, 64, 256 * 196},
    {"conv dX", 0, 1, 256 * 196, 16, 64},
    {"flow 64x10", 0, 1, 256, 64, 10},
    {"flow 64x64", 0, 1, 256, 64, 64},
    {"flow 10x64", 0, 1, 256, 10, 64},
    {"square", 0, 0, 1024, 1024, 1024},
};

static int cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die_(const char *what, glf_status s)
{
    fprintf(stderr, "bench_gemm: %s: %s: %s\n", what, glf_status_str(s), glf_last_error());
    exit(1);
}

static void note_(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "%s\n", line);
}

#define MAXV_ 6 /* variants: CLBlast, glf, up to 4 --vs sets */

/* Seconds per call over `inner` back-to-back calls and one clFinish: small
 * GEMMs run that way inside a training step (the queue stays asynchronous),
 * so a per-call clFinish would mostly measure the driver's round trip. */
static double time_one_(glf_ctx *ctx, int v, const glf_gemm_params *prm, const struct shape_ *s,
                        int inner, cl_mem dA, cl_mem dB, cl_mem dC)
{
    glf_status st = v == 0 ? glf_gemm_set_backend(ctx, GLF_GEMM_CLBLAST)
                           : glf_gemm_set_params(ctx, &prm[v]);
    if (!st && v > 0)
        st = glf_gemm_set_backend(ctx, GLF_GEMM_GLF);
    if (st)
        die_("set backend", st);
    double t0 = glf_now();
    for (int i = 0; i < inner && !st; i++)
        st = glf_gemm(ctx, s->ta ? GLF_TRANS : GLF_NO_TRANS, s->tb ? GLF_TRANS : GLF_NO_TRANS,
                      s->M, s->N, s->K, 1.0f, dA, 0, s->ta ? s->M : s->K, dB, 0,
                      s->tb ? s->K : s->N, 0.0f, dC, 0, s->N);
    if (!st)
        st = glf_finish(ctx);
    if (st)
        die_("gemm", st);
    return (glf_now() - t0) / inner;
}

int main(int argc, char **argv)
{
    int reps = 5, only = -1, peak = 1;
    const char *spec = NULL;
    struct shape_ custom = {"custom", 0, 0, 0, 0, 0};
    glf_gemm_params prm[MAXV_];
    int nv = 2, given = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--params") && i + 1 < argc) {
            if (!parse_set_(argv[++i], &prm[1]))
                return 2;
            given = 1;
        } else if (!strcmp(argv[i], "--vs") && i + 1 < argc && nv < MAXV_) {
            if (!parse_set_(argv[++i], &prm[nv++]))
                return 2;
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            i++;
            only = !strcmp(argv[i], "glf") ? GLF_GEMM_GLF : GLF_GEMM_CLBLAST;
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d,%zu,%zu,%zu", &custom.ta, &custom.tb, &custom.M,
                       &custom.N, &custom.K) != 5) {
                fprintf(stderr, "bench_gemm: --shape expects TA,TB,M,N,K\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--no-peak"))
            peak = 0;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc)
            spec = argv[++i];
        else {
            fprintf(stderr, "usage: bench_gemm [--reps N] [--params SET] "
                            "[--only glf|clblast] [--vs SET]... "
                            "[--shape TA,TB,M,N,K] [--no-peak] "
                            "[--device SPEC]\n");
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    glf_ctx *ctx;
    glf_status s = glf_ctx_create(spec, &ctx);
    if (s)
        die_("context", s);
    if (!given)
        prm[1] = glf_gemm_default_params_for(glf_ctx_family(ctx));
    glf_gemm_set_note(ctx, note_, NULL);
    char line[1024];
    glf_ctx_describe(ctx, line, sizeof line);
    for (int v = 1; v < nv; v++) /* validates each set once */
        if ((s = glf_gemm_set_params(ctx, &prm[v])))
            die_("params", s);
    printf("device: %s\n%d timed reps per variant, alternated, medians\n", line, reps);
    for (int v = 1; v < nv; v++) {
        glf_gemm_params_format(&prm[v], line, sizeof line);
        printf("glf%s: %s\n", v == 1 ? "" : " vs", line);
    }
    printf("\n");
    double pk = 0, bw = 0;
    glf_status ps = peak ? glf_bench_peaks(ctx, 0, &pk, &bw) : GLF_OK;
    if (ps)
        die_("peaks", ps);
    if (peak)
        printf("FMA peak (independent float16 FMAs, glf_bench_peaks): %.1f GFLOP/s\n\n", pk);
    printf("| shape | op | M x N x K | CLBlast GFLOP/s | glf GFLOP/s |");
    for (int v = 2; v < nv; v++) {
        char set[128];
        glf_gemm_params_format(&prm[v], set, sizeof set);
        printf(" glf %s |", set);
    }
    printf(" glf/CLBlast |%s\n|---|---|---|---:|---:|", peak ? " glf % of peak |" : "");
    for (int v = 2; v < nv; v++)
        printf("---:|");
    printf("---:|%s\n", peak ? "---:|" : "");
    size_t nshapes = custom.M ? 1 : sizeof shapes_ / sizeof shapes_[0];
    for (size_t si = 0; si < nshapes; si++) {
        const struct shape_ *sh = custom.M ? &custom : &shapes_[si];
        size_t na = sh->M * sh->K, nb = sh->K * sh->N, nc = sh->M * sh->N;
        float *h = malloc((na > nb ? na : nb) * sizeof *h);
        glf_rng r;
        glf_rng_init(&r, 7, si);
        for (size_t i = 0; i < (na > nb ? na : nb); i++)
            h[i] = glf_rng_uniform(&r) - 0.5f;
        cl_mem dA, dB, dC;
        if ((s = glf_buf_create(ctx, na * 4, &dA)) || (s = glf_buf_create(ctx, nb * 4, &dB)) ||
            (s = glf_buf_create(ctx, nc * 4, &dC)) || (s = glf_buf_write(ctx, dA, 0, na * 4, h)) ||
            (s = glf_buf_write(ctx, dB, 0, nb * 4, h)))
            die_("buffers", s);
        double t[MAXV_][64];
        int use[MAXV_];
        for (int v = 0; v < nv; v++)
            use[v] = only < 0 || (only == GLF_GEMM_CLBLAST) == (v == 0);
        double flop = 2.0 * (double)sh->M * (double)sh->N * (double)sh->K, gf[MAXV_];
        int inner = flop >= 5e7 ? 1 : flop <= 5e7 / 32 ? 32 : (int)(5e7 / flop);
        for (int v = 0; v < nv; v++) /* warm-up: compiles, first launches */
            if (use[v])
                time_one_(ctx, v, prm, sh, 1, dA, dB, dC);
        int n = reps < 64 ? reps : 64;
        for (int rep = 0; rep < n; rep++)
            for (int v = 0; v < nv; v++)
                t[v][rep] = use[v] ? time_one_(ctx, v, prm, sh, inner, dA, dB, dC) : NAN;
        for (int v = 0; v < nv; v++) {
            qsort(t[v], (size_t)n, sizeof(double), cmp_);
            gf[v] = flop / t[v][n / 2] * 1e-9;
        }
        printf("| %s | %c%c | %zux%zux%zu |", sh->what, sh->ta ? 'T' : 'N', sh->tb ? 'T' : 'N',
               sh->M, sh->N, sh->K);
        for (int v = 0; v < nv; v++)
            printf(" %.1f |", gf[v]);
        printf(" %.2f |", gf[1] / gf[0]);
        if (peak)
            printf(" %.0f%% |", 100.0 * gf[1] / pk);
        printf("\n");
        fflush(stdout);
        free(h);
        glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
    }
    glf_ctx_destroy(ctx);
    return 0;
}
