/* The device side of the data pipeline: the u8 -> f32 kernel against the
 * reference (bit-exact to x / 255.0f, odd sizes and offsets, NaN pre-fill,
 * guard), and the batcher: every epoch a permutation equal to the reference
 * order, drop_last and short last batches, labels, exact seek/resume,
 * identical bits across runs, and the streamed (shuffle-buffer) path. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "glf/data.h"
#include "ref_data.h"

static cl_mem bytes_buf_(glf_ctx *ctx, const uint8_t *x, size_t n)
{
    cl_mem b;
    TU_OK(glf_buf_create(ctx, n ? n : 1, &b));
    if (n)
        TU_OK(glf_buf_write(ctx, b, 0, n, x));
    return b;
}

static void test_u8_to_f32(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const size_t sizes[] = {1, 3, 256, 1031, 4099};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t xoff = 0; xoff < 6; xoff += 5)
            for (size_t yoff = 0; yoff < 8; yoff += 7) {
                size_t n = sizes[si];
                uint8_t *x = malloc(xoff + n);
                for (size_t i = 0; i < xoff + n; i++)
                    x[i] = (uint8_t)(i * 37 + si);
                cl_mem dx = bytes_buf_(ctx, x, xoff + n);
                cl_mem dy = tu_buf_nan(ctx, yoff + n);
                TU_OK(glf_u8_to_f32(ctx, glf_dp(dy, yoff), dx, xoff, n));
                float *y = tu_read(ctx, dy, yoff + n);
                double *want = malloc(n * sizeof *want);
                ref_u8_to_f32(x + xoff, n, want);
                char what[96];
                snprintf(what, sizeof what, "u8_to_f32 n %zu xoff %zu yoff %zu", n, xoff, yoff);
                assert_int_equal(tu_compare(what, y + yoff, want, n, 0, 1e-7), 0);
                for (size_t i = 0; i < n; i++) {
                    float exact = (float)x[xoff + i] / 255.0f; /* PyTorch's x.float() / 255 */
                    assert_memory_equal(&y[yoff + i], &exact, sizeof exact);
                }
                for (size_t i = 0; i < yoff; i++) /* before the offset: untouched */
                    assert_true(isnan(y[i]));
                tu_check_guard(ctx, dy, yoff + n, what);
                free(x), free(y), free(want);
                glf_buf_release(dx), glf_buf_release(dy);
            }
    glf_ctx_destroy(ctx);
}

/* n synthetic images 1x3x5: pixel 0 = index, label = index % 10. */
static glf_dataset synth_(size_t n)
{
    glf_dataset d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "synthetic");
    d.channels = 1, d.height = 3, d.width = 5, d.classes = 10, d.labelled = 1;
    d.n = n;
    d.images = malloc(n * 15);
    d.labels = malloc(n);
    for (size_t i = 0; i < n; i++) {
        d.images[i * 15] = (uint8_t)i;
        for (int j = 1; j < 15; j++)
            d.images[i * 15 + j] = (uint8_t)(i * 13 + j * 7);
        d.labels[i] = (uint8_t)(i % 10);
    }
    return d;
}

/* One batch as bytes (round(x * 255)), after checking the floats are k/255. */
static void next_bytes_(glf_ctx *ctx, glf_batcher *b, cl_mem out, size_t B, size_t ib,
                        uint8_t *bytes, int *labels, int *epoch, int *step, int *count)
{
    TU_OK(glf_buf_fill_f32(ctx, out, 0, B * ib, tu_sentinel()));
    TU_OK(glf_batcher_next(b, glf_dp(out, 0), labels, epoch, step));
    *count = glf_batcher_batch_images(b, *step);
    float *y = tu_read(ctx, out, B * ib);
    for (size_t i = 0; i < (size_t)*count * ib; i++) {
        float r = rintf(y[i] * 255.0f);
        assert_true(r >= 0 && r <= 255);
        bytes[i] = (uint8_t)r;
        float exact = (float)bytes[i] / 255.0f;
        assert_memory_equal(&y[i], &exact, sizeof exact);
    }
    for (size_t i = (size_t)*count * ib; i < B * ib; i++) /* short batch: rest untouched */
        assert_true(isnan(y[i]));
    tu_check_guard(ctx, out, B * ib, "batch");
    free(y);
}

