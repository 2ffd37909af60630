/* The GLF auto-encoder on the device and the training step that joins it
 * to the flow (flow.c): buffers, activation arena, forward, losses of each
 * mode, backward with the stop-gradient, and Adam. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* ---- planning ------------------------------------------------------------ */

glf_dptr glf_net_alloc_(glf_net *n, size_t floats)
{
    /* Round to 16 floats (64 bytes) so every tensor starts aligned. */
    glf_dptr p = {n->acts, n->acts_used};
    n->acts_used += (floats + 15) / 16 * 16;
    return p;
}

/* Profile scope of the kernels that follow (glf_profile_scope; free when
 * not profiling): the op names `glf bench` reports, forward or backward. */
#define SCOPE_(n, op, bwd) glf_profile_scope((n)->ctx, (op), (bwd))

static glf_status find_(glf_net *n, const char *name, glf_dptr *p, glf_dptr *g)
{
    const glf_tensor_desc *t = glf_layout_find(&n->pl, name);
    if (!t)
        return glf_fail(GLF_ERR_INTERNAL, "parameter layout has no tensor '%s'", name);
    *p = glf_dp(n->params, t->off);
    *g = glf_dp(n->grads, t->off);
    return GLF_OK;
}

static glf_status find_state_(glf_net *n, const char *name, glf_dptr *p)
{
    const glf_tensor_desc *t = glf_layout_find(&n->sl, name);
    if (!t)
        return glf_fail(GLF_ERR_INTERNAL, "state layout has no tensor '%s'", name);
    *p = glf_dp(n->state, t->off);
    return GLF_OK;
}

glf_status glf_net_lin_(glf_net *n, struct lin_ *l, const char *prefix, int in, int out)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    GLF_TRY(find_(n, name, &l->w, &l->dw));
    snprintf(name, sizeof name, "%s.bias", prefix);
    GLF_TRY(find_(n, name, &l->b, &l->db));
    l->in = in;
    l->out = out;
    return GLF_OK;
}

glf_status glf_net_bn_(glf_net *n, struct bn_ *b, const char *prefix, int C, int L)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    GLF_TRY(find_(n, name, &b->gamma, &b->dgamma));
    snprintf(name, sizeof name, "%s.bias", prefix);
    GLF_TRY(find_(n, name, &b->beta, &b->dbeta));
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    GLF_TRY(find_state_(n, name, &b->rmean));
    snprintf(name, sizeof name, "%s.running_var", prefix);
    GLF_TRY(find_state_(n, name, &b->rvar));
    b->mean = glf_net_alloc_(n, (size_t)C);
    b->invstd = glf_net_alloc_(n, (size_t)C);
    b->C = C;
    b->L = L;
    return GLF_OK;
}

static glf_status conv_(glf_net *n, struct conv_ *c, const char *prefix, int Cin, int H, int Cout,
                        int transposed)
{
    struct lin_ tmp;
    GLF_TRY(glf_net_lin_(n, &tmp, prefix, 0, 0));
    c->w = tmp.w, c->b = tmp.b, c->dw = tmp.dw, c->db = tmp.db;
    c->s = (glf_conv_shape){.B = n->max_batch, .Cin = Cin, .H = H, .W = H, .Cout = Cout,
                            .K = 4, .S = 2, .P = 1};
    c->transposed = transposed;
    return GLF_OK;
}

static size_t conv_ws_(const struct conv_ *c)
{
    return c->transposed ? glf_conv_transpose2d_workspace(&c->s) : glf_conv2d_workspace(&c->s);
}

