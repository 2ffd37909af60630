/* The GEMM component (glf_gemm, glf_gemm_run) vs a double-precision C
 * reference, for both backends (glf's own kernels in both families, with
 * each family's default and other tile sets, and CLBlast): all transposes,
 * odd shapes around the tile sizes, offsets and padded leading dimensions,
 * beta = 0 over NaN-filled C (NaN must not leak in), beta != 0, a guard
 * region after C, bit-identical repeats, the epilogue, the implicit im2col
 * operand and operands in column panels. GLF_TEST_SIZE=small leaves out the
 * 256x1024x6272 product. */
#include "testutil.h"

#include "glf/ops_norm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row-major reference: C = alpha*op(A)*op(B) + beta*C (beta == 0 ignores C). */
static void ref_gemm_(int ta, int tb, size_t M, size_t N, size_t K, double alpha,
                      const float *A, size_t lda, const float *B, size_t ldb, double beta,
                      const float *C0, size_t ldc, double *out /* M x N, dense */)
{
    double *row = malloc(N * sizeof *row);
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++)
            row[j] = 0.0;
        for (size_t k = 0; k < K; k++) {
            double a = ta ? A[k * lda + i] : A[i * lda + k];
            if (!tb) {
                const float *b = B + k * ldb;
                for (size_t j = 0; j < N; j++)
                    row[j] += a * b[j];
            } else {
                for (size_t j = 0; j < N; j++)
                    row[j] += a * B[j * ldb + k];
            }
        }
        for (size_t j = 0; j < N; j++)
            out[i * N + j] = alpha * row[j] + (beta != 0.0 ? beta * C0[i * ldc + j] : 0.0);
    }
    free(row);
}

static void check_(glf_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, size_t pad,
                   size_t off, float alpha, float beta)
{
    size_t arows = ta ? K : M, acols = ta ? M : K;
    size_t brows = tb ? N : K, bcols = tb ? K : N;
    size_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
    size_t na = off + arows * lda, nb = off + brows * ldb, nc = off + M * ldc;
    float *A = tu_rand(na, M * 31 + K, -1, 1);
    float *B = tu_rand(nb, N * 17 + K, -1, 1);
    float *C0 = tu_rand(nc, M + N + K, -1, 1);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++)
            C0[i] = tu_sentinel(); /* beta = 0: C's old NaNs must not leak */
    double *want = malloc(M * N * sizeof *want);
    ref_gemm_(ta, tb, M, N, K, alpha, A + off, lda, B + off, ldb, beta, C0 + off, ldc, want);

    cl_mem dA = tu_buf_from(ctx, A, na), dB = tu_buf_from(ctx, B, nb), dC = tu_buf_from(ctx, C0, nc);
    TU_OK(glf_gemm(ctx, ta ? GLF_TRANS : GLF_NO_TRANS, tb ? GLF_TRANS : GLF_NO_TRANS, M, N, K,
                   alpha, dA, off, lda, dB, off, ldb, beta, dC, off, ldc));
    float *C = tu_read(ctx, dC, nc);
    if (beta == 0.0f) { /* a second run over the result gives the same bits */
        TU_OK(glf_gemm(ctx, ta ? GLF_TRANS : GLF_NO_TRANS, tb ? GLF_TRANS : GLF_NO_TRANS, M, N,
                       K, alpha, dA, off, lda, dB, off, ldb, beta, dC, off, ldc));
        float *C2 = tu_read(ctx, dC, nc);
        assert_memory_equal(C, C2, nc * sizeof(float));
        free(C2);
    }
    float *got = malloc(M * N * sizeof *got);
    for (size_t i = 0; i < M; i++)
        memcpy(got + i * N, C + off + i * ldc, N * sizeof(float));
    char what[128];
    snprintf(what, sizeof what, "gemm %c%c %zux%zux%zu pad %zu off %zu beta %g", ta ? 'T' : 'N',
             tb ? 'T' : 'N', M, N, K, pad, off, (double)beta);
    assert_int_equal(tu_compare(what, got, want, M * N, 2e-6 * (double)K, 1e-4), 0);
    /* Padding columns between rows of C and the prefix before off are untouched. */
    for (size_t i = 0; i < M; i++)
        for (size_t j = N; j < ldc && i * ldc + j + off < nc; j++)
            assert_memory_equal(&C[off + i * ldc + j], &C0[off + i * ldc + j], sizeof(float));
    for (size_t i = 0; i < off; i++)
        assert_memory_equal(&C[i], &C0[i], sizeof(float));
    tu_check_guard(ctx, dC, nc, what);
    free(A), free(B), free(C0), free(C), free(got), free(want);
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
}

/* The backend (and glf tile set) a test runs with: cmocka's prestate. */
struct variant_ {
    glf_gemm_backend backend;
    glf_gemm_params params; /* rm == 0: the context's defaults */
};

static const struct variant_ v_glf_ = {GLF_GEMM_GLF, {GLF_FAMILY_AUTO, 0, 0, 0, 0, 0, 0}};
static const struct variant_ v_clblast_ = {GLF_GEMM_CLBLAST,
                                           {GLF_FAMILY_AUTO, 0, 0, 0, 0, 0, 0}};
/* Other CPU tile sets: partial vectors (vw 4, nv 3 -> 12 columns), odd rm. */
static const struct variant_ v_glf_small_ = {GLF_GEMM_GLF, {GLF_FAMILY_CPU, 3, 4, 3, 4, 2, 0}};
static const struct variant_ v_glf_scalar_ = {GLF_GEMM_GLF, {GLF_FAMILY_CPU, 5, 1, 7, 1, 1, 0}};
/* SIMT tile sets (correct on any device): the family's default (32 x 32
 * tiles), an odd 24 x 12 tile of 3 x 2 blocks with 8 steps of k in local
 * memory, and 16 x 8 tiles staged 4 steps at a time. */
