/* glf_evaluate: samples (drawn from a model or read from a file) and real
 * training images scored against the test set in the classifier's feature
 * space, plus the test set's reconstruction error and latent NLL. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/classifier.h"
#include "glf/eval.h"
#include "glf/evaluate.h"
#include "glf/image.h"
#include "glf/train.h"

static int ends_with_(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static glf_status shape_fail_(const char *path, const char *got, int C, int H, int W)
{
    return glf_fail(GLF_ERR_MISMATCH, "%s: images of %s, expected %dx%dx%d (C x H x W)", path,
                    got, C, H, W);
}

static int cmp_str_(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static glf_status load_png_dir_(const char *dir, int C, int H, int W, size_t max_n, float **x,
                                size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return glf_fail(GLF_ERR_IO, "%s: not a .npy or .idx file, and not a folder of PNGs",
                        dir);
    char **names = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    glf_status s = GLF_OK;
    while ((e = readdir(d))) {
        if (!ends_with_(e->d_name, ".png"))
            continue;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 256;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                s = glf_fail(GLF_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            names = p;
        }
        names[cnt++] = strdup(e->d_name);
    }
    closedir(d);
    if (!s && cnt == 0)
        s = glf_fail(GLF_ERR_FORMAT, "%s: no .png files", dir);
    if (!s) {
        qsort(names, cnt, sizeof *names, cmp_str_);
        if (max_n && cnt > max_n)
            cnt = max_n;
        size_t N = (size_t)C * H * W;
        *x = malloc(cnt * N * sizeof **x);
        if (!*x)
            s = glf_fail(GLF_ERR_NOMEM, "out of memory reading %zu images", cnt);
        for (size_t i = 0; !s && i < cnt; i++) {
            char path[4096];
            float *img;
            int c, h, w;
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            if ((s = glf_png_read(path, &img, &c, &h, &w)))
                break;
            if (c != C || h != H || w != W) {
                char got[64];
                snprintf(got, sizeof got, "%dx%dx%d", c, h, w);
                s = shape_fail_(path, got, C, H, W);
            } else {
                memcpy(*x + i * N, img, N * sizeof *img);
            }
            free(img);
        }
        if (s) {
            free(*x);
            *x = NULL;
        }
        *n = cnt;
    }
    for (size_t i = 0; i < cnt; i++)
        free(names[i]);
    free(names);
    return s;
}

glf_status glf_load_images(const char *path, int C, int H, int W, size_t max_n, float **x,
                           size_t *n)
{
    size_t N = (size_t)C * H * W;
    *x = NULL;
    *n = 0;
    if (ends_with_(path, ".npy")) {
        glf_npy a;
        GLF_TRY(glf_npy_read(path, &a));
        int ok = (a.ndim == 4 && a.shape[1] == C && a.shape[2] == H && a.shape[3] == W) ||
                 (a.ndim == 3 && C == 1 && a.shape[1] == H && a.shape[2] == W);
        if (!ok) {
            char got[256];
            int at = snprintf(got, sizeof got, "an array of shape (");
            for (int d = 0; d < a.ndim && at < (int)sizeof got - 24; d++)
                at += snprintf(got + at, sizeof got - (size_t)at, "%s%lld", d ? ", " : "",
                               (long long)a.shape[d]);
            snprintf(got + at, sizeof got - (size_t)at, ")");
            glf_npy_free(&a);
            return shape_fail_(path, got, C, H, W);
        }
        size_t cnt = (size_t)a.shape[0];
        if (max_n && cnt > max_n)
            cnt = max_n;
        *x = malloc((cnt * N > 0 ? cnt * N : 1) * sizeof **x);
        if (!*x) {
            glf_npy_free(&a);
            return glf_fail(GLF_ERR_NOMEM, "out of memory reading %s", path);
        }
        for (size_t i = 0; i < cnt * N; i++) {
            float v = a.dtype == GLF_NPY_U8 ? ((const uint8_t *)a.data)[i] / 255.0f
                                            : ((const float *)a.data)[i];
            if (!(v >= 0.0f && v <= 1.0f)) {
                glf_npy_free(&a);
                free(*x);
                *x = NULL;
                return glf_fail(GLF_ERR_FORMAT, "%s: element %zu is %g, expected pixel values "
                                "in [0, 1]", path, i, (double)v);
            }
            (*x)[i] = v;
        }
        glf_npy_free(&a);
        *n = cnt;
        return GLF_OK;
    }
    if (ends_with_(path, ".idx") || strstr(path, "idx3-ubyte")) {
        uint8_t *u;
        int nd;
        uint32_t dims[4];
        GLF_TRY(glf_idx_read(path, &u, &nd, dims));
        int ok = (nd == 3 && C == 1 && dims[1] == (uint32_t)H && dims[2] == (uint32_t)W) ||
                 (nd == 4 && dims[1] == (uint32_t)C && dims[2] == (uint32_t)H &&
                  dims[3] == (uint32_t)W);
        if (!ok) {
            free(u);
            return shape_fail_(path, "another shape", C, H, W);
        }
        size_t cnt = dims[0];
        if (max_n && cnt > max_n)
            cnt = max_n;
        *x = malloc((cnt * N > 0 ? cnt * N : 1) * sizeof **x);
        if (!*x) {
            free(u);
            return glf_fail(GLF_ERR_NOMEM, "out of memory reading %s", path);
        }
        for (size_t i = 0; i < cnt * N; i++)
            (*x)[i] = u[i] / 255.0f;
        free(u);
        *n = cnt;
        return GLF_OK;
    }
    return load_png_dir_(path, C, H, W, max_n, x, n);
}

/* FID, precision/recall and the class histogram of `feat` (n rows) against
 * the test features. */
