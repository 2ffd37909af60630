/* The data-parallel half of the training loop (train.c): one step on this
 * rank's part of the batch with BatchNorm's statistics summed across ranks
 * during it, then one sum of the gradients, the losses and the stop flag,
 * and the agreements that keep the ranks together around rank 0's
 * checkpoints. The sums themselves are the caller's (glf_comm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/util.h"
#include "train/train_internal.h"

/* The context's allreduce hook during a step: the comm's sum, timed. */
static glf_status bn_hook_(void *user, float *data, size_t n)
{
    glf_dp_ *dp = user;
    double t0 = glf_now();
    glf_status s = dp->c->sum(dp->c->user, data, n);
    dp->bn_s += glf_now() - t0;
    dp->bn_floats += (double)n;
    return s;
}

glf_status glf_dp_init_(glf_dp_ *dp, const glf_comm *c, glf_net *net)
{
    memset(dp, 0, sizeof *dp);
    dp->c = c;
    dp->P = glf_net_param_layout(net)->total;
    dp->h = malloc((dp->P + GLF_DP_EXTRA_) * sizeof *dp->h);
    if (!dp->h)
        return glf_fail(GLF_ERR_NOMEM, "out of memory for the %zu gradients summed across ranks",
                        dp->P);
    return GLF_OK;
}

void glf_dp_free_(glf_dp_ *dp)
{
    free(dp->h);
    dp->h = NULL;
}

glf_status glf_dp_step_(glf_dp_ *dp, glf_net *net, glf_dptr x, int B, const float *eps,
                        int stop, glf_losses *l, int *stop_all, glf_progress *pr)
{
    glf_ctx *ctx = glf_net_ctx(net);
    const glf_comm *c = dp->c;
    dp->bn_s = dp->bn_floats = 0;
    if (!c->bn_local)
        glf_ctx_set_allreduce(ctx, bn_hook_, dp);
    glf_status s = glf_net_step_enqueue(net, x, B, eps);
    glf_ctx_set_allreduce(ctx, NULL, NULL);
    /* The losses' read-back is queued last: once it is in, so is the step. */
    GLF_TRY(s);
    GLF_TRY(glf_net_step_losses(net, l));
    size_t P = dp->P;
    float *h = dp->h;
    double t0 = glf_now();
    GLF_TRY(glf_buf_read(ctx, glf_net_grads(net), 0, P * sizeof *h, h));
    double t1 = glf_now();
    /* Each field of l is this rank's share (glf_net_set_loss_batch). */
    const float mine[GLF_DP_EXTRA_] = {l->recon, l->nll, l->entropy, l->total, l->mean_logdet,
                                       l->mean_abs_z, stop ? 1.0f : 0.0f};
    memcpy(h + P, mine, sizeof mine);
    GLF_TRY(c->sum(c->user, h, P + GLF_DP_EXTRA_));
    double t2 = glf_now();
    GLF_TRY(glf_buf_write(ctx, glf_net_grads(net), 0, P * sizeof *h, h));
    double t3 = glf_now();
    l->recon = h[P], l->nll = h[P + 1], l->entropy = h[P + 2], l->total = h[P + 3];
    l->mean_logdet = h[P + 4], l->mean_abs_z = h[P + 5];
    *stop_all = h[P + 6] > 0.5f;
    pr->sync_s = t3 - t0;
    pr->sync_copy_s = (t1 - t0) + (t3 - t2);
    pr->bn_sync_s = dp->bn_s;
    pr->sync_floats = (double)(P + GLF_DP_EXTRA_) + dp->bn_floats;
    return GLF_OK;
}

glf_status glf_dp_agree_(glf_comm *c, glf_status s, const char *what)
{
    if (!c)
        return s;
    float f = s != GLF_OK ? 1.0f : 0.0f;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", glf_last_error()); /* the sum may overwrite it */
    glf_status cs = c->sum(c->user, &f, 1);
    if (cs == GLF_OK)
        c->failed_together = (int)(f + 0.5f);
    if (s != GLF_OK)
        return glf_fail(s, "%s", msg);
    if (cs != GLF_OK)
        return cs;
    if (f > 0.5f)
        return glf_fail(GLF_ERR_COMM, "rank %d: %.0f other rank(s) failed %s (their messages say "
                        "why)", c->rank, (double)f, what);
    return GLF_OK;
}
