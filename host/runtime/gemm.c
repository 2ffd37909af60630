/* glf_gemm: dispatch between glf's own kernels (gemm_glf.c, the default,
 * validated before first use on a context) and CLBlast's row-major SGEMM.
 * Every CLBlast status is checked and translated into a glf_status with the
 * status's name and the shapes. */
#include <clblast_c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"

static const char *clblast_name_(CLBlastStatusCode s)
{
    switch (s) {
#define N_(x) case x: return #x
    N_(CLBlastSuccess); N_(CLBlastOpenCLCompilerNotAvailable);
    N_(CLBlastTempBufferAllocFailure); N_(CLBlastOpenCLOutOfResources);
    N_(CLBlastOpenCLOutOfHostMemory); N_(CLBlastOpenCLBuildProgramFailure);
    N_(CLBlastInvalidValue); N_(CLBlastInvalidCommandQueue);
    N_(CLBlastInvalidMemObject); N_(CLBlastInvalidBinary);
    N_(CLBlastInvalidBuildOptions); N_(CLBlastInvalidProgram);
    N_(CLBlastInvalidProgramExecutable); N_(CLBlastInvalidKernelName);
    N_(CLBlastInvalidKernelDefinition); N_(CLBlastInvalidKernel);
    N_(CLBlastInvalidArgIndex); N_(CLBlastInvalidArgValue); N_(CLBlastInvalidArgSize);
    N_(CLBlastInvalidKernelArgs); N_(CLBlastInvalidLocalNumDimensions);
    N_(CLBlastInvalidLocalThreadsTotal); N_(CLBlastInvalidLocalThreadsDim);
    N_(CLBlastInvalidGlobalOffset); N_(CLBlastInvalidEventWaitList);
    N_(CLBlastInvalidEvent); N_(CLBlastInvalidOperation); N_(CLBlastInvalidBufferSize);
    N_(CLBlastInvalidGlobalWorkSize); N_(CLBlastNotImplemented);
    N_(CLBlastInvalidMatrixA); N_(CLBlastInvalidMatrixB); N_(CLBlastInvalidMatrixC);
    N_(CLBlastInvalidVectorX); N_(CLBlastInvalidVectorY); N_(CLBlastInvalidDimension);
    N_(CLBlastInvalidLeadDimA); N_(CLBlastInvalidLeadDimB); N_(CLBlastInvalidLeadDimC);
    N_(CLBlastInvalidIncrementX); N_(CLBlastInvalidIncrementY);
    N_(CLBlastInsufficientMemoryA); N_(CLBlastInsufficientMemoryB);
    N_(CLBlastInsufficientMemoryC); N_(CLBlastInsufficientMemoryX);
    N_(CLBlastInsufficientMemoryY); N_(CLBlastInsufficientMemoryTemp);
    N_(CLBlastInvalidBatchCount); N_(CLBlastInvalidOverrideKernel);
    N_(CLBlastMissingOverrideParameter); N_(CLBlastInvalidLocalMemUsage);
    N_(CLBlastNoHalfPrecision); N_(CLBlastNoDoublePrecision);
    N_(CLBlastInvalidVectorScalar); N_(CLBlastInsufficientMemoryScalar);
    N_(CLBlastDatabaseError); N_(CLBlastUnknownError); N_(CLBlastUnexpectedError);
#undef N_
    }
    return "CLBlastUnknownStatus";
}

glf_status glf_gemm_clblast_(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K,
                    float alpha, cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB,
                    size_t ldb, float beta, cl_mem C, size_t offC, size_t ldc)
{
    if (M == 0 || N == 0)
        return GLF_OK;
    if (K == 0)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm: K = 0, expected K >= 1 (M=%zu N=%zu)",
                        M, N);
    cl_command_queue q = glf_ctx_queue(ctx);
    cl_event ev = NULL;
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
        tb ? CLBlastTransposeYes : CLBlastTransposeNo, M, N, K, alpha, A, offA, lda, B, offB,
        ldb, beta, C, offC, ldc, &q, glf_profiling(ctx) ? &ev : NULL);
    if (s == CLBlastSuccess && ev)
        glf_profile_record(ctx, ta ? (tb ? "gemm_clblast_TT" : "gemm_clblast_TN")
                                   : (tb ? "gemm_clblast_NT" : "gemm_clblast_NN"), ev);
    if (s != CLBlastSuccess)
        return glf_fail(GLF_ERR_CLBLAST,
                        "CLBlastSgemm(%s%s, M=%zu N=%zu K=%zu, lda=%zu ldb=%zu ldc=%zu, "
                        "offsets %zu/%zu/%zu) failed: %s (%d)",
                        ta ? "T" : "N", tb ? "T" : "N", M, N, K, lda, ldb, ldc, offA, offB,
                        offC, clblast_name_(s), (int)s);
    return GLF_OK;
}

