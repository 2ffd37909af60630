/* Private interface of the GEMM layer: per-context state (gemm.c) shared
 * with glf's own kernels and their validation (gemm_glf.c). */
#ifndef GLF_GEMM_INTERNAL_H
#define GLF_GEMM_INTERNAL_H

#include "glf/gemm.h"
#include "internal.h"

struct glf_gemm_state_ {
    glf_gemm_backend backend;
    int checked;            /* glf's kernels validated with params on this ctx */
    int tuned;              /* params came from the stored tuning of this device */
    int no_narrow;          /* a narrower tile set failed validation: never again */
    glf_gemm_params params;
    int im2col_use[2];      /* glf_gemm_im2col_policy */
    glf_gemm_params passed[16]; /* parameter sets validated on this ctx */
    int npassed;
    glf_gemm_note_fn note;
    void *note_user;
    cl_mem scratch;         /* packed panels of op(A) and op(B) */
    int clblast_ok;         /* clblast_passed holds the last CLBlast set that passed */
    glf_clblast_params clblast_passed;
    size_t scratch_floats;
};

/* C = alpha*op(A)*op(B) + beta*C with glf's kernels and parameters p;
 * arguments checked (GLF_ERR_INVALID_ARG names the one at fault). op(A) is
 * A, or the column panels pa (then A unused); op(B) is B, or the implicit
 * im2col ib, or the column panels pb (then B unused); C is C or the column
 * panels pc. */
glf_status glf_gemm_own_(glf_ctx *ctx, struct glf_gemm_state_ *st, const glf_gemm_params *p,
                         glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K,
                         float alpha, cl_mem A, size_t offA, size_t lda, cl_mem B,
                         size_t offB, size_t ldb, float beta, cl_mem C, size_t offC,
                         size_t ldc, const glf_gemm_epilogue *ep, const glf_gemm_im2col *ib,
                         const glf_gemm_panels *pa, const glf_gemm_panels *pb,
                         const glf_gemm_panels *pc);

/* The same through CLBlast (statuses translated). */
glf_status glf_gemm_clblast_(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N,
                             size_t K, float alpha, cl_mem A, size_t offA, size_t lda, cl_mem B,
                             size_t offB, size_t ldb, float beta, cl_mem C, size_t offC,
                             size_t ldc);

/* One validation case against the double reference (gemm_glf.c); p NULL
 * checks CLBlast as it is set up now. panels != 0: B is passed as column
 * panels (glf_gemm_panels) that many floats wide (p only); apanels != 0:
 * A too (untransposed); cpanels != 0: C too; epi bit 2: the bias by row. */
glf_status glf_gemm_validate_case_(glf_ctx *ctx, struct glf_gemm_state_ *st,
                                   const glf_gemm_params *p, int ta, int tb, size_t M, size_t N,
                                   size_t K, float alpha, float beta, int epi, size_t panels,
                                   size_t apanels, size_t cpanels);

/* <cache>/gemm-tune-<hash of device, driver, platform><suffix>.txt */
glf_status glf_gemm_tune_path_(glf_ctx *ctx, const char *suffix, char *buf, size_t n);
/* Write a tuned set there (temp file + rename): magic, a device line, the
 * set's line, its score. */
glf_status glf_gemm_tune_store_(glf_ctx *ctx, const char *suffix, const char *magic,
                                const char *set, double score);

/* The state of ctx, made on first use (backend from GLF_GEMM). */
glf_status glf_gemm_state_(glf_ctx *ctx, struct glf_gemm_state_ **out);

/* The prefetch distance of gemm_main on ctx's device (GLF_GEMM_PREFETCH,
 * checked: a value other than off or 0..256 is an error). */
glf_status glf_gemm_prefetch_(glf_ctx *ctx, int *pf);

/* Build options for p on ctx's device, e.g. "-DGEMM_RM=8 -DGEMM_VW=16
 * -DGEMM_NV=2 -DGEMM_PF=16 -DGLF_NT=1" (the prefetch distance:
 * GLF_GEMM_PREFETCH; non-temporal stores allowed: glf_nt_stores). */
glf_status glf_gemm_options_(glf_ctx *ctx, const glf_gemm_params *p, char *buf, size_t n);

#endif
