/* Convolution variants: whether each orientation of the im2col operand is
 * materialised (im2col kernel, then the GEMM packs the column matrix) or
 * implicit (the GEMM packs its panels straight from the image, an
 * GLF_GEMM_IM2COL operand). glf_conv_validate checks a policy against the
 * double reference (host/ops/ref_conv.c); glf_conv_tune times the valid
 * combinations over GLF's convolutions, forward and backward, and stores
 * the fastest in the device's tuning store (key "conv"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/gemm.h"
#include "glf/ops_conv.h"
#include "glf/rng.h"
#include "glf/tune.h"
#include "glf/util.h"
#include "ops/ref_conv.h"
#include "tune/store.h"

static void say_(glf_conv_note_fn note, void *user, const char *line)
{
    if (note)
        note(user, line);
}

static int word_(const char *w, int *use)
{
    if (!strcmp(w, "implicit"))
        return *use = 1, 1;
    if (!strcmp(w, "materialised"))
        return *use = 0, 1;
    return 0;
}

glf_status glf_conv_tuned(glf_ctx *ctx, int use[2], int *found)
{
    char value[256], a[32], b[32], path[4096];
    int u[2];
    *found = 0;
    GLF_TRY(glf_tune_get(ctx, "conv", value, sizeof value, found));
    if (!*found)
        return GLF_OK;
    if (sscanf(value, "taps=%31s pixels=%31s", a, b) != 2 || !word_(a, &u[0]) ||
        !word_(b, &u[1])) {
        *found = 0;
        GLF_TRY(glf_tune_path(ctx, path, sizeof path));
        return glf_fail(GLF_ERR_FORMAT, "%s: key 'conv' is '%.100s', expected 'taps=W "
                        "pixels=W' with W 'implicit' or 'materialised'", path, value);
    }
    use[0] = u[0], use[1] = u[1];
    return GLF_OK;
}

/* ---- validation ------------------------------------------------------------ */

/* Sizes of one case: x, w, y (forward output), b. */
struct vsize_ {
    size_t nx, nw, ny, nb;
};

static struct vsize_ vsize_(const glf_conv_shape *s, int transposed)
{
    int Ho = transposed ? glf_conv_transpose2d_out(s->H, s->K, s->S, s->P)
                        : glf_conv2d_out(s->H, s->K, s->S, s->P);
    int Wo = transposed ? glf_conv_transpose2d_out(s->W, s->K, s->S, s->P)
                        : glf_conv2d_out(s->W, s->K, s->S, s->P);
    struct vsize_ v = {(size_t)s->B * s->Cin * s->H * s->W,
                       (size_t)s->Cin * s->Cout * s->K * s->K, (size_t)s->B * s->Cout * Ho * Wo,
                       (size_t)s->Cout};
    return v;
}

/* The largest |ref| - |dev| difference over n, relative to 1 + max |ref|;
 * a non-finite device value counts as infinitely wrong. */
static double err_(const float *dev, const double *ref, size_t n)
{
    double big = 0.0, e = 0.0;
    for (size_t i = 0; i < n; i++)
        big = fmax(big, fabs(ref[i]));
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(dev[i]))
            return INFINITY;
        e = fmax(e, fabs((double)dev[i] - ref[i]));
    }
    return e / (1.0 + big);
}

/* One layer's forward, then its backward (accumulate 0), Conv2d or
 * ConvTranspose2d: the validation and the timing run the same calls. */
static glf_status fwd_bwd_(glf_ctx *ctx, const glf_conv_shape *s, int transposed, glf_dptr y,
                           glf_dptr x, glf_dptr w, glf_dptr b, glf_dptr dx, glf_dptr dw,
                           glf_dptr db, glf_dptr dy, glf_dptr work)
{
    if (transposed) {
        GLF_TRY(glf_conv_transpose2d_forward(ctx, y, x, w, b, s, work));
        return glf_conv_transpose2d_backward(ctx, dx, dw, db, dy, x, w, s, work, 0);
    }
    GLF_TRY(glf_conv2d_forward(ctx, y, x, w, b, s, work));
    return glf_conv2d_backward(ctx, dx, dw, db, dy, x, w, s, work, 0);
}

