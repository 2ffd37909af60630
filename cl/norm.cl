// BatchNorm (PyTorch semantics) over x (B, C, L), L = H*W (1 for BatchNorm1d),
// CL = C*L, n = B*L. Statistics are reduced in a fixed order in two passes:
// per position j = c*L + l a loop over the batch (adjacent work-items read
// adjacent floats, which PoCL vectorises), then per channel a loop over l.
// No atomics, no barriers: two runs give the same bits.

// Pass 1 of the mean: part[j] = sum_b x[b*CL + j].
__kernel void bn_colsum(__global float *part, int offp, __global const float *x, int offx,
                        int B, int CL)
{
    int j = get_global_id(0);
    if (j >= CL)
        return;
    float s = 0.0f;
    for (int b = 0; b < B; b++)
        s += x[offx + b * CL + j];
    part[offp + j] = s;
}

// Pass 2 of the mean: mean[c] = (sum_l part[c*L + l]) / n.
__kernel void bn_mean(__global float *mean, int offm, __global const float *part, int offp,
                      int C, int L, int n)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    float s = 0.0f;
    for (int l = 0; l < L; l++)
        s += part[offp + c * L + l];
    mean[offm + c] = s / (float)n;
}

// Pass 1 of the variance: part[j] = sum_b (x[b*CL + j] - mean[c])^2.
__kernel void bn_colsq(__global float *part, int offp, __global const float *x, int offx,
                       __global const float *mean, int offm, int B, int C, int L)
{
    int j = get_global_id(0);
    int CL = C * L;
    if (j >= CL)
        return;
    float m = mean[offm + j / L];
    float s = 0.0f;
    for (int b = 0; b < B; b++) {
        float d = x[offx + b * CL + j] - m;
        s += d * d;
    }
    part[offp + j] = s;
}

// Pass 2 of the variance: invstd = 1/sqrt(var_biased + eps); running stats
// r = (1-m)*r + m*batch with the unbiased variance (has_running != 0).
__kernel void bn_var(__global float *invstd, int offi, __global float *rmean, int offrm,
                     __global float *rvar, int offrv, __global const float *mean, int offm,
                     __global const float *part, int offp, int C, int L, int n,
                     int has_running, float momentum, float eps)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    float s = 0.0f;
    for (int l = 0; l < L; l++)
        s += part[offp + c * L + l];
    float var = s / (float)n;
    invstd[offi + c] = 1.0f / sqrt(var + eps);
    if (has_running) {
        float unbiased = s / (float)(n - 1);
        rmean[offrm + c] = momentum * mean[offm + c] + (1.0f - momentum) * rmean[offrm + c];
        rvar[offrv + c] = momentum * unbiased + (1.0f - momentum) * rvar[offrv + c];
    }
}

// The alternative scheme, kept so bench/bench_ops_norm.c can measure it: one
// work-item per channel loops over all n values (two passes).
__kernel void bn_stats_channel(__global float *mean, int offm, __global float *invstd,
                               int offi, __global const float *x, int offx, int B, int C,
                               int L, float eps)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    int CL = C * L, n = B * L;
    float s = 0.0f;
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            s += x[offx + b * CL + c * L + l];
    float m = s / (float)n;
    float q = 0.0f;
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            float d = x[offx + b * CL + c * L + l] - m;
            q += d * d;
        }
    mean[offm + c] = m;
    invstd[offi + c] = 1.0f / sqrt(q / (float)n + eps);
}

// y = (x - mean) * (invstd * gamma) + beta. Work-item (j, chunk) does rows
// b = chunk*rows .. +rows-1 of position j.
__kernel void bn_norm(__global float *y, int offy, __global const float *x, int offx,
                      __global const float *mean, int offm, __global const float *invstd,
                      int offi, __global const float *gamma, int offg,
                      __global const float *beta, int offb, int B, int C, int L, int rows)
{
    int j = get_global_id(0), b0 = get_global_id(1) * rows;
    int CL = C * L;
    if (j >= CL || b0 >= B)
        return;
    int c = j / L;
    float m = mean[offm + c], a = invstd[offi + c] * gamma[offg + c], bb = beta[offb + c];
    int b1 = min(B, b0 + rows);
    for (int b = b0; b < b1; b++)
        y[offy + b * CL + j] = (x[offx + b * CL + j] - m) * a + bb;
}

// Eval mode: the same with the running statistics.
__kernel void bn_norm_eval(__global float *y, int offy, __global const float *x, int offx,
                           __global const float *rmean, int offm, __global const float *rvar,
                           int offv, __global const float *gamma, int offg,
                           __global const float *beta, int offb, int B, int C, int L, int rows,
                           float eps)
{
    int j = get_global_id(0), b0 = get_global_id(1) * rows;
    int CL = C * L;
    if (j >= CL || b0 >= B)
        return;
    int c = j / L;
    float m = rmean[offm + c], a = 1.0f / sqrt(rvar[offv + c] + eps) * gamma[offg + c];
    float bb = beta[offb + c];
    int b1 = min(B, b0 + rows);
    for (int b = b0; b < b1; b++)
        y[offy + b * CL + j] = (x[offx + b * CL + j] - m) * a + bb;
}