static const struct variant_ v_simt_ = {GLF_GEMM_GLF, {GLF_FAMILY_SIMT, 32, 4, 8, 8, 8, 16}};
static const struct variant_ v_simt_odd_ = {GLF_GEMM_GLF, {GLF_FAMILY_SIMT, 24, 1, 12, 6, 8, 8}};
static const struct variant_ v_simt_small_ = {GLF_GEMM_GLF, {GLF_FAMILY_SIMT, 16, 2, 4, 4, 4, 4}};

/* glf_gemm_run on plain operands with an epilogue. */
static glf_status gemm_ex_(glf_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                           cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb,
                           float beta, cl_mem C, size_t offC, size_t ldc,
                           const glf_gemm_epilogue *ep)
{
    glf_gemm_operand a = glf_gemm_plain(glf_dp(A, offA), lda, ta ? GLF_TRANS : GLF_NO_TRANS);
    glf_gemm_operand b = glf_gemm_plain(glf_dp(B, offB), ldb, tb ? GLF_TRANS : GLF_NO_TRANS);
    glf_gemm_operand c = glf_gemm_plain(glf_dp(C, offC), ldc, GLF_NO_TRANS);
    return glf_gemm_run(ctx, M, N, K, alpha, &a, &b, beta, &c, ep);
}

static glf_ctx *ctx_for_(void **state)
{
    const struct variant_ *v = *state;
    glf_ctx *ctx = tu_ctx();
    if (v->params.rm)
        TU_OK(glf_gemm_set_params(ctx, &v->params));
    TU_OK(glf_gemm_set_backend(ctx, v->backend));
    assert_string_equal(glf_gemm_backend_name(ctx),
                        v->backend == GLF_GEMM_GLF ? "glf" : "clblast");
    return ctx;
}

static void test_small_shapes(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {3, 1, 9}, {1, 17, 2}, {33, 20, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            check_(ctx, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 0, 0, 1.0f, 0.0f);
            check_(ctx, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 3, 5, -0.75f,
                   0.5f);
        }
    glf_ctx_destroy(ctx);
}

/* Sizes around the default tiles (8 rows, 32 columns) and vector widths. */
static void test_edges(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    const size_t mn[] = {1, 7, 9, 16, 17, 31, 33, 65}, ks[] = {1, 15, 17, 63};
    size_t n = 0;
    for (size_t i = 0; i < sizeof mn / sizeof mn[0]; i++)
        for (size_t j = 0; j < sizeof mn / sizeof mn[0]; j++)
            for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++, n++) {
                int t = (int)(n % 4);
                int beta0 = (n / 4) % 2 == 0;
                check_(ctx, t & 1, t >> 1, mn[i], mn[j], ks[k], n % 3, n % 5, beta0 ? 1.0f : 0.5f,
                       beta0 ? 0.0f : -1.25f);
            }
    glf_ctx_destroy(ctx);
}

/* Few output tiles and a long K: glf's kernels split K into slices and sum
 * the partial products in a fixed order. */
static void test_long_k(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    for (int t = 0; t < 4; t++) {
        check_(ctx, t & 1, t >> 1, 9, 33, 4099, 0, 0, 1.0f, 0.0f);
        check_(ctx, t & 1, t >> 1, 16, 64, 9001, 2, 3, -0.5f, 0.25f);
    }
    glf_ctx_destroy(ctx);
}

/* Row strides of 256 floats (1 KiB), with few column tiles, so op(A) is read
 * in place at that stride (and op(B) packed); and an NT product that runs
 * transposed with the larger operand as A. */
static void test_kib_strides(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    check_(ctx, 0, 0, 40, 9, 256, 0, 0, 1.0f, 0.0f);    /* lda = 256 */
    check_(ctx, 1, 0, 256, 9, 40, 0, 3, -1.0f, 0.5f);   /* A^T, lda = 256 */
    check_(ctx, 0, 1, 24, 200, 256, 0, 0, 1.0f, 0.0f);  /* ldb = 256, transposed */
    check_(ctx, 0, 0, 17, 256, 33, 0, 5, 0.5f, 0.25f);  /* ldb = 256, partial rows */
    glf_ctx_destroy(ctx);
}

static void test_odd_large(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    for (int t = 0; t < 4; t++)
        check_(ctx, t & 1, t >> 1, 255, 257, 129, t, 7 * (size_t)t, 1.0f, t == 2 ? 1.0f : 0.0f);
    glf_ctx_destroy(ctx);
}

/* The encoder's widest layer at batch 256: 256 x 1024 x 6272. One logical
 * A and B (so one double reference) laid out for each transpose. */
