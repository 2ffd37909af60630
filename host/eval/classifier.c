/* The FID-clf classifier (include/glf/classifier.h): parameters, Adam state
 * and activations in a few flat device buffers addressed by offsets, forward
 * and backward composed from libglf's conv, linear, activation, xent and
 * Adam ops, training over a glf_dataset and feature extraction. */
#include "glf/classifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/checkpoint.h"
#include "glf/ops_conv.h"
#include "glf/ops_flow.h"
#include "glf/ops_norm.h"
#include "glf/ops_xent.h"
#include "glf/rng.h"

#define CLF_C1_ 32
#define CLF_C2_ 64
#define CLF_C3_ 128
#define CLF_NT_ 10 /* tensors */

typedef struct clf_tensor_ {
    char name[32];
    int ndim, shape[4];
    size_t off, n;
    int fan_in;
} clf_tensor_;

enum { T_C1W_, T_C1B_, T_C2W_, T_C2B_, T_C3W_, T_C3B_, T_F1W_, T_F1B_, T_F2W_, T_F2B_ };

struct glf_classifier {
    glf_ctx *ctx;
    int C, H, W, K, Bm;
    int H2, W2, H3, W3, flat; /* after conv2, after conv3, 128*H3*W3 */
    clf_tensor_ t[CLF_NT_];
    size_t np;
    cl_mem params, grads, m, v;
    /* act: a1 r1 a2 r2 a3 r3 f rf logits loss; gact: g1 g2 g3 gf gl */
    cl_mem act, gact, work, labels, pred, xbuf;
    size_t a1, r1, a2, r2, a3, r3, f, rf, lg, ls;
    size_t g1, g2, g3, gf, gl;
    size_t n1, n2, n3; /* floats per image after conv1/2/3 */
};

static glf_dptr P_(const glf_classifier *c, int i) { return glf_dp(c->params, c->t[i].off); }
static glf_dptr G_(const glf_classifier *c, int i) { return glf_dp(c->grads, c->t[i].off); }
static glf_dptr A_(const glf_classifier *c, size_t off) { return glf_dp(c->act, off); }
static glf_dptr D_(const glf_classifier *c, size_t off) { return glf_dp(c->gact, off); }

static void tensor_(glf_classifier *c, int i, const char *name, int ndim, int s0, int s1, int s2,
                    int s3, int fan_in)
{
    clf_tensor_ *t = &c->t[i];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->shape[0] = s0, t->shape[1] = s1, t->shape[2] = s2, t->shape[3] = s3;
    t->n = 1;
    for (int k = 0; k < ndim; k++)
        t->n *= (size_t)t->shape[k];
    t->off = c->np;
    t->fan_in = fan_in;
    c->np += t->n;
}

static glf_conv_shape shape_(const glf_classifier *c, int layer, int B)
{
    glf_conv_shape s;
    memset(&s, 0, sizeof s);
    s.B = B;
    if (layer == 1)
        s.Cin = c->C, s.H = c->H, s.W = c->W, s.Cout = CLF_C1_, s.K = 3, s.S = 1, s.P = 1;
    else if (layer == 2)
        s.Cin = CLF_C1_, s.H = c->H, s.W = c->W, s.Cout = CLF_C2_, s.K = 4, s.S = 2, s.P = 1;
    else
        s.Cin = CLF_C2_, s.H = c->H2, s.W = c->W2, s.Cout = CLF_C3_, s.K = 4, s.S = 2, s.P = 1;
    return s;
}

static glf_status buf_(glf_classifier *c, size_t floats, cl_mem *out)
{
    return glf_buf_create(c->ctx, (floats ? floats : 1) * sizeof(float), out);
}

