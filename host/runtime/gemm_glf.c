/* glf's own SGEMM (cl/gemm.cl): argument checks, the launch plan (pack
 * op(A) and op(B) into panels, then one register-blocked pass), and the validation
 * against a double-precision host reference that gates every parameter set. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"
#include "glf/rng.h"

#define PACK_LOCAL_ 16 /* work-group of the packing kernels (fixed: new sizes recompile) */
#define PACK_ROWS_ 32  /* rows of one tile per work-group of pack_b */
#define REUSE_ 16 /* pack an operand whose panels this many work-items share */
#define SPLIT_TARGET_ 64 /* split K until the launch has this many work-items */
#define SPLIT_MIN_K_ 1024 /* ... while each slice keeps at least this much of K */
#define SPLIT_PANEL_ (1 << 16) /* split K until a tile's panel slice is this many floats */
#define SPLIT_SCRATCH_ ((size_t)1 << 24) /* ... while the partial products fit in this */

/* The prefetch distance in steps of k (cl/gemm.cl, GEMM_PF): GEMM_PF_DEFAULT_
 * on CPU-like devices, 0 (none) on others; the option gemm_prefetch
 * (GLF_GEMM_PREFETCH=off or 1..256) overrides it. Either way only where the
 * device's probe accepted the builtin (glf_ctx_features). Measured on PoCL
 * (a standalone harness on packed operands, alternated, GFLOP/s
 * without/with at 16): 256x6272x1024 235-287 -> 252-304, 6272x256x1024
 * 207-256 -> 220-285, 1024x12544x128 unchanged. */
#define GEMM_PF_DEFAULT_ 16
glf_status glf_gemm_prefetch_(glf_ctx *ctx, int *pf)
{
    const glf_options *o = glf_ctx_options(ctx);
    if (o->gemm_prefetch < -1 || o->gemm_prefetch > 256)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "gemm_prefetch = %d: expected -1 (the device's default), 0 (off) or a "
                        "distance 1..256", o->gemm_prefetch);
    int d = o->gemm_prefetch >= 0 ? o->gemm_prefetch
                                  : glf_ctx_family(ctx) == GLF_FAMILY_CPU ? GEMM_PF_DEFAULT_ : 0;
    *pf = d > 0 && glf_ctx_features(ctx).prefetch ? d : 0;
    return GLF_OK;
}

glf_status glf_gemm_options_(glf_ctx *ctx, const glf_gemm_params *p, char *buf, size_t n)
{
    int pf = 0;
    GLF_TRY(glf_gemm_prefetch_(ctx, &pf));
    snprintf(buf, n, "-DGEMM_RM=%d -DGEMM_VW=%d -DGEMM_NV=%d -DGEMM_PF=%d -DGLF_PREFETCH_OK=%d "
             "-DGLF_NT=%d", p->rm, p->vw, p->nv, pf, pf > 0, glf_nt_stores(ctx));
    return GLF_OK;
}

void glf_gemm_params_format(const glf_gemm_params *p, char *buf, size_t n)
{
    snprintf(buf, n, "rm=%d vw=%d nv=%d lx=%d ly=%d", p->rm, p->vw, p->nv, p->lx, p->ly);
}

static glf_status check_params_(const glf_gemm_params *p)
{
    if (p->rm < 1 || p->rm > 16 || p->nv < 1 || p->nv > 8 || p->lx < 1 || p->lx > 256 ||
        p->ly < 1 || p->ly > 256 || p->lx * p->ly > 256 ||
        (p->vw != 1 && p->vw != 2 && p->vw != 4 && p->vw != 8 && p->vw != 16)) {
        char set[128];
        glf_gemm_params_format(p, set, sizeof set);
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "gemm params %s: expected rm 1..16, vw in {1,2,4,8,16}, nv 1..8, "
                        "lx*ly <= 256", set);
    }
    return GLF_OK;
}

/* A rows x cols matrix with row stride ld at float offset off must fit in
 * buf, and every index the kernels form must fit in an int. */
static glf_status check_matrix_(const char *name, cl_mem buf, size_t off, size_t rows,
                                size_t cols, size_t ld)
{
    if (ld < cols)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm: ld%s = %zu is smaller than the row length %zu of %s", name,
                        ld, cols, name);
    size_t bytes = 0;
    cl_int err = clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    if (err != CL_SUCCESS)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm: %s is not a valid buffer: %s", name,
                        glf_cl_error_name(err));
    size_t end = off + (rows - 1) * ld + cols; /* one past the last element */
    if (end > bytes / sizeof(float))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm: %s (%zu x %zu, ld %zu, offset %zu) needs %zu floats but "
                        "its buffer holds %zu",
                        name, rows, cols, ld, off, end, bytes / sizeof(float));
    if (end > (size_t)INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm: %s spans %zu floats, more than the kernels' int indexing "
                        "allows (%d)", name, end, INT_MAX);
    return GLF_OK;
}

