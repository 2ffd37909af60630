/* Host side of cl/util.cl: strided copies and fills. */
#include "glf/ops_util.h"

glf_status glf_copy2d(glf_ctx *ctx, glf_dptr dst, int ldd, glf_dptr src, int lds, int rows,
                      int cols)
{
    cl_kernel k;
    if (rows <= 0 || cols <= 0)
        return GLF_OK;
    GLF_TRY(glf_kernel(ctx, "util", "copy2d_f32", NULL, &k));
    size_t g[2] = {(size_t)cols, (size_t)rows};
    return GLF_LAUNCH(ctx, k, 2, g, NULL, GLF_DP(dst), GLF_I32(ldd), GLF_DP(src), GLF_I32(lds),
                      GLF_I32(rows), GLF_I32(cols));
}

glf_status glf_fill(glf_ctx *ctx, glf_dptr x, size_t n, float v)
{
    cl_kernel k;
    if (n == 0)
        return GLF_OK;
    GLF_TRY(glf_kernel(ctx, "util", "fill_f32", NULL, &k));
    size_t g = n;
    return GLF_LAUNCH(ctx, k, 1, &g, NULL, GLF_DP(x), GLF_I32(n), GLF_F32(v));
}
