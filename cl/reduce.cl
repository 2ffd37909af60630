// Deterministic reductions and axpby. Every sum runs in a fixed order that
// depends only on the sizes (never on work-group size or device), so two runs
// give the same bits; no atomics, no barriers.

#ifndef SUM_ALL_PARTS
#define SUM_ALL_PARTS 1024 // must match GLF_SUM_ALL_PARTS in host/ops/reduce.c
#endif
// Columns per work-item as one explicit vector: PoCL does not vectorise
// across work-items whose body holds a loop. The host passes -DRED_VW: 16
// for the CPU kernel family; 1 for the SIMT family, where a column per
// work-item makes neighbouring work-items read neighbouring floats of each
// row. The sums' order does not depend on RED_VW (the same bits).
#ifndef RED_VW
#define RED_VW 16
#endif
#if RED_VW == 1
#define floatv float
#define vloadv(o, p) ((p)[o])
#define vstorev(v, o, p) ((p)[o] = (v))
#else
#define RED_CAT_(a, b) a##b
#define RED_CAT(a, b) RED_CAT_(a, b)
#define floatv RED_CAT(float, RED_VW)
#define vloadv RED_CAT(vload, RED_VW)
#define vstorev RED_CAT(vstore, RED_VW)
#endif

// out[j] (+)= sum_{i=0..M-1} in[i*N + j]; work-item v has columns
// v*RED_VW .. +RED_VW-1 (a ragged end lane by lane, in the same order).
__kernel void sum_rows(__global float *out, int offo, __global const float *in, int offi,
                       int M, int N, int accumulate)
{
    int j0 = get_global_id(0) * RED_VW;
    if (j0 >= N)
        return;
    __global const float *ip = in + offi;
    __global float *op = out + offo;
    if (j0 + RED_VW <= N) {
        floatv s = (floatv)(0.0f);
        for (int i = 0; i < M; i++)
            s += vloadv(0, ip + i * N + j0);
        vstorev(accumulate ? vloadv(0, op + j0) + s : s, 0, op + j0);
        return;
    }
    for (int j = j0; j < N; j++) {
        float s = 0.0f;
        for (int i = 0; i < M; i++)
            s += ip[i * N + j];
        op[j] = accumulate ? op[j] + s : s;
    }
}

// Level 1 of sum_all: part[p] = sum_k in[p + k*parts], k = 0, 1, ... in
// order. Work-item v holds partials p = v*RED_VW .. +RED_VW-1 as one vector
// (parts is a multiple of RED_VW); the last, partly filled block lane by lane.
__kernel void sum_all_parts(__global float *part, int offp, __global const float *in,
                            int offi, int n, int parts)
{
    int p0 = get_global_id(0) * RED_VW;
    if (p0 >= parts)
        return;
    __global const float *ip = in + offi;
    floatv s = (floatv)(0.0f);
    int i = p0;
    for (; i + RED_VW <= n; i += parts)
        s += vloadv(0, ip + i);
    float t[RED_VW];
    vstorev(s, 0, t);
    for (int k = 0; k < RED_VW && i + k < n; k++)
        t[k] += ip[i + k];
    for (int k = 0; k < RED_VW; k++)
        part[offp + p0 + k] = t[k];
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
