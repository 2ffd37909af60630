/* Improved precision and recall (Kynkäänniemi et al. 2019): each set's
 * k-NN radii, then ball membership across sets. Pairwise squared distances
 * are ||a||^2 + ||b||^2 - 2 a.b with a.b from the device GEMM, one block of
 * rows at a time; the norms, the k-NN selection and the counts are done on
 * the host in double, in a fixed order. */
#include "glf/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/gemm.h"

/* One block of distances at most this many floats (64 MiB). */
#define PRD_BLOCK_FLOATS_ ((size_t)16 << 20)

/* A feature set on the device with its squared row norms (of the floats
 * actually uploaded, so that a point's distance to itself is ~0). */
typedef struct prd_set_ {
    cl_mem buf;
    double *norm2;
    size_t n;
} prd_set_;

static void set_free_(prd_set_ *s)
{
    glf_buf_release(s->buf);
    free(s->norm2);
    memset(s, 0, sizeof *s);
}

/* Upload x - centre (centre may be NULL) as floats. */
static glf_status set_make_(glf_ctx *ctx, const float *x, size_t n, size_t d,
                            const double *centre, prd_set_ *out, const char *what)
{
    memset(out, 0, sizeof *out);
    float *h = malloc(n * d * sizeof *h);
    out->norm2 = malloc(n * sizeof *out->norm2);
    if (!h || !out->norm2) {
        free(h);
        set_free_(out);
        return glf_fail(GLF_ERR_NOMEM, "precision/recall: out of memory for %s (%zu x %zu)",
                        what, n, d);
    }
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < d; j++) {
            double v = x[i * d + j];
            if (!isfinite(v)) {
                free(h);
                set_free_(out);
                return glf_fail(GLF_ERR_NUMERIC,
                                "precision/recall: %s feature %zu of row %zu is %g; features "
                                "must be finite", what, j, i, v);
            }
            float f = (float)(centre ? v - centre[j] : v);
            h[i * d + j] = f;
            s += (double)f * f;
        }
        out->norm2[i] = s;
    }
    out->n = n;
    glf_status st = glf_buf_create(ctx, n * d * sizeof(float), &out->buf);
    if (st == GLF_OK)
        st = glf_buf_write(ctx, out->buf, 0, n * d * sizeof(float), h);
    free(h);
    if (st != GLF_OK)
        set_free_(out);
    return st;
}

static size_t block_rows_(size_t want, size_t rows, size_t cols)
{
    size_t b = want ? want : PRD_BLOCK_FLOATS_ / (cols ? cols : 1);
    if (b < 1)
        b = 1;
    return b < rows ? b : rows;
}

/* host[i*b.n + j] = a.b for rows r0+i of a and j of b, i < nr (device GEMM;
 * dot is a device scratch buffer of at least nr * b.n floats). */
static glf_status dot_block_(glf_ctx *ctx, const prd_set_ *a, const prd_set_ *b, size_t d,
                             size_t r0, size_t nr, cl_mem dot, float *host)
{
    GLF_TRY(glf_gemm(ctx, GLF_NO_TRANS, GLF_TRANS, nr, b->n, d, 1.0f, a->buf, r0 * d, d, b->buf,
                     0, d, 0.0f, dot, 0, b->n));
    return glf_buf_read(ctx, dot, 0, nr * b->n * sizeof(float), host);
}

/* Squared distances of row r of a to every row of b, from its dot products. */
static void row_dist_(const prd_set_ *a, const prd_set_ *b, size_t r, const float *dots,
                      double *dist)
{
    for (size_t j = 0; j < b->n; j++) {
        double v = a->norm2[r] + b->norm2[j] - 2.0 * (double)dots[j];
        dist[j] = v > 0.0 ? v : 0.0; /* rounding can go below zero for near-equal rows */
    }
}

/* Scratch for a sweep of a's rows against all of b. */
typedef struct prd_sweep_ {
    size_t rows; /* rows per block */
    cl_mem dot;
    float *host;
    double *dist; /* one row of distances */
} prd_sweep_;

static glf_status sweep_make_(glf_ctx *ctx, size_t rows, size_t cols, size_t want,
                              prd_sweep_ *s)
{
    memset(s, 0, sizeof *s);
    s->rows = block_rows_(want, rows, cols);
    s->host = malloc(s->rows * cols * sizeof *s->host);
    s->dist = malloc(cols * sizeof *s->dist);
    glf_status st = s->host && s->dist
                        ? glf_buf_create(ctx, s->rows * cols * sizeof(float), &s->dot)
                        : glf_fail(GLF_ERR_NOMEM,
                                   "precision/recall: out of memory for a %zu x %zu block",
                                   s->rows, cols);
    if (st != GLF_OK) {
        free(s->host), free(s->dist);
        memset(s, 0, sizeof *s); /* nothing left to free */
    }
    return st;
}

static void sweep_free_(prd_sweep_ *s)
{
    glf_buf_release(s->dot);
    free(s->host), free(s->dist);
}