static glf_status plan_(glf_net *n)
{
    const glf_config *c = &n->cfg;
    size_t B = (size_t)n->max_batch;
    int S = c->height, S2 = S / 2, S4 = S / 4, flat = c->conv2 * S4 * S4;
    n->acts_used = 0;

    GLF_TRY(conv_(n, &n->conv1, "enc.conv1", c->channels, S, c->conv1, 0));
    GLF_TRY(conv_(n, &n->conv2, "enc.conv2", c->conv1, S2, c->conv2, 0));
    GLF_TRY(glf_net_bn_(n, &n->ebn2, "enc.bn2", c->conv2, S4 * S4));
    GLF_TRY(glf_net_lin_(n, &n->efc1, "enc.fc1", flat, c->fc));
    GLF_TRY(glf_net_bn_(n, &n->ebn3, "enc.bn3", c->fc, 1));
    GLF_TRY(glf_net_lin_(n, &n->efc2, "enc.fc2", c->fc, n->dz));
    GLF_TRY(glf_net_lin_(n, &n->dfc1, "dec.fc1", n->d, c->fc));
    GLF_TRY(glf_net_bn_(n, &n->dbn1, "dec.bn1", c->fc, 1));
    GLF_TRY(glf_net_lin_(n, &n->dfc2, "dec.fc2", c->fc, flat));
    GLF_TRY(glf_net_bn_(n, &n->dbn2, "dec.bn2", flat, 1));
    GLF_TRY(conv_(n, &n->deconv1, "dec.deconv1", c->conv2, S4, c->conv1, 1));
    GLF_TRY(glf_net_bn_(n, &n->dbn3, "dec.bn3", c->conv1, S2 * S2));
    GLF_TRY(conv_(n, &n->deconv2, "dec.deconv2", c->conv1, S2, c->channels, 1));

    size_t img = (size_t)c->channels * S * S, half = (size_t)c->conv1 * S2 * S2;
    n->e1 = glf_net_alloc_(n, B * half);
    n->e2 = glf_net_alloc_(n, B * flat);
    n->e2n = glf_net_alloc_(n, B * flat);
    n->e3 = glf_net_alloc_(n, B * c->fc);
    n->e3n = glf_net_alloc_(n, B * c->fc);
    n->zenc = glf_net_alloc_(n, B * n->dz);
    n->mu = glf_net_alloc_(n, B * n->d);
    n->logvar = glf_net_alloc_(n, B * n->d);
    n->z = glf_net_alloc_(n, B * n->d);
    n->eps = glf_net_alloc_(n, B * n->d);
    n->dc1 = glf_net_alloc_(n, B * c->fc);
    n->dc1n = glf_net_alloc_(n, B * c->fc);
    n->dc2 = glf_net_alloc_(n, B * flat);
    n->dc2n = glf_net_alloc_(n, B * flat);
    n->dc3 = glf_net_alloc_(n, B * half);
    n->dc3n = glf_net_alloc_(n, B * half);
    n->dc4 = glf_net_alloc_(n, B * img);
    n->xhat = glf_net_alloc_(n, B * img);

    size_t gmax = img;
    if (half > gmax) gmax = half;
    if ((size_t)flat > gmax) gmax = (size_t)flat;
    if ((size_t)c->fc > gmax) gmax = (size_t)c->fc;
    n->gA = glf_net_alloc_(n, B * gmax);
    n->gB = glf_net_alloc_(n, B * gmax);
    n->dz_dec = glf_net_alloc_(n, B * n->dz);
    n->dz_flow = glf_net_alloc_(n, B * n->d);
    n->dzhat = glf_net_alloc_(n, B * n->d);
    n->dldj = glf_net_alloc_(n, B);
    n->zhat = glf_net_alloc_(n, B * n->d);
    n->ldj = glf_net_alloc_(n, B);

    size_t ws = 0;
    const struct conv_ *convs[] = {&n->conv1, &n->conv2, &n->deconv1, &n->deconv2};
    for (int i = 0; i < 4; i++)
        if (conv_ws_(convs[i]) > ws)
            ws = conv_ws_(convs[i]);
    n->conv_work = glf_net_alloc_(n, ws);
    size_t lw = glf_loss_workspace(n->max_batch, (int)img);
    size_t lw2 = glf_loss_workspace(n->max_batch, n->d);
    n->loss_work = glf_net_alloc_(n, lw > lw2 ? lw : lw2);
    n->scalars = glf_net_alloc_(n, 16);
    /* The ae-gauss baseline has no flow (its layout holds no flow tensors). */
    return c->mode == GLF_MODE_AE_GAUSS ? GLF_OK : glf_flow_plan_(n);
}

/* ---- creation -------------------------------------------------------------- */

glf_status glf_net_create(glf_ctx *ctx, const glf_config *cfg, int max_batch, glf_net **out)
{
    glf_status s;
    *out = NULL;
    GLF_TRY(glf_config_validate(cfg));
    if (max_batch < 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "max batch %d, expected >= 1", max_batch);
    if (cfg->flow_blocks > GLF_MAX_BLOCKS_)
        return glf_fail(GLF_ERR_INVALID_ARG, "flow blocks %d, expected <= %d", cfg->flow_blocks,
                        GLF_MAX_BLOCKS_);
    glf_net *n = calloc(1, sizeof *n);
    if (!n)
        return glf_fail(GLF_ERR_NOMEM, "out of memory creating the network");
    n->ctx = ctx;
    n->cfg = *cfg;
    n->max_batch = max_batch;
    n->d = cfg->latent;
    n->d1 = cfg->latent / 2;
    n->d2 = cfg->latent - n->d1;
    n->dz = cfg->mode == GLF_MODE_VAE_FLOW ? 2 * cfg->latent : cfg->latent;
    n->perms = malloc((size_t)cfg->flow_blocks * (size_t)cfg->latent * sizeof *n->perms);
    if (!n->perms) {
        free(n);
        return glf_fail(GLF_ERR_NOMEM, "out of memory creating the network");
    }
    glf_flow_permutations(cfg, n->perms);
    if ((s = glf_layout_params(cfg, &n->pl)) || (s = glf_layout_state(cfg, &n->sl)))
        goto fail;
    size_t P = n->pl.total * sizeof(float), St = n->sl.total * sizeof(float);
    if ((s = glf_buf_create(ctx, P, &n->params)) || (s = glf_buf_create(ctx, P, &n->grads)) ||
        (s = glf_buf_create(ctx, P, &n->m)) || (s = glf_buf_create(ctx, P, &n->v)) ||
        (s = glf_buf_create(ctx, St, &n->state)))
        goto fail;
    for (int k = 0; k < cfg->flow_blocks; k++)
        if ((s = glf_buf_create(ctx, (size_t)n->d * sizeof(cl_int), &n->blk[k].perm)))
            goto fail;
    if ((s = glf_net_set_perms(n, n->perms)))
        goto fail;
    /* Pass 1 sizes the arena, pass 2 points every view into it. */
    if ((s = plan_(n)))
        goto fail;
    if ((s = glf_buf_create(ctx, n->acts_used * sizeof(float), &n->acts)) || (s = plan_(n)))
        goto fail;
    *out = n;
    return GLF_OK;
fail:
    glf_net_destroy(n);
    return s;
}

