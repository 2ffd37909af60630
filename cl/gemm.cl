// Row-major SGEMM: C = alpha*op(A)*op(B) + beta*C, in two kernel families
// that share the packing and the split-K reduction. CPU (PoCL, drivers that
// compile a work-item to vector code): gemm_main, register blocking, no
// local memory, no barriers: each work-item owns GEMM_RM rows x (GEMM_NV
// float-GEMM_VW vectors) of C, which lets the compiler keep the block in
// vector registers. SIMT (-DGEMM_SIMT=1: GPUs, llvmpipe): gemm_tile, one
// work-group per GEMM_RM x GEMM_TN tile, the tile's panels staged in local
// memory GEMM_TK steps of k at a time, each work-item a small block.

#ifndef GEMM_RM
#define GEMM_RM 8 // rows of C per work-item
#endif
#ifndef GEMM_VW
#define GEMM_VW 16 // vector width along N (1, 2, 4, 8 or 16)
#endif
#ifndef GEMM_NV
#define GEMM_NV 2 // vectors per row per work-item
#endif

#define GEMM_TN (GEMM_VW * GEMM_NV) // columns of C per work-item

// GEMM_PF > 0 (glf_gemm sets it on CPU-like devices whose probe accepted the
// builtin, GLF_GEMM_PREFETCH; cl/features.h): gemm_main prefetches op(B)'s
// tile row GEMM_PF steps of k ahead (and packed A's). It changes no result.
#if defined(GEMM_PF) && GEMM_PF > 0
#define PF_(p) GLF_PREFETCH(p)
#else
#define PF_(p) ((void)0)
#undef GEMM_PF
#define GEMM_PF 0
#endif

// GLF_NT (glf_nt_stores; cl/features.h): gemm_main writes a C the host calls
// large (its nt argument, glf_nt_output) with non-temporal stores where a
// vector is aligned: the line is not read from memory first and does not
// displace the caches. Same values either way.

#define CAT2_(a, b) a##b
#define CAT2(a, b) CAT2_(a, b)
#if GEMM_VW == 1
#define VT float
#define VLOAD_(p) (*(p))
#define VSTORE_(v, p) (*(p) = (v))
#else
#define VT CAT2(float, GEMM_VW)
#define VLOAD_(p) CAT2(vload, GEMM_VW)(0, (p))
#define VSTORE_(v, p) CAT2(vstore, GEMM_VW)((v), 0, (p))
#endif

// The epilogue of one element (glf_gemm_ex): epi bit 0 adds bias[j] (the
// caller passes the index: C's column, or with bit 2 its row), bit 1
// applies ReLU as cl/act.cl does (v < 0 ? 0 : v: NaN and -0 kept).
inline float epilogue_(float x, __global const float *bias, int j, int epi)
{
    if (epi & 1)
        x += bias[j];
    return (epi & 2) && x < 0.0f ? 0.0f : x;
}

// Both operands are first packed into panels (pack_a; pack_b, or pack_bt
// for a transposed B), so the main kernel streams contiguous memory
// whatever the transposes, leading dimensions (a 4 KiB row stride aliases
// in the caches) and edges are:
//   Ap[rb][k][r] = op(A)[rb*RM + r][k]   (rows past M are 0)
//   Bp[t][k][c]  = op(B)[k][t*TN + c]    (columns past N are 0)
// op(A)[i][k] is A[i*sai + k*sak]: A's transpose is a run-time stride.
// op(B)[k][j] is B[k*sbk + j] (pack_b) or B[j*ldb + k] (pack_bt).

// Work-item (k, rb) packs RM rows of column k of op(A). Column k lies at
// A + (k / kt)*kts + (k % kt)*sak: kt = K for a plain matrix; a matrix
// stored in column panels (glf_gemm_panels: kt columns each, kts floats
// apart) has kt = the panel width.
__kernel void pack_a(int M, int K, __global const float *restrict A, int offA, int sai,
                     int sak, int kt, int kts, __global float *restrict Ap, int offAp)
{
    const int k = get_global_id(0);
    const int rb = get_global_id(1);
    if (k >= K || rb * GEMM_RM >= M)
        return;
    A += offA + (k / kt) * kts + (k % kt) * sak;
    Ap += offAp + (rb * K + k) * GEMM_RM;
    for (int r = 0; r < GEMM_RM; r++) {
        const int i = rb * GEMM_RM + r;
        Ap[r] = i < M ? A[i * sai] : 0.0f;
    }
}

