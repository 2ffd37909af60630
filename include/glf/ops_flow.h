/* Flow, loss and optimizer ops: the affine half-coupling and the column
 * shuffle of the normalizing flow, the training losses (one float each, by a
 * fixed-order two-pass sum), VAE reparameterisation, and Adam over a range of
 * one flat parameter buffer. Semantics follow PyTorch (FrEIA for the flow). */
#ifndef GLF_OPS_FLOW_H
#define GLF_OPS_FLOW_H

#include <stddef.h>

#include "glf/runtime.h"
#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Letters: B batch, D features of one half (D1, D2 for the two halves), N
 * features per sample of a loss input (pixels or latents).
 * Every op only enqueues; none waits for the queue. Outputs must not overlap
 * inputs unless a function says so. */

/* ---- affine coupling pieces (cl/flow.cl) ------------------------------- */

/* Half of an affine coupling, elementwise on (B, D) with s_raw the raw output of
 * the s-network: v = u * exp(c(s_raw)) + t, c = soft clamp 2.0*0.636*atan.
 * ldj[b] = (ldj_accumulate ? ldj[b] : 0) + sum_j c(s_raw[b, j]).
 * v (B, D), ldj (B), u (B, D), s_raw (B, D), t (B, D). v may equal u. */
glf_status glf_affine_forward(glf_ctx *ctx, glf_dptr v, glf_dptr ldj, glf_dptr u, glf_dptr s_raw,
                              glf_dptr t, int B, int D, int ldj_accumulate);
/* u = (v - t) * exp(-c(s_raw)). u may equal v. */
glf_status glf_affine_inverse(glf_ctx *ctx, glf_dptr u, glf_dptr v, glf_dptr s_raw, glf_dptr t,
                              int B, int D);
/* Backward: given dv (B, D) and dldj (B) [dldj.buf NULL: zero], write
 * du = dv * exp(c(s)), ds_raw = (dv * u * exp(c(s)) + dldj[b]) * c'(s_raw), dt = dv.
 * Any of du, ds_raw, dt may have buf NULL (skipped). u is the forward input. */
glf_status glf_affine_backward(glf_ctx *ctx, glf_dptr du, glf_dptr ds_raw, glf_dptr dt, glf_dptr dv,
                               glf_dptr dldj, glf_dptr u, glf_dptr s_raw, int B, int D);

/* Column shuffle across two halves seen as one (B, D1+D2) matrix x = [in1 | in2],
 * written to [out1 | out2]. perm: cl_mem of D1+D2 cl_int.
 * inverse = 0: out[:, j] = x[:, perm[j]]   (FrEIA PermuteRandom: x[:, perm])
 * inverse = 1: out[:, perm[j]] = x[:, j]   (its inverse; also its backward)
 * perm must be a permutation of 0..D1+D2-1 (entries out of range: the forward
 * writes NaN in that column, the inverse writes nothing). Outputs must not
 * overlap inputs. D1 may be 0 (then in1/out1 are unused). */
glf_status glf_shuffle_cols(glf_ctx *ctx, glf_dptr out1, glf_dptr out2, glf_dptr in1, glf_dptr in2,
                            cl_mem perm, int B, int D1, int D2, int inverse);

/* ---- losses (cl/loss.cl) ------------------------------------------------ */

/* Losses write one float loss[0]; grads are optional (buf NULL: skip).
 * scale multiplies the loss and its gradient. Deterministic sums: element
 * terms go to work, P <= 1024 work-items sum fixed contiguous chunks of them
 * in order, one work-item sums the P partials in order; P and the chunks
 * depend only on B*N, so two runs (and any work-group size) give the same
 * bits. work: glf_loss_workspace(B, N) floats (B*N + P; the loss may not
 * overlap it). */
size_t glf_loss_workspace(int B, int N);
/* loss = scale/B * sum (xhat - x)^2 ; dxhat = scale/B * 2 (xhat - x).
 * xhat, x, dxhat (B, N). */
glf_status glf_mse_loss(glf_ctx *ctx, glf_dptr loss, glf_dptr dxhat, glf_dptr xhat, glf_dptr x,
                        int B, int N, float scale, glf_dptr work);
/* PyTorch BCE with log clamped at -100, summed over pixels, / B:
 * loss = -scale/B * sum [x max(log xhat, -100) + (1-x) max(log(1-xhat), -100)];
 * dxhat = scale/B * (xhat - x) / max(xhat (1 - xhat), 1e-12). */
