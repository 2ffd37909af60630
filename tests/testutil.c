/* Implementation of the shared test helpers (see testutil.h). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

glf_ctx *tu_ctx(void)
{
    glf_ctx *ctx = NULL;
    glf_status s = glf_ctx_create(NULL, &ctx);
    if (s != GLF_OK)
        fail_msg("no usable OpenCL device (this test needs one and fails without it): "
                 "%s: %s", glf_status_str(s), glf_last_error());
    return ctx;
}

glf_ctx *tu_ctx_with(const char *var, ...)
{
    glf_options o;
    TU_OK(glf_options_from_env(&o));
    va_list ap;
    va_start(ap, var);
    for (const char *v = var; v; v = va_arg(ap, const char *)) {
        const char *val = va_arg(ap, const char *);
        TU_OK(glf_options_set(&o, v, val));
    }
    va_end(ap);
    glf_ctx *ctx = NULL;
    glf_status s = glf_ctx_create_opts(NULL, &o, &ctx);
    if (s != GLF_OK)
        fail_msg("no usable OpenCL device (this test needs one and fails without it): "
                 "%s: %s", glf_status_str(s), glf_last_error());
    return ctx;
}

int tu_small(void)
{
    static int small = -1;
    if (small < 0) {
        const char *v = getenv("GLF_TEST_SIZE");
        if (!v || !*v || !strcmp(v, "all"))
            small = 0;
        else if (!strcmp(v, "small"))
            small = 1;
        else
            fail_msg("GLF_TEST_SIZE='%s': expected 'small' (drop the large shapes) or 'all'", v);
    }
    return small;
}

float tu_sentinel(void)
{
    uint32_t bits = TU_SENTINEL_BITS;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

cl_mem tu_buf_from(glf_ctx *ctx, const float *host, size_t n)
{
    cl_mem b;
    TU_OK(glf_buf_create(ctx, (n + TU_GUARD) * sizeof(float), &b));
    float *tmp = malloc((n + TU_GUARD) * sizeof(float));
    assert_non_null(tmp);
    for (size_t i = 0; i < n + TU_GUARD; i++)
        tmp[i] = tu_sentinel();
    if (host)
        memcpy(tmp, host, n * sizeof(float));
    TU_OK(glf_buf_write(ctx, b, 0, (n + TU_GUARD) * sizeof(float), tmp));
    free(tmp);
    return b;
}

cl_mem tu_buf_nan(glf_ctx *ctx, size_t n) { return tu_buf_from(ctx, NULL, n); }

cl_mem tu_buf_at(glf_ctx *ctx, const float *host, size_t n, size_t off)
{
    float *tmp = malloc((off + n + 1) * sizeof *tmp);
    assert_non_null(tmp);
    for (size_t i = 0; i < off + n; i++)
        tmp[i] = host && i >= off ? host[i - off] : tu_sentinel();
    cl_mem b = tu_buf_from(ctx, tmp, off + n);
    free(tmp);
    return b;
}

float *tu_read_at(glf_ctx *ctx, cl_mem buf, size_t n, size_t off, const char *what)
{
    float *all = tu_read(ctx, buf, off + n);
    for (size_t i = 0; i < off; i++) {
        uint32_t bits;
        memcpy(&bits, &all[i], sizeof bits);
        if (bits != TU_SENTINEL_BITS)
            fail_msg("%s: float %zu before the offset %zu was overwritten", what, i, off);
    }
    tu_check_guard(ctx, buf, off + n, what);
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    memcpy(x, all + off, n * sizeof *x);
    free(all);
    return x;
}

tu_dev tu_dev_new(glf_ctx *ctx, const float *host, size_t n, size_t off)
{
    tu_dev d = {tu_buf_at(ctx, host, n, off), off, n};
    return d;
}

glf_dptr tu_dp(tu_dev d) { return glf_dp(d.buf, d.off); }

float *tu_dev_read(glf_ctx *ctx, tu_dev d, const char *what)
{
    return tu_read_at(ctx, d.buf, d.n, d.off, what);
}

void tu_expect_close(const char *tag, const char *what, const float *got, const double *want,
                     size_t n, double red, double scale)
{
    char name[192];
    snprintf(name, sizeof name, "%s %s", tag, what);
    double *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = scale * want[i];
    /* fp32 sums of `red` terms of magnitude <= 1: error grows like sqrt(red). */
    size_t bad = tu_compare(name, got, w, n, 1e-5 * scale * sqrt(red), 1e-4);
    free(w);
    if (bad)
        fail_msg("%s: %zu mismatches", name, bad);
}

