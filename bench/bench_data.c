/* Data pipeline throughput: reading Fashion-MNIST from gzip IDX, raw IDX
 * and a glf archive (held in memory, and streamed), then the batch pipeline
 * alone (shuffle + gather on a thread, byte upload, u8->f32 kernel).
 * Usage: bench_data [DIR (default /usr/share/datasets/fashion-mnist)]
 *                   [BATCH (256)] [STEPS (500)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glf/data.h"
#include "glf/util.h"

#define CHECK_(expr)                                                                  \
    do {                                                                              \
        glf_status s_ = (expr);                                                       \
        if (s_ != GLF_OK) {                                                           \
            fprintf(stderr, "bench_data: %s: %s\n", #expr, glf_last_error());         \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static void report_(const char *what, size_t images, size_t bytes, double s)
{
    printf("%-48s %9.0f images/s %8.1f MB/s  (%.3f s)\n", what, (double)images / s,
           (double)bytes / s / 1e6, s);
}

/* Best of 3 loads of the train split. */
static void time_load_(const char *what, const glf_data_source *src)
{
    double best = 1e30;
    size_t n = 0, bytes = 0;
    for (int r = 0; r < 3; r++) {
        glf_dataset d;
        double t0 = glf_now();
        CHECK_(glf_dataset_load(src, "train", &d));
        double t = glf_now() - t0;
        best = t < best ? t : best;
        n = d.n;
        bytes = d.n * (size_t)d.channels * d.height * d.width;
        glf_dataset_free(&d);
    }
    report_(what, n, bytes, best);
}

static int count_(void *user, const uint8_t *img, const uint8_t *lab, size_t cnt)
{
    (void)img, (void)lab;
    *(size_t *)user += cnt;
    return 0;
}

static void write_raw_(const char *from, const char *to)
{
    uint8_t *b;
    size_t n;
    CHECK_(glf_read_decompressed(from, from, NULL, 0, &b, &n));
    FILE *f = fopen(to, "wb");
    if (!f || fwrite(b, 1, n, f) != n) {
        fprintf(stderr, "bench_data: cannot write %s\n", to);
        exit(1);
    }
    fclose(f);
    free(b);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    int batch = argc > 2 ? atoi(argv[2]) : 256;
    int steps = argc > 3 ? atoi(argv[3]) : 500;
    char tmp[] = "/tmp/glf-bench-data-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    printf("data: %s (train split), batch %d, %d steps\n", dir, batch, steps);

    glf_data_source gz = {.name = "fashion-mnist", .dir = dir};
    time_load_("gzip IDX (libarchive raw + gzip filter)", &gz);

    char a[4200], b[4200];
    const char *names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int k = 0; k < 4; k++) {
        snprintf(a, sizeof a, "%s/%s.gz", dir, names[k]);
        snprintf(b, sizeof b, "%s/%s", tmp, names[k]);
        write_raw_(a, b);
    }
    glf_data_source raw = {.name = "fashion-mnist", .dir = tmp};
    time_load_("raw IDX", &raw);

    char arch[4200];
    snprintf(arch, sizeof arch, "%s/fm.tar.zst", tmp);
    glf_pack_opts po = {.level = 9};
    double t0 = glf_now();
    CHECK_(glf_pack(&gz, arch, &po));
    printf("%-48s %.2f s\n", "glf pack (level 9, train + test)", glf_now() - t0);
    glf_data_source ar = {.archive = arch};
    time_load_("archive, whole split in memory (hashes checked)", &ar);
    double best = 1e30;
    size_t n = 0;
    for (int r = 0; r < 3; r++) {
        n = 0;
        t0 = glf_now();
        CHECK_(glf_archive_stream(arch, "train", count_, &n));
        double t = glf_now() - t0;
        best = t < best ? t : best;
    }
    report_("archive, streamed chunk by chunk", n, n * 784, best);

    /* The batch pipeline alone: in memory, shuffled, to the device. */
    glf_ctx *ctx;
    CHECK_(glf_ctx_create(NULL, &ctx));
    char line[1024];
    glf_ctx_describe(ctx, line, sizeof line);
    printf("device: %s\n", line);
    glf_dataset d;
    CHECK_(glf_dataset_load(&ar, "train", &d));
    size_t ib = (size_t)d.channels * d.height * d.width;
    cl_mem out;
    CHECK_(glf_buf_create(ctx, (size_t)batch * ib * sizeof(float), &out));
    for (int streamed = 0; streamed < 2; streamed++) {
        glf_dataset ds = d;
        if (streamed) {
            glf_data_source sm = {.archive = arch, .max_memory = 16u << 20};
            CHECK_(glf_dataset_load(&sm, "train", &ds));
        }
        glf_batcher *bt;
        CHECK_(glf_batcher_create(ctx, &ds, batch, 123, 1, 1, &bt));
        int ep, st;
        CHECK_(glf_batcher_next(bt, glf_dp(out, 0), NULL, &ep, &st)); /* warm-up: kernel build */
        CHECK_(glf_finish(ctx));
        t0 = glf_now();
        for (int k = 0; k < steps; k++)
            CHECK_(glf_batcher_next(bt, glf_dp(out, 0), NULL, &ep, &st));
        CHECK_(glf_finish(ctx));
        double t = glf_now() - t0;
        report_(streamed ? "batches, streamed (--max-memory 16M)" : "batches, in memory",
                (size_t)steps * batch, (size_t)steps * batch * ib, t);
        printf("%-48s %9.1f us per batch of %d (%.1f MB/s as floats)\n", "", t / steps * 1e6,
               batch, (double)steps * batch * ib * 4 / t / 1e6);
        glf_batcher_destroy(bt);
        if (streamed)
            glf_dataset_free(&ds);
    }
    glf_dataset_free(&d);
    glf_buf_release(out);
    glf_ctx_destroy(ctx);
    for (int k = 0; k < 4; k++) {
        snprintf(b, sizeof b, "%s/%s", tmp, names[k]);
        unlink(b);
    }
    unlink(arch);
    rmdir(tmp);
    return 0;
}