glf_status glf_classifier_create(glf_ctx *ctx, int channels, int height, int width, int classes,
                                 int max_batch, glf_classifier **out)
{
    *out = NULL;
    if (channels < 1 || height < 4 || width < 4 || height % 4 || width % 4 || classes < 2 ||
        max_batch < 1)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_classifier_create: images %dx%dx%d, %d classes, batch %d; "
                        "expected height and width divisible by 4, >= 2 classes, batch >= 1",
                        channels, height, width, classes, max_batch);
    glf_classifier *c = calloc(1, sizeof *c);
    if (!c)
        return glf_fail(GLF_ERR_NOMEM, "glf_classifier_create: out of memory");
    c->ctx = ctx, c->C = channels, c->H = height, c->W = width, c->K = classes;
    c->Bm = max_batch;
    c->H2 = glf_conv2d_out(height, 4, 2, 1), c->W2 = glf_conv2d_out(width, 4, 2, 1);
    c->H3 = glf_conv2d_out(c->H2, 4, 2, 1), c->W3 = glf_conv2d_out(c->W2, 4, 2, 1);
    c->flat = CLF_C3_ * c->H3 * c->W3;
    tensor_(c, T_C1W_, "conv1.weight", 4, CLF_C1_, channels, 3, 3, channels * 9);
    tensor_(c, T_C1B_, "conv1.bias", 1, CLF_C1_, 0, 0, 0, channels * 9);
    tensor_(c, T_C2W_, "conv2.weight", 4, CLF_C2_, CLF_C1_, 4, 4, CLF_C1_ * 16);
    tensor_(c, T_C2B_, "conv2.bias", 1, CLF_C2_, 0, 0, 0, CLF_C1_ * 16);
    tensor_(c, T_C3W_, "conv3.weight", 4, CLF_C3_, CLF_C2_, 4, 4, CLF_C2_ * 16);
    tensor_(c, T_C3B_, "conv3.bias", 1, CLF_C3_, 0, 0, 0, CLF_C2_ * 16);
    tensor_(c, T_F1W_, "fc1.weight", 2, GLF_CLF_FEATURES, c->flat, 0, 0, c->flat);
    tensor_(c, T_F1B_, "fc1.bias", 1, GLF_CLF_FEATURES, 0, 0, 0, c->flat);
    tensor_(c, T_F2W_, "fc2.weight", 2, classes, GLF_CLF_FEATURES, 0, 0, GLF_CLF_FEATURES);
    tensor_(c, T_F2B_, "fc2.bias", 1, classes, 0, 0, 0, GLF_CLF_FEATURES);

    size_t B = (size_t)max_batch;
    c->n1 = (size_t)CLF_C1_ * height * width;
    c->n2 = (size_t)CLF_C2_ * c->H2 * c->W2;
    c->n3 = (size_t)c->flat;
    size_t o = 0;
    c->a1 = o, o += B * c->n1, c->r1 = o, o += B * c->n1;
    c->a2 = o, o += B * c->n2, c->r2 = o, o += B * c->n2;
    c->a3 = o, o += B * c->n3, c->r3 = o, o += B * c->n3;
    c->f = o, o += B * GLF_CLF_FEATURES, c->rf = o, o += B * GLF_CLF_FEATURES;
    c->lg = o, o += B * (size_t)classes, c->ls = o, o += 1;
    size_t na = o;
    o = 0;
    c->g1 = o, o += B * c->n1, c->g2 = o, o += B * c->n2, c->g3 = o, o += B * c->n3;
    c->gf = o, o += B * GLF_CLF_FEATURES, c->gl = o, o += B * (size_t)classes;
    size_t ng = o, nw = glf_softmax_xent_workspace(max_batch, classes);
    for (int l = 1; l <= 3; l++) {
        glf_conv_shape s = shape_(c, l, max_batch);
        size_t w = glf_conv2d_workspace(&s);
        nw = w > nw ? w : nw;
    }
    glf_status st;
    if ((st = buf_(c, c->np, &c->params)) != GLF_OK || (st = buf_(c, c->np, &c->grads)) != GLF_OK ||
        (st = buf_(c, c->np, &c->m)) != GLF_OK || (st = buf_(c, c->np, &c->v)) != GLF_OK ||
        (st = buf_(c, na, &c->act)) != GLF_OK || (st = buf_(c, ng, &c->gact)) != GLF_OK ||
        (st = buf_(c, nw, &c->work)) != GLF_OK || (st = buf_(c, B, &c->labels)) != GLF_OK ||
        (st = buf_(c, B, &c->pred)) != GLF_OK ||
        (st = buf_(c, B * (size_t)channels * height * width, &c->xbuf)) != GLF_OK) {
        glf_classifier_destroy(c);
        return glf_fail_context(st, "glf_classifier_create (%zu parameters, batch %d)", c->np,
                                max_batch);
    }
    *out = c;
    return GLF_OK;
}

