// BatchNorm (PyTorch semantics) over x (B, C, L), L = H*W (1 for BatchNorm1d),
// CL = C*L, n = B*L. Statistics are reduced in a fixed order in two passes:
// per position j = c*L + l a loop over the batch, then per channel a loop
// over l. No atomics, no barriers: two runs give the same bits.
// PoCL does not vectorise across work-items whose body holds a loop, so the
// kernels that loop over the batch take BN_VW adjacent positions per
// work-item as one explicit vector; a ragged end is done lane by lane (the
// same order per position, so the result does not depend on the path).

#ifndef BN_VW
#define BN_VW 16 // the host passes -DBN_VW to match its launch geometry
#endif
// The kernels that reduce over the batch (bn_colsum, bn_colsq,
// bn_bwd_partial) take BN_NV vectors, BN_RUN adjacent positions, per
// work-item: each of its B rows is then read as a BN_RUN-float run. With
// one vector (64 bytes) a work-item touched one line in each of B pages,
// more than the hardware prefetchers follow, and its loads waited on
// memory one by one (6-8 GB/s); with 8 (512 bytes) 19-21 GB/s (a harness
// on (256, 12544) and (256, 6272), data from memory). The sums keep their
// order over the batch: the same bits.
#ifndef BN_NV
#define BN_NV 8
#endif
#define BN_RUN (BN_VW * BN_NV)
// The elementwise kernels (bn_norm, bn_norm_eval, bn_bwd_dx) take BN_ENV
// vectors per work-item and batch chunk, and read each row of the chunk as
// one run of BN_ENV*BN_VW floats, for the same reason (BN_ENV 1: a vector
// per row, 64 bytes in each of the chunk's rows).
#ifndef BN_ENV
#define BN_ENV 8
#endif
// The SIMT kernel family builds these kernels with BN_VW = BN_NV = BN_ENV = 1:
// one position per work-item, so neighbouring work-items read neighbouring
// floats of each batch row (coalesced); its per-channel sums over l are
// work-group reductions (bn_chan_sum_wg). The order of every sum over the
// batch does not depend on these widths.
#if BN_VW == 1
#define floatv float
#define vloadv(o, p) ((p)[o])
#define vstorev(v, o, p) ((p)[o] = (v))
#else
#define BN_CAT_(a, b) a##b
#define BN_CAT(a, b) BN_CAT_(a, b)
#define floatv BN_CAT(float, BN_VW)
#define vloadv BN_CAT(vload, BN_VW)
#define vstorev BN_CAT(vstore, BN_VW)
#endif

// Per-lane copies of a per-channel value for positions j0 .. j0+BN_VW-1.
// Built as a vector literal where BN_VW is 16: through a private array
// (vloadv of t[]) LLVM split the vector into eight 2-float pieces and
// every use of it cost ~20 instructions instead of 1 (bn_colsq ran at
// half bn_colsum's speed, seen in the disassembly).
#if BN_VW == 16
#define BN_LANE_(k) v[(j0 + (k)) / L]
floatv bn_lanes_(__global const float *v, int j0, int L)
{
    if (L == 1)
        return vloadv(0, v + j0);
    return (floatv)(BN_LANE_(0), BN_LANE_(1), BN_LANE_(2), BN_LANE_(3), BN_LANE_(4),
                    BN_LANE_(5), BN_LANE_(6), BN_LANE_(7), BN_LANE_(8), BN_LANE_(9),
                    BN_LANE_(10), BN_LANE_(11), BN_LANE_(12), BN_LANE_(13), BN_LANE_(14),
                    BN_LANE_(15));
}
#undef BN_LANE_
// A private array t of BN_VW floats as one vector, for the same reason.
#define BN_VEC_(t)                                                                           \
    ((floatv)((t)[0], (t)[1], (t)[2], (t)[3], (t)[4], (t)[5], (t)[6], (t)[7], (t)[8], (t)[9], \
              (t)[10], (t)[11], (t)[12], (t)[13], (t)[14], (t)[15]))
