/* The committed golden file (tests/golden/glf_tiny.bin, from the PyTorch
 * reference) has the structure the C model test relies on: names and shapes
 * agree with glf_layout_params/state for its config, its initial weights and
 * permutations are bit-identical to glf_init_params / glf_flow_permutations
 * (so the Python Philox port is exact), and its losses agree with its own
 * recorded forward outputs. The C-vs-golden numbers are checked elsewhere. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_golden.h"

static void expect_shape_(const ref_golden *g, const char *name, int ndim, const int *shape)
{
    int nd, sh[GLF_CKPT_MAX_DIM];
    const float *p = glf_ckpt_f32(g->ck, name, &nd, sh);
    if (!p)
        fail_msg("golden file lacks tensor '%s'", name);
    int same = nd == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = sh[i] == shape[i];
    if (!same)
        fail_msg("golden tensor '%s': ndim %d dims %d %d ..., expected ndim %d dims %d %d ...",
                 name, nd, sh[0], nd > 1 ? sh[1] : -1, ndim, shape[0],
                 ndim > 1 ? shape[1] : -1);
}

static void all_finite_(const float *p, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            fail_msg("%s[%zu] is %g", what, i, (double)p[i]);
}

static int has_prefix_(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void test_structure(void **state)
{
    (void)state;
    ref_golden g;
    TU_OK(ref_golden_load(tu_src_path(REF_GOLDEN_TINY), &g));
    const glf_config *c = &g.cfg;
    assert_int_equal(g.steps, 10);
    TU_OK(glf_config_validate(c));
    glf_layout lp, ls;
    TU_OK(glf_layout_params(c, &lp));
    TU_OK(glf_layout_state(c, &ls));
    float *buf = malloc((lp.total > ls.total ? lp.total : ls.total) * sizeof(float));
    /* Every parameter has init, grad and final values of its layout shape;
     * every BN statistic has init, step1 and final values. */
    TU_OK(ref_golden_layout(&g, "init.", &lp, buf));
    all_finite_(buf, lp.total, "init params");
    TU_OK(ref_golden_layout(&g, "grad.", &lp, buf));
    all_finite_(buf, lp.total, "grads");
    /* Every group has a gradient somewhere (glf mode: recon -> AE, nll -> flow). */
    for (int grp = 0; grp < 2; grp++) {
        double s = 0;
        for (size_t i = 0; i < lp.group_n[grp]; i++)
            s += fabs(buf[lp.group_off[grp] + i]);
        assert_true(lp.group_n[grp] == 0 || s > 0);
    }
    TU_OK(ref_golden_layout(&g, "final.", &lp, buf));
    all_finite_(buf, lp.total, "final params");
    TU_OK(ref_golden_layout(&g, "init.", &ls, buf));
    TU_OK(ref_golden_layout(&g, "step1.", &ls, buf));
    for (int i = 0; i < ls.n; i++)
        if (strstr(ls.t[i].name, "running_var"))
            for (size_t j = 0; j < ls.t[i].n; j++)
                assert_true(buf[ls.t[i].off + j] > 0);
    TU_OK(ref_golden_layout(&g, "final.", &ls, buf));
    /* ... and nothing else: no tensor the C layout does not know. */
    int per_prefix[5] = {0};
    const char *prefixes[5] = {"init.", "grad.", "step1.", "final.", "fwd."};
    for (int i = 0; i < glf_ckpt_count(g.ck); i++) {
        const char *name = glf_ckpt_name(g.ck, i);
        for (int k = 0; k < 4; k++)
            if (has_prefix_(name, prefixes[k]) && strcmp(name, "step1.loss") != 0 &&
                strcmp(name, "step1.entropy") != 0) {
                per_prefix[k]++;
                const char *t = name + strlen(prefixes[k]);
                if (!glf_layout_find(&lp, t) && !glf_layout_find(&ls, t))
                    fail_msg("golden tensor '%s' is not in the C layout", name);
            }
    }
    assert_int_equal(per_prefix[0], lp.n + ls.n);
    assert_int_equal(per_prefix[1], lp.n);
    assert_int_equal(per_prefix[2], ls.n);
    assert_int_equal(per_prefix[3], lp.n + ls.n);

    /* Inputs and forward outputs. */
    const int B = c->batch, C = c->channels, S = c->height, d = c->latent;
    expect_shape_(&g, "input.x", 4, (int[]){B, C, S, S});
    expect_shape_(&g, "fwd.xhat", 4, (int[]){B, C, S, S});
    expect_shape_(&g, "fwd.z", 2, (int[]){B, d});
    expect_shape_(&g, "fwd.zhat", 2, (int[]){B, d});
    expect_shape_(&g, "fwd.logdet", 1, (int[]){B});
    expect_shape_(&g, "losses", 2, (int[]){g.steps, 3});
    expect_shape_(&g, "step1.loss", 1, (int[]){3});
    size_t n;
    const float *x = ref_golden_f32(&g, "input.x", &n);
    for (size_t i = 0; i < n; i++)
        assert_true(x[i] >= 0.0f && x[i] <= 1.0f);
    if (c->mode == GLF_MODE_VAE_FLOW)
        expect_shape_(&g, "input.eps", 3, (int[]){g.steps, B, d});
    free(buf);
    glf_layout_free(&lp), glf_layout_free(&ls);
    ref_golden_free(&g);
}

