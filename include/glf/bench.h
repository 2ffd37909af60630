/* `glf bench`: how fast a device runs GLF, as figures and as a share of
 * the device's own measured peak. Per device: (1) FMA throughput and memory
 * bandwidth from microbenchmarks; (2) GEMM at GLF's shapes through CLBlast
 * with its default parameters, CLBlast with the parameters `glf tune`
 * stored for the device, and glf's own kernels; (3) each op's forward and
 * backward time inside one training step (OpenCL profiling events, op
 * scopes of glf_net) with FLOP/s or bytes/s from the net's cost model;
 * (4) the full training step in images/s. */
#ifndef GLF_BENCH_H
#define GLF_BENCH_H

#include <stdio.h>

#include "glf/gemm.h"
#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*glf_bench_progress_fn)(void *user, const char *line);

typedef struct glf_bench_opts {
    int batch;       /* training-step batch (256) */
    int steps;       /* timed training steps (5), after 2 warm-up steps */
    int reps;        /* timed repetitions per GEMM (5; medians) */
    int quick;       /* small shapes, batch 16, one step: for tests */
    glf_bench_progress_fn progress; /* a line per phase, or NULL */
    void *user;
} glf_bench_opts;

glf_bench_opts glf_bench_defaults(void);

#define GLF_BENCH_SLOW_GFLOPS 5.0
#define GLF_BENCH_CALL_S 0.05

#define GLF_BENCH_MAX_GEMM 16
#define GLF_BENCH_MAX_OPS 24

typedef struct glf_bench_gemm {
    char what[24];
    int ta, tb;
    long M, N, K;    /* the shape timed */
    long M0, N0, K0; /* GLF's shape: differs from M, N, K when scaled down */
    /* GFLOP/s, medians; clblast_tuned < 0 when the device has no stored set */
    double clblast_default, clblast_tuned, glf;
} glf_bench_gemm;

typedef struct glf_bench_op {
    char op[32];
    double fwd_ms, bwd_ms; /* device time within one step */
    double flop, bytes;    /* the cost model's work for fwd + bwd (0: not modelled) */
} glf_bench_op;

typedef struct glf_bench_result {
    char device[512];
    char date[32];         /* UTC, ISO 8601 */
    double peak_gflops;    /* FMA throughput: the higher of the two runs below */
    double bandwidth_gbs;  /* stream copy, read + write: the higher of the two */
    /* The microbenchmarks run before and after everything else ([0], [1]):
     * on a shared machine the device's speed drifts, and one reading taken
     * in a slow moment would put later figures above 100% of "the peak". */
    double peak_runs[2], bandwidth_runs[2];
    char clblast_set[256]; /* the tuned CLBlast set used, "" if none */
    char glf_set[128];     /* glf's tile set in use, "rm=.. ly=.. (tuned|defaults)" */
    char conv_set[96];     /* the convolution variants in use, "taps=.. pixels=.. (tuned|defaults)" */
    glf_bench_gemm gemm[GLF_BENCH_MAX_GEMM];
    int ngemm;
    glf_bench_op ops[GLF_BENCH_MAX_OPS];
    int nops;
    double kernel_ms;      /* all kernels of the profiled step */
    /* A slow device (glf's GEMM below GLF_BENCH_SLOW_GFLOPS on a 128^3
     * product, e.g. Mesa's llvmpipe) gets GEMM shapes scaled down until a
     * call takes about GLF_BENCH_CALL_S seconds, and the training step batch
     * 16 and fewer steps; the report marks both. */
    int scaled;
    double probe_gflops;   /* the slower backend's rate on that product */
    int batch, batch_asked;
    double step_ms, images_per_s;
    double step_flop;      /* the cost model's FLOPs of one step */
} glf_bench_result;

/* The microbenchmarks alone: FMA GFLOP/s and streaming GB/s of ctx's device
 * (quick: shorter runs, smaller buffers). */
glf_status glf_bench_peaks(glf_ctx *ctx, int quick, double *gflops, double *gbs);


/* Runs everything above on ctx. Leaves CLBlast on ctx's device with the
 * stored tuned set applied, if there is one (glf_clblast_apply). */
glf_status glf_bench_run(glf_ctx *ctx, const glf_bench_opts *o, glf_bench_result *r);

/* Markdown: with n == 1 a report of one device (peaks, GEMM table, op
 * table, training step); with n > 1 one table with a column per device. */
void glf_bench_markdown(FILE *f, const glf_bench_result *r, int n);
/* JSON: an array with one object per device. */
glf_status glf_bench_json(const char *path, const glf_bench_result *r, int n);

#ifdef __cplusplus
}
#endif
#endif
