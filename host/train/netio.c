/* Checkpoints of a whole network: config, parameters, BatchNorm state,
 * Adam moments, permutations, training position, data-set hash and the
 * ae-gauss Gaussian, through the versioned checkpoint format (checkpoint.c). */
#include <stdlib.h>
#include <string.h>

#include "glf/checkpoint.h"
#include "glf/train.h"

static glf_status download_(glf_net *n, cl_mem b, size_t count, float **out)
{
    float *h = malloc((count ? count : 1) * sizeof *h);
    if (!h)
        return glf_fail(GLF_ERR_NOMEM, "out of memory saving a checkpoint");
    glf_status s = glf_buf_read(glf_net_ctx(n), b, 0, count * sizeof *h, h);
    if (s) {
        free(h);
        return s;
    }
    *out = h;
    return GLF_OK;
}

glf_status glf_net_save(glf_net *n, const char *path, const glf_train_pos *pos,
                        const char *data_hash)
{
    const glf_layout *pl = glf_net_param_layout(n), *sl = glf_net_state_layout(n);
    const glf_config *c = glf_net_config(n);
    glf_ckpt *ck = glf_ckpt_new();
    float *p = NULL, *st = NULL, *m = NULL, *v = NULL;
    glf_status s;
    if (!ck)
        return glf_fail(GLF_ERR_NOMEM, "out of memory saving a checkpoint");
    if ((s = download_(n, glf_net_params(n), pl->total, &p)) ||
        (s = download_(n, glf_net_state(n), sl->total, &st)) ||
        (s = download_(n, glf_net_adam_m(n), pl->total, &m)) ||
        (s = download_(n, glf_net_adam_v(n), pl->total, &v)))
        goto done;
    if ((s = glf_ckpt_set_config(ck, c)) || (s = glf_ckpt_set_layout(ck, "", pl, p)) ||
        (s = glf_ckpt_set_layout(ck, "", sl, st)) ||
        (s = glf_ckpt_set_layout(ck, "adam_m.", pl, m)) ||
        (s = glf_ckpt_set_layout(ck, "adam_v.", pl, v)))
        goto done;
    {
        size_t np = (size_t)c->flow_blocks * (size_t)c->latent;
        int32_t *perm = malloc(np * sizeof *perm);
        if (!perm) {
            s = glf_fail(GLF_ERR_NOMEM, "out of memory saving a checkpoint");
            goto done;
        }
        for (size_t i = 0; i < np; i++)
            perm[i] = glf_net_perms(n)[i];
        s = glf_ckpt_set_i32(ck, "flow.permutations", perm, np);
        free(perm);
        if (s)
            goto done;
    }
    if (pos && ((s = glf_ckpt_set_int(ck, "train.epoch", pos->epoch)) ||
                (s = glf_ckpt_set_int(ck, "train.step", pos->step)) ||
                (s = glf_ckpt_set_int(ck, "train.t", pos->t))))
        goto done;
    if (data_hash && (s = glf_ckpt_set_str(ck, "data.sha256", data_hash)))
        goto done;
    const double *gm, *gc;
    if (glf_net_gaussian(n, &gm, &gc)) {
        int d = c->latent, shape1[1] = {d}, shape2[2] = {d, d};
        float *f = malloc((size_t)d * (size_t)(d + 1) * sizeof *f);
        if (!f) {
            s = glf_fail(GLF_ERR_NOMEM, "out of memory saving a checkpoint");
            goto done;
        }
        for (int i = 0; i < d; i++)
            f[i] = (float)gm[i];
        for (int i = 0; i < d * d; i++)
            f[d + i] = (float)gc[i];
        if (!(s = glf_ckpt_set_f32(ck, "gauss.mean", f, 1, shape1)))
            s = glf_ckpt_set_f32(ck, "gauss.chol", f + d, 2, shape2);
        free(f);
        if (s)
            goto done;
    }
    s = glf_ckpt_write(ck, path);
done:
    free(p), free(st), free(m), free(v);
    glf_ckpt_free(ck);
    return s;
}