glf_gemm_params glf_gemm_default_params(void)
{
    glf_gemm_params p = {8, 16, 2, 1, 16};
    return p;
}

/* The untuned im2col policy, both orientations (glf_gemm_im2col_policy):
 * materialised, which measured faster on PoCL's CPU device. */
#define IM2COL_DEFAULT_ 0

glf_status glf_gemm_state_(glf_ctx *ctx, struct glf_gemm_state_ **out)
{
    if (!ctx->gemm) {
        glf_gemm_backend b = glf_ctx_options(ctx)->gemm_clblast ? GLF_GEMM_CLBLAST : GLF_GEMM_GLF;
        struct glf_gemm_state_ *st = calloc(1, sizeof *st);
        if (!st)
            return glf_fail(GLF_ERR_NOMEM, "out of memory for the GEMM state");
        st->backend = b;
        st->params = glf_gemm_default_params();
        int found = 0;
        glf_gemm_params tuned;
        if (glf_gemm_tuned(ctx, &tuned, &found) == GLF_OK && found)
            st->params = tuned, st->tuned = 1; /* validated before first use like any set */
        st->im2col_use[0] = IM2COL_DEFAULT_, st->im2col_use[1] = IM2COL_DEFAULT_;
        int use[2];
        if (glf_gemm_im2col_tuned(ctx, use, &found) == GLF_OK && found)
            st->im2col_use[0] = use[0], st->im2col_use[1] = use[1];
        glf_clear_error(); /* an unreadable tuning file leaves the defaults */
        ctx->gemm = st;
    }
    *out = ctx->gemm;
    return GLF_OK;
}

void glf_gemm_release_(glf_ctx *ctx)
{
    if (!ctx->gemm)
        return;
    if (ctx->gemm->scratch)
        clReleaseMemObject(ctx->gemm->scratch);
    free(ctx->gemm);
    ctx->gemm = NULL;
}

static void note_(struct glf_gemm_state_ *st, const char *fmt, const char *detail)
{
    if (!st->note)
        return;
    char line[512];
    snprintf(line, sizeof line, fmt, detail);
    st->note(st->note_user, line);
}

/* Validate p on this context unless it has passed before (only passes are
 * remembered, so switching between validated sets is free). */
static glf_status pass_(glf_ctx *ctx, struct glf_gemm_state_ *st, const glf_gemm_params *p)
{
    for (int i = 0; i < st->npassed; i++)
        if (!memcmp(&st->passed[i], p, sizeof *p))
            return GLF_OK;
    GLF_TRY(glf_gemm_validate(ctx, p));
    if (st->npassed < (int)(sizeof st->passed / sizeof st->passed[0]))
        st->passed[st->npassed++] = *p;
    return GLF_OK;
}

/* First use of glf's kernels on a context: validate, else fall back. */
static glf_status ensure_checked_(glf_ctx *ctx, struct glf_gemm_state_ *st)
{
    if (st->checked)
        return GLF_OK;
    glf_status s = pass_(ctx, st, &st->params);
    if (s != GLF_OK && st->tuned) { /* a stored set that no longer passes: defaults */
        note_(st, "glf gemm: stored tuned tile set failed validation, using the defaults: %s",
              glf_last_error());
        st->params = glf_gemm_default_params();
        st->tuned = 0;
        s = pass_(ctx, st, &st->params);
    }
    if (s != GLF_OK) {
        st->backend = GLF_GEMM_CLBLAST;
        note_(st, "glf gemm: own kernels failed validation, using CLBlast: %s", glf_last_error());
        glf_clear_error();
        return GLF_OK;
    }
    st->checked = 1;
    return GLF_OK;
}

/* For N below one tile, fewer vectors per row waste less work (a 16-wide
 * tile for the flow's 10-wide layers instead of 32); used only once the
 * narrower set has passed validation too. */
static const glf_gemm_params *params_for_(glf_ctx *ctx, struct glf_gemm_state_ *st, size_t N,
                                          glf_gemm_params *tmp)
{
    const glf_gemm_params *p = &st->params;
    size_t nv = (N + (size_t)p->vw - 1) / (size_t)p->vw;
    if (nv >= (size_t)p->nv || st->no_narrow)
        return p;
    *tmp = *p;
    tmp->nv = (int)nv;
    if (pass_(ctx, st, tmp) == GLF_OK)
        return tmp;
    note_(st, "glf gemm: narrow tile set failed validation, using the default: %s",
          glf_last_error());
    glf_clear_error();
    st->no_narrow = 1; /* say it once, do not validate again on every call */
    return p;
}

