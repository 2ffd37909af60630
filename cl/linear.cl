// Linear's small kernel beside its GEMMs (the forward's bias is added in the
// GEMM's store, glf_gemm_ex): the deterministic bias gradient.

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
