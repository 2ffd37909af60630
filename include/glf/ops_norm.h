/* BatchNorm (1-D and 2-D, PyTorch semantics), elementwise activations and
 * deterministic reductions on device tensors (glf_dptr). All ops only
 * enqueue; reductions run in a fixed order, so two runs give the same bits.
 * Letters: B batch, C channels, L = H*W positions per channel (1 for
 * BatchNorm1d), n = B*L values per channel. */
#ifndef GLF_OPS_NORM_H
#define GLF_OPS_NORM_H

#include <stddef.h>

#include "glf/runtime.h"
#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- BatchNorm ----------------------------------------------------------- */

/* BatchNorm over x (B, C, L): L = H*W for BatchNorm2d, L = 1 for BatchNorm1d.
 * Train: normalise with batch mean and biased variance, eps inside the sqrt;
 * save mean and invstd = 1/sqrt(var_biased + eps) per channel (C) for backward;
 * if running_mean.buf != NULL update running_mean/var in place with momentum:
 * r = (1-m)*r + m*batch (running var uses the UNBIASED variance, n/(n-1), n = B*L).
 * y (B, C, L) must not overlap x (it holds C*L floats of partial sums before
 * the result); n = B*L must be >= 2 (PyTorch refuses one value per channel).
 * gamma, beta (C); save_mean, save_invstd (C); running_mean, running_var (C).
 * With the context's allreduce hook set (glf_ctx_set_allreduce), the batch
 * is this process's part of a global one: the per-channel sums and count,
 * then the sums of squares about the global mean, are summed across
 * processes, so mean, variance and the running update (with the global n)
 * are the global batch's. */
glf_status glf_batchnorm_forward_train(glf_ctx *ctx, glf_dptr y, glf_dptr save_mean,
                                       glf_dptr save_invstd, glf_dptr running_mean,
                                       glf_dptr running_var, glf_dptr x, glf_dptr gamma,
                                       glf_dptr beta, int B, int C, int L, float momentum,
                                       float eps);
/* The same followed by ReLU (relu != 0) in the same pass: the bits of
 * glf_batchnorm_forward_train then glf_act_forward(GLF_ACT_RELU). */
glf_status glf_batchnorm_forward_train_act(glf_ctx *ctx, glf_dptr y, glf_dptr save_mean,
                                           glf_dptr save_invstd, glf_dptr running_mean,
                                           glf_dptr running_var, glf_dptr x, glf_dptr gamma,
                                           glf_dptr beta, int B, int C, int L, float momentum,
                                           float eps, int relu);
/* y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta; y may equal x. */
glf_status glf_batchnorm_forward_eval(glf_ctx *ctx, glf_dptr y, glf_dptr running_mean,
                                      glf_dptr running_var, glf_dptr x, glf_dptr gamma,
                                      glf_dptr beta, int B, int C, int L, float eps);
/* Backward of the train-mode forward; x is the forward input (B, C, L).
 * dx (B, C, L) is always overwritten and must not overlap dy or x (it holds
 * 2*C*L floats of partial sums first). dgamma, dbeta (C): accumulate 0
 * overwrites, 1 adds; either may have buf NULL (not wanted). With the
 * allreduce hook, dx uses the per-channel sums over every process's batch
 * (summed through the hook with the count), while dgamma and dbeta stay
 * this process's share, to be summed with the other parameter gradients. */
glf_status glf_batchnorm_backward(glf_ctx *ctx, glf_dptr dx, glf_dptr dgamma, glf_dptr dbeta,
                                  glf_dptr dy, glf_dptr x, glf_dptr save_mean, glf_dptr save_invstd,
                                  glf_dptr gamma, int B, int C, int L, int accumulate);

/* ---- activations --------------------------------------------------------- */

typedef enum glf_act {
    GLF_ACT_RELU, /* max(x, 0); grad uses x > 0 */
    GLF_ACT_TANH,
    GLF_ACT_SIGMOID,
    GLF_ACT_OUTMAP,      /* x*0.5 + 0.5 */
    GLF_ACT_TANH_OUTMAP, /* tanh(x)*0.5 + 0.5, fused (decoder output) */
    GLF_ACT_SOFTCLAMP    /* 2.0 * 0.636 * atan(x) */
} glf_act;
/* Elementwise over n floats; y may equal x (in place). */
glf_status glf_act_forward(glf_ctx *ctx, glf_dptr y, glf_dptr x, size_t n, glf_act a);
/* dx = dy * f'(.) ; needs the forward input x (and/or output y; pass both).
 * dx may equal dy (in place). What each reads (the other may have buf NULL):
 * RELU x (or y when x.buf is NULL: y > 0 iff x > 0), TANH y, SIGMOID y,
 * OUTMAP neither, TANH_OUTMAP x, SOFTCLAMP x. */
glf_status glf_act_backward(glf_ctx *ctx, glf_dptr dx, glf_dptr dy, glf_dptr x, glf_dptr y,
                            size_t n, glf_act a);
/* "relu", "tanh", ... (for messages and benchmarks). */
const char *glf_act_name(glf_act a);

/* ---- deterministic reductions (fixed order, no atomics) ---------------- */

/* out[j] (+)= sum_i in[i*N + j], in (M, N), out (N). Sums i = 0..M-1 in order. */
glf_status glf_sum_rows(glf_ctx *ctx, glf_dptr out, glf_dptr in, int M, int N, int accumulate);
/* out[0] = sum of n floats (fixed-order tree). work: glf_sum_all_workspace(n) floats. */
size_t glf_sum_all_workspace(size_t n);
glf_status glf_sum_all(glf_ctx *ctx, glf_dptr out, glf_dptr in, size_t n, glf_dptr work);
/* y[i] = a*x[i] + b*y[i] over n floats (y += x: a=1,b=1). With b == 0, y is
 * not read (old NaN does not propagate), as BLAS does. x may equal y. */
glf_status glf_axpby(glf_ctx *ctx, glf_dptr y, glf_dptr x, size_t n, float a, float b);

#ifdef __cplusplus
}
#endif
#endif
