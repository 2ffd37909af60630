/* Plain-C double-precision references of Conv2d, ConvTranspose2d and Linear
 * (PyTorch semantics), written from the definitions (direct loops, scatter
 * form for the gradients) so they share no code path with the kernels.
 * Used by the tests and by glf_conv_validate (conv_tune.c). */
#ifndef GLF_OPS_REF_CONV_H
#define GLF_OPS_REF_CONV_H

#include "glf/ops_conv.h"

/* Conv2d: y (B, Cout, Ho, Wo), x (B, Cin, H, W), w (Cout, Cin, K, K), b (Cout) or NULL. */
void glf_ref_conv2d_forward(double *y, const double *x, const double *w, const double *b,
                        const glf_conv_shape *s);
/* Overwrites every non-NULL output: dx like x, dw like w, db (Cout). */
void glf_ref_conv2d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, const glf_conv_shape *s);

/* ConvTranspose2d: x (B, Cin, H, W), w (Cin, Cout, K, K), y (B, Cout, Ho, Wo). */
void glf_ref_conv_transpose2d_forward(double *y, const double *x, const double *w, const double *b,
                                  const glf_conv_shape *s);
void glf_ref_conv_transpose2d_backward(double *dx, double *dw, double *db, const double *dy,
                                   const double *x, const double *w, const glf_conv_shape *s);

/* Linear: y (B, OUT) = x (B, IN) w^T + b, w (OUT, IN), b (OUT) or NULL. */
void glf_ref_linear_forward(double *y, const double *x, const double *w, const double *b, int B,
                        int IN, int OUT);
void glf_ref_linear_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, int B, int IN, int OUT);

#endif