// Work-item (t, k) packs row k of column tile t of an untransposed op(B)
// (its rows contiguous). Column j lies at B + (j / jt)*jts + j % jt: jt >= N
// for a plain matrix; op(B) stored in column panels (jt columns each, jts
// floats apart) has jt = the panel width (a (batch, C, L) tensor is its
// (C, batch*L) matrix in panels L wide). A work-group is a run of rows of
// one tile (PACK_ROWS_ in gemm_glf.c), the next one the same rows of the
// next tile, so B's rows and the packed panels are both walked in order
// (the (k, t) order of pack_bt ran at 4-10 GB/s here: 4 KiB apart rows, or
// gathers). A row of the tile inside one panel moves as GEMM_NV vectors;
// one across panels as one contiguous run per panel.
__kernel void pack_b(int K, int N, __global const float *restrict B, int offB, int sbk, int jt,
                     int jts, __global float *restrict Bp, int offBp)
{
    const int t = get_global_id(0);
    const int k = get_global_id(1);
    if (k >= K || t * GEMM_TN >= N)
        return;
    Bp += offBp + (t * K + k) * GEMM_TN;
    const int j0 = t * GEMM_TN;
    if (jt >= N) /* a plain matrix: one panel */
        jt = N, jts = 0;
    int jin = j0 % jt;
    __global const float *b_ = B + offB + k * sbk + (j0 / jt) * jts + jin;
    const int nc = min(GEMM_TN, N - j0);
    if (nc == GEMM_TN && jin + GEMM_TN <= jt) {
        for (int v = 0; v < GEMM_NV; v++)
            VSTORE_(VLOAD_(b_ + v * GEMM_VW), Bp + v * GEMM_VW);
        return;
    }
    int c = 0;
    while (c < nc) {
        const int run = min(nc - c, jt - jin);
        for (int u = 0; u < run; u++)
            Bp[c + u] = b_[u];
        c += run;
        b_ += jts - jin, jin = 0;
    }
    for (; c < GEMM_TN; c++)
        Bp[c] = 0.0f;
}

// Work-item (k, t) packs row k of column tile t of a transposed op(B):
// op(B)[k][j] = B[j*ldb + k]. Adjacent work-items take adjacent k, so
// PoCL's vectorisation across dimension 0 reads whole lines of B.
__kernel void pack_bt(int K, int N, __global const float *restrict B, int offB, int ldb,
                      __global float *restrict Bp, int offBp)
{
    const int k = get_global_id(0);
    const int t = get_global_id(1);
    if (k >= K || t * GEMM_TN >= N)
        return;
    B += offB + k;
    Bp += offBp + (t * K + k) * GEMM_TN;
    const int j0 = t * GEMM_TN;
    for (int c = 0; c < GEMM_TN; c++) {
        const int j = j0 + c;
        Bp[c] = j < N ? B[j * ldb] : 0.0f;
    }
}

// pack_b for an op(B) that is the im2col matrix of an image (glf_gemm_im2col):
// col[r][n] = img[b][c][oh*S - P + kh][ow*S - P + kw] (0 outside), r = (c, kh,
// kw), n = (b, oh, ow); op(B) = col (k = r, j = n) or its transpose (k = n,
// j = r). Work-item (k, t) writes row k of column tile t; the index along j
// advances incrementally (no division in the loop).
__kernel void pack_b_im2col(int K, int N, __global const float *restrict img, int offImg,
                            int B, int C, int H, int W, int KK, int S, int P, int Ho, int Wo,
                            int transposed, __global float *restrict Bp, int offBp)
{
    const int k = get_global_id(0);
    const int t = get_global_id(1);
    if (k >= K || t * GEMM_TN >= N)
        return;
    Bp += offBp + (t * K + k) * GEMM_TN;
    img += offImg;
    const int j0 = t * GEMM_TN;
    int r = transposed ? j0 : k, n = transposed ? k : j0;
    int kw = r % KK, kh = (r / KK) % KK, c = r / (KK * KK);
    int ow = n % Wo, oh = (n / Wo) % Ho, b = n / (Wo * Ho);
    int ih = oh * S - P + kh, iw = ow * S - P + kw;
    __global const float *plane = img + (b * C + c) * H * W;
    for (int cc = 0; cc < GEMM_TN; cc++) {
        const int ok = j0 + cc < N && b < B && c < C && ih >= 0 && ih < H && iw >= 0 && iw < W;
        Bp[cc] = ok ? plane[ih * W + iw] : 0.0f;
        if (transposed) { // next r: kw, then kh, then c
            kw++, iw++;
            if (kw == KK) {
                kw = 0, iw = ow * S - P, kh++, ih++;
                if (kh == KK)
                    kh = 0, ih = oh * S - P, c++, plane += H * W;
            }
        } else {          // next n: ow, then oh, then b
            ow++, iw += S;
            if (ow == Wo) {
                ow = 0, iw = kw - P, oh++, ih += S;
                if (oh == Ho)
                    oh = 0, ih = kh - P, b++, plane += C * H * W;
            }
        }
    }
}

