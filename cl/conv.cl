// Kernels around the GEMMs of Conv2d / ConvTranspose2d: im2col, col2im as a
// gather (one work-item per image pixel, fixed kh/kw order, no atomics), the
// (B, C, L) <-> (C, B*L) layout permutes and the deterministic bias gradient.
//
// Column matrix: col[r*N + n], r = (c*K + kh)*K + kw (rows, C*K*K of them),
// n = b*L + oh*Wo + ow (N = B*L columns, L = Ho*Wo). Image: (B, C, H, W).
// Pixel (oh, ow) of the column grid reads image pixel (oh*S - P + kh, ow*S - P + kw).
// Host code checks that every index fits in an int.

// col (R, N) <- im2col(img); zero where the window leaves the image (padding).
// One work-item per (row r, sample b, output row oh) writes the Wo contiguous
// columns of that output row, so the index divisions happen once per run.
__kernel void im2col(__global float *col, int col_off, __global const float *img, int img_off,
                     int B, int C, int H, int W, int K, int S, int P, int Ho, int Wo)
{
    int bo = get_global_id(0);
    int r = get_global_id(1);
    if (bo >= B * Ho || r >= C * K * K)
        return;
    int b = bo / Ho, oh = bo - b * Ho;
    int kw = r % K, t = r / K;
    int kh = t % K, c = t / K;
    int L = Ho * Wo, N = B * L;
    __global float *out = col + col_off + r * N + b * L + oh * Wo;
    int ih = oh * S - P + kh;
    if (ih < 0 || ih >= H) {
        for (int ow = 0; ow < Wo; ow++)
            out[ow] = 0.0f;
        return;
    }
    __global const float *row = img + img_off + ((b * C + c) * H + ih) * W;
    for (int ow = 0; ow < Wo; ow++) {
        int iw = ow * S - P + kw;
        out[ow] = (iw >= 0 && iw < W) ? row[iw] : 0.0f;
    }
}

// colT (N, R) <- the transpose of im2col(img): one work-item per column n
// (sample b, output pixel oh, ow) writes its R contiguous entries.
__kernel void im2col_t(__global float *colT, int col_off, __global const float *img,
                       int img_off, int B, int C, int H, int W, int K, int S, int P, int Ho,
                       int Wo)
{
    int n = get_global_id(0);
    int L = Ho * Wo;
    if (n >= B * L)
        return;
    int b = n / L, l = n - b * L;
    int oh = l / Wo, ow = l - oh * Wo;
    int R = C * K * K;
    __global float *out = colT + col_off + n * R;
    __global const float *x = img + img_off + b * C * H * W;
    int ih0 = oh * S - P, iw0 = ow * S - P;
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < K; kh++) {
            int ih = ih0 + kh;
            int in_h = ih >= 0 && ih < H;
            for (int kw = 0; kw < K; kw++) {
                int iw = iw0 + kw;
                out[(c * K + kh) * K + kw] =
                    (in_h && iw >= 0 && iw < W) ? x[(c * H + ih) * W + iw] : 0.0f;
            }
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
    int kh0 = (h + P) % S, oh0 = (h + P) / S; // first tap kh0 reads output row oh0
    float b0 = has_bias ? bias[bias_off + c] : 0.0f;
    __global const float *cb = col + col_off + c * K * K * N + b * L;
    __global float *out = img + img_off + row * W;
    int kw0 = P % S, ow0 = P / S; // the same along w, for w = 0
    for (int w = 0; w < W; w++) {
        float s = 0.0f;
        for (int kh = kh0, oh = oh0; kh < K && oh >= 0; kh += S, oh--) {
            if (oh >= Ho)
                continue;
            __global const float *cr = cb + kh * K * N + oh * Wo;
            for (int kw = kw0, ow = ow0; kw < K && ow >= 0; kw += S, ow--)
                if (ow < Wo)
                    s += cr[kw * N + ow];
        }
        out[w] = has_bias ? s + b0 : s;
        if (++kw0 == S) // w + 1 + P = S*ow0 + kw0
            kw0 = 0, ow0++;
    }
}

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

// Bias gradient, stage 1: part[c*B + b] = sum_l dy[b, c, l] (l ascending).
__kernel void bias_grad_partial(__global float *part, int part_off, __global const float *dy,
                                int dy_off, int B, int C, int L)
{
    int i = get_global_id(0);
    if (i >= B * C)
        return;
    int c = i / B, b = i - c * B;
    __global const float *p = dy + dy_off + (b * C + c) * L;
    float s = 0.0f;
    for (int l = 0; l < L; l++)
        s += p[l];
    part[part_off + i] = s;
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
