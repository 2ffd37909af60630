/* The flow on the device: blocks of (affine coupling, fixed permutation),
 * each coupling with four MLP sub-networks (fc1 -> ReLU -> BN -> fc2 ->
 * ReLU -> BN -> fc3). Forward with log-determinant, backward, and inverse.
 * The two halves of z live in separate (B, d1) and (B, d2) tensors; the
 * permutation between blocks moves columns across them. */
#include <stdio.h>

#include "net_internal.h"

static glf_status mlp_plan_(glf_net *n, struct mlp_ *m, const char *prefix, int in, int out)
{
    char name[96];
    int h = n->cfg.flow_width;
    size_t B = (size_t)n->max_batch;
    snprintf(name, sizeof name, "%s.fc1", prefix);
    GLF_TRY(glf_net_lin_(n, &m->fc1, name, in, h));
    snprintf(name, sizeof name, "%s.fc2", prefix);
    GLF_TRY(glf_net_lin_(n, &m->fc2, name, h, h));
    snprintf(name, sizeof name, "%s.fc3", prefix);
    GLF_TRY(glf_net_lin_(n, &m->fc3, name, h, out));
    snprintf(name, sizeof name, "%s.bn1", prefix);
    GLF_TRY(glf_net_bn_(n, &m->bn1, name, h, 1));
    snprintf(name, sizeof name, "%s.bn2", prefix);
    GLF_TRY(glf_net_bn_(n, &m->bn2, name, h, 1));
    m->a1 = glf_net_alloc_(n, B * h);
    m->n1 = glf_net_alloc_(n, B * h);
    m->a2 = glf_net_alloc_(n, B * h);
    m->n2 = glf_net_alloc_(n, B * h);
    m->out = glf_net_alloc_(n, B * out);
    return GLF_OK;
}

glf_status glf_flow_plan_(glf_net *n)
{
    size_t B = (size_t)n->max_batch;
    int d1 = n->d1, d2 = n->d2, dm = d1 > d2 ? d1 : d2, h = n->cfg.flow_width;
    char prefix[64];
    for (int k = 0; k < n->cfg.flow_blocks; k++) {
        struct block_ *b = &n->blk[k];
        snprintf(prefix, sizeof prefix, "flow.blocks.%d.s1", k);
        GLF_TRY(mlp_plan_(n, &b->s1, prefix, d1, d2));
        snprintf(prefix, sizeof prefix, "flow.blocks.%d.t1", k);
        GLF_TRY(mlp_plan_(n, &b->t1, prefix, d1, d2));
        snprintf(prefix, sizeof prefix, "flow.blocks.%d.s2", k);
        GLF_TRY(mlp_plan_(n, &b->s2, prefix, d2, d1));
        snprintf(prefix, sizeof prefix, "flow.blocks.%d.t2", k);
        GLF_TRY(mlp_plan_(n, &b->t2, prefix, d2, d1));
        b->u1 = glf_net_alloc_(n, B * d1);
        b->u2 = glf_net_alloc_(n, B * d2);
        b->v1 = glf_net_alloc_(n, B * d1);
        b->v2 = glf_net_alloc_(n, B * d2);
    }
    n->uK1 = glf_net_alloc_(n, B * d1);
    n->uK2 = glf_net_alloc_(n, B * d2);
    n->du1 = glf_net_alloc_(n, B * d1);
    n->du2 = glf_net_alloc_(n, B * d2);
    n->dv1 = glf_net_alloc_(n, B * d1);
    n->dv2 = glf_net_alloc_(n, B * d2);
    n->ds = glf_net_alloc_(n, B * dm);
    n->dt = glf_net_alloc_(n, B * dm);
    n->dtmp = glf_net_alloc_(n, B * dm);
    n->dh1 = glf_net_alloc_(n, B * h);
    n->dh2 = glf_net_alloc_(n, B * h);
    return GLF_OK;
}