void glf_net_destroy(glf_net *n)
{
    if (!n)
        return;
    glf_buf_release(n->params), glf_buf_release(n->grads), glf_buf_release(n->m);
    glf_buf_release(n->v), glf_buf_release(n->state), glf_buf_release(n->acts);
    for (int k = 0; k < GLF_MAX_BLOCKS_; k++)
        glf_buf_release(n->blk[k].perm);
    glf_layout_free(&n->pl);
    glf_layout_free(&n->sl);
    if (n->rb_ev) { /* a step's read-back still in flight into n->rb */
        clWaitForEvents(1, &n->rb_ev);
        clReleaseEvent(n->rb_ev);
    }
    free(n->rb);
    free(n->perms);
    free(n->gmean);
    free(n->gchol);
    free(n);
}

glf_status glf_net_set_gaussian(glf_net *n, const double *mean, const double *chol)
{
    size_t d = (size_t)n->d;
    free(n->gmean);
    free(n->gchol);
    n->gmean = n->gchol = NULL;
    if (!mean || !chol)
        return GLF_OK;
    n->gmean = malloc(d * sizeof *n->gmean);
    n->gchol = malloc(d * d * sizeof *n->gchol);
    if (!n->gmean || !n->gchol) {
        free(n->gmean);
        free(n->gchol);
        n->gmean = n->gchol = NULL;
        return glf_fail(GLF_ERR_NOMEM, "out of memory storing the latent Gaussian");
    }
    memcpy(n->gmean, mean, d * sizeof *mean);
    memcpy(n->gchol, chol, d * d * sizeof *chol);
    return GLF_OK;
}

int glf_net_gaussian(const glf_net *n, const double **mean, const double **chol)
{
    if (!n->gmean)
        return 0;
    *mean = n->gmean;
    *chol = n->gchol;
    return 1;
}

const glf_config *glf_net_config(const glf_net *n) { return &n->cfg; }
glf_ctx *glf_net_ctx(const glf_net *n) { return n->ctx; }
int glf_net_max_batch(const glf_net *n) { return n->max_batch; }
const glf_layout *glf_net_param_layout(const glf_net *n) { return &n->pl; }
const glf_layout *glf_net_state_layout(const glf_net *n) { return &n->sl; }
cl_mem glf_net_params(const glf_net *n) { return n->params; }
cl_mem glf_net_grads(const glf_net *n) { return n->grads; }
cl_mem glf_net_adam_m(const glf_net *n) { return n->m; }
cl_mem glf_net_adam_v(const glf_net *n) { return n->v; }
cl_mem glf_net_state(const glf_net *n) { return n->state; }
const int *glf_net_perms(const glf_net *n) { return n->perms; }

glf_status glf_net_set_perms(glf_net *n, const int *perm)
{
    int d = n->d;
    for (int k = 0; k < n->cfg.flow_blocks; k++) {
        /* Each block's row must be a permutation of 0..d-1. */
        char *seen = calloc((size_t)d, 1);
        if (!seen)
            return glf_fail(GLF_ERR_NOMEM, "out of memory checking permutations");
        for (int j = 0; j < d; j++) {
            int p = perm[k * d + j];
            if (p < 0 || p >= d || seen[p]) {
                free(seen);
                return glf_fail(GLF_ERR_FORMAT,
                                "flow permutation of block %d is not a permutation of 0..%d "
                                "(entry %d = %d)", k, d - 1, j, p);
            }
            seen[p] = 1;
        }
        free(seen);
        cl_int tmp[1024];
        if (d > 1024)
            return glf_fail(GLF_ERR_INVALID_ARG, "latent size %d, expected <= 1024", d);
        for (int j = 0; j < d; j++)
            tmp[j] = perm[k * d + j];
        GLF_TRY(glf_buf_write(n->ctx, n->blk[k].perm, 0, (size_t)d * sizeof(cl_int), tmp));
    }
    if (perm != n->perms)
        memcpy(n->perms, perm, (size_t)n->cfg.flow_blocks * (size_t)d * sizeof *perm);
    return GLF_OK;
}

glf_status glf_net_init(glf_net *n, unsigned long long seed)
{
    glf_status s = GLF_OK;
    float *hp = malloc(n->pl.total * sizeof *hp), *hs = malloc((n->sl.total + 1) * sizeof *hs);
    if (!hp || !hs) {
        s = glf_fail(GLF_ERR_NOMEM, "out of memory initialising parameters");
    } else if (!(s = glf_init_params(&n->pl, seed, hp)) && !(s = glf_init_state(&n->sl, hs)) &&
               !(s = glf_buf_write(n->ctx, n->params, 0, n->pl.total * sizeof *hp, hp)) &&
               !(s = glf_buf_write(n->ctx, n->state, 0, n->sl.total * sizeof *hs, hs)) &&
               !(s = glf_fill(n->ctx, glf_dp(n->m, 0), n->pl.total, 0.0f)) &&
               !(s = glf_fill(n->ctx, glf_dp(n->v, 0), n->pl.total, 0.0f))) {
        s = glf_fill(n->ctx, glf_dp(n->grads, 0), n->pl.total, 0.0f);
    }
    free(hp);
    free(hs);
    return s;
}

/* ---- forward pieces ------------------------------------------------------ */

/* BatchNorm, then ReLU if relu: one pass when training
 * (glf_batchnorm_forward_train_act, the same bits as the two ops), two with
 * the running statistics. */
static glf_status bn_fwd_act_(glf_net *n, struct bn_ *b, glf_dptr y, glf_dptr x, int B,
                              glf_bn_mode m, int relu)
{
    const glf_config *c = &n->cfg;
    if (m == GLF_BN_RUNNING) {
        GLF_TRY(glf_batchnorm_forward_eval(n->ctx, y, b->rmean, b->rvar, x, b->gamma, b->beta, B,
                                           b->C, b->L, c->bn_eps));
        return relu ? glf_act_forward(n->ctx, y, y, (size_t)B * b->C * b->L, GLF_ACT_RELU)
                    : GLF_OK;
    }
    glf_dptr none = {NULL, 0};
    return glf_batchnorm_forward_train_act(n->ctx, y, b->mean, b->invstd,
                                           m == GLF_BN_TRAIN ? b->rmean : none,
                                           m == GLF_BN_TRAIN ? b->rvar : none, x, b->gamma,
                                           b->beta, B, b->C, b->L, c->bn_momentum, c->bn_eps,
                                           relu);
}

