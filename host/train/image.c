/* PNG (libpng), .npy and IDX files for samples, grids and exported arrays.
 * libpng reports errors by longjmp: each call sets its own jump point and
 * keeps the message, so no error escapes as a print or an abort. */
#include "glf/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

glf_status glf_to_u8(uint8_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = src[i];
        if (!isfinite(v))
            return glf_fail(GLF_ERR_NUMERIC, "pixel %zu is %g: expected a finite value in [0, 1]",
                            i, (double)v);
        v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        dst[i] = (uint8_t)floorf(v * 255.0f + 0.5f);
    }
    return GLF_OK;
}

static glf_status shape_ok_(const char *what, int n, int c, int h, int w)
{
    if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || (double)h * w * c * n > 1e9)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "%s: images %dx%dx%dx%d: expected n >= 1, C 1 or 3, H, W >= 1", what, n,
                        c, h, w);
    return GLF_OK;
}

/* ---- libpng glue ---------------------------------------------------------- */

typedef struct png_err_ {
    char msg[256];
} png_err_;

static void png_error_fn_(png_structp png, png_const_charp msg)
{
    png_err_ *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn_(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* library code never prints */
}

/* Interleaved 8-bit pixels (h rows of w*c bytes) to a PNG file. */
static glf_status png_write_u8_(const char *path, const uint8_t *pix, int c, int h, int w)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return glf_fail(GLF_ERR_IO, "PNG %s: cannot create: %s", path, strerror(errno));
    png_err_ err = {""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_error_fn_,
                                              png_warning_fn_);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        return glf_fail(GLF_ERR_NOMEM, "PNG %s: libpng could not allocate", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(path);
        return glf_fail(GLF_ERR_IO, "PNG %s: libpng: %s", path, err.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(pix + (size_t)y * w * c));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0)
        return glf_fail(GLF_ERR_IO, "PNG %s: write failed: %s", path, strerror(errno));
    return GLF_OK;
}

/* Image i of x (n, C, H, W) into canvas (CH, CW, C interleaved) at (y0, x0). */
static glf_status blit_(uint8_t *canvas, int cw, const float *img, int c, int h, int w, int y0,
                        int x0, int index, const char *path)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t v;
                size_t at = ((size_t)ch * h + y) * w + x;
                if (glf_to_u8(&v, img + at, 1) != GLF_OK)
                    return glf_fail(GLF_ERR_NUMERIC,
                                    "PNG %s: image %d, channel %d, pixel (%d, %d) is %g: "
                                    "expected a finite value",
                                    path, index, ch, y, x, (double)img[at]);
                canvas[((size_t)(y0 + y) * cw + x0 + x) * c + ch] = v;
            }
    return GLF_OK;
}

glf_status glf_png_write(const char *path, const float *img, int c, int h, int w)
{
    GLF_TRY(shape_ok_(path, 1, c, h, w));
    uint8_t *pix = malloc((size_t)c * h * w);
    if (!pix)
        return glf_fail(GLF_ERR_NOMEM, "PNG %s: out of memory", path);
    glf_status st = blit_(pix, w, img, c, h, w, 0, 0, 0, path);
    if (st == GLF_OK)
        st = png_write_u8_(path, pix, c, h, w);
    free(pix);
    return st;
}

glf_status glf_png_write_grid(const char *path, const float *x, int n, int c, int h, int w,
                              int rows, int cols)
{
    GLF_TRY(shape_ok_(path, n, c, h, w));
    if (rows < 1 || cols < 1 || (long)rows * cols < n)
        return glf_fail(GLF_ERR_INVALID_ARG, "PNG grid %s: %d images do not fit %d x %d cells",
                        path, n, rows, cols);
    const int b = GLF_GRID_BORDER;
    long cw = (long)cols * w + (long)(cols + 1) * b, chh = (long)rows * h + (long)(rows + 1) * b;
    if ((double)cw * chh * c > 1e9)
        return glf_fail(GLF_ERR_INVALID_ARG, "PNG grid %s: %ld x %ld pixels is too large", path,
                        cw, chh);
    uint8_t *canvas = malloc((size_t)cw * chh * c);
    if (!canvas)
        return glf_fail(GLF_ERR_NOMEM, "PNG grid %s: out of memory", path);
    memset(canvas, GLF_GRID_BORDER_LEVEL, (size_t)cw * chh * c);
    glf_status st = GLF_OK;
    for (int i = 0; i < n && st == GLF_OK; i++) {
        int r = i / cols, k = i % cols;
        st = blit_(canvas, (int)cw, x + (size_t)i * c * h * w, c, h, w, b + r * (h + b),
                   b + k * (w + b), i, path);
    }
    if (st == GLF_OK)
        st = png_write_u8_(path, canvas, c, (int)chh, (int)cw);
    free(canvas);
    return st;
}

glf_status glf_png_write_each(const char *dir, const char *prefix, const float *x, int n, int c,
                              int h, int w)
{
    GLF_TRY(shape_ok_(dir, n, c, h, w));
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return glf_fail(GLF_ERR_IO, "PNG folder %s: cannot create: %s", dir, strerror(errno));
    size_t len = strlen(dir) + strlen(prefix ? prefix : "") + 32;
    char *path = malloc(len);
    if (!path)
        return glf_fail(GLF_ERR_NOMEM, "PNG folder %s: out of memory", dir);
    glf_status st = GLF_OK;
    for (int i = 0; i < n && st == GLF_OK; i++) {
        snprintf(path, len, "%s/%s%06d.png", dir, prefix ? prefix : "", i);
        st = glf_png_write(path, x + (size_t)i * c * h * w, c, h, w);
    }
    free(path);
    return st;
}

glf_status glf_png_read(const char *path, float **out, int *c, int *h, int *w)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return glf_fail(GLF_ERR_IO, "PNG %s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        return glf_fail(GLF_ERR_FORMAT, "PNG %s: not a PNG file (bad signature)", path);
    }
    png_err_ err = {""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_error_fn_,
                                             png_warning_fn_);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        fclose(f);
        return glf_fail(GLF_ERR_NOMEM, "PNG %s: libpng could not allocate", path);
    }
    uint8_t *volatile pix = NULL;
    float *volatile img = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        free(pix);
        free(img);
        return glf_fail(GLF_ERR_FORMAT, "PNG %s: libpng: %s", path, err.msg);
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    /* Everything to 8-bit grey or RGB without alpha. */
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_read_update_info(png, info);
    int W = (int)png_get_image_width(png, info), H = (int)png_get_image_height(png, info);
    int C = png_get_channels(png, info);
    if (C != 1 && C != 3)
        png_error(png, "unexpected channel count after conversion");
    size_t rowbytes = png_get_rowbytes(png, info);
    pix = malloc(rowbytes * (size_t)H);
    img = malloc(sizeof(float) * (size_t)C * H * W);
    if (!pix || !img)
        png_error(png, "out of memory");
    for (int y = 0; y < H; y++)
        png_read_row(png, pix + rowbytes * (size_t)y, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    for (int ch = 0; ch < C; ch++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                img[((size_t)ch * H + y) * W + x] =
                    (float)pix[rowbytes * (size_t)y + (size_t)x * C + ch] / 255.0f;
    free(pix);
    *out = img;
    *c = C, *h = H, *w = W;
    return GLF_OK;
}