static void test_batcher_order(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const size_t n = 37, ib = 15;
    glf_dataset d = synth_(n);
    const int batches[] = {1, 3, 8};
    uint32_t perm[37];
    for (int bi = 0; bi < 3; bi++)
        for (int drop = 0; drop < 2; drop++)
            for (int shuf = 0; shuf < 2; shuf++) {
                int B = batches[bi];
                glf_batcher *b;
                TU_OK(glf_batcher_create(ctx, &d, B, 123, drop, shuf, &b));
                int steps = glf_batcher_steps_per_epoch(b);
                assert_int_equal(steps, drop ? (int)n / B : ((int)n + B - 1) / B);
                cl_mem out = tu_buf_nan(ctx, (size_t)B * ib);
                uint8_t *bytes = malloc((size_t)B * ib);
                int *labels = malloc((size_t)B * sizeof(int));
                uint32_t first0 = 0;
                for (int e = 0; e < 3; e++) {
                    ref_epoch_order(n, 123, e, shuf, perm);
                    for (int s = 0; s < steps; s++) {
                        int ge, gs, cnt;
                        next_bytes_(ctx, b, out, (size_t)B, ib, bytes, labels, &ge, &gs, &cnt);
                        assert_int_equal(ge, e);
                        assert_int_equal(gs, s);
                        assert_int_equal(cnt, (s < steps - 1 || drop) ? B
                                                                       : (int)n - (steps - 1) * B);
                        for (int i = 0; i < cnt; i++) {
                            uint32_t id = perm[s * B + i];
                            assert_memory_equal(bytes + (size_t)i * ib, d.images + id * ib, ib);
                            assert_int_equal(labels[i], d.labels[id]);
                        }
                    }
                    if (e == 0)
                        first0 = perm[0] | perm[1] << 8 | perm[2] << 16;
                    else if (shuf) /* epochs differ */
                        assert_true(first0 != (perm[0] | perm[1] << 8 | perm[2] << 16) || e > 1);
                }
                free(bytes), free(labels);
                glf_buf_release(out);
                glf_batcher_destroy(b);
            }
    /* Shuffled epochs really are shuffled, and differ from each other. */
    uint32_t p0[37], p1[37];
    ref_epoch_order(n, 123, 0, 1, p0);
    ref_epoch_order(n, 123, 1, 1, p1);
    assert_memory_not_equal(p0, p1, sizeof p0);
    int fixed = 0;
    for (size_t i = 0; i < n; i++)
        fixed += p0[i] == i;
    assert_true(fixed < 10);
    glf_dataset_free(&d);
    glf_ctx_destroy(ctx);
}

/* All batches of `epochs` epochs as bytes, starting at (e0, s0). */
static uint8_t *run_(glf_ctx *ctx, glf_batcher *b, int B, size_t ib, int e0, int s0, int total)
{
    uint8_t *all = malloc((size_t)total * B * ib);
    int *labels = malloc((size_t)B * sizeof(int));
    cl_mem out = tu_buf_nan(ctx, (size_t)B * ib);
    TU_OK(glf_batcher_seek(b, e0, s0));
    int e = e0, s = s0, steps = glf_batcher_steps_per_epoch(b);
    for (int k = 0; k < total; k++) {
        int ge, gs, cnt;
        next_bytes_(ctx, b, out, (size_t)B, ib, all + (size_t)k * B * ib, labels, &ge, &gs, &cnt);
        assert_int_equal(ge, e);
        assert_int_equal(gs, s);
        if (++s == steps)
            s = 0, e++;
    }
    glf_buf_release(out);
    free(labels);
    return all;
}