glf_status glf_bn_fwd_(glf_net *n, struct bn_ *b, glf_dptr y, glf_dptr x, int B, glf_bn_mode m)
{
    return bn_fwd_act_(n, b, y, x, B, m, 0);
}

static glf_status bn_relu_fwd_(glf_net *n, struct bn_ *b, glf_dptr y, glf_dptr x, int B,
                               glf_bn_mode m)
{
    return bn_fwd_act_(n, b, y, x, B, m, 1);
}

static glf_status conv_fwd_(glf_net *n, struct conv_ *c, glf_dptr y, glf_dptr x, int B)
{
    glf_conv_shape s = c->s;
    s.B = B;
    if (c->transposed)
        return glf_conv_transpose2d_forward(n->ctx, y, x, c->w, c->b, &s, n->conv_work);
    return glf_conv2d_forward(n->ctx, y, x, c->w, c->b, &s, n->conv_work);
}

static glf_status conv_bwd_(glf_net *n, struct conv_ *c, glf_dptr dx, glf_dptr dy, glf_dptr x,
                            int B)
{
    glf_conv_shape s = c->s;
    s.B = B;
    if (c->transposed)
        return glf_conv_transpose2d_backward(n->ctx, dx, c->dw, c->db, dy, x, c->w, &s,
                                             n->conv_work, 0);
    return glf_conv2d_backward(n->ctx, dx, c->dw, c->db, dy, x, c->w, &s, n->conv_work, 0);
}

static glf_status relu_(glf_net *n, glf_dptr x, size_t count)
{
    return glf_act_forward(n->ctx, x, x, count, GLF_ACT_RELU);
}

/* In place: dx = dy * (y > 0), y the ReLU output (y > 0 iff x > 0). */
static glf_status relu_bwd_(glf_net *n, glf_dptr g, glf_dptr y, size_t count)
{
    return glf_act_backward(n->ctx, g, g, y, y, count, GLF_ACT_RELU);
}

/* x (B, C, H, W) -> zenc (B, dz) */
static glf_status encode_(glf_net *n, glf_dptr x, int B, glf_bn_mode m)
{
    const glf_config *c = &n->cfg;
    size_t b = (size_t)B;
    SCOPE_(n, "enc.conv1", 0);
    GLF_TRY(conv_fwd_(n, &n->conv1, n->e1, x, B));
    SCOPE_(n, "activations", 0);
    GLF_TRY(relu_(n, n->e1, b * (size_t)c->conv1 * (c->height / 2) * (c->height / 2)));
    SCOPE_(n, "enc.conv2", 0);
    GLF_TRY(conv_fwd_(n, &n->conv2, n->e2, n->e1, B));
    SCOPE_(n, "batchnorm", 0);
    GLF_TRY(bn_relu_fwd_(n, &n->ebn2, n->e2n, n->e2, B, m));
    SCOPE_(n, "enc.fc1", 0);
    GLF_TRY(glf_linear_forward(n->ctx, n->e3, n->e2n, n->efc1.w, n->efc1.b, B, n->efc1.in, c->fc));
    SCOPE_(n, "batchnorm", 0);
    GLF_TRY(bn_relu_fwd_(n, &n->ebn3, n->e3n, n->e3, B, m));
    SCOPE_(n, "enc.fc2", 0);
    return glf_linear_forward(n->ctx, n->zenc, n->e3n, n->efc2.w, n->efc2.b, B, c->fc, n->dz);
}

/* z (B, d) -> xhat (B, C, H, W) in [0, 1] */
static glf_status decode_(glf_net *n, glf_dptr z, int B, glf_bn_mode m)
{
    const glf_config *c = &n->cfg;
    size_t b = (size_t)B;
    int flat = n->dfc2.out;
    SCOPE_(n, "dec.fc1", 0);
    GLF_TRY(glf_linear_forward(n->ctx, n->dc1, z, n->dfc1.w, n->dfc1.b, B, n->d, c->fc));
    SCOPE_(n, "batchnorm", 0);
    GLF_TRY(bn_relu_fwd_(n, &n->dbn1, n->dc1n, n->dc1, B, m));
    SCOPE_(n, "dec.fc2", 0);
    GLF_TRY(glf_linear_forward(n->ctx, n->dc2, n->dc1n, n->dfc2.w, n->dfc2.b, B, c->fc, flat));
    SCOPE_(n, "batchnorm", 0);
    GLF_TRY(bn_relu_fwd_(n, &n->dbn2, n->dc2n, n->dc2, B, m));
    SCOPE_(n, "dec.deconv1", 0);
    GLF_TRY(conv_fwd_(n, &n->deconv1, n->dc3, n->dc2n, B));
    SCOPE_(n, "batchnorm", 0);
    GLF_TRY(bn_relu_fwd_(n, &n->dbn3, n->dc3n, n->dc3, B, m));
    SCOPE_(n, "dec.deconv2", 0);
    GLF_TRY(conv_fwd_(n, &n->deconv2, n->dc4, n->dc3n, B));
    SCOPE_(n, "activations", 0);
    return glf_act_forward(n->ctx, n->xhat, n->dc4,
                           b * (size_t)c->channels * c->height * c->width, GLF_ACT_TANH_OUTMAP);
}

