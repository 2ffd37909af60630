/* Readers of the original formats: IDX raw and gzip (values and every bad
 * header), CIFAR-10 batches (original and subset file names, bad sizes and
 * labels), PNG folders with centre crop + area averaging against a plain
 * reference, and the named-set dispatch. Bad files are made in a temp folder. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/json.h"
#include "glf/data.h"

static void write_file_(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *join_(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* An IDX file: magic 0x0000080<nd>, big-endian dims, then `payload`. */
static uint8_t *idx_make_(int nd, const uint32_t *dims, const uint8_t *payload, size_t plen,
                          size_t *n)
{
    *n = 4 + 4 * (size_t)nd + plen;
    uint8_t *b = malloc(*n);
    b[0] = b[1] = 0, b[2] = 8, b[3] = (uint8_t)nd;
    for (int k = 0; k < nd; k++)
        for (int j = 0; j < 4; j++)
            b[4 + 4 * k + j] = (uint8_t)(dims[k] >> (24 - 8 * j));
    if (plen)
        memcpy(b + 4 + 4 * nd, payload, plen);
    return b;
}

/* A set of n images h x w in dir (prefix train or t10k); gz: gzip them. */
static void make_set_(const char *dir, const char *prefix, uint32_t n, uint32_t h, uint32_t w,
                      uint32_t nlab, int gz, uint8_t **img_out, uint8_t **lab_out)
{
    size_t np = (size_t)n * h * w, len;
    uint8_t *img = malloc(np + 1), *lab = malloc(nlab + 1);
    for (size_t i = 0; i < np; i++)
        img[i] = (uint8_t)(i * 37 + 11);
    for (uint32_t i = 0; i < nlab; i++)
        lab[i] = (uint8_t)(i % 10);
    char name[256];
    uint32_t di[3] = {n, h, w}, dl[1] = {nlab};
    uint8_t *f = idx_make_(3, di, img, np, &len);
    snprintf(name, sizeof name, "%s/%s-images-idx3-ubyte", dir, prefix);
    write_file_(name, f, len);
    free(f);
    f = idx_make_(1, dl, lab, nlab, &len);
    snprintf(name, sizeof name, "%s/%s-labels-idx1-ubyte", dir, prefix);
    write_file_(name, f, len);
    free(f);
    if (gz) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "gzip -nf '%s/%s-images-idx3-ubyte' '%s/%s-labels-idx1-ubyte'",
                 dir, prefix, dir, prefix);
        assert_int_equal(system(cmd), 0);
    }
    if (img_out)
        *img_out = img;
    else
        free(img);
    if (lab_out)
        *lab_out = lab;
    else
        free(lab);
}

static void test_idx_raw_and_gzip(void **state)
{
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        char *dir = tu_tmpdir("idx");
        uint8_t *img, *lab, *timg, *tlab;
        make_set_(dir, "train", 7, 5, 3, 7, gz, &img, &lab);
        make_set_(dir, "t10k", 1, 5, 3, 1, !gz, &timg, &tlab);
        glf_data_source src = {.name = "mnist", .dir = dir};
        glf_dataset d;
        TU_OK(glf_dataset_load(&src, "train", &d));
        assert_int_equal(d.n, 7);
        assert_int_equal(d.channels, 1);
        assert_int_equal(d.height, 5);
        assert_int_equal(d.width, 3);
        assert_int_equal(d.classes, 10);
        assert_memory_equal(d.images, img, 7 * 15);
        assert_memory_equal(d.labels, lab, 7);
        assert_int_equal(strlen(d.manifest_sha256), 64);
        char first[65];
        memcpy(first, d.manifest_sha256, 65);
        glf_dataset_free(&d);
        TU_OK(glf_dataset_load(&src, "test", &d));
        assert_int_equal(d.n, 1);
        assert_memory_equal(d.images, timg, 15);
        assert_string_not_equal(first, d.manifest_sha256);
        glf_dataset_free(&d);
        free(img), free(lab), free(timg), free(tlab), free(dir);
    }
}