double *tu_f64(const float *x, size_t n)
{
    double *y = malloc((n ? n : 1) * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i];
    return y;
}

float *tu_read(glf_ctx *ctx, cl_mem buf, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(h);
    TU_OK(glf_buf_read(ctx, buf, 0, n * sizeof(float), h));
    return h;
}

void tu_check_guard(glf_ctx *ctx, cl_mem buf, size_t n, const char *what)
{
    uint32_t g[TU_GUARD];
    TU_OK(glf_buf_read(ctx, buf, n * sizeof(float), sizeof g, g));
    for (int i = 0; i < TU_GUARD; i++)
        if (g[i] != TU_SENTINEL_BITS)
            fail_msg("%s: guard word %d after %zu floats was overwritten (0x%08x)", what, i, n,
                     g[i]);
}

float *tu_rand(size_t n, uint64_t seed, float lo, float hi)
{
    glf_rng r;
    glf_rng_init(&r, seed, 0x7e57);
    float *x = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * glf_rng_uniform(&r);
    return x;
}

double *tu_rand_f64(size_t n, uint64_t seed, double lo, double hi)
{
    glf_rng r;
    glf_rng_init(&r, seed, 0x7e58);
    double *x = malloc((n ? n : 1) * sizeof(double));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * glf_rng_uniform_f64(&r);
    return x;
}

size_t tu_compare(const char *what, const float *got, const double *want, size_t n,
                  double atol, double rtol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        int ok;
        if (isnan(w) || isnan(g))
            ok = isnan(w) && isnan(g);
        else if (isinf(w) || isinf(g))
            ok = g == w;
        else
            ok = fabs(g - w) <= atol + rtol * fabs(w);
        if (!ok) {
            if (bad < 10)
                print_message("  %s[%zu]: got %.9g, want %.9g (|diff| %.3g)\n", what, i, g, w,
                              fabs(g - w));
            bad++;
        }
    }
    if (bad)
        print_message("  %s: %zu of %zu elements outside atol %.3g + rtol %.3g\n", what, bad, n,
                      atol, rtol);
    return bad;
}

double tu_norm_err(const float *got, const double *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += want[i] * want[i];
    }
    return sqrt(num) / (den > 1e-300 ? sqrt(den) : 1.0);
}

void tu_expect_status(glf_status s, glf_status want, const char *frag1, const char *frag2)
{
    if (s != want)
        fail_msg("status %s, expected %s (%s)", glf_status_str(s), glf_status_str(want),
                 glf_last_error());
    if (frag1 && !strstr(glf_last_error(), frag1))
        fail_msg("message '%s' lacks '%s'", glf_last_error(), frag1);
    if (frag2 && !strstr(glf_last_error(), frag2))
        fail_msg("message '%s' lacks '%s'", glf_last_error(), frag2);
}

const char *tu_src_path(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("GLF_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

char *tu_tmpdir(const char *tag)
{
    char tmpl[512];
    const char *base = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/glf-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

char *tu_broken_kernel_dir(const char *tag, const char *file, const char *needle,
                           const char *replacement)
{
    char *dir = tu_tmpdir(tag);
    char path[4096];
    snprintf(path, sizeof path, "cp '%s'/*.cl '%s'/", tu_src_path("cl"), dir);
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof path, "cl/%s", file);
    FILE *f = fopen(tu_src_path(path), "rb");
    assert_non_null(f);
    static char src[1 << 17];
    size_t n = fread(src, 1, sizeof src - 1, f);
    fclose(f);
    src[n] = '\0';
    char *at = strstr(src, needle);
    assert_non_null(at);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(src, 1, (size_t)(at - src), f);
    fputs(replacement, f);
    fputs(at + strlen(needle), f);
    fclose(f);
    return dir;
}