/* Scratch of at least n floats for the packed panels (grown, never shrunk; the in-order
 * queue keeps a released buffer alive for commands still using it). */
static glf_status scratch_(glf_ctx *ctx, struct glf_gemm_state_ *st, size_t n)
{
    if (st->scratch_floats >= n)
        return GLF_OK;
    if (st->scratch)
        clReleaseMemObject(st->scratch);
    st->scratch = NULL;
    st->scratch_floats = 0;
    GLF_TRY(glf_buf_create(ctx, n * sizeof(float), &st->scratch));
    st->scratch_floats = n;
    return GLF_OK;
}

/* How many K slices: enough work-items to keep a few threads busy when the
 * output has few tiles, each slice at least SPLIT_MIN_K_ deep; and short
 * enough that a column tile's panel slice (tn x K/s floats) stays within
 * SPLIT_PANEL_ floats (256 KiB, a slice of L2), because the row blocks of a
 * work-group stream the same panel one after another: a 1.6 MB panel (the
 * convolution weight gradients, K = 12544) came from memory for each of
 * them. The partial products need nsplit*M*N floats of scratch, capped. */
static size_t splits_(size_t tiles, size_t K, size_t tn, size_t MN)
{
    size_t s = 1;
    while (tiles * s < SPLIT_TARGET_ && K / (2 * s) >= SPLIT_MIN_K_ && s < 64)
        s *= 2;
    while (tn * (K / s) > SPLIT_PANEL_ && K / (2 * s) >= SPLIT_MIN_K_ && s < 64 &&
           2 * s * MN <= SPLIT_SCRATCH_)
        s *= 2;
    return s;
}

/* Which operands glf's kernels pack for an M x N x K product (tb: B
 * transposed, im: op(B) an implicit im2col), and how many floats that is.
 * Pack an operand where the kernel needs it (transposed B, partial tiles),
 * where B's row stride is a multiple of 256 floats (1 KiB: it would alias
 * in the caches), or where the panel is reused by at least REUSE_
 * work-items (measured: ~15% faster then; for skinny shapes the packing
 * pass costs more than it saves, up to 3x). A work-item reads only RM rows
 * of A, so A's stride does not matter: 6272x256x1024 NT (dec.fc2's
 * forward, transposed) at lda 1024 took 15.7 ms packed and 11.1 in place
 * (glf_gemm alone, alternated). */
static size_t packs_(size_t M, size_t N, size_t K, int tb, size_t ldb, int im, size_t rm,
                     size_t tn, int *pack_a, int *pack_b)
{
    const size_t ntiles = (N + tn - 1) / tn, rblocks = (M + rm - 1) / rm;
    *pack_a = M % rm != 0 || ntiles >= REUSE_;
    *pack_b = im || tb || N % tn != 0 || ldb % 256 == 0 || rblocks >= REUSE_;
    return (*pack_a ? rblocks * rm * K : 0) + (*pack_b ? ntiles * tn * K : 0);
}

/* A panels matrix (glf_gemm_panels) must be rows x cols, whole panels, and
 * fit in its buffer; what names the operand in the message. */
static glf_status check_panels_(const char *what, const glf_gemm_panels *pn, size_t rows,
                                size_t cols)
{
    if (pn->tn < 1 || pn->cols % pn->tn != 0 || pn->rows != rows || pn->cols != cols)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm_panels_ex: %s: %zu x %zu matrix in panels %zu wide, expected "
                        "%zu x %zu, columns a multiple of the panel width", what, pn->rows,
                        pn->cols, pn->tn, rows, cols);
    return check_matrix_(what, pn->buf, pn->off, 1, rows * cols, rows * cols);
}

