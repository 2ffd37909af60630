/* Double-precision references for BatchNorm, activations and reductions
 * (see ref_norm.h). Straight loops in double, no cleverness: these are
 * what the kernels are judged against. */
#include "ref_norm.h"

#include <math.h>

void ref_bn_forward_train(double *y, double *mean, double *invstd, double *rm, double *rv,
                          const double *x, const double *gamma, const double *beta, int B, int C,
                          int L, double momentum, double eps)
{
    size_t CL = (size_t)C * L, n = (size_t)B * L;
    for (int c = 0; c < C; c++) {
        double s = 0, q = 0;
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++)
                s += x[b * CL + (size_t)c * L + l];
        double m = s / (double)n;
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++) {
                double d = x[b * CL + (size_t)c * L + l] - m;
                q += d * d;
            }
        double is = 1.0 / sqrt(q / (double)n + eps);
        mean[c] = m;
        invstd[c] = is;
        if (rm) {
            rm[c] = (1.0 - momentum) * rm[c] + momentum * m;
            rv[c] = (1.0 - momentum) * rv[c] + momentum * q / (double)(n - 1);
        }
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++) {
                size_t i = b * CL + (size_t)c * L + l;
                y[i] = (x[i] - m) * is * gamma[c] + beta[c];
            }
    }
}

void ref_bn_forward_eval(double *y, const double *rm, const double *rv, const double *x,
                         const double *gamma, const double *beta, int B, int C, int L, double eps)
{
    size_t CL = (size_t)C * L;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int l = 0; l < L; l++) {
                size_t i = b * CL + (size_t)c * L + l;
                y[i] = (x[i] - rm[c]) / sqrt(rv[c] + eps) * gamma[c] + beta[c];
            }
}

void ref_bn_backward(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x,
                     const double *mean, const double *invstd, const double *gamma, int B, int C,
                     int L)
{
    size_t CL = (size_t)C * L;
    double n = (double)B * L;
    for (int c = 0; c < C; c++) {
        double sdy = 0, sdyxh = 0;
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++) {
                size_t i = b * CL + (size_t)c * L + l;
                sdy += dy[i];
                sdyxh += dy[i] * (x[i] - mean[c]) * invstd[c];
            }
        dbeta[c] = sdy;
        dgamma[c] = sdyxh;
        /* dx = gamma*invstd/n * (n*dy - sum dy - xhat * sum(dy*xhat)) */
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++) {
                size_t i = b * CL + (size_t)c * L + l;
                double xh = (x[i] - mean[c]) * invstd[c];
                dx[i] = gamma[c] * invstd[c] / n * (n * dy[i] - sdy - xh * sdyxh);
            }
    }
}

#define SOFTCLAMP_K (2.0 * 0.636)

double ref_act(glf_act a, double x)
{
    switch (a) {
    case GLF_ACT_RELU:
        return x > 0 ? x : 0.0;
    case GLF_ACT_TANH:
        return tanh(x);
    case GLF_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case GLF_ACT_OUTMAP:
        return x * 0.5 + 0.5;
    case GLF_ACT_TANH_OUTMAP:
        return tanh(x) * 0.5 + 0.5;
    case GLF_ACT_SOFTCLAMP:
        return SOFTCLAMP_K * atan(x);
    }
    return NAN;
}

double ref_act_grad(glf_act a, double x)
{
    switch (a) {
    case GLF_ACT_RELU:
        return x > 0 ? 1.0 : 0.0;
    case GLF_ACT_TANH:
        return 1.0 - tanh(x) * tanh(x);
    case GLF_ACT_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-x));
        return s * (1.0 - s);
    }
    case GLF_ACT_OUTMAP:
        return 0.5;
    case GLF_ACT_TANH_OUTMAP:
        return 0.5 * (1.0 - tanh(x) * tanh(x));
    case GLF_ACT_SOFTCLAMP:
        return SOFTCLAMP_K / (1.0 + x * x);
    }
    return NAN;
}

void ref_sum_rows(double *out, const double *in, int M, int N)
{
    for (int j = 0; j < N; j++)
        out[j] = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            out[j] += in[(size_t)i * N + j];
}

double ref_sum_all(const double *in, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += in[i];
    return s;
}

void ref_axpby(double *y, const double *x, size_t n, double a, double b)
{
    for (size_t i = 0; i < n; i++)
        y[i] = b == 0.0 ? a * x[i] : a * x[i] + b * y[i];
}