/* The Python reference's init is the C init, bit for bit. */
static void test_init_matches_c(void **state)
{
    (void)state;
    ref_golden g;
    TU_OK(ref_golden_load(tu_src_path(REF_GOLDEN_TINY), &g));
    assert_true(g.init_seed >= 0); /* the committed file comes from --init */
    glf_layout lp, ls;
    TU_OK(glf_layout_params(&g.cfg, &lp));
    TU_OK(glf_layout_state(&g.cfg, &ls));
    float *want = malloc(lp.total * sizeof *want), *got = malloc(lp.total * sizeof *got);
    TU_OK(glf_init_params(&lp, (unsigned long long)g.init_seed, want));
    TU_OK(ref_golden_layout(&g, "init.", &lp, got));
    for (int i = 0; i < lp.n; i++)
        if (memcmp(want + lp.t[i].off, got + lp.t[i].off, lp.t[i].n * sizeof(float)) != 0)
            fail_msg("init.%s differs from glf_init_params(seed %lld)", lp.t[i].name,
                     g.init_seed);
    TU_OK(glf_init_state(&ls, want));
    TU_OK(ref_golden_layout(&g, "init.", &ls, got));
    assert_memory_equal(want, got, ls.total * sizeof(float));
    int blocks = g.cfg.flow_blocks, d = g.cfg.latent;
    int32_t *perm = malloc((size_t)blocks * d * sizeof *perm);
    int *cperm = malloc((size_t)blocks * d * sizeof *cperm);
    TU_OK(glf_ckpt_get_i32(g.ck, "flow.perm", perm, (size_t)blocks * d));
    glf_flow_permutations(&g.cfg, cperm);
    assert_memory_equal(perm, cperm, (size_t)blocks * d * sizeof(int));
    free(want), free(got), free(perm), free(cperm);
    glf_layout_free(&lp), glf_layout_free(&ls);
    ref_golden_free(&g);
}

/* The recorded losses follow from the recorded forward outputs (so the file
 * means what its header says: recon = sum/B, nll per glf-method.md). */
static void test_losses_consistent(void **state)
{
    (void)state;
    ref_golden g;
    TU_OK(ref_golden_load(tu_src_path(REF_GOLDEN_TINY), &g));
    const int B = g.cfg.batch, d = g.cfg.latent;
    size_t n;
    const float *x = ref_golden_f32(&g, "input.x", &n);
    const float *xhat = ref_golden_f32(&g, "fwd.xhat", NULL);
    const float *zhat = ref_golden_f32(&g, "fwd.zhat", NULL);
    const float *ld = ref_golden_f32(&g, "fwd.logdet", NULL);
    const float *loss = ref_golden_f32(&g, "step1.loss", NULL);
    const float *losses = ref_golden_f32(&g, "losses", NULL);
    assert_true(g.cfg.recon == GLF_RECON_MSE && g.cfg.mode == GLF_MODE_GLF);
    double recon = 0, nll = 0;
    for (size_t i = 0; i < n; i++)
        recon += ((double)xhat[i] - x[i]) * ((double)xhat[i] - x[i]);
    recon /= B;
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            s += 0.5 * (double)zhat[b * d + j] * zhat[b * d + j];
        nll += s + 0.5 * d * log(6.283185307179586) - ld[b];
    }
    nll /= B;
    assert_float_equal(loss[0], recon, 1e-5 * fabs(recon));
    assert_float_equal(loss[1], nll, 1e-5 * fabs(nll) + 1e-6);
    assert_float_equal(loss[2], (double)loss[0] + loss[1], 1e-5 * fabs(loss[2]));
    assert_memory_equal(loss, losses, 3 * sizeof(float));
    all_finite_(losses, (size_t)g.steps * 3, "losses");
    /* Ten Adam steps on one batch: the total goes down. */
    assert_true(losses[(g.steps - 1) * 3 + 2] < losses[2]);
    ref_golden_free(&g);
}

static void test_bad_files(void **state)
{
    (void)state;
    ref_golden g;
    /* A golden file is not a checkpoint and vice versa. */
    glf_ckpt *ck;
    assert_int_equal(glf_ckpt_read(tu_src_path(REF_GOLDEN_TINY), &ck), GLF_ERR_FORMAT);
    assert_non_null(strstr(glf_last_error(), "bad magic"));
    assert_int_equal(ref_golden_load("/nonexistent/golden.bin", &g), GLF_ERR_IO);
    assert_null(g.ck);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_init_matches_c),
        cmocka_unit_test(test_losses_consistent),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
