// Deterministic reductions and axpby. Every sum runs in a fixed order that
// depends only on the sizes (never on work-group size or device), so two runs
// give the same bits; no atomics, no barriers.

#ifndef SUM_ALL_PARTS
#define SUM_ALL_PARTS 1024 // must match GLF_SUM_ALL_PARTS in host/ops/reduce.c
#endif

// out[j] (+)= sum_{i=0..M-1} in[i*N + j]: one work-item per column, adjacent
// work-items read adjacent floats.
__kernel void sum_rows(__global float *out, int offo, __global const float *in, int offi,
                       int M, int N, int accumulate)
{
    int j = get_global_id(0);
    if (j >= N)
        return;
    float s = 0.0f;
    for (int i = 0; i < M; i++)
        s += in[offi + i * N + j];
    out[offo + j] = accumulate ? out[offo + j] + s : s;
}

// Level 1 of sum_all: part[p] = sum_k in[p + k*parts] (strided, so adjacent
// work-items read adjacent floats).
__kernel void sum_all_parts(__global float *part, int offp, __global const float *in,
                            int offi, int n, int parts)
{
    int p = get_global_id(0);
    if (p >= parts)
        return;
    float s = 0.0f;
    for (int i = p; i < n; i += parts)
        s += in[offi + i];
    part[offp + p] = s;
}

// Level 2 (or the whole sum when n is small): out[0] = sum in[0..n-1] in order.
__kernel void sum_all_final(__global float *out, int offo, __global const float *in, int offi,
                            int n)
{
    if (get_global_id(0) != 0)
        return;
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += in[offi + i];
    out[offo] = s;
}

// y = a*x + b*y; b == 0 does not read y (BLAS convention).
__kernel void axpby(__global float *y, int offy, __global const float *x, int offx, int n,
                    float a, float b)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float v = a * x[offx + i];
    y[offy + i] = b == 0.0f ? v : v + b * y[offy + i];
}
