/* glf's own SGEMM (cl/gemm.cl): the operands' checks, the launch plan (pack
 * op(A) and op(B) into panels where that pays, then one pass of the main
 * kernel of the tile set's family: register blocks per work-item on
 * CPU-like devices, local-memory tiles per work-group on SIMT-like ones),
 * and the split of K with its fixed-order reduction. */
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
#define SPLIT_MIN_K_ GLF_GEMM_SPLIT_MIN_K /* ... while each slice keeps at least this much of K */
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
    if (p->family == GLF_FAMILY_SIMT) {
        snprintf(buf, n, "-DGEMM_SIMT=1 -DGEMM_RM=%d -DGEMM_VW=%d -DGEMM_NV=%d -DGEMM_LX=%d "
                 "-DGEMM_LY=%d -DGEMM_TK=%d", p->rm, p->vw, p->nv, p->lx, p->ly, p->tk);
        return GLF_OK;
    }
    int pf = 0;
    GLF_TRY(glf_gemm_prefetch_(ctx, &pf));
    snprintf(buf, n, "-DGEMM_RM=%d -DGEMM_VW=%d -DGEMM_NV=%d -DGEMM_PF=%d -DGLF_PREFETCH_OK=%d "
             "-DGLF_NT=%d", p->rm, p->vw, p->nv, pf, pf > 0, glf_nt_stores(ctx));
    return GLF_OK;
}

void glf_gemm_params_format(const glf_gemm_params *p, char *buf, size_t n)
{
    if (p->family == GLF_FAMILY_SIMT)
        snprintf(buf, n, "simt rm=%d vw=%d nv=%d lx=%d ly=%d tk=%d", p->rm, p->vw, p->nv, p->lx,
                 p->ly, p->tk);
    else
        snprintf(buf, n, "rm=%d vw=%d nv=%d lx=%d ly=%d", p->rm, p->vw, p->nv, p->lx, p->ly);
}

glf_status glf_gemm_params_parse(const char *text, glf_gemm_params *p)
{
    glf_gemm_params q = {GLF_FAMILY_CPU, 0, 0, 0, 0, 0, 0};
    int used = 0;
    if (sscanf(text, "simt rm=%d vw=%d nv=%d lx=%d ly=%d tk=%d%n", &q.rm, &q.vw, &q.nv, &q.lx,
               &q.ly, &q.tk, &used) == 6)
        q.family = GLF_FAMILY_SIMT;
    else if (sscanf(text, "rm=%d vw=%d nv=%d lx=%d ly=%d%n", &q.rm, &q.vw, &q.nv, &q.lx, &q.ly,
                    &used) != 5)
        return glf_fail(GLF_ERR_FORMAT, "tile set '%s': expected 'rm=.. vw=.. nv=.. lx=.. "
                        "ly=..' or 'simt rm=.. vw=.. nv=.. lx=.. ly=.. tk=..'", text);
    for (const char *c = text + used; *c; c++)
        if (*c != ' ' && *c != '\n' && *c != '\r')
            return glf_fail(GLF_ERR_FORMAT, "tile set '%s': unexpected text after it", text);
    *p = q;
    return GLF_OK;
}

glf_gemm_params glf_gemm_default_params_for(glf_family f)
{
    if (f == GLF_FAMILY_SIMT) {
        glf_gemm_params p = {GLF_FAMILY_SIMT, 32, 4, 8, 8, 8, 16};
        return p;
    }
    glf_gemm_params p = {GLF_FAMILY_CPU, 8, 16, 2, 1, 16, 0};
    return p;
}

glf_gemm_params glf_gemm_default_params(void)
{
    return glf_gemm_default_params_for(GLF_FAMILY_CPU);
}

/* The ranges of a tile set. SIMT: the tile's rows and columns divide among
 * the work-group's ly x lx work-items (at most 8 x 8 each: their block
 * lives in registers), its two local-memory panels fit the device's local
 * memory and the work-group its maximum size. */
