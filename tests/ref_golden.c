/* Golden file loader (format: tests/ref_golden.h and the header of
 * bench/reference/glf_reference.py). */
#include "ref_golden.h"

#include <string.h>

glf_status ref_golden_load(const char *path, ref_golden *g)
{
    memset(g, 0, sizeof *g);
    GLF_TRY(glf_ckpt_read_as(path, REF_GOLDEN_MAGIC, &g->ck));
    int64_t format = 0, steps = 0, seed = -1;
    glf_status st = glf_ckpt_get_int(g->ck, "golden.format", &format);
    if (st == GLF_OK && format != REF_GOLDEN_FORMAT)
        st = glf_fail(GLF_ERR_FORMAT, "golden %s: golden.format %lld, this test reads %d", path,
                      (long long)format, REF_GOLDEN_FORMAT);
    if (st == GLF_OK)
        st = glf_ckpt_get_int(g->ck, "golden.steps", &steps);
    if (st == GLF_OK && (steps < 1 || steps > 100000))
        st = glf_fail(GLF_ERR_FORMAT, "golden %s: golden.steps %lld, expected >= 1", path,
                      (long long)steps);
    if (st == GLF_OK)
        st = glf_ckpt_get_int(g->ck, "golden.init_seed", &seed);
    if (st == GLF_OK)
        st = glf_ckpt_get_config(g->ck, &g->cfg);
    if (st != GLF_OK) {
        ref_golden_free(g);
        return st;
    }
    g->steps = (int)steps;
    g->init_seed = (long long)seed;
    return GLF_OK;
}

void ref_golden_free(ref_golden *g)
{
    glf_ckpt_free(g->ck);
    g->ck = NULL;
}

const float *ref_golden_f32(const ref_golden *g, const char *name, size_t *n)
{
    int ndim, shape[GLF_CKPT_MAX_DIM];
    const float *p = glf_ckpt_f32(g->ck, name, &ndim, shape);
    if (p && n) {
        *n = 1;
        for (int i = 0; i < ndim; i++)
            *n *= (size_t)shape[i];
    }
    return p;
}

glf_status ref_golden_layout(const ref_golden *g, const char *prefix, const glf_layout *l,
                             float *host)
{
    return glf_ckpt_get_layout(g->ck, prefix, l, host);
}
