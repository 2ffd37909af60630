/* Flat layouts of the GLF parameters and BatchNorm running statistics, in
 * the PyTorch reference's state_dict order and names, plus seeded host init
 * and the flow's fixed permutations. Letters: S image side, q = (S/4)^2,
 * d latent, h flow width, d1 = floor(d/2), d2 = d - d1. */
#include "glf/model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/rng.h"

typedef struct builder_ {
    glf_layout *l;
    int cap;
    int group;
    glf_status err;
} builder_;

static void add_(builder_ *b, const char *name, int init, int ndim, int s0, int s1, int s2, int s3)
{
    if (b->err != GLF_OK)
        return;
    glf_layout *l = b->l;
    if (l->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        glf_tensor_desc *t = realloc(l->t, (size_t)cap * sizeof *t);
        if (!t) {
            b->err = glf_fail(GLF_ERR_NOMEM, "layout: out of memory for %d tensors", cap);
            return;
        }
        l->t = t, b->cap = cap;
    }
    glf_tensor_desc *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    int sh[4] = {s0, s1, s2, s3};
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = sh[i];
        t->n *= (size_t)sh[i];
    }
    t->off = l->total;
    t->group = b->group;
    t->init = init;
    l->total += t->n;
}

/* n = "<mod>.<what>", the name of one tensor of a module; a name that does
 * not fit in glf_tensor_desc's name fails the layout. */
static int name_(builder_ *b, char *n, size_t size, const char *mod, const char *what)
{
    if (b->err != GLF_OK)
        return 0;
    int len = snprintf(n, size, "%s.%s", mod, what);
    if (len < 0 || (size_t)len >= size) {
        b->err = glf_fail(GLF_ERR_INVALID_ARG, "layout: tensor name '%s.%s' is longer than "
                          "%zu characters", mod, what, size - 1);
        return 0;
    }
    return 1;
}

/* Tensors of one module; for BatchNorm `state` selects the running statistics. */
static void conv_(builder_ *b, const char *mod, int cout, int cin, int k, int init_w, int init_b)
{
    char n[64];
    if (name_(b, n, sizeof n, mod, "weight"))
        add_(b, n, init_w, 4, cout, cin, k, k);
    if (name_(b, n, sizeof n, mod, "bias"))
        add_(b, n, init_b, 1, cout, 0, 0, 0);
}

static void linear_(builder_ *b, const char *mod, int out, int in, int init_w, int init_b)
{
    char n[64];
    if (name_(b, n, sizeof n, mod, "weight"))
        add_(b, n, init_w, 2, out, in, 0, 0);
    if (name_(b, n, sizeof n, mod, "bias"))
        add_(b, n, init_b, 1, out, 0, 0, 0);
}

static void bn_(builder_ *b, const char *mod, int c, int state, int init_w, int init_b)
{
    char n[64];
    if (state) {
        if (name_(b, n, sizeof n, mod, "running_mean"))
            add_(b, n, GLF_INIT_ZERO, 1, c, 0, 0, 0);
        if (name_(b, n, sizeof n, mod, "running_var"))
            add_(b, n, GLF_INIT_ONE, 1, c, 0, 0, 0);
    } else {
        if (name_(b, n, sizeof n, mod, "weight"))
            add_(b, n, init_w, 1, c, 0, 0, 0);
        if (name_(b, n, sizeof n, mod, "bias"))
            add_(b, n, init_b, 1, c, 0, 0, 0);
    }
}

