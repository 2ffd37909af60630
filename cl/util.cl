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
