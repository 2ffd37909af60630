/* Training-step throughput of the full GLF model (28x28x1 preset, batch
 * 256 unless given) on random data in [0, 1]: warm-up steps (kernel
 * builds), then timed steps; prints ms/step and images/s, and with
 * --breakdown the time of each kernel of one step (--by-op: per op, direction
 * and kernel). --ab VAR=VALUE alternates steps between the context's options
 * as given (the environment) and the option VAR set to VALUE (glf_options_set:
 * GLF_PANELS, GLF_COL2IM, GLF_NT_STORES, GLF_GEMM_PREFETCH) and prints both
 * medians and the median of the paired ratios: an A/B in one process, the
 * two sides a step apart.
 * usage: bench_train [--device SPEC] [--batch N] [--steps N] [--warmup N]
 *                    [--breakdown | --by-op | --ab VAR=VALUE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/net.h"
#include "glf/rng.h"
#include "glf/util.h"

int main(int argc, char **argv)
{
    const char *spec = NULL, *ab = NULL;
    int batch = 256, steps = 5, warmup = 2, breakdown = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc)
            spec = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--breakdown"))
            breakdown = 1;
        else if (!strcmp(argv[i], "--by-op"))
            breakdown = 2;
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ab") && i + 1 < argc && strchr(argv[i + 1], '=') &&
                 argv[i + 1][0] != '=')
            ab = argv[++i];
        else {
            fprintf(stderr, "usage: bench_train [--device SPEC] [--batch N] [--steps N] "
                            "[--warmup N] [--breakdown | --by-op | --ab VAR=VALUE]\n");
            return 2;
        }
    }
    if (steps < 1 || warmup < 0 || batch < 1 || (ab && breakdown)) {
        fprintf(stderr, "bench_train: expected --steps >= 1, --warmup >= 0, --batch >= 1, "
                        "and --ab without --breakdown/--by-op\n");
        return 2;
    }
    char var[128] = "", *val = NULL;
    glf_ctx *ctx;
    glf_net *net;
    glf_config c;
    cl_mem x;
    if (glf_ctx_create(spec, &ctx) || glf_config_preset(&c, 1, 28, 28)) {
        fprintf(stderr, "bench_train: %s\n", glf_last_error());
        return 1;
    }
    const glf_options given = *glf_ctx_options(ctx);
    glf_options other = given;
    if (ab) {
        snprintf(var, sizeof var, "%s", ab);
        char *eq = strchr(var, '=');
        *eq = '\0', val = eq + 1;
        if (!strcmp(var, "GLF_GEMM") || !strcmp(var, "GLF_FAMILY") ||
            glf_options_set(&other, var, val)) {
            fprintf(stderr, "bench_train: --ab %s: %s\n", ab,
                    *glf_last_error() ? glf_last_error()
                                      : "the backend and the family are fixed per context");
            return 2;
        }
    }
    c.batch = batch;
    size_t n = (size_t)batch * 784;
    float *h = malloc(n * sizeof *h);
    glf_rng r;
    glf_rng_init(&r, 1, 0);
    for (size_t i = 0; i < n; i++)
        h[i] = glf_rng_uniform(&r);
    if (glf_net_create(ctx, &c, batch, &net) || glf_net_init(net, 123) ||
        glf_buf_create(ctx, n * 4, &x) || glf_buf_write(ctx, x, 0, n * 4, h)) {
        fprintf(stderr, "bench_train: %s\n", glf_last_error());
        return 1;
    }
    char dev[512];
    glf_ctx_describe(ctx, dev, sizeof dev);
    double t0 = 0;
    /* --ab: every step in both settings, alternated (A B, then B A, ...),
     * warm-up steps too (each setting builds its kernels there). */
    int reps = ab ? 2 : 1, nt = 0;
    double *ta = calloc((size_t)steps, sizeof *ta), *tb = calloc((size_t)steps, sizeof *tb);
    double *tr = calloc((size_t)steps, sizeof *tr);
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup)
            t0 = glf_now();
        for (int v = 0; v < reps; v++) {
            int b_side = ab && ((v + s) & 1);
            *glf_ctx_options(ctx) = b_side ? other : given;
            glf_losses l;
            double s0 = glf_now();
            if (glf_net_forward_backward(net, glf_dp(x, 0), batch, NULL, &l) ||
                glf_net_adam(net, 0, s * reps + v + 1) || glf_finish(ctx)) {
                fprintf(stderr, "bench_train: %s\n", glf_last_error());
                return 1;
            }
            if (s >= warmup)
                *(b_side ? &tb[s - warmup] : &ta[s - warmup]) = glf_now() - s0;
        }
        if (s >= warmup)
            tr[nt++] = tb[s - warmup] / ta[s - warmup];
    }
    double dt = glf_now() - t0;
    if (ab) {
        double ma = glf_median(ta, steps), mb = glf_median(tb, steps), mr = glf_median(tr, nt);
        printf("glf %s batch %d, %d steps each, alternated:\n", dev, batch, steps);
        const char *was = getenv(var);
        printf("  as given (%s%s%s): median %.1f ms/step, %.1f images/s\n", var,
               was ? "=" : " unset", was ? was : "", ma * 1e3, batch / ma);
        printf("  %s=%s: median %.1f ms/step, %.1f images/s\n", var, val, mb * 1e3, batch / mb);
        printf("  median of the paired ratios (%s=%s / as given): %.3f\n", var, val, mr);
        *glf_ctx_options(ctx) = given;
    } else {
        printf("glf %s batch %d steps %d: %.1f ms/step, %.1f images/s\n", dev, batch, steps,
               dt / steps * 1e3, steps * batch / dt);
    }
    free(ta), free(tb), free(tr);
    if (breakdown) {
        /* One more step with every kernel timed by OpenCL profiling events. */
        glf_profile_entry *e;
        int ne;
        glf_losses l;
        double p0 = glf_now();
        if (glf_profile_start(ctx) ||
            glf_net_forward_backward(net, glf_dp(x, 0), batch, NULL, &l) ||
            glf_net_adam(net, 0, warmup + steps + 1) || glf_profile_stop(ctx, &e, &ne)) {
            fprintf(stderr, "bench_train: %s\n", glf_last_error());
            return 1;
        }
        /* The profile splits kernels by op scope; here one row per kernel
         * (--by-op: per op, direction and kernel). */
        int m = breakdown == 2 ? ne : 0;
        for (int i = 0; i < ne && breakdown == 1; i++) {
            int j = 0;
            while (j < m && strcmp(e[j].name, e[i].name))
                j++;
            if (j == m)
                e[m++] = e[i];
            else
                e[j].ms += e[i].ms, e[j].calls += e[i].calls;
        }
        ne = m;
        double wall = (glf_now() - p0) * 1e3, sum = 0;
        for (int i = 0; i < ne; i++)
            sum += e[i].ms;
        printf("\n| kernel | calls | ms | %% of kernel time |\n|---|---|---|---|\n");
        for (int i = 1; i < ne; i++) /* slowest first again */
            for (int j = i; j > 0 && e[j].ms > e[j - 1].ms; j--) {
                glf_profile_entry t = e[j];
                e[j] = e[j - 1], e[j - 1] = t;
            }
        for (int i = 0; i < ne; i++)
            printf("| %s%s%s%s | %u | %.2f | %.1f |\n", breakdown == 2 ? e[i].op : "",
                   breakdown == 2 ? (e[i].backward ? " bwd " : " fwd ") : "", e[i].name, "",
                   e[i].calls, e[i].ms, 100.0 * e[i].ms / sum);
        printf("\nkernel time %.1f ms of %.1f ms wall for the profiled step\n", sum, wall);
        free(e);
    }
    glf_buf_release(x);
    glf_net_destroy(net);
    glf_ctx_destroy(ctx);
    free(h);
    return 0;
}
