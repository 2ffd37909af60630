/* The CLBlast backend: its SGEMM call with every status checked and
 * translated into a glf_status naming the status and the shapes, and its
 * Xgemm parameter sets (the candidates glf tune times, their text form),
 * each validated against the host reference (gemm_validate.c's cases, run
 * through CLBlast) before CLBlastOverrideParameters hands it to CLBlast. */
#include <clblast_c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"
#define MIN_INDIRECT_ 384 /* CLBlast's direct/indirect switch while a glf set is applied */

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

glf_status glf_gemm_clblast_(glf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                             const glf_gemm_operand *oa, const glf_gemm_operand *ob, float beta,
                             const glf_gemm_operand *oc)
{
    const glf_trans ta = oa->trans, tb = ob->trans;
    cl_mem A = oa->buf, B = ob->buf, C = oc->buf;
    const size_t offA = oa->off, lda = oa->ld, offB = ob->off, ldb = ob->ld, offC = oc->off,
                 ldc = oc->ld;
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

static const char *const names_[GLF_CLBLAST_NPARAM] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG",  "SA",  "SB",  "STRM",  "STRN",  "VWM", "VWN"};

/* Register-blocked sets without local memory (what suits CPUs: each
 * work-item owns an 8x8 block of C) and two with local memory (what suits
 * GPUs, and on PoCL 3.1 the fastest of these at GLF's shapes). Each
 * satisfies CLBlast's constraints: MWG divisible by MDIMC*VWM and
 * MDIMA*VWM, NWG by NDIMC*VWN and NDIMB*VWN, KWG by KWI and by
 * MDIMC*NDIMC/MDIMA and MDIMC*NDIMC/NDIMB. Measured and dropped (bench/README.md):
 * 8x16 blocks with VWN 8, strided access (STRM/STRN), scalar 4x4 blocks. */
static const glf_clblast_params cands_[] = {
    /* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
    {{0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4}},
    {{0, 1, 32, 2, 4, 4, 32, 16, 16, 128, 0, 0, 0, 0, 8, 8}},
    {{0, 1, 16, 2, 16, 16, 128, 16, 16, 128, 0, 0, 0, 0, 4, 4}},
    {{0, 1, 16, 2, 8, 8, 64, 8, 8, 64, 1, 1, 0, 0, 4, 4}},
    {{0, 1, 32, 2, 16, 16, 64, 16, 16, 64, 1, 1, 0, 0, 2, 2}},
};

const char *glf_clblast_param_name(int i)
{
    return i >= 0 && i < GLF_CLBLAST_NPARAM ? names_[i] : "?";
}

void glf_clblast_format(const glf_clblast_params *p, char *buf, size_t n)
{
    size_t k = 0;
    if (n)
        buf[0] = 0;
    for (int i = 0; i < GLF_CLBLAST_NPARAM && k < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%s=%d", i ? " " : "", names_[i], p->v[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

const glf_clblast_params *glf_clblast_candidates(size_t *n)
{
    *n = sizeof cands_ / sizeof cands_[0];
    return cands_;
}

static glf_status override_(glf_ctx *ctx, const char *kernel, size_t n, const char **names,
                            const size_t *values)
{
    CLBlastStatusCode s = CLBlastOverrideParameters(glf_ctx_device(ctx)->id, kernel,
                                                    CLBlastPrecisionSingle, n, names, values);
    if (s != CLBlastSuccess)
        return glf_fail(GLF_ERR_CLBLAST, "CLBlastOverrideParameters(%s, %zu parameters) failed: %d",
                        kernel, n, (int)s);
    return GLF_OK;
}

static glf_status set_(glf_ctx *ctx, const glf_clblast_params *p, size_t min_indirect)
{
    size_t v[GLF_CLBLAST_NPARAM];
    for (int i = 0; i < GLF_CLBLAST_NPARAM; i++) {
        if (p->v[i] < 0)
            return glf_fail(GLF_ERR_INVALID_ARG, "CLBlast parameter %s = %d, expected >= 0",
                            names_[i], p->v[i]);
        v[i] = (size_t)p->v[i];
    }
    const char *rn[] = {"XGEMM_MIN_INDIRECT_SIZE"};
    GLF_TRY(override_(ctx, "Xgemm", GLF_CLBLAST_NPARAM, (const char **)names_, v));
    return override_(ctx, "GemmRoutine", 1, rn, &min_indirect);
}

/* Shapes above CLBlast's switch (M*N*K >= 384^3), so the tuned Xgemm
 * kernel computes them: partial tiles in every dimension, all transposes, a
 * skinny N and a long K. (Switching the threshold for validation would
 * make CLBlast compile its GEMM program twice per set: ~15 s each on PoCL.) */
static glf_status check_(glf_ctx *ctx, struct glf_gemm_state_ *st)
{
    static const size_t shapes[][5] = {{0, 0, 389, 401, 397}, {1, 0, 389, 401, 397},
                                       {0, 1, 389, 401, 397}, {1, 1, 389, 401, 397},
                                       {0, 1, 67, 1031, 1033}, {1, 0, 1030, 37, 1500}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        GLF_TRY(glf_gemm_validate_case_(ctx, st, NULL, (int)shapes[i][0], (int)shapes[i][1],
                                        shapes[i][2], shapes[i][3], shapes[i][4],
                                        i & 1 ? 1.0f : -0.5f, i % 3 ? 0.0f : 0.75f, 0, 0, 0, 0));
    return GLF_OK;
}

glf_status glf_clblast_validate(glf_ctx *ctx, const glf_clblast_params *p)
{
    struct glf_gemm_state_ *st;
    GLF_TRY(glf_gemm_state_(ctx, &st));
    glf_status s = set_(ctx, p, MIN_INDIRECT_);
    if (!s)
        s = check_(ctx, st);
    if (!s) {
        st->clblast_ok = 1;
        st->clblast_passed = *p;
        return GLF_OK;
    }
    char set[256], msg[1024];
    glf_clblast_format(p, set, sizeof set);
    snprintf(msg, sizeof msg, "%s", glf_last_error());
    if (st->clblast_ok && memcmp(&st->clblast_passed, p, sizeof *p) != 0)
        set_(ctx, &st->clblast_passed, MIN_INDIRECT_); /* back to the last good set */
    return glf_fail(s, "CLBlast set %s: %s", set, msg);
}

glf_status glf_clblast_apply(glf_ctx *ctx, const glf_clblast_params *p)
{
    return glf_clblast_validate(ctx, p);
}

glf_status glf_clblast_parse(const char *text, glf_clblast_params *out)
{
    glf_clblast_params p;
    const char *c = text;
    for (int i = 0; i < GLF_CLBLAST_NPARAM; i++) {
        size_t l = strlen(names_[i]);
        while (*c == ' ')
            c++;
        char *end = (char *)c;
        long v = -1;
        if (!strncmp(c, names_[i], l) && c[l] == '=')
            v = strtol(c + l + 1, &end, 10);
        if (end == c + l + 1 || end == c || v < 0 || v > 4096)
            return glf_fail(GLF_ERR_FORMAT, "CLBlast set '%.200s': parameter %d: expected "
                            "%s=<0..4096> (the order GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB "
                            "NDIMC NWG SA SB STRM STRN VWM VWN)", text, i + 1, names_[i]);
        p.v[i] = (int)v;
        c = end;
    }
    *out = p;
    return GLF_OK;
}