/* dxhat in gA -> all decoder gradients; dz_dec = gradient w.r.t. z */
static glf_status decode_bwd_(glf_net *n, glf_dptr z, int B)
{
    const glf_config *c = &n->cfg;
    size_t b = (size_t)B, S2 = (size_t)c->height / 2;
    int flat = n->dfc2.out;
    glf_dptr gA = n->gA, gB = n->gB;
    SCOPE_(n, "activations", 1);
    GLF_TRY(glf_act_backward(n->ctx, gA, gA, n->dc4, n->xhat,
                             b * (size_t)c->channels * c->height * c->width, GLF_ACT_TANH_OUTMAP));
    SCOPE_(n, "dec.deconv2", 1);
    GLF_TRY(conv_bwd_(n, &n->deconv2, gB, gA, n->dc3n, B));
    SCOPE_(n, "activations", 1);
    GLF_TRY(relu_bwd_(n, gB, n->dc3n, b * (size_t)c->conv1 * S2 * S2));
    SCOPE_(n, "batchnorm", 1);
    GLF_TRY(glf_batchnorm_backward(n->ctx, gA, n->dbn3.dgamma, n->dbn3.dbeta, gB, n->dc3,
                                   n->dbn3.mean, n->dbn3.invstd, n->dbn3.gamma, B, n->dbn3.C,
                                   n->dbn3.L, 0));
    SCOPE_(n, "dec.deconv1", 1);
    GLF_TRY(conv_bwd_(n, &n->deconv1, gB, gA, n->dc2n, B));
    SCOPE_(n, "activations", 1);
    GLF_TRY(relu_bwd_(n, gB, n->dc2n, b * (size_t)flat));
    SCOPE_(n, "batchnorm", 1);
    GLF_TRY(glf_batchnorm_backward(n->ctx, gA, n->dbn2.dgamma, n->dbn2.dbeta, gB, n->dc2,
                                   n->dbn2.mean, n->dbn2.invstd, n->dbn2.gamma, B, flat, 1, 0));
    SCOPE_(n, "dec.fc2", 1);
    GLF_TRY(glf_linear_backward(n->ctx, gB, n->dfc2.dw, n->dfc2.db, gA, n->dc1n, n->dfc2.w, B,
                                c->fc, flat, 0));
    SCOPE_(n, "activations", 1);
    GLF_TRY(relu_bwd_(n, gB, n->dc1n, b * (size_t)c->fc));
    SCOPE_(n, "batchnorm", 1);
    GLF_TRY(glf_batchnorm_backward(n->ctx, gA, n->dbn1.dgamma, n->dbn1.dbeta, gB, n->dc1,
                                   n->dbn1.mean, n->dbn1.invstd, n->dbn1.gamma, B, c->fc, 1, 0));
    SCOPE_(n, "dec.fc1", 1);
    return glf_linear_backward(n->ctx, n->dz_dec, n->dfc1.dw, n->dfc1.db, gA, z, n->dfc1.w, B,
                               n->d, c->fc, 0);
}

/* gradient w.r.t. zenc in dz_dec (B, dz) -> all encoder gradients */
static glf_status encode_bwd_(glf_net *n, glf_dptr x, int B)
{
    const glf_config *c = &n->cfg;
    size_t b = (size_t)B, S2 = (size_t)c->height / 2;
    int flat = n->efc1.in;
    glf_dptr gA = n->gA, gB = n->gB, none = {NULL, 0};
    SCOPE_(n, "enc.fc2", 1);
    GLF_TRY(glf_linear_backward(n->ctx, gB, n->efc2.dw, n->efc2.db, n->dz_dec, n->e3n, n->efc2.w,
                                B, c->fc, n->dz, 0));
    SCOPE_(n, "activations", 1);
    GLF_TRY(relu_bwd_(n, gB, n->e3n, b * (size_t)c->fc));
    SCOPE_(n, "batchnorm", 1);
    GLF_TRY(glf_batchnorm_backward(n->ctx, gA, n->ebn3.dgamma, n->ebn3.dbeta, gB, n->e3,
                                   n->ebn3.mean, n->ebn3.invstd, n->ebn3.gamma, B, c->fc, 1, 0));
    SCOPE_(n, "enc.fc1", 1);
    GLF_TRY(glf_linear_backward(n->ctx, gB, n->efc1.dw, n->efc1.db, gA, n->e2n, n->efc1.w, B,
                                flat, c->fc, 0));
    SCOPE_(n, "activations", 1);
    GLF_TRY(relu_bwd_(n, gB, n->e2n, b * (size_t)flat));
    SCOPE_(n, "batchnorm", 1);
    GLF_TRY(glf_batchnorm_backward(n->ctx, gA, n->ebn2.dgamma, n->ebn2.dbeta, gB, n->e2,
                                   n->ebn2.mean, n->ebn2.invstd, n->ebn2.gamma, B, n->ebn2.C,
                                   n->ebn2.L, 0));
    SCOPE_(n, "enc.conv2", 1);
    GLF_TRY(conv_bwd_(n, &n->conv2, gB, gA, n->e1, B));
    SCOPE_(n, "activations", 1);
    GLF_TRY(relu_bwd_(n, gB, n->e1, b * (size_t)c->conv1 * S2 * S2));
    SCOPE_(n, "enc.conv1", 1);
    return conv_bwd_(n, &n->conv1, none, gB, x, B);
}

/* ---- the training step ------------------------------------------------------ */