static glf_status build_(const glf_config *c, glf_layout *out, int state)
{
    memset(out, 0, sizeof *out);
    GLF_TRY(glf_config_validate(c));
    builder_ b = {out, 0, 0, GLF_OK};
    const int W = GLF_INIT_NORMAL002, Z = GLF_INIT_ZERO, O = GLF_INIT_ONE, F = GLF_INIT_FLOW005;
    int nc = c->channels, d = c->latent, q = (c->height / 4) * (c->height / 4);
    int flat = c->conv2 * q;
    int enc_out = c->mode == GLF_MODE_VAE_FLOW ? 2 * d : d;

    /* Auto-encoder (group 0), in the reference's registration order. */
    if (!state) {
        conv_(&b, "enc.conv1", c->conv1, nc, 4, W, Z);
        conv_(&b, "enc.conv2", c->conv2, c->conv1, 4, W, Z);
    }
    bn_(&b, "enc.bn2", c->conv2, state, O, Z);
    if (!state)
        linear_(&b, "enc.fc1", c->fc, flat, W, Z);
    bn_(&b, "enc.bn3", c->fc, state, O, Z);
    if (!state) {
        linear_(&b, "enc.fc2", enc_out, c->fc, W, Z);
        linear_(&b, "dec.fc1", c->fc, d, W, Z);
    }
    bn_(&b, "dec.bn1", c->fc, state, O, Z);
    if (!state)
        linear_(&b, "dec.fc2", flat, c->fc, W, Z);
    bn_(&b, "dec.bn2", flat, state, O, Z);
    if (!state) {
        /* ConvTranspose2d weight (Cin, Cout, K, K). */
        add_(&b, "dec.deconv1.weight", W, 4, c->conv2, c->conv1, 4, 4);
        add_(&b, "dec.deconv1.bias", Z, 1, c->conv1, 0, 0, 0);
    }
    bn_(&b, "dec.bn3", c->conv1, state, O, Z);
    if (!state) {
        add_(&b, "dec.deconv2.weight", W, 4, c->conv1, nc, 4, 4);
        add_(&b, "dec.deconv2.bias", Z, 1, nc, 0, 0, 0);
    }
    out->group_off[0] = 0;
    out->group_n[0] = out->total;

    /* Flow (group 1): s1, t1 map d1 -> d2; s2, t2 map d2 -> d1. */
    b.group = 1;
    out->group_off[1] = out->total;
    int d1 = d / 2, d2 = d - d1, h = c->flow_width;
    if (c->mode != GLF_MODE_AE_GAUSS)
        for (int k = 0; k < c->flow_blocks; k++) {
            static const char *nets[4] = {"s1", "t1", "s2", "t2"};
            for (int s = 0; s < 4; s++) {
                int in = s < 2 ? d1 : d2, o = s < 2 ? d2 : d1;
                char m[64];
                if (!state) {
                    snprintf(m, sizeof m, "flow.blocks.%d.%s.fc1", k, nets[s]);
                    linear_(&b, m, h, in, F, F);
                }
                snprintf(m, sizeof m, "flow.blocks.%d.%s.bn1", k, nets[s]);
                bn_(&b, m, h, state, F, F);
                if (!state) {
                    snprintf(m, sizeof m, "flow.blocks.%d.%s.fc2", k, nets[s]);
                    linear_(&b, m, h, h, F, F);
                }
                snprintf(m, sizeof m, "flow.blocks.%d.%s.bn2", k, nets[s]);
                bn_(&b, m, h, state, F, F);
                if (!state) {
                    snprintf(m, sizeof m, "flow.blocks.%d.%s.fc3", k, nets[s]);
                    linear_(&b, m, o, h, F, F);
                }
            }
        }
    out->group_n[1] = out->total - out->group_off[1];
    if (b.err != GLF_OK)
        glf_layout_free(out);
    return b.err;
}

glf_status glf_layout_params(const glf_config *c, glf_layout *out)
{
    return build_(c, out, 0);
}

glf_status glf_layout_state(const glf_config *c, glf_layout *out)
{
    return build_(c, out, 1);
}

void glf_layout_free(glf_layout *l)
{
    if (!l)
        return;
    free(l->t);
    memset(l, 0, sizeof *l);
}

const glf_tensor_desc *glf_layout_find(const glf_layout *l, const char *name)
{
    for (int i = 0; l && name && i < l->n; i++)
        if (strcmp(l->t[i].name, name) == 0)
            return &l->t[i];
    return NULL;
}

static uint64_t fnv1a64_(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

glf_status glf_init_params(const glf_layout *l, unsigned long long seed, float *host)
{
    if (!l || !host)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_init_params: NULL layout or buffer");
    for (int i = 0; i < l->n; i++) {
        const glf_tensor_desc *t = &l->t[i];
        float *p = host + t->off;
        glf_rng r;
        glf_rng_init(&r, seed, fnv1a64_(t->name));
        switch (t->init) {
        case GLF_INIT_NORMAL002:
            for (size_t j = 0; j < t->n; j++)
                p[j] = (float)(0.02 * glf_rng_normal(&r));
            break;
        case GLF_INIT_FLOW005:
            for (size_t j = 0; j < t->n; j++)
                p[j] = (float)(0.05 * glf_rng_normal(&r));
            break;
        case GLF_INIT_ZERO:
        case GLF_INIT_ONE:
            for (size_t j = 0; j < t->n; j++)
                p[j] = t->init == GLF_INIT_ONE ? 1.0f : 0.0f;
            break;
        default:
            return glf_fail(GLF_ERR_INTERNAL, "tensor %s: unknown init kind %d", t->name, t->init);
        }
    }
    return GLF_OK;
}

glf_status glf_init_state(const glf_layout *l, float *host)
{
    if (!l || !host)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_init_state: NULL layout or buffer");
    for (int i = 0; i < l->n; i++) {
        const glf_tensor_desc *t = &l->t[i];
        if (t->init != GLF_INIT_ZERO && t->init != GLF_INIT_ONE)
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "glf_init_state: tensor %s is not a BatchNorm statistic (init %d)",
                            t->name, t->init);
        for (size_t j = 0; j < t->n; j++)
            host[t->off + j] = t->init == GLF_INIT_ONE ? 1.0f : 0.0f;
    }
    return GLF_OK;
}

void glf_flow_permutations(const glf_config *c, int *perm)
{
    /* Fisher-Yates as glf_rng_shuffle_u32 does it, in place on the int rows. */
    int d = c->latent;
    for (int k = 0; k < c->flow_blocks; k++) {
        int *p = perm + (size_t)k * d;
        glf_rng r;
        glf_rng_init(&r, (uint64_t)k, 0);
        for (int j = 0; j < d; j++)
            p[j] = j;
        for (int i = d; i > 1; i--) {
            int j = (int)glf_rng_below(&r, (uint64_t)i);
            int t = p[i - 1];
            p[i - 1] = p[j];
            p[j] = t;
        }
    }
}