#ifndef GEMM_SIMT
// Work-item (t, rb) computes C rows [rb*RM, rb*RM+RM) x columns
// [t*TN, t*TN+TN) from the packed panels over the K slice
// [s*kc, s*kc+kc), s = get_global_id(2); stores skip rows and columns
// outside C. With several slices (split K) each writes its partial product
// to C + s*cstride (alpha 1, beta 0) and gemm_reduce sums them.
//
// C as stored: element (row, col) at row*ldc + (col / ct)*cts + col % ct;
// ct >= its columns for a plain matrix, else C is in column panels ct wide
// (glf_gemm_panels: ldc = ct, cts = rows*ct).
//
// The operands are read through strides, so a packed panel and a matrix
// used in place (when packing would not pay: no 4 KiB aliasing, no
// transposed B, whole tiles) take the same code:
//   op(A)[rb*RM + r][k] = Ap[rb*psa + (k / kt)*kts + (k % kt)*ka + r*ra]
//   op(B)[k][t*TN + c]  = Bp[t*psb + k*kb_ + c]
// kt = K unless A in place is stored in column panels (glf_gemm_panels,
// kt columns each, kts floats apart).
__kernel void gemm_main(int M, int N, int K, int kc, float alpha, float beta,
                        __global const float *restrict Ap, int offAp, int psa, int ka, int ra,
                        int kt, int kts,
                        __global const float *restrict Bp, int offBp, int psb, int kb_,
                        __global float *C, int offC, int ldc, int cstride, int ntiles,
                        int ct, int cts, __global const float *bias, int offBias, int epi,
                        int ctr, int nt)
{
    const int t = get_global_id(0);
    const int rb = get_global_id(1);
    const int sl = get_global_id(2);
    if (t >= ntiles || rb * GEMM_RM >= M)
        return;
    const int kb = sl * kc, ke = min(K, kb + kc);
    C += sl * cstride;
    Ap += offAp + rb * psa;
    Bp += offBp + t * psb;
    VT acc[GEMM_RM][GEMM_NV];
    #pragma unroll
    for (int r = 0; r < GEMM_RM; r++)
        #pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            acc[r][v] = (VT)(0.0f);
    // One step k of the register block: acc[r][v] += A_AT(r) * (the NV vectors at bk)[v].
#define BLOCK_STEP_(bk, A_AT)                                                                \
    do {                                                                                     \
        VT b[GEMM_NV];                                                                       \
        _Pragma("unroll") for (int v = 0; v < GEMM_NV; v++) b[v] = VLOAD_((bk) + v * GEMM_VW); \
        _Pragma("unroll") for (int r = 0; r < GEMM_RM; r++) {                                \
            const float a = A_AT(r);                                                         \
            _Pragma("unroll") for (int v = 0; v < GEMM_NV; v++)                              \
                acc[r][v] = fma((VT)(a), b[v], acc[r][v]);                                   \
        }                                                                                    \
    } while (0)
    // Prefetch the tile's row of op(B) GEMM_PF steps ahead, a 64-byte line at a time.
#define PF_B_(bk) _Pragma("unroll") for (int c_ = 0; c_ < GEMM_TN; c_ += 16) PF_((bk) + GEMM_PF * kb_ + c_)
    if (ka == GEMM_RM && ra == 1) {
        // A packed (the usual case): its RM values of step k sit together,
        // so every load is one pointer plus a constant. With the run-time
        // strides below LLVM spends ~8 integer operations per k on
        // addresses, competing with the FMAs for ports.
        __global const float *a_ = Ap + kb * GEMM_RM, *b_ = Bp + kb * kb_;
#define A_PACKED_(r) a_[r]
        for (int k = kb; k < ke; k++, a_ += GEMM_RM, b_ += kb_) {
            PF_B_(b_);
            PF_(a_ + 2 * GEMM_PF * GEMM_RM);
            BLOCK_STEP_(b_, A_PACKED_);
        }
    } else if (kt >= K) {
#define A_STRIDED_(r) Ap[k * ka + (r) * ra]
        for (int k = kb; k < ke; k++) {
            PF_B_(Bp + k * kb_);
            BLOCK_STEP_(Bp + k * kb_, A_STRIDED_);
        }
    } else if (ka == 1 && ra == GEMM_TN && kt == GEMM_TN && kb % GEMM_TN == 0) {
        // A in column panels the tile width wide (ConvTranspose2d's input
        // gradient reads colT so, written in the panels its weight gradient
        // takes as B): within a panel, row r of the block lies at the
        // constant offset r*TN from a pointer that steps along k. The
        // general loop below, with run-time offsets and a test per k, took
        // 24 ms for that 12544x128x1024 product, this one 13-18.
        __global const float *ap = Ap + (kb / GEMM_TN) * kts;
        for (int k0 = kb; k0 < ke; k0 += GEMM_TN, ap += kts) {
            const int n = min(GEMM_TN, ke - k0);
            __global const float *a_ = ap, *b_ = Bp + k0 * kb_;
#define A_TPANELS_(r) a_[(r) * GEMM_TN]
            for (int kin = 0; kin < n; kin++, a_++, b_ += kb_) {
                PF_B_(b_);
                BLOCK_STEP_(b_, A_TPANELS_);
            }
        }
    } else {
        // A in column panels: a pointer that steps ka along k and jumps to
        // the next panel every kt steps.
        int kin = kb % kt;
        __global const float *a_ = Ap + (kb / kt) * kts + kin * ka;
#define A_PANELS_(r) a_[(r) * ra]
        for (int k = kb; k < ke; k++) {
            PF_B_(Bp + k * kb_);
            BLOCK_STEP_(Bp + k * kb_, A_PANELS_);
            a_ += ka;
            if (++kin == kt)
                kin = 0, a_ += kts - kt * ka;
        }
    }
#undef A_PACKED_
#undef A_STRIDED_
#undef A_PANELS_
#undef A_TPANELS_
#undef BLOCK_STEP_
#undef PF_B_
    const int i0 = rb * GEMM_RM, j0 = t * GEMM_TN, rowb = (epi & 4) != 0;
    if (ctr) {
        // C transposed: element (i, j) of this product is C's (j, i) (glf_gemm
        // computes C = A B^T as C^T = B A^T when that packs less); bias by C's
        // column i (row j with epi bit 2). In a plain C each column of the
        // block is RM contiguous floats.
        float o[GEMM_RM][GEMM_TN];
        #pragma unroll
        for (int r = 0; r < GEMM_RM; r++)
            #pragma unroll
            for (int v = 0; v < GEMM_NV; v++)
                VSTORE_(acc[r][v], o[r] + v * GEMM_VW);
        const int nr = min(GEMM_RM, M - i0), nc = min(GEMM_TN, N - j0);
        int co[GEMM_RM]; // where C's column i0 + r lies in a row
        for (int r = 0; r < GEMM_RM; r++)
            co[r] = ct >= M ? i0 + r : ((i0 + r) / ct) * cts + (i0 + r) % ct;
        for (int cc = 0; cc < nc; cc++) {
            __global float *c = C + offC + (j0 + cc) * ldc;
            for (int r = 0; r < nr; r++) {
                float x = beta != 0.0f ? fma(beta, c[co[r]], alpha * o[r][cc]) : alpha * o[r][cc];
                c[co[r]] = epilogue_(x, bias, offBias + (rowb ? j0 + cc : i0 + r), epi);
            }
        }
        return;
    }
    if (ct < N && j0 % ct + min(GEMM_TN, N - j0) > ct) {
        // C in column panels, this tile across a panel's end: element by element
        const int nr = min(GEMM_RM, M - i0), nc = min(GEMM_TN, N - j0);
        int co[GEMM_TN]; // where C's column j0 + cc lies in a row
        for (int cc = 0; cc < GEMM_TN; cc++)
            co[cc] = ((j0 + cc) / ct) * cts + (j0 + cc) % ct;
        for (int r = 0; r < nr; r++) {
            float o[GEMM_TN];
            #pragma unroll
            for (int v = 0; v < GEMM_NV; v++)
                VSTORE_(acc[r][v], o + v * GEMM_VW);
            __global float *c = C + offC + (i0 + r) * ldc;
            for (int cc = 0; cc < nc; cc++) {
                float x = beta != 0.0f ? fma(beta, c[co[cc]], alpha * o[cc]) : alpha * o[cc];
                c[co[cc]] = epilogue_(x, bias, offBias + (rowb ? i0 + r : j0 + cc), epi);
            }
        }
        return;
    }
    // C plain, or in column panels with this tile inside one (Conv2d's
    // forward writes y so; K = 16 for enc.conv1, where the element-by-element
    // stores cost most of the product): a row's columns j0 .. are contiguous.
    C += offC + (ct < N ? (j0 / ct) * cts + j0 % ct : j0);
    // The epilogue (epi bit 0: + bias[j], bit 1: ReLU) after alpha and beta.
    VT bv[GEMM_NV];
    #pragma unroll
    for (int v = 0; v < GEMM_NV; v++)
        bv[v] = (VT)(0.0f);
    if ((epi & 1) && !rowb && j0 + GEMM_TN <= N) {
        #pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            bv[v] = VLOAD_(bias + offBias + j0 + v * GEMM_VW);
    }
    #pragma unroll
    for (int r = 0; r < GEMM_RM; r++) {
        if (i0 + r >= M)
            break;
        __global float *c = C + (i0 + r) * ldc;
        if (j0 + GEMM_TN <= N) {
            #pragma unroll
            for (int v = 0; v < GEMM_NV; v++) {
                VT out = alpha * acc[r][v];
                if (beta != 0.0f) // beta == 0: C is never read (NaN must not leak)
                    out = fma((VT)(beta), VLOAD_(c + v * GEMM_VW), out);
                if (epi & 1)
                    out += rowb ? (VT)(bias[offBias + i0 + r]) : bv[v];
                if (epi & 2) // ReLU as cl/act.cl: v < 0 ? 0 : v (NaN and -0 kept)
                    out = select(out, (VT)(0.0f), out < (VT)(0.0f));
#if GLF_NT_OK
                if (nt && ((ulong)(c + v * GEMM_VW) & (sizeof(VT) - 1)) == 0) {
                    GLF_NT_STORE(out, (__global VT *)(c + v * GEMM_VW));
                    continue;
                }
#endif
                VSTORE_(out, c + v * GEMM_VW);
            }
        } else { // the last, partial tile: element by element
            float o[GEMM_TN];
            #pragma unroll
            for (int v = 0; v < GEMM_NV; v++)
                VSTORE_(acc[r][v], o + v * GEMM_VW);
            for (int cc = 0; cc < N - j0; cc++) {
                float x = beta != 0.0f ? fma(beta, c[cc], alpha * o[cc]) : alpha * o[cc];
                c[cc] = epilogue_(x, bias, offBias + (rowb ? i0 + r : j0 + cc), epi);
            }
        }
    }
}