/* The epilogue after CLBlast: one more pass over C. */
static glf_status epilogue_(glf_ctx *ctx, struct glf_gemm_state_ *st, size_t M, size_t N,
                            cl_mem C, size_t offC, size_t ldc, const glf_gemm_epilogue *ep)
{
    const int epi = (ep->bias.buf ? 1 : 0) | (ep->act == GLF_GEMM_ACT_RELU ? 2 : 0) |
                    (ep->bias.buf && ep->bias_rows ? 4 : 0);
    if (!epi || M == 0 || N == 0)
        return GLF_OK;
    char opt[128];
    GLF_TRY(glf_gemm_options_(ctx, &st->params, opt, sizeof opt));
    cl_kernel k;
    GLF_TRY(glf_kernel(ctx, "gemm", "gemm_epilogue", opt, &k));
    size_t g[2] = {N, M};
    return GLF_LAUNCH(ctx, k, 2, g, NULL, GLF_I32(M), GLF_I32(N), GLF_MEM(C), GLF_I32(offC),
                      GLF_I32(ldc), GLF_MEM(ep->bias.buf ? ep->bias.buf : C),
                      GLF_I32(ep->bias.buf ? ep->bias.off : 0), GLF_I32(epi));
}

/* The state of ctx, with glf's kernels validated if they are its backend
 * (a failed validation switches it to CLBlast, see ensure_checked_). */
static glf_status ready_(glf_ctx *ctx, struct glf_gemm_state_ **st)
{
    GLF_TRY(glf_gemm_state_(ctx, st));
    if ((*st)->backend == GLF_GEMM_GLF) { /* a bad GLF_GEMM_PREFETCH fails here, not validation */
        int pf;
        GLF_TRY(glf_gemm_prefetch_(ctx, &pf));
    }
    return (*st)->backend == GLF_GEMM_GLF ? ensure_checked_(ctx, *st) : GLF_OK;
}

/* The epilogue's arguments: a known activation, a bias that fits (N
 * floats, or M by row). */
static glf_status check_epilogue_(size_t M, size_t N, const glf_gemm_epilogue *ep)
{
    if (ep && ep->act != GLF_GEMM_ACT_NONE && ep->act != GLF_GEMM_ACT_RELU)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_ex: activation %d, expected "
                        "GLF_GEMM_ACT_NONE or GLF_GEMM_ACT_RELU", (int)ep->act);
    if (ep && ep->bias.buf) {
        size_t bytes = 0, n = ep->bias_rows ? M : N;
        cl_int err = clGetMemObjectInfo(ep->bias.buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
        if (err != CL_SUCCESS || ep->bias.off + n > bytes / sizeof(float))
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "glf_gemm_ex: bias (%s = %zu floats at offset %zu) does not fit in "
                            "its buffer (%zu floats)", ep->bias_rows ? "M" : "N", n,
                            ep->bias.off, bytes / sizeof(float));
    }
    return GLF_OK;
}

glf_status glf_gemm_ex(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K,
                       float alpha, cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB,
                       size_t ldb, float beta, cl_mem C, size_t offC, size_t ldc,
                       const glf_gemm_epilogue *ep)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(ready_(ctx, &st));
    GLF_TRY(check_epilogue_(M, N, ep));
    glf_gemm_params tmp;
    if (st->backend == GLF_GEMM_GLF)
        return glf_gemm_own_(ctx, st, params_for_(ctx, st, N, &tmp), ta, tb, M, N, K, alpha, A,
                             offA, lda, B, offB, ldb, beta, C, offC, ldc, ep, NULL, NULL, NULL,
                             NULL);
    GLF_TRY(glf_gemm_clblast_(ctx, ta, tb, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C,
                              offC, ldc));
    return ep ? epilogue_(ctx, st, M, N, C, offC, ldc, ep) : GLF_OK;
}

int glf_gemm_has_im2col(glf_ctx *ctx)
{
    struct glf_gemm_state_ *st;
    if (ready_(ctx, &st) != GLF_OK) {
        glf_clear_error();
        return 0;
    }
    return st->backend == GLF_GEMM_GLF;
}

const char *glf_gemm_im2col_word(int use)
{
    return use ? "implicit" : "materialised";
}

void glf_gemm_im2col_policy(glf_ctx *ctx, int use[2])
{
    struct glf_gemm_state_ *st;
    if (glf_gemm_state_(ctx, &st) != GLF_OK) {
        glf_clear_error();
        use[0] = IM2COL_DEFAULT_, use[1] = IM2COL_DEFAULT_;
        return;
    }
    use[0] = st->im2col_use[0], use[1] = st->im2col_use[1];
}

