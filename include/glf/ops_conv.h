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
