// Kernels around the GEMMs of Conv2d / ConvTranspose2d: im2col_t, col2im as a
// gather (one work-item per image pixel, fixed kh/kw order, no atomics), the
// (B, C, L) <-> (C, B*L) layout permutes and the deterministic bias gradient.
//
// Column matrix: col[r*N + n], r = (c*K + kh)*K + kw (rows, C*K*K of them),
// n = b*L + oh*Wo + ow (N = B*L columns, L = Ho*Wo). Image: (B, C, H, W).
// Pixel (oh, ow) of the column grid reads image pixel (oh*S - P + kh, ow*S - P + kw).
// Host code checks that every index fits in an int.
//
// The host builds these kernels with the window as constants (-DCONV_K=4
// -DCONV_S=2 -DCONV_P=1): the tap loops then have fixed trip counts that the
// compiler unrolls, instead of runtime-bounded loops PoCL runs scalar. The
// K, S, P arguments are still passed (and used when not specialised).
#ifdef CONV_K
#define KK_ CONV_K
#define SS_ CONV_S
#define PP_ CONV_P
#define UNROLL_ _Pragma("unroll") // a fixed trip count: unroll the tap loops
#else
#define KK_ K
#define SS_ S
#define PP_ P
#define UNROLL_ // a run-time trip count: "#pragma unroll" would only warn
#endif

// GLF_NT (glf_nt_stores; cl/features.h): im2col_t writes a column matrix
// the host calls large (its nt argument, glf_nt_output) with non-temporal
// stores where a vector is aligned: the line is not read from memory first
// and does not displace the caches. Same values either way.

// colT (N, R) <- the transpose of im2col(img): one work-item per column n
// (sample b, output pixel oh, ow) writes its R entries. tn = R: colT is a
// plain row-major matrix. tn < R (a multiple of K*K dividing R): colT in
// column panels tn wide (glf_gemm_panels), entry (n, r) at
// (r / tn)*N*tn + n*tn + r % tn, which the GEMM reads without packing. A
// 4x4 window (built as constants) goes out as one float16 per channel.
__kernel void im2col_t(__global float *colT, int col_off, __global const float *img,
                       int img_off, int B, int C, int H, int W, int K, int S, int P, int Ho,
                       int Wo, int tn, int nt)
{
    int n = get_global_id(0);
    int L = Ho * Wo;
    if (n >= B * L)
        return;
    int b = n / L, l = n - b * L;
    int oh = l / Wo, ow = l - oh * Wo;
    const int cpt = tn / (KK_ * KK_); // channels per panel
    __global float *out = colT + col_off + n * tn;
    __global const float *x = img + img_off + b * C * H * W;
    int ih0 = oh * SS_ - PP_, iw0 = ow * SS_ - PP_;
#if defined(CONV_K) && CONV_K == 4
    for (int c = 0, cp = 0; c < C; c++) {
        float t[16];
        UNROLL_ for (int kh = 0; kh < KK_; kh++) {
            int ih = ih0 + kh;
            int in_h = ih >= 0 && ih < H;
            UNROLL_ for (int kw = 0; kw < KK_; kw++) {
                int iw = iw0 + kw;
                t[kh * KK_ + kw] = (in_h && iw >= 0 && iw < W) ? x[(c * H + ih) * W + iw] : 0.0f;
            }
        }
        __global float *o = out + cp * 16;
        float16 v = vload16(0, t);
#if GLF_NT_OK
        if (nt && ((ulong)o & 63) == 0)
            GLF_NT_STORE(v, (__global float16 *)o);
        else
#endif
            vstore16(v, 0, o);
        if (++cp == cpt) // the next panel
            cp = 0, out += B * L * tn;
    }
    return;
#endif
    for (int c = 0, cp = 0; c < C; c++) {
        for (int kh = 0; kh < KK_; kh++) {
            int ih = ih0 + kh;
            int in_h = ih >= 0 && ih < H;
            for (int kw = 0; kw < KK_; kw++) {
                int iw = iw0 + kw;
                out[(cp * KK_ + kh) * KK_ + kw] =
                    (in_h && iw >= 0 && iw < W) ? x[(c * H + ih) * W + iw] : 0.0f;
            }
        }
        if (++cp == cpt) // the next panel
            cp = 0, out += B * L * tn;
    }
}