static void test_idx_bad_headers(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("idxbad");
    char *p = join_(dir, "x-idx3-ubyte");
    uint8_t *data = NULL;
    int nd;
    uint32_t dims[4];
    size_t n;
    uint8_t pix[12] = {0};

    /* Wrong magic (a float IDX, and garbage). */
    uint32_t d3[3] = {1, 3, 4};
    uint8_t *f = idx_make_(3, d3, pix, 12, &n);
    f[2] = 0x0D;
    write_file_(p, f, n);
    tu_expect_status(glf_idx_read(p, &data, &nd, dims), GLF_ERR_FORMAT, p, "wrong IDX magic");
    assert_null(data);
    free(f);
    write_file_(p, "hello world, not idx", 20);
    tu_expect_status(glf_idx_read(p, &data, &nd, dims), GLF_ERR_FORMAT, p, "magic");

    /* Dimensions whose product overflows size_t, checked before allocating. */
    uint32_t big[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 2};
    f = idx_make_(4, big, pix, 12, &n);
    write_file_(p, f, n);
    tu_expect_status(glf_idx_read(p, &data, &nd, dims), GLF_ERR_FORMAT, p, "overflow");
    free(f);
    /* A product larger than the file. */
    uint32_t large[3] = {60000, 28, 28};
    f = idx_make_(3, large, pix, 12, &n);
    write_file_(p, f, n);
    tu_expect_status(glf_idx_read(p, &data, &nd, dims), GLF_ERR_FORMAT, p, "need 47040000 data bytes");
    free(f);
    /* Trailing bytes (a product smaller than the file) and a cut header. */
    uint32_t small[3] = {1, 2, 2};
    f = idx_make_(3, small, pix, 12, &n);
    write_file_(p, f, n);
    tu_expect_status(glf_idx_read(p, &data, &nd, dims), GLF_ERR_FORMAT, p, "file has 12");
    write_file_(p, f, 9);
    tu_expect_status(glf_idx_read(p, &data, &nd, dims), GLF_ERR_FORMAT, p, "too short");
    free(f);
    /* Empty file, truncated gzip. */
    write_file_(p, "", 0);
    tu_expect_status(glf_idx_read(p, &data, &nd, dims), GLF_ERR_FORMAT, p, NULL);
    f = idx_make_(3, large, NULL, 0, &n);
    uint8_t *big_payload = calloc(60000 * 784, 1);
    free(f);
    f = idx_make_(3, large, big_payload, 60000 * 784, &n);
    write_file_(p, f, n);
    free(f), free(big_payload);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "gzip -nf '%s' && head -c 20000 '%s.gz' > '%s'", p, p, p);
    assert_int_equal(system(cmd), 0);
    tu_expect_status(glf_idx_read(p, &data, &nd, dims), GLF_ERR_FORMAT, p, "truncated");
    /* Missing path and a path that cannot be read as a file. */
    char *missing = join_(dir, "nope-idx3-ubyte");
    tu_expect_status(glf_idx_read(missing, &data, &nd, dims), GLF_ERR_IO, missing, "cannot open");
    tu_expect_status(glf_idx_read(dir, &data, &nd, dims), GLF_ERR_IO, dir, "not a regular file");
    assert_null(data);
    free(missing), free(p), free(dir);
}

static void test_idx_set_errors(void **state)
{
    (void)state;
    glf_dataset d;
    /* Image and label counts that differ. */
    char *dir = tu_tmpdir("idxset");
    make_set_(dir, "train", 4, 2, 2, 5, 0, NULL, NULL);
    glf_data_source src = {.name = "mnist", .dir = dir};
    tu_expect_status(glf_dataset_load(&src, "train", &d), GLF_ERR_MISMATCH, "4 images", "5 labels");
    assert_null(d.images);
    /* Empty data set. */
    make_set_(dir, "train", 0, 2, 2, 0, 0, NULL, NULL);
    tu_expect_status(glf_dataset_load(&src, "train", &d), GLF_ERR_FORMAT, "empty data set", dir);
    /* Missing files, missing folder. */
    tu_expect_status(glf_dataset_load(&src, "test", &d), GLF_ERR_IO, "t10k-images-idx3-ubyte", "missing");
    glf_data_source nodir = {.name = "mnist", .dir = "/nonexistent/glf"};
    tu_expect_status(glf_dataset_load(&nodir, "train", &d), GLF_ERR_IO, "/nonexistent/glf", NULL);
    /* A label out of range. */
    make_set_(dir, "train", 3, 2, 2, 3, 0, NULL, NULL);
    char *lp = join_(dir, "train-labels-idx1-ubyte");
    uint8_t lab[9 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 12, 2};
    write_file_(lp, lab, 11);
    tu_expect_status(glf_dataset_load(&src, "train", &d), GLF_ERR_FORMAT, "label 12", "0..9");
    /* Bad arguments. */
    glf_data_source both = {.name = "mnist", .archive = "x.tar.zst"};
    tu_expect_status(glf_dataset_load(&both, "train", &d), GLF_ERR_INVALID_ARG, "exactly one", NULL);
    glf_data_source unk = {.name = "imagenet"};
    tu_expect_status(glf_dataset_load(&unk, "train", &d), GLF_ERR_INVALID_ARG, "imagenet", NULL);
    tu_expect_status(glf_dataset_load(&src, "valid", &d), GLF_ERR_INVALID_ARG, "valid", NULL);
    free(lp), free(dir);
}