glf_status glf_gemm_own_(glf_ctx *ctx, struct glf_gemm_state_ *st, const glf_gemm_params *p,
                         glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K, float alpha,
                         cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb,
                         float beta, cl_mem C, size_t offC, size_t ldc,
                         const glf_gemm_epilogue *ep, const glf_gemm_im2col *ib,
                         const glf_gemm_panels *pa, const glf_gemm_panels *pb,
                         const glf_gemm_panels *pc)
{
    if (M == 0 || N == 0)
        return GLF_OK;
    if (K == 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm: K = 0, expected K >= 1 (M=%zu N=%zu)",
                        M, N);
    if (pa && (ta || (pb && tb)))
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_panels_ex: A in panels is taken "
                        "untransposed, and not with B in panels transposed");
    if (pa)
        GLF_TRY(check_panels_("op(A)", pa, M, K));
    else
        GLF_TRY(check_matrix_("A", A, offA, ta ? K : M, ta ? M : K, lda));
    if (ib) { /* op(B) is the im2col of an image: the image must fit */
        size_t R = (size_t)ib->C * ib->K * ib->K, P = (size_t)ib->B * ib->Ho * ib->Wo;
        if (ib->B < 1 || ib->C < 1 || ib->H < 1 || ib->W < 1 || ib->K < 1 || ib->S < 1 ||
            ib->P < 0 || ib->Ho < 1 || ib->Wo < 1 || (ib->transposed ? P : R) != K ||
            (ib->transposed ? R : P) != N)
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "glf_gemm_im2col_b: image (%d, %d, %d, %d), window %d stride %d pad "
                            "%d, grid %dx%d gives a %zu x %zu column matrix; the GEMM wants "
                            "op(B) %zu x %zu", ib->B, ib->C, ib->H, ib->W, ib->K, ib->S, ib->P,
                            ib->Ho, ib->Wo, R, P, K, N);
        GLF_TRY(check_matrix_("the image", ib->img, ib->off, (size_t)ib->B * ib->C * ib->H,
                              (size_t)ib->W, (size_t)ib->W));
    } else if (pb) { /* op(B) as column panels: pb's matrix or its transpose */
        GLF_TRY(check_panels_(tb ? "op(B)^T" : "op(B)", pb, tb ? N : K, tb ? K : N));
    } else {
        GLF_TRY(check_matrix_("B", B, offB, tb ? N : K, tb ? K : N, ldb));
    }
    /* C as stored: element (i, j) at i*ldc + (j / ct)*cts + j % ct */
    size_t ct = (size_t)INT_MAX, cts = 0;
    if (pc) {
        GLF_TRY(check_panels_("C", pc, M, N));
        C = pc->buf, offC = pc->off, ldc = pc->tn, ct = pc->tn, cts = M * pc->tn;
    } else {
        GLF_TRY(check_matrix_("C", C, offC, M, N, ldc));
    }
    char opt[128];
    GLF_TRY(glf_gemm_options_(ctx, p, opt, sizeof opt));
    const size_t tn = (size_t)p->vw * (size_t)p->nv, rm = (size_t)p->rm;
    /* Orientation: C, or C^T = op(B)^T op(A)^T computed with the operands
     * swapped and stored transposed (ctr), whichever packs fewer floats,
     * counting the transposed store as one more pass over C. The large
     * operand of a wide layer then becomes A, read in place by rows (few
     * column tiles), and only the small one is packed (the convolutions'
     * column matrix in their forward, the weights in the linear layers'
     * forward; not 1024x12544x128, where the store would cost more than
     * the packing saves). Same products, each summed over k in the same
     * order. Measured (bench_gemm, alternated):
     * 256x1024x6272 NT 145-169 -> 176-267 GFLOP/s as 1024x256x6272,
     * 128x12544x1024 NT 121-160 -> 160-170. */
    int pa0, pb0, pa1 = 0, pb1 = 0;
    size_t cost0 = packs_(M, N, K, tb, ldb, ib != NULL, rm, tn, &pa0, &pb0);
    /* Only with B transposed, so that the swapped A is read along its rows:
     * an A^T read in place (a new row every k) made the weight gradients
     * 1.6-2.3x slower (bench_train --by-op, alternated). Panels: A in
     * panels is never swapped; B in panels untransposed neither (panels
     * the tile width wide are its packed panels, read in place; others are
     * packed from the panels); transposed, they always become A, read a
     * panel at a time. */
    size_t cost1 = ib || !tb ? (size_t)-1
                             : packs_(N, M, K, !ta, lda, 0, rm, tn, &pa1, &pb1) + M * N;
    if (pb)
        pb0 = pb->tn != tn, cost0 = tb ? (size_t)-1 : 0;
    if (pa)
        cost1 = (size_t)-1, cost0 = 0;
    const int ctr = cost1 < cost0;
    /* A's layout: row stride sai, column stride sak, in column panels kt
     * wide and kts floats apart (kt = K: one panel, a plain matrix). */
    size_t sai = ta ? 1 : lda, sak = ta ? lda : 1, kt = K, kts = 0;
    /* B's for pack_b, untransposed: row stride sbk, panels jt wide and jts
     * apart along the columns (jt = N: a plain matrix). A transposed B is
     * always plain (pack_bt). */
    size_t sbk = ldb, jt = N, jts = 0;
    if (pa) {
        A = pa->buf, offA = pa->off;
        sai = pa->tn, sak = 1, kt = pa->tn, kts = pa->rows * pa->tn;
    }
    if (pb && ctr) { /* (B's strides are set after the swap below) */
        B = A, offB = offA, ldb = lda, A = pb->buf, offA = pb->off;
        sai = pb->tn, sak = 1, kt = pb->tn, kts = pb->rows * pb->tn;
    } else if (pb) {
        B = pb->buf, offB = pb->off;
        sbk = pb->tn, jt = pb->tn, jts = K * pb->tn;
    }
    if (ctr) {
        size_t t = M;
        M = N, N = t;
        glf_trans tt = ta;
        ta = tb ? GLF_NO_TRANS : GLF_TRANS;
        tb = tt ? GLF_NO_TRANS : GLF_TRANS;
        if (!pb) { /* (with panels, A and B are in place already) */
            cl_mem tm = A;
            A = B, B = tm;
            t = offA, offA = offB, offB = t;
            t = lda, lda = ldb, ldb = t;
            sai = ta ? 1 : lda, sak = ta ? lda : 1;
        }
        sbk = ldb, jt = N, jts = 0;
    }
    const size_t ntiles = (N + tn - 1) / tn, rblocks = (M + rm - 1) / rm;
    const int pack_a = ctr ? pa1 : pa0, pack_b = ctr ? pb1 : pb0;
    const size_t na = pack_a ? rblocks * rm * K : 0, nb = pack_b ? ntiles * tn * K : 0;
    const size_t nsplit = splits_(ntiles * rblocks, K, tn, M * N);
    const size_t np = nsplit > 1 ? nsplit * M * N : 0;
    if (na + nb + np > (size_t)INT_MAX)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm: %zux%zux%zu needs %zu floats of packed panels, more than "
                        "the kernels' int indexing allows", M, N, K, na + nb + np);
    GLF_TRY(scratch_(ctx, st, na + nb + np));
    cl_kernel kpa, kpb, km;
    GLF_TRY(glf_kernel(ctx, "gemm", "pack_a", opt, &kpa));
    GLF_TRY(glf_kernel(ctx, "gemm", "pack_b", opt, &kpb));
    GLF_TRY(glf_kernel(ctx, "gemm", "gemm_main", opt, &km));
    const size_t lp[2] = {PACK_LOCAL_, 1};
    size_t ga[2] = {K, rblocks}, gb[2] = {K, ntiles};
    if (pack_a)
        GLF_TRY(GLF_LAUNCH(ctx, kpa, 2, ga, lp, GLF_I32(M), GLF_I32(K), GLF_MEM(A),
                           GLF_I32(offA), GLF_I32(sai), GLF_I32(sak), GLF_I32(kt), GLF_I32(kts),
                           GLF_MEM(st->scratch), GLF_I32(0)));
    if (ib) {
        cl_kernel kpi;
        GLF_TRY(glf_kernel(ctx, "gemm", "pack_b_im2col", opt, &kpi));
        GLF_TRY(GLF_LAUNCH(ctx, kpi, 2, gb, lp, GLF_I32(K), GLF_I32(N), GLF_MEM(ib->img),
                           GLF_I32(ib->off), GLF_I32(ib->B), GLF_I32(ib->C), GLF_I32(ib->H),
                           GLF_I32(ib->W), GLF_I32(ib->K), GLF_I32(ib->S), GLF_I32(ib->P),
                           GLF_I32(ib->Ho), GLF_I32(ib->Wo), GLF_I32(ib->transposed),
                           GLF_MEM(st->scratch), GLF_I32(na)));
    } else if (pack_b && tb) { /* (only a plain B is transposed) */
        cl_kernel kpbt;
        GLF_TRY(glf_kernel(ctx, "gemm", "pack_bt", opt, &kpbt));
        GLF_TRY(GLF_LAUNCH(ctx, kpbt, 2, gb, lp, GLF_I32(K), GLF_I32(N), GLF_MEM(B),
                           GLF_I32(offB), GLF_I32(ldb), GLF_MEM(st->scratch), GLF_I32(na)));
    } else if (pack_b) {
        size_t gr[2] = {ntiles, (K + PACK_ROWS_ - 1) / PACK_ROWS_ * PACK_ROWS_},
               lr[2] = {1, PACK_ROWS_};
        GLF_TRY(GLF_LAUNCH(ctx, kpb, 2, gr, lr, GLF_I32(K), GLF_I32(N), GLF_MEM(B),
                           GLF_I32(offB), GLF_I32(sbk), GLF_I32(jt), GLF_I32(jts),
                           GLF_MEM(st->scratch), GLF_I32(na)));
    }
    /* Operand strides for gemm_main (see cl/gemm.cl). */
    cl_mem Am = pack_a ? st->scratch : A, Bm = pack_b ? st->scratch : B;
    size_t offAm = pack_a ? 0 : offA, offBm = pack_b ? na : offB;
    size_t psa = pack_a ? K * rm : rm * sai, ka = pack_a ? rm : sak, ra = pack_a ? 1 : sai;
    size_t kta = pack_a ? K : kt, ktsa = pack_a ? 0 : kts;
    /* B: packed panels, or column panels in place laid out as packed ones,
     * or its rows in place (ldb apart) */
    const int bpan = pack_b || (pb && !ctr);
    size_t psb = bpan ? K * tn : tn, kbs = bpan ? tn : ldb;
