/* Using a trained model: sampling (inverse flow or the ae-gauss Gaussian),
 * reconstruction, interpolation, and fitting the ae-gauss Gaussian. Noise
 * for image i depends only on (seed, i), so a sample does not change with
 * the batch size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/rng.h"
#include "glf/train.h"

float *glf_dataset_floats(const glf_dataset *d, size_t first, size_t n)
{
    size_t N = (size_t)d->channels * d->height * d->width;
    float *x = malloc((n * N > 0 ? n * N : 1) * sizeof *x);
    if (!x)
        return NULL;
    for (size_t i = 0; i < n * N; i++)
        x[i] = (float)d->images[first * N + i] * (1.0f / 255.0f);
    return x;
}

/* Device scratch for (batch, d) latents and (batch, N) images. */
struct io_ {
    cl_mem z, z2, x;
};

static glf_status io_open_(glf_net *n, int batch, struct io_ *io)
{
    const glf_config *c = glf_net_config(n);
    size_t N = (size_t)c->channels * c->height * c->width, d = (size_t)c->latent;
    memset(io, 0, sizeof *io);
    glf_ctx *ctx = glf_net_ctx(n);
    glf_status s;
    if ((s = glf_buf_create(ctx, (size_t)batch * d * 4, &io->z)) ||
        (s = glf_buf_create(ctx, (size_t)batch * d * 4, &io->z2)) ||
        (s = glf_buf_create(ctx, (size_t)batch * N * 4, &io->x)))
        return s;
    return GLF_OK;
}

static void io_close_(struct io_ *io)
{
    glf_buf_release(io->z), glf_buf_release(io->z2), glf_buf_release(io->x);
}

/* Using a model must not change it: BatchNorm in train mode would update
 * the running statistics. */
static glf_status bn_ok_(glf_bn_mode bn)
{
    if (bn != GLF_BN_RUNNING && bn != GLF_BN_BATCH)
        return glf_fail(GLF_ERR_INVALID_ARG, "BatchNorm mode %d: expected running or batch "
                        "statistics (train mode would change the model)", (int)bn);
    return GLF_OK;
}

static glf_status batch_ok_(glf_net *n, int *batch)
{
    if (*batch <= 0 || *batch > glf_net_max_batch(n))
        *batch = glf_net_max_batch(n);
    return GLF_OK;
}

glf_status glf_sample(glf_net *n, size_t count, float temperature, unsigned long long seed,
                      glf_bn_mode bn, int batch, float *out)
{
    const glf_config *c = glf_net_config(n);
    glf_ctx *ctx = glf_net_ctx(n);
    size_t N = (size_t)c->channels * c->height * c->width;
    int d = c->latent;
    const double *gm = NULL, *gc = NULL;
    int gauss = c->mode == GLF_MODE_AE_GAUSS;
    if (gauss && !glf_net_gaussian(n, &gm, &gc))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "an ae-gauss model samples from its fitted Gaussian, and this one has "
                        "none (was training finished?)");
    GLF_TRY(bn_ok_(bn));
    batch_ok_(n, &batch);
    struct io_ io;
    glf_status s = io_open_(n, batch, &io);
    float *noise = malloc((size_t)batch * d * sizeof *noise);
    double *e = malloc((size_t)d * sizeof *e);
    if (!s && (!noise || !e))
        s = glf_fail(GLF_ERR_NOMEM, "out of memory sampling");
    for (size_t start = 0; !s && start < count; start += (size_t)batch) {
        int b = (int)(count - start < (size_t)batch ? count - start : (size_t)batch);
        for (int i = 0; i < b; i++) {
            glf_rng r;
            glf_rng_init(&r, seed, (uint64_t)(start + (size_t)i));
            for (int j = 0; j < d; j++)
                e[j] = temperature * glf_rng_normal(&r);
            for (int j = 0; j < d; j++) {
                double v = e[j];
                if (gauss) { /* z = mean + L e */
                    v = gm[j];
                    for (int k = 0; k <= j; k++)
                        v += gc[j * d + k] * e[k];
                }
                noise[(size_t)i * d + j] = (float)v;
            }
        }
        if ((s = glf_buf_write(ctx, io.z2, 0, (size_t)b * d * 4, noise)))
            break;
        if (gauss)
            s = glf_net_decode(n, glf_dp(io.x, 0), glf_dp(io.z2, 0), b, bn);
        else if (!(s = glf_net_flow_inverse(n, glf_dp(io.z, 0), glf_dp(io.z2, 0), b, bn)))
            s = glf_net_decode(n, glf_dp(io.x, 0), glf_dp(io.z, 0), b, bn);
        if (!s)
            s = glf_buf_read(ctx, io.x, 0, (size_t)b * N * 4, out + start * N);
    }
    free(noise);
    free(e);
    io_close_(&io);
    return s;
}

