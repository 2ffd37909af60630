/* Small data-movement ops shared by the model: strided 2-D copies and fills
 * of device tensors (cl/util.cl). */
#ifndef GLF_OPS_UTIL_H
#define GLF_OPS_UTIL_H

#include "glf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst[r*ldd + c] = src[r*lds + c], r < rows, c < cols (leading dims in floats). */
glf_status glf_copy2d(glf_ctx *ctx, glf_dptr dst, int ldd, glf_dptr src, int lds, int rows,
                      int cols);
/* n floats of x set to v. */
glf_status glf_fill(glf_ctx *ctx, glf_dptr x, size_t n, float v);

#ifdef __cplusplus
}
#endif
#endif
