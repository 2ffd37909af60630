/* Conv2d, ConvTranspose2d and Linear with PyTorch semantics on device
 * buffers: forward, input-, weight- and bias-gradients. Convolutions are
 * im2col/col2im (a gather, no atomics) around one GEMM over the batch per step. */
#ifndef GLF_OPS_CONV_H
#define GLF_OPS_CONV_H

#include <stddef.h>

#include "glf/runtime.h"
#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Letters: B batch, Cin/Cout channels, H/W input side, Ho/Wo output side,
 * K square kernel side, S stride, P zero padding (same on all sides). */
typedef struct glf_conv_shape {
    int B, Cin, H, W;   /* input (B, Cin, H, W) */
    int Cout, K, S, P;  /* square kernel K, stride S, padding P */
} glf_conv_shape;

/* Conv2d output side: (in + 2P - K)/S + 1. ConvTranspose2d: (in - 1)*S - 2P + K.
 * Both may be < 1 for impossible shapes; the ops reject those. */
int glf_conv2d_out(int in, int K, int S, int P);
int glf_conv_transpose2d_out(int in, int K, int S, int P);

/* Conv2d. x (B, Cin, H, W), w (Cout, Cin, K, K), b (Cout) [b.buf NULL: no
 * bias], y (B, Cout, Ho, Wo). work: glf_conv2d_workspace(s) floats, shared by
 * forward and backward (contents need not survive between calls). */
size_t glf_conv2d_workspace(const glf_conv_shape *s);
glf_status glf_conv2d_forward(glf_ctx *ctx, glf_dptr y, glf_dptr x, glf_dptr w, glf_dptr b,
                              const glf_conv_shape *s, glf_dptr work);
/* dx (B, Cin, H, W) is overwritten; dx.buf NULL: skip dx (first layer).
 * dw (Cout, Cin, K, K) and db (Cout): accumulate 0 overwrites, 1 adds;
 * db.buf NULL: no bias; dw.buf NULL: skip dw. dy (B, Cout, Ho, Wo). */
glf_status glf_conv2d_backward(glf_ctx *ctx, glf_dptr dx, glf_dptr dw, glf_dptr db,
                               glf_dptr dy, glf_dptr x, glf_dptr w,
                               const glf_conv_shape *s, glf_dptr work, int accumulate);

/* ConvTranspose2d (PyTorch, output_padding 0, no dilation): x (B, Cin, H, W),
 * w (Cin, Cout, K, K), b (Cout), y (B, Cout, Ho, Wo) with Ho = (H-1)*S - 2P + K.
 * Same conventions as Conv2d. */
size_t glf_conv_transpose2d_workspace(const glf_conv_shape *s);
glf_status glf_conv_transpose2d_forward(glf_ctx *ctx, glf_dptr y, glf_dptr x, glf_dptr w,
                                        glf_dptr b, const glf_conv_shape *s, glf_dptr work);
glf_status glf_conv_transpose2d_backward(glf_ctx *ctx, glf_dptr dx, glf_dptr dw, glf_dptr db,
                                         glf_dptr dy, glf_dptr x, glf_dptr w,
                                         const glf_conv_shape *s, glf_dptr work, int accumulate);

/* ---- variants ------------------------------------------------------------
 * Each convolution's GEMM takes the im2col of an image as one operand,
 * either materialised (an im2col kernel writes the column matrix, the GEMM
 * then packs it) or implicit (a GLF_GEMM_IM2COL operand: glf's GEMM packs
 * its panels straight from the image). The convolutions keep, per context,
 * which one each orientation uses: use[0] for the Conv2d forward and the
 * ConvTranspose2d input gradient ("taps"), use[1] for both weight gradients
 * ("pixels"). A context starts from its device's stored choice
 * (glf_conv_tune, glf/tune.h), else {0, 0} (what measured faster on PoCL's
 * CPU device); with CLBlast as the GEMM backend a column matrix is always
 * materialised. */
void glf_conv_im2col_policy(glf_ctx *ctx, int use[2]);
glf_status glf_conv_set_im2col_policy(glf_ctx *ctx, const int use[2]);
/* "implicit" (use != 0) or "materialised", as the store and reports say. */
const char *glf_conv_im2col_word(int use);

/* Run Conv2d and ConvTranspose2d forward and backward under policy use at
 * odd shapes (outputs NaN-filled first) against the double-precision
 * reference; ctx's policy is left as it was. GLF_ERR_NUMERIC names the op,
 * the shape, the variant and the output that differs. */
glf_status glf_conv_validate(glf_ctx *ctx, const int use[2]);

/* Linear (PyTorch): x (B, IN), w (OUT, IN), b (OUT) [NULL: none],
 * y (B, OUT) = x w^T + b. Backward: dx (B, IN) overwritten [dx.buf NULL:
 * skip], dw (OUT, IN) and db (OUT) overwritten or accumulated [NULL: skip]. */
glf_status glf_linear_forward(glf_ctx *ctx, glf_dptr y, glf_dptr x, glf_dptr w, glf_dptr b,
                              int B, int IN, int OUT);
/* The same followed by ReLU (relu != 0), fused into the GEMM's store:
 * y = relu(x w^T + b), the bits of glf_linear_forward + glf_act_forward. */
glf_status glf_linear_forward_act(glf_ctx *ctx, glf_dptr y, glf_dptr x, glf_dptr w, glf_dptr b,
                                  int B, int IN, int OUT, int relu);
glf_status glf_linear_backward(glf_ctx *ctx, glf_dptr dx, glf_dptr dw, glf_dptr db,
                               glf_dptr dy, glf_dptr x, glf_dptr w,
                               int B, int IN, int OUT, int accumulate);

#ifdef __cplusplus
}
#endif
#endif