glf_status glf_reconstruct(glf_net *n, const float *x, size_t count, glf_bn_mode bn, float *out)
{
    const glf_config *c = glf_net_config(n);
    glf_ctx *ctx = glf_net_ctx(n);
    size_t N = (size_t)c->channels * c->height * c->width;
    int batch = glf_net_max_batch(n);
    struct io_ io;
    GLF_TRY(bn_ok_(bn));
    glf_status s = io_open_(n, batch, &io);
    for (size_t start = 0; !s && start < count; start += (size_t)batch) {
        int b = (int)(count - start < (size_t)batch ? count - start : (size_t)batch);
        if (!(s = glf_buf_write(ctx, io.x, 0, (size_t)b * N * 4, x + start * N)) &&
            !(s = glf_net_encode(n, glf_dp(io.z, 0), glf_dp(io.x, 0), b, bn)) &&
            !(s = glf_net_decode(n, glf_dp(io.x, 0), glf_dp(io.z, 0), b, bn)))
            s = glf_buf_read(ctx, io.x, 0, (size_t)b * N * 4, out + start * N);
    }
    io_close_(&io);
    return s;
}

glf_status glf_interpolate(glf_net *n, const float *a, const float *b, int pairs, int steps,
                           int in_noise, glf_bn_mode bn, float *out)
{
    const glf_config *c = glf_net_config(n);
    glf_ctx *ctx = glf_net_ctx(n);
    size_t N = (size_t)c->channels * c->height * c->width;
    int d = c->latent, total = pairs * steps;
    if (pairs < 1 || steps < 2 || 2 * pairs > glf_net_max_batch(n) ||
        total > glf_net_max_batch(n))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "interpolation of %d pairs x %d steps: expected steps >= 2 and "
                        "pairs*steps <= %d (the batch the model was opened with)",
                        pairs, steps, glf_net_max_batch(n));
    GLF_TRY(bn_ok_(bn));
    if (in_noise && c->mode == GLF_MODE_AE_GAUSS)
        return glf_fail(GLF_ERR_INVALID_ARG, "an ae-gauss model has no flow: use --space z");
    struct io_ io;
    glf_status s = io_open_(n, glf_net_max_batch(n), &io);
    float *ends = malloc((size_t)2 * pairs * N * sizeof *ends);
    float *lat = malloc((size_t)2 * pairs * d * sizeof *lat);
    float *mix = malloc((size_t)total * d * sizeof *mix);
    cl_mem ldj = NULL;
    if (!s && (!ends || !lat || !mix))
        s = glf_fail(GLF_ERR_NOMEM, "out of memory interpolating");
    if (!s)
        s = glf_buf_create(ctx, (size_t)glf_net_max_batch(n) * 4, &ldj);
    if (!s) {
        memcpy(ends, a, (size_t)pairs * N * sizeof *ends);
        memcpy(ends + (size_t)pairs * N, b, (size_t)pairs * N * sizeof *ends);
        s = glf_buf_write(ctx, io.x, 0, (size_t)2 * pairs * N * 4, ends);
    }
    if (!s)
        s = glf_net_encode(n, glf_dp(io.z, 0), glf_dp(io.x, 0), 2 * pairs, bn);
    cl_mem src = io.z;
    if (!s && in_noise) {
        s = glf_net_flow(n, glf_dp(io.z2, 0), glf_dp(ldj, 0), glf_dp(io.z, 0), 2 * pairs, bn);
        src = io.z2;
    }
    if (!s)
        s = glf_buf_read(ctx, src, 0, (size_t)2 * pairs * d * 4, lat);
    for (int p = 0; !s && p < pairs; p++)
        for (int k = 0; k < steps; k++) {
            float w = (float)k / (float)(steps - 1);
            for (int j = 0; j < d; j++)
                mix[((size_t)p * steps + k) * d + j] =
                    (1.0f - w) * lat[(size_t)p * d + j] + w * lat[(size_t)(pairs + p) * d + j];
        }
    if (!s)
        s = glf_buf_write(ctx, src, 0, (size_t)total * d * 4, mix);
    if (!s && in_noise)
        s = glf_net_flow_inverse(n, glf_dp(io.z, 0), glf_dp(io.z2, 0), total, bn);
    if (!s)
        s = glf_net_decode(n, glf_dp(io.x, 0), glf_dp(io.z, 0), total, bn);
    if (!s)
        s = glf_buf_read(ctx, io.x, 0, (size_t)total * N * 4, out);
    glf_buf_release(ldj);
    free(ends), free(lat), free(mix);
    io_close_(&io);
    return s;
}

