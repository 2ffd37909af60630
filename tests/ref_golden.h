/* Loader of the golden file written by bench/reference/glf_reference.py
 * (PyTorch): the checkpoint container (include/glf/checkpoint.h) under the
 * magic "GLFGOLD1". Record names are listed at the top of that script:
 * config, input.x, [input.eps], flow.perm, init.<t>, grad.<param>,
 * step1.loss [recon, nll, total], step1.<bn state>, fwd.{z,xhat,zhat,logdet},
 * losses (steps, 3), final.<t>. Regenerate the committed file with
 *   /usr/bin/python3 bench/reference/glf_reference.py --golden tests/golden/glf_tiny.bin */
#ifndef GLF_REF_GOLDEN_H
#define GLF_REF_GOLDEN_H

#include <stddef.h>

#include "glf/checkpoint.h"
#include "glf/model.h"

#define REF_GOLDEN_MAGIC "GLFGOLD1"
#define REF_GOLDEN_FORMAT 1
/* Relative to the source tree (use tu_src_path). */
#define REF_GOLDEN_TINY "tests/golden/glf_tiny.bin"

typedef struct ref_golden {
    glf_ckpt *ck;
    glf_config cfg;     /* from the "config" record, validated */
    int steps;          /* Adam steps recorded in "losses" */
    long long init_seed; /* seed of glf_init_params that made init.*, or -1 */
} ref_golden;

/* Read and check the container, format number, config and step count. */
glf_status ref_golden_load(const char *path, ref_golden *g);
void ref_golden_free(ref_golden *g);
/* Borrowed float tensor `name`; NULL if absent. n (may be NULL): elements. */
const float *ref_golden_f32(const ref_golden *g, const char *name, size_t *n);
/* "<prefix><t.name>" for every tensor of l into host (flat, l->total);
 * fails naming the first missing or mis-shaped tensor. */
glf_status ref_golden_layout(const ref_golden *g, const char *prefix, const glf_layout *l,
                             float *host);

#endif
