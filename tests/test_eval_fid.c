/* Fréchet distance (host/eval/fid.c) and the class histogram (hist.c):
 * feature statistics vs a hand-computed case, FID of a set against itself,
 * closed forms (diagonal, commuting non-diagonal, S1 = I, a non-commuting
 * 2x2 case), symmetry at D = 128, samples of known Gaussians, bad input. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/eval.h"

#define D_ 128

/* Random orthogonal d x d (modified Gram-Schmidt on Gaussian columns). */
static double *rand_orthogonal_(int d, uint64_t seed)
{
    glf_rng r;
    glf_rng_init(&r, seed, 3);
    double *Q = malloc((size_t)d * d * sizeof *Q);
    assert_non_null(Q);
    for (int i = 0; i < d * d; i++)
        Q[i] = glf_rng_normal(&r);
    for (int c = 0; c < d; c++) { /* column c of Q (row-major: Q[i*d + c]) */
        for (int p = 0; p < c; p++) {
            double dot = 0;
            for (int i = 0; i < d; i++)
                dot += Q[i * d + c] * Q[i * d + p];
            for (int i = 0; i < d; i++)
                Q[i * d + c] -= dot * Q[i * d + p];
        }
        double nrm = 0;
        for (int i = 0; i < d; i++)
            nrm += Q[i * d + c] * Q[i * d + c];
        nrm = sqrt(nrm);
        for (int i = 0; i < d; i++)
            Q[i * d + c] /= nrm;
    }
    return Q;
}

/* S = Q diag(l) Q^T */
static double *spd_(const double *Q, const double *l, int d)
{
    double *S = malloc((size_t)d * d * sizeof *S);
    assert_non_null(S);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double a = 0;
            for (int k = 0; k < d; k++)
                a += Q[i * d + k] * l[k] * Q[j * d + k];
            S[i * d + j] = a;
        }
    return S;
}

static double fd_(const double *m1, const double *S1, const double *m2, const double *S2, int d)
{
    double f = NAN;
    TU_OK(glf_frechet_distance(m1, S1, m2, S2, d, &f));
    return f;
}

static void assert_close_(const char *what, double got, double want, double rtol)
{
    if (!(fabs(got - want) <= rtol * fabs(want) + 1e-12))
        fail_msg("%s: got %.12g, want %.12g (rel err %.3g > %.3g)", what, got, want,
                 fabs(got - want) / fabs(want), rtol);
}

static void test_feature_stats_by_hand(void **state)
{
    (void)state;
    /* Rows (1,2), (3,6), (5,7): mean (3,5); deviations (-2,-3), (0,1), (2,2);
     * unbiased covariance [[4, 5], [5, 7]]. */
    const float x[6] = {1, 2, 3, 6, 5, 7};
    double m[2], S[4];
    TU_OK(glf_feature_stats(x, 3, 2, m, S));
    assert_close_("mean0", m[0], 3, 1e-15), assert_close_("mean1", m[1], 5, 1e-15);
    assert_close_("S00", S[0], 4, 1e-15), assert_close_("S01", S[1], 5, 1e-15);
    assert_close_("S10", S[2], 5, 1e-15), assert_close_("S11", S[3], 7, 1e-15);
}

/* n rows of x = z W + c with z ~ N(0, I): correlated, non-diagonal covariance. */
static float *correlated_(size_t n, int d, uint64_t seed, double shift)
{
    glf_rng r;
    glf_rng_init(&r, seed, 1);
    double *W = malloc((size_t)d * d * sizeof *W), *z = malloc((size_t)d * sizeof *z);
    float *x = malloc(n * (size_t)d * sizeof *x);
    for (int i = 0; i < d * d; i++)
        W[i] = glf_rng_normal(&r) / sqrt(d);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < d; k++)
            z[k] = glf_rng_normal(&r);
        for (int j = 0; j < d; j++) {
            double a = shift;
            for (int k = 0; k < d; k++)
                a += z[k] * W[k * d + j];
            x[i * d + j] = (float)a;
        }
    }
    free(W), free(z);
    return x;
}

