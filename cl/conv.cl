// Kernels around the GEMMs of Conv2d / ConvTranspose2d: im2col, col2im as a
// gather (one work-item per image pixel, fixed kh/kw order, no atomics), the
// (B, C, L) <-> (C, B*L) layout permutes and the deterministic bias gradient.
//
// Column matrix: col[r*N + n], r = (c*K + kh)*K + kw (rows, C*K*K of them),
// n = b*L + oh*Wo + ow (N = B*L columns, L = Ho*Wo). Image: (B, C, H, W).
// Pixel (oh, ow) of the column grid reads image pixel (oh*S - P + kh, ow*S - P + kw).
// Host code checks that every index fits in an int.

// col <- im2col(img); zero where the window leaves the image (padding).
// col_t = 1 writes the transpose, colT (N, R): colT[n*R + r].
__kernel void im2col(__global float *col, int col_off, int col_t, __global const float *img,
                     int img_off, int B, int C, int H, int W, int K, int S, int P, int Ho, int Wo)
{
    // Dimension 0 runs along the output's contiguous index: n, or r for colT.
    int n = get_global_id(col_t ? 1 : 0);
    int r = get_global_id(col_t ? 0 : 1);
    int L = Ho * Wo, N = B * L;
    if (n >= N || r >= C * K * K)
        return;
    int b = n / L, l = n - b * L;
    int oh = l / Wo, ow = l - oh * Wo;
    int kw = r % K, t = r / K;
    int kh = t % K, c = t / K;
    int ih = oh * S - P + kh, iw = ow * S - P + kw;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W)
        v = img[img_off + ((b * C + c) * H + ih) * W + iw];
    col[col_off + (col_t ? n * C * K * K + r : r * N + n)] = v;
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
