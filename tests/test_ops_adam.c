/* Adam and StepLR: several steps over two parameter groups with different
 * hyper-parameters living at offsets of one flat buffer, vs the double
 * reference (primary; a row of the op harness, tests/op_harness.h) and vs
 * values PyTorch 1.13 wrote once into tests/data/adam_torch_1_13.txt
 * (tests/gen_adam_fixture.py). Words outside the groups, the gradients and
 * the guards must stay untouched. */
#include "op_harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/ops_flow.h"
#include "ref_flow.h"

typedef struct group_ {
    glf_adam_hp hp;
    double lr, b1, b2, eps, wd; /* the decimals a Python script would use */
    size_t off, n;
} group_;

typedef struct adam_dev_ {
    cl_mem p, g, m, v;
} adam_dev_;

static void dev_create_(glf_ctx *ctx, adam_dev_ *d, const float *p, const float *m, const float *v,
                        size_t total)
{
    d->p = tu_buf_from(ctx, p, total);
    d->m = tu_buf_from(ctx, m, total);
    d->v = tu_buf_from(ctx, v, total);
    d->g = tu_buf_nan(ctx, total);
}

static void dev_release_(adam_dev_ *d)
{
    glf_buf_release(d->p), glf_buf_release(d->g), glf_buf_release(d->m), glf_buf_release(d->v);
}

static group_ group_of_(double lr, double b1, double b2, double eps, double wd, size_t off,
                        size_t n)
{
    group_ g = {
        {(float)lr, (float)b1, (float)b2, (float)eps, (float)wd}, lr, b1, b2, eps, wd, off, n};
    return g;
}

/* ---- vs the reference: a row ------------------------------------------------------ */

enum { T_STEPS = 6 };

typedef struct adam_shape_ {
    unsigned tags;
    group_ gr[2];
} adam_shape_;

/* AE and flow hyper-parameters of GLF, the flow's with a decay large enough
 * to matter at float precision; odd sizes, gaps between groups. */
static adam_shape_ adam_shapes_[1];

static void adam_shapes_init_(void)
{
    adam_shapes_[0].tags = OH_X2;
    adam_shapes_[0].gr[0] = group_of_(1e-3, 0.9, 0.999, 1e-8, 0.0, 3, 1001);
    adam_shapes_[0].gr[1] = group_of_(2e-3, 0.8, 0.9, 1e-6, 0.05, 3 + 1001 + 5, 517);
}

enum { AP, AM, AV, AG };

static size_t adam_total_(const adam_shape_ *s)
{
    return s->gr[1].off + s->gr[1].n + 4;
}

static void adam_describe_(const void *p, char *buf, size_t n)
{
    const adam_shape_ *s = p;
    snprintf(buf, n, "%d steps, groups %zu at %zu and %zu at %zu of %zu", T_STEPS, s->gr[0].n,
             s->gr[0].off, s->gr[1].n, s->gr[1].off, adam_total_(s));
}

static int inside_(const adam_shape_ *s, size_t i)
{
    int in = 0;
    for (int k = 0; k < 2; k++)
        in |= i >= s->gr[k].off && i < s->gr[k].off + s->gr[k].n;
    return in;
}

static void adam_setup_(oh_case *c)
{
    const adam_shape_ *s = c->shape;
    size_t total = adam_total_(s);
    float *p0 = oh_rand(c, total, -1, 1), *m0 = oh_rand(c, total, -1, 1);
    float *v0 = oh_rand(c, total, 0, 1);
    for (size_t i = 0; i < total; i++) /* torch starts both moments at zero */
        if (inside_(s, i))
            m0[i] = 0, v0[i] = 0;
    float **grads = oh_keep(c, malloc(T_STEPS * sizeof *grads));
    for (int t = 0; t < T_STEPS; t++) { /* magnitudes from 1e-4 to 1 */
        grads[t] = oh_rand(c, total, -1, 1);
        for (size_t i = 0; i < total; i++)
            grads[t][i] *= (float)pow(10.0, -(double)(i % 5));
    }
    c->user = grads;
    /* a few float ulps of |p| ~ 1 over 6 steps (the kernel may fuse multiply-adds) */
    oh_inout(c, AP, "params", total, 0, p0, 2e-6, 1e-5);
    /* m averages gradients of both signs: absolute error ~ float ulps of |g| <= 1 */
    oh_inout(c, AM, "m", total, 0, m0, 1e-7, 1e-5);
    oh_inout(c, AV, "v", total, 0, v0, 1e-12, 1e-5);
    oh_in(c, AG, "grads", total, 0, grads[T_STEPS - 1]); /* what the buffer holds at the end */
}

