/* glf_gemm on CLBlast's row-major SGEMM. Every CLBlast status is checked and
 * translated into a glf_status with the status's name and the shapes. */
#include "glf/gemm.h"

#include <clblast_c.h>

#include "internal.h"

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

glf_status glf_gemm(glf_ctx *ctx, glf_trans ta, glf_trans tb, size_t M, size_t N, size_t K,
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
