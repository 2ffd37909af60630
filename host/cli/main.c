/* Entry point of the glf binary: dispatches to a subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "glf/dist.h"
#include "glf/status.h"

struct command_ {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
};

static const struct command_ commands_[] = {
    {"train", glf_cmd_train, "train a GLF model (progress, checkpoints, sample grids)"},
    {"sample", glf_cmd_sample, "draw samples from a checkpoint (.npy, .idx, PNGs, grid)"},
    {"reconstruct", glf_cmd_reconstruct, "test images beside their reconstructions (PNG grid)"},
    {"interpolate", glf_cmd_interpolate, "interpolate between test images in noise or latent space"},
    {"eval", glf_cmd_eval, "FID-clf, precision/recall, test recon and NLL of a model or samples"},
    {"classifier", glf_cmd_classifier, "train the feature classifier that glf eval measures in"},
    {"devices", glf_cmd_devices, "list OpenCL platforms and devices (--json, --device SPEC)"},
    {"check", glf_cmd_check, "GEMM self-check against a host reference, with GFLOP/s"},
    {"pack", glf_cmd_pack, "pack a data set into a .tar.zst archive with a hashed manifest"},
    {"data", glf_cmd_data, "data set tools: info FILE (manifest, hash check), roundtrip"},
    {"tune", glf_cmd_tune, "search GEMM parameters (glf's and CLBlast's) for a device (--show)"},
    {"bench", glf_cmd_bench, "peaks, GEMM, per-op and training-step speed of devices (--json)"},
};

static void usage_(FILE *f)
{
    fprintf(f,
            "usage: glf <command> [options]   (glf <command> --help for its options)\n\n"
            "Generative Latent Flow on OpenCL.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands_ / sizeof commands_[0]; i++)
        fprintf(f, "  %-12s %s\n", commands_[i].name, commands_[i].help);
    fprintf(f,
            "\nenvironment:\n"
            "  GLF_DEVICE      default device spec: N, P:N, cpu, gpu or a name substring\n"
            "  GLF_CACHE_DIR   kernel cache folder (default $XDG_CACHE_HOME/glf or ~/.cache/glf)\n"
            "  GLF_CACHE=off   disable the on-disk kernel cache\n"
            "  GLF_KERNEL_DIR  load cl/*.cl from this folder instead of the embedded copies\n"
            "  GLF_DATA_DIR    folder of data sets (GLF_DATA_DIR/<name> or the folder itself)\n"

            "  GLF_GEMM        GEMM backend: glf (own kernels, default) or clblast\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage_(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("glf 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands_ / sizeof commands_[0]; i++)
        if (!strcmp(argv[1], commands_[i].name)) {
            /* Only training runs on several ranks; N copies of another
             * command would write the same files at once. */
            int ranks = glf_dist_env_size();
            if (ranks > 1 && strcmp(argv[1], "train") != 0) {
                fprintf(stderr, "glf %s: launched as one of %d ranks, but only glf train runs "
                        "on several; run glf %s as one process\n", argv[1], ranks, argv[1]);
                return 2;
            }
            return commands_[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "glf: unknown command '%s'\n\n", argv[1]);
    usage_(stderr);
    return 2;
}
