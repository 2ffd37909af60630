/* Double-precision references of the xent op family (cl/xent.cl). */
#ifndef GLF_REF_XENT_H
#define GLF_REF_XENT_H

#include <stddef.h>

/* loss = mean_b [logsumexp(x[b,:]) - x[b, y[b]]]; dx (may be NULL) its
 * gradient (softmax - onehot) / B. A label outside [0, K) gives NaN. */
double ref_softmax_xent(double *dx, const double *x, const int *y, int B, int K);
/* First maximal index per row; the first NaN wins. */
void ref_argmax_rows(int *pred, const float *x, int B, int K);

#endif