static void test_fid_self_is_zero(void **state)
{
    (void)state;
    const size_t ns[] = {2000, 100}; /* full rank, then rank 99 < D */
    for (int c = 0; c < 2; c++) {
        float *x = correlated_(ns[c], D_, 11 + c, 3.0);
        double *m = malloc(D_ * sizeof *m), *S = malloc(D_ * D_ * sizeof *S);
        TU_OK(glf_feature_stats(x, ns[c], D_, m, S));
        double tr = 0;
        for (int i = 0; i < D_; i++)
            tr += S[i * D_ + i];
        double f = NAN;
        TU_OK(glf_fid(x, ns[c], x, ns[c], D_, &f));
        print_message("  FID(x, x), n = %zu, D = %d: %.3g (tr S = %.4g)\n", ns[c], D_, f, tr);
        if (!(fabs(f) <= 1e-6 * 2 * tr))
            fail_msg("FID of a set against itself is %.6g, more than 1e-6 of 2 tr S = %.6g", f,
                     2 * tr);
        free(x), free(m), free(S);
    }
}

static void test_closed_forms(void **state)
{
    (void)state;
    double *a = tu_rand_f64(D_, 1, 0.1, 4), *b = tu_rand_f64(D_, 2, 0.01, 9);
    double *m1 = tu_rand_f64(D_, 3, -1, 1), *m2 = tu_rand_f64(D_, 4, -1, 1);
    double dm = 0, want = 0, want_eye = 0;
    for (int i = 0; i < D_; i++) {
        dm += (m1[i] - m2[i]) * (m1[i] - m2[i]);
        want += (sqrt(a[i]) - sqrt(b[i])) * (sqrt(a[i]) - sqrt(b[i]));
        want_eye += (1 - sqrt(b[i])) * (1 - sqrt(b[i]));
    }
    want += dm, want_eye += dm;
    double *Q = rand_orthogonal_(D_, 7), *E = calloc((size_t)D_ * D_, sizeof *E);
    for (int i = 0; i < D_; i++)
        E[i * D_ + i] = 1.0;
    /* Diagonal covariances. */
    double *Sa = calloc((size_t)D_ * D_, sizeof *Sa), *Sb = calloc((size_t)D_ * D_, sizeof *Sb);
    for (int i = 0; i < D_; i++)
        Sa[i * D_ + i] = a[i], Sb[i * D_ + i] = b[i];
    assert_close_("diagonal", fd_(m1, Sa, m2, Sb, D_), want, 1e-9);
    /* Commuting, non-diagonal: same eigenvectors Q. */
    double *Qa = spd_(Q, a, D_), *Qb = spd_(Q, b, D_);
    assert_close_("commuting Q diag(a) Q^T, Q diag(b) Q^T", fd_(m1, Qa, m2, Qb, D_), want, 1e-9);
    /* S1 = I against a non-diagonal S2: D + tr S2 - 2 sum sqrt(eig S2). */
    assert_close_("I vs Q diag(b) Q^T", fd_(m1, E, m2, Qb, D_), want_eye, 1e-9);
    assert_close_("Q diag(b) Q^T vs I", fd_(m1, Qb, m2, E, D_), want_eye, 1e-9);
    /* Non-commuting at D = 128: tr sqrt(S1^1/2 S2 S1^1/2) is symmetric in S1, S2. */
    double *R = rand_orthogonal_(D_, 9);
    double *Ra = spd_(R, a, D_);
    double f12 = fd_(m1, Ra, m2, Qb, D_), f21 = fd_(m2, Qb, m1, Ra, D_);
    assert_close_("non-commuting symmetry", f12, f21, 1e-9);
    assert_true(f12 > 0);
    free(a), free(b), free(m1), free(m2), free(E), free(Q), free(Sa);
    free(Sb), free(Qa), free(Qb), free(R), free(Ra);
}

