/* `glf data`: data set tools. `glf data info FILE` prints an archive's
 * manifest summary after checking every member's hash (--json: the manifest
 * itself); `glf data info --dataset NAME [DIR]` loads a data set and
 * prints its shape and counts; `glf data roundtrip` checks pack + read
 * back is bit-exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "glf/data.h"
#include "glf/util.h"

static int info_source_(const glf_data_source *src)
{
    for (int k = 0; k < 2; k++) {
        const char *split = k ? "test" : "train";
        glf_dataset d;
        double t0 = glf_now();
        glf_status s = glf_dataset_load(src, split, &d);
        if (s != GLF_OK)
            return cli_error("data info", s);
        printf("%-6s %s: %zu images of %dx%dx%d, %d classes%s, sha256 %s (%.2f s)\n", split,
               d.name, d.n, d.channels, d.height, d.width, d.classes,
               d.streamed ? " (streamed)" : "", d.manifest_sha256, glf_now() - t0);
        glf_dataset_free(&d);
    }
    return 0;
}

static int info_(int argc, char **argv)
{
    glf_data_source src = {0};
    const char *file = NULL;
    int json = 0, verify = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_data_source(argc, argv, &i, &src)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--no-verify")) {
            verify = 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: glf data info FILE.tar.zst [--json] [--no-verify]\n"
                   "       glf data info --dataset NAME [DIR]\n\n"
                   "Prints an archive's manifest (name, shape, classes, split counts, chunk\n"
                   "size, manifest sha256) after reading every member and checking its\n"
                   "sha256 (--no-verify: manifest only; --json: the manifest itself).\n");
            return 0;
        } else if (argv[i][0] != '-' && !file) {
            file = argv[i];
        } else {
            fprintf(stderr, "glf data info: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file && !src.archive && !src.name) {
        fprintf(stderr, "glf data info: needs FILE, --data FILE or --dataset NAME [DIR]\n");
        return 2;
    }
    if (!file && src.archive)
        file = src.archive;
    if (!file)
        return info_source_(&src);
    glf_archive_info info;
    double t0 = glf_now();
    glf_status s = glf_archive_info_read(file, verify, &info);
    if (s != GLF_OK)
        return cli_error("data info", s);
    double dt = glf_now() - t0;
    if (json) {
        fputs(info.manifest, stdout);
    } else {
        printf("file        %s\n", file);
        printf("data set    %s (archive format version %d)\n", info.name, info.version);
        printf("images      %dx%dx%d (C x H x W), uint8 NCHW\n", info.channels, info.height,
               info.width);
        printf("classes     %d%s\n", info.classes, info.labelled ? "" : " (unlabelled)");
        printf("train       %zu images\n", info.count[0]);
        printf("test        %zu images\n", info.count[1]);
        printf("chunks      %d images per member, %zu members, %.1f MB uncompressed\n",
               info.chunk, info.members, (double)info.bytes / 1e6);
        printf("manifest    sha256 %s\n", info.manifest_sha256);
        printf("hashes      %s (%.2f s)\n",
               verify ? "every member's sha256 verified" : "not verified (--no-verify)", dt);
    }
    glf_archive_info_free(&info);
    return 0;
}

/* Pack a source to a temporary archive, read it back and compare every
 * image and label byte with the source (the README's by-hand round trip). */
static int roundtrip_(int argc, char **argv)
{
    glf_data_source src = {0};
    glf_pack_opts o = {0};
    for (int i = 1; i < argc; i++) {
        int r;
        long v;
        if ((r = cli_data_source(argc, argv, &i, &src)) != 0) {
            if (r < 0)
                return 2;
        } else if ((r = cli_opt_long(argc, argv, &i, "--level", 1, 22, &v)) != 0) {
            if (r < 0)
                return 2;
            o.level = (int)v;
        } else {
            fprintf(stderr, "usage: glf data roundtrip --dataset NAME [DIR] [--level N]\n");
            return 2;
        }
    }
    if (!src.name == !src.archive) {
        fprintf(stderr, "usage: glf data roundtrip --dataset NAME [DIR] [--level N]\n");
        return 2;
    }
    char tmp[] = "/tmp/glf-roundtrip-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        perror("glf data roundtrip: mkstemp");
        return 1;
    }
    close(fd);
    double t0 = glf_now();
    glf_status s = glf_pack(&src, tmp, &o);
    double tp = glf_now() - t0;
    int bad = 0;
    for (int k = 0; k < 2 && s == GLF_OK; k++) {
        const char *split = k ? "test" : "train";
        glf_dataset a, b;
        glf_data_source ar = {.archive = tmp};
        if ((s = glf_dataset_load(&src, split, &a)) != GLF_OK)
            break;
        t0 = glf_now();
        if ((s = glf_dataset_load(&ar, split, &b)) != GLF_OK) {
            glf_dataset_free(&a);
            break;
        }
        double tr = glf_now() - t0;
        size_t bytes = a.n * (size_t)a.channels * a.height * a.width;
        int same = a.n == b.n && !memcmp(a.images, b.images, bytes) &&
                   (!a.labels || (b.labels && !memcmp(a.labels, b.labels, a.n)));
        bad |= !same;
        printf("%-5s %zu images, %zu image bytes + %zu label bytes: %s (read back in %.2f s)\n",
               split, a.n, bytes, a.labels ? a.n : 0, same ? "bit-identical" : "DIFFERENT", tr);
        glf_dataset_free(&a);
        glf_dataset_free(&b);
    }
    unlink(tmp);
    if (s != GLF_OK)
        return cli_error("data roundtrip", s);
    printf("packed in %.2f s; round trip %s\n", tp, bad ? "FAILED" : "bit-exact");
    return bad ? 1 : 0;
}

int glf_cmd_data(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "info"))
        return info_(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "roundtrip"))
        return roundtrip_(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: glf data info FILE.tar.zst [--json] [--no-verify]\n"
               "       glf data info --dataset NAME [DIR]\n"
               "       glf data roundtrip --dataset NAME [DIR] [--level N]\n"
               "         (pack to a temporary archive, read back, compare every byte)\n");
        return 0;
    }
    fprintf(stderr, "glf data: expected a subcommand: info or roundtrip (see glf data --help)\n");
    return 2;
}
