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
// Pixels no window touches get exactly 0 (or the bias).
__kernel void col2im(__global float *img, int img_off, __global const float *col, int col_off,
                     __global const float *bias, int bias_off, int has_bias, int B, int C,
                     int H, int W, int K, int S, int P, int Ho, int Wo)
{
    int i = get_global_id(0);
    if (i >= B * C * H * W)
        return;
    int w = i % W, t = i / W;
    int h = t % H;
    t /= H;
    int c = t % C, b = t / C;
    int L = Ho * Wo, N = B * L;
    int ph = h + P, pw = w + P;
    float s = 0.0f;
    for (int kh = ph % S; kh < K; kh += S) {
        int oh = (ph - kh) / S;
        if (oh < 0)
            break; // oh only decreases as kh grows
        if (oh >= Ho)
            continue;
        for (int kw = pw % S; kw < K; kw += S) {
            int ow = (pw - kw) / S;
            if (ow < 0)
                break;
            if (ow >= Wo)
                continue;
            s += col[col_off + ((c * K + kh) * K + kw) * N + b * L + oh * Wo + ow];
        }
    }
    if (has_bias)
        s += bias[bias_off + c];
    img[img_off + i] = s;
}

// out (C, B*L) <- in (B, C, L); i runs over out in order.
__kernel void bcl_to_cbl(__global float *out, int out_off, __global const float *in, int in_off,
                         int B, int C, int L)
{
    int i = get_global_id(0);
    int N = B * L;
    if (i >= C * N)
        return;
    int c = i / N, n = i - c * N;
    int b = n / L, l = n - b * L;
    out[out_off + i] = in[in_off + (b * C + c) * L + l];
}

// out (B, C, L) <- in (C, B*L) (+ bias[c] when has_bias); i runs over out.
__kernel void cbl_to_bcl(__global float *out, int out_off, __global const float *in, int in_off,
                         __global const float *bias, int bias_off, int has_bias, int B, int C,
                         int L)
{
    int i = get_global_id(0);
    if (i >= B * C * L)
        return;
    int l = i % L, t = i / L;
    int c = t % C, b = t / C;
    float v = in[in_off + c * (B * L) + b * L + l];
    if (has_bias)
        v += bias[bias_off + c];
    out[out_off + i] = v;
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
// With B = 1 it transposes a weight matrix (C, L) -> (L, C).
__kernel void bcl_to_blc(__global float *out, int out_off, __global const float *in, int in_off,
                         int B, int C, int L)
{
    int i = get_global_id(0);
    if (i >= B * C * L)
        return;
    int c = i % C, t = i / C;
    int l = t % L, b = t / L;
    out[out_off + i] = in[in_off + (b * C + c) * L + l];
}