#elif BN_VW == 1
#define BN_VEC_(t) ((t)[0])
float bn_lanes_(__global const float *v, int j0, int L)
{
    return v[j0 / L];
}
#else
#define BN_VEC_(t) vloadv(0, (t))
floatv bn_lanes_(__global const float *v, int j0, int L)
{
    float t[BN_VW];
    for (int k = 0; k < BN_VW; k++)
        t[k] = v[(j0 + k) / L];
    return vloadv(0, t);
}
#endif

// Pass 1 of the mean: part[j] = sum_b x[b*CL + j]. Work-item: positions
// j0 .. j0 + BN_RUN - 1 (fewer at the end: whole vectors, then lane by lane).
__kernel void bn_colsum(__global float *part, int offp, __global const float *x, int offx,
                        int B, int CL)
{
    int j0 = get_global_id(0) * BN_RUN;
    if (j0 >= CL)
        return;
    __global const float *xp = x + offx;
    if (j0 + BN_RUN <= CL) {
        floatv s[BN_NV];
        _Pragma("unroll") for (int v = 0; v < BN_NV; v++)
            s[v] = (floatv)(0.0f);
        for (int b = 0; b < B; b++)
            _Pragma("unroll") for (int v = 0; v < BN_NV; v++)
                s[v] += vloadv(0, xp + b * CL + j0 + v * BN_VW);
        _Pragma("unroll") for (int v = 0; v < BN_NV; v++)
            vstorev(s[v], 0, part + offp + j0 + v * BN_VW);
        return;
    }
    int j = j0;
    for (; j + BN_VW <= CL; j += BN_VW) {
        floatv s = (floatv)(0.0f);
        for (int b = 0; b < B; b++)
            s += vloadv(0, xp + b * CL + j);
        vstorev(s, 0, part + offp + j);
    }
    for (; j < CL; j++) {
        float s = 0.0f;
        for (int b = 0; b < B; b++)
            s += xp[b * CL + j];
        part[offp + j] = s;
    }
}

