/* Plain-C double-precision references of softmax cross-entropy and argmax. */
#include "ref_xent.h"

#include <math.h>

double ref_softmax_xent(double *dx, const double *x, const int *y, int B, int K)
{
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const double *xr = x + (size_t)b * K;
        double m = xr[0];
        for (int k = 1; k < K; k++)
            m = xr[k] > m ? xr[k] : m;
        double s = 0.0;
        for (int k = 0; k < K; k++)
            s += exp(xr[k] - m);
        int ok = y[b] >= 0 && y[b] < K;
        total += ok ? m + log(s) - xr[y[b]] : NAN;
        if (dx)
            for (int k = 0; k < K; k++)
                dx[(size_t)b * K + k] =
                    ok ? (exp(xr[k] - m) / s - (k == y[b] ? 1.0 : 0.0)) / B : NAN;
    }
    return total / B;
}

void ref_argmax_rows(int *pred, const float *x, int B, int K)
{
    for (int b = 0; b < B; b++) {
        const float *xr = x + (size_t)b * K;
        int best = 0;
        for (int k = 1; k < K && !isnan(xr[best]); k++)
            if (isnan(xr[k]) || xr[k] > xr[best])
                best = k;
        pred[b] = best;
    }
}
