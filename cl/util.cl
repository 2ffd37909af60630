// Small elementwise helpers used across the library (and by the runtime's
// own tests): fill, scale, axpy. Every kernel checks its bounds, so any
// global size works.

__kernel void fill_f32(__global float *x, int off, int n, float v)
{
    int i = get_global_id(0);
    if (i < n)
        x[off + i] = v;
}

__kernel void scale_f32(__global float *x, int off, int n, float a)
{
    int i = get_global_id(0);
    if (i < n)
        x[off + i] *= a;
}

// y[offy + i] += a * x[offx + i]
__kernel void axpy_f32(__global float *y, int offy, __global const float *x, int offx, int n,
                       float a)
{
    int i = get_global_id(0);
    if (i < n)
        y[offy + i] += a * x[offx + i];
}

// Strided 2-D copy: dst[r*ldd + c] = src[r*lds + c] for r < rows, c < cols.
// Splits and joins column blocks of row-major matrices (the flow's halves).
__kernel void copy2d_f32(__global float *dst, int doff, int ldd, __global const float *src,
                         int soff, int lds, int rows, int cols)
{
    int c = get_global_id(0), r = get_global_id(1);
    if (c < cols && r < rows)
        dst[doff + r * ldd + c] = src[soff + r * lds + c];
}
