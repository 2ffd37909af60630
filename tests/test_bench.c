/* glf bench: the net's cost model against the layer arithmetic of
 * glf-method.md, op scopes in the profiler, and a quick benchmark run whose
 * figures, markdown and JSON hang together. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/json.h"
#include "glf/bench.h"
#include "glf/gemm.h"
#include "glf/net.h"
#include "glf/ops_util.h"

static const glf_net_cost *find_(const glf_net_cost *c, int n, const char *op)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(c[i].op, op))
            return &c[i];
    fail_msg("cost model has no op '%s'", op);
    return NULL;
}

/* The 28x28 preset (glf-method.md): conv 1->64 and 64->128 (4x4, stride 2),
 * fc 6272->1024->20, decoder mirrored; flow of 4 blocks, each with four
 * MLPs 10->64->64->10. Multiply-adds per image written out by hand. */
static void test_cost_model(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    glf_config c;
    glf_net *net;
    TU_OK(glf_config_preset(&c, 1, 28, 28));
    TU_OK(glf_net_create(ctx, &c, 8, &net));
    glf_net_cost cost[32];
    const int B = 8;
    int n = glf_net_costs(net, B, cost, 32);
    assert_true(n >= 13 && n <= 32);
    const struct {
        const char *op;
        double macs;
        int dx;
    } want[] = {{"enc.conv1", 64.0 * 14 * 14 * 1 * 16, 0}, {"enc.conv2", 128.0 * 7 * 7 * 64 * 16, 1},
                {"enc.fc1", 6272.0 * 1024, 1},           {"enc.fc2", 1024.0 * 20, 1},
                {"dec.fc1", 20.0 * 1024, 1},             {"dec.fc2", 1024.0 * 6272, 1},
                {"dec.deconv1", 7.0 * 7 * 128 * 64 * 16, 1}, {"dec.deconv2", 14.0 * 14 * 64 * 1 * 16, 1},
                {"flow", 16.0 * (10 * 64 + 64 * 64 + 64 * 10), 1}};
    double total = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const glf_net_cost *x = find_(cost, n, want[i].op);
        assert_float_equal(x->flop_fwd, 2.0 * B * want[i].macs, 0.5);
        assert_float_equal(x->flop_bwd, 2.0 * B * want[i].macs * (1 + want[i].dx), 0.5);
        total += x->flop_fwd + x->flop_bwd;
    }
    /* The layer arithmetic by hand: about 157 MFLOP per image and step. */
    assert_true(total / B > 156e6 && total / B < 158e6);
    /* BatchNorm: enc.bn2 128x49, enc.bn3 1024, dec.bn1 1024, dec.bn2 6272,
     * dec.bn3 64x196 elements; activations: six ReLUs and the output map. */
    double bn = 128 * 49 + 1024 + 1024 + 6272 + 64 * 196;
    double act = 64 * 196 + 6272 + 1024 + 1024 + 6272 + 64 * 196 + 784;
    double own = 64 * 196 + 784; /* forward: the other five ReLUs run inside BatchNorm */
    assert_float_equal(find_(cost, n, "batchnorm")->bytes_fwd, 8.0 * B * bn, 0.5);
    assert_float_equal(find_(cost, n, "batchnorm")->bytes_bwd, 12.0 * B * bn, 0.5);
    assert_float_equal(find_(cost, n, "activations")->bytes_fwd, 8.0 * B * own, 0.5);
    assert_float_equal(find_(cost, n, "activations")->bytes_bwd, 12.0 * B * act, 0.5);
    assert_float_equal(find_(cost, n, "adam")->bytes_fwd,
                       28.0 * (double)glf_net_param_layout(net)->total, 0.5);
    glf_net_destroy(net);
    glf_ctx_destroy(ctx);
}