// ---- backward ---------------------------------------------------------------
// Per channel the backward needs sum_dy and dot = sum dy*(x - mean). Both
// are parked in dx itself at the channel's two "home" elements, k = 0 and 1
// in the channel's (b, l) order: pos(k) = (k / L)*CL + c*L + k % L. The main
// dx kernel skips the homes; a last per-channel kernel reads the two sums and
// then overwrites its own homes, so no work-item reads what another writes.

// Pass 1: part[j] = sum_b dy, part[CL + j] = sum_b dy*(x - mean[c]) (B >= 2).
__kernel void bn_bwd_partial(__global float *part, int offp, __global const float *dy,
                             int offdy, __global const float *x, int offx,
                             __global const float *mean, int offm, int B, int C, int L)
{
    int j = get_global_id(0);
    int CL = C * L;
    if (j >= CL)
        return;
    float m = mean[offm + j / L];
    float s = 0.0f, d = 0.0f;
    for (int b = 0; b < B; b++) {
        float g = dy[offdy + b * CL + j];
        s += g;
        d += g * (x[offx + b * CL + j] - m);
    }
    part[offp + j] = s;
    part[offp + CL + j] = d;
}

// Pass 2 per channel: sums over l of the partials (raw != 0: B == 1, read
// dy and x directly), dbeta (+)= sum_dy, dgamma (+)= dot*invstd, and the two
// sums into the channel's homes of dx (which lie inside its own partials).
__kernel void bn_bwd_reduce(__global float *dx, int offdx, __global float *dgamma, int offdg,
                            __global float *dbeta, int offdb, __global const float *dy,
                            int offdy, __global const float *x, int offx,
                            __global const float *mean, int offm,
                            __global const float *invstd, int offi, int B, int C, int L,
                            int raw, int want_dg, int want_db, int accumulate)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    int CL = C * L;
    float s = 0.0f, d = 0.0f;
    if (raw) {
        float m = mean[offm + c];
        for (int l = 0; l < L; l++) {
            float g = dy[offdy + c * L + l];
            s += g;
            d += g * (x[offx + c * L + l] - m);
        }
    } else {
        for (int l = 0; l < L; l++) {
            s += dx[offdx + c * L + l];
            d += dx[offdx + CL + c * L + l];
        }
    }
    if (want_db)
        dbeta[offdb + c] = accumulate ? dbeta[offdb + c] + s : s;
    if (want_dg) {
        float g = d * invstd[offi + c];
        dgamma[offdg + c] = accumulate ? dgamma[offdg + c] + g : g;
    }
    dx[offdx + c * L] = s;                          // home k = 0
    dx[offdx + (1 / L) * CL + c * L + 1 % L] = d;  // home k = 1
}

// PyTorch's formula (batch_norm_backward_cpu): with k = dot*invstd^2/n,
// dx = (dy - sum_dy/n - (x - mean)*k) * invstd * gamma.
inline float bn_dx_(float g, float xv, float m, float sum_dy, float dot, float is, float w,
                    int n)
{
    float k = dot * is * is / (float)n;
    return (g - sum_dy / (float)n - (xv - m) * k) * is * w;
}

// Pass 3: every element except the two homes of its channel.
__kernel void bn_bwd_dx(__global float *dx, int offdx, __global const float *dy, int offdy,
                        __global const float *x, int offx, __global const float *mean,
                        int offm, __global const float *invstd, int offi,
                        __global const float *gamma, int offg, int B, int C, int L, int rows)
{
    int j = get_global_id(0), b0 = get_global_id(1) * rows;
    int CL = C * L;
    if (j >= CL || b0 >= B)
        return;
    int c = j / L, l = j - c * L, n = B * L;
    float sum_dy = dx[offdx + c * L];
    float dot = dx[offdx + (1 / L) * CL + c * L + 1 % L];
    float m = mean[offm + c], is = invstd[offi + c], w = gamma[offg + c];
    int b1 = min(B, b0 + rows);
    for (int b = b0; b < b1; b++) {
        if (b * L + l < 2)
            continue; // a home, written by bn_bwd_home
        int i = b * CL + j;
        dx[offdx + i] = bn_dx_(dy[offdy + i], x[offx + i], m, sum_dy, dot, is, w, n);
    }
}

// Pass 4 per channel: the two homes, after reading the sums parked there.
__kernel void bn_bwd_home(__global float *dx, int offdx, __global const float *dy, int offdy,
                          __global const float *x, int offx, __global const float *mean,
                          int offm, __global const float *invstd, int offi,
                          __global const float *gamma, int offg, int B, int C, int L)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    int CL = C * L, n = B * L;
    int p0 = c * L, p1 = (1 / L) * CL + c * L + 1 % L;
    float sum_dy = dx[offdx + p0], dot = dx[offdx + p1];
    float m = mean[offm + c], is = invstd[offi + c], w = gamma[offg + c];
    dx[offdx + p0] = bn_dx_(dy[offdy + p0], x[offx + p0], m, sum_dy, dot, is, w, n);
    dx[offdx + p1] = bn_dx_(dy[offdy + p1], x[offx + p1], m, sum_dy, dot, is, w, n);
}
