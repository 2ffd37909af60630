/* The GLF model's configuration (presets, JSON round trip) and its flat
 * parameter / BatchNorm-state layouts, named like the PyTorch reference's
 * state_dict (bench/reference/glf_reference.py), with seeded host init. */
#ifndef GLF_MODEL_H
#define GLF_MODEL_H

#include <stddef.h>

#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Also declared by include/glf/ops_flow.h: whichever header comes first wins. */
#ifndef GLF_ADAM_HP_DEFINED
#define GLF_ADAM_HP_DEFINED
typedef struct glf_adam_hp { float lr, beta1, beta2, eps, weight_decay; } glf_adam_hp;
#endif

typedef enum glf_mode {
    GLF_MODE_GLF,         /* stop-gradient: recon trains the AE, nll the flow */
    GLF_MODE_REGULARIZED, /* (beta/2)*recon + nll, no stop-gradient */
    GLF_MODE_VAE_FLOW,    /* encoder gives mu and logvar; flow prior */
    GLF_MODE_AE_GAUSS     /* plain AE, Gaussian fitted afterwards; no flow */
} glf_mode;
typedef enum glf_recon { GLF_RECON_MSE, GLF_RECON_BCE } glf_recon;

typedef struct glf_config {
    int channels, height, width; /* input; height == width, divisible by 4 */
    int latent;                  /* d */
    int flow_width;              /* h */
    int flow_blocks;             /* 4 */
    int conv1, conv2, fc;        /* 64, 128, 1024 */
    glf_mode mode;
    glf_recon recon;
    float beta;                  /* regularized / vae-flow weight of recon */
    int batch;
    int epochs;
    unsigned long long seed;
    float lr_ae, lr_flow;        /* base rates of the StepLR schedule */
    int lr_step_epochs;
    float lr_gamma;
    glf_adam_hp adam_ae, adam_flow;
    float bn_momentum, bn_eps;
} glf_config;

/* Paper defaults for an input shape. 1x28x28 -> d 20, h 64 (100 epochs);
 * 3x32x32 -> d 64, h 256 (200 epochs); 3x64x64 -> d 64, h 256 (40 epochs).
 * Any other C x S x S with S divisible by 4 gets d 20, h 64 for C == 1 and
 * d 64, h 256 otherwise, 100 epochs. */
glf_status glf_config_preset(glf_config *c, int channels, int height, int width);
/* Every field in range; the message names the field, its value and the range. */
glf_status glf_config_validate(const glf_config *c);
/* Flat JSON object; returns the length it needs (like snprintf: if that is
 * >= n the output was cut), or -1 on an invalid enum. */
int glf_config_to_json(const glf_config *c, char *buf, size_t n);
/* Parses what glf_config_to_json writes. Keys missing from json keep the
 * values already in *c (so a preset can be overridden); unknown keys fail. */
glf_status glf_config_from_json(glf_config *c, const char *json);
/* Fields that change the parameter shapes agree (channels, height, width,
 * latent, flow_width, flow_blocks, conv1, conv2, fc, and the mode where it
 * changes shapes); else GLF_ERR_MISMATCH naming the first field that differs.
 * `what` names the source of `got` in the message (e.g. a checkpoint path). */
glf_status glf_config_same_arch(const glf_config *want, const glf_config *got,
                                const char *what);

const char *glf_mode_name(glf_mode m);     /* "glf", "regularized", "vae-flow", "ae-gauss" */
glf_status glf_mode_parse(const char *s, glf_mode *out);
const char *glf_recon_name(glf_recon r);   /* "mse", "bce" */
glf_status glf_recon_parse(const char *s, glf_recon *out);

enum {
    GLF_INIT_NORMAL002, /* N(0, 0.02): AE conv/linear weights */
    GLF_INIT_ZERO,      /* AE biases, BN running_mean */
    GLF_INIT_ONE,       /* AE BN weight, BN running_var */
    GLF_INIT_FLOW005    /* 0.05 * N(0, 1): every flow parameter */
};

typedef struct glf_tensor_desc {
    char name[64];      /* e.g. "enc.conv1.weight", "flow.blocks.2.s1.fc3.bias" */
    int ndim, shape[4];
    size_t off, n;      /* float offset in the flat buffer, element count */
    int group;          /* 0 = auto-encoder, 1 = flow */
    int init;           /* GLF_INIT_* */
} glf_tensor_desc;

typedef struct glf_layout {
    glf_tensor_desc *t;
    int n;
    size_t total;                    /* floats */
    size_t group_off[2], group_n[2]; /* AE tensors first, then flow */
} glf_layout;

/* params: all weights/biases/BN affine, in the reference's state_dict order
 * (enc, dec, then flow.blocks.K.{s1,t1,s2,t2}). In ae-gauss mode there is no
 * flow: group 1 is empty (group_n[1] == 0). state: BN running_mean and
 * running_var (num_batches_tracked is not kept: momentum is fixed). */
glf_status glf_layout_params(const glf_config *c, glf_layout *out);
glf_status glf_layout_state(const glf_config *c, glf_layout *out);
void glf_layout_free(glf_layout *l);
const glf_tensor_desc *glf_layout_find(const glf_layout *l, const char *name); /* NULL if absent */
/* Host-side init: tensor t's values come from glf_rng(seed, stream =
 * FNV-1a-64 of its name), so a tensor's init depends only on seed, name and
 * size, never on the device or on the other tensors. */
glf_status glf_init_params(const glf_layout *l, unsigned long long seed, float *host);
glf_status glf_init_state(const glf_layout *l, float *host); /* mean 0, var 1 */
/* The flow's fixed permutations: block k's is a Fisher-Yates shuffle of
 * 0..d-1 by glf_rng(seed k, stream 0). perm (blocks, d). */
void glf_flow_permutations(const glf_config *c, int *perm);

#ifdef __cplusplus
}
#endif
#endif
