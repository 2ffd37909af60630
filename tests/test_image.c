/* Image files: PNG grids and single PNGs read back through libpng with exact
 * pixel and border checks, the .npy round trip with numpy's exact header
 * bytes, malformed .npy files rejected with named errors, and IDX bytes. */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glf/image.h"

static uint8_t q_(float v) /* the expected 8-bit level */
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    return (uint8_t)floorf(v * 255.0f + 0.5f);
}

static void check_grid_(const char *dir, int n, int c, int h, int w, int rows, int cols)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/grid_%d_%d.png", dir, n, c);
    float *x = tu_rand((size_t)n * c * h * w, (uint64_t)(n * 10 + c), -0.2f, 1.2f);
    TU_OK(glf_png_write_grid(path, x, n, c, h, w, rows, cols));
    float *img;
    int C, H, W;
    TU_OK(glf_png_read(path, &img, &C, &H, &W));
    assert_int_equal(C, c);
    assert_int_equal(W, cols * w + (cols + 1) * 2);
    assert_int_equal(H, rows * h + (rows + 1) * 2);
    size_t bad = 0;
    for (int ch = 0; ch < C; ch++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                uint8_t got = (uint8_t)lrintf(img[((size_t)ch * H + y) * W + xx] * 255.0f);
                int r = (y - 2) / (h + 2), k = (xx - 2) / (w + 2);
                int iy = (y - 2) % (h + 2), ix = (xx - 2) % (w + 2);
                int i = r * cols + k;
                uint8_t want = GLF_GRID_BORDER_LEVEL;
                if (y >= 2 && xx >= 2 && iy < h && ix < w && i < n)
                    want = q_(x[(((size_t)i * c + ch) * h + iy) * w + ix]);
                bad += got != want;
            }
    assert_int_equal(bad, 0);
    free(x), free(img);
}

static void test_png(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("png");
    check_grid_(dir, 5, 1, 5, 7, 2, 3);  /* one empty cell */
    check_grid_(dir, 6, 3, 9, 4, 3, 2);
    check_grid_(dir, 1, 1, 28, 28, 1, 1);
    /* A single image, exact levels including the clamps and 0.5 rounding. */
    float px[6] = {0.0f, 1.0f, -3.0f, 7.0f, 0.5f, 0.2f};
    char path[1024];
    snprintf(path, sizeof path, "%s/one.png", dir);
    TU_OK(glf_png_write(path, px, 1, 2, 3));
    float *img;
    int C, H, W;
    TU_OK(glf_png_read(path, &img, &C, &H, &W));
    assert_true(C == 1 && H == 2 && W == 3);
    const uint8_t want[6] = {0, 255, 0, 255, 128, 51};
    for (int i = 0; i < 6; i++)
        assert_int_equal((int)lrintf(img[i] * 255.0f), want[i]);
    free(img);
    /* Errors: NaN pixel named, too many images, bad shape, unwritable path. */
    px[4] = NAN;
    assert_int_equal(glf_png_write(path, px, 1, 2, 3), GLF_ERR_NUMERIC);
    assert_non_null(strstr(glf_last_error(), "pixel (1, 1)"));
    assert_int_equal(glf_png_write_grid(path, px, 7, 1, 1, 1, 2, 3), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "7 images do not fit 2 x 3"));
    assert_int_equal(glf_png_write(path, px, 2, 1, 3), GLF_ERR_INVALID_ARG);
    assert_int_equal(glf_png_write("/nonexistent/x.png", px, 1, 1, 1), GLF_ERR_IO);
    assert_int_equal(glf_png_read("/nonexistent/x.png", &img, &C, &H, &W), GLF_ERR_IO);
    /* A file that is not a PNG, and a PNG cut short. */
    snprintf(path, sizeof path, "%s/one.png", dir);
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, len / 2), 0);
    assert_int_equal(glf_png_read(path, &img, &C, &H, &W), GLF_ERR_FORMAT);
    assert_null(img);
    char npath[1024];
    snprintf(npath, sizeof npath, "%s/not.png", dir);
    f = fopen(npath, "wb");
    fputs("hello, not a png", f);
    fclose(f);
    assert_int_equal(glf_png_read(npath, &img, &C, &H, &W), GLF_ERR_FORMAT);
    assert_non_null(strstr(glf_last_error(), "not a PNG"));
    /* A folder of PNGs, created on demand. */
    char sub[512];
    snprintf(sub, sizeof sub, "%s/samples", dir);
    float *x = tu_rand(4 * 3 * 4 * 4, 1, 0, 1);
    TU_OK(glf_png_write_each(sub, "s", x, 4, 3, 4, 4));
    snprintf(path, sizeof path, "%s/s000003.png", sub);
    TU_OK(glf_png_read(path, &img, &C, &H, &W));
    assert_true(C == 3 && H == 4 && W == 4);
    for (int i = 0; i < 48; i++)
        assert_int_equal((int)lrintf(img[i] * 255.0f), q_(x[3 * 48 + i]));
    free(img), free(x), free(dir);
}