static glf_status mlp_fwd_(glf_net *n, struct mlp_ *m, glf_dptr in, int B, glf_bn_mode bn)
{
    glf_ctx *ctx = n->ctx;
    int h = m->fc1.out;
    GLF_TRY(glf_linear_forward_act(ctx, m->a1, in, m->fc1.w, m->fc1.b, B, m->fc1.in, h, 1));
    GLF_TRY(glf_bn_fwd_(n, &m->bn1, m->n1, m->a1, B, bn));
    GLF_TRY(glf_linear_forward_act(ctx, m->a2, m->n1, m->fc2.w, m->fc2.b, B, h, h, 1));
    GLF_TRY(glf_bn_fwd_(n, &m->bn2, m->n2, m->a2, B, bn));
    return glf_linear_forward(ctx, m->out, m->n2, m->fc3.w, m->fc3.b, B, h, m->fc3.out);
}

/* Gradients of the MLP's parameters (overwritten) from dout; the gradient
 * w.r.t. its input is added into din. */
static glf_status mlp_bwd_(glf_net *n, struct mlp_ *m, glf_dptr din, glf_dptr dout,
                           glf_dptr in, int B)
{
    glf_ctx *ctx = n->ctx;
    int h = m->fc1.out;
    size_t nh = (size_t)B * h;
    GLF_TRY(glf_linear_backward(ctx, n->dh1, m->fc3.dw, m->fc3.db, dout, m->n2, m->fc3.w, B, h,
                                m->fc3.out, 0));
    GLF_TRY(glf_batchnorm_backward(ctx, n->dh2, m->bn2.dgamma, m->bn2.dbeta, n->dh1, m->a2,
                                   m->bn2.mean, m->bn2.invstd, m->bn2.gamma, B, h, 1, 0));
    GLF_TRY(glf_act_backward(ctx, n->dh2, n->dh2, m->a2, m->a2, nh, GLF_ACT_RELU));
    GLF_TRY(glf_linear_backward(ctx, n->dh1, m->fc2.dw, m->fc2.db, n->dh2, m->n1, m->fc2.w, B, h,
                                h, 0));
    GLF_TRY(glf_batchnorm_backward(ctx, n->dh2, m->bn1.dgamma, m->bn1.dbeta, n->dh1, m->a1,
                                   m->bn1.mean, m->bn1.invstd, m->bn1.gamma, B, h, 1, 0));
    GLF_TRY(glf_act_backward(ctx, n->dh2, n->dh2, m->a1, m->a1, nh, GLF_ACT_RELU));
    GLF_TRY(glf_linear_backward(ctx, n->dtmp, m->fc1.dw, m->fc1.db, n->dh2, in, m->fc1.w, B,
                                m->fc1.in, h, 0));
    return glf_axpby(ctx, din, n->dtmp, (size_t)B * m->fc1.in, 1.0f, 1.0f);
}

/* (B, d) x -> halves a (B, d1), b (B, d2), and back. */
static glf_status split_(glf_net *n, glf_dptr a, glf_dptr b, glf_dptr x, int B)
{
    GLF_TRY(glf_copy2d(n->ctx, a, n->d1, x, n->d, B, n->d1));
    return glf_copy2d(n->ctx, b, n->d2, glf_dp(x.buf, x.off + (size_t)n->d1), n->d, B, n->d2);
}

static glf_status join_(glf_net *n, glf_dptr x, glf_dptr a, glf_dptr b, int B)
{
    GLF_TRY(glf_copy2d(n->ctx, x, n->d, a, n->d1, B, n->d1));
    return glf_copy2d(n->ctx, glf_dp(x.buf, x.off + (size_t)n->d1), n->d, b, n->d2, B, n->d2);
}

/* Inputs of block k+1 (the last block's outputs when k+1 == blocks). */
static void next_(glf_net *n, int k, glf_dptr *a, glf_dptr *b)
{
    if (k + 1 < n->cfg.flow_blocks) {
        *a = n->blk[k + 1].u1;
        *b = n->blk[k + 1].u2;
    } else {
        *a = n->uK1;
        *b = n->uK2;
    }
}

