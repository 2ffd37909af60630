// Linear's two small kernels around its GEMMs: broadcast the bias into y
// (the GEMM then adds x w^T with beta = 1) and the deterministic bias gradient.

// y[b, o] = bias[o] for y (B, OUT).
__kernel void bias_fill(__global float *y, int y_off, __global const float *bias, int bias_off,
                        int B, int OUT)
{
    int i = get_global_id(0);
    if (i >= B * OUT)
        return;
    y[y_off + i] = bias[bias_off + i % OUT];
}

// db[o] = (accumulate ? db[o] : 0) + sum_b dy[b, o], b ascending.
__kernel void bias_grad(__global float *db, int db_off, __global const float *dy, int dy_off,
                        int B, int OUT, int accumulate)
{
    int o = get_global_id(0);
    if (o >= OUT)
        return;
    float s = 0.0f;
    for (int b = 0; b < B; b++)
        s += dy[dy_off + b * OUT + o];
    db[db_off + o] = accumulate ? db[db_off + o] + s : s;
}