glf_status glf_net_fit_gaussian(glf_net *n, const glf_dataset *ds)
{
    const glf_config *c = glf_net_config(n);
    glf_ctx *ctx = glf_net_ctx(n);
    int d = c->latent, batch = glf_net_max_batch(n);
    size_t N = (size_t)c->channels * c->height * c->width;
    if (ds->n < 2)
        return glf_fail(GLF_ERR_INVALID_ARG, "fitting a Gaussian needs >= 2 images, got %zu",
                        ds->n);
    struct io_ io;
    glf_status s = io_open_(n, batch, &io);
    double *mean = calloc((size_t)d, sizeof *mean), *cov = calloc((size_t)d * d, sizeof *cov);
    float *z = malloc((size_t)batch * d * sizeof *z);
    if (!s && (!mean || !cov || !z))
        s = glf_fail(GLF_ERR_NOMEM, "out of memory fitting the Gaussian");
    /* Two passes over the latents (mean, then covariance) would encode twice;
     * accumulate raw sums in double instead: d is small and values O(1). */
    for (size_t start = 0; !s && start < ds->n; start += (size_t)batch) {
        int b = (int)(ds->n - start < (size_t)batch ? ds->n - start : (size_t)batch);
        float *x = glf_dataset_floats(ds, start, (size_t)b);
        if (!x) {
            s = glf_fail(GLF_ERR_NOMEM, "out of memory fitting the Gaussian");
            break;
        }
        s = glf_buf_write(ctx, io.x, 0, (size_t)b * N * 4, x);
        free(x);
        if (!s)
            s = glf_net_encode(n, glf_dp(io.z, 0), glf_dp(io.x, 0), b, GLF_BN_RUNNING);
        if (!s)
            s = glf_buf_read(ctx, io.z, 0, (size_t)b * d * 4, z);
        for (int i = 0; !s && i < b; i++)
            for (int j = 0; j < d; j++) {
                double zj = z[(size_t)i * d + j];
                mean[j] += zj;
                for (int k = 0; k <= j; k++)
                    cov[j * d + k] += zj * z[(size_t)i * d + k];
            }
    }
    if (!s) {
        double cnt = (double)ds->n;
        for (int j = 0; j < d; j++)
            mean[j] /= cnt;
        for (int j = 0; j < d; j++)
            for (int k = 0; k <= j; k++) {
                double v = (cov[j * d + k] - cnt * mean[j] * mean[k]) / (cnt - 1.0);
                cov[j * d + k] = v;
                cov[k * d + j] = v;
            }
        /* Cholesky in place (lower); a tiny ridge keeps it positive definite. */
        for (int j = 0; j < d; j++)
            cov[j * d + j] += 1e-6;
        for (int j = 0; j < d && !s; j++) {
            for (int k = 0; k <= j; k++) {
                double sum = cov[j * d + k];
                for (int m = 0; m < k; m++)
                    sum -= cov[j * d + m] * cov[k * d + m];
                if (j == k) {
                    if (!(sum > 0)) {
                        s = glf_fail(GLF_ERR_NUMERIC,
                                     "latent covariance is not positive definite (pivot %d)", j);
                        break;
                    }
                    cov[j * d + j] = sqrt(sum);
                } else {
                    cov[j * d + k] = sum / cov[k * d + k];
                }
            }
            for (int k = j + 1; k < d; k++)
                cov[j * d + k] = 0.0; /* upper part of L is zero */
        }
    }
    if (!s)
        s = glf_net_set_gaussian(n, mean, cov);
    free(mean), free(cov), free(z);
    io_close_(&io);
    return s;
}