#define OPERANDS_                                                                            \
    GLF_MEM(Am), GLF_I32(offAm), GLF_I32(psa), GLF_I32(ka), GLF_I32(ra), GLF_I32(kta),       \
        GLF_I32(ktsa), GLF_MEM(Bm), GLF_I32(offBm), GLF_I32(psb), GLF_I32(kbs)
    /* Split K when the output has few tiles and K is long (convolution
     * weight gradients): slices run side by side in one launch (dimension
     * 2), their partial products go to scratch, then one fixed-order sum.
     * Split points depend only on the shape. */
    const size_t kc = (K + nsplit - 1) / nsplit;
    size_t g[3] = {ntiles, rblocks, nsplit}, l[3] = {(size_t)p->lx, (size_t)p->ly, 1};
    /* The epilogue: bias buffer (C itself when there is none: never read);
     * bit 2: the bias by C's row. */
    const int epi = (ep && ep->bias.buf ? 1 : 0) | (ep && ep->act == GLF_GEMM_ACT_RELU ? 2 : 0) |
                    (ep && ep->bias.buf && ep->bias_rows ? 4 : 0);
    cl_mem bias = ep && ep->bias.buf ? ep->bias.buf : C;
    size_t offBias = ep && ep->bias.buf ? ep->bias.off : 0;
    if (nsplit == 1)
        return GLF_LAUNCH(ctx, km, 3, g, l, GLF_I32(M), GLF_I32(N), GLF_I32(K), GLF_I32(K),
                          GLF_F32(alpha), GLF_F32(beta), OPERANDS_, GLF_MEM(C), GLF_I32(offC),
                          GLF_I32(ldc), GLF_I32(0), GLF_I32(ntiles), GLF_I32(ct), GLF_I32(cts),
                          GLF_MEM(bias), GLF_I32(offBias), GLF_I32(epi), GLF_I32(ctr),
                          GLF_I32(!ctr && ct >= N && glf_nt_output(ctx, M * N)));
    GLF_TRY(GLF_LAUNCH(ctx, km, 3, g, l, GLF_I32(M), GLF_I32(N), GLF_I32(K), GLF_I32(kc),
                       GLF_F32(1.0f), GLF_F32(0.0f), OPERANDS_, GLF_MEM(st->scratch),
                       GLF_I32(na + nb), GLF_I32(N), GLF_I32(M * N), GLF_I32(ntiles),
                       GLF_I32(INT_MAX), GLF_I32(0), GLF_MEM(bias), GLF_I32(0), GLF_I32(0),
                       GLF_I32(0), GLF_I32(0)));