static glf_status score_(glf_ctx *ctx, const float *test, size_t nt, const float *feat,
                         const int *pred, size_t n, int D, int classes, int k,
                         glf_eval_scores *out)
{
    glf_prd p;
    out->n = n;
    GLF_TRY(glf_fid(feat, n, test, nt, D, &out->fid));
    GLF_TRY(glf_prd_compute(ctx, test, nt, feat, n, D, k, 0, &p));
    out->precision = p.precision;
    out->recall = p.recall;
    return glf_class_histogram(pred, n, classes, out->counts, &out->entropy);
}

/* Reconstruction error and latent NLL of a data set, running statistics. */
static glf_status test_stats_(glf_net *net, const glf_dataset *d, glf_eval_report *r)
{
    const glf_config *c = glf_net_config(net);
    glf_ctx *ctx = glf_net_ctx(net);
    int B = glf_net_max_batch(net), D = c->latent;
    size_t N = (size_t)c->channels * c->height * c->width;
    const double *gm = NULL, *gc = NULL;
    int gauss = c->mode == GLF_MODE_AE_GAUSS;
    if (gauss && !glf_net_gaussian(net, &gm, &gc))
        return glf_fail(GLF_ERR_INVALID_ARG, "an ae-gauss model without its fitted Gaussian");
    cl_mem xb = NULL, zb = NULL, zh = NULL, lb = NULL;
    float *y = malloc((size_t)B * N * sizeof *y), *z = malloc((size_t)B * D * sizeof *z);
    float *ld = malloc((size_t)B * sizeof *ld);
    double se = 0, nll = 0, ldsum = 0, *e = malloc((size_t)D * sizeof *e);
    glf_status s = (!y || !z || !ld || !e) ? glf_fail(GLF_ERR_NOMEM, "out of memory") : GLF_OK;
    if (!s && !(s = glf_buf_create(ctx, (size_t)B * N * 4, &xb)) &&
        !(s = glf_buf_create(ctx, (size_t)B * D * 4, &zb)) &&
        !(s = glf_buf_create(ctx, (size_t)B * D * 4, &zh)))
        s = glf_buf_create(ctx, (size_t)B * 4, &lb);
    const double half_log_2pi = 0.5 * log(6.283185307179586);
    for (size_t st = 0; !s && st < d->n; st += (size_t)B) {
        int b = (int)(d->n - st < (size_t)B ? d->n - st : (size_t)B);
        float *x = glf_dataset_floats(d, st, (size_t)b);
        if (!x) {
            s = glf_fail(GLF_ERR_NOMEM, "out of memory");
            break;
        }
        if (!(s = glf_buf_write(ctx, xb, 0, (size_t)b * N * 4, x)) &&
            !(s = glf_net_encode(net, glf_dp(zb, 0), glf_dp(xb, 0), b, GLF_BN_RUNNING)) &&
            !(s = glf_buf_read(ctx, zb, 0, (size_t)b * D * 4, z)) &&
            !(s = glf_net_decode(net, glf_dp(xb, 0), glf_dp(zb, 0), b, GLF_BN_RUNNING)) &&
            !(s = glf_buf_read(ctx, xb, 0, (size_t)b * N * 4, y))) {
            for (size_t i = 0; i < (size_t)b * N; i++)
                se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
            if (gauss) {
                /* NLL under N(mean, L L^T): solve L e = z - mean. */
                double logdiag = 0;
                for (int j = 0; j < D; j++)
                    logdiag += log(gc[j * D + j]);
                for (int i = 0; i < b; i++) {
                    double q = 0;
                    for (int j = 0; j < D; j++) {
                        double v = z[(size_t)i * D + j] - gm[j];
                        for (int m = 0; m < j; m++)
                            v -= gc[j * D + m] * e[m];
                        e[j] = v / gc[j * D + j];
                        q += e[j] * e[j];
                    }
                    nll += 0.5 * q + D * half_log_2pi + logdiag;
                }
            } else if (!(s = glf_net_flow(net, glf_dp(zh, 0), glf_dp(lb, 0), glf_dp(zb, 0), b,
                                          GLF_BN_RUNNING)) &&
                       !(s = glf_buf_read(ctx, zh, 0, (size_t)b * D * 4, z)) &&
                       !(s = glf_buf_read(ctx, lb, 0, (size_t)b * 4, ld))) {
                for (int i = 0; i < b; i++) {
                    double q = 0;
                    for (int j = 0; j < D; j++)
                        q += (double)z[(size_t)i * D + j] * z[(size_t)i * D + j];
                    nll += 0.5 * q + D * half_log_2pi - ld[i];
                    ldsum += ld[i];
                }
            }
        }
        free(x);
    }
    if (!s) {
        r->test_n = d->n;
        r->recon_per_image = se / (double)d->n;
        r->recon_per_pixel = se / ((double)d->n * (double)N);
        r->nll = nll / (double)d->n;
        r->mean_logdet = ldsum / (double)d->n;
        r->have_model = 1;
    }
    glf_buf_release(xb), glf_buf_release(zb), glf_buf_release(zh), glf_buf_release(lb);
    free(y), free(z), free(ld), free(e);
    return s;
}