void glf_classifier_destroy(glf_classifier *c)
{
    if (!c)
        return;
    cl_mem *bufs[] = {&c->params, &c->grads, &c->m,      &c->v,    &c->act,
                      &c->gact,   &c->work,  &c->labels, &c->pred, &c->xbuf};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        glf_buf_release(*bufs[i]);
    free(c);
}

size_t glf_classifier_param_count(const glf_classifier *c) { return c->np; }

glf_status glf_classifier_get_params(glf_classifier *c, float *host)
{
    return glf_buf_read(c->ctx, c->params, 0, c->np * sizeof(float), host);
}

glf_status glf_classifier_set_params(glf_classifier *c, const float *host)
{
    return glf_buf_write(c->ctx, c->params, 0, c->np * sizeof(float), host);
}

static glf_status reset_adam_(glf_classifier *c)
{
    GLF_TRY(glf_buf_fill_f32(c->ctx, c->m, 0, c->np, 0.0f));
    return glf_buf_fill_f32(c->ctx, c->v, 0, c->np, 0.0f);
}

glf_status glf_classifier_init(glf_classifier *c, unsigned long long seed)
{
    float *h = malloc(c->np * sizeof *h);
    if (!h)
        return glf_fail(GLF_ERR_NOMEM, "glf_classifier_init: out of memory (%zu floats)", c->np);
    for (int i = 0; i < CLF_NT_; i++) {
        /* One RNG stream per tensor: a tensor's values do not depend on the others. */
        glf_rng r;
        glf_rng_init(&r, seed, 0xc1f000u + (uint64_t)i);
        double bound = 1.0 / sqrt((double)c->t[i].fan_in);
        for (size_t k = 0; k < c->t[i].n; k++)
            h[c->t[i].off + k] = (float)(bound * (2.0 * glf_rng_uniform_f64(&r) - 1.0));
    }
    glf_status s = glf_classifier_set_params(c, h);
    free(h);
    GLF_TRY(s);
    return reset_adam_(c);
}

static glf_status check_batch_(const glf_classifier *c, const char *fn, int B)
{
    if (B < 1 || B > c->Bm)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: batch %d, expected 1..%d (max_batch)", fn, B,
                        c->Bm);
    return GLF_OK;
}