static void adam_reference_(oh_case *c)
{
    const adam_shape_ *s = c->shape;
    float **grads = c->user;
    size_t total = adam_total_(s);
    double *p = c->t[AP].want, *m = c->t[AM].want, *v = c->t[AV].want, *g = oh_zeros(c, total);
    for (size_t i = 0; i < total; i++)
        p[i] = c->t[AP].host[i], m[i] = c->t[AM].host[i], v[i] = c->t[AV].host[i];
    for (int t = 1; t <= T_STEPS; t++) {
        for (size_t i = 0; i < total; i++)
            g[i] = grads[t - 1][i];
        for (int k = 0; k < 2; k++) {
            const group_ *q = &s->gr[k];
            ref_adam_step(q->n, p + q->off, g + q->off, m + q->off, v + q->off, q->lr, q->b1, q->b2,
                          q->eps, q->wd, t);
        }
    }
}

/* T steps of both groups, the step's gradients written into the buffer first. */
static glf_status adam_forward_(oh_case *c)
{
    const adam_shape_ *s = c->shape;
    float **grads = c->user;
    for (int t = 1; t <= T_STEPS; t++) {
        GLF_TRY(oh_write(c, AG, grads[t - 1], c->t[AG].n));
        for (int k = 0; k < 2; k++)
            GLF_TRY(glf_adam_step(c->ctx, oh_mem(c, AP), oh_mem(c, AG), oh_mem(c, AM),
                                  oh_mem(c, AV), s->gr[k].off, s->gr[k].n, &s->gr[k].hp, t));
    }
    return GLF_OK;
}

/* Outside every group: bit-identical. */
static void adam_check_(oh_case *c)
{
    const adam_shape_ *s = c->shape;
    for (int k = AP; k <= AV; k++)
        for (size_t i = 0; i < c->t[k].n; i++)
            if (!inside_(s, i) && memcmp(&c->t[k].got[i], &c->t[k].host[i], sizeof(float)))
                fail_msg("%s: %s: word %zu outside the groups changed", c->label, c->t[k].name, i);
}

static void test_adam_two_groups(void **state)
{
    (void)state;
    adam_shapes_init_();
    const oh_row row = {.name = "adam",
                        OH_SHAPES(adam_shapes_),
                        .describe = adam_describe_,
                        .setup = adam_setup_,
                        .reference = adam_reference_,
                        .forward = adam_forward_,
                        .check = adam_check_};
    oh_run_row(&row);
}

/* ---- vs PyTorch ------------------------------------------------------------------ */

static void read_floats_(FILE *f, const char *tag, int a, int b, float *out, size_t n)
{
    char word[32];
    int x = -1, y = -1;
    if (fscanf(f, "%31s", word) != 1 || strcmp(word, tag))
        fail_msg("adam fixture: expected '%s', got '%s'", tag, word);
    if (a >= 0 && fscanf(f, "%d", &x) != 1)
        fail_msg("adam fixture: '%s' without its index", tag);
    if (b >= 0 && fscanf(f, "%d", &y) != 1)
        fail_msg("adam fixture: '%s' without its second index", tag);
    if (x != a || y != b)
        fail_msg("adam fixture: '%s %d %d' where '%s %d %d' was expected", tag, x, y, tag, a, b);
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%f", &out[i]) != 1)
            fail_msg("adam fixture: '%s' has fewer than %zu values", tag, n);
}