static void test_batcher_seek_repeat(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    glf_dataset d = synth_(50);
    const int B = 7;
    const size_t bb = (size_t)B * 15;
    glf_batcher *a, *b, *c;
    TU_OK(glf_batcher_create(ctx, &d, B, 99, 1, 1, &a));
    TU_OK(glf_batcher_create(ctx, &d, B, 99, 1, 1, &b));
    TU_OK(glf_batcher_create(ctx, &d, B, 100, 1, 1, &c));
    int steps = glf_batcher_steps_per_epoch(a); /* 7 */
    uint8_t *ra = run_(ctx, a, B, 15, 0, 0, 3 * steps);
    uint8_t *rb = run_(ctx, b, B, 15, 0, 0, 3 * steps);
    uint8_t *rc = run_(ctx, c, B, 15, 0, 0, steps);
    assert_memory_equal(ra, rb, 3 * steps * bb);   /* same seed: same bytes */
    assert_memory_not_equal(ra, rc, steps * bb);   /* another seed: another order */
    /* Exact resume: (1, 4) onwards equals the sequential run from there. */
    uint8_t *rs = run_(ctx, b, B, 15, 1, 4, 5);
    assert_memory_equal(rs, ra + (size_t)(steps + 4) * bb, 5 * bb);
    free(rs);
    rs = run_(ctx, b, B, 15, 0, 0, 2); /* and back */
    assert_memory_equal(rs, ra, 2 * bb);
    /* Bad arguments. */
    assert_int_equal(glf_batcher_seek(a, 0, steps), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_batcher_seek(a, -1, 0), GLF_ERR_INVALID_ARG);
    glf_batcher *x;
    assert_int_equal(glf_batcher_create(ctx, &d, 51, 1, 1, 1, &x), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "fewer than one batch"));
    TU_OK(glf_batcher_create(ctx, &d, 51, 1, 0, 1, &x)); /* without drop_last: one short batch */
    assert_int_equal(glf_batcher_steps_per_epoch(x), 1);
    assert_int_equal(glf_batcher_batch_images(x, 0), 50);
    glf_batcher_destroy(x);
    free(ra), free(rb), free(rc), free(rs);
    glf_batcher_destroy(a), glf_batcher_destroy(b), glf_batcher_destroy(c);
    glf_dataset_free(&d);
    glf_ctx_destroy(ctx);
}

static const uint8_t *sorted_base_;
static size_t sorted_ib_;
static int cmp_img_(const void *a, const void *b)
{
    return memcmp(sorted_base_ + *(const uint32_t *)a * sorted_ib_,
                  sorted_base_ + *(const uint32_t *)b * sorted_ib_, sorted_ib_);
}