/* One layer forward and backward (dx, dw, db overwritten) on the device
 * under ctx's current policy, against the reference. Device outputs start
 * as NaN, so an element a variant never writes fails. */
static glf_status check_case_(glf_ctx *ctx, const glf_conv_shape *s, int transposed,
                              uint64_t seed)
{
    struct vsize_ z = vsize_(s, transposed);
    size_t nws = transposed ? glf_conv_transpose2d_workspace(s) : glf_conv2d_workspace(s);
    /* host: x w b dy | y dx dw db (double refs), device results as floats */
    size_t nall = z.nx + z.nw + z.nb + z.ny;
    double *h = malloc((2 * nall) * sizeof *h);
    float *f = malloc((2 * nall) * sizeof *f);
    cl_mem buf = NULL;
    glf_status st = GLF_OK;
    if (!h || !f) {
        st = glf_fail(GLF_ERR_NOMEM, "out of memory validating convolution variants");
        goto done;
    }
    double *x = h, *w = x + z.nx, *b = w + z.nw, *dy = b + z.nb;
    double *y = dy + z.ny, *dx = y + z.ny, *dw = dx + z.nx, *db = dw + z.nw;
    glf_rng r;
    glf_rng_init(&r, seed, 0);
    for (size_t i = 0; i < nall; i++) /* exactly representable as float */
        h[i] = (double)(float)(2.0 * glf_rng_uniform_f64(&r) - 1.0);
    for (size_t i = 0; i < nall; i++)
        f[i] = (float)h[i];
    if (transposed) {
        glf_ref_conv_transpose2d_forward(y, x, w, b, s);
        glf_ref_conv_transpose2d_backward(dx, dw, db, dy, x, w, s);
    } else {
        glf_ref_conv2d_forward(y, x, w, b, s);
        glf_ref_conv2d_backward(dx, dw, db, dy, x, w, s);
    }
    /* device: inputs (x w b dy) | outputs (y dx dw db) | workspace */
    size_t total = 2 * nall + nws;
    if ((st = glf_buf_create(ctx, total * sizeof(float), &buf)) != GLF_OK)
        goto done;
    if ((st = glf_buf_write(ctx, buf, 0, nall * sizeof(float), f)) != GLF_OK ||
        (st = glf_buf_fill_f32(ctx, buf, nall, nall + nws, NAN)) != GLF_OK)
        goto done;
    size_t ox = 0, ow = z.nx, ob = ow + z.nw, ody = ob + z.nb;
    size_t oy = nall, odx = oy + z.ny, odw = odx + z.nx, odb = odw + z.nw, ows = 2 * nall;
    st = fwd_bwd_(ctx, s, transposed, glf_dp(buf, oy), glf_dp(buf, ox), glf_dp(buf, ow),
                  glf_dp(buf, ob), glf_dp(buf, odx), glf_dp(buf, odw), glf_dp(buf, odb),
                  glf_dp(buf, ody), glf_dp(buf, ows));
    if (st != GLF_OK ||
        (st = glf_buf_read(ctx, buf, oy * sizeof(float), nall * sizeof(float), f + nall)) !=
            GLF_OK)
        goto done;
    const char *names[4] = {"y", "dx", "dw", "db"};
    const double *refs[4] = {y, dx, dw, db};
    const size_t n[4] = {z.ny, z.nx, z.nw, z.nb};
    const float *dev = f + nall;
    for (int i = 0; i < 4; i++) {
        double e = err_(dev, refs[i], n[i]);
        if (!(e <= 1e-4)) {
            int use[2];
            glf_conv_im2col_policy(ctx, use);
            st = glf_fail(GLF_ERR_NUMERIC,
                          "%s (B %d, Cin %d, %dx%d, Cout %d, K %d S %d P %d) with taps %s, "
                          "pixels %s: %s differs from the double reference by %.3g "
                          "(relative), expected <= 1e-4",
                          transposed ? "ConvTranspose2d" : "Conv2d", s->B, s->Cin, s->H, s->W,
                          s->Cout, s->K, s->S, s->P, glf_conv_im2col_word(use[0]),
                          glf_conv_im2col_word(use[1]), names[i], e);
            break;
        }
        dev += n[i];
    }
done:
    if (buf)
        glf_buf_release(buf);
    free(h);
    free(f);
    return st;
}

