/* `glf bench`: the benchmark of include/glf/bench.h on one device or all,
 * a markdown report on stdout, JSON to a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "glf/bench.h"

static void progress_(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "%s\n", line);
}

static int usage_(void)
{
    printf("usage: glf bench [--device SPEC | --all-devices] [--json OUT] [--batch N]\n"
           "                 [--steps N] [--reps N] [--quick]\n\n"
           "Measures, per device:\n"
           "  1. FMA throughput (independent float16 FMA chains) and stream-copy bandwidth:\n"
           "     the device's peaks, the denominators of every \"%% of peak\"; measured\n"
           "     before and after the rest, and the higher of the two is used (a shared\n"
           "     machine's speed drifts);\n"
           "  2. GEMM at GLF's layer shapes through CLBlast with its default parameters,\n"
           "     CLBlast with the set `glf tune` stored for the device (if any), and\n"
           "     glf's own kernels (medians of --reps, alternated call by call);\n"
           "  3. each op's forward and backward device time within a training step\n"
           "     (OpenCL profiling events), as GFLOP/s or GB/s and %% of peak;\n"
           "  4. the full training step (28x28 model, random data) in images/s.\n"
           "A markdown report goes to stdout (with --all-devices one table, a column per\n"
           "device); --json writes every figure to OUT. Progress goes to stderr.\n\n"
           "  --batch N   training batch (256)      --steps N  timed steps (5)\n"
           "  --reps N    GEMM repetitions (5)      --quick    tiny sizes, for tests\n"
           "Takes 1-3 minutes on a 2-core CPU via PoCL (CLBlast's first calls compile).\n"
           "CLBlast cannot return to its defaults once a tuned set is applied, so the\n"
           "default column is measured first.\n");
    return 0;
}

int glf_cmd_bench(int argc, char **argv)
{
    const char *spec = NULL, *json = NULL;
    int all = 0;
    long batch = 256, steps = 5, reps = 5;
    glf_bench_opts o = glf_bench_defaults();
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0 ||
            (r = cli_opt(argc, argv, &i, "--json", &json)) != 0 ||
            (r = cli_opt_long(argc, argv, &i, "--batch", 1, 4096, &batch)) != 0 ||
            (r = cli_opt_long(argc, argv, &i, "--steps", 1, 1000, &steps)) != 0 ||
            (r = cli_opt_long(argc, argv, &i, "--reps", 1, 1000, &reps)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--all-devices")) {
            all = 1;
        } else if (!strcmp(argv[i], "--quick")) {
            o.quick = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            return usage_();
        } else {
            fprintf(stderr, "glf bench: unknown option '%s' (see glf bench --help)\n", argv[i]);
            return 2;
        }
    }
    if (all && spec) {
        fprintf(stderr, "glf bench: --device and --all-devices exclude each other\n");
        return 2;
    }
    o.batch = (int)batch, o.steps = (int)steps, o.reps = (int)reps;
    o.progress = progress_;
    int ndev = 1;
    glf_device_info *devs = NULL;
    if (all) {
        glf_status s = glf_devices_list(&devs, &ndev);
        if (s)
            return cli_error("bench", s);
    }
    glf_bench_result *res = calloc((size_t)(ndev ? ndev : 1), sizeof *res);
    if (!res) {
        free(devs);
        fprintf(stderr, "glf bench: out of memory\n");
        return 1;
    }
    /* With --all-devices a device that fails is reported and skipped: the
     * table holds the others, the exit status says something failed. */
    int rc = 0, done = 0;
    for (int d = 0; d < ndev; d++) {
        char idx[16];
        if (all)
            snprintf(idx, sizeof idx, "%d", devs[d].index);
        glf_ctx *ctx = cli_open_device("bench", all ? idx : spec);
        if (!ctx) {
            rc = 1;
            continue;
        }
        glf_status s = glf_bench_run(ctx, &o, &res[done]);
        glf_ctx_destroy(ctx);
        if (s)
            rc = cli_error("bench", s);
        else
            done++;
    }
    if (done) {
        glf_bench_markdown(stdout, res, done);
        if (json) {
            glf_status s = glf_bench_json(json, res, done);
            if (s)
                rc = cli_error("bench", s);
        }
    }
    free(res);
    free(devs);
    return rc;
}