#undef OPERANDS_
    cl_kernel kr;
    GLF_TRY(glf_kernel(ctx, "gemm", "gemm_reduce", opt, &kr));
    size_t gr[2] = {N, M}, lr[2] = {PACK_LOCAL_, 1};
    GLF_TRY(GLF_LAUNCH(ctx, kr, 2, gr, lr, GLF_I32(M), GLF_I32(N), GLF_I32(nsplit),
                       GLF_F32(alpha), GLF_F32(beta), GLF_MEM(st->scratch),
                       GLF_I32(na + nb), GLF_MEM(C), GLF_I32(offC), GLF_I32(ldc), GLF_I32(ct),
                       GLF_I32(cts), GLF_MEM(bias), GLF_I32(offBias), GLF_I32(epi),
                       GLF_I32(ctr)));
    return GLF_OK;
}

/* ---- validation ------------------------------------------------------------ */

/* Where op(B)[k][j] is in the validation's B: rows ldb apart, or column
 * panels tn wide (tn != 0) of op(B) (tb 0) or op(B)^T (tb 1), rows rows. */
static size_t b_at_(int tb, size_t k, size_t j, size_t ldb, size_t tn, size_t rows)
{
    if (!tn)
        return tb ? j * ldb + k : k * ldb + j;
    size_t x = tb ? j : k, y = tb ? k : j;
    return (y / tn) * rows * tn + x * tn + y % tn;
}

