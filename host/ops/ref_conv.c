/* Double-precision references for the conv/linear family (see ref_conv.h).
 * Index letters: b batch, i input channel, o output channel, (p, q) input
 * pixel, (u, v) output pixel, (r, t) kernel tap. */
#include "ref_conv.h"

#include <string.h>

static void zero_(double *p, size_t n)
{
    if (p)
        memset(p, 0, n * sizeof *p);
}

void glf_ref_conv2d_forward(double *y, const double *x, const double *w, const double *b,
                        const glf_conv_shape *s)
{
    int Ho = glf_conv2d_out(s->H, s->K, s->S, s->P), Wo = glf_conv2d_out(s->W, s->K, s->S, s->P);
    int K = s->K;
    for (int bb = 0; bb < s->B; bb++)
        for (int o = 0; o < s->Cout; o++)
            for (int u = 0; u < Ho; u++)
                for (int v = 0; v < Wo; v++) {
                    double acc = b ? b[o] : 0.0;
                    for (int i = 0; i < s->Cin; i++)
                        for (int r = 0; r < K; r++)
                            for (int t = 0; t < K; t++) {
                                int p = u * s->S - s->P + r, q = v * s->S - s->P + t;
                                if (p < 0 || p >= s->H || q < 0 || q >= s->W)
                                    continue;
                                acc += w[((o * s->Cin + i) * K + r) * K + t] *
                                       x[((bb * s->Cin + i) * s->H + p) * s->W + q];
                            }
                    y[((bb * s->Cout + o) * Ho + u) * Wo + v] = acc;
                }
}

void glf_ref_conv2d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, const glf_conv_shape *s)
{
    int Ho = glf_conv2d_out(s->H, s->K, s->S, s->P), Wo = glf_conv2d_out(s->W, s->K, s->S, s->P);
    int K = s->K;
    zero_(dx, (size_t)s->B * s->Cin * s->H * s->W);
    zero_(dw, (size_t)s->Cout * s->Cin * K * K);
    zero_(db, (size_t)s->Cout);
    for (int bb = 0; bb < s->B; bb++)
        for (int o = 0; o < s->Cout; o++)
            for (int u = 0; u < Ho; u++)
                for (int v = 0; v < Wo; v++) {
                    double g = dy[((bb * s->Cout + o) * Ho + u) * Wo + v];
                    if (db)
                        db[o] += g;
                    for (int i = 0; i < s->Cin; i++)
                        for (int r = 0; r < K; r++)
                            for (int t = 0; t < K; t++) {
                                int p = u * s->S - s->P + r, q = v * s->S - s->P + t;
                                if (p < 0 || p >= s->H || q < 0 || q >= s->W)
                                    continue;
                                size_t xi = (((size_t)bb * s->Cin + i) * s->H + p) * s->W + q;
                                size_t wi = (((size_t)o * s->Cin + i) * K + r) * K + t;
                                if (dx)
                                    dx[xi] += g * w[wi];
                                if (dw)
                                    dw[wi] += g * x[xi];
                            }
                }
}

void glf_ref_conv_transpose2d_forward(double *y, const double *x, const double *w, const double *b,
                                  const glf_conv_shape *s)
{
    int Ho = glf_conv_transpose2d_out(s->H, s->K, s->S, s->P);
    int Wo = glf_conv_transpose2d_out(s->W, s->K, s->S, s->P);
    int K = s->K;
    for (int bb = 0; bb < s->B; bb++)
        for (int o = 0; o < s->Cout; o++)
            for (int j = 0; j < Ho * Wo; j++)
                y[((size_t)bb * s->Cout + o) * Ho * Wo + j] = b ? b[o] : 0.0;
    /* Scatter: input pixel (p, q) lands on output (p*S - P + r, q*S - P + t). */
    for (int bb = 0; bb < s->B; bb++)
        for (int i = 0; i < s->Cin; i++)
            for (int p = 0; p < s->H; p++)
                for (int q = 0; q < s->W; q++) {
                    double xv = x[(((size_t)bb * s->Cin + i) * s->H + p) * s->W + q];
                    for (int o = 0; o < s->Cout; o++)
                        for (int r = 0; r < K; r++)
                            for (int t = 0; t < K; t++) {
                                int u = p * s->S - s->P + r, v = q * s->S - s->P + t;
                                if (u < 0 || u >= Ho || v < 0 || v >= Wo)
                                    continue;
                                y[(((size_t)bb * s->Cout + o) * Ho + u) * Wo + v] +=
                                    xv * w[(((size_t)i * s->Cout + o) * K + r) * K + t];
                            }
                }
}

void glf_ref_conv_transpose2d_backward(double *dx, double *dw, double *db, const double *dy,
                                   const double *x, const double *w, const glf_conv_shape *s)
{
    int Ho = glf_conv_transpose2d_out(s->H, s->K, s->S, s->P);
    int Wo = glf_conv_transpose2d_out(s->W, s->K, s->S, s->P);
    int K = s->K;
    zero_(dx, (size_t)s->B * s->Cin * s->H * s->W);
    zero_(dw, (size_t)s->Cin * s->Cout * K * K);
    zero_(db, (size_t)s->Cout);
    if (db)
        for (int bb = 0; bb < s->B; bb++)
            for (int o = 0; o < s->Cout; o++)
                for (int j = 0; j < Ho * Wo; j++)
                    db[o] += dy[((size_t)bb * s->Cout + o) * Ho * Wo + j];
    for (int bb = 0; bb < s->B; bb++)
        for (int i = 0; i < s->Cin; i++)
            for (int p = 0; p < s->H; p++)
                for (int q = 0; q < s->W; q++) {
                    size_t xi = (((size_t)bb * s->Cin + i) * s->H + p) * s->W + q;
                    for (int o = 0; o < s->Cout; o++)
                        for (int r = 0; r < K; r++)
                            for (int t = 0; t < K; t++) {
                                int u = p * s->S - s->P + r, v = q * s->S - s->P + t;
                                if (u < 0 || u >= Ho || v < 0 || v >= Wo)
                                    continue;
                                double g = dy[(((size_t)bb * s->Cout + o) * Ho + u) * Wo + v];
                                size_t wi = (((size_t)i * s->Cout + o) * K + r) * K + t;
                                if (dx)
                                    dx[xi] += g * w[wi];
                                if (dw)
                                    dw[wi] += g * x[xi];
                            }
                }
}

void glf_ref_linear_forward(double *y, const double *x, const double *w, const double *b, int B,
                        int IN, int OUT)
{
    for (int bb = 0; bb < B; bb++)
        for (int o = 0; o < OUT; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < IN; i++)
                acc += x[(size_t)bb * IN + i] * w[(size_t)o * IN + i];
            y[(size_t)bb * OUT + o] = acc;
        }
}

void glf_ref_linear_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, int B, int IN, int OUT)
{
    zero_(dx, (size_t)B * IN);
    zero_(dw, (size_t)OUT * IN);
    zero_(db, (size_t)OUT);
    for (int bb = 0; bb < B; bb++)
        for (int o = 0; o < OUT; o++) {
            double g = dy[(size_t)bb * OUT + o];
            if (db)
                db[o] += g;
            for (int i = 0; i < IN; i++) {
                if (dx)
                    dx[(size_t)bb * IN + i] += g * w[(size_t)o * IN + i];
                if (dw)
                    dw[(size_t)o * IN + i] += g * x[(size_t)bb * IN + i];
            }
        }
}
