/* `glf tune`: searches GEMM tile sets of glf's kernels and CLBlast's Xgemm
 * parameters for the chosen device, validates each against the reference,
 * stores the winners in the cache folder (keyed by device, driver and
 * platform); --show prints what is stored. */
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
    printf("glf %s: rm=%d vw=%d nv=%d lx=%d ly=%d\n", what, p->rm, p->vw, p->nv, p->lx, p->ly);
}

static int usage_(void)
{
    printf("usage: glf tune [--device SPEC] [--only glf|clblast] [--show] [--quick]\n\n"
           "Times GEMM parameter sets at GLF's shapes on the device, validating each\n"
           "against a host reference (odd shapes, all transposes, NaN-filled outputs,\n"
           "guard regions) before timing it, and stores the fastest in the cache folder\n"
           "(GLF_CACHE_DIR), keyed by device, driver and platform:\n"
           "  glf      tile sets of glf's own kernels (rows x vectors per work-item,\n"
           "           vector width, work-group shape); later runs on that device use\n"
           "           the stored set (validated again first);\n"
           "  clblast  CLBlast's Xgemm parameters (tiles, work-group, vector widths,\n"
           "           local memory), handed to CLBlast with CLBlastOverrideParameters;\n"
           "           `glf bench` compares them with CLBlast's defaults.\n"
           "Both by default (about 2 minutes on a 2-core CPU via PoCL).\n"
           "  --show   print the stored sets, change nothing\n"
           "  --quick  try 3 glf sets and 2 CLBlast sets on one small shape (for tests)\n");
    return 0;
}

int glf_cmd_tune(int argc, char **argv)
{
    const char *spec = NULL, *only = NULL;
    int show = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0 ||
            (r = cli_opt(argc, argv, &i, "--only", &only)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--show")) {
            show = 1;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            return usage_();
        } else {
            fprintf(stderr, "glf tune: unknown option '%s' (see glf tune --help)\n", argv[i]);
            return 2;
        }
    }
    if (only && strcmp(only, "glf") && strcmp(only, "clblast")) {
        fprintf(stderr, "glf tune: --only '%s', expected 'glf' or 'clblast'\n", only);
        return 2;
    }
    int do_glf = !only || !strcmp(only, "glf"), do_cb = !only || !strcmp(only, "clblast");
    glf_ctx *ctx = cli_open_device("tune", spec);
    if (!ctx)
        return 1;
    int rc = 0, found = 0;
    glf_gemm_params p;
    glf_clblast_params cb;
    char set[256];
    glf_status s;
    if (show) {
        if (do_glf) {
            if ((s = glf_gemm_tuned(ctx, &p, &found)) != GLF_OK)
                rc = cli_error("tune", s);
            else if (found)
                print_params_("tuned", &p);
            else {
                p = glf_gemm_default_params();
                print_params_("untuned, defaults", &p);
            }
        }
        if (do_cb && !rc) {
            if ((s = glf_clblast_tuned(ctx, &cb, &found)) != GLF_OK)
                rc = cli_error("tune", s);
            else if (found) {
                glf_clblast_format(&cb, set, sizeof set);
                printf("clblast tuned: %s\n", set);
            } else
                printf("clblast untuned: CLBlast's own defaults\n");
        }
    } else {
        glf_gemm_set_note(ctx, progress_, NULL);
        if (do_glf) {
            if ((s = glf_gemm_tune(ctx, quick, &p)) != GLF_OK)
                rc = cli_error("tune", s);
            else
                print_params_("tuned", &p);
        }
        if (do_cb && !rc) {
            if ((s = glf_clblast_tune(ctx, quick, &cb)) != GLF_OK)
                rc = cli_error("tune", s);
            else {
                glf_clblast_format(&cb, set, sizeof set);
                printf("clblast tuned: %s\n", set);
            }
        }
    }
    glf_ctx_destroy(ctx);
    return rc;
}