/* One case: random A, B, C (NaN when beta == 0) with padding and offsets;
 * the device result must match the double reference inside C and leave
 * every other float of C's buffer bit-identical. p NULL: CLBlast. */
glf_status glf_gemm_validate_case_(glf_ctx *ctx, struct glf_gemm_state_ *st,
                                   const glf_gemm_params *p, int ta, int tb, size_t M, size_t N,
                                   size_t K, float alpha, float beta, int epi, size_t panels,
                                   size_t apanels, size_t cpanels)
{
    const size_t pad = 3, off = 5, guard = 17;
    size_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = off + (ta ? K : M) * lda, nb = off + (tb ? N : K) * ldb;
    if (panels)
        nb = off + K * N + guard;
    if (apanels) /* op(A) = A, M x K in panels apanels wide */
        na = off + M * K + guard;
    size_t nc = off + (cpanels ? M * N : M * ldc) + guard, nbias = 3 + (M > N ? M : N);
    float *h = malloc((na + nb + 2 * nc + nbias) * sizeof *h);
    double *want = malloc(M * N * sizeof *want);
    cl_mem dA = NULL, dB = NULL, dC = NULL, dBias = NULL;
    glf_status s = GLF_OK;
    if (!h || !want) {
        s = glf_fail(GLF_ERR_NOMEM, "gemm validation: out of memory");
        goto done;
    }
    float *hA = h, *hB = h + na, *hC = h + na + nb, *got = hC + nc, *hBias = got + nc;
    glf_rng r;
    glf_rng_init(&r, 0x6e3d, M * 1000003u + N * 1009u + K + (size_t)(2 * ta + tb));
    for (size_t i = 0; i < na + nb + nc; i++)
        h[i] = 2.0f * glf_rng_uniform(&r) - 1.0f;
    for (size_t i = 0; i < nbias; i++) /* bias at float offset 3 */
        hBias[i] = 2.0f * glf_rng_uniform(&r) - 1.0f;
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++)
            hC[i] = NAN;
#define C_AT_(i, j) (cpanels ? ((j) / cpanels) * M * cpanels + (i) * cpanels + (j) % cpanels   \
                             : (i) * ldc + (j))
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double acc = 0;
            for (size_t k = 0; k < K; k++)
                acc += (double)hA[off + (apanels ? (k / apanels) * M * apanels + i * apanels +
                                                       k % apanels
                                                 : ta ? k * lda + i : i * lda + k)] *
                       (double)hB[off + b_at_(tb, k, j, ldb, panels, tb ? N : K)];
            double w = alpha * acc + (beta != 0.0f ? beta * hC[off + C_AT_(i, j)] : 0.0);
            if (epi & 1)
                w += hBias[3 + ((epi & 4) ? i : j)];
            want[i * N + j] = (epi & 2) && w < 0 ? 0.0 : w;
        }
    if ((s = glf_buf_create(ctx, na * 4, &dA)) || (s = glf_buf_create(ctx, nb * 4, &dB)) ||
        (s = glf_buf_create(ctx, nc * 4, &dC)) || (s = glf_buf_write(ctx, dA, 0, na * 4, hA)) ||
        (s = glf_buf_write(ctx, dB, 0, nb * 4, hB)) || (s = glf_buf_write(ctx, dC, 0, nc * 4, hC)) ||
        (s = glf_buf_create(ctx, nbias * 4, &dBias)) ||
        (s = glf_buf_write(ctx, dBias, 0, nbias * 4, hBias)))
        goto done;
    glf_gemm_epilogue ep = {{(epi & 1) ? dBias : NULL, 3},
                            (epi & 2) ? GLF_GEMM_ACT_RELU : GLF_GEMM_ACT_NONE, (epi & 4) != 0};
    glf_gemm_panels pb = {dB, off, tb ? N : K, tb ? K : N, panels}, pa = {dA, off, M, K, apanels};
    glf_gemm_panels pc = {dC, off, M, N, cpanels};
    if (!p && epi) {
        s = glf_fail(GLF_ERR_INVALID_ARG, "gemm validation: CLBlast cases take no epilogue");
        goto done;
    }
    if ((s = p ? glf_gemm_own_(ctx, st, p, ta ? GLF_TRANS : GLF_NO_TRANS,
                               tb ? GLF_TRANS : GLF_NO_TRANS, M, N, K, alpha, dA, off, lda, dB,
                               off, ldb, beta, dC, off, ldc, epi ? &ep : NULL, NULL,
                               apanels ? &pa : NULL, panels ? &pb : NULL, cpanels ? &pc : NULL)
               : glf_gemm_clblast_(ctx, ta ? GLF_TRANS : GLF_NO_TRANS,
                                   tb ? GLF_TRANS : GLF_NO_TRANS, M, N, K, alpha, dA, off, lda,
                                   dB, off, ldb, beta, dC, off, ldc)) ||
        (s = glf_buf_read(ctx, dC, 0, nc * 4, got)))
        goto done;
    char what[256];
    if (p) {
        char opt[128];
        if ((s = glf_gemm_options_(ctx, p, opt, sizeof opt)))
            goto done;
        snprintf(what, sizeof what, "%s lx=%d ly=%d%s%s%s%s%s", opt, p->lx, p->ly,
                 epi & 1 ? (epi & 4 ? " +bias by row" : " +bias") : "", epi & 2 ? " relu" : "",
                 panels ? " B in column panels" : "", apanels ? " A in column panels" : "",
                 cpanels ? " C in column panels" : "");
    } else {
        snprintf(what, sizeof what, "CLBlast");
    }
    for (size_t i = 0; i < nc; i++) { /* C's own elements, then the rest of its buffer */
        size_t row = 0, col = 0;
        int inside = 0;
        if (i >= off && cpanels && i - off < M * N) {
            size_t q = (i - off) / (M * cpanels), w = (i - off) % (M * cpanels);
            row = w / cpanels, col = q * cpanels + w % cpanels, inside = 1;
        } else if (i >= off && !cpanels) {
            row = (i - off) / ldc, col = (i - off) % ldc, inside = row < M && col < N;
        }
        if (!inside) {
            if (memcmp(&got[i], &hC[i], sizeof(float)) != 0) {
                s = glf_fail(GLF_ERR_NUMERIC,
                             "gemm validation (%s) %c%c %zux%zux%zu: float %zu "
                             "of C's buffer, outside C, was overwritten",
                             what, ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, i);
                goto done;
            }
            continue;
        }
        double w = want[row * N + col], e = fabs((double)got[i] - w);
        if (!(e <= 2e-6 * (double)K + 1e-4 * fabs(w))) { /* NaN fails too */
            s = glf_fail(GLF_ERR_NUMERIC,
                         "gemm validation (%s) %c%c %zux%zux%zu: C[%zu,%zu] = %g, expected %g",
                         what, ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, row, col,
                         (double)got[i], w);
            goto done;
        }
    }
