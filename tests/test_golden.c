/* The whole GLF network on the device against the PyTorch reference
 * (bench/reference/glf_reference.py): from the same initial weights and the
 * same batch, the step-1 losses, EVERY parameter gradient, the BatchNorm
 * running statistics after the step, the loss trajectory over the recorded
 * Adam steps and the final parameters must agree. One golden file per
 * mode; regenerate them with the commands at the top of that script. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/net.h"
#include "ref_golden.h"

/* Stated tolerances (float32 on both sides, different summation orders):
 * per-tensor normalised error ||got - want|| / ||want||. */
#define TOL_GRAD_GROUP 1e-5
#define TOL_GRAD_TENSOR 1e-3
#define TOL_STATE 1e-5
/* After the Adam steps, over the tensors whose gradient is significant:
 * Adam divides by sqrt(v), so the rounding noise of exactly-zero gradients
 * becomes full-size steps in both implementations; those tensors are not
 * comparable, the rest are. */
#define TOL_PARAM_GROUP 1e-4
#define TOL_PARAM_TENSOR 1e-3
/* The flow's gradients are ~1e-5..1e-9 and its Adam eps 1e-6, so relative
 * rounding differences in them move its parameters a little more. */
#define TOL_PARAM_FLOW 5e-4
#define TOL_LOSS 1e-5 /* relative, step-1 losses */
#define TOL_TRAJ 2e-5 /* relative, recon and nll over the Adam steps */
/* In glf mode (stop-gradient) the latent bias enc.fc2.bias has an exactly
 * zero gradient: the decoder's first Linear is followed by BatchNorm and the
 * NLL does not reach the encoder. Adam turns its rounding noise into +-lr
 * steps of arbitrary sign on each side, shifting z by ~1e-3; the decoder's
 * BatchNorm cancels the shift (recon stays exact) but the flow sees it. So
 * in that mode the NLL trajectory and the flow's final parameters agree only
 * to these looser tolerances; the regularized and vae-flow goldens, where z
 * gets a real gradient, check the flow's Adam trajectory tightly. */
#define TOL_TRAJ_NLL_STOPGRAD 1e-4
#define TOL_PARAM_FLOW_STOPGRAD 2e-2

static double rel_(double got, double want)
{
    return fabs(got - want) / (fabs(want) > 1e-12 ? fabs(want) : 1.0);
}

/* Compare a layout's tensors in a device buffer with "<prefix><name>".
 * Two criteria, per parameter group (auto-encoder, flow):
 *  - over the tensors holding a non-negligible part of the group's norm
 *    (||sig_t|| >= 1e-3 ||sig_group||, sig = the golden "<sig_prefix>" tensors),
 *    the group as one vector: ||got - want|| / ||want|| <= tol_group;
 *  - each of those tensors: normalised error <= tol_tensor.
 * Tensors below that share are pure rounding noise on both sides: e.g. the
 * bias of a layer followed by BatchNorm has an exact gradient of 0 (the
 * batch mean is subtracted), so both implementations hold ~1e-8 noise. */
