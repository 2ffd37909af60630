/* Host side of cl/xent.cl: softmax cross-entropy with its gradient and the
 * row argmax used for accuracy. Enqueue only; two launches for the loss
 * (per-row terms, then a fixed-order mean) keep it deterministic. */
#include "glf/ops_xent.h"

#include <limits.h>

#include "glf/status.h"

/* Work-group size of the per-row kernels; kept fixed for every B because
 * PoCL generates code once per new local size (~100 ms). */
#define XENT_WG_ 16

size_t glf_softmax_xent_workspace(int B, int K)
{
    (void)K;
    return B > 0 ? (size_t)B : 0;
}

static glf_status check_sizes_(const char *fn, int B, int K, size_t off_max)
{
    if (B < 1 || K < 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "%s: B = %d, K = %d, expected both >= 1", fn, B, K);
    if ((size_t)B * (size_t)K + off_max > (size_t)INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: B*K = %zu plus offset %zu exceeds the kernels' int indexing", fn,
                        (size_t)B * (size_t)K, off_max);
    return GLF_OK;
}

glf_status glf_softmax_xent(glf_ctx *ctx, glf_dptr loss, glf_dptr dlogits, glf_dptr logits,
                            const cl_mem labels, int B, int K, glf_dptr work)
{
    size_t off_max = logits.off > dlogits.off ? logits.off : dlogits.off;
    if (work.off > off_max)
        off_max = work.off;
    if (loss.off > off_max)
        off_max = loss.off;
    GLF_TRY(check_sizes_("glf_softmax_xent", B, K, off_max));
    if (!loss.buf || !logits.buf || !labels || !work.buf)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_softmax_xent: loss, logits, labels and work must be buffers "
                        "(only dlogits may be NULL)");
    cl_kernel rows, mean;
    GLF_TRY(glf_kernel(ctx, "xent", "xent_rows", NULL, &rows));
    GLF_TRY(glf_kernel(ctx, "xent", "xent_mean", NULL, &mean));
    float inv_b = 1.0f / (float)B;
    int want_dx = dlogits.buf != NULL;
    cl_mem dxbuf = want_dx ? dlogits.buf : work.buf; /* any valid buffer when unused */
    size_t g = (size_t)B, l = XENT_WG_; /* fixed local size: one code generation */
    GLF_TRY(GLF_LAUNCH(ctx, rows, 1, &g, &l, GLF_DP(work), GLF_MEM(dxbuf),
                       GLF_I32(want_dx ? dlogits.off : 0), GLF_DP(logits), GLF_MEM(labels),
                       GLF_I32(B), GLF_I32(K), GLF_I32(want_dx), GLF_F32(inv_b)));
    size_t one = 1;
    GLF_TRY(GLF_LAUNCH(ctx, mean, 1, &one, &one, GLF_DP(loss), GLF_DP(work), GLF_I32(B),
                       GLF_F32(inv_b)));
    return GLF_OK;
}

glf_status glf_argmax_rows(glf_ctx *ctx, cl_mem pred, size_t pred_off, glf_dptr logits, int B,
                           int K)
{
    GLF_TRY(check_sizes_("glf_argmax_rows", B, K,
                         pred_off > logits.off ? pred_off : logits.off));
    if (!pred || !logits.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_argmax_rows: pred and logits must be buffers");
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "xent", "argmax_rows", NULL, &k));
    size_t g = (size_t)B, l = XENT_WG_; /* fixed local size: one code generation */
    return GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_MEM(pred), GLF_I32(pred_off), GLF_DP(logits),
                      GLF_I32(B), GLF_I32(K));
}

size_t glf_count_correct(const int *pred, const int *labels, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += pred[i] == labels[i];
    return c;
}