#endif // !GEMM_SIMT

// The store of one element of C (gemm_tile, gemm_reduce): element (i, j) of
// the product, C's (j, i) when ctr (computed transposed); C as stored:
// element (row, col) at row*ldc + (col / ct)*cts + col % ct; then beta and
// the epilogue (bias by column, or by row with epi bit 2).
inline void store_one_(__global float *C, int ldc, int ct, int cts, int i, int j, float v,
                       float alpha, float beta, __global const float *bias, int offBias,
                       int epi, int ctr)
{
    const int row = ctr ? j : i, col = ctr ? i : j;
    __global float *c = C + row * ldc + (col / ct) * cts + col % ct;
    float x = beta != 0.0f ? fma(beta, *c, alpha * v) : alpha * v;
    *c = epilogue_(x, bias, offBias + ((epi & 4) ? row : col), epi);
}

#ifdef GEMM_SIMT
#ifndef GEMM_LX
#define GEMM_LX 8
#endif
#ifndef GEMM_LY
#define GEMM_LY 8
#endif
#ifndef GEMM_TK
#define GEMM_TK 16
#endif
#define WR_ (GEMM_RM / GEMM_LY) // rows of C per work-item
#define WC_ (GEMM_TN / GEMM_LX) // columns of C per work-item

// Work-group (t, rb) computes the tile C rows [rb*RM, rb*RM+RM) x columns
// [t*TN, t*TN+TN) from the packed panels (Ap[rb][k][r], Bp[t][k][c], as
// gemm_main reads them packed) over the K slice [s*kc, s*kc+kc), s =
// get_global_id(2); split K as in gemm_main. Each step stages GEMM_TK rows
// of both panels in local memory: two contiguous runs, read by the whole
// work-group in order (coalesced). Work-item (lx, ly) owns rows ly + r*LY
// and columns lx + c*LX of the tile, so neighbouring work-items read
// neighbouring floats of the staged B and store neighbouring columns of C.
// Each element is one fma chain over k in order, as in gemm_main.
__kernel __attribute__((reqd_work_group_size(GEMM_LX, GEMM_LY, 1)))
void gemm_tile(int M, int N, int K, int kc, float alpha, float beta,
               __global const float *restrict Ap, int offAp,
               __global const float *restrict Bp, int offBp,
               __global float *C, int offC, int ldc, int cstride, int ntiles,
               int ct, int cts, __global const float *bias, int offBias, int epi, int ctr)
{
    const int t = get_group_id(0), rb = get_group_id(1), sl = get_global_id(2);
    const int lx = get_local_id(0), ly = get_local_id(1), lid = ly * GEMM_LX + lx;
    __local float As[GEMM_TK * GEMM_RM], Bs[GEMM_TK * GEMM_TN];
    const int kb = sl * kc, ke = min(K, kb + kc);
    C += offC + sl * cstride;
    Ap += offAp + rb * K * GEMM_RM;
    Bp += offBp + t * K * GEMM_TN;
    float acc[WR_][WC_];
    #pragma unroll
    for (int r = 0; r < WR_; r++)
        #pragma unroll
        for (int c = 0; c < WC_; c++)
            acc[r][c] = 0.0f;
    for (int k0 = kb; k0 < ke; k0 += GEMM_TK) {
        const int n = min(GEMM_TK, ke - k0);
        for (int q = lid; q < n * GEMM_RM; q += GEMM_LX * GEMM_LY)
            As[q] = Ap[k0 * GEMM_RM + q];
        for (int q = lid; q < n * GEMM_TN; q += GEMM_LX * GEMM_LY)
            Bs[q] = Bp[k0 * GEMM_TN + q];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < n; kk++) {
            float a[WR_], b[WC_];
            #pragma unroll
            for (int r = 0; r < WR_; r++)
                a[r] = As[kk * GEMM_RM + ly + r * GEMM_LY];
            #pragma unroll
            for (int c = 0; c < WC_; c++)
                b[c] = Bs[kk * GEMM_TN + lx + c * GEMM_LX];
            #pragma unroll
            for (int r = 0; r < WR_; r++)
                #pragma unroll
                for (int c = 0; c < WC_; c++)
                    acc[r][c] = fma(a[r], b[c], acc[r][c]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    (void)ntiles;
    #pragma unroll
    for (int r = 0; r < WR_; r++) {
        const int i = rb * GEMM_RM + ly + r * GEMM_LY;
        #pragma unroll
        for (int c = 0; c < WC_; c++) {
            const int j = t * GEMM_TN + lx + c * GEMM_LX;
            if (i < M && j < N)
                store_one_(C, ldc, ct, cts, i, j, acc[r][c], alpha, beta, bias, offBias, epi,
                           ctr);
        }
    }
}
#endif // GEMM_SIMT

// C = alpha * sum_s P[s] + beta * C over nsplit dense M x N partial
// products, summed in order s = 0, 1, ... (fixed order: same bits each run).
// Then the epilogue, as in gemm_main.
__kernel void gemm_reduce(int M, int N, int nsplit, float alpha, float beta,
                          __global const float *restrict P, int offP,
                          __global float *C, int offC, int ldc, int ct, int cts,
                          __global const float *bias, int offBias, int epi, int ctr)
{
    const int j = get_global_id(0);
    const int i = get_global_id(1);
    if (j >= N || i >= M)
        return;
    P += offP + i * N + j;
    float acc = 0.0f;
    for (int s = 0; s < nsplit; s++)
        acc += P[s * M * N];
    // ctr: C transposed, C as stored and the bias's index as in gemm_main
    store_one_(C + offC, ldc, ct, cts, i, j, acc, alpha, beta, bias, offBias, epi, ctr);
}

// The epilogue alone, over C (M x N, row stride ldc): after CLBlast.
__kernel void gemm_epilogue(int M, int N, __global float *C, int offC, int ldc,
                            __global const float *bias, int offBias, int epi)
{
    const int j = get_global_id(0);
    const int i = get_global_id(1);
    if (j >= N || i >= M)
        return;
    __global float *c = C + offC + i * ldc + j;
    *c = epilogue_(*c, bias, offBias + ((epi & 4) ? i : j), epi);
}