static void test_adam_vs_pytorch(void **state)
{
    (void)state;
    const char *path = tu_src_path("tests/data/adam_torch_1_13.txt");
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s (GLF_SOURCE_DIR must point at the source tree)", path);
    int ver = 0, G = 0, T = 0;
    if (fscanf(f, "glf-adam-fixture %d groups %d steps %d", &ver, &G, &T) != 3 || ver != 1 ||
        G < 1 || G > 8 || T < 1 || T > 100)
        fail_msg("%s: not a version-1 adam fixture", path);
    group_ gr[8];
    size_t total = 0;
    for (int k = 0; k < G; k++) {
        double lr, b1, b2, eps, wd;
        size_t n;
        if (fscanf(f, " group %lf %lf %lf %lf %lf %zu", &lr, &b1, &b2, &eps, &wd, &n) != 6)
            fail_msg("%s: bad group line %d", path, k);
        gr[k] = group_of_(lr, b1, b2, eps, wd, total + 2, n); /* 2-float gaps */
        total += 2 + n;
    }
    total += 3;
    float *p = tu_rand(total, 7, -1, 1), *g = tu_rand(total, 8, -1, 1), *want = malloc(total * 4);
    float *zero = calloc(total, 4), *ms = calloc(total, 4), *vs = calloc(total, 4);
    for (int k = 0; k < G; k++)
        read_floats_(f, "init", -1, -1, p + gr[k].off, gr[k].n);
    glf_ctx *ctx = tu_ctx();
    adam_dev_ d;
    dev_create_(ctx, &d, p, zero, zero, total);
    double worst = 0;
    for (int t = 1; t <= T; t++) {
        for (int k = 0; k < G; k++) {
            read_floats_(f, "grad", t, k, g + gr[k].off, gr[k].n);
            read_floats_(f, "param", t, k, want + gr[k].off, gr[k].n);
        }
        TU_OK(glf_buf_write(ctx, d.g, 0, total * 4, g));
        for (int k = 0; k < G; k++)
            TU_OK(glf_adam_step(ctx, d.p, d.g, d.m, d.v, gr[k].off, gr[k].n, &gr[k].hp, t));
        float *got = tu_read(ctx, d.p, total);
        for (int k = 0; k < G; k++) {
            for (size_t i = gr[k].off; i < gr[k].off + gr[k].n; i++)
                worst = fmax(worst, fabs((double)got[i] - want[i]));
            double *w = malloc(gr[k].n * 8);
            for (size_t i = 0; i < gr[k].n; i++)
                w[i] = want[gr[k].off + i];
            char what[64];
            snprintf(what, sizeof what, "adam vs torch, step %d group %d", t, k);
            /* a few float ulps of |p| ~ 1: the kernel may fuse multiply-adds */
            if (tu_compare(what, got + gr[k].off, w, gr[k].n, 2.5e-7, 2e-7))
                fail_msg("%s: differs from PyTorch", what);
            free(w);
        }
        free(got);
    }
    for (int k = 0; k < G; k++) {
        read_floats_(f, "m", k, -1, ms + gr[k].off, gr[k].n);
        read_floats_(f, "v", k, -1, vs + gr[k].off, gr[k].n);
    }
    fclose(f);
    float *gm = tu_read(ctx, d.m, total), *gv = tu_read(ctx, d.v, total);
    double *wm = malloc(total * 8), *wv = malloc(total * 8);
    for (size_t i = 0; i < total; i++)
        wm[i] = ms[i], wv[i] = vs[i];
    for (int k = 0; k < G; k++) {
        if (tu_compare("adam m vs torch", gm + gr[k].off, wm + gr[k].off, gr[k].n, 1e-12, 1e-6) ||
            tu_compare("adam v vs torch", gv + gr[k].off, wv + gr[k].off, gr[k].n, 1e-15, 1e-6))
            fail_msg("adam moments differ from PyTorch");
    }
    size_t mv_diff = 0;
    for (int k = 0; k < G; k++)
        for (size_t i = gr[k].off; i < gr[k].off + gr[k].n; i++)
            mv_diff += gm[i] != ms[i] || gv[i] != vs[i];
    print_message("  adam vs PyTorch 1.13: %d groups, %d steps, max |param diff| %.3g, "
                  "%zu moment elements not bit-identical\n",
                  G, T, worst, mv_diff);
    dev_release_(&d);
    free(p), free(g), free(want), free(zero), free(ms), free(vs), free(gm), free(gv), free(wm);
    free(wv);
    glf_ctx_destroy(ctx);
}

static void test_adam_invalid(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem b = tu_buf_nan(ctx, 8);
    glf_adam_hp hp = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f}, bad = {1e-3f, 1.0f, 0.999f, 1e-8f, 0.0f};
    assert_int_equal(glf_adam_step(ctx, b, b, b, b, 0, 8, &hp, 0), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "t = 0"));
    assert_int_equal(glf_adam_step(ctx, b, NULL, b, b, 0, 8, &hp, 1), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_adam_step(ctx, b, b, b, b, 0, 8, &bad, 1), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "betas"));
    glf_buf_release(b);
    glf_ctx_destroy(ctx);
}

static void test_steplr(void **state)
{
    (void)state;
    assert_true(glf_steplr(1e-3f, 0, 50, 0.5f) == 1e-3f);
    assert_true(glf_steplr(1e-3f, 49, 50, 0.5f) == 1e-3f);
    assert_true(glf_steplr(1e-3f, 50, 50, 0.5f) == (float)(1e-3 * 0.5));
    assert_true(glf_steplr(1e-3f, 149, 50, 0.5f) == (float)(1e-3 * 0.25));
    assert_true(glf_steplr(1e-3f, 150, 50, 0.5f) == (float)(1e-3 * 0.125));
    assert_true(glf_steplr(0.1f, 7, 3, 0.1f) == (float)(0.1 * 0.1 * 0.1));
    assert_true(glf_steplr(1e-3f, 10, 0, 0.5f) == 1e-3f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_two_groups),
        cmocka_unit_test(test_adam_vs_pytorch),
        cmocka_unit_test(test_adam_invalid),
        cmocka_unit_test(test_steplr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