static glf_status check_batch_(const glf_net *n, int B)
{
    if (B < 1 || B > n->max_batch)
        return glf_fail(GLF_ERR_INVALID_ARG, "batch %d, expected 1..%d (the network's maximum)",
                        B, n->max_batch);
    return GLF_OK;
}

/* Scales of the loss terms by mode (glf-method.md): recon, nll, entropy. */
static void scales_(const glf_config *c, float s[3])
{
    s[0] = c->mode == GLF_MODE_REGULARIZED ? 0.5f * c->beta
           : c->mode == GLF_MODE_VAE_FLOW  ? c->beta
                                           : 1.0f;
    s[1] = 1.0f;
    s[2] = c->mode == GLF_MODE_VAE_FLOW ? 1.0f : 0.0f;
}

glf_status glf_net_step_enqueue(glf_net *n, glf_dptr x, int B, const float *eps)
{
    const glf_config *c = &n->cfg;
    glf_ctx *ctx = n->ctx;
    glf_dptr none = {NULL, 0};
    int N = c->channels * c->height * c->width, d = n->d;
    GLF_TRY(check_batch_(n, B));
    if (c->mode == GLF_MODE_VAE_FLOW && !eps)
        return glf_fail(GLF_ERR_INVALID_ARG, "vae-flow mode needs reparameterisation noise");
    if (n->rb_pending)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_net_step_enqueue: the previous step's losses "
                        "were not collected (glf_net_step_losses)");

    float sc[3];
    scales_(c, sc);
    if (n->loss_batch) /* this step's share of a global batch's losses */
        for (int i = 0; i < 3; i++)
            sc[i] = (float)((double)sc[i] * B / n->loss_batch);
    float s_recon = sc[0], s_nll = sc[1], s_ent = sc[2];
    int flow_on = c->mode != GLF_MODE_AE_GAUSS;
    int flow_grad_to_encoder = c->mode == GLF_MODE_REGULARIZED || c->mode == GLF_MODE_VAE_FLOW;

    /* forward */
    GLF_TRY(encode_(n, x, B, GLF_BN_TRAIN));
    glf_dptr z = n->zenc;
    if (c->mode == GLF_MODE_VAE_FLOW) {
        SCOPE_(n, "other", 0);
        GLF_TRY(glf_copy2d(ctx, n->mu, d, n->zenc, 2 * d, B, d));
        GLF_TRY(glf_copy2d(ctx, n->logvar, d, glf_dp(n->zenc.buf, n->zenc.off + (size_t)d), 2 * d,
                           B, d));
        GLF_TRY(glf_buf_write(ctx, n->eps.buf, n->eps.off * sizeof(float),
                              (size_t)B * (size_t)d * sizeof(float), eps));
        GLF_TRY(glf_reparam_forward(ctx, n->z, n->mu, n->logvar, n->eps, B, d));
        z = n->z;
    }
    GLF_TRY(decode_(n, z, B, GLF_BN_TRAIN));
    SCOPE_(n, "flow", 0);
    if (flow_on)
        GLF_TRY(glf_flow_forward_(n, n->zhat, n->ldj, z, B, GLF_BN_TRAIN));
    SCOPE_(n, "losses", 0);

    /* losses and their gradients */
    glf_dptr lrec = glf_dp(n->scalars.buf, n->scalars.off);
    glf_dptr lnll = glf_dp(n->scalars.buf, n->scalars.off + 1);
    glf_dptr lent = glf_dp(n->scalars.buf, n->scalars.off + 2);
    /* The scaled recon term goes through the loss (loss and gradient scaled). */
    if (c->recon == GLF_RECON_BCE)
        GLF_TRY(glf_bce_loss(ctx, lrec, n->gA, n->xhat, x, B, N, s_recon, n->loss_work));
    else
        GLF_TRY(glf_mse_loss(ctx, lrec, n->gA, n->xhat, x, B, N, s_recon, n->loss_work));
    if (flow_on)
        GLF_TRY(glf_gauss_nll(ctx, lnll, n->dzhat, n->dldj, n->zhat, n->ldj, B, d, s_nll,
                              n->loss_work));
    else
        GLF_TRY(glf_fill(ctx, lnll, 1, 0.0f));

    /* backward: decoder, flow, encoder */
    GLF_TRY(decode_bwd_(n, z, B));
    SCOPE_(n, "flow", 1);
    if (flow_on)
        GLF_TRY(glf_flow_backward_(n, flow_grad_to_encoder ? n->dz_flow : none, n->dzhat, n->dldj,
                                   B));
    SCOPE_(n, "other", 1);
    if (c->mode == GLF_MODE_VAE_FLOW) {
        /* dz = dz_dec + dz_flow; through the reparameterisation into (mu, logvar),
         * plus the entropy term's gradient on logvar. */
        GLF_TRY(glf_axpby(ctx, n->dz_flow, n->dz_dec, (size_t)B * d, 1.0f, 1.0f));
        glf_dptr dmu = n->gA, dlv = glf_dp(n->gA.buf, n->gA.off + (size_t)B * d);
        GLF_TRY(glf_vae_entropy(ctx, lent, dlv, n->logvar, B, d, s_ent, n->loss_work));
        GLF_TRY(glf_reparam_backward(ctx, dmu, dlv, n->dz_flow, n->logvar, n->eps, B, d, 1));
        GLF_TRY(glf_copy2d(ctx, n->dz_dec, 2 * d, dmu, d, B, d));
        GLF_TRY(glf_copy2d(ctx, glf_dp(n->dz_dec.buf, n->dz_dec.off + (size_t)d), 2 * d, dlv, d, B,
                           d));
    } else {
        GLF_TRY(glf_fill(ctx, lent, 1, 0.0f));
        if (flow_grad_to_encoder)
            GLF_TRY(glf_axpby(ctx, n->dz_dec, n->dz_flow, (size_t)B * d, 1.0f, 1.0f));
    }
    GLF_TRY(encode_bwd_(n, x, B));
    SCOPE_(n, NULL, 0);

    /* Queue the read-back of what the progress line needs; the host waits
     * for it in glf_net_step_losses while later commands keep the device busy. */
    size_t nz = (size_t)B * (size_t)d;
    if (!n->rb) {
        n->rb = malloc((3 + (size_t)n->max_batch * ((size_t)d + 1)) * sizeof *n->rb);
        if (!n->rb)
            return glf_fail(GLF_ERR_NOMEM, "out of memory for the step's read-back");
    }
    cl_event e1 = NULL, e2 = NULL, e3 = NULL;
    glf_status s = glf_buf_read_async(ctx, n->scalars.buf, n->scalars.off * sizeof(float),
                                      3 * sizeof(float), n->rb, &e1);
    if (!s)
        s = glf_buf_read_async(ctx, z.buf, z.off * sizeof(float), nz * sizeof(float), n->rb + 3,
                               &e2);
    if (!s && flow_on)
        s = glf_buf_read_async(ctx, n->ldj.buf, n->ldj.off * sizeof(float),
                               (size_t)B * sizeof(float), n->rb + 3 + nz, &e3);
    if (s) { /* nothing to collect: wait for what was queued, then fail */
        cl_event ev[3] = {e1, e2, e3};
        for (int i = 0; i < 3; i++)
            if (ev[i]) {
                clWaitForEvents(1, &ev[i]);
                clReleaseEvent(ev[i]);
            }
        return s;
    }
    /* In-order queue: the last read completes after the others. */
    if (e3) {
        clReleaseEvent(e1), clReleaseEvent(e2);
        n->rb_ev = e3;
    } else {
        clReleaseEvent(e1);
        n->rb_ev = e2;
    }
    n->rb_pending = 1;
    n->rb_B = B;
    return GLF_OK;
}

