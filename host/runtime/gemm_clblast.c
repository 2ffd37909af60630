/* CLBlast's own tuning: candidate Xgemm parameter sets for a device, each
 * validated against the host reference (gemm_glf.c's cases, run through
 * CLBlast) before it is timed; the winner is stored in the cache folder
 * beside glf's tuned tile set and handed to CLBlast with
 * CLBlastOverrideParameters. */
#include <clblast_c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gemm_internal.h"
#include "glf/util.h"

#define MAGIC_ "glf-clblast-tune 1"
#define MIN_INDIRECT_ 384 /* CLBlast's direct/indirect switch while a glf set is applied */

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

glf_status glf_clblast_tuned(glf_ctx *ctx, glf_clblast_params *out, int *found)
{
    char path[4096], line[1024];
    *found = 0;
    GLF_TRY(glf_gemm_tune_path_(ctx, "-clblast", path, sizeof path));
    FILE *f = fopen(path, "r");
    if (!f)
        return GLF_OK;
    int ok = fgets(line, sizeof line, f) && !strncmp(line, MAGIC_, strlen(MAGIC_)) &&
             fgets(line, sizeof line, f) && fgets(line, sizeof line, f);
    fclose(f);
    if (!ok)
        return glf_fail(GLF_ERR_FORMAT, "%s: expected '%s', a device line and a parameter line",
                        path, MAGIC_);
    glf_clblast_params p;
    char *c = line;
    for (int i = 0; i < GLF_CLBLAST_NPARAM; i++) {
        size_t l = strlen(names_[i]);
        while (*c == ' ')
            c++;
        char *end = c;
        long v = -1;
        if (!strncmp(c, names_[i], l) && c[l] == '=')
            v = strtol(c + l + 1, &end, 10);
        if (end == c + l + 1 || end == c || v < 0 || v > 4096)
            return glf_fail(GLF_ERR_FORMAT, "%s: parameter %d: expected %s=<0..4096> (the order "
                            "GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN "
                            "VWM VWN)", path, i + 1, names_[i]);
        p.v[i] = (int)v;
        c = end;
    }
    *out = p;
    *found = 1;
    return GLF_OK;
}

static glf_status store_(glf_ctx *ctx, const glf_clblast_params *p, double score)
{
    char set[256];
    glf_clblast_format(p, set, sizeof set);
    return glf_gemm_tune_store_(ctx, "-clblast", MAGIC_, set, score);
}

glf_status glf_clblast_tune(glf_ctx *ctx, int quick, glf_clblast_params *best)
{
    struct glf_gemm_state_ *st;
    char path[4096];
    GLF_TRY(glf_gemm_tune_path_(ctx, "-clblast", path, sizeof path)); /* fail before the work */
    GLF_TRY(glf_gemm_state_(ctx, &st));
    /* Shapes that take CLBlast's indirect path (M*N*K >= 384^3). */
    static const size_t full_[][5] = {
        {0, 1, 256, 1024, 6272}, {1, 0, 1024, 6272, 256}, {0, 0, 256, 6272, 1024}};
    static const size_t quick_[][5] = {{0, 1, 256, 256, 1024}};
    const size_t(*sh)[5] = quick ? quick_ : full_;
    size_t nsh = quick ? 1 : sizeof full_ / sizeof full_[0];
    size_t ncand = quick ? 2 : sizeof cands_ / sizeof cands_[0];
    size_t big = 0;
    for (size_t i = 0; i < nsh; i++) {
        size_t a = sh[i][2] * sh[i][4], b = sh[i][4] * sh[i][3], c = sh[i][2] * sh[i][3];
        big = a > big ? a : big, big = b > big ? b : big, big = c > big ? c : big;
    }
    cl_mem buf;
    GLF_TRY(glf_buf_create(ctx, 3 * big * sizeof(float), &buf));
    glf_status s = glf_buf_fill_f32(ctx, buf, 0, 3 * big, 0.5f);
    double best_t = 1e30;
    char line[512], set[256];
    for (size_t c = 0; c < ncand && !s; c++) {
        glf_clblast_format(&cands_[c], set, sizeof set);
        if (glf_clblast_validate(ctx, &cands_[c]) != GLF_OK) {
            snprintf(line, sizeof line, "tune: CLBlast %s rejected: %s", set, glf_last_error());
            if (st->note)
                st->note(st->note_user, line);
            glf_clear_error();
            continue;
        }
        double t = 0;
        for (size_t i = 0; i < nsh && !s; i++) {
            double b = 1e30;
            for (int r = 0; r < (quick ? 2 : 3) && !s; r++) { /* the first run compiles */
                double t0 = glf_now();
                s = glf_gemm_clblast_(ctx, sh[i][0] ? GLF_TRANS : GLF_NO_TRANS,
                                      sh[i][1] ? GLF_TRANS : GLF_NO_TRANS, sh[i][2], sh[i][3],
                                      sh[i][4], 1.0f, buf, 0, sh[i][0] ? sh[i][2] : sh[i][4], buf,
                                      big, sh[i][1] ? sh[i][4] : sh[i][3], 0.0f, buf, 2 * big,
                                      sh[i][3]);
                if (!s)
                    s = glf_finish(ctx);
                double dt = glf_now() - t0;
                if (r > 0 && dt < b)
                    b = dt;
            }
            t += b;
        }
        if (s)
            break;
        snprintf(line, sizeof line, "tune: CLBlast %s: %.3f ms", set, t * 1e3);
        if (st->note)
            st->note(st->note_user, line);
        if (t < best_t)
            best_t = t, *best = cands_[c];
    }
    glf_buf_release(buf);
    GLF_TRY(s);
    if (best_t >= 1e30)
        return glf_fail(GLF_ERR_NUMERIC, "CLBlast tuning: no candidate passed validation");
    GLF_TRY(store_(ctx, best, best_t));
    return glf_clblast_apply(ctx, best);
}