static void test_glf_shape(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    const size_t M = 256, N = 1024, K = tu_small() ? 272 : 6272;
    float *A = tu_rand(M * K, 11, -1, 1), *B = tu_rand(K * N, 12, -1, 1);
    float *At = malloc(M * K * sizeof *At), *Bt = malloc(K * N * sizeof *Bt);
    static double *want; /* computed once, shared by both backends' runs */
    assert_true(At && Bt);
    for (size_t i = 0; i < M; i++)
        for (size_t k = 0; k < K; k++)
            At[k * M + i] = A[i * K + k];
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < N; j++)
            Bt[j * K + k] = B[k * N + j];
    if (!want) {
        want = malloc(M * N * sizeof *want);
        assert_non_null(want);
        ref_gemm_(0, 0, M, N, K, 1.0, A, K, B, N, 0.0, NULL, N, want);
    }
    cl_mem dA = tu_buf_from(ctx, A, M * K), dAt = tu_buf_from(ctx, At, M * K);
    cl_mem dB = tu_buf_from(ctx, B, K * N), dBt = tu_buf_from(ctx, Bt, K * N);
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        cl_mem dC = tu_buf_nan(ctx, M * N);
        TU_OK(glf_gemm(ctx, ta ? GLF_TRANS : GLF_NO_TRANS, tb ? GLF_TRANS : GLF_NO_TRANS, M, N, K,
                       1.0f, ta ? dAt : dA, 0, ta ? M : K, tb ? dBt : dB, 0, tb ? K : N, 0.0f, dC,
                       0, N));
        float *C = tu_read(ctx, dC, M * N);
        char what[64];
        snprintf(what, sizeof what, "gemm %c%c 256x1024x%zu", ta ? 'T' : 'N', tb ? 'T' : 'N', K);
        assert_int_equal(tu_compare(what, C, want, M * N, 2e-6 * (double)K, 1e-4), 0);
        tu_check_guard(ctx, dC, M * N, what);
        free(C);
        glf_buf_release(dC);
    }
    glf_buf_release(dA), glf_buf_release(dAt), glf_buf_release(dB), glf_buf_release(dBt);
    free(A), free(At), free(B), free(Bt);
    glf_ctx_destroy(ctx);
}

static void test_invalid_arguments(void **state)
{
    const struct variant_ *v = *state;
    glf_ctx *ctx = ctx_for_(state);
    int own = v->backend == GLF_GEMM_GLF;
    glf_status bad = own ? GLF_ERR_INVALID_ARG : GLF_ERR_CLBLAST;
    cl_mem a = tu_buf_nan(ctx, 16);
    /* lda smaller than the row length: the error comes back named. */
    assert_int_equal(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, 4, 4, 4, 1, a, 0, 2, a, 0, 4, 0,
                              a, 0, 4),
                     bad);
    assert_non_null(strstr(glf_last_error(), own ? "ldA = 2" : "CLBlastInvalidLeadDimA"));
    /* A buffer too small for the shape. */
    assert_int_equal(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, 64, 64, 64, 1, a, 0, 64, a, 0, 64,
                              0, a, 0, 64),
                     bad);
    assert_non_null(strstr(glf_last_error(), own ? "buffer holds" : "InsufficientMemory"));
    assert_int_equal(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, 2, 2, 0, 1, a, 0, 2, a, 0, 2, 0,
                              a, 0, 2),
                     GLF_ERR_INVALID_ARG);
    glf_buf_release(a);
    glf_ctx_destroy(ctx);
}

/* Parameter sets outside the contract are refused before anything runs,
 * and the context keeps its old ones. */
static void test_params_rejected(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    const glf_gemm_params def = glf_gemm_default_params_for(glf_ctx_family(ctx));
    glf_gemm_params p = glf_gemm_default_params();
    p.vw = 3;
    assert_int_equal(glf_gemm_set_params(ctx, &p), GLF_ERR_INVALID_ARG);
    assert_non_null(strstr(glf_last_error(), "vw=3"));
    p = glf_gemm_default_params_for(GLF_FAMILY_SIMT);
    p.ly = 5; /* does not divide the tile's 32 rows */
    tu_expect_status(glf_gemm_set_params(ctx, &p), GLF_ERR_INVALID_ARG, "simt rm=32", "ly");
    p.ly = 8, p.tk = 1000; /* far more local memory than a device has */
    tu_expect_status(glf_gemm_set_params(ctx, &p), GLF_ERR_INVALID_ARG, "tk=1000",
                     "local memory");
    p = glf_gemm_default_params();
    p.tk = 4; /* a CPU set has no local-memory steps */
    tu_expect_status(glf_gemm_set_params(ctx, &p), GLF_ERR_INVALID_ARG, "tk 0", NULL);
    glf_gemm_params now = glf_gemm_get_params(ctx);
    assert_memory_equal(&now, &def, sizeof now);
    /* the text form reads back, and bad text is named */
    for (int f = 0; f < 2; f++) {
        char text[128];
        glf_gemm_params q = glf_gemm_default_params_for(f ? GLF_FAMILY_SIMT : GLF_FAMILY_CPU), r;
        glf_gemm_params_format(&q, text, sizeof text);
        TU_OK(glf_gemm_params_parse(text, &r));
        assert_memory_equal(&q, &r, sizeof q);
    }
    tu_expect_status(glf_gemm_params_parse("rm=8 vw=16", &p), GLF_ERR_FORMAT, "'rm=8 vw=16'",
                     "expected");
    tu_expect_status(glf_gemm_params_parse("rm=8 vw=16 nv=2 lx=1 ly=16 x", &p), GLF_ERR_FORMAT,
                     "unexpected text", NULL);
    glf_ctx_destroy(ctx);
}

/* The epilogue: C = act(alpha*op(A)op(B) + beta*C + bias[j]) (or
 * bias[i]: by row), bias at a float offset behind sentinels, NaN-filled C
 * with beta = 0, partial tiles and a split K (the epilogue then runs in the
 * reduction). */
