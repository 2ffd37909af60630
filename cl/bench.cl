/* Microbenchmarks of `glf bench`: the device's FMA throughput and memory
 * bandwidth, the denominators of its "% of peak" columns. */

/* Each work-item runs 8 independent FMA chains of PEAK_VW floats: float16
 * (128 FMAs in flight) for the CPU kernel family, whose drivers compile a
 * work-item to vector code; 1 for the SIMT family, whose drivers run
 * work-items as SIMD lanes (the host then launches many more). The result
 * is stored so the compiler keeps the work. 16 * PEAK_VW FLOPs per
 * work-item and iteration. */
#ifndef PEAK_VW
#define PEAK_VW 16
#endif
#if PEAK_VW == 1
#define peakv float
#define PEAK_SUM_(s) (s)
#else
#define PEAK_CAT_(a, b) a##b
#define PEAK_CAT(a, b) PEAK_CAT_(a, b)
#define peakv PEAK_CAT(float, PEAK_VW)
#define PEAK_SUM_(s) ((s).s0 + (s).s1 + (s).sf) /* PEAK_VW 16 */
#endif
__kernel void fma_peak(__global float *out, int iters, float a)
{
    peakv x0 = (peakv)(get_global_id(0) * 1e-9f), x1 = x0 + 1, x2 = x0 + 2, x3 = x0 + 3;
    peakv x4 = x0 + 4, x5 = x0 + 5, x6 = x0 + 6, x7 = x0 + 7;
    for (int i = 0; i < iters; i++) {
        x0 = fma(x0, a, 0.5f); x1 = fma(x1, a, 0.5f); x2 = fma(x2, a, 0.5f);
        x3 = fma(x3, a, 0.5f); x4 = fma(x4, a, 0.5f); x5 = fma(x5, a, 0.5f);
        x6 = fma(x6, a, 0.5f); x7 = fma(x7, a, 0.5f);
    }
    peakv s = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
    out[get_global_id(0)] = PEAK_SUM_(s);
}

/* Stream kernels for the bandwidth: one float per work-item (PoCL
 * vectorises such loop-free kernels across work-items). copy counts 8 bytes
 * per element, axpy (y += a*x: 2 reads, 1 write, no write-allocate penalty
 * since y is read anyway) 12; the report takes the faster. */
__kernel void copy_f32(__global float *dst, __global const float *src)
{
    size_t i = get_global_id(0);
    dst[i] = src[i];
}

__kernel void axpy_f32(__global float *y, __global const float *x, float a)
{
    size_t i = get_global_id(0);
    y[i] += a * x[i];
}
