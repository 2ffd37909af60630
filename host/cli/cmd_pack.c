/* `glf pack`: read a data set and write it as a glf data archive (tar +
 * zstd, manifest.json with a sha256 per member). Ctrl-C stops it cleanly:
 * the output is written to a temporary file and only renamed at the end. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "glf/data.h"
#include "glf/util.h"

static volatile sig_atomic_t interrupted_;

static void on_sigint_(int sig)
{
    (void)sig;
    interrupted_ = 1;
}

static int progress_(void *user, const char *member, size_t done, size_t total)
{
    (void)user, (void)member, (void)done, (void)total;
    return interrupted_ != 0;
}

int glf_cmd_pack(int argc, char **argv)
{
    glf_data_source src = {0};
    glf_pack_opts o = {0};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        long v;
        if ((r = cli_data_source(argc, argv, &i, &src)) != 0) {
            if (r < 0)
                return 2;
        } else if ((r = cli_opt(argc, argv, &i, "-o", &out)) != 0 ||
                   (r = cli_opt(argc, argv, &i, "--output", &out)) != 0) {
            if (r < 0)
                return 2;
        } else if ((r = cli_opt_long(argc, argv, &i, "--level", 1, 22, &v)) != 0) {
            if (r < 0)
                return 2;
            o.level = (int)v;
        } else if ((r = cli_opt_long(argc, argv, &i, "--chunk", 1, 10000000, &v)) != 0) {
            if (r < 0)
                return 2;
            o.chunk = (int)v;
        } else if ((r = cli_opt_long(argc, argv, &i, "--limit-train", 1, 1L << 40, &v)) != 0) {
            if (r < 0)
                return 2;
            o.limit_train = (size_t)v;
        } else if ((r = cli_opt_long(argc, argv, &i, "--limit-test", 1, 1L << 40, &v)) != 0) {
            if (r < 0)
                return 2;
            o.limit_test = (size_t)v;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: glf pack (--dataset NAME [DIR] | --data FILE) -o OUT.tar.zst\n"
                   "                [--level N] [--chunk N] [--limit-train N] [--limit-test N]\n\n"
                   "Writes a tar compressed with zstd: manifest.json (format version, name,\n"
                   "shape, classes, split counts, sha256 of every member), then per split and\n"
                   "chunk <split>/labels-K.u8 and <split>/images-K.u8 (uint8, NCHW).\n"
                   "  --level N        zstd level 1..22 (default 9; 19 is ~15x slower for ~2%% less)\n"
                   "  --chunk N        images per chunk member (default %d)\n"
                   "  --limit-train N  keep only the first N training images (also --limit-test)\n\n"
                   "%s", GLF_DATA_CHUNK_DEFAULT, cli_data_source_help);
            return 0;
        } else {
            fprintf(stderr, "glf pack: unknown option '%s' (see glf pack --help)\n", argv[i]);
            return 2;
        }
    }
    if (!out || (!src.name == !src.archive)) {
        fprintf(stderr, "glf pack: needs -o OUT and one of --dataset NAME [DIR] or --data FILE "
                        "(see glf pack --help)\n");
        return 2;
    }
    signal(SIGINT, on_sigint_);
    signal(SIGTERM, on_sigint_);
    o.progress = progress_;
    double t0 = glf_now();
    glf_status s = glf_pack(&src, out, &o);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (s != GLF_OK)
        return cli_error("pack", s);
    glf_archive_info info;
    s = glf_archive_info_read(out, 0, &info);
    if (s != GLF_OK)
        return cli_error("pack", s);
    fprintf(stderr, "glf pack: wrote %s: %s, train %zu + test %zu images of %dx%dx%d, %zu members, "
            "%.1f s\n", out, info.name, info.count[0], info.count[1], info.channels, info.height,
            info.width, info.members, glf_now() - t0);
    glf_archive_info_free(&info);
    return 0;
}