static void check_ep_(glf_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float beta,
                      int bias, int relu, int rows)
{
    size_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N + 2;
    size_t nc = M * ldc, boff = 3, nbv = rows ? M : N;
    float *A = tu_rand(M * K, M + 7 * K, -1, 1), *B = tu_rand(N * K, N + 5 * K, -1, 1);
    float *C0 = tu_rand(nc, M + N, -1, 1), *bv = tu_rand(nbv, N + 1, -1, 1);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++)
            C0[i] = tu_sentinel();
    double *want = malloc(M * N * sizeof *want);
    ref_gemm_(ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C0, ldc, want);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double w = want[i * N + j] + (bias ? bv[rows ? i : j] : 0.0);
            want[i * N + j] = relu && w < 0 ? 0.0 : w;
        }
    cl_mem dA = tu_buf_from(ctx, A, M * K), dB = tu_buf_from(ctx, B, N * K);
    cl_mem dC = tu_buf_from(ctx, C0, nc), dbias = tu_buf_at(ctx, bv, nbv, boff);
    glf_gemm_epilogue ep = {{bias ? dbias : NULL, boff},
                            relu ? GLF_GEMM_ACT_RELU : GLF_GEMM_ACT_NONE, rows};
    TU_OK(gemm_ex_(ctx, ta, tb, M, N, K, 1.0f, dA, 0, lda, dB, 0, ldb, beta, dC, 0, ldc, &ep));
    float *C = tu_read(ctx, dC, nc), *got = malloc(M * N * sizeof *got);
    for (size_t i = 0; i < M; i++)
        memcpy(got + i * N, C + i * ldc, N * sizeof(float));
    char what[128];
    snprintf(what, sizeof what, "gemm_ex %c%c %zux%zux%zu beta %g%s%s", ta ? 'T' : 'N',
             tb ? 'T' : 'N', M, N, K, (double)beta,
             bias ? (rows ? " +bias by row" : " +bias") : "", relu ? " relu" : "");
    assert_int_equal(tu_compare(what, got, want, M * N, 2e-6 * (double)K, 1e-4), 0);
    for (size_t i = 0; i < M; i++) /* padding between rows untouched */
        for (size_t j = N; j < ldc; j++)
            assert_memory_equal(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float));
    tu_check_guard(ctx, dC, nc, what);
    free(tu_read_at(ctx, dbias, nbv, boff, "bias")); /* bias prefix and guard untouched */
    free(A), free(B), free(C0), free(bv), free(C), free(got), free(want);
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC), glf_buf_release(dbias);
}

static void test_epilogue(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    /* NT products that pack less transposed are computed as C^T = B A^T
     * and stored transposed: {9, 40, 2085} takes that path with a split K,
     * so the epilogue runs in the transposed reduction. */
    const size_t shapes[][3] = {{7, 13, 5}, {33, 70, 19}, {16, 64, 37}, {9, 7, 2085},
                                {9, 40, 2085}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int e = 1; e <= 7; e++) /* bit 0: bias, 1: ReLU, 2: bias by row */
                if (e != 4 && e != 6)
                    check_ep_(ctx, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                              (t + e) & 1 ? 0.0f : 0.5f, e & 1, (e >> 1) & 1, e >> 2);
    /* The ReLU is cl/act.cl's (v < 0 ? 0 : v): the same bits as a GEMM, a
     * bias fill with beta = 1 and glf_act_forward. */
    const size_t M = 37, N = 45, K = 29;
    float *A = tu_rand(M * K, 91, -1, 1), *B = tu_rand(N * K, 92, -1, 1), *bv = tu_rand(N, 93, -1, 1);
    float *fill = malloc(M * N * sizeof *fill);
    for (size_t i = 0; i < M * N; i++)
        fill[i] = bv[i % N];
    cl_mem dA = tu_buf_from(ctx, A, M * K), dB = tu_buf_from(ctx, B, N * K);
    cl_mem d1 = tu_buf_nan(ctx, M * N), d2 = tu_buf_from(ctx, fill, M * N), db = tu_buf_from(ctx, bv, N);
    glf_gemm_epilogue ep = {{db, 0}, GLF_GEMM_ACT_RELU, 0};
    TU_OK(gemm_ex_(ctx, 0, 1, M, N, K, 1.0f, dA, 0, K, dB, 0, K, 0.0f, d1, 0, N, &ep));
    TU_OK(glf_gemm(ctx, GLF_NO_TRANS, GLF_TRANS, M, N, K, 1.0f, dA, 0, K, dB, 0, K, 1.0f, d2, 0, N));
    TU_OK(glf_act_forward(ctx, glf_dp(d2, 0), glf_dp(d2, 0), M * N, GLF_ACT_RELU));
    float *c1 = tu_read(ctx, d1, M * N), *c2 = tu_read(ctx, d2, M * N);
    assert_memory_equal(c1, c2, M * N * sizeof(float));
    free(A), free(B), free(bv), free(fill), free(c1), free(c2);
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(d1), glf_buf_release(d2);
    glf_buf_release(db);
    /* Bad epilogues are refused. */
    cl_mem small = tu_buf_nan(ctx, 4), dC = tu_buf_nan(ctx, 64);
    glf_gemm_epilogue bad = {{small, 200}, GLF_GEMM_ACT_NONE, 0}; /* past its guard too */
    tu_expect_status(gemm_ex_(ctx, 0, 0, 8, 8, 8, 1.0f, dC, 0, 8, dC, 0, 8, 0.0f, dC, 0, 8, &bad),
                     GLF_ERR_INVALID_ARG, "bias", "offset 200");
    bad.bias.buf = NULL;
    bad.act = (glf_gemm_act)7;
    tu_expect_status(gemm_ex_(ctx, 0, 0, 8, 8, 8, 1.0f, dC, 0, 8, dC, 0, 8, 0.0f, dC, 0, 8, &bad),
                     GLF_ERR_INVALID_ARG, "activation 7", NULL);
    glf_buf_release(small), glf_buf_release(dC);
    glf_ctx_destroy(ctx);
}

/* An GLF_GEMM_IM2COL operand: op(B) is the im2col of an image, never materialised,
 * as col (R x N) and as its transpose, against the reference on an
 * explicitly built col; odd geometry with padding; NaN C with beta = 0. */