static void test_batcher_streamed(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const char *sample = tu_src_path("data/fashion-mnist-sample.tar.zst");
    glf_data_source mem = {.archive = sample};
    glf_data_source st = {.archive = sample, .max_memory = 1 << 20};
    glf_dataset full, d;
    TU_OK(glf_dataset_load(&mem, "train", &full));
    TU_OK(glf_dataset_load(&st, "train", &d));
    assert_true(d.streamed);
    assert_null(d.images);
    assert_int_equal(d.n, 2000);
    assert_string_equal(d.manifest_sha256, full.manifest_sha256);
    const int B = 64;
    const size_t ib = 784;
    /* Index of the in-memory set, sorted by content, to identify images. */
    uint32_t *idx = malloc(full.n * sizeof *idx);
    for (size_t i = 0; i < full.n; i++)
        idx[i] = (uint32_t)i;
    sorted_base_ = full.images, sorted_ib_ = ib;
    qsort(idx, full.n, sizeof *idx, cmp_img_);
    glf_batcher *a, *b;
    TU_OK(glf_batcher_create(ctx, &d, B, 5, 1, 1, &a));
    TU_OK(glf_batcher_create(ctx, &d, B, 5, 1, 1, &b));
    int steps = glf_batcher_steps_per_epoch(a);
    assert_int_equal(steps, 2000 / B);
    uint8_t *ra = run_(ctx, a, B, ib, 0, 0, 2 * steps);
    uint8_t *rb = run_(ctx, b, B, ib, 0, 0, 2 * steps);
    assert_memory_equal(ra, rb, (size_t)2 * steps * B * ib);
    for (int e = 0; e < 2; e++) {
        char *used = calloc(full.n, 1);
        for (int k = 0; k < steps * B; k++) {
            const uint8_t *im = ra + ((size_t)e * steps * B + k) * ib;
            size_t lo = 0, hi = full.n;
            while (lo < hi) { /* first index whose image is >= im */
                size_t mid = (lo + hi) / 2;
                if (memcmp(full.images + (size_t)idx[mid] * ib, im, ib) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            while (lo < full.n && used[lo] && !memcmp(full.images + (size_t)idx[lo] * ib, im, ib))
                lo++; /* duplicates in the data: take the next unused copy */
            assert_true(lo < full.n);
            assert_memory_equal(full.images + (size_t)idx[lo] * ib, im, ib);
            used[lo] = 1; /* each image at most once per epoch */
        }
        free(used);
    }
    /* Shuffled: the first batch is not the archive's first 64 images, and the
     * two epochs differ. */
    assert_memory_not_equal(ra, full.images, (size_t)B * ib);
    assert_memory_not_equal(ra, ra + (size_t)steps * B * ib, (size_t)B * ib);
    /* Exact resume in the middle of a streamed epoch. */
    uint8_t *rs = run_(ctx, b, B, ib, 1, 3, 4);
    assert_memory_equal(rs, ra + (size_t)(steps + 3) * B * ib, (size_t)4 * B * ib);
    free(rs);
    glf_batcher_destroy(b);
    /* Without shuffle the stream is the archive order, labels included. */
    TU_OK(glf_batcher_create(ctx, &d, B, 5, 0, 0, &b));
    cl_mem out = tu_buf_nan(ctx, (size_t)B * ib);
    uint8_t *bytes = malloc((size_t)B * ib);
    int labels[64], ge, gs, cnt;
    for (int s = 0; s < glf_batcher_steps_per_epoch(b); s++) {
        next_bytes_(ctx, b, out, B, ib, bytes, labels, &ge, &gs, &cnt);
        assert_memory_equal(bytes, full.images + (size_t)s * B * ib, (size_t)cnt * ib);
        for (int i = 0; i < cnt; i++)
            assert_int_equal(labels[i], full.labels[s * B + i]);
    }
    assert_int_equal(cnt, 2000 - 31 * 64);
    glf_batcher_destroy(b);
    /* The archive goes bad under a running batcher: next() says so. */
    char *dir = tu_tmpdir("stream");
    char path[4096], cmd[8400];
    snprintf(path, sizeof path, "%s/s.tar.zst", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", sample, path);
    assert_int_equal(system(cmd), 0);
    glf_data_source bad = {.archive = path, .max_memory = 1 << 20};
    glf_dataset db;
    TU_OK(glf_dataset_load(&bad, "train", &db));
    snprintf(cmd, sizeof cmd, "truncate -s 600000 '%s'", path);
    assert_int_equal(system(cmd), 0);
    TU_OK(glf_batcher_create(ctx, &db, 100, 1, 1, 1, &b));
    /* An output too small for the batch is refused before anything runs. */
    assert_int_equal(glf_batcher_next(b, glf_dp(out, 0), NULL, &ge, &gs), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "expected room for a batch of 100"));
    glf_buf_release(out);
    out = tu_buf_nan(ctx, (size_t)100 * ib);
    glf_status s = GLF_OK;
    for (int k = 0; k < 25 && s == GLF_OK; k++)
        s = glf_batcher_next(b, glf_dp(out, 0), NULL, &ge, &gs);
    assert_int_not_equal(s, GLF_OK);
    assert_non_null(strstr(glf_last_error(), path));
    glf_batcher_destroy(b);
    glf_dataset_free(&db);
    /* --max-memory below one chunk is refused with the sizes named. */
    glf_data_source tiny = {.archive = sample, .max_memory = 1000};
    assert_int_equal(glf_dataset_load(&tiny, "train", &db), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "less than one chunk"));
    free(dir), free(bytes), free(ra), free(rb), free(idx);
    glf_buf_release(out);
    glf_batcher_destroy(a);
    glf_dataset_free(&d);
    glf_dataset_free(&full);
    glf_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u8_to_f32),
        cmocka_unit_test(test_batcher_order),
        cmocka_unit_test(test_batcher_seek_repeat),
        cmocka_unit_test(test_batcher_streamed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