// img <- col2im(col) (+ bias[c] when has_bias): every image pixel sums the
// column entries that im2col would have copied from it, kh then kw ascending.
// Pixels no window touches get exactly 0 (or the bias). One work-item per
// image row (b, c, h) writes its W pixels; the first tap and its output
// position are carried from pixel to pixel, so no division in the loops
// (integer division dominated this kernel on PoCL).
__kernel void col2im(__global float *img, int img_off, __global const float *col, int col_off,
                     __global const float *bias, int bias_off, int has_bias, int B, int C,
                     int H, int W, int K, int S, int P, int Ho, int Wo)
{
    int row = get_global_id(0);
    if (row >= B * C * H)
        return;
    int h = row % H, t = row / H;
    int c = t % C, b = t / C;
    int L = Ho * Wo, N = B * L;
    int kh0 = (h + PP_) % SS_, oh0 = (h + PP_) / SS_; // first tap kh0 reads output row oh0
    const int NT = (KK_ + SS_ - 1) / SS_;               // taps per dimension, at most
    float b0 = has_bias ? bias[bias_off + c] : 0.0f;
    __global const float *cb = col + col_off + c * KK_ * KK_ * N + b * L;
    __global float *out = img + img_off + row * W;
    int kw0 = PP_ % SS_, ow0 = PP_ / SS_; // the same along w, for w = 0
    for (int w = 0; w < W; w++) {
        float s = 0.0f;
        UNROLL_
        for (int i = 0; i < NT; i++) { // kh ascending, then kw ascending
            int kh = kh0 + i * SS_, oh = oh0 - i;
            if (kh < KK_ && oh >= 0 && oh < Ho) {
                __global const float *cr = cb + kh * KK_ * N + oh * Wo;
                UNROLL_
                for (int j = 0; j < NT; j++) {
                    int kw = kw0 + j * SS_, ow = ow0 - j;
                    if (kw < KK_ && ow >= 0 && ow < Wo)
                        s += cr[kw * N + ow];
                }
            }
        }
        out[w] = has_bias ? s + b0 : s;
        if (++kw0 == SS_) // w + 1 + P = S*ow0 + kw0
            kw0 = 0, ow0++;
    }
}

// The SIMT kernel family's im2col_t and col2im (GPUs, llvmpipe): one
// work-item per element written, in the order the elements are stored, so
// neighbouring work-items write neighbouring floats (and read nearly
// neighbouring ones). The same values as the kernels above, in the same
// order of summation (col2im: kh, then kw ascending).

// colT (N, R) in panels tn wide (tn = R: plain), element (n, r) at
// (r / tn)*N*tn + n*tn + r % tn: work-item e writes float e.
__kernel void im2col_t_elem(__global float *colT, int col_off, __global const float *img,
                            int img_off, int B, int C, int H, int W, int K, int S, int P, int Ho,
                            int Wo, int tn)
{
    const int e = get_global_id(0), L = Ho * Wo, N = B * L, R = C * KK_ * KK_;
    if (e >= N * R)
        return;
    const int q = e / (N * tn), in_q = e - q * N * tn; // panel q
    const int n = in_q / tn, r = q * tn + (in_q - n * tn);
    const int b = n / L, l = n - b * L, oh = l / Wo, ow = l - oh * Wo;
    const int kw = r % KK_, kh = (r / KK_) % KK_, c = r / (KK_ * KK_);
    const int ih = oh * SS_ - PP_ + kh, iw = ow * SS_ - PP_ + kw;
    colT[col_off + e] = ih >= 0 && ih < H && iw >= 0 && iw < W
                            ? img[img_off + ((b * C + c) * H + ih) * W + iw]
                            : 0.0f;
}

