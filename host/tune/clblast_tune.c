/* CLBlast's own tuning: the candidate Xgemm parameter sets (gemm_clblast.c)
 * for a device, each validated against the host reference before it is
 * timed at GLF's large shapes; the winner goes to the device's tuning store
 * and is handed to CLBlast. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glf/tune.h"
#include "glf/util.h"
#include "runtime/gemm_internal.h"
#include "tune/store.h"

glf_status glf_clblast_tuned(glf_ctx *ctx, glf_clblast_params *out, int *found)
{
    char value[1024], path[4096];
    *found = 0;
    GLF_TRY(glf_tune_get(ctx, "clblast", value, sizeof value, found));
    if (!*found)
        return GLF_OK;
    glf_status s = glf_clblast_parse(value, out);
    if (s != GLF_OK) {
        *found = 0;
        GLF_TRY(glf_tune_path(ctx, path, sizeof path));
        return glf_fail_context(s, "%s: key 'clblast'", path);
    }
    return GLF_OK;
}

static glf_status store_(glf_ctx *ctx, const glf_clblast_params *p, double score)
{
    char set[256];
    glf_clblast_format(p, set, sizeof set);
    return glf_tune_put(ctx, "clblast", set, score);
}

glf_status glf_clblast_tune(glf_ctx *ctx, int quick, glf_clblast_params *best)
{
    struct glf_gemm_state_ *st;
    char path[4096];
    GLF_TRY(glf_tune_path(ctx, path, sizeof path)); /* no cache: fail before the work */
    GLF_TRY(glf_gemm_state_(ctx, &st));
    /* Shapes that take CLBlast's indirect path (M*N*K >= 384^3). */
    static const size_t full_[][5] = {
        {0, 1, 256, 1024, 6272}, {1, 0, 1024, 6272, 256}, {0, 0, 256, 6272, 1024}};
    static const size_t quick_[][5] = {{0, 1, 256, 256, 1024}};
    const size_t(*sh)[5] = quick ? quick_ : full_;
    size_t nsh = quick ? 1 : sizeof full_ / sizeof full_[0];
    size_t ncands = 0;
    const glf_clblast_params *cands = glf_clblast_candidates(&ncands);
    size_t ncand = quick ? 2 : ncands;
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
        glf_clblast_format(&cands[c], set, sizeof set);
        if (glf_clblast_validate(ctx, &cands[c]) != GLF_OK) {
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
                glf_gemm_operand a = glf_gemm_plain(glf_dp(buf, 0), sh[i][0] ? sh[i][2] : sh[i][4],
                                                    sh[i][0] ? GLF_TRANS : GLF_NO_TRANS);
                glf_gemm_operand bo = glf_gemm_plain(glf_dp(buf, big),
                                                    sh[i][1] ? sh[i][4] : sh[i][3],
                                                    sh[i][1] ? GLF_TRANS : GLF_NO_TRANS);
                glf_gemm_operand cc = glf_gemm_plain(glf_dp(buf, 2 * big), sh[i][3], GLF_NO_TRANS);
                s = glf_gemm_clblast_(ctx, sh[i][2], sh[i][3], sh[i][4], 1.0f, &a, &bo, 0.0f, &cc);
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
            best_t = t, *best = cands[c];
    }
    glf_buf_release(buf);
    GLF_TRY(s);
    if (best_t >= 1e30)
        return glf_fail(GLF_ERR_NUMERIC, "CLBlast tuning: no candidate passed validation");
    GLF_TRY(store_(ctx, best, best_t));
    return glf_clblast_apply(ctx, best);
}