/* k smallest distances of each row to the other rows; radii2[i] = the k-th. */
static glf_status radii_(glf_ctx *ctx, const prd_set_ *x, size_t d, int k, size_t want,
                         double *radii2)
{
    prd_sweep_ sw;
    GLF_TRY(sweep_make_(ctx, x->n, x->n, want, &sw));
    double *best = malloc((size_t)k * sizeof *best);
    glf_status st = best ? GLF_OK : glf_fail(GLF_ERR_NOMEM, "precision/recall: out of memory");
    for (size_t r0 = 0; st == GLF_OK && r0 < x->n; r0 += sw.rows) {
        size_t nr = x->n - r0 < sw.rows ? x->n - r0 : sw.rows;
        st = dot_block_(ctx, x, x, d, r0, nr, sw.dot, sw.host);
        for (size_t i = 0; st == GLF_OK && i < nr; i++) {
            int have = 0; /* best[0..have) ascending: insertion into a short list */
            const double *row = sw.dist;
            row_dist_(x, x, r0 + i, sw.host + i * x->n, sw.dist);
            for (size_t j = 0; j < x->n; j++) {
                if (j == r0 + i)
                    continue;
                double v = row[j];
                if (have == k && v >= best[k - 1])
                    continue;
                int p = have < k ? have++ : k - 1;
                while (p > 0 && best[p - 1] > v) {
                    best[p] = best[p - 1];
                    p--;
                }
                best[p] = v;
            }
            radii2[r0 + i] = best[k - 1];
        }
    }
    free(best);
    sweep_free_(&sw);
    return st;
}

/* centre (d, zeroed by the caller) = mean of the n rows of x. */
static void mean_rows_(const float *x, size_t n, size_t d, double *centre)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            centre[j] += x[i * d + j];
    for (size_t j = 0; j < d; j++)
        centre[j] /= (double)n;
}

static glf_status check_args_(const char *fn, const float *x, size_t n, int D, int k)
{
    if (!x || D < 1 || k < 1 || n <= (size_t)k)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: %zu rows of D = %d with k = %d; expected D >= 1, k >= 1 and more "
                        "than k rows", fn, n, D, k);
    return GLF_OK;
}

glf_status glf_knn_radii(glf_ctx *ctx, const float *x, size_t n, int D, int k,
                         size_t block_rows, double *radii2)
{
    GLF_TRY(check_args_("glf_knn_radii", x, n, D, k));
    size_t d = (size_t)D;
    double *centre = calloc(d, sizeof *centre);
    if (!centre)
        return glf_fail(GLF_ERR_NOMEM, "glf_knn_radii: out of memory");
    mean_rows_(x, n, d, centre);
    prd_set_ s;
    glf_status st = set_make_(ctx, x, n, d, centre, &s, "the set");
    if (st == GLF_OK)
        st = radii_(ctx, &s, d, k, block_rows, radii2);
    set_free_(&s);
    free(centre);
    return st;
}

glf_status glf_prd_compute(glf_ctx *ctx, const float *real, size_t n_real, const float *fake,
                           size_t n_fake, int D, int k, size_t block_rows, glf_prd *out)
{
    GLF_TRY(check_args_("glf_prd_compute (real set)", real, n_real, D, k));
    GLF_TRY(check_args_("glf_prd_compute (fake set)", fake, n_fake, D, k));
    size_t d = (size_t)D;
    double *centre = calloc(d, sizeof *centre);
    double *rr = malloc(n_real * sizeof *rr), *rf = malloc(n_fake * sizeof *rf);
    unsigned char *covered = calloc(n_real, 1);
    prd_set_ R = {0}, F = {0};
    prd_sweep_ sw = {0};
    glf_status st = GLF_OK;
    if (!centre || !rr || !rf || !covered) {
        st = glf_fail(GLF_ERR_NOMEM, "glf_prd_compute: out of memory");
        goto done;
    }
    mean_rows_(real, n_real, d, centre);
    if ((st = set_make_(ctx, real, n_real, d, centre, &R, "real")) != GLF_OK ||
        (st = set_make_(ctx, fake, n_fake, d, centre, &F, "fake")) != GLF_OK ||
        (st = radii_(ctx, &R, d, k, block_rows, rr)) != GLF_OK ||
        (st = radii_(ctx, &F, d, k, block_rows, rf)) != GLF_OK ||
        (st = sweep_make_(ctx, n_fake, n_real, block_rows, &sw)) != GLF_OK)
        goto done;
    /* One sweep of fake rows against all real rows gives both answers:
     * precision per fake row, recall (coverage) per real column. */
    size_t inside = 0;
    for (size_t r0 = 0; r0 < n_fake; r0 += sw.rows) {
        size_t nr = n_fake - r0 < sw.rows ? n_fake - r0 : sw.rows;
        if ((st = dot_block_(ctx, &F, &R, d, r0, nr, sw.dot, sw.host)) != GLF_OK)
            goto done;
        for (size_t i = 0; i < nr; i++) {
            const double *row = sw.dist;
            row_dist_(&F, &R, r0 + i, sw.host + i * n_real, sw.dist);
            double rad = rf[r0 + i];
            int in = 0;
            for (size_t j = 0; j < n_real; j++) {
                in |= row[j] <= rr[j];
                covered[j] |= row[j] <= rad;
            }
            inside += (size_t)in;
        }
    }
    size_t cov = 0;
    for (size_t j = 0; j < n_real; j++)
        cov += covered[j];
    out->precision = (double)inside / (double)n_fake;
    out->recall = (double)cov / (double)n_real;
    out->k = k;
    out->n_real = n_real;
    out->n_fake = n_fake;
done:
    sweep_free_(&sw);
    set_free_(&R), set_free_(&F);
    free(centre), free(rr), free(rf), free(covered);
    return st;
}