static void test_cifar(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("cifar");
    /* The shared subset's names (data_batch_1_first4000.bin) and the originals'. */
    const char *names[] = {"data_batch_1_first4000.bin", "data_batch_2.bin", "test_batch.bin"};
    const int recs[] = {3, 2, 1};
    uint8_t *want = malloc(5 * 3072);
    int at = 0;
    for (int k = 0; k < 3; k++) {
        uint8_t *buf = malloc((size_t)recs[k] * 3073);
        for (int r = 0; r < recs[k]; r++) {
            buf[r * 3073] = (uint8_t)((k * 3 + r) % 10);
            for (int j = 0; j < 3072; j++)
                buf[r * 3073 + 1 + j] = (uint8_t)(j * 7 + r + k * 13);
            if (k < 2)
                memcpy(want + (size_t)at++ * 3072, buf + r * 3073 + 1, 3072);
        }
        char *p = join_(dir, names[k]);
        write_file_(p, buf, (size_t)recs[k] * 3073);
        free(p), free(buf);
    }
    glf_data_source src = {.name = "cifar10", .dir = dir};
    glf_dataset d;
    TU_OK(glf_dataset_load(&src, "train", &d));
    assert_int_equal(d.n, 5);
    assert_int_equal(d.channels, 3);
    assert_int_equal(d.height, 32);
    assert_memory_equal(d.images, want, 5 * 3072);
    assert_int_equal(d.labels[3], 3);
    glf_dataset_free(&d);
    TU_OK(glf_dataset_load(&src, "test", &d));
    assert_int_equal(d.n, 1);
    assert_int_equal(d.labels[0], 6);
    glf_dataset_free(&d);
    /* A file that is not a whole number of records; a bad label. */
    char *p = join_(dir, "data_batch_2.bin");
    uint8_t junk[3073 + 5] = {0};
    write_file_(p, junk, sizeof junk);
    tu_expect_status(glf_dataset_load(&src, "train", &d), GLF_ERR_FORMAT, p, "multiple of 3073");
    junk[0] = 10;
    write_file_(p, junk, 3073);
    tu_expect_status(glf_dataset_load(&src, "train", &d), GLF_ERR_FORMAT, p, "label 10");
    /* No batch files at all. */
    char *empty = tu_tmpdir("cifar-empty");
    glf_data_source none = {.name = "cifar10", .dir = empty};
    tu_expect_status(glf_dataset_load(&none, "train", &d), GLF_ERR_IO, "no CIFAR-10 batch files", empty);
    free(p), free(dir), free(empty), free(want);
}

/* Reference: centre crop then adaptive average pooling, in double. */
static uint8_t ref_pool_(const uint8_t *chw, int h, int w, int crop, int size, int c, int i,
                         int j)
{
    int y0 = (h - crop) / 2, x0 = (w - crop) / 2;
    int ys = i * crop / size, ye = ((i + 1) * crop + size - 1) / size;
    int xs = j * crop / size, xe = ((j + 1) * crop + size - 1) / size;
    double sum = 0;
    for (int y = ys; y < ye; y++)
        for (int x = xs; x < xe; x++)
            sum += chw[((size_t)c * h + y0 + y) * w + x0 + x];
    return (uint8_t)(sum / ((ye - ys) * (xe - xs)) + 0.5);
}

