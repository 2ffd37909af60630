/* Softmax cross-entropy over class logits (PyTorch F.cross_entropy with
 * reduction "mean", no weights, no label smoothing) and the argmax of each
 * row, used to train and score the FID classifier. */
#ifndef GLF_OPS_XENT_H
#define GLF_OPS_XENT_H

#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Floats of `work` that glf_softmax_xent needs: B (one loss per row). */
size_t glf_softmax_xent_workspace(int B, int K);

/* loss[0] = 1/B * sum_b [logsumexp(logits[b, :]) - logits[b, labels[b]]]
 * (log-sum-exp taken around the row maximum, so large logits stay finite);
 * dlogits = (softmax(logits) - onehot(labels)) / B, the gradient of loss.
 * dlogits.buf NULL: skip the gradient. dlogits may equal logits (in place).
 * A label outside [0, K) makes its row's loss and gradient NaN (PyTorch
 * raises; a kernel cannot), so a bad label never passes silently.
 * labels: B cl_int starting at int 0 of the buffer. K >= 1, B >= 1. */
glf_status glf_softmax_xent(glf_ctx *ctx, glf_dptr loss /* (1) */,
                            glf_dptr dlogits /* (B, K) */, glf_dptr logits /* (B, K) */,
                            const cl_mem labels /* (B) cl_int */, int B, int K,
                            glf_dptr work /* (B) */);

/* pred[pred_off + b] = argmax_k logits[b, k] as cl_int: the first maximal
 * index, and the first NaN if a row holds one (torch.argmax's rule). */
glf_status glf_argmax_rows(glf_ctx *ctx, cl_mem pred /* (B) cl_int */, size_t pred_off,
                           glf_dptr logits /* (B, K) */, int B, int K);

/* Host side: how many of n predictions equal their label. */
size_t glf_count_correct(const int *pred, const int *labels, size_t n);

#ifdef __cplusplus
}
#endif
#endif
