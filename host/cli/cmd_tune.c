/* `glf tune`: searches GEMM tile sets for the chosen device, validates each
 * against the reference, stores the winner in the cache folder (keyed by
 * device, driver and platform); --show prints what is stored. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "glf/gemm.h"

static void progress_(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "%s\n", line);
}

static void print_params_(const char *what, const glf_gemm_params *p)
{
    printf("%s: rm=%d vw=%d nv=%d lx=%d ly=%d\n", what, p->rm, p->vw, p->nv, p->lx, p->ly);
}

int glf_cmd_tune(int argc, char **argv)
{
    const char *spec = NULL;
    int show = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--show")) {
            show = 1;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: glf tune [--device SPEC] [--show] [--quick]\n\n"
                   "Times GEMM tile sets of glf's kernels at GLF's shapes on the device,\n"
                   "validating each against a host reference first, and stores the fastest in\n"
                   "the cache folder (GLF_CACHE_DIR), keyed by device, driver and platform;\n"
                   "later runs on that device use it. --show prints the stored set;\n"
                   "--quick tries 3 sets on one small shape (for tests).\n");
            return 0;
        } else {
            fprintf(stderr, "glf tune: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    glf_ctx *ctx = cli_open_device("tune", spec);
    if (!ctx)
        return 1;
    int rc = 0, found = 0;
    glf_gemm_params p;
    glf_status s;
    if (show) {
        if ((s = glf_gemm_tuned(ctx, &p, &found)) != GLF_OK)
            rc = cli_error("tune", s);
        else if (found)
            print_params_("tuned", &p);
        else {
            p = glf_gemm_default_params();
            print_params_("untuned, defaults", &p);
        }
    } else {
        glf_gemm_set_note(ctx, progress_, NULL);
        if ((s = glf_gemm_tune(ctx, quick, &p)) != GLF_OK)
            rc = cli_error("tune", s);
        else
            print_params_("tuned", &p);
    }
    glf_ctx_destroy(ctx);
    return rc;
}