static void test_im2col_operand(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    const struct { int B, C, H, W, K, S, P; } geo[] = {{3, 5, 9, 7, 4, 2, 1}, {2, 3, 6, 5, 3, 1, 1},
                                                        {1, 2, 5, 5, 2, 3, 0}};
    for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi++) {
        int B = geo[gi].B, Cc = geo[gi].C, H = geo[gi].H, W = geo[gi].W;
        int K = geo[gi].K, S = geo[gi].S, P = geo[gi].P;
        int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
        size_t R = (size_t)Cc * K * K, Np = (size_t)B * Ho * Wo, nimg = (size_t)B * Cc * H * W;
        float *img = tu_rand(nimg, 70 + gi, -1, 1);
        float *col = calloc(R * Np, sizeof *col); /* col[r][n], built here */
        for (int b = 0; b < B; b++)
            for (int c = 0; c < Cc; c++)
                for (int kh = 0; kh < K; kh++)
                    for (int kw = 0; kw < K; kw++)
                        for (int oh = 0; oh < Ho; oh++)
                            for (int ow = 0; ow < Wo; ow++) {
                                int ih = oh * S - P + kh, iw = ow * S - P + kw;
                                size_t r = ((size_t)c * K + kh) * K + kw;
                                size_t n = ((size_t)b * Ho + oh) * Wo + ow;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    col[r * Np + n] = img[(((size_t)b * Cc + c) * H + ih) * W + iw];
                            }
        cl_mem dimg = tu_buf_at(ctx, img, nimg, 3);
        for (int tr = 0; tr < 2; tr++) {
            size_t M = 13, N = tr ? R : Np, Kd = tr ? Np : R;
            float *A = tu_rand(M * Kd, 80 + gi, -1, 1);
            double *want = malloc(M * N * sizeof *want);
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) {
                    double w = 0;
                    for (size_t k = 0; k < Kd; k++)
                        w += (double)A[i * Kd + k] * (tr ? col[j * Np + k] : col[k * Np + j]);
                    want[i * N + j] = w;
                }
            cl_mem dA = tu_buf_from(ctx, A, M * Kd), dC = tu_buf_nan(ctx, M * N);
            glf_gemm_im2col im = {B, Cc, H, W, K, S, P, Ho, Wo};
            glf_gemm_operand oa = glf_gemm_plain(glf_dp(dA, 0), Kd, GLF_NO_TRANS);
            glf_gemm_operand ob = glf_gemm_image(glf_dp(dimg, 3), im, tr ? GLF_TRANS : GLF_NO_TRANS);
            glf_gemm_operand oc = glf_gemm_plain(glf_dp(dC, 0), N, GLF_NO_TRANS);
            if (!glf_gemm_takes(ctx, GLF_GEMM_IM2COL)) { /* CLBlast: refused, with the reason */
                tu_expect_status(glf_gemm_run(ctx, M, N, Kd, 1.0f, &oa, &ob, 0.0f, &oc, NULL),
                                 GLF_ERR_INVALID_ARG, "not available", "clblast");
            } else {
                TU_OK(glf_gemm_run(ctx, M, N, Kd, 1.0f, &oa, &ob, 0.0f, &oc, NULL));
                float *C = tu_read(ctx, dC, M * N);
                char what[96];
                snprintf(what, sizeof what, "im2col operand geometry %zu transposed %d", gi, tr);
                assert_int_equal(tu_compare(what, C, want, M * N, 2e-6 * (double)Kd, 1e-4), 0);
                tu_check_guard(ctx, dC, M * N, what);
                free(C);
                ob.im.Ho++; /* a geometry that does not match the GEMM is refused */
                tu_expect_status(glf_gemm_run(ctx, M, N, Kd, 1.0f, &oa, &ob, 0.0f, &oc, NULL),
                                 GLF_ERR_INVALID_ARG, "column matrix", NULL);
            }
            free(A), free(want);
            glf_buf_release(dA), glf_buf_release(dC);
        }
        free(tu_read_at(ctx, dimg, nimg, 3, "image")); /* prefix and guard untouched */
        glf_buf_release(dimg);
        free(img), free(col);
    }
    glf_ctx_destroy(ctx);
}

/* Column panels (GLF_GEMM_PANELS): element (x, y) of a rows x cols matrix
 * at (y / pw)*rows*pw + x*pw + y % pw. */
static float *to_panels_(const float *m, size_t rows, size_t cols, size_t pw)
{
    float *p = malloc(rows * cols * sizeof *p);
    for (size_t x = 0; x < rows; x++)
        for (size_t y = 0; y < cols; y++)
            p[(y / pw) * rows * pw + x * pw + y % pw] = m[x * cols + y];
    return p;
}

/* GLF_GEMM_PANELS operands: operands in column panels (as the convolutions hand
 * over their column matrix and their (B, C, L) tensors), against the
 * reference on the same matrices stored plainly. op(B) untransposed (K x N;
 * the tile set's width, read in place; odd widths, packed from the panels)
 * and transposed (N x K, odd widths: read as A a panel at a time); op(A)
 * untransposed in panels (widths like an image's L) with B plain in both
 * orientations or in panels; plain A in both orientations; partial and
 * whole row blocks, beta 0 over NaN and beta != 0, a split K; the panels'
 * prefix and guard and C's guard untouched; bad arguments refused. */