glf_status glf_flow_forward_(glf_net *n, glf_dptr zhat, glf_dptr ldj, glf_dptr z, int B,
                             glf_bn_mode bn)
{
    glf_ctx *ctx = n->ctx;
    int d1 = n->d1, d2 = n->d2;
    GLF_TRY(split_(n, n->blk[0].u1, n->blk[0].u2, z, B));
    for (int k = 0; k < n->cfg.flow_blocks; k++) {
        struct block_ *b = &n->blk[k];
        glf_dptr o1, o2;
        GLF_TRY(mlp_fwd_(n, &b->s2, b->u2, B, bn));
        GLF_TRY(mlp_fwd_(n, &b->t2, b->u2, B, bn));
        GLF_TRY(glf_affine_forward(ctx, b->v1, ldj, b->u1, b->s2.out, b->t2.out, B, d1, k > 0));
        GLF_TRY(mlp_fwd_(n, &b->s1, b->v1, B, bn));
        GLF_TRY(mlp_fwd_(n, &b->t1, b->v1, B, bn));
        GLF_TRY(glf_affine_forward(ctx, b->v2, ldj, b->u2, b->s1.out, b->t1.out, B, d2, 1));
        next_(n, k, &o1, &o2);
        GLF_TRY(glf_shuffle_cols(ctx, o1, o2, b->v1, b->v2, b->perm, B, d1, d2, 0));
    }
    return join_(n, zhat, n->uK1, n->uK2, B);
}

glf_status glf_flow_backward_(glf_net *n, glf_dptr dz, glf_dptr dzhat, glf_dptr dldj, int B)
{
    glf_ctx *ctx = n->ctx;
    int d1 = n->d1, d2 = n->d2;
    GLF_TRY(split_(n, n->du1, n->du2, dzhat, B));
    for (int k = n->cfg.flow_blocks - 1; k >= 0; k--) {
        struct block_ *b = &n->blk[k];
        /* The permutation's backward is its inverse. */
        GLF_TRY(glf_shuffle_cols(ctx, n->dv1, n->dv2, n->du1, n->du2, b->perm, B, d1, d2, 1));
        /* v2 = u2 * exp(c(s1(v1))) + t1(v1) */
        GLF_TRY(glf_affine_backward(ctx, n->du2, n->ds, n->dt, n->dv2, dldj, b->u2, b->s1.out, B,
                                    d2));
        GLF_TRY(mlp_bwd_(n, &b->s1, n->dv1, n->ds, b->v1, B));
        GLF_TRY(mlp_bwd_(n, &b->t1, n->dv1, n->dt, b->v1, B));
        /* v1 = u1 * exp(c(s2(u2))) + t2(u2) */
        GLF_TRY(glf_affine_backward(ctx, n->du1, n->ds, n->dt, n->dv1, dldj, b->u1, b->s2.out, B,
                                    d1));
        GLF_TRY(mlp_bwd_(n, &b->s2, n->du2, n->ds, b->u2, B));
        GLF_TRY(mlp_bwd_(n, &b->t2, n->du2, n->dt, b->u2, B));
    }
    if (!dz.buf)
        return GLF_OK;
    return join_(n, dz, n->du1, n->du2, B);
}

glf_status glf_flow_inverse_(glf_net *n, glf_dptr z, glf_dptr zhat, int B, glf_bn_mode bn)
{
    glf_ctx *ctx = n->ctx;
    int d1 = n->d1, d2 = n->d2;
    GLF_TRY(split_(n, n->uK1, n->uK2, zhat, B));
    for (int k = n->cfg.flow_blocks - 1; k >= 0; k--) {
        struct block_ *b = &n->blk[k];
        glf_dptr o1, o2;
        next_(n, k, &o1, &o2);
        GLF_TRY(glf_shuffle_cols(ctx, b->v1, b->v2, o1, o2, b->perm, B, d1, d2, 1));
        GLF_TRY(mlp_fwd_(n, &b->s1, b->v1, B, bn));
        GLF_TRY(mlp_fwd_(n, &b->t1, b->v1, B, bn));
        GLF_TRY(glf_affine_inverse(ctx, b->u2, b->v2, b->s1.out, b->t1.out, B, d2));
        GLF_TRY(mlp_fwd_(n, &b->s2, b->u2, B, bn));
        GLF_TRY(mlp_fwd_(n, &b->t2, b->u2, B, bn));
        GLF_TRY(glf_affine_inverse(ctx, b->u1, b->v1, b->s2.out, b->t2.out, B, d1));
    }
    return join_(n, z, n->blk[0].u1, n->blk[0].u2, B);
}