glf_status glf_gemm_check_params_(glf_ctx *ctx, const glf_gemm_params *p)
{
    char set[128];
    glf_gemm_params_format(p, set, sizeof set);
    const int vw_ok = p->vw == 1 || p->vw == 2 || p->vw == 4 || p->vw == 8 || p->vw == 16;
    if (p->family == GLF_FAMILY_SIMT) {
        const int tn = p->vw * p->nv;
        const glf_device_info *d = glf_ctx_device(ctx);
        const size_t local = (size_t)(p->rm + tn) * (size_t)(p->tk > 0 ? p->tk : 1) * 4;
        if (!vw_ok || p->rm < 8 || p->rm > 128 || p->nv < 1 || tn < 8 || tn > 128 ||
            p->lx < 1 || p->ly < 1 || p->rm % p->ly || tn % p->lx || p->rm / p->ly > 8 ||
            tn / p->lx > 8 || p->tk < 4 || p->tk > 64 || local > d->local_mem ||
            (size_t)(p->lx * p->ly) > d->max_work_group)
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "gemm params %s: expected rm 8..128, vw in {1,2,4,8,16}, vw*nv "
                            "8..128, ly dividing rm and lx dividing vw*nv with at most 8 each, "
                            "tk 4..64, (rm + vw*nv)*tk*4 = %zu bytes of local memory within the "
                            "device's %llu, lx*ly within its work-group limit %zu",
                            set, local, d->local_mem, d->max_work_group);
        return GLF_OK;
    }
    if (p->family != GLF_FAMILY_CPU || p->rm < 1 || p->rm > 16 || p->nv < 1 || p->nv > 8 ||
        p->lx < 1 || p->lx > 256 || p->ly < 1 || p->ly > 256 || p->lx * p->ly > 256 || !vw_ok ||
        p->tk != 0)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "gemm params %s: expected rm 1..16, vw in {1,2,4,8,16}, nv 1..8, "
                        "lx*ly <= 256, tk 0 (family cpu)", set);
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
                     size_t tn, int simt, int *pack_a, int *pack_b)
{
    const size_t ntiles = (N + tn - 1) / tn, rblocks = (M + rm - 1) / rm;
    /* the SIMT kernel reads packed panels only (a work-group stages them in
     * local memory, contiguous runs) */
    *pack_a = simt || M % rm != 0 || ntiles >= REUSE_;
    *pack_b = simt || im || tb || N % tn != 0 || ldb % 256 == 0 || rblocks >= REUSE_;
    return (*pack_a ? rblocks * rm * K : 0) + (*pack_b ? ntiles * tn * K : 0);
}

/* The operands as the plan below reads them: column panels (rows x cols
 * of the stored matrix, panel width tn) and an implicit im2col. */
struct pn_ {
    cl_mem buf;
    size_t off, rows, cols, tn;
};
struct im_ {
    cl_mem img;
    size_t off;
    int B, C, H, W, K, S, P, Ho, Wo;
    int transposed;
};

/* A panels matrix must be rows x cols, whole panels, and fit in its
 * buffer; what names the operand in the message. */
static glf_status check_panels_(const char *what, const struct pn_ *pn)
{
    if (pn->tn < 1 || pn->cols % pn->tn != 0)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm: %s: a %zu x %zu matrix in panels %zu wide, expected the "
                        "columns to be a multiple of the panel width", what, pn->rows, pn->cols,
                        pn->tn);
    return check_matrix_(what, pn->buf, pn->off, 1, pn->rows * pn->cols, pn->rows * pn->cols);
}

static const char *layout_name_(glf_gemm_layout l)
{
    return l == GLF_GEMM_PLAIN ? "plain" : l == GLF_GEMM_PANELS ? "panels" : "im2col";
}