static int compare_layout_(glf_ctx *ctx, const ref_golden *g, const char *prefix,
                           const char *sig_prefix, const glf_layout *l, cl_mem buf, int groups,
                           double tol_group, double tol_tensor, const char *what)
{
    /* Significance (and so what is compared) is judged on the golden tensors
     * "<sig_prefix><name>": for parameters after Adam, on their gradients. */
    double sden[2] = {0, 0};
    for (int i = 0; i < l->n; i++) {
        char sname[160];
        size_t sn = 0;
        snprintf(sname, sizeof sname, "%s%s", sig_prefix, l->t[i].name);
        const float *sw = ref_golden_f32(g, sname, &sn);
        int sg = groups ? l->t[i].group : 0;
        if (sg > 1)
            continue;
        for (size_t j = 0; sw && sg < 2 && j < sn; j++)
            sden[sg] += (double)sw[j] * sw[j];
    }
    float *got = tu_read(ctx, buf, l->total);
    int bad = 0, checked = 0;
    double gnum[2] = {0, 0}, gden[2] = {0, 0}, worst = 0;
    const char *worst_name = "";
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < l->n; i++) {
            const glf_tensor_desc *t = &l->t[i];
            int grp = groups ? t->group : 0;
            /* groups: 0 all as one, 1 auto-encoder only, 2 both, 3 flow only */
            if (grp >= 2 || (groups == 1 && grp != 0) || (groups == 3 && grp != 1))
                continue;
            char name[160];
            snprintf(name, sizeof name, "%s%s", prefix, t->name);
            size_t n = 0;
            const float *want = ref_golden_f32(g, name, &n);
            char sname[160];
            size_t sn = 0;
            snprintf(sname, sizeof sname, "%s%s", sig_prefix, t->name);
            const float *sw = ref_golden_f32(g, sname, &sn);
            double sig = 0;
            for (size_t j = 0; sw && j < sn; j++)
                sig += (double)sw[j] * sw[j];
            if (sqrt(sig) < 1e-3 * sqrt(sden[grp]))
                continue; /* rounding noise on both sides: see above */
            if (!want || n != t->n) {
                if (pass == 0) {
                    print_message("  %s: golden tensor %s missing or of %zu elements (want %zu)\n",
                                  what, name, n, t->n);
                    bad++;
                }
                continue;
            }
            double num = 0, den = 0;
            for (size_t j = 0; j < n; j++) {
                double d = (double)got[t->off + j] - want[j];
                num += d * d;
                den += (double)want[j] * want[j];
            }
            if (pass == 0) {
                gnum[grp] += num;
                gden[grp] += den;
                continue;
            }
            checked++;
            double err = sqrt(num) / sqrt(den);
            if (!(err <= tol_tensor)) {
                print_message("  %s %s: normalised error %.3g > %.3g (|want| %.3g)\n", what,
                              t->name, err, tol_tensor, sqrt(den));
                bad++;
            }
            if (!(err <= worst)) {
                worst = err;
                worst_name = t->name;
            }
        }
    }
    for (int grp = 0; grp < 2; grp++) {
        if (gden[grp] == 0)
            continue;
        double e = sqrt(gnum[grp]) / sqrt(gden[grp]);
        print_message("  %s, %s: normalised error %.3g (tolerance %.3g)\n", what,
                      groups ? (grp ? "flow" : "auto-encoder") : "all", e, tol_group);
        bad += !(e <= tol_group);
    }
    print_message("  %s: %d significant tensors, worst normalised error %.3g (%s)\n", what,
                  checked, worst, worst_name);
    free(got);
    return bad;
}