#undef C_AT_
done:
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC), glf_buf_release(dBias);
    free(h), free(want);
    return s;
}

glf_status glf_gemm_validate(glf_ctx *ctx, const glf_gemm_params *p)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(glf_gemm_state_(ctx, &st));
    GLF_TRY(check_params_(p));
    /* Odd shapes around the tile sizes: partial row blocks, full tiles plus
     * an edge strip, N below one tile, K = 1, and a long K that is split. */
    size_t tn = (size_t)p->vw * (size_t)p->nv, rm = (size_t)p->rm;
    const size_t shapes[][3] = {{1, 1, 1},
                                {3 * rm + 1, 2 * tn + 3, 19},
                                {rm, tn, 1},
                                {2 * rm - 1, tn + 1, 33},
                                {rm + 1, 7, 2 * SPLIT_MIN_K_ + 37},
                                {2 * rm, 2 * tn, 37}, /* whole tiles: operands in place */
                                {rm, tn, 2 * SPLIT_MIN_K_ + 5}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int t = 0; t < 4; t++)
            GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t & 1, t >> 1, shapes[i][0], shapes[i][1],
                                   shapes[i][2], i & 1 ? 1.0f : -0.5f, (i + t) & 1 ? 0.0f : 0.75f,
                                   0, 0, 0, 0));
    /* The epilogue (bias, ReLU, both) on a partial tile, whole tiles and a
     * split K (the epilogue then runs in gemm_reduce), also transposed. */
    for (int e = 1; e <= 3; e++) {
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 1, 3 * rm + 1, 2 * tn + 3, 19, 1.0f, 0.0f,
                                        e, 0, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 1, 0, 2 * rm, 2 * tn, 37, -0.5f, 0.75f, e,
                                        0, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 0, rm + 1, 7, 2 * SPLIT_MIN_K_ + 37, 1.0f,
                                        e == 2 ? 0.5f : 0.0f, e, 0, 0, 0));
        /* an NT product that runs transposed (ctr) at the default tiles, split K */
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 1, rm + 1, tn + 7, 2 * SPLIT_MIN_K_ + 37,
                                        1.0f, e == 1 ? 0.5f : 0.0f, e, 0, 0, 0));
    }
    /* Operands in column panels (glf_gemm_panels, as the convolutions pass
     * their column matrix and (batch, C, L) tensors). op(B) untransposed:
     * B's packed panels (tile width, in place), A packed (a partial row
     * block) or in place, the epilogue, a split K; odd widths packed from
     * the panels (a tile across panel ends). op(B) transposed: read in
     * place as the A of C^T a panel at a time (odd widths, whole row
     * blocks; partial ones packed, also from panels; split K with slices
     * that start inside a panel). Both orientations of op(A). Then op(A) in
     * panels (widths 7, 13, 49 like an image's L), read in place or packed,
     * with B plain (both orientations) or in panels, and a split K. */
    for (int t = 0; t < 2; t++) {
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 0, 3 * rm + 1, 2 * tn, 19, 1.0f, 0.0f,
                                        t + 1, tn, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 0, 2 * rm, 3 * tn, 2 * SPLIT_MIN_K_ + 37,
                                        -0.5f, t ? 0.75f : 0.0f, 0, tn, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 0, 2 * rm, 5 * 7, 19, 1.0f, 0.0f, 0, 7,
                                        0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 1, 2 * tn + 3, 2 * rm, 3 * 7, 1.0f,
                                        t ? 0.0f : 0.75f, 0, 7, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 1, tn + 5, 4 * rm, 5 * 13, -0.5f, 0.0f,
                                        t + 1, 13, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 1, 7, 3 * rm + 1, 3 * 683, 1.0f,
                                        t ? 0.0f : 0.75f, 0, 683, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 1, 7, 2 * rm, 9 * 251, 1.0f, 0.0f, 0,
                                        251, 0, 0));
        /* ... the tile width wide (gemm_main's own loop for those panels):
         * whole row blocks, a partial one (packed), and split K with a
         * slice that ends, and one that starts, inside a panel */
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 1, 2 * tn + 3, 3 * rm, 5 * tn, 1.0f,
                                        t ? 0.75f : 0.0f, t + 1, tn, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 1, tn + 5, 2 * rm + 1, 3 * tn, -0.5f,
                                        0.0f, 0, tn, 0, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, t, 1, 7, 2 * rm,
                                        (2 * (SPLIT_MIN_K_ / tn) + 3) * tn, 1.0f, 0.0f, 0, tn,
                                        0, 0));
        /* op(A) in panels (t: B transposed or not) */
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, t, 2 * rm, 2 * tn + 3, 3 * 7, 1.0f,
                                        t ? 0.0f : 0.75f, t + 1, 0, 7, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, t, 3 * rm + 1, 17 * tn, 5 * 13, -0.5f,
                                        0.0f, 0, 0, 13, 0));
        GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, t, 2 * rm, 7, 43 * 49, 1.0f,
                                        t ? 0.75f : 0.0f, 0, 0, 49, 0));
    }
    /* The bias by row (bias[i]) into a plain C: as computed, and an NT
     * product that runs transposed (ctr) with a split K. */
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 0, 3 * rm + 1, 2 * tn + 3, 19, 1.0f, 0.75f, 5,
                                    0, 0, 0));
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 1, rm + 1, tn + 7, 2 * SPLIT_MIN_K_ + 37,
                                    1.0f, 0.0f, 7, 0, 0, 0));
    /* C in column panels (widths 7, 49): stored as computed, transposed (B
     * in panels transposed: ctr; an NT product), with a split K (stored by
     * the reduction), with the bias by row and ReLU. */
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 0, 2 * rm + 1, 5 * 7, 19, 1.0f, 0.75f, 0, 0,
                                    0, 7));
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 1, 0, rm + 3, 2 * 49, 2 * SPLIT_MIN_K_ + 37,
                                    -0.5f, 0.0f, 7, 0, 0, 49));
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 1, 3 * rm, 3 * 49, 3 * 7, 1.0f, 0.75f, 5, 7,
                                    0, 49));
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 1, 2 * rm + 1, 2 * 49, 3 * 683, 1.0f, 0.0f,
                                    7, 683, 0, 49));
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 1, rm + 1, 2 * 49, 2 * SPLIT_MIN_K_ + 37,
                                    1.0f, 0.0f, 1, 0, 0, 49));
    /* both in panels: A 49 wide, B the tile width (in place) and 7 wide */
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 0, rm + 3, 2 * tn, 3 * 49, 1.0f, 0.0f, 0, tn,
                                    49, 0));
    GLF_TRY(glf_gemm_validate_case_(ctx, st, p, 0, 0, 2 * rm, 3 * 7, 43 * 49, 1.0f, 0.75f, 0, 7,
                                    49, 0));
    return GLF_OK;
}