glf_status glf_classifier_forward(glf_classifier *c, glf_dptr features, glf_dptr logits,
                                  glf_dptr x, int B)
{
    GLF_TRY(check_batch_(c, "glf_classifier_forward", B));
    glf_ctx *ctx = c->ctx;
    glf_dptr work = glf_dp(c->work, 0);
    glf_conv_shape s1 = shape_(c, 1, B), s2 = shape_(c, 2, B), s3 = shape_(c, 3, B);
    size_t b = (size_t)B;
    /* Write features/logits straight to the caller's tensors when given. */
    glf_dptr f = features.buf ? features : A_(c, c->f);
    glf_dptr lg = logits.buf ? logits : A_(c, c->lg);
    GLF_TRY(glf_conv2d_forward(ctx, A_(c, c->a1), x, P_(c, T_C1W_), P_(c, T_C1B_), &s1, work));
    GLF_TRY(glf_act_forward(ctx, A_(c, c->r1), A_(c, c->a1), b * c->n1, GLF_ACT_RELU));
    GLF_TRY(glf_conv2d_forward(ctx, A_(c, c->a2), A_(c, c->r1), P_(c, T_C2W_), P_(c, T_C2B_),
                               &s2, work));
    GLF_TRY(glf_act_forward(ctx, A_(c, c->r2), A_(c, c->a2), b * c->n2, GLF_ACT_RELU));
    GLF_TRY(glf_conv2d_forward(ctx, A_(c, c->a3), A_(c, c->r2), P_(c, T_C3W_), P_(c, T_C3B_),
                               &s3, work));
    GLF_TRY(glf_act_forward(ctx, A_(c, c->r3), A_(c, c->a3), b * c->n3, GLF_ACT_RELU));
    GLF_TRY(glf_linear_forward(ctx, f, A_(c, c->r3), P_(c, T_F1W_), P_(c, T_F1B_), B, c->flat,
                               GLF_CLF_FEATURES));
    GLF_TRY(glf_act_forward(ctx, A_(c, c->rf), f, b * GLF_CLF_FEATURES, GLF_ACT_RELU));
    return glf_linear_forward(ctx, lg, A_(c, c->rf), P_(c, T_F2W_), P_(c, T_F2B_), B,
                              GLF_CLF_FEATURES, c->K);
}

glf_status glf_classifier_train_step(glf_classifier *c, glf_dptr loss, glf_dptr x,
                                     cl_mem labels, int B, float lr, long t)
{
    GLF_TRY(check_batch_(c, "glf_classifier_train_step", B));
    if (t < 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_classifier_train_step: Adam step %ld, "
                        "expected >= 1", t);
    glf_ctx *ctx = c->ctx;
    glf_dptr work = glf_dp(c->work, 0), none = glf_dp(NULL, 0);
    glf_conv_shape s1 = shape_(c, 1, B), s2 = shape_(c, 2, B), s3 = shape_(c, 3, B);
    size_t b = (size_t)B;
    GLF_TRY(glf_classifier_forward(c, none, none, x, B));
    GLF_TRY(glf_softmax_xent(ctx, loss.buf ? loss : A_(c, c->ls), D_(c, c->gl), A_(c, c->lg),
                             labels, B, c->K, work));
    /* Backward; accumulate = 0: every parameter gradient written once per step. */
    GLF_TRY(glf_linear_backward(ctx, D_(c, c->gf), G_(c, T_F2W_), G_(c, T_F2B_), D_(c, c->gl),
                                A_(c, c->rf), P_(c, T_F2W_), B, GLF_CLF_FEATURES, c->K, 0));
    GLF_TRY(glf_act_backward(ctx, D_(c, c->gf), D_(c, c->gf), A_(c, c->f), A_(c, c->rf),
                             b * GLF_CLF_FEATURES, GLF_ACT_RELU));
    GLF_TRY(glf_linear_backward(ctx, D_(c, c->g3), G_(c, T_F1W_), G_(c, T_F1B_), D_(c, c->gf),
                                A_(c, c->r3), P_(c, T_F1W_), B, c->flat, GLF_CLF_FEATURES, 0));
    GLF_TRY(glf_act_backward(ctx, D_(c, c->g3), D_(c, c->g3), A_(c, c->a3), A_(c, c->r3),
                             b * c->n3, GLF_ACT_RELU));
    GLF_TRY(glf_conv2d_backward(ctx, D_(c, c->g2), G_(c, T_C3W_), G_(c, T_C3B_), D_(c, c->g3),
                                A_(c, c->r2), P_(c, T_C3W_), &s3, work, 0));
    GLF_TRY(glf_act_backward(ctx, D_(c, c->g2), D_(c, c->g2), A_(c, c->a2), A_(c, c->r2),
                             b * c->n2, GLF_ACT_RELU));
    GLF_TRY(glf_conv2d_backward(ctx, D_(c, c->g1), G_(c, T_C2W_), G_(c, T_C2B_), D_(c, c->g2),
                                A_(c, c->r1), P_(c, T_C2W_), &s2, work, 0));
    GLF_TRY(glf_act_backward(ctx, D_(c, c->g1), D_(c, c->g1), A_(c, c->a1), A_(c, c->r1),
                             b * c->n1, GLF_ACT_RELU));
    GLF_TRY(glf_conv2d_backward(ctx, none, G_(c, T_C1W_), G_(c, T_C1B_), D_(c, c->g1), x,
                                P_(c, T_C1W_), &s1, work, 0));
    glf_adam_hp hp = {lr, 0.9f, 0.999f, 1e-8f, 0.0f};
    return glf_adam_step(ctx, c->params, c->grads, c->m, c->v, 0, c->np, &hp, t);
}