glf_status glf_net_step_losses(glf_net *n, glf_losses *out)
{
    if (!n->rb_pending)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_net_step_losses: no step queued (glf_net_step_enqueue)");
    n->rb_pending = 0;
    cl_int err = clWaitForEvents(1, &n->rb_ev);
    clReleaseEvent(n->rb_ev);
    n->rb_ev = NULL;
    if (err != CL_SUCCESS)
        return glf_fail(GLF_ERR_OPENCL, "reading back the step's losses: %s",
                        glf_cl_error_name(err));
    const float *sc = n->rb, *hz = n->rb + 3;
    int B = n->rb_B, flow_on = n->cfg.mode != GLF_MODE_AE_GAUSS;
    float k[3];
    scales_(&n->cfg, k);
    size_t nz = (size_t)B * (size_t)n->d;
    out->recon = sc[0] / k[0];
    out->nll = sc[1] / k[1];
    out->entropy = k[2] != 0.0f ? sc[2] / k[2] : 0.0f;
    out->total = sc[0] + sc[1] + sc[2];
    double az = 0, ld = 0;
    /* The stride of z is d except for the encoder output in vae mode (handled: z = n->z). */
    for (size_t i = 0; i < nz; i++)
        az += fabs((double)hz[i]);
    for (int i = 0; flow_on && i < B; i++)
        ld += hz[nz + (size_t)i];
    int Bn = n->loss_batch ? n->loss_batch : B; /* shares of a global batch */
    out->mean_abs_z = (float)(az / ((double)Bn * n->d));
    out->mean_logdet = flow_on ? (float)(ld / Bn) : 0.0f;
    return GLF_OK;
}

glf_status glf_net_forward_backward(glf_net *n, glf_dptr x, int B, const float *eps,
                                    glf_losses *out)
{
    GLF_TRY(glf_net_step_enqueue(n, x, B, eps));
    return glf_net_step_losses(n, out);
}

glf_status glf_net_set_loss_batch(glf_net *n, int batch)
{
    if (batch < 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "loss batch %d, expected >= 0", batch);
    n->loss_batch = batch;
    return GLF_OK;
}

glf_status glf_net_adam(glf_net *n, int epoch, long t)
{
    const glf_config *c = &n->cfg;
    glf_adam_hp ae = c->adam_ae, fl = c->adam_flow;
    ae.lr = glf_steplr(c->lr_ae, epoch, c->lr_step_epochs, c->lr_gamma);
    fl.lr = glf_steplr(c->lr_flow, epoch, c->lr_step_epochs, c->lr_gamma);
    SCOPE_(n, "adam", 0);
    GLF_TRY(glf_adam_step(n->ctx, n->params, n->grads, n->m, n->v, n->pl.group_off[0],
                          n->pl.group_n[0], &ae, t));
    if (c->mode == GLF_MODE_AE_GAUSS)
        return GLF_OK;
    return glf_adam_step(n->ctx, n->params, n->grads, n->m, n->v, n->pl.group_off[1],
                         n->pl.group_n[1], &fl, t);
}

/* ---- cost model (glf bench) ------------------------------------------------ */

static void cost_(glf_net_cost *out, int max, int *k, const char *op, double ff, double fb,
                  double bf, double bb)
{
    int j = 0;
    while (j < *k && j < max && strcmp(out[j].op, op))
        j++;
    if (j == *k) {
        if (j < max) {
            memset(&out[j], 0, sizeof out[j]);
            snprintf(out[j].op, sizeof out[j].op, "%s", op);
        }
        (*k)++;
    }
    if (j < max) {
        out[j].flop_fwd += ff, out[j].flop_bwd += fb;
        out[j].bytes_fwd += bf, out[j].bytes_bwd += bb;
    }
}

