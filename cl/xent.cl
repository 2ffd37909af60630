// Softmax cross-entropy (PyTorch semantics, mean over the batch) and row
// argmax. One work-item per row: K is small (10 classes) and PoCL's CPU
// device prefers whole rows per work-item to barriers and local memory.

// rowloss[b] = logsumexp(x[b,:]) - x[b, y[b]]; dx (if want_dx) = (softmax - onehot) * inv_b.
// dx may alias x: each element is read before it is written by the same work-item.
__kernel void xent_rows(__global float *rowloss, int rloff, __global float *dx, int dxoff,
                        __global const float *x, int xoff, __global const int *y, int B, int K,
                        int want_dx, float inv_b)
{
    int b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *xr = x + xoff + (size_t)b * K;
    int lab = y[b];
    float m = xr[0];
    for (int k = 1; k < K; k++)
        m = fmax(m, xr[k]);
    float s = 0.0f;
    for (int k = 0; k < K; k++)
        s += exp(xr[k] - m);
    float lse = m + log(s);
    int ok = lab >= 0 && lab < K;
    rowloss[rloff + b] = ok ? lse - xr[lab] : NAN;
    if (want_dx) {
        __global float *dr = dx + dxoff + (size_t)b * K;
        float inv_s = 1.0f / s;
        for (int k = 0; k < K; k++) {
            float p = exp(xr[k] - m) * inv_s;
            dr[k] = ok ? (p - (k == lab ? 1.0f : 0.0f)) * inv_b : NAN;
        }
    }
}

// loss[0] = inv_b * sum of the B row losses, in index order (fixed order:
// the same bits every run; B is a batch size, so one work-item suffices).
__kernel void xent_mean(__global float *loss, int loff, __global const float *rowloss,
                        int rloff, int B, float inv_b)
{
    if (get_global_id(0) != 0)
        return;
    float s = 0.0f;
    for (int b = 0; b < B; b++)
        s += rowloss[rloff + b];
    loss[loff] = s * inv_b;
}

// pred[b] = first index of the row maximum (first NaN wins, as torch.argmax).
__kernel void argmax_rows(__global int *pred, int poff, __global const float *x, int xoff,
                          int B, int K)
{
    int b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *xr = x + xoff + (size_t)b * K;
    int best = 0;
    float bv = xr[0];
    for (int k = 1; k < K && !isnan(bv); k++) {
        float v = xr[k];
        if (isnan(v) || v > bv) {
            best = k;
            bv = v;
        }
    }
    pred[poff + b] = best;
}