static glf_status check_data_(const glf_classifier *c, const char *fn, const glf_dataset *d,
                              int need_labels)
{
    if (d->channels != c->C || d->height != c->H || d->width != c->W)
        return glf_fail(GLF_ERR_MISMATCH,
                        "%s: data set '%s' has %dx%dx%d images, the classifier takes %dx%dx%d",
                        fn, d->name, d->channels, d->height, d->width, c->C, c->H, c->W);
    if (need_labels && (!d->labelled || d->classes != c->K))
        return glf_fail(GLF_ERR_MISMATCH,
                        "%s: data set '%s' is %s with %d classes; expected labels for %d "
                        "classes", fn, d->name, d->labelled ? "labelled" : "unlabelled",
                        d->classes, c->K);
    return GLF_OK;
}

glf_status glf_classifier_train(glf_classifier *c, const glf_dataset *train,
                                const glf_clf_train_opts *opts)
{
    int epochs = opts->epochs > 0 ? opts->epochs : 5;
    int batch = opts->batch > 0 ? opts->batch : 128;
    float lr = opts->lr > 0 ? opts->lr : 1e-3f;
    GLF_TRY(check_batch_(c, "glf_classifier_train", batch));
    GLF_TRY(check_data_(c, "glf_classifier_train", train, 1));
    GLF_TRY(glf_classifier_init(c, opts->seed));
    glf_batcher *bt = NULL;
    GLF_TRY(glf_batcher_create(c->ctx, train, batch, opts->seed, 1, 1, &bt));
    int steps = glf_batcher_steps_per_epoch(bt);
    int *lab = malloc((size_t)batch * sizeof *lab);
    float *losses = malloc((size_t)(steps > 0 ? steps : 1) * sizeof *losses);
    cl_mem dloss = NULL;
    glf_status s = steps < 1 ? glf_fail(GLF_ERR_INVALID_ARG,
                                        "glf_classifier_train: %zu images give no full batch "
                                        "of %d", train->n, batch)
                   : (!lab || !losses) ? glf_fail(GLF_ERR_NOMEM, "glf_classifier_train: out of memory")
                                       : buf_(c, (size_t)steps, &dloss);
    long t = 0;
    for (int e = 0; s == GLF_OK && e < epochs; e++) {
        for (int k = 0; s == GLF_OK && k < steps; k++) {
            int ep, st;
            s = glf_batcher_next(bt, glf_dp(c->xbuf, 0), lab, &ep, &st);
            /* Blocking label upload: lab is reused next step. */
            if (s == GLF_OK)
                s = glf_buf_write(c->ctx, c->labels, 0, (size_t)batch * sizeof(cl_int), lab);
            if (s == GLF_OK)
                s = glf_classifier_train_step(c, glf_dp(dloss, (size_t)k), glf_dp(c->xbuf, 0),
                                              c->labels, batch, lr, ++t);
        }
        if (s == GLF_OK)
            s = glf_buf_read(c->ctx, dloss, 0, (size_t)steps * sizeof(float), losses);
        if (s != GLF_OK)
            break;
        double sum = 0.0;
        for (int k = 0; k < steps; k++)
            sum += losses[k];
        if (!isfinite(sum))
            s = glf_fail(GLF_ERR_NUMERIC, "glf_classifier_train: training loss of epoch %d is "
                         "%g", e + 1, sum / steps);
        else if (opts->on_epoch && opts->on_epoch(opts->user, e + 1, sum / steps))
            s = glf_fail(GLF_ERR_INTERRUPTED, "glf_classifier_train: stopped after epoch %d",
                         e + 1);
    }
    glf_buf_release(dloss);
    free(lab), free(losses);
    glf_batcher_destroy(bt);
    return s;
}

