/* `glf check`: runs the GEMM self-check on the chosen device at a few
 * shapes (GLF's layer shapes included) and prints error and GFLOP/s. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "glf/util.h"

int glf_cmd_check(int argc, char **argv)
{
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: glf check [--device SPEC]\n\n"
                   "Multiplies random matrices with glf_gemm on the device, compares with a\n"
                   "double-precision host reference, and prints the error and GFLOP/s.\n");
            return 0;
        } else {
            fprintf(stderr, "glf check: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    glf_ctx *ctx = cli_open_device("check", spec);
    if (!ctx)
        return 1;
    const size_t shapes[][3] = {{7, 13, 5}, {255, 257, 129}, {256, 512, 784}, {256, 1024, 6272}};
    int rc = 0;
    printf("%-18s %12s %10s %10s\n", "M x N x K", "max rel err", "ms", "GFLOP/s");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        glf_gemm_check c;
        glf_status s = glf_gemm_selfcheck(ctx, shapes[i][0], shapes[i][1], shapes[i][2], 3, &c);
        if (s != GLF_OK) {
            rc = cli_error("check", s);
            break;
        }
        char shape[64];
        snprintf(shape, sizeof shape, "%zux%zux%zu", c.M, c.N, c.K);
        printf("%-18s %12.2e %10.3f %10.2f\n", shape, c.max_rel_err, c.seconds * 1e3, c.gflops);
    }
    if (rc == 0)
        printf("GEMM self-check passed\n");
    glf_ctx_destroy(ctx);
    return rc;
}
