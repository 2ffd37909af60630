/* Deterministic reductions (column sums, sum of everything) and axpby on
 * cl/reduce.cl. The summation order depends only on the sizes, so results
 * are bit-identical from run to run on one device. */
#include "glf/ops_norm.h"

#include <limits.h>

/* Partial sums of sum_all's first level; must match SUM_ALL_PARTS in
 * cl/reduce.cl. Up to 2*PARTS floats are summed by one work-item directly. */
#define GLF_SUM_ALL_PARTS 1024
#define GLF_SUM_ALL_DIRECT (2 * GLF_SUM_ALL_PARTS)
#define GLF_REDUCE_LOCAL 16
#define GLF_AXPBY_LOCAL 64
/* Columns (partials) per work-item: RED_VW in cl/reduce.cl, by the
 * context's kernel family (explicit float16 vectors on CPU-like devices,
 * one column per work-item on SIMT-like ones). */
static int red_vw_(glf_ctx *ctx)
{
    return glf_ctx_family(ctx) == GLF_FAMILY_SIMT ? 1 : 16;
}

static glf_status kern_(glf_ctx *ctx, const char *name, cl_kernel *k)
{
    return glf_kernel(ctx, "reduce", name, red_vw_(ctx) == 1 ? "-DRED_VW=1" : "-DRED_VW=16", k);
}

glf_status glf_sum_rows(glf_ctx *ctx, glf_dptr out /* (N) */, glf_dptr in /* (M, N) */, int M,
                        int N, int accumulate)
{
    if (M < 1 || N < 1 || (long long)M * N > INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_sum_rows: M=%d N=%d, expected >= 1 and "
                        "M*N < 2^31",
                        M, N);
    if (accumulate != 0 && accumulate != 1)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_sum_rows: accumulate = %d, expected 0 or 1",
                        accumulate);
    if (!out.buf || !in.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_sum_rows: out and in are required");
    cl_kernel k;
    GLF_TRY(kern_(ctx, "sum_rows", &k));
    const size_t vw = (size_t)red_vw_(ctx);
    size_t g = ((size_t)N + vw - 1) / vw, l = vw == 1 ? 64 : GLF_REDUCE_LOCAL;
    return GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_DP(out), GLF_DP(in), GLF_I32(M), GLF_I32(N),
                      GLF_I32(accumulate));
}

size_t glf_sum_all_workspace(size_t n)
{
    return n > GLF_SUM_ALL_DIRECT ? GLF_SUM_ALL_PARTS : 0;
}

glf_status glf_sum_all(glf_ctx *ctx, glf_dptr out /* (1) */, glf_dptr in /* (n) */, size_t n,
                       glf_dptr work /* (glf_sum_all_workspace(n)) */)
{
    if (n < 1 || n > (size_t)INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_sum_all: n = %zu, expected 1 .. 2^31-1", n);
    if (!out.buf || !in.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_sum_all: out and in are required");
    cl_kernel kfin;
    GLF_TRY(kern_(ctx, "sum_all_final", &kfin));
    size_t one = 1;
    if (n <= GLF_SUM_ALL_DIRECT)
        return GLF_LAUNCH(ctx, kfin, 1, &one, &one, GLF_DP(out), GLF_DP(in), GLF_I32(n));
    if (!work.buf)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_sum_all: n = %zu needs a workspace of %d "
                        "floats (glf_sum_all_workspace), work.buf is NULL",
                        n, GLF_SUM_ALL_PARTS);
    cl_kernel kpart;
    GLF_TRY(kern_(ctx, "sum_all_parts", &kpart));
    size_t g = GLF_SUM_ALL_PARTS / (size_t)red_vw_(ctx), l = GLF_REDUCE_LOCAL;
    GLF_TRY(GLF_LAUNCH(ctx, kpart, 1, &g, &l, GLF_DP(work), GLF_DP(in), GLF_I32(n),
                       GLF_I32(GLF_SUM_ALL_PARTS)));
    return GLF_LAUNCH(ctx, kfin, 1, &one, &one, GLF_DP(out), GLF_DP(work),
                      GLF_I32(GLF_SUM_ALL_PARTS));
}

glf_status glf_axpby(glf_ctx *ctx, glf_dptr y /* (n) */, glf_dptr x /* (n) */, size_t n, float a,
                     float b)
{
    if (n > (size_t)INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_axpby: n = %zu, expected < 2^31", n);
    if (!y.buf || !x.buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_axpby: y and x are required");
    if (x.buf == y.buf && x.off != y.off && x.off < y.off + n && y.off < x.off + n)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_axpby: x (offset %zu) partly overlaps y "
                        "(offset %zu) over n = %zu",
                        x.off, y.off, n);
    cl_kernel k;
    GLF_TRY(kern_(ctx, "axpby", &k));
    size_t g = n, l = GLF_AXPBY_LOCAL;
    return GLF_LAUNCH(ctx, k, 1, &g, &l, GLF_DP(y), GLF_DP(x), GLF_I32(n), GLF_F32(a), GLF_F32(b));
}