static void test_non_commuting_2x2(void **state)
{
    (void)state;
    /* For 2x2 PSD M: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)); with
     * M = S1^1/2 S2 S1^1/2: tr M = tr(S1 S2), det M = det S1 det S2. */
    const double cases[][6] = {{2, 0.5, 1, 1, -0.3, 3},
                               {1, 0.9, 1, 5, -2, 1},
                               {4, 0, 0.25, 0.3, 0.1, 0.2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const double *v = cases[c];
        double S1[4] = {v[0], v[1], v[1], v[2]}, S2[4] = {v[3], v[4], v[4], v[5]};
        double m1[2] = {0.5, -1}, m2[2] = {0, 2};
        double trp = S1[0] * S2[0] + S1[1] * S2[2] + S1[2] * S2[1] + S1[3] * S2[3];
        double det = (S1[0] * S1[3] - S1[1] * S1[2]) * (S2[0] * S2[3] - S2[1] * S2[2]);
        double want = 0.25 + 9 + S1[0] + S1[3] + S2[0] + S2[3] - 2 * sqrt(trp + 2 * sqrt(det));
        char what[64];
        snprintf(what, sizeof what, "2x2 non-commuting case %zu", c);
        assert_close_(what, fd_(m1, S1, m2, S2, 2), want, 1e-12);
    }
}

/* FID of samples from N(mu1, diag a) and N(mu2, diag b) vs the closed form. */
static void test_gaussian_samples(void **state)
{
    (void)state;
    const int d = 8;
    const size_t n = 40000;
    double a[8], b[8], m1[8], m2[8], want = 0;
    for (int i = 0; i < d; i++) {
        a[i] = 0.5 + i, b[i] = 4.0 - 0.4 * i, m1[i] = 0.1 * i, m2[i] = 1 - 0.2 * i;
        want += (m1[i] - m2[i]) * (m1[i] - m2[i]) + (sqrt(a[i]) - sqrt(b[i])) *
                                                        (sqrt(a[i]) - sqrt(b[i]));
    }
    float *x = malloc(n * d * sizeof *x), *y = malloc(n * d * sizeof *y);
    glf_rng r;
    glf_rng_init(&r, 5, 5);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            x[i * d + j] = (float)(m1[j] + sqrt(a[j]) * glf_rng_normal(&r));
            y[i * d + j] = (float)(m2[j] + sqrt(b[j]) * glf_rng_normal(&r));
        }
    double f = NAN;
    TU_OK(glf_fid(x, n, y, n, d, &f));
    print_message("  FID of %zu samples each, D = %d: %.5f (closed form %.5f)\n", n, d, f, want);
    assert_close_("FID of Gaussian samples", f, want, 0.03);
    double f2 = NAN;
    TU_OK(glf_fid(x, n, y, n, d, &f2));
    assert_memory_equal(&f, &f2, sizeof f); /* same inputs, same bits */
    free(x), free(y);
}

static void test_bad_input(void **state)
{
    (void)state;
    float x[6] = {1, 2, 3, NAN, 5, 6};
    double m[2], S[4], f;
    assert_int_equal(glf_feature_stats(x, 3, 2, m, S), GLF_ERR_NUMERIC);
    assert_non_null(strstr(glf_last_error(), "row 1"));
    assert_int_equal(glf_feature_stats(x, 1, 2, m, S), GLF_ERR_INVALID_ARG);
    const float ok[6] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(glf_fid(ok, 3, ok, 1, 2, &f), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "second feature set"));
    assert_int_equal(glf_fid(x, 3, ok, 3, 2, &f), GLF_ERR_NUMERIC);
    assert_non_null(strstr(glf_last_error(), "first feature set"));
    double nanS[4] = {NAN, 0, 0, 1};
    assert_int_equal(glf_frechet_distance(m, nanS, m, nanS, 2, &f), GLF_ERR_NUMERIC);
}

static void test_class_histogram(void **state)
{
    (void)state;
    const int y[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    size_t c[10];
    double h;
    TU_OK(glf_class_histogram(y, 8, 4, c, &h));
    assert_int_equal(c[0], 2), assert_int_equal(c[3], 2);
    assert_close_("uniform entropy", h, log(4.0), 1e-15);
    TU_OK(glf_class_histogram(y, 8, 5, c, &h)); /* an empty class changes nothing */
    assert_int_equal(c[4], 0);
    assert_close_("entropy with empty class", h, log(4.0), 1e-15);
    const int z[4] = {2, 2, 2, 2};
    TU_OK(glf_class_histogram(z, 4, 3, c, &h));
    assert_true(h == 0.0);
    const int w[4] = {0, 0, 0, 1}; /* p = 3/4, 1/4 */
    TU_OK(glf_class_histogram(w, 4, 2, c, &h));
    assert_close_("skewed entropy", h, -(0.75 * log(0.75) + 0.25 * log(0.25)), 1e-15);
    const int bad[3] = {0, 10, 1};
    assert_int_equal(glf_class_histogram(bad, 3, 10, c, &h), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "label 1 is 10"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feature_stats_by_hand),
        cmocka_unit_test(test_fid_self_is_zero),
        cmocka_unit_test(test_closed_forms),
        cmocka_unit_test(test_non_commuting_2x2),
        cmocka_unit_test(test_gaussian_samples),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_class_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