/* Run the classifier over B images already in xbuf; copy out what is asked. */
static glf_status run_batch_(glf_classifier *c, int B, float *features, int *pred)
{
    glf_dptr none = glf_dp(NULL, 0);
    GLF_TRY(glf_classifier_forward(c, none, none, glf_dp(c->xbuf, 0), B));
    if (pred) {
        GLF_TRY(glf_argmax_rows(c->ctx, c->pred, 0, A_(c, c->lg), B, c->K));
        GLF_TRY(glf_buf_read(c->ctx, c->pred, 0, (size_t)B * sizeof(int), pred));
    }
    if (features)
        GLF_TRY(glf_buf_read(c->ctx, c->act, c->f * sizeof(float),
                             (size_t)B * GLF_CLF_FEATURES * sizeof(float), features));
    return GLF_OK;
}

glf_status glf_classifier_dataset_features(glf_classifier *c, const glf_dataset *d, size_t n,
                                           float *features, int *pred, int *labels)
{
    GLF_TRY(check_data_(c, "glf_classifier_dataset_features", d, labels != NULL));
    if (n == 0 || n > d->n)
        n = d->n;
    glf_batcher *bt = NULL;
    GLF_TRY(glf_batcher_create(c->ctx, d, c->Bm, 0, 0, 0, &bt));
    int *lab = labels ? malloc((size_t)c->Bm * sizeof *lab) : NULL;
    glf_status s = labels && !lab ? glf_fail(GLF_ERR_NOMEM, "out of memory") : GLF_OK;
    for (size_t done = 0; s == GLF_OK && done < n;) {
        int ep, st;
        s = glf_batcher_next(bt, glf_dp(c->xbuf, 0), lab, &ep, &st);
        if (s != GLF_OK)
            break;
        int B = glf_batcher_batch_images(bt, st);
        if ((size_t)B > n - done)
            B = (int)(n - done);
        s = run_batch_(c, B, features ? features + done * GLF_CLF_FEATURES : NULL,
                       pred ? pred + done : NULL);
        if (labels && s == GLF_OK)
            memcpy(labels + done, lab, (size_t)B * sizeof *lab);
        done += (size_t)B;
    }
    free(lab);
    glf_batcher_destroy(bt);
    return s;
}

glf_status glf_classifier_features(glf_classifier *c, const float *images, size_t n,
                                   float *features, int *pred)
{
    size_t per = (size_t)c->C * c->H * c->W;
    for (size_t done = 0; done < n;) {
        int B = n - done < (size_t)c->Bm ? (int)(n - done) : c->Bm;
        GLF_TRY(glf_buf_write(c->ctx, c->xbuf, 0, (size_t)B * per * sizeof(float),
                              images + done * per));
        GLF_TRY(run_batch_(c, B, features ? features + done * GLF_CLF_FEATURES : NULL,
                           pred ? pred + done : NULL));
        done += (size_t)B;
    }
    return GLF_OK;
}

glf_status glf_classifier_accuracy(glf_classifier *c, const glf_dataset *d, double *accuracy)
{
    int *pred = malloc((d->n ? d->n : 1) * sizeof *pred);
    int *lab = malloc((d->n ? d->n : 1) * sizeof *lab);
    glf_status s = !pred || !lab ? glf_fail(GLF_ERR_NOMEM, "glf_classifier_accuracy: out of "
                                            "memory (%zu images)", d->n)
                   : d->n == 0 ? glf_fail(GLF_ERR_INVALID_ARG, "glf_classifier_accuracy: data "
                                          "set '%s' is empty", d->name)
                               : glf_classifier_dataset_features(c, d, 0, NULL, pred, lab);
    if (s == GLF_OK)
        *accuracy = (double)glf_count_correct(pred, lab, d->n) / (double)d->n;
    free(pred), free(lab);
    return s;
}

