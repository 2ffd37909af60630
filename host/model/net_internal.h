/* Private structure of glf_net shared by net.c (auto-encoder, step) and
 * flow.c (coupling blocks). Layers hold glf_dptr views into the flat
 * parameter/gradient/state buffers and into the activation arena. */
#ifndef GLF_NET_INTERNAL_H
#define GLF_NET_INTERNAL_H

#include "glf/net.h"
#include "glf/ops_conv.h"
#include "glf/ops_flow.h"
#include "glf/ops_norm.h"
#include "glf/ops_util.h"

#define GLF_MAX_BLOCKS_ 16

struct lin_ {
    glf_dptr w, b, dw, db;
    int in, out;
};

struct conv_ {
    glf_dptr w, b, dw, db;
    glf_conv_shape s; /* B filled at call time */
    int transposed;
};

struct bn_ {
    glf_dptr gamma, beta, dgamma, dbeta, rmean, rvar;
    glf_dptr mean, invstd; /* saved batch statistics (C) */
    int C, L;
};

/* fc1 -> ReLU -> bn1 -> fc2 -> ReLU -> bn2 -> fc3 */
struct mlp_ {
    struct lin_ fc1, fc2, fc3;
    struct bn_ bn1, bn2;
    glf_dptr a1, n1, a2, n2, out; /* (B, h) x4, (B, out) */
};

struct block_ {
    struct mlp_ s1, t1, s2, t2;
    glf_dptr u1, u2; /* inputs (B, d1), (B, d2) */
    glf_dptr v1, v2; /* coupling outputs before the permutation */
    cl_mem perm;     /* d ints */
};

struct glf_net {
    glf_ctx *ctx;
    glf_config cfg;
    int max_batch;
    int loss_batch; /* normalises the losses (glf_net_set_loss_batch); 0: each step's B */
    int d, d1, d2, dz; /* latent, halves, encoder output width (d or 2d) */
    glf_layout pl, sl;
    cl_mem params, grads, m, v, state, acts;
    size_t acts_used;
    int *perms; /* (blocks, d) host copy */
    double *gmean, *gchol; /* ae-gauss Gaussian, or NULL */

    /* encoder */
    struct conv_ conv1, conv2;
    struct bn_ ebn2, ebn3;
    struct lin_ efc1, efc2;
    glf_dptr e1, e2, e2n, e3, e3n, zenc;
    glf_dptr mu, logvar, z, eps; /* vae-flow */
    /* decoder */
    struct lin_ dfc1, dfc2;
    struct bn_ dbn1, dbn2, dbn3;
    struct conv_ deconv1, deconv2;
    glf_dptr dc1, dc1n, dc2, dc2n, dc3, dc3n, dc4, xhat;
    /* flow */
    struct block_ blk[GLF_MAX_BLOCKS_];
    glf_dptr uK1, uK2; /* outputs of the last block */
    glf_dptr zhat, ldj;
    /* gradient scratch */
    glf_dptr gA, gB, dz_dec, dz_flow, dzhat, dldj;
    glf_dptr du1, du2, dv1, dv2, ds, dt, dh1, dh2, dtmp;
    /* workspaces and scalars: [0] recon [1] nll [2] entropy */
    glf_dptr conv_work, loss_work, scalars;
    /* the step's read-back (glf_net_step_enqueue / glf_net_step_losses):
     * scalars (3), latents (B*d), log-dets (B), in flight until rb_ev */
    float *rb;
    cl_event rb_ev;
    int rb_B, rb_pending;
};

/* flow.c */
glf_status glf_flow_plan_(glf_net *n);
glf_status glf_flow_forward_(glf_net *n, glf_dptr zhat, glf_dptr ldj, glf_dptr z, int B,
                             glf_bn_mode bn);
/* Backward from dzhat (B, d) and dldj (B); writes all flow parameter
 * gradients and, if dz.buf, the gradient w.r.t. the flow input. */
glf_status glf_flow_backward_(glf_net *n, glf_dptr dz, glf_dptr dzhat, glf_dptr dldj, int B);
glf_status glf_flow_inverse_(glf_net *n, glf_dptr z, glf_dptr zhat, int B, glf_bn_mode bn);

/* net.c helpers used by flow.c */
glf_dptr glf_net_alloc_(glf_net *n, size_t floats);
glf_status glf_net_lin_(glf_net *n, struct lin_ *l, const char *prefix, int in, int out);
glf_status glf_net_bn_(glf_net *n, struct bn_ *b, const char *prefix, int C, int L);
glf_status glf_bn_fwd_(glf_net *n, struct bn_ *b, glf_dptr y, glf_dptr x, int B, glf_bn_mode m);

#endif
