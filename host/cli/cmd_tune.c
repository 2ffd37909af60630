/* `glf tune`: searches GEMM tile sets of glf's kernels, CLBlast's Xgemm
 * parameters and the convolutions' im2col variants for the chosen device,
 * validates each against the reference,
 * stores the winners in the cache folder (keyed by device, driver and
 * platform); --show prints what is stored. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "glf/bench.h"
#include "glf/gemm.h"
#include "glf/ops_conv.h"
#include "glf/tune.h"

static void progress_(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "%s\n", line);
}

static void print_params_(const char *what, const glf_gemm_params *p)
{
    char set[128];
    glf_gemm_params_format(p, set, sizeof set);
    printf("glf %s: %s\n", what, set);
}

static void print_conv_(const char *what, const int use[2])
{
    printf("conv %s: taps=%s pixels=%s\n", what, glf_conv_im2col_word(use[0]),
           glf_conv_im2col_word(use[1]));
}

static int usage_(void)
{
    printf("usage: glf tune [--device SPEC] [--only glf|clblast|conv] [--show] [--quick]\n"
           "                [--both-families]\n\n"
           "Times kernel variants at GLF's shapes on the device, validating each against\n"
           "a host reference (odd shapes, NaN-filled outputs, guard regions) before\n"
           "timing it, and stores the fastest in the cache folder (GLF_CACHE_DIR),\n"
           "keyed by device, driver and platform; later runs on that device use them:\n"
           "  glf      tile sets of glf's own GEMM kernels in the device's kernel family\n"
           "           (glf devices: cpu, rows x vectors per work-item; simt, the tile of\n"
           "           a work-group, its work-items' blocks, the steps of k in local\n"
           "           memory): all timed on GLF's GEMM shapes, then the default and the\n"
           "           three fastest on training steps (batch 256), where the default\n"
           "           stays unless another is 3%% faster; validated again before first\n"
           "           use; --both-families also tries the other family's sets;\n"
           "  clblast  CLBlast's Xgemm parameters (tiles, work-group, vector widths,\n"
           "           local memory), handed to CLBlast with CLBlastOverrideParameters;\n"
           "           `glf bench` compares them with CLBlast's defaults;\n"
           "  conv     per orientation of the convolutions' im2col operand, a\n"
           "           materialised column matrix or the implicit one packed straight\n"
           "           from the image: 'taps' (Conv2d forward, ConvTranspose2d input\n"
           "           gradient) and 'pixels' (weight gradients); the four combinations\n"
           "           timed over GLF's convolutions, forward and backward, after the\n"
           "           glf tile set is chosen; the default (both materialised) stays\n"
           "           unless another is 3%% faster.\n"
           "All three by default (about 3 minutes on a 2-core CPU via PoCL).\n"
           "  --show   print the stored choices, change nothing\n"
           "  --quick  few candidates on small shapes (for tests)\n");
    return 0;
}

int glf_cmd_tune(int argc, char **argv)
{
    const char *spec = NULL, *only = NULL;
    int show = 0, quick = 0, both = 0;
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
        } else if (!strcmp(argv[i], "--both-families")) {
            both = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            return usage_();
        } else {
            fprintf(stderr, "glf tune: unknown option '%s' (see glf tune --help)\n", argv[i]);
            return 2;
        }
    }
    if (only && strcmp(only, "glf") && strcmp(only, "clblast") && strcmp(only, "conv")) {
        fprintf(stderr, "glf tune: --only '%s', expected 'glf', 'clblast' or 'conv'\n", only);
        return 2;
    }
    int do_glf = !only || !strcmp(only, "glf"), do_cb = !only || !strcmp(only, "clblast");
    int do_conv = !only || !strcmp(only, "conv");
    glf_ctx *ctx = cli_open_device("tune", spec);
    if (!ctx)
        return 1;
    int rc = 0, found = 0, use[2];
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
                p = glf_gemm_default_params_for(glf_ctx_family(ctx));
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
        if (do_conv && !rc) {
            if ((s = glf_conv_tuned(ctx, use, &found)) != GLF_OK)
                rc = cli_error("tune", s);
            else if (found)
                print_conv_("tuned", use);
            else {
                glf_conv_im2col_policy(ctx, use);
                print_conv_("untuned, defaults", use);
            }
        }
    } else {
        glf_gemm_set_note(ctx, progress_, NULL);
        if (do_glf) {
            if ((s = glf_tune_gemm_on_steps(ctx, quick, both, &p)) != GLF_OK)
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
        if (do_conv && !rc) {
            if ((s = glf_conv_tune(ctx, quick, use, progress_, NULL)) != GLF_OK)
                rc = cli_error("tune", s);
            else
                print_conv_(glf_gemm_takes(ctx, GLF_GEMM_IM2COL) ? "tuned" : "(CLBlast backend)", use);
        }
    }
    glf_ctx_destroy(ctx);
    return rc;
}