/* Multiply-adds of a convolution per image: each output (Conv2d) or input
 * (ConvTranspose2d) pixel meets Cin*K*K (Cout*K*K) weights. */
static double conv_macs_(const struct conv_ *c)
{
    const glf_conv_shape *s = &c->s;
    if (c->transposed)
        return (double)s->Cin * s->H * s->W * s->Cout * s->K * s->K;
    int ho = glf_conv2d_out(s->H, s->K, s->S, s->P), wo = glf_conv2d_out(s->W, s->K, s->S, s->P);
    return (double)s->Cout * ho * wo * s->Cin * s->K * s->K;
}

static double mlp_macs_(const struct mlp_ *m)
{
    return (double)m->fc1.in * m->fc1.out + (double)m->fc2.in * m->fc2.out +
           (double)m->fc3.in * m->fc3.out;
}

int glf_net_costs(const glf_net *n, int B, glf_net_cost *out, int max)
{
    const glf_config *c = &n->cfg;
    double b = B;
    int k = 0;
    /* Products: forward 2 FLOPs per multiply-add; backward the weight
     * gradient and (except for the first layer, whose input is the data) the
     * input gradient, each as much again. */
    const struct {
        const char *op;
        const struct conv_ *cv;
        const struct lin_ *ln;
        int dx;
    } prods[] = {{"enc.conv1", &n->conv1, NULL, 0}, {"enc.conv2", &n->conv2, NULL, 1},
                 {"enc.fc1", NULL, &n->efc1, 1},    {"enc.fc2", NULL, &n->efc2, 1},
                 {"dec.fc1", NULL, &n->dfc1, 1},    {"dec.fc2", NULL, &n->dfc2, 1},
                 {"dec.deconv1", &n->deconv1, NULL, 1}, {"dec.deconv2", &n->deconv2, NULL, 1}};
    for (size_t i = 0; i < sizeof prods / sizeof prods[0]; i++) {
        double macs = prods[i].cv ? conv_macs_(prods[i].cv)
                                  : (double)prods[i].ln->in * prods[i].ln->out;
        cost_(out, max, &k, prods[i].op, 2 * b * macs, 2 * b * macs * (1 + prods[i].dx), 0, 0);
    }
    /* BatchNorm and activations: elements per image of each layer. The
     * ReLUs after BatchNorm run in BatchNorm's pass forward (counted there),
     * as their own pass backward. */
    double S = c->height, S2 = S / 2;
    double bn = (double)n->ebn2.C * n->ebn2.L + n->ebn3.C * n->ebn3.L + n->dbn1.C * n->dbn1.L +
                (double)n->dbn2.C * n->dbn2.L + (double)n->dbn3.C * n->dbn3.L;
    double own = (double)c->conv1 * S2 * S2 + (double)c->channels * S * c->width;
    double act = own + n->efc1.in + c->fc + c->fc + n->dfc2.out + (double)c->conv1 * S2 * S2;
    cost_(out, max, &k, "batchnorm", 0, 0, 8 * b * bn, 12 * b * bn);
    cost_(out, max, &k, "activations", 0, 0, 8 * b * own, 12 * b * act);
    if (c->mode != GLF_MODE_AE_GAUSS) {
        double macs = 0;
        for (int i = 0; i < c->flow_blocks; i++)
            macs += mlp_macs_(&n->blk[i].s1) + mlp_macs_(&n->blk[i].t1) +
                    mlp_macs_(&n->blk[i].s2) + mlp_macs_(&n->blk[i].t2);
        cost_(out, max, &k, "flow", 2 * b * macs, 4 * b * macs, 0, 0);
    }
    double pix = (double)c->channels * S * c->width;
    cost_(out, max, &k, "losses", 0, 0, 12 * b * pix, 0);
    double np = (double)n->pl.group_n[0] + (c->mode != GLF_MODE_AE_GAUSS ? n->pl.group_n[1] : 0);
    cost_(out, max, &k, "adam", 0, 0, 28 * np, 0);
    return k;
}

/* ---- inference ------------------------------------------------------------- */

glf_status glf_net_encode(glf_net *n, glf_dptr z, glf_dptr x, int B, glf_bn_mode bn)
{
    GLF_TRY(check_batch_(n, B));
    GLF_TRY(encode_(n, x, B, bn));
    return glf_copy2d(n->ctx, z, n->d, n->zenc, n->dz, B, n->d);
}

glf_status glf_net_decode(glf_net *n, glf_dptr xhat, glf_dptr z, int B, glf_bn_mode bn)
{
    const glf_config *c = &n->cfg;
    GLF_TRY(check_batch_(n, B));
    GLF_TRY(decode_(n, z, B, bn));
    int N = c->channels * c->height * c->width;
    return glf_copy2d(n->ctx, xhat, N, n->xhat, N, B, N);
}

glf_status glf_net_flow(glf_net *n, glf_dptr zhat, glf_dptr ldj, glf_dptr z, int B,
                        glf_bn_mode bn)
{
    GLF_TRY(check_batch_(n, B));
    return glf_flow_forward_(n, zhat, ldj, z, B, bn);
}

glf_status glf_net_flow_inverse(glf_net *n, glf_dptr z, glf_dptr zhat, int B, glf_bn_mode bn)
{
    GLF_TRY(check_batch_(n, B));
    return glf_flow_inverse_(n, z, zhat, B, bn);
}
