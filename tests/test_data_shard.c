/* Batches in parts for data parallelism (glf_batcher_shard): for 1, 2 and
 * 3 parts, in memory and streamed, the parts of every batch put together
 * are the batch of an unsharded batcher, image for image and label for
 * label, across epochs and after a seek; a batch that does not divide and
 * a batcher keeping its last partial batch are refused with the numbers. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "glf/data.h"

/* Draws `steps` batches of `count` images from bat: floats at x, labels at lab. */
static void draw_(glf_ctx *ctx, glf_batcher *bat, int count, size_t ib, int steps, float *x,
                  int *lab, int *epoch, int *step)
{
    cl_mem out = tu_buf_nan(ctx, (size_t)count * ib);
    for (int s = 0; s < steps; s++) {
        TU_OK(glf_batcher_next(bat, glf_dp(out, 0), lab + (size_t)s * count, &epoch[s],
                               &step[s]));
        assert_int_equal(glf_batcher_batch_images(bat, step[s]), count);
        float *y = tu_read(ctx, out, (size_t)count * ib);
        memcpy(x + (size_t)s * count * ib, y, (size_t)count * ib * sizeof *y);
        free(y);
    }
    tu_check_guard(ctx, out, (size_t)count * ib, "shard batch");
    glf_buf_release(out);
}

static void parts_match_(glf_ctx *ctx, const glf_dataset *d, int B, int seek_epoch,
                         int seek_step)
{
    size_t ib = (size_t)d->channels * d->height * d->width;
    const int steps = 7; /* crosses an epoch end for the small sets */
    float *whole = malloc((size_t)steps * B * ib * sizeof *whole);
    int *wl = malloc((size_t)steps * B * sizeof *wl), we[7], ws[7];
    glf_batcher *b;
    TU_OK(glf_batcher_create(ctx, d, B, 77, 1, 1, &b));
    TU_OK(glf_batcher_seek(b, seek_epoch, seek_step));
    draw_(ctx, b, B, ib, steps, whole, wl, we, ws);
    glf_batcher_destroy(b);
    for (int parts = 1; parts <= 3; parts++) {
        int Bp = B / parts;
        float *x = malloc((size_t)steps * Bp * ib * sizeof *x);
        int *l = malloc((size_t)steps * Bp * sizeof *l), e[7], st[7];
        for (int part = 0; part < parts; part++) {
            TU_OK(glf_batcher_create(ctx, d, B, 77, 1, 1, &b));
            TU_OK(glf_batcher_shard(b, part, parts));
            TU_OK(glf_batcher_seek(b, seek_epoch, seek_step));
            draw_(ctx, b, Bp, ib, steps, x, l, e, st);
            glf_batcher_destroy(b);
            for (int s = 0; s < steps; s++) {
                assert_int_equal(e[s], we[s]);
                assert_int_equal(st[s], ws[s]);
                const float *want = whole + ((size_t)s * B + (size_t)part * Bp) * ib;
                assert_memory_equal(x + (size_t)s * Bp * ib, want, (size_t)Bp * ib * sizeof *x);
                assert_memory_equal(l + (size_t)s * Bp, wl + (size_t)s * B + (size_t)part * Bp,
                                    (size_t)Bp * sizeof *l);
            }
        }
        free(x), free(l);
    }
    free(whole), free(wl);
}

static void test_parts_are_the_batch(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const char *sample = tu_src_path("data/fashion-mnist-sample.tar.zst");
    glf_data_source mem = {.archive = sample};
    glf_data_source st = {.archive = sample, .max_memory = 1 << 20};
    glf_dataset dm, ds;
    TU_OK(glf_dataset_load(&mem, "test", &dm)); /* 500 images */
    TU_OK(glf_dataset_load(&st, "train", &ds)); /* 2,000 images: more than 1 MiB */
    assert_true(ds.streamed);
    parts_match_(ctx, &dm, 96, 0, 0); /* 5 steps an epoch: into epoch 2 */
    parts_match_(ctx, &dm, 12, 3, 40);
    parts_match_(ctx, &ds, 96, 0, 0);
    parts_match_(ctx, &ds, 288, 1, 3); /* 6 steps an epoch: a seek inside one, into the next */
    glf_dataset_free(&dm);
    glf_dataset_free(&ds);
    glf_ctx_destroy(ctx);
}

static void test_bad_parts(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    glf_data_source mem = {.archive = tu_src_path("data/fashion-mnist-sample.tar.zst")};
    glf_dataset d;
    TU_OK(glf_dataset_load(&mem, "test", &d));
    glf_batcher *b;
    TU_OK(glf_batcher_create(ctx, &d, 16, 1, 1, 1, &b));
    tu_expect_status(glf_batcher_shard(b, 0, 3), GLF_ERR_INVALID_ARG,
                     "batch 16 does not divide evenly into 3 parts", "(16 = 3 x 5 + 1)");
    tu_expect_status(glf_batcher_shard(b, 3, 3), GLF_ERR_INVALID_ARG, "part 3 of 3", NULL);
    tu_expect_status(glf_batcher_shard(b, 0, 0), GLF_ERR_INVALID_ARG, "part 0 of 0", NULL);
    glf_batcher_destroy(b);
    TU_OK(glf_batcher_create(ctx, &d, 16, 1, 0, 1, &b));
    tu_expect_status(glf_batcher_shard(b, 1, 2), GLF_ERR_INVALID_ARG,
                     "must drop the last partial batch", NULL);
    TU_OK(glf_batcher_shard(b, 0, 1)); /* one part: the batcher as it was */
    glf_batcher_destroy(b);
    glf_dataset_free(&d);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_are_the_batch),
        cmocka_unit_test(test_bad_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