glf_status glf_classifier_save(glf_classifier *c, const char *path, double test_accuracy)
{
    float *h = malloc(c->np * sizeof *h);
    glf_ckpt *ck = glf_ckpt_new();
    glf_status s = !h || !ck ? glf_fail(GLF_ERR_NOMEM, "glf_classifier_save: out of memory")
                             : glf_classifier_get_params(c, h);
    if (s == GLF_OK)
        s = glf_ckpt_set_str(ck, "kind", GLF_CLF_KIND);
    const int32_t shape[4] = {c->C, c->H, c->W, c->K};
    if (s == GLF_OK)
        s = glf_ckpt_set_i32(ck, "clf.shape", shape, 4);
    for (int i = 0; s == GLF_OK && i < CLF_NT_; i++) {
        char name[64];
        snprintf(name, sizeof name, "clf.%s", c->t[i].name);
        s = glf_ckpt_set_f32(ck, name, h + c->t[i].off, c->t[i].ndim, c->t[i].shape);
    }
    if (s == GLF_OK && test_accuracy >= 0)
        s = glf_ckpt_set_int(ck, "clf.test_accuracy_ppm", (int64_t)llround(test_accuracy * 1e6));
    if (s == GLF_OK)
        s = glf_ckpt_write(ck, path);
    glf_ckpt_free(ck);
    free(h);
    return s;
}

glf_status glf_classifier_load(glf_ctx *ctx, const char *path, int max_batch,
                               glf_classifier **out, double *test_accuracy)
{
    *out = NULL;
    glf_ckpt *ck = NULL;
    GLF_TRY(glf_ckpt_read(path, &ck));
    const char *kind = NULL;
    int32_t shape[4];
    glf_classifier *c = NULL;
    float *h = NULL;
    glf_status s = glf_ckpt_get_str(ck, "kind", &kind);
    if (s == GLF_OK && strcmp(kind, GLF_CLF_KIND) != 0)
        s = glf_fail(GLF_ERR_FORMAT, "%s: kind '%s', expected '%s' (not a glf classifier)", path,
                     kind, GLF_CLF_KIND);
    if (s == GLF_OK)
        s = glf_ckpt_get_i32(ck, "clf.shape", shape, 4);
    if (s == GLF_OK)
        s = glf_classifier_create(ctx, shape[0], shape[1], shape[2], shape[3], max_batch, &c);
    if (s == GLF_OK && !(h = malloc(c->np * sizeof *h)))
        s = glf_fail(GLF_ERR_NOMEM, "glf_classifier_load: out of memory");
    for (int i = 0; s == GLF_OK && i < CLF_NT_; i++) {
        char name[64];
        snprintf(name, sizeof name, "clf.%s", c->t[i].name);
        s = glf_ckpt_get_f32(ck, name, h + c->t[i].off, c->t[i].ndim, c->t[i].shape);
    }
    if (s == GLF_OK)
        s = glf_classifier_set_params(c, h);
    if (s == GLF_OK)
        s = reset_adam_(c);
    if (s == GLF_OK && test_accuracy) {
        int64_t ppm = -1;
        *test_accuracy = glf_ckpt_has(ck, "clf.test_accuracy_ppm") &&
                                 glf_ckpt_get_int(ck, "clf.test_accuracy_ppm", &ppm) == GLF_OK
                             ? (double)ppm / 1e6
                             : -1.0;
    }
    free(h);
    glf_ckpt_free(ck);
    if (s != GLF_OK) {
        glf_classifier_destroy(c);
        return glf_fail_context(s, "loading classifier %s", path);
    }
    *out = c;
    return GLF_OK;
}
