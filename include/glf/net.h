/* The GLF network on the device: encoder, decoder and flow composed from
 * the ops, with parameters, gradients, Adam moments and BatchNorm running
 * statistics in one buffer each (named offsets from glf_layout), and all
 * activations in one arena planned once for a maximum batch. */
#ifndef GLF_NET_H
#define GLF_NET_H

#include "glf/model.h"
#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How BatchNorm layers normalise: TRAIN = batch statistics and update the
 * running ones; BATCH = batch statistics, running ones untouched (the
 * authors' sampling); RUNNING = running statistics (eval mode). */
typedef enum glf_bn_mode {
    GLF_BN_RUNNING = 0, /* the zero value: a zeroed options struct is safe */
    GLF_BN_BATCH = 1,
    GLF_BN_TRAIN = 2
} glf_bn_mode;

typedef struct glf_losses {
    float recon;       /* (1/B) sum of squared errors (or BCE) over batch and pixels */
    float nll;         /* flow NLL per sample (0 in ae-gauss mode) */
    float entropy;     /* vae-flow: -(1/B) sum log sigma^2 / 2; else 0 */
    float total;       /* the objective of the mode (scaled terms summed) */
    float mean_logdet; /* mean over the batch of the flow's log-determinant */
    float mean_abs_z;  /* mean |z| of the latent codes: shows latent shrinkage */
} glf_losses;

typedef struct glf_net glf_net;

glf_status glf_net_create(glf_ctx *ctx, const glf_config *cfg, int max_batch, glf_net **out);
void glf_net_destroy(glf_net *net);

const glf_config *glf_net_config(const glf_net *net);
glf_ctx *glf_net_ctx(const glf_net *net);
int glf_net_max_batch(const glf_net *net);
const glf_layout *glf_net_param_layout(const glf_net *net);
const glf_layout *glf_net_state_layout(const glf_net *net);
cl_mem glf_net_params(const glf_net *net);
cl_mem glf_net_grads(const glf_net *net);
cl_mem glf_net_adam_m(const glf_net *net);
cl_mem glf_net_adam_v(const glf_net *net);
cl_mem glf_net_state(const glf_net *net);
/* The flow's permutations, (blocks, d) ints, as used on the device. */
const int *glf_net_perms(const glf_net *net);
/* Replace the permutations (e.g. from a checkpoint). */
glf_status glf_net_set_perms(glf_net *net, const int *perm);

/* The ae-gauss baseline's Gaussian over latents: mean (d) and the lower
 * Cholesky factor of the covariance (d x d, row-major). NULL clears it. */
glf_status glf_net_set_gaussian(glf_net *net, const double *mean, const double *chol);
/* 1 and the arrays if a Gaussian is set, else 0. */
int glf_net_gaussian(const glf_net *net, const double **mean, const double **chol);

/* Seeded initialisation (glf-method.md) of parameters and running stats;
 * zeroes Adam's moments. */
glf_status glf_net_init(glf_net *net, unsigned long long seed);

/* One step's forward and backward on a batch x (B, C, H, W) in [0, 1]:
 * every gradient of the mode's trained parameters is overwritten. eps
 * (B, d) is the reparameterisation noise (vae-flow only; else NULL).
 * Blocks until the losses are read back. */
glf_status glf_net_forward_backward(glf_net *net, glf_dptr x, int B, const float *eps,
                                    glf_losses *out);
/* The same in two halves, so the queue never drains: step_enqueue queues
 * the forward, backward and the read-back of the losses without waiting;
 * step_losses waits for that read-back only (commands queued after the
 * step, such as glf_net_adam, may run meanwhile) and fills out. Exactly
 * one step_losses per step_enqueue. */
glf_status glf_net_step_enqueue(glf_net *net, glf_dptr x, int B, const float *eps);
glf_status glf_net_step_losses(glf_net *net, glf_losses *out);

/* Data parallelism: normalise the losses of the following steps by
 * `batch` images instead of each step's own B (0, the default: by B). A
 * process holding B of a global batch of `batch` images then computes its
 * share of the global losses and gradients: summed over the processes
 * they are the global batch's. Every field of glf_losses is then a share
 * too (mean_logdet and mean_abs_z included). batch >= 0. */
glf_status glf_net_set_loss_batch(glf_net *net, int batch);

/* Adam on the trained groups with StepLR learning rates; t >= 1. */
glf_status glf_net_adam(glf_net *net, int epoch, long t);

/* Cost model of one training step at batch B, per profile scope (the op
 * names glf_net_forward_backward and glf_net_adam give glf_profile_scope):
 * FLOPs of the products (convolutions, linear layers, the flow's layers)
 * and the minimum bytes moved by memory-bound ops (each tensor read or
 * written once: BatchNorm and activations 8 bytes per element forward, 12
 * backward, a ReLU fused into BatchNorm's forward counted once; Adam 28 per
 * parameter). Zero where not modelled. */
typedef struct glf_net_cost {
    char op[32];
    double flop_fwd, flop_bwd;
    double bytes_fwd, bytes_bwd;
} glf_net_cost;
/* Fills up to max entries; returns how many the model has. */
int glf_net_costs(const glf_net *net, int B, glf_net_cost *out, int max);

/* Inference pieces (BatchNorm as chosen). z is (B, d); in vae-flow mode
 * encode returns the mean. */
glf_status glf_net_encode(glf_net *net, glf_dptr z, glf_dptr x, int B, glf_bn_mode bn);
glf_status glf_net_decode(glf_net *net, glf_dptr xhat, glf_dptr z, int B, glf_bn_mode bn);
glf_status glf_net_flow(glf_net *net, glf_dptr zhat, glf_dptr ldj, glf_dptr z, int B,
                        glf_bn_mode bn);
glf_status glf_net_flow_inverse(glf_net *net, glf_dptr z, glf_dptr zhat, int B, glf_bn_mode bn);

#ifdef __cplusplus
}
#endif
#endif
