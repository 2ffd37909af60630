/* Tuning: search the kernel choices of a device, validate every candidate
 * against a host reference before timing it, and store the winners in the
 * device's tuning store (one file in the cache folder, keyed by device,
 * driver and platform); contexts made later on that device start from them
 * (still validated first). Three searches: glf's GEMM tile sets (within the
 * device's kernel family, optionally the other's too), CLBlast's Xgemm
 * parameters, and the convolutions' im2col variants. Progress lines go to
 * the GEMM note callback (glf_gemm_set_note). */
#ifndef GLF_TUNE_H
#define GLF_TUNE_H

#include "glf/gemm.h"
#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A workload for the second stage of glf_gemm_tune_ex: runs GEMMs through
 * the GEMM component on ctx with the tile set in use and puts the seconds
 * it took (or per unit of work: only comparisons matter) into *seconds. */
typedef glf_status (*glf_gemm_workload_fn)(glf_ctx *ctx, void *user, double *seconds);

typedef struct glf_gemm_tune_opts {
    int quick;        /* few candidates on one small shape (tests, slow devices) */
    int both_families; /* also the other family's candidates */
    glf_gemm_workload_fn work; /* NULL: decide on the plain GEMMs alone */
    void *user;
} glf_gemm_tune_opts;

/* Search tile sets at GLF's GEMM shapes (alternated rounds), then, with a
 * workload, time the default and the fastest others (3; quick: 1) on it in
 * alternated rounds (3; quick: 1; a set's time is its best round): the
 * default stays unless another is faster by 3% there (without a workload:
 * by 15% on the plain GEMMs). Stores the winner and uses it on ctx. A
 * failing workload fails the tuning with its status, storing nothing and
 * leaving ctx's tile set as it was. */
glf_status glf_gemm_tune_ex(glf_ctx *ctx, const glf_gemm_tune_opts *o, glf_gemm_params *best);
/* glf_gemm_tune_ex without a workload. */
glf_status glf_gemm_tune(glf_ctx *ctx, int quick, glf_gemm_params *best);
/* The stored tile set of ctx's device: *found = 0 when untuned;
 * GLF_ERR_FORMAT naming the store's file when it cannot be read. */
glf_status glf_gemm_tuned(glf_ctx *ctx, glf_gemm_params *out, int *found);

/* The training-step workload `glf tune` decides tile sets on: steps of the
 * 28x28 model at batch 256 (quick: 16), one settling step, then 3 timed
 * (quick: 1). glf_tune_gemm_on_steps runs glf_gemm_tune_ex with it. */
glf_status glf_tune_gemm_on_steps(glf_ctx *ctx, int quick, int both_families,
                                  glf_gemm_params *best);

/* CLBlast's Xgemm parameters: the candidates (quick: 2, one shape) at GLF's
 * large shapes, each validated before it is timed; stores the winner and
 * applies it. */
glf_status glf_clblast_tune(glf_ctx *ctx, int quick, glf_clblast_params *best);
/* The stored set of ctx's device: *found = 0 when none. */
glf_status glf_clblast_tuned(glf_ctx *ctx, glf_clblast_params *out, int *found);

/* The convolutions' im2col variants (glf_conv_im2col_policy, ops_conv.h):
 * every combination of the two orientations is validated against the
 * double reference at odd shapes, the valid ones timed over GLF's four
 * convolutions as a training step runs them (forward and backward,
 * alternated, best of 5; quick: 1 shape, 1 round); the default {0, 0}
 * stays unless another is faster by 3%. Stores and uses the winner. With
 * CLBlast as the backend there is nothing to choose: *use = {0, 0}, and
 * nothing is stored. */
typedef void (*glf_conv_note_fn)(void *user, const char *line);
glf_status glf_conv_tune(glf_ctx *ctx, int quick, int use[2], glf_conv_note_fn note,
                         void *user);
/* The stored policy of ctx's device: *found = 0 when untuned. */
glf_status glf_conv_tuned(glf_ctx *ctx, int use[2], int *found);

/* The file of ctx's device's tuning store (for messages and --show). */
glf_status glf_tune_store_path(glf_ctx *ctx, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
