/* Fréchet distance between Gaussian fits of two feature sets (FID-clf).
 * Means and covariances in double; the matrix square roots come from
 * symmetric eigen-decompositions (LAPACKE_dsyevd), never from an iterative
 * sqrtm, so the result is exact up to rounding for any PSD input. */
#include "glf/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef GLF_HAVE_LAPACKE
#include <lapacke.h>
#endif

glf_status glf_feature_stats(const float *x, size_t n, int D, double *mean, double *cov)
{
    if (!x || !mean || !cov || D < 1 || n < 2)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_feature_stats: n = %zu rows of D = %d, expected n >= 2, D >= 1 "
                        "and non-NULL arrays", n, D);
    size_t d = (size_t)D;
    double *row = malloc(d * sizeof *row);
    if (!row)
        return glf_fail(GLF_ERR_NOMEM, "glf_feature_stats: out of memory (D = %d)", D);
    memset(mean, 0, d * sizeof *mean);
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double v = x[i * d + j];
            if (!isfinite(v)) {
                free(row);
                return glf_fail(GLF_ERR_NUMERIC,
                                "glf_feature_stats: feature %zu of row %zu is %g; features "
                                "must be finite", j, i, v);
            }
            mean[j] += v;
        }
    for (size_t j = 0; j < d; j++)
        mean[j] /= (double)n;
    /* Two passes (centre, then accumulate) keep the covariance accurate
     * when the mean is large against the spread. Upper triangle, mirrored. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            row[j] = x[i * d + j] - mean[j];
        for (size_t a = 0; a < d; a++) {
            double ra = row[a];
            double *c = cov + a * d;
            for (size_t b = a; b < d; b++)
                c[b] += ra * row[b];
        }
    }
    for (size_t a = 0; a < d; a++)
        for (size_t b = a; b < d; b++) {
            cov[a * d + b] /= (double)(n - 1);
            cov[b * d + a] = cov[a * d + b];
        }
    free(row);
    return GLF_OK;
}

#ifdef GLF_HAVE_LAPACKE
/* Eigenvalues w (ascending) and, with vectors, eigenvectors in the columns
 * of a (row-major D x D, overwritten). */
static glf_status eigh_(double *a, double *w, int D, int vectors, const char *what)
{
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'U', D, a, D, w);
    if (info != 0)
        return glf_fail(GLF_ERR_NUMERIC,
                        "glf_frechet_distance: LAPACKE_dsyevd on %s (%d x %d) returned info "
                        "= %d (%s)", what, D, D, (int)info,
                        info < 0 ? "an invalid argument" : "no convergence");
    return GLF_OK;
}

/* c = a * b, all D x D row-major. */
static void matmul_(double *c, const double *a, const double *b, size_t d)
{
    for (size_t i = 0; i < d; i++) {
        double *ci = c + i * d;
        for (size_t j = 0; j < d; j++)
            ci[j] = 0.0;
        for (size_t k = 0; k < d; k++) {
            double aik = a[i * d + k];
            const double *bk = b + k * d;
            for (size_t j = 0; j < d; j++)
                ci[j] += aik * bk[j];
        }
    }
}

/* tr sqrt(S1^(1/2) S2 S1^(1/2)) via two eigen-decompositions. */
static glf_status trace_sqrt_product_(const double *S1, const double *S2, size_t d,
                                      double *out)
{
    double *V = malloc(d * d * sizeof *V), *w = malloc(d * sizeof *w);
    double *A = malloc(d * d * sizeof *A), *T = malloc(d * d * sizeof *T);
    double *M = malloc(d * d * sizeof *M);
    glf_status s = GLF_OK;
    if (!V || !w || !A || !T || !M) {
        s = glf_fail(GLF_ERR_NOMEM, "glf_frechet_distance: out of memory (D = %zu)", d);
        goto done;
    }
    memcpy(V, S1, d * d * sizeof *V);
    if ((s = eigh_(V, w, (int)d, 1, "S1")) != GLF_OK)
        goto done;
    /* A = S1^(1/2) = V diag(sqrt(max(w, 0))) V^T */
    for (size_t k = 0; k < d; k++)
        w[k] = w[k] > 0.0 ? sqrt(w[k]) : 0.0;
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j <= i; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++)
                acc += V[i * d + k] * w[k] * V[j * d + k];
            A[i * d + j] = A[j * d + i] = acc;
        }
    matmul_(T, A, S2, d);
    matmul_(M, T, A, d);
    for (size_t i = 0; i < d; i++) /* symmetric in exact arithmetic: make it so */
        for (size_t j = 0; j < i; j++)
            M[i * d + j] = M[j * d + i] = 0.5 * (M[i * d + j] + M[j * d + i]);
    if ((s = eigh_(M, w, (int)d, 0, "S1^(1/2) S2 S1^(1/2)")) != GLF_OK)
        goto done;
    double tr = 0.0;
    for (size_t k = 0; k < d; k++)
        tr += w[k] > 0.0 ? sqrt(w[k]) : 0.0;
    *out = tr;
done:
    free(V), free(w), free(A), free(T), free(M);
    return s;
}
#endif

glf_status glf_frechet_distance(const double *mu1, const double *S1, const double *mu2,
                                const double *S2, int D, double *out)
{
    if (!mu1 || !S1 || !mu2 || !S2 || !out || D < 1)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_frechet_distance: D = %d, expected D >= 1 and non-NULL arrays", D);
    size_t d = (size_t)D;
    double dm = 0.0, tr1 = 0.0, tr2 = 0.0;
    for (size_t i = 0; i < d; i++) {
        double t = mu1[i] - mu2[i];
        dm += t * t;
        tr1 += S1[i * d + i];
        tr2 += S2[i * d + i];
    }
    if (!isfinite(dm) || !isfinite(tr1) || !isfinite(tr2))
        return glf_fail(GLF_ERR_NUMERIC,
                        "glf_frechet_distance: non-finite input (|mu1-mu2|^2 = %g, tr S1 = %g, "
                        "tr S2 = %g)", dm, tr1, tr2);
#ifdef GLF_HAVE_LAPACKE
    double trs = 0.0;
    GLF_TRY(trace_sqrt_product_(S1, S2, d, &trs));
    *out = dm + tr1 + tr2 - 2.0 * trs;
    return GLF_OK;
#else
    return glf_fail(GLF_ERR_INTERNAL,
                    "glf_frechet_distance: libglf was built without LAPACKE; install "
                    "liblapacke-dev (pkg-config lapacke) and rebuild");
#endif
}

glf_status glf_fid(const float *a, size_t na, const float *b, size_t nb, int D, double *out)
{
    if (D < 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_fid: D = %d, expected >= 1", D);
    size_t d = (size_t)D;
    double *m1 = malloc(d * sizeof *m1), *m2 = malloc(d * sizeof *m2);
    double *S1 = malloc(d * d * sizeof *S1), *S2 = malloc(d * d * sizeof *S2);
    glf_status s;
    if (!m1 || !m2 || !S1 || !S2)
        s = glf_fail(GLF_ERR_NOMEM, "glf_fid: out of memory (D = %d)", D);
    else if ((s = glf_feature_stats(a, na, D, m1, S1)) != GLF_OK)
        glf_fail_context(s, "glf_fid: first feature set");
    else if ((s = glf_feature_stats(b, nb, D, m2, S2)) != GLF_OK)
        glf_fail_context(s, "glf_fid: second feature set");
    else
        s = glf_frechet_distance(m1, S1, m2, S2, D, out);
    free(m1), free(m2), free(S1), free(S2);
    return s;
}
