/* Private interface of the GEMM component: per-context state (gemm.c),
 * glf's own kernels (gemm_glf.c), CLBlast (gemm_clblast.c) and the
 * validation that gates both (gemm_validate.c). */
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
    glf_gemm_params passed[16]; /* parameter sets validated on this ctx */
    int npassed;
    glf_gemm_note_fn note;
    void *note_user;
    cl_mem scratch;         /* packed panels of op(A) and op(B) */
    int clblast_ok;         /* clblast_passed holds the last CLBlast set that passed */
    glf_clblast_params clblast_passed;
    size_t scratch_floats;
};

/* C = alpha*op(A)*op(B) + beta*C with glf's kernels and parameters p (of
 * either family); operands and epilogue checked (GLF_ERR_INVALID_ARG names
 * the one at fault). */
glf_status glf_gemm_own_(glf_ctx *ctx, struct glf_gemm_state_ *st, const glf_gemm_params *p,
                         size_t M, size_t N, size_t K, float alpha, const glf_gemm_operand *A,
                         const glf_gemm_operand *B, float beta, const glf_gemm_operand *C,
                         const glf_gemm_epilogue *ep);

/* The same through CLBlast (plain operands only; statuses translated; no
 * epilogue: gemm.c adds it). */
glf_status glf_gemm_clblast_(glf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                             const glf_gemm_operand *A, const glf_gemm_operand *B, float beta,
                             const glf_gemm_operand *C);

/* One validation case against the double reference (gemm_validate.c); p
 * NULL checks CLBlast as it is set up now. panels != 0: B is passed as
 * column panels that many floats wide (p only); apanels != 0: A too
 * (untransposed); cpanels != 0: C too; epi bit 0: a bias, bit 1: ReLU,
 * bit 2: the bias by row. */
glf_status glf_gemm_validate_case_(glf_ctx *ctx, struct glf_gemm_state_ *st,
                                   const glf_gemm_params *p, int ta, int tb, size_t M, size_t N,
                                   size_t K, float alpha, float beta, int epi, size_t panels,
                                   size_t apanels, size_t cpanels);
/* The checks of a parameter set's ranges for its family (gemm_glf.c). */
glf_status glf_gemm_check_params_(glf_ctx *ctx, const glf_gemm_params *p);

/* The state of ctx, made on first use (backend from the options, the tile
 * set from the stored tuning or the family's defaults). */
glf_status glf_gemm_state_(glf_ctx *ctx, struct glf_gemm_state_ **out);

/* The prefetch distance of gemm_main on ctx's device (the option
 * gemm_prefetch, the family and the device's probe). */
glf_status glf_gemm_prefetch_(glf_ctx *ctx, int *pf);

/* Build options for p on ctx's device, e.g. "-DGEMM_RM=8 -DGEMM_VW=16
 * -DGEMM_NV=2 -DGEMM_PF=16 -DGLF_PREFETCH_OK=1 -DGLF_NT=1" (CPU) or
 * "-DGEMM_SIMT=1 -DGEMM_RM=32 ... -DGEMM_TK=16" (SIMT). */
glf_status glf_gemm_options_(glf_ctx *ctx, const glf_gemm_params *p, char *buf, size_t n);

/* The split of K above which the validation checks split products. */
#define GLF_GEMM_SPLIT_MIN_K 1024

#endif
