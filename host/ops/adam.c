/* Host side of cl/adam.cl: torch.optim.Adam (1.13, single-tensor path) over
 * [off, off+n) of flat parameter/gradient/moment buffers, and StepLR.
 * Scalars are formed in double on the host, as Python forms them. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "glf/ops_flow.h"

#define GLF_ADAM_WG 64

/* The double a Python script would have written for this float: the
 * shortest decimal that rounds to f (0.9f -> 0.9, 1e-3f -> 0.001). PyTorch
 * computes 1 - beta1 and beta1**t from that double, not from (double)f. */
static double py_double_(float f)
{
    char buf[64];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f)
            return d;
    }
    return (double)f;
}

glf_status glf_adam_step(glf_ctx *ctx, cl_mem params, cl_mem grads, cl_mem m, cl_mem v, size_t off,
                         size_t n, const glf_adam_hp *hp, long t)
{
    if (!params || !grads || !m || !v || !hp)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_adam_step: params %p, grads %p, m %p, v %p, hp %p: none may be NULL",
                        (void *)params, (void *)grads, (void *)m, (void *)v, (const void *)hp);
    if (t < 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_adam_step: step t = %ld, expected t >= 1", t);
    if (off > (size_t)INT_MAX || n > (size_t)INT_MAX - off)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_adam_step: range [%zu, %zu + %zu) exceeds INT_MAX floats", off, off,
                        n);
    if (!(hp->beta1 >= 0.0f && hp->beta1 < 1.0f && hp->beta2 >= 0.0f && hp->beta2 < 1.0f &&
          hp->eps >= 0.0f && hp->lr >= 0.0f && hp->weight_decay >= 0.0f))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_adam_step: lr %g, betas (%g, %g), eps %g, weight_decay %g: expected "
                        "betas in [0, 1) and the rest >= 0 (torch.optim.Adam's checks)",
                        (double)hp->lr, (double)hp->beta1, (double)hp->beta2, (double)hp->eps,
                        (double)hp->weight_decay);
    if (n == 0)
        return GLF_OK;
    double lr = py_double_(hp->lr), b1 = py_double_(hp->beta1), b2 = py_double_(hp->beta2);
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    double step_size = lr / bc1;
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "adam", "adam_step", NULL, &k));
    size_t l = GLF_ADAM_WG;
    return GLF_LAUNCH(ctx, k, 1, &n, &l, GLF_MEM(params), GLF_MEM(grads), GLF_MEM(m), GLF_MEM(v),
                      GLF_I32(off), GLF_I32(n), GLF_F32(hp->beta1), GLF_F32((float)(1.0 - b1)),
                      GLF_F32(hp->beta2), GLF_F32((float)(1.0 - b2)), GLF_F32(hp->weight_decay),
                      GLF_F32((float)-step_size), GLF_F32((float)sqrt(bc2)), GLF_F32(hp->eps));
}

float glf_steplr(float lr0, int epoch, int step_size, float gamma)
{
    if (step_size <= 0 || epoch < 0)
        return lr0;
    return (float)(py_double_(lr0) * pow(py_double_(gamma), (double)(epoch / step_size)));
}