static void test_png_folder(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("png");
    const int h = 11, w = 9, crop = 7, size = 3, n = 3;
    uint8_t *src_img = malloc((size_t)n * 3 * h * w);
    for (int k = 0; k < n; k++) {
        uint8_t *im = src_img + (size_t)k * 3 * h * w;
        for (int i = 0; i < 3 * h * w; i++)
            im[i] = (uint8_t)((i * 29 + k * 101) ^ (i >> 3));
        char name[64];
        snprintf(name, sizeof name, "img%03d.png", k);
        char *p = join_(dir, name);
        TU_OK(glf_png_write_u8(p, 3, h, w, im));
        free(p);
    }
    glf_data_source src = {.name = "images", .dir = dir, .crop = crop, .size = size};
    glf_dataset d;
    TU_OK(glf_dataset_load(&src, "train", &d));
    assert_int_equal(d.n, n);
    assert_int_equal(d.channels, 3);
    assert_int_equal(d.height, size);
    assert_int_equal(d.width, size);
    assert_null(d.labels);
    for (int k = 0; k < n; k++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < size; i++)
                for (int j = 0; j < size; j++)
                    assert_int_equal(d.images[(((size_t)k * 3 + c) * size + i) * size + j],
                                     ref_pool_(src_img + (size_t)k * 3 * h * w, h, w, crop, size,
                                               c, i, j));
    glf_dataset_free(&d);
    /* No crop, no resize: the pixels come back as written. */
    glf_data_source plain = {.name = "images", .dir = dir};
    TU_OK(glf_dataset_load(&plain, "train", &d));
    assert_memory_equal(d.images, src_img, (size_t)n * 3 * h * w);
    glf_dataset_free(&d);
    /* No test split in a flat folder; a crop larger than the image; an image of
     * another size; a corrupt PNG. */
    tu_expect_status(glf_dataset_load(&src, "test", &d), GLF_ERR_IO, "only a train split", NULL);
    glf_data_source big = {.name = "images", .dir = dir, .crop = 12};
    tu_expect_status(glf_dataset_load(&big, "train", &d), GLF_ERR_FORMAT, "smaller than --crop", NULL);
    char *odd = join_(dir, "img100.png");
    TU_OK(glf_png_write_u8(odd, 1, 4, 4, src_img));
    tu_expect_status(glf_dataset_load(&plain, "train", &d), GLF_ERR_MISMATCH, odd, "earlier images");
    write_file_(odd, "\x89PNG\r\n\x1a\nbroken", 14);
    tu_expect_status(glf_dataset_load(&plain, "train", &d), GLF_ERR_FORMAT, odd, "PNG");
    char *empty = tu_tmpdir("png-empty");
    glf_data_source none = {.name = "images", .dir = empty};
    tu_expect_status(glf_dataset_load(&none, "train", &d), GLF_ERR_IO, "no PNG images", "empty data set");
    free(odd), free(empty), free(dir), free(src_img);
}

static void test_json(void **state)
{
    (void)state;
    char err[256];
    const char *ok = " {\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\\"\\u00e9\\ud83d\\ude00\\n\", "
                     "\"o\": {}} ";
    glf_json *j = glf_json_parse(ok, strlen(ok), err, sizeof err);
    if (!j)
        fail_msg("valid JSON rejected: %s", err);
    const glf_json *a = glf_json_get(j, "a");
    assert_int_equal(glf_json_count(a), 5);
    assert_true(a->child->next->num == -2500.0);
    assert_int_equal(a->child->next->next->type, GLF_JSON_BOOL);
    assert_string_equal(glf_json_get(j, "s")->str, "x\"\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_int_equal(glf_json_get(j, "o")->type, GLF_JSON_OBJ);
    assert_null(glf_json_get(j, "missing"));
    glf_json_free(j);
    const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"\\x\"", "\"\\ud800\"", "01x", "1.",
                         "[1] 2", "\"a\nb\"", "tru", "{\"a\": 1,}", "-", "1e"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = glf_json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        if (j)
            fail_msg("invalid JSON accepted: '%s'", bad[i]);
        assert_non_null(strstr(err, "expected"));
    }
    /* Nesting is capped (no stack exhaustion on hostile input). */
    char deep[200];
    memset(deep, '[', sizeof deep);
    assert_null(glf_json_parse(deep, sizeof deep, err, sizeof err));
    assert_non_null(strstr(err, "nesting"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_raw_and_gzip),
        cmocka_unit_test(test_idx_bad_headers),
        cmocka_unit_test(test_idx_set_errors),
        cmocka_unit_test(test_cifar),
        cmocka_unit_test(test_png_folder),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
