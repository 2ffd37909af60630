/* Double-precision plain-C references of the BatchNorm, activation and
 * reduction ops (include/glf/ops_norm.h), written straight from PyTorch's
 * definitions; the tests compare the OpenCL kernels against them. */
#ifndef GLF_REF_NORM_H
#define GLF_REF_NORM_H

#include <stddef.h>

#include "glf/ops_norm.h"

/* Train mode over x (B, C, L): y, and per channel mean, invstd (biased
 * variance); rm, rv (C) updated in place when not NULL (unbiased variance). */
void ref_bn_forward_train(double *y, double *mean, double *invstd, double *rm, double *rv,
                          const double *x, const double *gamma, const double *beta, int B, int C,
                          int L, double momentum, double eps);
void ref_bn_forward_eval(double *y, const double *rm, const double *rv, const double *x,
                         const double *gamma, const double *beta, int B, int C, int L, double eps);
/* Exact gradient of the train-mode forward (overwrites dx, dgamma, dbeta). */
void ref_bn_backward(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x,
                     const double *mean, const double *invstd, const double *gamma, int B, int C,
                     int L);

double ref_act(glf_act a, double x);
double ref_act_grad(glf_act a, double x); /* f'(x) */

/* out[j] = sum_i in[i*N + j]; sum of n; y = a*x + b*y (b == 0: y not read). */
void ref_sum_rows(double *out, const double *in, int M, int N);
double ref_sum_all(const double *in, size_t n);
void ref_axpby(double *y, const double *x, size_t n, double a, double b);

#endif