glf_status glf_conv_validate(glf_ctx *ctx, const int use[2])
{
    int old[2];
    glf_conv_im2col_policy(ctx, old);
    GLF_TRY(glf_conv_set_im2col_policy(ctx, use));
    /* Odd sizes: channels and pixels that fill no tile, a non-square image,
     * GLF's 4/2/1 window and a 3/1/1 one. */
    static const glf_conv_shape cases_[] = {{3, 5, 9, 7, 7, 4, 2, 1},
                                            {2, 3, 6, 5, 5, 3, 1, 1},
                                            {2, 6, 5, 4, 3, 4, 2, 1}};
    static const int transposed_[] = {0, 0, 1};
    glf_status st = GLF_OK;
    for (size_t i = 0; i < sizeof cases_ / sizeof cases_[0] && st == GLF_OK; i++)
        for (int t = 0; t < 2 && st == GLF_OK; t++) /* both ops at every geometry */
            st = check_case_(ctx, &cases_[i], t ^ transposed_[i], 0x5eed + 17 * i + t);
    glf_status s2 = glf_conv_set_im2col_policy(ctx, old);
    return st != GLF_OK ? st : s2;
}

/* ---- timing ------------------------------------------------------------------ */

/* GLF's four convolutions as a 28x28 model has them (glf-method.md):
 * 1->64 and 64->128 down, 128->64 and 64->1 up, window 4, stride 2, pad 1. */
struct layer_ {
    glf_conv_shape s;
    int transposed;
};

/* Leave the default only for a variant this much faster (the machine's
 * noise is of this order; a step-level comparison is in bench/results/HISTORY.md). */
#define SWITCH_MARGIN_ 0.03

/* Seconds for one pass over the layers as a training step runs them:
 * forward, then the weight gradient and (but for the first layer) the
 * input gradient, so variants that share work inside one op (the
 * transposed convolution's backward makes one column matrix for both
 * gradients when both are materialised) are timed as they run. */
static glf_status time_pass_(glf_ctx *ctx, const struct layer_ *L, size_t nl, cl_mem buf,
                             double *out)
{
    glf_dptr none = glf_dp(NULL, 0);
    double t0 = glf_now();
    for (size_t i = 0; i < nl; i++) {
        const glf_conv_shape *s = &L[i].s;
        struct vsize_ z = vsize_(s, L[i].transposed);
        size_t ox = 0, ow = z.nx, oy = ow + z.nw, odx = oy + z.ny, odw = odx + z.nx;
        size_t ows = odw + z.nw;
        glf_dptr dx = i == 0 ? none : glf_dp(buf, odx);
        /* no bias; the forward's output serves as the backward's dy */
        GLF_TRY(fwd_bwd_(ctx, s, L[i].transposed, glf_dp(buf, oy), glf_dp(buf, ox),
                         glf_dp(buf, ow), none, dx, glf_dp(buf, odw), none, glf_dp(buf, oy),
                         glf_dp(buf, ows)));
    }
    GLF_TRY(glf_finish(ctx));
    *out = glf_now() - t0;
    return GLF_OK;
}