glf_status glf_evaluate(glf_ctx *ctx, const glf_eval_opts *o, glf_eval_report *r)
{
    glf_classifier *clf = NULL;
    glf_net *net = NULL;
    glf_dataset test, train;
    float *tf = NULL, *sx = NULL, *sf = NULL, *rf = NULL;
    int *sp = NULL, *rp = NULL;
    size_t n = o->n ? o->n : 10000, nf = o->floor_n ? o->floor_n : n, ns = 0;
    int k = o->k ? o->k : 3, D = 128;
    glf_status s;
    memset(r, 0, sizeof *r);
    memset(&test, 0, sizeof test);
    memset(&train, 0, sizeof train);
    if (!o->model && !o->samples)
        return glf_fail(GLF_ERR_INVALID_ARG, "nothing to evaluate: give a model checkpoint "
                        "and/or a file of samples");
    GLF_TRY(glf_classifier_load(ctx, o->clf, 500, &clf, &r->clf_accuracy));
    if ((s = glf_dataset_load(&o->data, "test", &test)) ||
        (s = glf_dataset_load(&o->data, "train", &train)))
        goto done;
    int C = test.channels, H = test.height, W = test.width;
    r->classes = test.classes > 0 ? test.classes : 10;
    r->feature_dim = D;
    if (r->classes > GLF_EVAL_MAX_CLASSES) {
        s = glf_fail(GLF_ERR_INVALID_ARG, "%d classes, at most %d", r->classes,
                     GLF_EVAL_MAX_CLASSES);
        goto done;
    }
    size_t NI = (size_t)C * H * W;
    /* reference: every test image */
    if (!(tf = malloc(test.n * (size_t)D * sizeof *tf))) {
        s = glf_fail(GLF_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((s = glf_classifier_dataset_features(clf, &test, test.n, tf, NULL, NULL)))
        goto done;

    /* samples: from the file or drawn from the model */
    if (o->model && (s = glf_net_load(ctx, o->model, 500, &net, NULL, NULL)))
        goto done;
    if (net) {
        const glf_config *c = glf_net_config(net);
        if (c->channels != C || c->height != H || c->width != W) {
            s = glf_fail(GLF_ERR_MISMATCH, "%s takes %dx%dx%d images, the data set '%s' has "
                         "%dx%dx%d", o->model, c->channels, c->height, c->width, test.name, C, H,
                         W);
            goto done;
        }
    }
    if (o->samples) {
        if ((s = glf_load_images(o->samples, C, H, W, n, &sx, &ns)))
            goto done;
    } else {
        ns = n;
        if (!(sx = malloc(ns * NI * sizeof *sx))) {
            s = glf_fail(GLF_ERR_NOMEM, "out of memory for %zu samples", ns);
            goto done;
        }
        if ((s = glf_sample(net, ns, 1.0f, o->seed, o->bn, 500, sx)))
            goto done;
    }
    if (ns < (size_t)k + 1) {
        s = glf_fail(GLF_ERR_INVALID_ARG, "%zu samples: precision/recall with k = %d needs > %d",
                     ns, k, k);
        goto done;
    }
    if (!(sf = malloc(ns * (size_t)D * sizeof *sf)) || !(sp = malloc(ns * sizeof *sp))) {
        s = glf_fail(GLF_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((s = glf_classifier_features(clf, sx, ns, sf, sp)) ||
        (s = score_(ctx, tf, test.n, sf, sp, ns, D, r->classes, k, &r->samples)))
        goto done;

    /* the floor: real training images in the same space */
    if (nf > train.n)
        nf = train.n;
    if (!(rf = malloc(nf * (size_t)D * sizeof *rf)) || !(rp = malloc(nf * sizeof *rp))) {
        s = glf_fail(GLF_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((s = glf_classifier_dataset_features(clf, &train, nf, rf, rp, NULL)) ||
        (s = score_(ctx, tf, test.n, rf, rp, nf, D, r->classes, k, &r->floor)))
        goto done;

    if (net)
        s = test_stats_(net, &test, r);
done:
    free(tf), free(sx), free(sf), free(rf), free(sp), free(rp);
    glf_net_destroy(net);
    glf_classifier_destroy(clf);
    glf_dataset_free(&test);
    glf_dataset_free(&train);
    return s;
}