// The SIMT family's pass 2 of either statistic: out[c] = sum_l part[c*L + l]
// (to be divided by n in bn_mean / bn_var with L = 1), one work-group of
// BN_WG work-items per channel: work-item t sums l = t, t + BN_WG, ... in
// order, then a fixed tree in local memory. The order depends only on L.
#ifndef BN_WG
#define BN_WG 64
#endif
__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1)))
void bn_chan_sum_wg(__global float *out, int offo, __global const float *part, int offp, int C,
                    int L)
{
    __local float t[BN_WG];
    const int c = get_group_id(0), lid = get_local_id(0);
    float s = 0.0f;
    if (c < C)
        for (int l = lid; l < L; l += BN_WG)
            s += part[offp + c * L + l];
    t[lid] = s;
    for (int h = BN_WG / 2; h > 0; h /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < h)
            t[lid] += t[lid + h];
    }
    if (lid == 0 && c < C)
        out[offo + c] = t[0];
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
// Work-items as in bn_colsum.
__kernel void bn_colsq(__global float *part, int offp, __global const float *x, int offx,
                       __global const float *mean, int offm, int B, int C, int L)
{
    int j0 = get_global_id(0) * BN_RUN, CL = C * L;
    if (j0 >= CL)
        return;
    __global const float *xp = x + offx;
    if (j0 + BN_RUN <= CL) {
        floatv m[BN_NV], s[BN_NV];
        _Pragma("unroll") for (int v = 0; v < BN_NV; v++) {
            m[v] = bn_lanes_(mean + offm, j0 + v * BN_VW, L);
            s[v] = (floatv)(0.0f);
        }
        for (int b = 0; b < B; b++)
            _Pragma("unroll") for (int v = 0; v < BN_NV; v++) {
                floatv d = vloadv(0, xp + b * CL + j0 + v * BN_VW) - m[v];
                s[v] += d * d;
            }
        _Pragma("unroll") for (int v = 0; v < BN_NV; v++)
            vstorev(s[v], 0, part + offp + j0 + v * BN_VW);
        return;
    }
    int j = j0;
    for (; j + BN_VW <= CL; j += BN_VW) {
        floatv m = bn_lanes_(mean + offm, j, L), s = (floatv)(0.0f);
        for (int b = 0; b < B; b++) {
            floatv d = vloadv(0, xp + b * CL + j) - m;
            s += d * d;
        }
        vstorev(s, 0, part + offp + j);
    }
    for (; j < CL; j++) {
        float m = mean[offm + j / L], s = 0.0f;
        for (int b = 0; b < B; b++) {
            float d = xp[b * CL + j] - m;
            s += d * d;
        }
        part[offp + j] = s;
    }
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

// y = (x - m) * a + bb per channel: train mode with the batch statistics
// (a = invstd * gamma), eval mode with the running ones (a = gamma /
// sqrt(rvar + eps)). relu: then ReLU as cl/act.cl (v < 0 ? 0 : v).
// The per-lane m, a, bb of positions j0 .. j0+BN_VW-1 (clamped to CL-1).
void bn_affine_consts_(float *tm, float *ta, float *tb, __global const float *mean,
                       __global const float *scale, __global const float *gamma,
                       __global const float *beta, int j0, int CL, int L, float eps, int eval)
{
    for (int k = 0; k < BN_VW; k++) {
        int c = min(j0 + k, CL - 1) / L;
        float is = eval ? 1.0f / sqrt(scale[c] + eps) : scale[c];
        tm[k] = mean[c];
        ta[k] = is * gamma[c];
        tb[k] = beta[c];
    }
}

// Positions j0 .. j0+BN_VW-1 (fewer at the end: lane by lane), rows b0 .. b1-1.
void bn_affine_vec_(__global float *y, __global const float *x, __global const float *mean,
                    __global const float *scale, __global const float *gamma,
                    __global const float *beta, int j0, int b0, int b1, int CL, int L,
                    float eps, int eval, int relu)
{
    int nj = min(BN_VW, CL - j0);
    float tm[BN_VW], ta[BN_VW], tb[BN_VW];
    bn_affine_consts_(tm, ta, tb, mean, scale, gamma, beta, j0, CL, L, eps, eval);
    if (nj == BN_VW) {
        floatv m = BN_VEC_(tm), a = BN_VEC_(ta), bb = BN_VEC_(tb);
        for (int b = b0; b < b1; b++) {
            floatv r = (vloadv(0, x + b * CL + j0) - m) * a + bb;
            if (relu)
                r = select(r, (floatv)(0.0f), r < (floatv)(0.0f));
            vstorev(r, 0, y + b * CL + j0);
        }
        return;
    }
    for (int b = b0; b < b1; b++)
        for (int k = 0; k < nj; k++) {
            float r = (x[b * CL + j0 + k] - tm[k]) * ta[k] + tb[k];
            y[b * CL + j0 + k] = relu && r < 0.0f ? 0.0f : r;
        }
}

// Work-item (run, chunk): BN_ENV vectors from position run*BN_ENV*BN_VW,
// rows chunk*rows .. +rows-1; a whole run row by row, the end of CL (a
// partial run) vector by vector. Each element gets the same expression
// either way.
void bn_affine_(__global float *y, __global const float *x, __global const float *mean,
                __global const float *scale, __global const float *gamma,
                __global const float *beta, int B, int C, int L, int rows, float eps, int eval,
                int relu)
{
    int j0 = get_global_id(0) * (BN_ENV * BN_VW), b0 = get_global_id(1) * rows, CL = C * L;
    if (j0 >= CL || b0 >= B)
        return;
    int b1 = min(B, b0 + rows);
    if (BN_ENV > 1 && j0 + BN_ENV * BN_VW <= CL) {
        floatv m[BN_ENV], a[BN_ENV], bb[BN_ENV];
        _Pragma("unroll") for (int v = 0; v < BN_ENV; v++) {
            float tm[BN_VW], ta[BN_VW], tb[BN_VW];
            bn_affine_consts_(tm, ta, tb, mean, scale, gamma, beta, j0 + v * BN_VW, CL, L, eps,
                              eval);
            m[v] = BN_VEC_(tm), a[v] = BN_VEC_(ta), bb[v] = BN_VEC_(tb);
        }
        for (int b = b0; b < b1; b++)
            _Pragma("unroll") for (int v = 0; v < BN_ENV; v++) {
                int i = b * CL + j0 + v * BN_VW;
                floatv r = (vloadv(0, x + i) - m[v]) * a[v] + bb[v];
                if (relu)
                    r = select(r, (floatv)(0.0f), r < (floatv)(0.0f));
                vstorev(r, 0, y + i);
            }
        return;
    }
    for (int j = j0; j < min(CL, j0 + BN_ENV * BN_VW); j += BN_VW)
        bn_affine_vec_(y, x, mean, scale, gamma, beta, j, b0, b1, CL, L, eps, eval, relu);
}

__kernel void bn_norm(__global float *y, int offy, __global const float *x, int offx,
                      __global const float *mean, int offm, __global const float *invstd,
                      int offi, __global const float *gamma, int offg,
                      __global const float *beta, int offb, int B, int C, int L, int rows,
                      int relu)
{
    bn_affine_(y + offy, x + offx, mean + offm, invstd + offi, gamma + offg, beta + offb, B, C,
               L, rows, 0.0f, 0, relu);
}

__kernel void bn_norm_eval(__global float *y, int offy, __global const float *x, int offx,
                           __global const float *rmean, int offm, __global const float *rvar,
                           int offv, __global const float *gamma, int offg,
                           __global const float *beta, int offb, int B, int C, int L, int rows,
                           float eps)
{
    bn_affine_(y + offy, x + offx, rmean + offm, rvar + offv, gamma + offg, beta + offb, B, C,
               L, rows, eps, 1, 0);
}

// ---- backward ---------------------------------------------------------------
// Per channel the backward needs sum_dy and dot = sum dy*(x - mean). Both
// are parked in dx itself at the channel's two "home" elements, k = 0 and 1
// in the channel's (b, l) order: pos(k) = (k / L)*CL + c*L + k % L. The main
// dx kernel skips the homes; a last per-channel kernel reads the two sums and
// then overwrites its own homes, so no work-item reads what another writes.
// bn_bwd_dx and bn_bwd_home take n: B*L, or the count over every process's
// batch when the host has summed the two sums across processes.

// Pass 1: part[j] = sum_b dy, part[CL + j] = sum_b dy*(x - mean[c]) (B >= 2).
// Work-items as in bn_colsum.
__kernel void bn_bwd_partial(__global float *part, int offp, __global const float *dy,
                             int offdy, __global const float *x, int offx,
                             __global const float *mean, int offm, int B, int C, int L)
{
    int j0 = get_global_id(0) * BN_RUN, CL = C * L;
    if (j0 >= CL)
        return;
    __global const float *gp = dy + offdy, *xp = x + offx;
    if (j0 + BN_RUN <= CL) {
        floatv m[BN_NV], s[BN_NV], d[BN_NV];
        _Pragma("unroll") for (int v = 0; v < BN_NV; v++) {
            m[v] = bn_lanes_(mean + offm, j0 + v * BN_VW, L);
            s[v] = (floatv)(0.0f);
            d[v] = (floatv)(0.0f);
        }
        for (int b = 0; b < B; b++)
            _Pragma("unroll") for (int v = 0; v < BN_NV; v++) {
                int i = b * CL + j0 + v * BN_VW;
                floatv g = vloadv(0, gp + i);
                s[v] += g;
                d[v] += g * (vloadv(0, xp + i) - m[v]);
            }
        _Pragma("unroll") for (int v = 0; v < BN_NV; v++) {
            vstorev(s[v], 0, part + offp + j0 + v * BN_VW);
            vstorev(d[v], 0, part + offp + CL + j0 + v * BN_VW);
        }
        return;
    }
    int j = j0;
    for (; j + BN_VW <= CL; j += BN_VW) {
        floatv m = bn_lanes_(mean + offm, j, L), s = (floatv)(0.0f), d = (floatv)(0.0f);
        for (int b = 0; b < B; b++) {
            floatv g = vloadv(0, gp + b * CL + j);
            s += g;
            d += g * (vloadv(0, xp + b * CL + j) - m);
        }
        vstorev(s, 0, part + offp + j);
        vstorev(d, 0, part + offp + CL + j);
    }
    for (; j < CL; j++) {
        float m = mean[offm + j / L], s = 0.0f, d = 0.0f;
        for (int b = 0; b < B; b++) {
            float g = gp[b * CL + j];
            s += g;
            d += g * (xp[b * CL + j] - m);
        }
        part[offp + j] = s;
        part[offp + CL + j] = d;
    }
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
float bn_dx_(float g, float xv, float m, float sum_dy, float dot, float is, float w, int n)
{
    float k = dot * is * is / (float)n;
    return (g - sum_dy / (float)n - (xv - m) * k) * (is * w);
}

// Pass 3: every element except the two homes of its channel; per lane
// dx = (g - sum_dy/n - (x - m)*k) * is * w. The per-lane m, k, sum_dy/n,
// is*w and l of positions j0 .. j0+BN_VW-1 (clamped to CL-1):
void bn_dx_consts_(float *tm, float *tk, float *tc, float *tf, int *tl, __global const float *o,
                   __global const float *mean, __global const float *invstd,
                   __global const float *gamma, int j0, int CL, int L, int n)
{
    for (int k = 0; k < BN_VW; k++) {
        int j = min(j0 + k, CL - 1), c = j / L;
        float sum_dy = o[c * L], dot = o[(1 / L) * CL + c * L + 1 % L];
        float is = invstd[c];
        tm[k] = mean[c];
        tk[k] = dot * is * is / (float)n;
        tc[k] = sum_dy / (float)n;
        tf[k] = is * gamma[c];
        tl[k] = j - c * L;
    }
}

// Positions j0 .. j0+BN_VW-1 (fewer at the end: lane by lane), rows b0 .. b1-1.
void bn_bwd_dx_vec_(__global float *o, __global const float *gp, __global const float *xp,
                    __global const float *mean, __global const float *invstd,
                    __global const float *gamma, int j0, int b0, int b1, int CL, int L, int n)
{
    int nj = min(BN_VW, CL - j0);
    float tm[BN_VW], tk[BN_VW], tc[BN_VW], tf[BN_VW];
    int tl[BN_VW];
    bn_dx_consts_(tm, tk, tc, tf, tl, o, mean, invstd, gamma, j0, CL, L, n);
    if (nj == BN_VW) {
        floatv m = BN_VEC_(tm), kk = BN_VEC_(tk), c0 = BN_VEC_(tc), f = BN_VEC_(tf);
        for (int b = b0; b < b1; b++) {
            int i = b * CL + j0;
            floatv r = (vloadv(0, gp + i) - c0 - (vloadv(0, xp + i) - m) * kk) * f;
            if (b * L >= 2) {
                vstorev(r, 0, o + i);
                continue;
            }
            float t[BN_VW]; // a row holding homes: store lane by lane, skipping them
            vstorev(r, 0, t);
            for (int k = 0; k < BN_VW; k++)
                if (b * L + tl[k] >= 2)
                    o[i + k] = t[k];
        }
        return;
    }
    for (int b = b0; b < b1; b++)
        for (int k = 0; k < nj; k++) {
            if (b * L + tl[k] < 2)
                continue;
            int i = b * CL + j0 + k;
            o[i] = (gp[i] - tc[k] - (xp[i] - tm[k]) * tk[k]) * tf[k];
        }
}

// Work-item (run, chunk) as in bn_affine_; the rows that hold homes (b*L <
// 2: the first one or two of the batch) always vector by vector.
__kernel void bn_bwd_dx(__global float *dx, int offdx, __global const float *dy, int offdy,
                        __global const float *x, int offx, __global const float *mean,
                        int offm, __global const float *invstd, int offi,
                        __global const float *gamma, int offg, int B, int C, int L, int rows,
                        int n)
{
    int j0 = get_global_id(0) * (BN_ENV * BN_VW), b0 = get_global_id(1) * rows, CL = C * L;
    if (j0 >= CL || b0 >= B)
        return;
    int b1 = min(B, b0 + rows);
    __global float *o = dx + offdx;
    __global const float *gp = dy + offdy, *xp = x + offx;
    mean += offm, invstd += offi, gamma += offg;
    if (BN_ENV > 1 && j0 + BN_ENV * BN_VW <= CL) {
        int bh = max(b0, min(b1, (2 + L - 1) / L)); // rows b0 .. bh-1 hold homes
        for (int j = j0; j < j0 + BN_ENV * BN_VW && bh > b0; j += BN_VW)
            bn_bwd_dx_vec_(o, gp, xp, mean, invstd, gamma, j, b0, bh, CL, L, n);
        floatv m[BN_ENV], kk[BN_ENV], c0[BN_ENV], f[BN_ENV];
        _Pragma("unroll") for (int v = 0; v < BN_ENV; v++) {
            float tm[BN_VW], tk[BN_VW], tc[BN_VW], tf[BN_VW];
            int tl[BN_VW];
            bn_dx_consts_(tm, tk, tc, tf, tl, o, mean, invstd, gamma, j0 + v * BN_VW, CL, L, n);
            m[v] = BN_VEC_(tm), kk[v] = BN_VEC_(tk), c0[v] = BN_VEC_(tc), f[v] = BN_VEC_(tf);
        }
        for (int b = bh; b < b1; b++)
            _Pragma("unroll") for (int v = 0; v < BN_ENV; v++) {
                int i = b * CL + j0 + v * BN_VW;
                floatv r = (vloadv(0, gp + i) - c0[v] - (vloadv(0, xp + i) - m[v]) * kk[v]) * f[v];
                vstorev(r, 0, o + i);
            }
        return;
    }
    for (int j = j0; j < min(CL, j0 + BN_ENV * BN_VW); j += BN_VW)
        bn_bwd_dx_vec_(o, gp, xp, mean, invstd, gamma, j, b0, b1, CL, L, n);
}

// Pass 4 per channel: the two homes, after reading the sums parked there.
__kernel void bn_bwd_home(__global float *dx, int offdx, __global const float *dy, int offdy,
                          __global const float *x, int offx, __global const float *mean,
                          int offm, __global const float *invstd, int offi,
                          __global const float *gamma, int offg, int B, int C, int L, int n)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    int CL = C * L;
    int p0 = c * L, p1 = (1 / L) * CL + c * L + 1 % L;
    float sum_dy = dx[offdx + p0], dot = dx[offdx + p1];
    float m = mean[offm + c], is = invstd[offi + c], w = gamma[offg + c];
    dx[offdx + p0] = bn_dx_(dy[offdy + p0], x[offx + p0], m, sum_dy, dot, is, w, n);
    dx[offdx + p1] = bn_dx_(dy[offdy + p1], x[offx + p1], m, sum_dy, dot, is, w, n);
}