static void write_bytes_(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes_(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *b = malloc(1 << 16);
    *n = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

static void test_npy(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("npy");
    char path[1024];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    const int64_t sh[4] = {3, 1, 5, 7};
    float *x = tu_rand(105, 3, -1, 1);
    TU_OK(glf_npy_write(path, GLF_NPY_F32, x, 4, sh));
    size_t n;
    unsigned char *b = read_bytes_(path, &n);
    /* numpy 1.24's np.save header for this array, byte for byte. */
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1, 5, 7), }";
    assert_int_equal(n, 128 + 105 * 4);
    assert_memory_equal(b, "\x93NUMPY\x01\x00\x76\x00", 10);
    assert_memory_equal(b + 10, dict, strlen(dict));
    assert_int_equal(b[127], '\n');
    assert_int_equal(b[126], ' ');
    glf_npy a;
    TU_OK(glf_npy_read(path, &a));
    assert_int_equal(a.dtype, GLF_NPY_F32);
    assert_int_equal(a.ndim, 4);
    assert_memory_equal(a.shape, sh, sizeof sh);
    assert_int_equal(a.n, 105);
    assert_memory_equal(a.data, x, 105 * sizeof(float));
    glf_npy_free(&a);

    uint8_t u[4] = {0, 7, 128, 255};
    const int64_t sh1[1] = {4};
    TU_OK(glf_npy_write(path, GLF_NPY_U8, u, 1, sh1));
    free(b);
    b = read_bytes_(path, &n);
    assert_int_equal(n, 128 + 4);
    assert_memory_equal(b + 10, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", 57);
    TU_OK(glf_npy_read(path, &a));
    assert_int_equal(a.dtype, GLF_NPY_U8);
    assert_int_equal(a.ndim, 1);
    assert_memory_equal(a.data, u, 4);
    glf_npy_free(&a);
    /* A 0-d array and a version 2.0 file in numpy's other spelling. */
    TU_OK(glf_npy_write(path, GLF_NPY_F32, x, 0, NULL));
    TU_OK(glf_npy_read(path, &a));
    assert_true(a.ndim == 0 && a.n == 1 && ((float *)a.data)[0] == x[0]);
    glf_npy_free(&a);
    const char *h2 = "{\"shape\":(2,),\"descr\":\"|u1\",'fortran_order':False}\n";
    unsigned char v2[128];
    size_t hl = strlen(h2);
    memcpy(v2, "\x93NUMPY\x02\x00", 8);
    v2[8] = (unsigned char)hl, v2[9] = v2[10] = v2[11] = 0;
    memcpy(v2 + 12, h2, hl);
    v2[12 + hl] = 5, v2[13 + hl] = 6;
    write_bytes_(path, v2, 12 + (size_t)hl + 2);
    TU_OK(glf_npy_read(path, &a));
    assert_true(a.dtype == GLF_NPY_U8 && a.n == 2 && ((uint8_t *)a.data)[1] == 6);
    glf_npy_free(&a);
    free(b), free(x), free(dir);
}

/* A v1.0 file with header text h (padding added) and `data` bytes. */
static void expect_bad_npy_(const char *path, const char *h, size_t data, glf_status st,
                            const char *want)
{
    unsigned char buf[1024];
    size_t hl = strlen(h);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hl, buf[9] = 0;
    memcpy(buf + 10, h, hl);
    memset(buf + 10 + hl, 0x11, data);
    write_bytes_(path, buf, 10 + hl + data);
    glf_npy a;
    glf_status got = glf_npy_read(path, &a);
    if (got != st || !strstr(glf_last_error(), want))
        fail_msg("header %s: got %s '%s', expected %s with '%s'", h, glf_status_str(got),
                 glf_last_error(), glf_status_str(st), want);
    if (st == GLF_OK)
        glf_npy_free(&a);
    assert_null(a.data);
}

static void test_npy_malformed(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("npy-bad");
    char path[1024];
    snprintf(path, sizeof path, "%s/bad.npy", dir);
    const char *ok = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }\n";
    expect_bad_npy_(path, ok, 6, GLF_OK, ""); /* the control case parses */
    expect_bad_npy_(path, ok, 5, GLF_ERR_FORMAT, "truncated");
    expect_bad_npy_(path, ok, 7, GLF_ERR_FORMAT, "trailing bytes");
    expect_bad_npy_(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", 16,
                    GLF_ERR_FORMAT, "descr '<f8' is not supported");
    expect_bad_npy_(path, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 8,
                    GLF_ERR_FORMAT, "descr '>f4'");
    expect_bad_npy_(path, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", 8,
                    GLF_ERR_FORMAT, "fortran_order True");
    expect_bad_npy_(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", 8,
                    GLF_ERR_FORMAT, "non-negative");
    expect_bad_npy_(path, "{'descr': '<f4', 'fortran_order': False}\n", 4, GLF_ERR_FORMAT,
                    "lacks the key 'shape'");
    expect_bad_npy_(path, "{'descr': '<f4', 'shape': (1,), 'fortran_order': False, 'x': 1}\n",
                    4, GLF_ERR_FORMAT, "unknown header key 'x'");
    expect_bad_npy_(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ", 4,
                    GLF_ERR_FORMAT, "expected ',' or '}'");
    expect_bad_npy_(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4,
                    GLF_ERR_FORMAT, "newline");
    expect_bad_npy_(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }\n", 4,
                    GLF_ERR_FORMAT, "expected ',' or ')'");
    expect_bad_npy_(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", 400,
                    GLF_ERR_FORMAT, "trailing");
    /* Bad magic, unknown version, header longer than the file, missing file. */
    write_bytes_(path, "\x93NUMPX\x01\x00\x10\x00", 10);
    glf_npy a;
    assert_int_equal(glf_npy_read(path, &a), GLF_ERR_FORMAT);
    assert_non_null(strstr(glf_last_error(), "bad magic"));
    write_bytes_(path, "\x93NUMPY\x04\x00\x10\x00", 10);
    assert_int_equal(glf_npy_read(path, &a), GLF_ERR_FORMAT);
    assert_non_null(strstr(glf_last_error(), "version 4.0"));
    write_bytes_(path, "\x93NUMPY\x01\x00\x70\x00{'descr'", 17);
    assert_int_equal(glf_npy_read(path, &a), GLF_ERR_FORMAT);
    assert_non_null(strstr(glf_last_error(), "header of 112 bytes is cut short"));
    assert_int_equal(glf_npy_read("/nonexistent.npy", &a), GLF_ERR_IO);
    free(dir);
}

static void test_idx(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("idx");
    char path[1024];
    snprintf(path, sizeof path, "%s/a.idx", dir);
    uint8_t d[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        d[i] = (uint8_t)(i * 10);
    const int64_t sh[3] = {2, 3, 4};
    TU_OK(glf_idx_write_u8(path, d, 3, sh));
    size_t n;
    unsigned char *b = read_bytes_(path, &n);
    assert_int_equal(n, 16 + 24);
    assert_memory_equal(b, "\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04",
                        16);
    assert_memory_equal(b + 16, d, 24);
    /* [0,1] floats to levels; NaN named by index. */
    float f[3] = {0.25f, 1.5f, NAN};
    uint8_t u[3];
    TU_OK(glf_to_u8(u, f, 2));
    assert_true(u[0] == 64 && u[1] == 255);
    assert_int_equal(glf_to_u8(u, f, 3), GLF_ERR_NUMERIC);
    assert_non_null(strstr(glf_last_error(), "pixel 2"));
    free(b), free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png),
        cmocka_unit_test(test_npy),
        cmocka_unit_test(test_npy_malformed),
        cmocka_unit_test(test_idx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