static void test_panels_operand(void **state)
{
    glf_ctx *ctx = ctx_for_(state);
    size_t tn = glf_gemm_panel_width(ctx, 1000);
    if (strcmp(glf_gemm_backend_name(ctx), "glf") != 0) { /* CLBlast: none, refused */
        assert_int_equal(tn, 0);
        cl_mem d = tu_buf_nan(ctx, 64);
        glf_gemm_operand a = glf_gemm_plain(glf_dp(d, 0), 4, GLF_NO_TRANS);
        glf_gemm_operand b = glf_gemm_panels(glf_dp(d, 0), 4, GLF_NO_TRANS);
        glf_gemm_operand c = glf_gemm_plain(glf_dp(d, 16), 4, GLF_NO_TRANS);
        assert_int_equal(glf_gemm_takes(ctx, GLF_GEMM_PANELS), 0);
        tu_expect_status(glf_gemm_run(ctx, 4, 4, 4, 1.0f, &a, &b, 0.0f, &c, NULL),
                         GLF_ERR_INVALID_ARG, "not available", "clblast");
        glf_buf_release(d);
        glf_ctx_destroy(ctx);
        return;
    }
    glf_gemm_params p = glf_gemm_get_params(ctx);
    assert_int_equal(tn, (size_t)p.vw * (size_t)p.nv);
    /* M, N (in tiles when B is in panels untransposed at width 1: tn), K, tb,
     * B's panel width (0: plain; 1: the tile width), A's, C's (0: plain) */
    const size_t cases[][7] = {
        {13, 3, 37, 0, 1, 0, 0},      {16, 2, 37, 0, 1, 0, 0},    {9, 1, 2085, 0, 1, 0, 0},
        {24, 2, 2085, 0, 1, 0, 0},    {13, 35, 37, 0, 7, 0, 0},   {16, 98, 2085, 0, 49, 0, 0},
        {13, 40, 35, 1, 7, 0, 0},     {21, 24, 39, 1, 13, 0, 0},  {11, 32, 2049, 1, 683, 0, 0},
        {7, 17, 2259, 1, 251, 0, 0},  {16, 67, 35, 0, 0, 7, 0},   {13, 67, 98, 1, 0, 49, 0},
        {24, 9, 2107, 0, 0, 49, 0},   {21, 70, 2107, 1, 0, 49, 0}, {16, 2, 98, 0, 1, 49, 0},
        {11, 35, 2107, 0, 7, 49, 0},  {13, 98, 37, 0, 0, 0, 49},  {16, 35, 2085, 1, 0, 0, 7},
        {24, 147, 21, 1, 7, 0, 49},   {9, 98, 2049, 1, 683, 0, 49}, {11, 35, 2107, 0, 7, 49, 7}};
    for (size_t si = 0; si < sizeof cases / sizeof cases[0]; si++)
        for (int ta = 0; ta < 2; ta++) {
            const int tb = (int)cases[si][3];
            size_t pw = cases[si][4] == 1 ? tn : cases[si][4], aw = cases[si][5];
            size_t cw = cases[si][6];
            if (aw && ta)
                continue; /* A in panels: untransposed only */
            size_t M = cases[si][0], K = cases[si][2];
            size_t N = cases[si][4] == 1 ? cases[si][1] * tn : cases[si][1];
            size_t rows = tb ? N : K, cols = tb ? K : N; /* B as stored: op(B) or op(B)^T */
            float beta = (si + (size_t)ta) & 1 ? 0.75f : 0.0f;
            float *A = tu_rand(M * K, 90 + si, -1, 1), *B = tu_rand(rows * cols, 91 + si, -1, 1);
            float *C0 = tu_rand(M * N, 92 + si, -1, 1);
            float *Ap = aw ? to_panels_(A, M, K, aw) : NULL;
            float *Bp = pw ? to_panels_(B, rows, cols, pw) : NULL;
            double *want = malloc(M * N * sizeof *want);
            ref_gemm_(ta, tb, M, N, K, -0.5, A, ta ? M : K, B, cols, beta, C0, N, want);
            cl_mem dA = tu_buf_at(ctx, aw ? Ap : A, M * K, 3);
            cl_mem dB = tu_buf_at(ctx, pw ? Bp : B, K * N, 5);
            float *Cp = cw ? to_panels_(C0, M, N, cw) : NULL;
            cl_mem dC = beta != 0.0f ? tu_buf_from(ctx, cw ? Cp : C0, M * N)
                                     : tu_buf_nan(ctx, M * N);
            const glf_trans gta = ta ? GLF_TRANS : GLF_NO_TRANS, gtb = tb ? GLF_TRANS : GLF_NO_TRANS;
            glf_gemm_operand oa = aw ? glf_gemm_panels(glf_dp(dA, 3), aw, gta)
                                     : glf_gemm_plain(glf_dp(dA, 3), ta ? M : K, gta);
            glf_gemm_operand ob = pw ? glf_gemm_panels(glf_dp(dB, 5), pw, gtb)
                                     : glf_gemm_plain(glf_dp(dB, 5), cols, gtb);
            glf_gemm_operand oc = cw ? glf_gemm_panels(glf_dp(dC, 0), cw, GLF_NO_TRANS)
                                     : glf_gemm_plain(glf_dp(dC, 0), N, GLF_NO_TRANS);
            TU_OK(glf_gemm_run(ctx, M, N, K, -0.5f, &oa, &ob, beta, &oc, NULL));
            float *C = tu_read(ctx, dC, M * N);
            if (cw) { /* back to rows */
                float *t = to_panels_(C, M, N, N); /* (a copy) */
                for (size_t i = 0; i < M; i++)
                    for (size_t j = 0; j < N; j++)
                        t[i * N + j] = C[(j / cw) * M * cw + i * cw + j % cw];
                free(C), C = t;
            }
            char what[128];
            snprintf(what, sizeof what,
                     "panels operand %c%c %zux%zux%zu panels A %zu B %zu C %zu beta %g",
                     ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, aw, pw, cw, (double)beta);
            assert_int_equal(tu_compare(what, C, want, M * N, 2e-6 * (double)K, 1e-4), 0);
            tu_check_guard(ctx, dC, M * N, what);
            free(tu_read_at(ctx, dA, M * K, 3, "A")); /* prefixes and guards untouched */
            free(tu_read_at(ctx, dB, K * N, 5, "B"));
            free(A), free(B), free(C0), free(Ap), free(Bp), free(Cp), free(C), free(want);
            glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
        }
    /* Refused: columns not a multiple of the width, panels past the end of
     * their buffer, A in panels transposed, C transposed, an im2col A. */
    cl_mem d = tu_buf_nan(ctx, 64 * tn);
    glf_gemm_operand a = glf_gemm_plain(glf_dp(d, 0), 5, GLF_NO_TRANS);
    glf_gemm_operand b = glf_gemm_panels(glf_dp(d, 0), 2, GLF_TRANS); /* stored 2tn x 5 */
    glf_gemm_operand c = glf_gemm_plain(glf_dp(d, 0), 2 * tn, GLF_NO_TRANS);
    tu_expect_status(glf_gemm_run(ctx, 4, 2 * tn, 5, 1.0f, &a, &b, 0.0f, &c, NULL),
                     GLF_ERR_INVALID_ARG, "panels 2 wide", "multiple");
    a = glf_gemm_plain(glf_dp(d, 0), 4, GLF_NO_TRANS);
    b = glf_gemm_panels(glf_dp(d, 64 * tn + TU_GUARD + 1 - 4 * 2 * tn), tn, GLF_NO_TRANS);
    tu_expect_status(glf_gemm_run(ctx, 4, 2 * tn, 4, 1.0f, &a, &b, 0.0f, &c, NULL),
                     GLF_ERR_INVALID_ARG, "op(B)", "buffer"); /* one float past the end */
    a = glf_gemm_panels(glf_dp(d, 0), 3, GLF_TRANS);
    b = glf_gemm_plain(glf_dp(d, 0), 2 * tn, GLF_NO_TRANS);
    tu_expect_status(glf_gemm_run(ctx, 4, 2 * tn, 6, 1.0f, &a, &b, 0.0f, &c, NULL),
                     GLF_ERR_INVALID_ARG, "untransposed", NULL);
    a = glf_gemm_plain(glf_dp(d, 0), 4, GLF_NO_TRANS);
    c.trans = GLF_TRANS;
    tu_expect_status(glf_gemm_run(ctx, 4, 2 * tn, 4, 1.0f, &a, &b, 0.0f, &c, NULL),
                     GLF_ERR_INVALID_ARG, "untransposed", "C plain");
    c.trans = GLF_NO_TRANS;
    a.layout = GLF_GEMM_IM2COL;
    tu_expect_status(glf_gemm_run(ctx, 4, 2 * tn, 4, 1.0f, &a, &b, 0.0f, &c, NULL),
                     GLF_ERR_INVALID_ARG, "layouts A im2col", NULL);
    glf_buf_release(d);
    glf_ctx_destroy(ctx);
}

