/* Sample-quality statistics on feature vectors (rows of D floats, e.g. the
 * 128-d feature layer of the glf classifier): Fréchet distance (FID-clf),
 * improved precision/recall (Kynkäänniemi et al. 2019) and the class
 * histogram of samples with its entropy. All sums are in double and in a
 * fixed order, so the same inputs give the same numbers. */
#ifndef GLF_EVAL_H
#define GLF_EVAL_H

#include <stddef.h>

#include "glf/runtime.h"
#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Fréchet distance ------------------------------------------------------ */

/* Mean (D) and unbiased covariance (D x D, row-major, divisor n - 1, as
 * numpy.cov) of n >= 2 rows x (n, D). Non-finite input fails. */
glf_status glf_feature_stats(const float *x, size_t n, int D, double *mean, double *cov);

/* Fréchet distance between N(mu1, S1) and N(mu2, S2):
 *   ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1^(1/2) S2 S1^(1/2)),
 * both square roots from symmetric eigen-decompositions (LAPACKE_dsyevd),
 * eigenvalues below zero (rounding) taken as zero. S1, S2 symmetric D x D.
 * Not clamped: rounding can leave a tiny negative value for equal inputs.
 * Fails with GLF_ERR_INTERNAL when libglf was built without LAPACKE. */
glf_status glf_frechet_distance(const double *mu1, const double *S1, const double *mu2,
                                const double *S2, int D, double *out);

/* FID of two feature sets a (na, D) and b (nb, D): the two calls above. */
glf_status glf_fid(const float *a, size_t na, const float *b, size_t nb, int D, double *out);

/* ---- improved precision and recall ------------------------------------------ */

/* Squared distance of each row of x (n, D) to its k-th nearest other row
 * (the row itself excluded; duplicates count), n > k >= 1, after centring
 * the rows on their mean (which leaves distances unchanged). Distances are
 * ||a||^2 + ||b||^2 - 2 a.b with a.b from glf_gemm on ctx, block_rows rows
 * at a time (0: choose so that one block of distances is at most 64 MiB). */
glf_status glf_knn_radii(glf_ctx *ctx, const float *x, size_t n, int D, int k,
                         size_t block_rows, double *radii2 /* (n) */);

typedef struct glf_prd {
    double precision; /* fraction of fake rows inside some real row's k-NN ball */
    double recall;    /* fraction of real rows inside some fake row's k-NN ball */
    int k;
    size_t n_real, n_fake;
} glf_prd;

/* Improved precision and recall of fake (n_fake, D) against real (n_real, D)
 * with k-NN radii (k = 3 in the paper); a point on a ball's boundary counts
 * as inside. Both sets are centred on the real mean first (distances do not
 * change; float cancellation does). Pairwise distances from the device GEMM. */
glf_status glf_prd_compute(glf_ctx *ctx, const float *real, size_t n_real, const float *fake,
                           size_t n_fake, int D, int k, size_t block_rows, glf_prd *out);

/* ---- class histogram ------------------------------------------------------------ */

/* counts[c] = number of labels equal to c (c < classes); *entropy (may be
 * NULL) = -sum p log p in nats with p = counts / n (log(classes) when all
 * classes are equally frequent). A label outside [0, classes) fails. */
glf_status glf_class_histogram(const int *labels, size_t n, int classes, size_t *counts,
                               double *entropy);

#ifdef __cplusplus
}
#endif
#endif