glf_status glf_bce_loss(glf_ctx *ctx, glf_dptr loss, glf_dptr dxhat, glf_dptr xhat, glf_dptr x,
                        int B, int N, float scale, glf_dptr work);
/* loss = scale/B * sum_i [0.5 ||z_i||^2 + D/2 log(2 pi) - ldj_i];
 * dz = scale/B * z ; dldj = -scale/B. z, dz (B, D); ldj, dldj (B).
 * work: glf_loss_workspace(B, D) floats. */
glf_status glf_gauss_nll(glf_ctx *ctx, glf_dptr loss, glf_dptr dz, glf_dptr dldj, glf_dptr z,
                         glf_dptr ldj, int B, int D, float scale, glf_dptr work);
/* VAE entropy term: loss = -scale/B * 0.5 * sum logvar ; dlogvar = -scale/(2B).
 * logvar, dlogvar (B, D). work: glf_loss_workspace(B, D) floats. */
glf_status glf_vae_entropy(glf_ctx *ctx, glf_dptr loss, glf_dptr dlogvar, glf_dptr logvar, int B,
                           int D, float scale, glf_dptr work);

/* Same with row stride ld >= D for logvar and dlogvar (the logvar half of
 * the encoder's (B, 2D) output: ld = 2D). Bit-identical to glf_vae_entropy
 * for the same values. */
glf_status glf_vae_entropy_ld(glf_ctx *ctx, glf_dptr loss, glf_dptr dlogvar, glf_dptr logvar, int B,
                              int D, int ld, float scale, glf_dptr work);

/* ---- reparameterisation (cl/loss.cl) ------------------------------------ */

/* z = mu + exp(0.5 logvar) * eps (eps given, (B, D)); backward:
 * dmu = dz, dlogvar (+)= dz * eps * 0.5 * exp(0.5 logvar) [accumulate flag for dlogvar].
 * dmu or dlogvar with buf NULL is skipped. */
glf_status glf_reparam_forward(glf_ctx *ctx, glf_dptr z, glf_dptr mu, glf_dptr logvar, glf_dptr eps,
                               int B, int D);
glf_status glf_reparam_backward(glf_ctx *ctx, glf_dptr dmu, glf_dptr dlogvar, glf_dptr dz,
                                glf_dptr logvar, glf_dptr eps, int B, int D, int accumulate);
/* Same with a row stride ld >= D (floats) for mu, logvar, dmu and dlogvar, so
 * they can be the two halves of the encoder's (B, 2D) output: mu at column 0,
 * logvar at column D, ld = 2D. z, eps and dz stay dense (B, D). */
glf_status glf_reparam_forward_ld(glf_ctx *ctx, glf_dptr z, glf_dptr mu, glf_dptr logvar,
                                  glf_dptr eps, int B, int D, int ld);
glf_status glf_reparam_backward_ld(glf_ctx *ctx, glf_dptr dmu, glf_dptr dlogvar, glf_dptr dz,
                                   glf_dptr logvar, glf_dptr eps, int B, int D, int ld,
                                   int accumulate);

/* ---- optimizer (cl/adam.cl) ---------------------------------------------- */

/* Adam exactly as torch.optim.Adam (PyTorch 1.13, single-tensor path), L2
 * weight decay added to the gradient, over params[off, off+n) of one flat
 * buffer (and the same range of grads, m, v). step t >= 1. grads is read
 * only. The bias corrections are computed on the host in double from the
 * shortest decimals that round to the float hyper-parameters (0.9f -> 0.9),
 * as Python does with the decimal literals of a PyTorch script. */
#ifndef GLF_ADAM_HP_DEFINED
#define GLF_ADAM_HP_DEFINED
typedef struct glf_adam_hp {
    float lr, beta1, beta2, eps, weight_decay;
} glf_adam_hp;
#endif
glf_status glf_adam_step(glf_ctx *ctx, cl_mem params, cl_mem grads, cl_mem m, cl_mem v, size_t off,
                         size_t n, const glf_adam_hp *hp, long t);
/* StepLR: lr0 * gamma^(floor(epoch / step_size)). Host-side. step_size <= 0
 * or epoch < 0 give lr0. */
float glf_steplr(float lr0, int epoch, int step_size, float gamma);

#ifdef __cplusplus
}
#endif
#endif