static void run_golden_(const char *rel)
{
    ref_golden g;
    TU_OK(ref_golden_load(tu_src_path(rel), &g));
    const glf_config *c = &g.cfg;
    int B = c->batch, d = c->latent;
    size_t N = (size_t)c->channels * c->height * c->width;
    print_message("[ golden ] %s: mode %s, %dx%dx%d, d %d, h %d, batch %d, %d steps\n", rel,
                  glf_mode_name(c->mode), c->channels, c->height, c->width, d, c->flow_width, B,
                  g.steps);
    glf_ctx *ctx = tu_ctx();
    glf_net *net;
    TU_OK(glf_net_create(ctx, c, B, &net));
    const glf_layout *pl = glf_net_param_layout(net), *sl = glf_net_state_layout(net);

    /* the reference's starting point */
    float *hp = malloc(pl->total * sizeof *hp), *hs = malloc((sl->total + 1) * sizeof *hs);
    TU_OK(ref_golden_layout(&g, "init.", pl, hp));
    TU_OK(ref_golden_layout(&g, "init.", sl, hs));
    TU_OK(glf_buf_write(ctx, glf_net_params(net), 0, pl->total * 4, hp));
    TU_OK(glf_buf_write(ctx, glf_net_state(net), 0, sl->total * 4, hs));
    TU_OK(glf_buf_fill_f32(ctx, glf_net_adam_m(net), 0, pl->total, 0.0f));
    TU_OK(glf_buf_fill_f32(ctx, glf_net_adam_v(net), 0, pl->total, 0.0f));
    /* Gradients start as NaN: every trained one must be written by the step. */
    TU_OK(glf_buf_fill_f32(ctx, glf_net_grads(net), 0, pl->total, NAN));
    size_t np = (size_t)c->flow_blocks * d;
    int32_t *perm32 = malloc(np * sizeof *perm32);
    int *perm = malloc(np * sizeof *perm);
    if (c->mode != GLF_MODE_AE_GAUSS) { /* the baseline has no flow */
        TU_OK(glf_ckpt_get_i32(g.ck, "flow.perm", perm32, np));
        for (size_t i = 0; i < np; i++)
            perm[i] = perm32[i];
        TU_OK(glf_net_set_perms(net, perm));
    }

    size_t nx = 0, ne = 0;
    const float *x = ref_golden_f32(&g, "input.x", &nx);
    assert_non_null(x);
    assert_int_equal(nx, (size_t)B * N);
    const float *eps = ref_golden_f32(&g, "input.eps", &ne);
    if (c->mode == GLF_MODE_VAE_FLOW)
        assert_int_equal(ne, (size_t)g.steps * B * d);
    cl_mem xb = tu_buf_from(ctx, x, nx);

    /* step 1: losses, every gradient, BN running stats */
    glf_losses l;
    TU_OK(glf_net_forward_backward(net, glf_dp(xb, 0), B, eps, &l));
    size_t n3 = 0;
    const float *l1 = ref_golden_f32(&g, "step1.loss", &n3);
    assert_non_null(l1);
    print_message("  step 1: recon %.7g (ref %.7g)  nll %.7g (ref %.7g)  total %.7g (ref %.7g)\n",
                  l.recon, l1[0], l.nll, l1[1], l.total, l1[2]);
    int bad = 0;
    bad += !(rel_(l.recon, l1[0]) <= TOL_LOSS);
    bad += !(rel_(l.nll, l1[1]) <= TOL_LOSS || fabs(l.nll - l1[1]) <= 1e-5);
    bad += !(rel_(l.total, l1[2]) <= TOL_LOSS);
    /* groups: 1 = auto-encoder only (ae-gauss trains no flow), 2 = both */
    int groups = c->mode == GLF_MODE_AE_GAUSS ? 1 : 2;
    bad += compare_layout_(ctx, &g, "grad.", "grad.", pl, glf_net_grads(net), groups, TOL_GRAD_GROUP,
                           TOL_GRAD_TENSOR, "gradients");
    bad += compare_layout_(ctx, &g, "step1.", "step1.", sl, glf_net_state(net), 0, TOL_STATE, TOL_STATE,
                           "BN state");

    /* the Adam trajectory on the same batch */
    size_t nl = 0;
    const float *traj = ref_golden_f32(&g, "losses", &nl);
    assert_non_null(traj);
    assert_int_equal(nl, (size_t)3 * g.steps);
    TU_OK(glf_net_adam(net, 0, 1));
    double worst = 0, worst_nll = 0;
    for (int t = 2; t <= g.steps; t++) {
        TU_OK(glf_net_forward_backward(net, glf_dp(xb, 0), B,
                                       eps ? eps + (size_t)(t - 1) * B * d : NULL, &l));
        const float *w = traj + (size_t)(t - 1) * 3;
        double er = rel_(l.recon, w[0]), en = rel_(l.nll, w[1]);
        double tol_nll = c->mode == GLF_MODE_GLF ? TOL_TRAJ_NLL_STOPGRAD : TOL_TRAJ;
        if (getenv("GLF_GOLDEN_VERBOSE"))
            print_message("  step %2d: recon %.8g (ref %.8g) nll %.8g (ref %.8g)\n", t, l.recon,
                          w[0], l.nll, w[1]);
        if (er > worst)
            worst = er;
        if (en > worst_nll)
            worst_nll = en;
        if (!(er <= TOL_TRAJ) || !(en <= tol_nll)) {
            print_message("  step %d: recon %.8g (ref %.8g, rel %.3g), nll %.8g (ref %.8g, rel "
                          "%.3g)\n", t, l.recon, w[0], er, l.nll, w[1], en);
            bad++;
        }
        TU_OK(glf_net_adam(net, 0, t));
    }
    print_message("  loss trajectory over %d steps: worst relative error recon %.3g, nll %.3g\n",
                  g.steps, worst, worst_nll);
    double tol_flow = c->mode == GLF_MODE_GLF ? TOL_PARAM_FLOW_STOPGRAD : TOL_PARAM_FLOW;
    bad += compare_layout_(ctx, &g, "final.", "grad.", pl, glf_net_params(net), 1,
                           TOL_PARAM_GROUP, TOL_PARAM_TENSOR, "final AE parameters");
    if (groups == 2)
        bad += compare_layout_(ctx, &g, "final.", "grad.", pl, glf_net_params(net), 3, tol_flow,
                               10 * tol_flow, "final flow parameters");
    assert_int_equal(bad, 0);

    glf_buf_release(xb);
    free(hp), free(hs), free(perm), free(perm32);
    glf_net_destroy(net);
    glf_ctx_destroy(ctx);
    ref_golden_free(&g);
}

static void test_glf_mode(void **state)
{
    (void)state;
    run_golden_("tests/golden/glf_tiny.bin");
}

static void test_regularized_mode(void **state)
{
    (void)state;
    run_golden_("tests/golden/glf_tiny_regularized.bin");
}

static void test_vae_flow_mode(void **state)
{
    (void)state;
    run_golden_("tests/golden/glf_tiny_vae.bin");
}

static void test_ae_gauss_mode(void **state)
{
    (void)state;
    run_golden_("tests/golden/glf_tiny_aegauss.bin");
}

static void test_bce_recon(void **state)
{
    (void)state;
    run_golden_("tests/golden/glf_tiny_bce.bin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glf_mode),
        cmocka_unit_test(test_regularized_mode),
        cmocka_unit_test(test_vae_flow_mode),
        cmocka_unit_test(test_ae_gauss_mode),
        cmocka_unit_test(test_bce_recon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