// img <- col2im(col) (+ bias[c]): work-item e computes image pixel e
// (b, c, h, w) from col (R, N), kh then kw ascending.
__kernel void col2im_px(__global float *img, int img_off, __global const float *col, int col_off,
                        __global const float *bias, int bias_off, int has_bias, int B, int C,
                        int H, int W, int K, int S, int P, int Ho, int Wo)
{
    const int e = get_global_id(0);
    if (e >= B * C * H * W)
        return;
    const int w = e % W, t = e / W, h = t % H, u = t / H, c = u % C, b = u / C;
    const int L = Ho * Wo, N = B * L;
    __global const float *cb = col + col_off + c * KK_ * KK_ * N + b * L;
    float s = 0.0f;
    UNROLL_
    for (int kh = 0; kh < KK_; kh++) {
        const int oh_s = h + PP_ - kh; // = oh * S
        if (oh_s < 0 || oh_s % SS_ != 0 || oh_s / SS_ >= Ho)
            continue;
        UNROLL_
        for (int kw = 0; kw < KK_; kw++) {
            const int ow_s = w + PP_ - kw;
            if (ow_s >= 0 && ow_s % SS_ == 0 && ow_s / SS_ < Wo)
                s += cb[(kh * KK_ + kw) * N + (oh_s / SS_) * Wo + ow_s / SS_];
        }
    }
    img[img_off + e] = has_bias ? s + bias[bias_off + c] : s;
}

#ifdef CONV_H
// col2im with the image side as constants too (-DCONV_H, -DCONV_W): one
// work-item per image row (b, c, h), as col2im, but walking the taps
// instead of the pixels: for each kh that reaches row h (kh ascending),
// each kw (ascending) adds its run of Wo column entries into the row, whose
// W sums stay in registers (every index is a constant once the loops
// unroll). Every pixel receives its taps in col2im's order (kh, then kw),
// from 0, so the bits are the same.
#define HO_ ((CONV_H + 2 * CONV_P - CONV_K) / CONV_S + 1)
#define WO_ ((CONV_W + 2 * CONV_P - CONV_K) / CONV_S + 1)
__kernel void col2im_fixed(__global float *img, int img_off, __global const float *col,
                           int col_off, __global const float *bias, int bias_off, int has_bias,
                           int B, int C)
{
    // (b, c, h). Launched as (1, rows): with one work-item along dimension
    // 0 PoCL runs each row's unrolled loops as they are; vectorised across
    // rows (a 1-D launch), neighbouring rows take other taps and the loads
    // became masked gathers: the step's two big calls took 15-23 ms, against
    // 10-13 ms so.
    int row = get_global_id(1);
    if (row >= B * C * CONV_H)
        return;
    int h = row % CONV_H, t = row / CONV_H;
    int c = t % C, b = t / C;
    float acc[CONV_W];
    #pragma unroll
    for (int w = 0; w < CONV_W; w++)
        acc[w] = 0.0f;
    const int N = B * HO_ * WO_;
    __global const float *cb = col + col_off + c * KK_ * KK_ * N + b * HO_ * WO_;
    #pragma unroll
    for (int kh = 0; kh < KK_; kh++) {
        const int u = h + PP_ - kh; // = oh * S for the output row oh that tap kh reads
        if (u < 0 || u % SS_ != 0 || u / SS_ >= HO_)
            continue;
        __global const float *cr = cb + kh * KK_ * N + (u / SS_) * WO_;
        #pragma unroll
        for (int kw = 0; kw < KK_; kw++)
            #pragma unroll
            for (int ow = 0; ow < WO_; ow++) {
                const int iw = ow * SS_ - PP_ + kw;
                if (iw >= 0 && iw < CONV_W)
                    acc[iw] += cr[kw * N + ow];
            }
    }
    float b0 = has_bias ? bias[bias_off + c] : 0.0f;
    __global float *out = img + img_off + row * CONV_W;
    #pragma unroll
    for (int w = 0; w < CONV_W; w++)
        out[w] = has_bias ? acc[w] + b0 : acc[w];
}
#endif

// out (C, B*L) <- in (B, C, L); one work-item per (c, b) copies L floats.
__kernel void bcl_to_cbl(__global float *out, int out_off, __global const float *in, int in_off,
                         int B, int C, int L)
{
    int i = get_global_id(0);
    if (i >= C * B)
        return;
    int c = i / B, b = i - c * B;
    __global float *o = out + out_off + (c * B + b) * L;
    __global const float *p = in + in_off + (b * C + c) * L;
    for (int l = 0; l < L; l++)
        o[l] = p[l];
}

