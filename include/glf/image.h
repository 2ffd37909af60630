/* Image and array files for samples and grids: PNG (single images, folders
 * of them, and rows x cols grids), NumPy .npy (float32 / uint8, written and
 * strictly read) and uint8 IDX (the MNIST container). Images are float NCHW
 * in [0, 1] with C = 1 (grey) or 3 (RGB). */
#ifndef GLF_IMAGE_H
#define GLF_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "glf/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pixels between and around grid cells, and their grey level (0..255);
 * cells beyond n stay that colour too. */
#define GLF_GRID_BORDER 2
#define GLF_GRID_BORDER_LEVEL 128

/* [0, 1] -> 0..255 (clamped, rounded half up). A NaN/Inf fails with
 * GLF_ERR_NUMERIC naming its index. */
glf_status glf_to_u8(uint8_t *dst, const float *src, size_t n);

/* One image (C, H, W) as an 8-bit grey or RGB PNG. */
glf_status glf_png_write(const char *path, const float *img, int c, int h, int w);
/* n images (n, C, H, W) in row-major order into a rows x cols grid:
 * width cols*W + (cols+1)*2, height rows*H + (rows+1)*2. n <= rows*cols. */
glf_status glf_png_write_grid(const char *path, const float *x, int n, int c, int h, int w,
                              int rows, int cols);
/* n PNGs dir/<prefix>000000.png ...; dir is created if missing. */
glf_status glf_png_write_each(const char *dir, const char *prefix, const float *x, int n, int c,
                              int h, int w);
/* Any PNG, converted to 8 bits, alpha dropped, grey or RGB kept; *out is a
 * malloc'd (C, H, W) float array in [0, 1]. */
glf_status glf_png_read(const char *path, float **out, int *c, int *h, int *w);

typedef enum glf_npy_dtype { GLF_NPY_F32, GLF_NPY_U8 } glf_npy_dtype;
#define GLF_NPY_MAX_DIM 8
typedef struct glf_npy {
    glf_npy_dtype dtype;
    int ndim;
    int64_t shape[GLF_NPY_MAX_DIM];
    size_t n;   /* elements */
    void *data; /* float* or uint8_t*, malloc'd */
} glf_npy;

/* C-order array as .npy format 1.0 ('<f4' or '|u1'), as numpy.save writes it. */
glf_status glf_npy_write(const char *path, glf_npy_dtype dtype, const void *data, int ndim,
                         const int64_t *shape);
/* Strict reader: versions 1.0-3.0, descr '<f4' or '|u1' only, fortran_order
 * False, exact data length. Messages name the file, field and value. */
glf_status glf_npy_read(const char *path, glf_npy *out);
void glf_npy_free(glf_npy *a);

/* IDX file of unsigned bytes (type 0x08), dims big-endian, as MNIST's. */
glf_status glf_idx_write_u8(const char *path, const uint8_t *data, int ndim,
                            const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
