/* The validation that gates every GEMM backend and tile set on a device:
 * odd shapes around the tile sizes, all transposes, operands and C in
 * column panels, split K and the epilogue, each case against a
 * double-precision host reference, with NaN in C (beta 0) and every float
 * of C's buffer outside C checked to stay bit-identical. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"
#include "glf/rng.h"

#define SPLIT_MIN_K_ GLF_GEMM_SPLIT_MIN_K

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
    const glf_trans gta = ta ? GLF_TRANS : GLF_NO_TRANS, gtb = tb ? GLF_TRANS : GLF_NO_TRANS;
    glf_gemm_operand oa = apanels ? glf_gemm_panels(glf_dp(dA, off), apanels, gta)
                                  : glf_gemm_plain(glf_dp(dA, off), lda, gta);
    glf_gemm_operand ob = panels ? glf_gemm_panels(glf_dp(dB, off), panels, gtb)
                                 : glf_gemm_plain(glf_dp(dB, off), ldb, gtb);
    glf_gemm_operand oc = cpanels ? glf_gemm_panels(glf_dp(dC, off), cpanels, GLF_NO_TRANS)
                                  : glf_gemm_plain(glf_dp(dC, off), ldc, GLF_NO_TRANS);
    if (!p && (epi || panels || apanels || cpanels)) {
        s = glf_fail(GLF_ERR_INVALID_ARG,
                     "gemm validation: CLBlast cases take plain operands and no epilogue");
        goto done;
    }
    if ((s = p ? glf_gemm_own_(ctx, st, p, M, N, K, alpha, &oa, &ob, beta, &oc,
                               epi ? &ep : NULL)
               : glf_gemm_clblast_(ctx, M, N, K, alpha, &oa, &ob, beta, &oc)) ||
        (s = glf_buf_read(ctx, dC, 0, nc * 4, got)))
        goto done;
    char what[512];
    if (p) {
        char set[128], opt[160];
        glf_gemm_params_format(p, set, sizeof set);
        if ((s = glf_gemm_options_(ctx, p, opt, sizeof opt)))
            goto done;
        snprintf(what, sizeof what, "%s [%s]%s%s%s%s%s", set, opt,
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
    GLF_TRY(glf_gemm_check_params_(ctx, p));
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