glf_status glf_gemm_own_(glf_ctx *ctx, struct glf_gemm_state_ *st, const glf_gemm_params *p,
                         size_t M, size_t N, size_t K, float alpha, const glf_gemm_operand *oa,
                         const glf_gemm_operand *ob, float beta, const glf_gemm_operand *oc,
                         const glf_gemm_epilogue *ep)
{
    if (M == 0 || N == 0)
        return GLF_OK;
    if (K == 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm: K = 0, expected K >= 1 (M=%zu N=%zu)",
                        M, N);
    if ((oa->layout != GLF_GEMM_PLAIN && oa->layout != GLF_GEMM_PANELS) ||
        (ob->layout != GLF_GEMM_PLAIN && ob->layout != GLF_GEMM_PANELS &&
         ob->layout != GLF_GEMM_IM2COL) ||
        (oc->layout != GLF_GEMM_PLAIN && oc->layout != GLF_GEMM_PANELS) || oc->trans)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm: layouts A %s, B %s, C %s%s: expected A plain or panels, B "
                        "plain, panels or im2col, C plain or panels and untransposed",
                        layout_name_(oa->layout), layout_name_(ob->layout),
                        layout_name_(oc->layout), oc->trans ? " (transposed)" : "");
    if (!oa->buf || !ob->buf || !oc->buf)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm: operand %s has no buffer",
                        !oa->buf ? "A" : !ob->buf ? "B" : "C");
    glf_trans ta = oa->trans, tb = ob->layout == GLF_GEMM_IM2COL ? GLF_NO_TRANS : ob->trans;
    cl_mem A = oa->buf, B = ob->buf, C = oc->buf;
    size_t offA = oa->off, lda = oa->ld, offB = ob->off, ldb = ob->ld, offC = oc->off,
           ldc = oc->ld;
    struct pn_ pna, pnb, pnc;
    struct im_ imb;
    const struct pn_ *pa = NULL, *pb = NULL, *pc = NULL;
    const struct im_ *ib = NULL;
    if (oa->layout == GLF_GEMM_PANELS)
        pna = (struct pn_){A, offA, M, K, oa->tn}, pa = &pna;
    if (ob->layout == GLF_GEMM_PANELS)
        pnb = (struct pn_){B, offB, tb ? N : K, tb ? K : N, ob->tn}, pb = &pnb;
    if (ob->layout == GLF_GEMM_IM2COL) {
        const glf_gemm_im2col *g = &ob->im;
        imb = (struct im_){B, offB, g->B, g->C, g->H, g->W, g->K, g->S, g->P, g->Ho, g->Wo,
                           ob->trans != GLF_NO_TRANS};
        ib = &imb;
    }
    if (oc->layout == GLF_GEMM_PANELS)
        pnc = (struct pn_){C, offC, M, N, oc->tn}, pc = &pnc;
    if (pa && (ta || (pb && tb)))
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm: A in panels is taken untransposed, "
                        "and not with B in panels transposed");
    if (pa)
        GLF_TRY(check_panels_("op(A)", pa));
    else
        GLF_TRY(check_matrix_("A", A, offA, ta ? K : M, ta ? M : K, lda));
    if (ib) { /* op(B) is the im2col of an image: the image must fit */
        size_t R = (size_t)ib->C * ib->K * ib->K, P = (size_t)ib->B * ib->Ho * ib->Wo;
        if (ib->B < 1 || ib->C < 1 || ib->H < 1 || ib->W < 1 || ib->K < 1 || ib->S < 1 ||
            ib->P < 0 || ib->Ho < 1 || ib->Wo < 1 || (ib->transposed ? P : R) != K ||
            (ib->transposed ? R : P) != N)
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "glf_gemm: im2col of image (%d, %d, %d, %d), window %d stride %d pad "
                            "%d, grid %dx%d gives a %zu x %zu column matrix; the GEMM wants "
                            "op(B) %zu x %zu", ib->B, ib->C, ib->H, ib->W, ib->K, ib->S, ib->P,
                            ib->Ho, ib->Wo, R, P, K, N);
        GLF_TRY(check_matrix_("the image", ib->img, ib->off, (size_t)ib->B * ib->C * ib->H,
                              (size_t)ib->W, (size_t)ib->W));
    } else if (pb) { /* op(B) as column panels: pb's matrix or its transpose */
        GLF_TRY(check_panels_(tb ? "op(B)^T" : "op(B)", pb));
    } else {
        GLF_TRY(check_matrix_("B", B, offB, tb ? N : K, tb ? K : N, ldb));
    }
    /* C as stored: element (i, j) at i*ldc + (j / ct)*cts + j % ct */
    size_t ct = (size_t)INT_MAX, cts = 0;
    if (pc) {
        GLF_TRY(check_panels_("C", pc));
        ldc = pc->tn, ct = pc->tn, cts = M * pc->tn;
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
    const int simt = p->family == GLF_FAMILY_SIMT;
    size_t cost0 = packs_(M, N, K, tb, ldb, ib != NULL, rm, tn, simt, &pa0, &pb0);
    /* Only with B transposed, so that the swapped A is read along its rows:
     * an A^T read in place (a new row every k) made the weight gradients
     * 1.6-2.3x slower (bench_train --by-op, alternated). Panels: A in
     * panels is never swapped; B in panels untransposed neither (panels
     * the tile width wide are its packed panels, read in place; others are
     * packed from the panels); transposed, they always become A, read a
     * panel at a time. */
    size_t cost1 = ib || !tb ? (size_t)-1
                             : packs_(N, M, K, !ta, lda, 0, rm, tn, simt, &pa1, &pb1) + M * N;
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
    GLF_TRY(glf_kernel(ctx, "gemm", simt ? "gemm_tile" : "gemm_main", opt, &km));
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
#define OPERANDS_SIMT_ GLF_MEM(Am), GLF_I32(offAm), GLF_MEM(Bm), GLF_I32(offBm)
    if (simt) /* a work-group per tile: lx x ly work-items */
        g[0] = ntiles * (size_t)p->lx, g[1] = rblocks * (size_t)p->ly;
    if (nsplit == 1 && simt)
        return GLF_LAUNCH(ctx, km, 3, g, l, GLF_I32(M), GLF_I32(N), GLF_I32(K), GLF_I32(K),
                          GLF_F32(alpha), GLF_F32(beta), OPERANDS_SIMT_, GLF_MEM(C),
                          GLF_I32(offC), GLF_I32(ldc), GLF_I32(0), GLF_I32(ntiles), GLF_I32(ct),
                          GLF_I32(cts), GLF_MEM(bias), GLF_I32(offBias), GLF_I32(epi),
                          GLF_I32(ctr));
    if (nsplit == 1)
        return GLF_LAUNCH(ctx, km, 3, g, l, GLF_I32(M), GLF_I32(N), GLF_I32(K), GLF_I32(K),
                          GLF_F32(alpha), GLF_F32(beta), OPERANDS_, GLF_MEM(C), GLF_I32(offC),
                          GLF_I32(ldc), GLF_I32(0), GLF_I32(ntiles), GLF_I32(ct), GLF_I32(cts),
                          GLF_MEM(bias), GLF_I32(offBias), GLF_I32(epi), GLF_I32(ctr),
                          GLF_I32(!ctr && ct >= N && glf_nt_output(ctx, M * N)));
    if (simt)
        GLF_TRY(GLF_LAUNCH(ctx, km, 3, g, l, GLF_I32(M), GLF_I32(N), GLF_I32(K), GLF_I32(kc),
                           GLF_F32(1.0f), GLF_F32(0.0f), OPERANDS_SIMT_, GLF_MEM(st->scratch),
                           GLF_I32(na + nb), GLF_I32(N), GLF_I32(M * N), GLF_I32(ntiles),
                           GLF_I32(INT_MAX), GLF_I32(0), GLF_MEM(bias), GLF_I32(0), GLF_I32(0),
                           GLF_I32(0)));
    else
        GLF_TRY(GLF_LAUNCH(ctx, km, 3, g, l, GLF_I32(M), GLF_I32(N), GLF_I32(K), GLF_I32(kc),
                           GLF_F32(1.0f), GLF_F32(0.0f), OPERANDS_, GLF_MEM(st->scratch),
                           GLF_I32(na + nb), GLF_I32(N), GLF_I32(M * N), GLF_I32(ntiles),
                           GLF_I32(INT_MAX), GLF_I32(0), GLF_MEM(bias), GLF_I32(0), GLF_I32(0),
                           GLF_I32(0), GLF_I32(0)));
#undef OPERANDS_
#undef OPERANDS_SIMT_
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