/* The option gemm_prefetch (GLF_GEMM_PREFETCH): gemm_main's software
 * prefetch (a distance of 16 steps of k by default on CPU-like devices whose
 * probe accepted the builtin) changes no result: the per-device validation
 * and odd shapes (a split K, both transposes) pass with it off, at a short
 * distance and at the default, with two tile sets. A bad value in the
 * environment is refused naming the variable; a bad field fails the call
 * before anything runs (C keeps its NaNs) and without switching the backend
 * to CLBlast. */
static void test_prefetch(void **state)
{
    (void)state;
    const char *vals[] = {"off", "3", "16", NULL};
    const glf_gemm_params def = glf_gemm_default_params();
    /* small: off and the default (the explicit validations are not cached) */
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i += tu_small() ? 2 : 1) {
        glf_ctx *ctx = tu_ctx_with("GLF_GEMM_PREFETCH", vals[i], NULL);
        TU_OK(glf_gemm_set_backend(ctx, GLF_GEMM_GLF));
        TU_OK(glf_gemm_validate(ctx, &def));
        if (i == 1)
            TU_OK(glf_gemm_validate(ctx, &v_glf_small_.params));
        check_(ctx, 0, 1, 37, 71, 45, 3, 5, 1.0f, 0.0f);
        check_(ctx, 1, 0, 67, 33, 2 * 1024 + 301, 0, 0, -0.75f, 0.5f);
        check_(ctx, 0, 0, 129, 97, 211, 1, 2, 1.0f, 0.25f);
        glf_ctx_destroy(ctx);
    }
    glf_options o;
    TU_OK(glf_options_from_env(&o));
    tu_expect_status(glf_options_set(&o, "GLF_GEMM_PREFETCH", "-1"), GLF_ERR_INVALID_ARG,
                     "GLF_GEMM_PREFETCH='-1'", "distance");
    assert_int_equal(o.gemm_prefetch, -1); /* unchanged: the default */
    glf_ctx *ctx = tu_ctx();
    glf_ctx_options(ctx)->gemm_prefetch = 300;
    cl_mem d = tu_buf_nan(ctx, 64);
    tu_expect_status(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, 4, 4, 4, 1.0f, d, 0, 4, d, 16, 4,
                              0.0f, d, 32, 4),
                     GLF_ERR_INVALID_ARG, "gemm_prefetch = 300", "distance");
    assert_string_equal(glf_gemm_backend_name(ctx), "glf");
    tu_expect_status(glf_gemm_set_backend(ctx, GLF_GEMM_GLF), GLF_ERR_INVALID_ARG,
                     "gemm_prefetch", NULL);
    float *C = tu_read(ctx, d, 64);
    for (size_t i = 0; i < 64; i++)
        assert_true(isnan(C[i]));
    free(C);
    glf_buf_release(d);
    glf_ctx_destroy(ctx);
}