/* Kernels are recorded under the scope they were enqueued in. */
static void test_profile_scopes(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    cl_mem b = tu_buf_nan(ctx, 37);
    glf_profile_scope(ctx, "ignored", 1); /* not profiling: no effect */
    TU_OK(glf_profile_start(ctx));
    TU_OK(glf_fill(ctx, glf_dp(b, 0), 37, 1.0f));
    glf_profile_scope(ctx, "alpha", 0);
    TU_OK(glf_fill(ctx, glf_dp(b, 0), 37, 1.0f));
    glf_profile_scope(ctx, "beta", 1);
    TU_OK(glf_fill(ctx, glf_dp(b, 0), 37, 2.0f));
    TU_OK(glf_fill(ctx, glf_dp(b, 0), 37, 3.0f));
    glf_profile_scope(ctx, NULL, 1);
    TU_OK(glf_fill(ctx, glf_dp(b, 0), 37, 4.0f));
    glf_profile_entry *e;
    int ne;
    TU_OK(glf_profile_stop(ctx, &e, &ne));
    assert_int_equal(ne, 3);
    unsigned none = 0, alpha = 0, beta = 0;
    for (int i = 0; i < ne; i++) {
        assert_string_equal(e[i].name, "fill_f32");
        if (!strcmp(e[i].op, ""))
            none = e[i].calls, assert_int_equal(e[i].backward, 0);
        else if (!strcmp(e[i].op, "alpha"))
            alpha = e[i].calls, assert_int_equal(e[i].backward, 0);
        else if (!strcmp(e[i].op, "beta"))
            beta = e[i].calls, assert_int_equal(e[i].backward, 1);
        assert_true(e[i].ms >= 0);
    }
    assert_int_equal(none, 2);
    assert_int_equal(alpha, 1);
    assert_int_equal(beta, 2);
    free(e);
    tu_check_guard(ctx, b, 37, "scoped fills");
    glf_buf_release(b);
    glf_ctx_destroy(ctx);
}