glf_status glf_conv_tune(glf_ctx *ctx, int quick, int best[2], glf_conv_note_fn note, void *user)
{
    char line[512];
    glf_conv_im2col_policy(ctx, best);
    if (!glf_gemm_takes(ctx, GLF_GEMM_IM2COL)) {
        snprintf(line, sizeof line,
                 "tune conv: the GEMM backend is %s, which takes materialised column "
                 "matrices only; nothing to choose",
                 glf_gemm_backend_name(ctx));
        say_(note, user, line);
        return GLF_OK;
    }
    char path[4096]; /* nowhere to store the result: fail before the work */
    GLF_TRY(glf_tune_path(ctx, path, sizeof path));
    int B = quick ? 4 : 256;
    const struct layer_ L[] = {{{B, 1, 28, 28, 64, 4, 2, 1}, 0},
                               {{B, 64, 14, 14, 128, 4, 2, 1}, 0},
                               {{B, 128, 7, 7, 64, 4, 2, 1}, 1},
                               {{B, 64, 14, 14, 1, 4, 2, 1}, 1}};
    const size_t nl = sizeof L / sizeof L[0];
    size_t need = 0;
    for (size_t i = 0; i < nl; i++) {
        struct vsize_ z = vsize_(&L[i].s, L[i].transposed);
        size_t ws = L[i].transposed ? glf_conv_transpose2d_workspace(&L[i].s)
                                    : glf_conv2d_workspace(&L[i].s);
        size_t n = 2 * (z.nx + z.nw) + z.ny + ws;
        need = need > n ? need : n;
    }
    /* Validate every combination before timing any. */
    int ok[2][2] = {{0, 0}, {0, 0}};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            int use[2] = {a, b};
            glf_status s = glf_conv_validate(ctx, use);
            ok[a][b] = s == GLF_OK;
            if (s != GLF_OK) {
                snprintf(line, sizeof line, "tune conv: taps %s, pixels %s rejected: %s",
                         glf_conv_im2col_word(a), glf_conv_im2col_word(b),
                         glf_last_error());
                say_(note, user, line);
                glf_clear_error();
            }
        }
    cl_mem buf;
    GLF_TRY(glf_buf_create(ctx, need * sizeof(float), &buf));
    glf_status st = glf_buf_fill_f32(ctx, buf, 0, need, 0.25f);
    int old[2] = {best[0], best[1]};
    /* Every valid combination over whole passes, alternated within each
     * round (the machine's load drifts), best of the rounds after a warm-up. */
    double tv[2][2] = {{1e30, 1e30}, {1e30, 1e30}};
    const int reps = quick ? 1 : 5;
    for (int r = 0; r < reps + 1 && st == GLF_OK; r++)
        for (int v = 0; v < 4 && st == GLF_OK; v++) {
            int use[2] = {v & 1, v >> 1};
            double t;
            if (!ok[use[0]][use[1]])
                continue;
            if ((st = glf_conv_set_im2col_policy(ctx, use)) != GLF_OK ||
                (st = time_pass_(ctx, L, nl, buf, &t)) != GLF_OK)
                break;
            if (r > 0 && t < tv[use[0]][use[1]])
                tv[use[0]][use[1]] = t;
        }
    glf_buf_release(buf);
    for (int v = 0; v < 4 && st == GLF_OK; v++)
        if (ok[v & 1][v >> 1]) {
            snprintf(line, sizeof line, "tune conv: taps %s, pixels %s: %.3f ms",
                     glf_conv_im2col_word(v & 1), glf_conv_im2col_word(v >> 1),
                     tv[v & 1][v >> 1] * 1e3);
            say_(note, user, line);
        }
    /* The fastest valid combination; the safe default ({materialised,
     * materialised}) stays unless another beats it by SWITCH_MARGIN_. */
    double total = 1e30;
    for (int a = 0; a < 2 && st == GLF_OK; a++)
        for (int b = 0; b < 2; b++)
            if (ok[a][b] && tv[a][b] < total)
                total = tv[a][b], best[0] = a, best[1] = b;
    if (st == GLF_OK && total >= 1e30)
        st = glf_fail(GLF_ERR_NUMERIC, "convolution tuning: no variant passed validation");
    if (st == GLF_OK && ok[0][0] && total > tv[0][0] * (1.0 - SWITCH_MARGIN_))
        best[0] = 0, best[1] = 0, total = tv[0][0];
    if (st != GLF_OK) {
        best[0] = old[0], best[1] = old[1];
        glf_conv_set_im2col_policy(ctx, old);
        return st;
    }
    char set[128];
    snprintf(set, sizeof set, "taps=%s pixels=%s", glf_conv_im2col_word(best[0]),
             glf_conv_im2col_word(best[1]));
    GLF_TRY(glf_tune_put(ctx, "conv", set, total));
    return glf_conv_set_im2col_policy(ctx, best);
}