/* C of one glf_gemm (NN, alpha 1, beta 0 over NaN) at float offset off with
 * row stride ldc, the environment as it is. */
static float *gemm_c_(glf_ctx *ctx, size_t M, size_t N, size_t K, size_t off, size_t ldc)
{
    float *A = tu_rand(M * K, 71, -1, 1), *B = tu_rand(K * N, 72, -1, 1);
    cl_mem dA = tu_buf_from(ctx, A, M * K), dB = tu_buf_from(ctx, B, K * N);
    cl_mem dC = tu_buf_nan(ctx, off + M * ldc);
    TU_OK(glf_gemm(ctx, GLF_NO_TRANS, GLF_NO_TRANS, M, N, K, 1.0f, dA, 0, K, dB, 0, N, 0.0f, dC,
                   off, ldc));
    float *C = tu_read(ctx, dC, off + M * ldc); /* checks the guard after C */
    for (size_t i = 0; i < off; i++)
        assert_true(isnan(C[i])); /* nothing before C written */
    free(A), free(B);
    glf_buf_release(dA), glf_buf_release(dB), glf_buf_release(dC);
    return C;
}

/* The option nt_stores (GLF_NT_STORES): a large C (from GLF_NT_MIN_FLOATS
 * floats; any size with GLF_NT_ALL) is written with non-temporal stores
 * where a vector is aligned. The same bits as plain stores (off): C
 * aligned (offset 0, ldc a multiple of 16) and not (offset 5, ldc + 3),
 * partial tiles, and one C of GLF_NT_MIN_FLOATS floats by default; the
 * validation passes with "all". */
static void test_nt_stores(void **state)
{
    (void)state;
    glf_ctx *ctx = tu_ctx();
    TU_OK(glf_gemm_set_backend(ctx, GLF_GEMM_GLF));
    glf_options *o = glf_ctx_options(ctx);
    if (glf_ctx_family(ctx) != GLF_FAMILY_CPU || !glf_ctx_features(ctx).nt_store) {
        /* nothing is written non-temporally here, whatever the option says */
        o->nt_stores = GLF_NT_ALL;
        assert_int_equal(glf_nt_stores(ctx), 0);
        glf_ctx_destroy(ctx);
        return;
    }
    assert_int_equal(glf_nt_stores(ctx), 1);
    const size_t shapes[][5] = {{64, 96, 37, 0, 96},   {61, 100, 37, 0, 112},
                                {64, 96, 37, 5, 99},   {33, 64, 2100, 0, 64},
                                {1024, 4096, 5, 0, 4096}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const size_t *sh = shapes[i];
        o->nt_stores = sh[0] * sh[4] >= GLF_NT_MIN_FLOATS ? GLF_NT_AUTO : GLF_NT_ALL;
        assert_int_equal(glf_nt_output(ctx, sh[0] * sh[1]), 1);
        float *nt = gemm_c_(ctx, sh[0], sh[1], sh[2], sh[3], sh[4]);
        o->nt_stores = GLF_NT_OFF;
        assert_int_equal(glf_nt_output(ctx, sh[0] * sh[1]), 0);
        float *plain = gemm_c_(ctx, sh[0], sh[1], sh[2], sh[3], sh[4]);
        assert_memory_equal(nt, plain, (sh[3] + sh[0] * sh[4]) * sizeof(float));
        free(nt), free(plain);
    }
    glf_ctx_destroy(ctx);
    ctx = tu_ctx_with("GLF_NT_STORES", "all", NULL);
    const glf_gemm_params def = glf_gemm_default_params();
    TU_OK(glf_gemm_validate(ctx, &def));
    glf_ctx_destroy(ctx);
}

#define BOTH_(f)                                                                             \
    cmocka_unit_test_prestate(f, (void *)&v_glf_),                                           \
        cmocka_unit_test_prestate(f, (void *)&v_clblast_)
/* The SIMT family's tile sets, whatever the device's own family is. */
#define SIMT_(f)                                                                             \
    cmocka_unit_test_prestate(f, (void *)&v_simt_),                                          \
        cmocka_unit_test_prestate(f, (void *)&v_simt_odd_),                                  \
        cmocka_unit_test_prestate(f, (void *)&v_simt_small_)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_(test_small_shapes),
        BOTH_(test_edges),
        cmocka_unit_test_prestate(test_edges, (void *)&v_glf_small_),
        cmocka_unit_test_prestate(test_edges, (void *)&v_glf_scalar_),
        BOTH_(test_long_k),
        BOTH_(test_kib_strides),
        BOTH_(test_odd_large),
        cmocka_unit_test_prestate(test_odd_large, (void *)&v_glf_small_),
        BOTH_(test_glf_shape),
        BOTH_(test_invalid_arguments),
        BOTH_(test_epilogue),
        BOTH_(test_im2col_operand),
        cmocka_unit_test_prestate(test_im2col_operand, (void *)&v_glf_small_),
        BOTH_(test_panels_operand),
        cmocka_unit_test_prestate(test_panels_operand, (void *)&v_glf_small_),
        cmocka_unit_test_prestate(test_epilogue, (void *)&v_glf_small_),
        SIMT_(test_small_shapes),
        SIMT_(test_edges),
        SIMT_(test_long_k),
        SIMT_(test_kib_strides),
        SIMT_(test_odd_large),
        cmocka_unit_test_prestate(test_glf_shape, (void *)&v_simt_),
        SIMT_(test_epilogue),
        SIMT_(test_im2col_operand),
        SIMT_(test_panels_operand),
        cmocka_unit_test(test_params_rejected),
        cmocka_unit_test(test_prefetch),
        cmocka_unit_test(test_nt_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