glf_status glf_gemm_set_im2col_policy(glf_ctx *ctx, const int use[2])
{
    struct glf_gemm_state_ *st;
    if ((use[0] != 0 && use[0] != 1) || (use[1] != 0 && use[1] != 1))
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_gemm_set_im2col_policy: use {%d, %d}, expected 0 or 1 each", use[0],
                        use[1]);
    GLF_TRY(glf_gemm_state_(ctx, &st));
    st->im2col_use[0] = use[0], st->im2col_use[1] = use[1];
    return GLF_OK;
}

glf_status glf_gemm_im2col_b(glf_ctx *ctx, glf_trans ta, size_t M, size_t N, size_t K,
                             float alpha, cl_mem A, size_t offA, size_t lda,
                             const glf_gemm_im2col *b, float beta, cl_mem C, size_t offC,
                             size_t ldc)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(ready_(ctx, &st));
    if (st->backend != GLF_GEMM_GLF)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_im2col_b: not available with the %s "
                        "backend (glf_gemm_has_im2col)", glf_gemm_backend_name(ctx));
    glf_gemm_params tmp;
    return glf_gemm_own_(ctx, st, params_for_(ctx, st, N, &tmp), ta, GLF_NO_TRANS, M, N, K, alpha,
                         A, offA, lda, NULL, 0, 0, beta, C, offC, ldc, NULL, b, NULL, NULL,
                         NULL);
}

size_t glf_gemm_panel_width(glf_ctx *ctx, size_t N)
{
    struct glf_gemm_state_ *st;
    if (ready_(ctx, &st) != GLF_OK) {
        glf_clear_error();
        return 0;
    }
    if (st->backend != GLF_GEMM_GLF)
        return 0;
    glf_gemm_params tmp;
    const glf_gemm_params *p = params_for_(ctx, st, N, &tmp);
    return (size_t)p->vw * (size_t)p->nv;
}

glf_status glf_gemm_panels_ex(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N,
                              size_t K, float alpha, cl_mem A, size_t offA, size_t lda,
                              const glf_gemm_panels *pa, cl_mem B, size_t offB, size_t ldb,
                              const glf_gemm_panels *pb, float beta, cl_mem C, size_t offC,
                              size_t ldc, const glf_gemm_panels *pc,
                              const glf_gemm_epilogue *ep)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(ready_(ctx, &st));
    if (st->backend != GLF_GEMM_GLF)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_panels_ex: not available with the %s "
                        "backend (glf_gemm_panel_width is 0)", glf_gemm_backend_name(ctx));
    if ((pa && !pa->buf) || (pb && !pb->buf) || (pc && !pc->buf))
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_panels_ex: panels without a buffer");
    GLF_TRY(check_epilogue_(M, N, ep));
    glf_gemm_params tmp;
    return glf_gemm_own_(ctx, st, params_for_(ctx, st, N, &tmp), ta, tb, M, N, K, alpha, A, offA,
                         lda, B, offB, ldb, beta, C, offC, ldc, ep, NULL, pa, pb, pc);
}

glf_status glf_gemm(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K,
                    float alpha, cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB,
                    size_t ldb, float beta, cl_mem C, size_t offC, size_t ldc)
{
    return glf_gemm_ex(ctx, ta, tb, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc,
                       NULL);
}

glf_status glf_gemm_set_backend(glf_ctx *ctx, glf_gemm_backend b)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(glf_gemm_state_(ctx, &st));
    if (b != GLF_GEMM_GLF && b != GLF_GEMM_CLBLAST)
        return glf_fail(GLF_ERR_INVALID_ARG, "glf_gemm_set_backend: unknown backend %d", (int)b);
    if (b == GLF_GEMM_GLF && !st->checked) {
        GLF_TRY(pass_(ctx, st, &st->params));
        st->checked = 1;
    }
    st->backend = b;
    return GLF_OK;
}

const char *glf_gemm_backend_name(glf_ctx *ctx)
{
    struct glf_gemm_state_ *st;
    if (glf_gemm_state_(ctx, &st) != GLF_OK)
        return "invalid";
    return st->backend == GLF_GEMM_GLF ? "glf" : "clblast";
}

glf_status glf_gemm_set_params(glf_ctx *ctx, const glf_gemm_params *p)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(glf_gemm_state_(ctx, &st));
    GLF_TRY(pass_(ctx, st, p));
    st->params = *p;
    st->no_narrow = 0;
    st->checked = 1;
    return GLF_OK;
}

glf_gemm_params glf_gemm_get_params(glf_ctx *ctx)
{
    struct glf_gemm_state_ *st;
    if (glf_gemm_state_(ctx, &st) != GLF_OK)
        return glf_gemm_default_params();
    return st->params;
}

void glf_gemm_set_note(glf_ctx *ctx, glf_gemm_note_fn fn, void *user)
{
    struct glf_gemm_state_ *st;
    if (glf_gemm_state_(ctx, &st) != GLF_OK)
        return;
    st->note = fn;
    st->note_user = user;
}