static glf_status upload_(glf_net *n, const glf_ckpt *ck, const char *prefix,
                          const glf_layout *l, cl_mem b)
{
    float *h = malloc((l->total ? l->total : 1) * sizeof *h);
    if (!h)
        return glf_fail(GLF_ERR_NOMEM, "out of memory loading a checkpoint");
    glf_status s = glf_ckpt_get_layout(ck, prefix, l, h);
    if (!s)
        s = glf_buf_write(glf_net_ctx(n), b, 0, l->total * sizeof *h, h);
    free(h);
    return s;
}

glf_status glf_net_load(glf_ctx *ctx, const char *path, int max_batch, glf_net **out,
                        glf_train_pos *pos, char *data_hash)
{
    glf_ckpt *ck = NULL;
    glf_net *n = NULL;
    glf_config c;
    glf_status s;
    int32_t *perm = NULL;
    *out = NULL;
    GLF_TRY(glf_ckpt_read(path, &ck));
    memset(&c, 0, sizeof c);
    if ((s = glf_ckpt_get_config(ck, &c)) || (s = glf_net_create(ctx, &c, max_batch, &n)))
        goto done;
    const glf_layout *pl = glf_net_param_layout(n), *sl = glf_net_state_layout(n);
    if ((s = upload_(n, ck, "", pl, glf_net_params(n))) ||
        (s = upload_(n, ck, "", sl, glf_net_state(n))) ||
        (s = upload_(n, ck, "adam_m.", pl, glf_net_adam_m(n))) ||
        (s = upload_(n, ck, "adam_v.", pl, glf_net_adam_v(n))))
        goto done;
    size_t np = (size_t)c.flow_blocks * (size_t)c.latent;
    perm = malloc(np * sizeof *perm);
    int *iperm = malloc(np * sizeof *iperm);
    if (!perm || !iperm) {
        free(iperm);
        s = glf_fail(GLF_ERR_NOMEM, "out of memory loading a checkpoint");
        goto done;
    }
    if (!(s = glf_ckpt_get_i32(ck, "flow.permutations", perm, np))) {
        for (size_t i = 0; i < np; i++)
            iperm[i] = perm[i];
        s = glf_net_set_perms(n, iperm);
    }
    free(iperm);
    if (s)
        goto done;
    if (pos) {
        int64_t e = 0, st = 0, t = 0;
        if ((s = glf_ckpt_get_int(ck, "train.epoch", &e)) ||
            (s = glf_ckpt_get_int(ck, "train.step", &st)) ||
            (s = glf_ckpt_get_int(ck, "train.t", &t)))
            goto done;
        pos->epoch = (int)e;
        pos->step = (int)st;
        pos->t = (long)t;
    }
    if (data_hash) {
        const char *h = "";
        if (glf_ckpt_has(ck, "data.sha256") && (s = glf_ckpt_get_str(ck, "data.sha256", &h)))
            goto done;
        strncpy(data_hash, h, 64);
        data_hash[64] = '\0';
    }
    if (glf_ckpt_has(ck, "gauss.mean")) {
        int d = c.latent, shape1[1] = {d}, shape2[2] = {d, d};
        float *f = malloc((size_t)d * (size_t)(d + 1) * sizeof *f);
        double *g = malloc((size_t)d * (size_t)(d + 1) * sizeof *g);
        if (!f || !g) {
            free(f), free(g);
            s = glf_fail(GLF_ERR_NOMEM, "out of memory loading a checkpoint");
            goto done;
        }
        if (!(s = glf_ckpt_get_f32(ck, "gauss.mean", f, 1, shape1)) &&
            !(s = glf_ckpt_get_f32(ck, "gauss.chol", f + d, 2, shape2))) {
            for (int i = 0; i < d * (d + 1); i++)
                g[i] = f[i];
            s = glf_net_set_gaussian(n, g, g + d);
        }
        free(f), free(g);
        if (s)
            goto done;
    }
    *out = n;
    n = NULL;
done:
    if (s)
        glf_fail_context(s, "loading checkpoint %s", path);
    free(perm);
    glf_net_destroy(n);
    glf_ckpt_free(ck);
    return s;
}
