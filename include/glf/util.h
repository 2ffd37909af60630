/* Small host utilities shared by every layer: a monotonic clock, the
 * median of timings, and the GEMM self-check used by `glf check`. */
#ifndef GLF_UTIL_H
#define GLF_UTIL_H

#include <stddef.h>

#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on a monotonic clock. */
double glf_now(void);

/* The median of v[0..n) (n >= 1; the mean of the two middle values when n
 * is even). Sorts v in place. */
double glf_median(double *v, int n);

typedef struct glf_gemm_check {
    size_t M, N, K;
    double max_rel_err; /* max |got - want| / (1 + |want|) over C */
    double seconds;     /* best of the timed repetitions */
    double gflops;
} glf_gemm_check;

/* Random A, B; C = A*B on the device vs a double reference on the host;
 * fails with GLF_ERR_NUMERIC when the error exceeds what fp32 allows. */
glf_status glf_gemm_selfcheck(glf_ctx *ctx, size_t M, size_t N, size_t K, int reps,
                              glf_gemm_check *out);

#ifdef __cplusplus
}
#endif
#endif
