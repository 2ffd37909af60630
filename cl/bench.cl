/* Microbenchmarks of `glf bench`: the device's FMA throughput and memory
 * bandwidth, the denominators of its "% of peak" columns. */

/* Each work-item runs 8 independent float16 FMA chains (128 FMAs in flight),
 * enough to hide the FMA latency on CPUs (vector units) and GPUs (lanes);
 * the result is stored so the compiler keeps the work. 256 FLOPs per
 * work-item and iteration. */
__kernel void fma_peak(__global float *out, int iters, float a)
{
    float16 x0 = (float16)(get_global_id(0) * 1e-9f), x1 = x0 + 1, x2 = x0 + 2, x3 = x0 + 3;
    float16 x4 = x0 + 4, x5 = x0 + 5, x6 = x0 + 6, x7 = x0 + 7;
    for (int i = 0; i < iters; i++) {
        x0 = fma(x0, a, 0.5f); x1 = fma(x1, a, 0.5f); x2 = fma(x2, a, 0.5f);
        x3 = fma(x3, a, 0.5f); x4 = fma(x4, a, 0.5f); x5 = fma(x5, a, 0.5f);
        x6 = fma(x6, a, 0.5f); x7 = fma(x7, a, 0.5f);
    }
    float16 s = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
    out[get_global_id(0)] = s.s0 + s.s1 + s.sf;
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