static char *slurp_(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static void test_quick_run(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    glf_bench_opts o = glf_bench_defaults();
    o.quick = 1;
    glf_bench_result r;
    TU_OK(glf_bench_run(ctx, &o, &r));
    assert_true(r.peak_gflops > 0.1 && isfinite(r.peak_gflops));
    assert_true(r.bandwidth_gbs > 0.01 && isfinite(r.bandwidth_gbs));
    /* Both microbenchmark runs (before and after) happened; the peaks are
     * the higher of each pair. */
    for (int i = 0; i < 2; i++)
        assert_true(r.peak_runs[i] > 0.1 && r.bandwidth_runs[i] > 0.01);
    assert_true(r.peak_gflops == fmax(r.peak_runs[0], r.peak_runs[1]));
    assert_true(r.bandwidth_gbs == fmax(r.bandwidth_runs[0], r.bandwidth_runs[1]));
    assert_int_equal(r.ngemm, 2);
    for (int i = 0; i < r.ngemm; i++) {
        assert_true(r.gemm[i].glf > 0 && r.gemm[i].clblast_default > 0);
        assert_true(r.gemm[i].clblast_tuned < 0); /* fresh cache folder: nothing tuned */
    }
    assert_string_equal(r.clblast_set, "");
    /* What glf ran with: the defaults, as this fresh folder holds no tuning. */
    glf_gemm_params dp = glf_gemm_default_params();
    char want[128];
    snprintf(want, sizeof want, "rm=%d vw=%d nv=%d lx=%d ly=%d (defaults)", dp.rm, dp.vw, dp.nv,
             dp.lx, dp.ly);
    assert_string_equal(r.glf_set, want);
    assert_string_equal(r.conv_set, "taps=materialised pixels=materialised (defaults)");
    assert_int_equal(r.batch, 16);
    assert_true(r.step_ms > 0 && fabs(r.images_per_s - 16 / (r.step_ms * 1e-3)) < 1e-6 * r.images_per_s);
    /* Every modelled op ran, forward and (where there is one) backward, and
     * the op times add up to the kernel time of the profiled step. */
    const char *fb[] = {"enc.conv2", "enc.fc1", "enc.fc2", "dec.fc1", "dec.fc2", "dec.deconv1",
                        "dec.deconv2", "enc.conv1", "batchnorm", "activations", "flow"};
    double sum = 0, flop = 0;
    for (int i = 0; i < r.nops; i++)
        sum += r.ops[i].fwd_ms + r.ops[i].bwd_ms, flop += r.ops[i].flop;
    for (size_t k = 0; k < sizeof fb / sizeof fb[0]; k++) {
        int j = 0;
        while (j < r.nops && strcmp(r.ops[j].op, fb[k]))
            j++;
        assert_true(j < r.nops);
        assert_true(r.ops[j].fwd_ms > 0);
        assert_true(r.ops[j].bwd_ms > 0);
    }
    assert_float_equal(sum, r.kernel_ms, 1e-6 * r.kernel_ms + 1e-9);
    assert_float_equal(flop, r.step_flop, 1e-6 * flop);
    assert_true(r.step_flop / 16 > 156e6 && r.step_flop / 16 < 160e6);

    /* Markdown and JSON of the same figures. */
    char *dir = tu_tmpdir("bench"), md[4096], js[4096];
    snprintf(md, sizeof md, "%s/out.md", dir);
    snprintf(js, sizeof js, "%s/out.json", dir);
    FILE *f = fopen(md, "w");
    assert_non_null(f);
    glf_bench_markdown(f, &r, 1);
    fclose(f);
    size_t len;
    char *text = slurp_(md, &len);
    assert_non_null(strstr(text, "### Training step"));
    assert_non_null(strstr(text, "| enc.fc1 |"));
    assert_non_null(strstr(text, "run `glf tune`"));
    assert_non_null(strstr(text, "Convolutions: taps=materialised pixels=materialised (defaults)."));
    char peaks[256];
    snprintf(peaks, sizeof peaks, "FMA peak %.1f GFLOP/s, stream bandwidth %.1f GB/s: the higher "
             "of two measurements, before the rest (%.1f, %.1f) and after (%.1f, %.1f).",
             r.peak_gflops, r.bandwidth_gbs, r.peak_runs[0], r.bandwidth_runs[0], r.peak_runs[1],
             r.bandwidth_runs[1]);
    assert_non_null(strstr(text, peaks));
    free(text);
    TU_OK(glf_bench_json(js, &r, 1));
    text = slurp_(js, &len);
    char err[256];
    glf_json *j = glf_json_parse(text, len, err, sizeof err);
    if (!j)
        fail_msg("bench JSON does not parse: %s", err);
    assert_int_equal(j->type, GLF_JSON_ARR);
    assert_int_equal(glf_json_count(j), 1);
    const glf_json *d = j->child, *step = glf_json_get(d, "step");
    assert_non_null(step);
    assert_float_equal(glf_json_get(step, "images_per_s")->num, r.images_per_s,
                       1e-3 * r.images_per_s);
    assert_float_equal(glf_json_get(d, "peak_gflops")->num, r.peak_gflops, 1e-2);
    const glf_json *pr = glf_json_get(d, "peak_gflops_runs"), *br = glf_json_get(d, "bandwidth_gbs_runs");
    assert_non_null(pr);
    assert_non_null(br);
    assert_int_equal(glf_json_count(pr), 2);
    assert_int_equal(glf_json_count(br), 2);
    assert_float_equal(pr->child->num, r.peak_runs[0], 1e-2);
    assert_float_equal(pr->child->next->num, r.peak_runs[1], 1e-2);
    assert_float_equal(br->child->num, r.bandwidth_runs[0], 1e-2);
    assert_float_equal(br->child->next->num, r.bandwidth_runs[1], 1e-2);
    assert_int_equal(glf_json_count(glf_json_get(d, "gemm")), 2);
    assert_int_equal(glf_json_count(glf_json_get(d, "ops")), (size_t)r.nops);
    assert_int_equal(glf_json_get(d, "gemm")->child->next->type, GLF_JSON_OBJ);
    assert_int_equal(glf_json_get(glf_json_get(d, "gemm")->child, "clblast_tuned_gflops")->type,
                     GLF_JSON_NULL);
    assert_string_equal(glf_json_get(d, "conv_set")->str, r.conv_set);
    assert_string_equal(glf_json_get(d, "glf_set")->str, r.glf_set);
    glf_json_free(j);
    free(text);

    /* Two results: one table with a column per device. */
    glf_bench_result two[2] = {r, r};
    snprintf(two[1].device, sizeof two[1].device, "second device");
    f = fopen(md, "w");
    assert_non_null(f);
    glf_bench_markdown(f, two, 2);
    fclose(f);
    text = slurp_(md, &len);
    assert_non_null(strstr(text, "second device"));
    assert_non_null(strstr(text, "| training step, images/s (batch) |"));
    assert_non_null(strstr(text, "| convolutions | taps=materialised"));
    free(text);
    free(dir);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_model),
        cmocka_unit_test(test_profile_scopes),
        cmocka_unit_test(test_quick_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