// out (B, C, L) <- in (C, B*L) (+ bias[c] when has_bias); one work-item per (b, c).
__kernel void cbl_to_bcl(__global float *out, int out_off, __global const float *in, int in_off,
                         __global const float *bias, int bias_off, int has_bias, int B, int C,
                         int L)
{
    int i = get_global_id(0);
    if (i >= B * C)
        return;
    int b = i / C, c = i - b * C;
    float b0 = has_bias ? bias[bias_off + c] : 0.0f;
    __global float *o = out + out_off + i * L;
    __global const float *p = in + in_off + (c * B + b) * L;
    for (int l = 0; l < L; l++)
        o[l] = has_bias ? p[l] + b0 : p[l];
}

// Bias gradient, stage 1: part[c*B + b] = sum_l dy[b, c, l], as four running
// sums over l = 0, 4, 8, ... (and 1, 5, ...; ...) added pairwise, then the tail.
__kernel void bias_grad_partial(__global float *part, int part_off, __global const float *dy,
                                int dy_off, int B, int C, int L)
{
    int i = get_global_id(0);
    if (i >= B * C)
        return;
    int c = i / B, b = i - c * B;
    __global const float *p = dy + dy_off + (b * C + c) * L;
    // Four running sums over the row (explicit vectors: PoCL then streams
    // each row instead of gathering across work-items), then the tail.
    float4 s4 = (float4)(0.0f);
    int l = 0;
    for (; l + 4 <= L; l += 4)
        s4 += vload4(0, p + l);
    float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
    for (; l < L; l++)
        s += p[l];
    part[part_off + i] = s;
}

// The SIMT family's bias gradient in one pass: db[c] (+)= sum over b and l of
// dy[b, c, l], a work-group of CONV_WG_SUM work-items per channel: work-item
// t sums k = t, t + CONV_WG_SUM, ... of k = b*L + l in order (neighbours
// read neighbouring floats of a row), then a fixed tree in local memory.
#ifndef CONV_WG_SUM
#define CONV_WG_SUM 64
#endif
__kernel __attribute__((reqd_work_group_size(CONV_WG_SUM, 1, 1)))
void bias_grad_wg(__global float *db, int db_off, __global const float *dy, int dy_off, int B,
                  int C, int L, int accumulate)
{
    __local float t[CONV_WG_SUM];
    const int c = get_group_id(0), lid = get_local_id(0), n = B * L;
    float s = 0.0f;
    if (c < C)
        for (int k = lid; k < n; k += CONV_WG_SUM) {
            const int b = k / L, l = k - b * L;
            s += dy[dy_off + (b * C + c) * L + l];
        }
    t[lid] = s;
    for (int h = CONV_WG_SUM / 2; h > 0; h /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < h)
            t[lid] += t[lid + h];
    }
    if (lid == 0 && c < C)
        db[db_off + c] = accumulate ? db[db_off + c] + t[0] : t[0];
}

// Stage 2: db[c] = (accumulate ? db[c] : 0) + sum_b part[c*B + b] (b ascending).
__kernel void bias_grad_final(__global float *db, int db_off, __global const float *part,
                              int part_off, int B, int C, int accumulate)
{
    int c = get_global_id(0);
    if (c >= C)
        return;
    __global const float *p = part + part_off + c * B;
    float s = 0.0f;
    for (int b = 0; b < B; b++)
        s += p[b];
    db[db_off + c] = accumulate ? db[db_off + c] + s : s;
}

// out (B, L, C) <- in (B, C, L): a transpose of every sample's (C, L) block.
// With B = 1 it transposes a weight matrix (C, L) -> (L, C). One work-item
// per (b, l) writes C contiguous floats.
__kernel void bcl_to_blc(__global float *out, int out_off, __global const float *in, int in_off,
                         int B, int C, int L)
{
    int i = get_global_id(0);
    if (i >= B * L)
        return;
    int b = i / L, l = i - b * L;
    __global float *o = out + out_off + i * C;
    __global const float *p = in + in_off + b * C * L + l;
    for (int c = 0; c < C; c++)
        o[c] = p[c * L];
}
